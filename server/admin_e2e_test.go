package server_test

// End-to-end tests of the admin listener (Config.AdminAddr): the JSON API
// with a real publisher and real players, kicks, recordings, the bearer
// token, the loopback rule, metrics checked by promtool, and the profiler.

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quaverlive/quaver/chunkcodec"
	"github.com/quaverlive/quaver/client"
	"github.com/quaverlive/quaver/flvmux"
	"github.com/quaverlive/quaver/server"
)

// adminWait bounds each wait for the admin API to show a change.
const adminWait = 10 * time.Second

// adminDo sends one request to the admin listener and returns the status
// and body.
func adminDo(t *testing.T, addr, method, path, token string) (int, []byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return resp.StatusCode, body
}

// adminJSON decodes a 200 JSON answer into v.
func adminJSON(t *testing.T, addr, path string, v any) {
	t.Helper()
	code, body := adminDo(t, addr, "GET", path, "")
	if code != 200 {
		t.Fatalf("GET %s: status %d: %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// adminStream is the part of a GET /api/v1/streams entry the tests read.
type adminStream struct {
	App, Name  string
	Publishing bool
	Publisher  *struct {
		ClientID uint64 `json:"client_id"`
		Peer     string
	}
	VideoCodec    string  `json:"video_codec"`
	AudioCodec    string  `json:"audio_codec"`
	Width         int     `json:"width"`
	Height        int     `json:"height"`
	FrameRate     float64 `json:"frame_rate"`
	BitrateInKbps int64   `json:"bitrate_in_kbps"`
	Uptime        float64 `json:"uptime_seconds"`
	Viewers       map[string]int
	Recording     bool
}

type adminClient struct {
	ID       uint64
	App      string
	Stream   string
	Role     string
	Protocol string
	Peer     string
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
}

func findStream(t *testing.T, addr, app, name string) *adminStream {
	var list []adminStream
	adminJSON(t, addr, "/api/v1/streams", &list)
	for i := range list {
		if list[i].App == app && list[i].Name == name {
			return &list[i]
		}
	}
	return nil
}

func clients(t *testing.T, addr string) []adminClient {
	var list []adminClient
	adminJSON(t, addr, "/api/v1/clients", &list)
	return list
}

func TestAdminAPI(t *testing.T) {
	ffmpeg, _ := requireFFmpeg(t)
	ctx := testContext(t)
	reloads := atomic.Int32{}
	recDir := t.TempDir()
	ts := startServer(t, server.Config{
		HTTPAddr:         "127.0.0.1:0",
		AdminAddr:        "127.0.0.1:0",
		RecordDir:        recDir,
		WebDir:           t.TempDir(),
		MetricsPerStream: true,
		Reload:           func() error { reloads.Add(1); return nil },
	}, nil)
	admin := ts.AdminAddr()
	if admin == "" {
		t.Fatal("AdminAddr is empty")
	}

	// A real publisher: ffmpeg's H.264 (320x240, 25 fps) and AAC, published
	// at real time through the client package until the test ends.
	tags := readFLVTags(t, genFLV(t, ffmpeg, 2))
	pub := dial(t, ctx, ts.url("live/adm"), client.Config{})
	if err := pub.Publish(ctx, pub.StreamName()); err != nil {
		t.Fatal(err)
	}
	pubCtx, stopPub := context.WithCancel(ctx)
	pubDone := make(chan struct{})
	go func() { defer close(pubDone); _, _ = publishTags(pubCtx, pub, tags, 0) }()
	t.Cleanup(func() { stopPub(); <-pubDone })

	// An RTMP player and an HTTP-FLV player, each reading until closed.
	rtmpPlayer := player(t, ctx, ts, "live", "adm", client.Config{})
	rtmpClosed := make(chan error, 1)
	go func() {
		for {
			if _, err := rtmpPlayer.ReadMessage(); err != nil {
				rtmpClosed <- err
				return
			}
		}
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+ts.HTTPAddr()+"/live/adm.flv", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("HTTP-FLV play: %v %v", resp, err)
	}
	go func() { _, _ = io.Copy(io.Discard, resp.Body) }()
	t.Cleanup(func() { resp.Body.Close() })

	var st *adminStream
	ok := waitFor(adminWait, func() bool {
		st = findStream(t, admin, "live", "adm")
		return st != nil && st.Publishing && st.VideoCodec != "" && st.AudioCodec != "" &&
			st.Viewers["rtmp"] == 1 && st.Viewers["http"] == 1
	})
	if !ok {
		t.Fatalf("/api/v1/streams never showed live/adm with media and two viewers: %+v", st)
	}
	if st.VideoCodec != "h264" || st.AudioCodec != "aac" || st.Width != 320 || st.Height != 240 || st.FrameRate != 25 {
		t.Errorf("live/adm media: %+v, want h264 320x240 at 25 fps and aac", st)
	}
	if st.Publisher == nil || st.Publisher.ClientID == 0 || !strings.HasPrefix(st.Publisher.Peer, "127.0.0.1:") {
		t.Errorf("live/adm publisher: %+v", st.Publisher)
	}
	if !waitFor(adminWait, func() bool { st = findStream(t, admin, "live", "adm"); return st.BitrateInKbps > 0 && st.Uptime > 0 }) {
		t.Errorf("live/adm bitrate %d kbps, uptime %v s", st.BitrateInKbps, st.Uptime)
	}

	// The client list: the publisher, both players, with roles and protocols.
	var pubC, rtmpC, httpC *adminClient
	list := clients(t, admin)
	for i := range list {
		c := &list[i]
		if c.App != "live" || c.Stream != "adm" {
			continue
		}
		switch {
		case c.Role == "publisher" && c.Protocol == "rtmp":
			pubC = c
		case c.Role == "player" && c.Protocol == "rtmp":
			rtmpC = c
		case c.Role == "player" && c.Protocol == "http":
			httpC = c
		}
	}
	if pubC == nil || rtmpC == nil || httpC == nil {
		t.Fatalf("/api/v1/clients lacks the publisher or a player: %+v", list)
	}
	if pubC.ID != st.Publisher.ClientID || pubC.BytesIn == 0 || pubC.Peer == "" {
		t.Errorf("publisher client %+v (stream says id %d)", pubC, st.Publisher.ClientID)
	}
	if rtmpC.BytesOut == 0 || httpC.BytesOut == 0 {
		t.Errorf("players' bytes out not counted: rtmp %+v, http %+v", rtmpC, httpC)
	}

	t.Run("metrics", func(t *testing.T) {
		// Bytes out start with the stream's headers; the first frame
		// follows with the publisher's next read.
		var code int
		var text string
		waitFor(adminWait, func() bool {
			var body []byte
			code, body = adminDo(t, admin, "GET", "/metrics", "")
			text = string(body)
			return code != 200 || (strings.Contains(text, `quaver_first_frame_seconds_count{protocol="rtmp"} 1`) &&
				strings.Contains(text, `quaver_first_frame_seconds_count{protocol="http"} 1`))
		})
		if code != 200 {
			t.Fatalf("/metrics: %d", code)
		}
		for _, want := range []string{
			"quaver_build_info{", "go_goroutines ", "process_cpu_seconds_total ",
			`quaver_publishers{app="live"} 1`, `quaver_viewers{app="live",protocol="rtmp"} 1`,
			`quaver_viewers{app="live",protocol="http"} 1`, `quaver_listener_connections{listener="rtmp"} 2`,
			`quaver_connections_refused_total{reason=`, "quaver_bytes_out_total ", "quaver_slow_disconnects_total ",
			`quaver_app_received_bytes_total{app="live"}`, `quaver_stream_viewers{app="live",protocol="rtmp",stream="adm"} 1`,
			"quaver_go_heap_objects_bytes ",
			"quaver_handshake_failures_total ", "quaver_recording_errors_total ",
			`quaver_first_frame_seconds_count{protocol="rtmp"} 1`, `quaver_first_frame_seconds_count{protocol="http"} 1`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		promtool, err := exec.LookPath("promtool")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("promtool is not installed (.ci/deps.sh installs it)")
			}
			t.Skip("promtool not installed (bash .ci/deps.sh installs it)")
		}
		cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
		cmd.Stdin = strings.NewReader(text)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool check metrics: %v\n%s", err, out)
		}
		// The public port serves no metrics.
		if r, err := http.Get("http://" + ts.HTTPAddr() + "/metrics"); err != nil || r.StatusCode != 404 {
			t.Errorf("public /metrics: %v %v", r, err)
		} else {
			r.Body.Close()
		}
	})

	t.Run("pprof and healthz", func(t *testing.T) {
		if code, body := adminDo(t, admin, "GET", "/debug/pprof/", ""); code != 200 || !strings.Contains(string(body), "goroutine") {
			t.Errorf("/debug/pprof/: %d", code)
		}
		if code, body := adminDo(t, admin, "GET", "/healthz", ""); code != 200 || string(body) != "ok\n" {
			t.Errorf("/healthz: %d %q", code, body)
		}
	})

	t.Run("reload and config", func(t *testing.T) {
		if code, body := adminDo(t, admin, "POST", "/api/v1/reload", ""); code != 200 || reloads.Load() != 1 {
			t.Errorf("reload: %d %s, %d calls", code, body, reloads.Load())
		}
		var cfg struct {
			Config map[string]any
			Apps   map[string]any
		}
		adminJSON(t, admin, "/api/v1/config", &cfg)
		if cfg.Config["AdminAddr"] != "127.0.0.1:0" || cfg.Config["RecordDir"] != recDir || cfg.Apps["live"] == nil {
			t.Errorf("config: %+v", cfg)
		}
	})

	t.Run("recording", func(t *testing.T) {
		if code, body := adminDo(t, admin, "POST", "/api/v1/streams/live/nobody/recording", ""); code != 404 {
			t.Errorf("record a stream nobody publishes: %d %s", code, body)
		}
		if code, body := adminDo(t, admin, "POST", "/api/v1/streams/live/adm/recording", ""); code != 202 {
			t.Fatalf("start recording: %d %s", code, body)
		}
		if !waitFor(adminWait, func() bool { return findStream(t, admin, "live", "adm").Recording }) {
			t.Fatal("live/adm never shown as recording")
		}
		if code, body := adminDo(t, admin, "POST", "/api/v1/streams/live/adm/recording", ""); code != 409 {
			t.Errorf("start it again: %d %s, want 409", code, body)
		}
		time.Sleep(1500 * time.Millisecond) // some media into the file (not a timing assertion)
		if code, body := adminDo(t, admin, "DELETE", "/api/v1/streams/live/adm/recording", ""); code != 202 {
			t.Fatalf("stop recording: %d %s", code, body)
		}
		if code, body := adminDo(t, admin, "DELETE", "/api/v1/streams/live/adm/recording", ""); code != 404 {
			t.Errorf("stop it again: %d %s, want 404", code, body)
		}
		var recs []struct {
			App, Stream, File string
			Complete          bool
		}
		if !waitFor(adminWait, func() bool {
			adminJSON(t, admin, "/api/v1/recordings", &recs)
			return len(recs) == 1 && recs[0].Complete
		}) {
			t.Fatalf("/api/v1/recordings: %+v", recs)
		}
		if recs[0].App != "live" || recs[0].Stream != "adm" {
			t.Errorf("recording %+v", recs[0])
		}
		if _, err := os.Stat(filepath.Join(recDir, filepath.FromSlash(recs[0].File))); err != nil {
			t.Error(err)
		}
		// live has no VOD: the public port does not list its recordings.
		r, err := http.Get("http://" + ts.HTTPAddr() + "/api/recordings")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("public /api/recordings lists a recording of an app without VOD: %s", body)
		}
	})

	t.Run("kick", func(t *testing.T) {
		path := fmt.Sprintf("/api/v1/clients/%d", rtmpC.ID)
		if code, body := adminDo(t, admin, "DELETE", path, ""); code != 200 {
			t.Fatalf("kick: %d %s", code, body)
		}
		select {
		case err := <-rtmpClosed:
			if !isClosed(err) {
				t.Errorf("kicked player's read ended with %v", err)
			}
		case <-time.After(adminWait):
			t.Fatal("the kicked player's connection stayed open")
		}
		if !waitFor(adminWait, func() bool {
			for _, c := range clients(t, admin) {
				if c.ID == rtmpC.ID {
					return false
				}
			}
			return true
		}) {
			t.Error("the kicked client is still listed")
		}
		if code, _ := adminDo(t, admin, "DELETE", path, ""); code != 404 {
			t.Errorf("kick it again: %d, want 404", code)
		}
		if code, _ := adminDo(t, admin, "DELETE", "/api/v1/clients/999999999", ""); code != 404 {
			t.Errorf("kick an unknown id: %d, want 404", code)
		}
		if st := findStream(t, admin, "live", "adm"); st.Viewers["rtmp"] != 0 || st.Viewers["http"] != 1 {
			t.Errorf("viewers after the kick: %v", st.Viewers)
		}
	})
}

func TestAdminToken(t *testing.T) {
	const token = "adm-t0ken-xyz"
	ts := startServer(t, server.Config{AdminAddr: "127.0.0.1:0", AdminToken: token}, nil)
	for _, path := range []string{"/api/v1/streams", "/api/v1/clients", "/metrics", "/healthz", "/debug/pprof/"} {
		if code, body := adminDo(t, ts.AdminAddr(), "GET", path, ""); code != 401 {
			t.Errorf("GET %s without the token: %d %s", path, code, body)
		}
		if code, _ := adminDo(t, ts.AdminAddr(), "GET", path, "wrong"); code != 401 {
			t.Errorf("GET %s with a wrong token: %d", path, code)
		}
		if code, body := adminDo(t, ts.AdminAddr(), "GET", path, token); code != 200 {
			t.Errorf("GET %s with the token: %d %s", path, code, body)
		}
	}
	code, body := adminDo(t, ts.AdminAddr(), "GET", "/api/v1/config", token)
	if code != 200 || strings.Contains(string(body), token) || !strings.Contains(string(body), `"AdminToken": "[redacted]"`) {
		t.Errorf("config: %d, token shown or not redacted: %s", code, body)
	}
	if code, body := adminDo(t, ts.AdminAddr(), "POST", "/api/v1/reload", token); code != 501 {
		t.Errorf("reload without Config.Reload: %d %s, want 501", code, body)
	}
}

// TestAdminMetricsStreamCap: per-stream series stop at MetricsMaxStreams.
func TestAdminMetricsStreamCap(t *testing.T) {
	ctx := testContext(t)
	ts := startServer(t, server.Config{AdminAddr: "127.0.0.1:0", MetricsPerStream: true, MetricsMaxStreams: 1}, nil)
	publisher(t, ctx, ts, "live", "one", client.Config{})
	publisher(t, ctx, ts, "live", "two", client.Config{})
	if !waitFor(adminWait, func() bool { return ts.publishing("live", "one") && ts.publishing("live", "two") }) {
		t.Fatal("the publishers are not on air")
	}
	_, body := adminDo(t, ts.AdminAddr(), "GET", "/metrics", "")
	text := string(body)
	if n := strings.Count(text, "quaver_stream_in_bytes_per_second{"); n != 1 {
		t.Errorf("%d streams with series, want 1 (MetricsMaxStreams)", n)
	}
	if !strings.Contains(text, "quaver_stream_series_omitted 1") {
		t.Errorf("no quaver_stream_series_omitted 1 in\n%s", text)
	}
}

func TestAdminBeyondLoopbackNeedsToken(t *testing.T) {
	for _, addr := range []string{":0", "0.0.0.0:0", "[::]:0", "example.com:0"} {
		srv := server.New(server.Config{RTMPAddr: "127.0.0.1:0", AdminAddr: addr})
		err := srv.Start()
		if !errors.Is(err, server.ErrAdminToken) {
			t.Errorf("admin %q without a token: Start returned %v, want ErrAdminToken", addr, err)
		}
		if err == nil {
			_ = srv.Shutdown(context.Background())
		} else if srv.RTMPAddr() != "" {
			t.Errorf("admin %q refused, but RTMP listens on %s", addr, srv.RTMPAddr())
		}
	}
}

// x264's SPS for 1280x720 at 30 fps (High profile).
const adminSPS = "6764001facd9405005bb0110000003001000000303c0f1831960"

// TestOperatorLogs publishes a synthetic H.264 stream and plays it, and reads
// the lines operators use: media at publish start, and the summaries when a
// play and a publish end.
func TestOperatorLogs(t *testing.T) {
	s := hxStart(t, server.Config{}, nil)
	ctx := hxContext(t)
	sps, _ := hex.DecodeString(adminSPS)
	seq := []byte{0x17, 0, 0, 0, 0, 1, sps[1], sps[2], sps[3], 0xff, 0xe1}
	seq = binary.BigEndian.AppendUint16(seq, uint16(len(sps)))
	seq = append(append(seq, sps...), 1, 0, 4, 0x68, 0xce, 0x3c, 0x80)
	pub, err := client.Dial(ctx, "rtmp://"+s.rtmp+"/live/logs", client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.Publish(ctx, "logs"); err != nil {
		t.Fatal(err)
	}
	if err := pub.WriteMetaData(flvmux.AppendOnMetaData(nil, &flvmux.Metadata{VideoCodecID: 7, AudioCodecID: 10, FrameRate: 30})); err != nil {
		t.Fatal(err)
	}
	if err := pub.WriteMessage(chunkcodec.TypeVideo, 0, seq); err != nil {
		t.Fatal(err)
	}
	if err := pub.WriteMessage(chunkcodec.TypeAudio, 0, []byte{0xaf, 0, 0x12, 0x10}); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if err := pub.WriteMessage(chunkcodec.TypeVideo, uint32(i*33), synthVideo(i == 0, 2000, i)); err != nil {
			t.Fatal(err)
		}
	}
	if !waitFor(adminWait, func() bool { return strings.Contains(s.log.String(), "publish media") }) {
		t.Fatalf("no publish media line:\n%s", s.log.String())
	}
	play, err := client.Dial(ctx, "rtmp://"+s.rtmp+"/live/logs", client.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := play.Play(ctx, "logs"); err != nil {
		t.Fatal(err)
	}
	if !waitFor(adminWait, func() bool { return s.Stats().Fanout.SubscribersTotal > 0 }) {
		t.Fatal("the player never subscribed")
	}
	play.Close()
	if !waitFor(adminWait, func() bool { return strings.Contains(s.log.String(), "play ended") }) {
		t.Fatalf("no play ended line:\n%s", s.log.String())
	}
	pub.Close()
	if !waitFor(adminWait, func() bool { return strings.Contains(s.log.String(), "publish ended") }) {
		t.Fatalf("no publish ended line:\n%s", s.log.String())
	}
	lines := strings.Split(s.log.String(), "\n")
	want := map[string][]string{
		"publish media": {"stream=live/logs", "video=h264", "width=1280", "height=720", "fps=30", "audio=aac"},
		"play ended":    {"stream=live/logs", "via=rtmp", "duration=", "reason="},
		"publish ended": {"stream=live/logs", "duration=", "bytes=", "bitrate_kbps=", "video=h264", "width=1280", "audio=aac"},
	}
	for msg, parts := range want {
		found := false
		for _, l := range lines {
			if !strings.Contains(l, "msg=\""+msg+"\"") {
				continue
			}
			found = true
			for _, p := range parts {
				if !strings.Contains(l, p) {
					t.Errorf("%q line lacks %s: %s", msg, p, l)
				}
			}
		}
		if !found {
			t.Errorf("no %q line", msg)
		}
	}
}
