package main

import (
	"context"
	"errors"
	"time"

	"github.com/quaverlive/quaver/client"
)

// source returns the publisher's stream: the -input file or the generated one.
func (r *runner) source() (source, error) {
	if r.cfg.Input != "" {
		return newFileSource(r.cfg.Input)
	}
	return newGenSource(r.cfg.Bitrate, r.cfg.AudioBitrate, r.cfg.FPS, r.cfg.GOP), nil
}

// startPublisher connects, publishes, and sends metadata and sequence headers.
func (r *runner) startPublisher(ctx context.Context, src source) (*client.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	pub, err := client.Dial(cctx, r.cfg.URL, r.clientConfig())
	if err != nil {
		return nil, err
	}
	if pub.StreamName() == "" {
		pub.Close()
		return nil, errors.New("-url names no stream (rtmp://HOST/APP/STREAM)")
	}
	if err := pub.Publish(cctx, pub.StreamName()); err != nil {
		pub.Close()
		return nil, err
	}
	if md := src.metadata(); md != nil {
		if err := pub.WriteMetaData(md); err != nil {
			pub.Close()
			return nil, err
		}
	}
	for _, h := range src.headers() {
		if err := pub.WriteMessage(h.TypeID, 0, h.Body); err != nil {
			pub.Close()
			return nil, err
		}
	}
	return pub, nil
}

// publish sends src's media until ctx ends, paced by the messages' due times
// unless cfg.Fast. A reader goroutine drains what the server sends.
func (r *runner) publish(ctx context.Context, pub *client.Conn, src source) error {
	defer pub.Close()
	stop := context.AfterFunc(ctx, func() { pub.Close() })
	defer stop()
	r.wg.Add(1)
	go func() { // answer pings, take acknowledgements; ends when pub closes
		defer r.wg.Done()
		for {
			if _, err := pub.ReadMessage(); err != nil {
				return
			}
		}
	}()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	start := time.Now()
	var buf []byte
	var seq uint64
	for ctx.Err() == nil {
		m := src.next()
		if !r.cfg.Fast {
			if d := m.Due - time.Since(start); d > 0 {
				timer.Reset(d)
				select {
				case <-timer.C:
				case <-ctx.Done():
					return nil
				}
			}
		}
		payload := m.Body
		if m.Stamp || len(m.Prefix) > 0 {
			buf = append(buf[:0], m.Prefix...)
			if m.Stamp {
				buf = AppendStamp(buf, time.Now().UnixNano(), seq)
			}
			buf = append(buf, m.Body...)
			payload = buf
		}
		if err := pub.WriteMessage(m.TypeID, m.Timestamp, payload); err != nil {
			return err
		}
		if m.Frame {
			seq++
			r.published.Add(1)
		}
	}
	return nil
}
