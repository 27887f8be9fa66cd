package server

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// CertCheckInterval is how often CertReloader looks at its files' times.
const CertCheckInterval = 10 * time.Second

// CertReloader serves a certificate read from PEM files and reads them again
// when they change (checked on a TLS handshake at most every
// CertCheckInterval) or on Reload (rtmpd calls it on SIGHUP), so a renewed
// certificate is used without a restart. A renewal that fails to load keeps
// the previous certificate (and Reload reports why). Safe from any
// goroutine; use GetCertificate in a tls.Config.
type CertReloader struct {
	certFile, keyFile string

	mu      sync.RWMutex
	cert    *tls.Certificate
	modTime time.Time

	nextCheck atomic.Int64 // unix nanoseconds
}

// LoadCertificate reads the certificate and key files.
func LoadCertificate(certFile, keyFile string) (*CertReloader, error) {
	r := &CertReloader{certFile: certFile, keyFile: keyFile}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Reload reads the files again.
func (r *CertReloader) Reload() error {
	mod, err := r.modified()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("server: loading certificate %s: %w", r.certFile, err)
	}
	r.mu.Lock()
	r.cert, r.modTime = &cert, mod
	r.mu.Unlock()
	return nil
}

// modified returns the newer of the two files' modification times.
func (r *CertReloader) modified() (time.Time, error) {
	var t time.Time
	for _, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return t, fmt.Errorf("server: certificate: %w", err)
		}
		if st.ModTime().After(t) {
			t = st.ModTime()
		}
	}
	return t, nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	now := time.Now().UnixNano()
	if next := r.nextCheck.Load(); now >= next && r.nextCheck.CompareAndSwap(next, now+int64(CertCheckInterval)) {
		r.mu.RLock()
		known := r.modTime
		r.mu.RUnlock()
		if mod, err := r.modified(); err == nil && mod.After(known) {
			_ = r.Reload() // a half-written renewal keeps the old certificate
		}
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}

// TLSConfig returns a server configuration that serves r's certificate.
func (r *CertReloader) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: r.GetCertificate, MinVersion: tls.VersionTLS12}
}
