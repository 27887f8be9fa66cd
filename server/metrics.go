package server

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"

	"github.com/quaverlive/quaver/internal/admission"
	"github.com/quaverlive/quaver/web"
)

// loadWebLibs reads the player libraries from dir/node_modules, if installed,
// or else takes the copies built into the binary (web.Embedded), if any.
func (s *Server) loadWebLibs() {
	libs := map[string][]byte{}
	s.sh.WebLibs = libs
	if s.cfg.WebDir == "" {
		return
	}
	for urlPath, rel := range web.Libraries {
		b, err := os.ReadFile(filepath.Join(s.cfg.WebDir, "node_modules", rel))
		if err != nil {
			if b = web.Embedded(urlPath); b == nil {
				s.log.Warn("player library missing; the player page will say so", "lib", urlPath, "hint", "run `make web`")
				continue
			}
		}
		libs[urlPath] = b
	}
}

// runtimeSamples are the Go runtime figures /metrics exports: what benchmarks
// need to tell allocations per delivered message and heap per subscriber.
var runtimeSamples = []struct{ metric, name, help string }{
	{"/gc/heap/allocs:objects", "quaver_go_heap_allocs_objects_total", "Heap objects allocated since start."},
	{"/memory/classes/heap/objects:bytes", "quaver_go_heap_objects_bytes", "Bytes in live and unswept heap objects."},
	{"/sched/goroutines:goroutines", "quaver_go_goroutines", "Goroutines."},
}

// appendMetrics renders counters in the Prometheus text exposition format.
func (s *Server) appendMetrics(b []byte) []byte {
	st := s.Stats()
	f := st.Fanout
	add := func(name, kind, help string, v any) {
		b = fmt.Appendf(b, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, kind, name, v)
	}
	add("quaver_connections", "gauge", "Open connections.", st.Connections)
	add("quaver_connections_total", "counter", "Connections accepted.", st.ConnectionsTotal)
	add("quaver_streams", "gauge", "Known streams.", st.Streams)
	add("quaver_streams_publishing", "gauge", "Streams with a publisher.", st.Publishing)
	add("quaver_packets_in_total", "counter", "Media and data messages published.", f.PacketsIn)
	add("quaver_bytes_in_total", "counter", "Payload bytes published.", f.BytesIn)
	add("quaver_deliveries_total", "counter", "Messages handed to subscriber writes.", f.Deliveries)
	add("quaver_bytes_out_total", "counter", "Bytes handed to subscriber writes.", f.BytesOut)
	add("quaver_writes_total", "counter", "Subscriber writev calls.", f.Writes)
	add("quaver_skips_total", "counter", "Times a subscriber skipped to a keyframe.", f.Skips)
	add("quaver_slow_disconnects_total", "counter", "Subscribers closed for being too slow.", f.SlowDisconnects)
	add("quaver_subscribers_total", "counter", "Subscribers ever attached.", f.SubscribersTotal)
	add("quaver_partial_message_bytes", "gauge", "Bytes held in partly received RTMP messages (budget: max-partial-bytes).", s.sh.Partial.Used())
	vodOpen, _ := s.sh.VODAdmit.Open()
	add("quaver_vod_plays", "gauge", "Recordings being played.", vodOpen)
	b = append(b, "# HELP quaver_connections_refused_total Connections refused by a connection budget.\n# TYPE quaver_connections_refused_total counter\n"...)
	for v := admission.Verdict(1); v < admission.NumVerdicts; v++ {
		b = fmt.Appendf(b, "quaver_connections_refused_total{reason=%q} %d\n", v.String(), s.refused[v].Load())
	}
	samples := make([]metrics.Sample, len(runtimeSamples))
	for i, r := range runtimeSamples {
		samples[i].Name = r.metric
	}
	metrics.Read(samples)
	for i, r := range runtimeSamples {
		kind := "gauge"
		if strings.HasSuffix(r.name, "_total") {
			kind = "counter"
		}
		if samples[i].Value.Kind() == metrics.KindUint64 {
			add(r.name, kind, r.help, samples[i].Value.Uint64())
		}
	}
	return b
}
