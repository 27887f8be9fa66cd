package browsertest

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/security"
	"github.com/chromedp/chromedp"

	"github.com/quaverlive/quaver/internal/testcert"
	"github.com/quaverlive/quaver/server"
)

// TestPlaybackOverTLS opens the player page over https:// and plays a live
// stream over wss:// and https:// (the page picks the scheme from its own),
// with a self-signed test certificate the browser is told to accept.
func TestPlaybackOverTLS(t *testing.T) {
	needChromium(t)
	needFFmpeg(t)
	dir := webDir(t)
	needPlayerLibs(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	certFile, keyFile := testcert.Files(t, t.TempDir())
	certs, err := server.LoadCertificate(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	srv := startServerWith(t, dir, func(c *server.Config) {
		c.HTTPSAddr = "127.0.0.1:0"
		c.TLS = certs.TLSConfig()
	})
	publish(t, ctx, srv, "secure")
	bctx := newBrowser(t, ctx)
	for _, transport := range []string{"ws", "http"} {
		t.Run(transport, func(t *testing.T) {
			tb := newTab(t, bctx)
			u := "https://" + srv.HTTPSAddr() + "/?app=live&stream=secure&lib=mpegts&transport=" + transport
			nctx, ncancel := context.WithTimeout(tb.ctx, playTimeout)
			defer ncancel()
			if err := chromedp.Do(nctx); err != nil { // the tab's target, for the call below
				t.Fatal(err)
			}
			if _, err := chromedp.Call(nctx, security.SetIgnoreCertificateErrors, security.SetIgnoreCertificateErrorsParams{Ignore: true}); err != nil {
				t.Fatalf("accept the test certificate: %v", err)
			}
			if err := chromedp.Do(nctx, chromedp.Navigate(u)); err != nil {
				t.Fatalf("open %s: %v", u, err)
			}
			start := -1.0
			st := tb.waitFor(t, playTimeout, "video playing for 2 s over TLS", func(st pageState) bool {
				if st.Error != nil || len(st.Errors) > 0 {
					t.Fatalf("player error: %v", st)
				}
				if start < 0 && st.State == "playing" {
					start = st.Time
				}
				return start >= 0 && st.Width == 640 && st.Time-start >= 2
			})
			want := map[string]string{"ws": "wss://", "http": "https://"}[transport] + srv.HTTPSAddr() + "/live/secure"
			if !strings.HasPrefix(st.URL, want) {
				t.Errorf("page played %q, want %s", st.URL, want)
			}
		})
	}
}
