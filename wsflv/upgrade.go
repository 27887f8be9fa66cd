package wsflv

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/gobwas/ws"
)

// headRW gives gobwas/ws exactly the request head to read and collects what it
// writes, so the upgrade runs on bytes the event loop already has.
type headRW struct {
	r *bytes.Reader
	w *bytes.Buffer
}

func (h headRW) Read(p []byte) (int, error)  { return h.r.Read(p) }
func (h headRW) Write(p []byte) (int, error) { return h.w.Write(p) }

// Upgrade validates a WebSocket opening handshake whose complete request head is
// head and appends the server's response to out: 101 Switching Protocols on
// success, an error response otherwise (4xx, or 505 for an HTTP/1.0 request),
// with the error. extra header lines (for
// example CORS), each ending in CRLF, are added to a successful response.
// It is not on a hot path: it runs once per connection and may allocate.
func Upgrade(head []byte, out []byte, extra []byte) ([]byte, error) {
	var w bytes.Buffer
	u := ws.Upgrader{}
	if len(extra) > 0 {
		u.OnBeforeUpgrade = func() (ws.HandshakeHeader, error) {
			return ws.HandshakeHeaderBytes(extra), nil
		}
	}
	_, err := u.Upgrade(headRW{r: bytes.NewReader(head), w: &w})
	out = append(out, w.Bytes()...)
	if err != nil {
		var rej *ws.ConnectionRejectedError
		if errors.As(err, &rej) || w.Len() > 0 {
			return out, fmt.Errorf("%w: %w", ErrNotUpgrade, err)
		}
		out = append(out, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"...)
		return out, fmt.Errorf("%w: %w", ErrNotUpgrade, err)
	}
	return out, nil
}
