package server_test

// End-to-end tests of seeking in a recording over HTTP-FLV by byte range
// (RFC 9110 section 14): ffmpeg records through the record app, then seeks
// in the recording over HTTP with -ss, and raw requests with a Range field
// get the file's bytes.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/quaverlive/quaver/server"
)

// vrRecordSecs is the length of the recording the range tests seek in.
const vrRecordSecs = 6

// vrRawRequest sends a request for path with the extra header lines exactly
// as given and returns the response and its body (empty for HEAD).
func vrRawRequest(t *testing.T, addr, method, path, extra string) (*http.Response, []byte) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(vxStepTimeout))
	fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", method, path, addr, extra)
	resp, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		t.Fatalf("%s %s: body: %v", method, path, err)
	}
	return resp, body
}

// vrServer is vxServer with a VOD start rate no seeking client here reaches:
// every seek is a new request, and these tests make many from one address
// (the hostile suite attacks the rate itself: a VOD reconnect storm).
func vrServer(t *testing.T, dir string) *server.Server {
	return vxServerWith(t, dir, func(c *server.Config) { c.VODStartRatePerIP, c.VODStartBurstPerIP = 1000, 1000 })
}

func TestVODHTTPRange(t *testing.T) {
	ffmpeg, ffprobe := vxFFmpeg(t)
	srv := vrServer(t, filepath.Join(t.TempDir(), "rec"))
	file := vxRecord(t, ffmpeg, srv, "seek", vrRecordSecs)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(raw))
	url := "http://" + srv.HTTPAddr() + "/record/seek.flv"

	t.Run("FFmpegSeek", func(t *testing.T) {
		// What failed with "Stream ends prematurely ... Input/output error"
		// while the server ignored Range.
		vxDecodes(t, ffmpeg, "-ss", "2", "-i", url)
		// FFmpeg reads forward over short seeks; with short_seek_size 1 it
		// seeks with a new request and a Range every time.
		vxDecodes(t, ffmpeg, "-short_seek_size", "1", "-ss", "2", "-i", url)
		for _, extra := range [][]string{nil, {"-short_seek_size", "1"}} {
			out := filepath.Join(t.TempDir(), "from2.flv")
			args := append([]string{"-hide_banner", "-nostdin", "-v", "error"}, extra...)
			args = append(args, "-ss", "2", "-i", url, "-c", "copy", "-y", out)
			r := vxMust(t, ffmpeg, args...)
			if s := bytes.TrimSpace([]byte(r.stderr)); len(s) > 0 {
				t.Fatalf("ffmpeg %v: %s", args, s)
			}
			p := vxFFprobe(t, ffprobe, out)
			vxCheckH264AAC(t, "from 2 s", p)
			if d, want := p.duration(), float64(vrRecordSecs-2); math.Abs(d-want) > 0.5 {
				t.Fatalf("ffmpeg %v: copied %.3f s, want about %v", extra, d, want)
			}
		}
	})

	t.Run("RawRange", func(t *testing.T) {
		last := strconv.FormatInt(size-1, 10)
		sz := strconv.FormatInt(size, 10)
		for _, tc := range []struct {
			rangeValue   string
			status       int
			first, end   int64 // raw[first:end] is the body
			contentRange string
		}{
			{"bytes=0-", 206, 0, size, "bytes 0-" + last + "/" + sz},
			{"bytes=1000-1999", 206, 1000, 2000, "bytes 1000-1999/" + sz},
			{"bytes=" + strconv.FormatInt(size/2, 10) + "-", 206, size / 2, size, "bytes " + strconv.FormatInt(size/2, 10) + "-" + last + "/" + sz},
			{"bytes=-4096", 206, size - 4096, size, "bytes " + strconv.FormatInt(size-4096, 10) + "-" + last + "/" + sz},
			{"bytes=" + sz + "-", 416, 0, 0, "bytes */" + sz},
			{"bytes=0-0,5-5", 200, 0, size, ""},
		} {
			for _, method := range []string{"GET", "HEAD"} {
				resp, body := vrRawRequest(t, srv.HTTPAddr(), method, "/record/seek.flv", "Range: "+tc.rangeValue+"\r\n")
				if resp.StatusCode != tc.status || resp.Header.Get("Content-Range") != tc.contentRange {
					t.Fatalf("%s Range: %s: %d %q, want %d %q", method, tc.rangeValue, resp.StatusCode,
						resp.Header.Get("Content-Range"), tc.status, tc.contentRange)
				}
				if resp.Header.Get("Accept-Ranges") != "bytes" || resp.ContentLength != tc.end-tc.first {
					t.Fatalf("%s Range: %s: Accept-Ranges %q, Content-Length %d, want bytes, %d", method, tc.rangeValue,
						resp.Header.Get("Accept-Ranges"), resp.ContentLength, tc.end-tc.first)
				}
				want := raw[tc.first:tc.end]
				if method == "HEAD" {
					want = nil
				}
				if !bytes.Equal(body, want) {
					t.Fatalf("%s Range: %s: %d bytes, not bytes %d-%d of the file", method, tc.rangeValue, len(body), tc.first, tc.end-1)
				}
			}
		}
	})

	t.Run("NetHTTPClient", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), vxStepTimeout)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Range", "bytes=13-")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, raw[13:]) {
			t.Fatalf("net/http client: %d, %d bytes, %v", resp.StatusCode, len(body), err)
		}
	})
}
