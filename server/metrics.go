package server

import (
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/quaverlive/quaver/internal/admission"
	"github.com/quaverlive/quaver/internal/engine"
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

// Metrics: /metrics on the admin listener is rendered by client_golang from a
// registry of its own per Server: the Go and process collectors, a
// quaver_build_info gauge, and serverCollector, which reads the server's
// existing atomic counters at scrape time. Nothing on the delivery path
// changes for metrics: no label lookups, no locks, no new counters there.

// metricsHandler returns the /metrics handler of the admin listener.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		buildInfo(),
		(*serverCollector)(s),
		s.hooks.latency,
		s.firstFrame,
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: promLogger{s}})
}

// promLogger sends client_golang's scrape errors to the server's log.
type promLogger struct{ s *Server }

func (l promLogger) Println(v ...any) { l.s.log.Warn("metrics", "err", v) }

// buildInfo is quaver_build_info, 1 with the build's versions as labels.
func buildInfo() prometheus.Collector {
	version, revision := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" {
				revision = kv.Value
			}
		}
	}
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "quaver_build_info",
		Help:        "Build information: 1, with the module version, VCS revision and Go version as labels.",
		ConstLabels: prometheus.Labels{"version": version, "revision": revision, "goversion": runtime.Version()},
	})
	g.Set(1)
	return g
}

// Metric descriptions of serverCollector.
var (
	descConns          = prometheus.NewDesc("quaver_connections", "Open connections.", nil, nil)
	descListenerConns  = prometheus.NewDesc("quaver_listener_connections", "Open connections by listener (rtmp, http, rtmps).", []string{"listener"}, nil)
	descConnsTotal     = prometheus.NewDesc("quaver_connections_total", "Connections accepted.", nil, nil)
	descRefused        = prometheus.NewDesc("quaver_connections_refused_total", "Connections refused by a connection budget, by reason.", []string{"reason"}, nil)
	descStreams        = prometheus.NewDesc("quaver_streams", "Known streams (published, lingering or waiting for a publisher).", nil, nil)
	descPublishing     = prometheus.NewDesc("quaver_streams_publishing", "Streams with a publisher.", nil, nil)
	descPublishers     = prometheus.NewDesc("quaver_publishers", "Publishing connections by app.", []string{"app"}, nil)
	descViewers        = prometheus.NewDesc("quaver_viewers", "Players (live and recordings) by app and protocol.", []string{"app", "protocol"}, nil)
	descAppBytesIn     = prometheus.NewDesc("quaver_app_received_bytes_total", "Bytes received from connections by app (protocol overhead included).", []string{"app"}, nil)
	descPacketsIn      = prometheus.NewDesc("quaver_packets_in_total", "Media and data messages published.", nil, nil)
	descBytesIn        = prometheus.NewDesc("quaver_bytes_in_total", "Payload bytes published.", nil, nil)
	descDeliveries     = prometheus.NewDesc("quaver_deliveries_total", "Messages handed to subscriber writes.", nil, nil)
	descBytesOut       = prometheus.NewDesc("quaver_bytes_out_total", "Bytes handed to subscriber writes.", nil, nil)
	descWrites         = prometheus.NewDesc("quaver_writes_total", "Subscriber writev calls.", nil, nil)
	descWakeups        = prometheus.NewDesc("quaver_loop_wakeups_total", "Delivery flushes run on the event loops.", nil, nil)
	descSkips          = prometheus.NewDesc("quaver_skips_total", "Times a subscriber skipped to a keyframe.", nil, nil)
	descSlow           = prometheus.NewDesc("quaver_slow_disconnects_total", "Subscribers closed for being too slow (hard cap or stall timeout).", nil, nil)
	descSubsTotal      = prometheus.NewDesc("quaver_subscribers_total", "Subscribers ever attached.", nil, nil)
	descPartial        = prometheus.NewDesc("quaver_partial_message_bytes", "Bytes held in partly received RTMP messages (budget: max-partial-bytes).", nil, nil)
	descVOD            = prometheus.NewDesc("quaver_vod_plays", "Recordings being played.", nil, nil)
	descRelays         = prometheus.NewDesc("quaver_relays", "Pulls from origins and pushes to targets by kind and state.", []string{"kind", "state"}, nil)
	descRelayBytes     = prometheus.NewDesc("quaver_relay_bytes", "Bytes the current pulls received and pushes sent, by kind.", []string{"kind"}, nil)
	descRelayReconn    = prometheus.NewDesc("quaver_relay_reconnects", "Reconnects of the current pulls and pushes, by kind.", []string{"kind"}, nil)
	descHandshakeFail  = prometheus.NewDesc("quaver_handshake_failures_total", "RTMP connections closed in their handshake (bad bytes, or not completed in time).", nil, nil)
	descRecordFail     = prometheus.NewDesc("quaver_recording_errors_total", "Recordings that stopped with an error (file creation or writing failed, disk too slow).", nil, nil)
	descStreamViewers  = prometheus.NewDesc("quaver_stream_viewers", "Players of a live stream by protocol (Config.MetricsPerStream; at most MetricsMaxStreams streams).", []string{"app", "stream", "protocol"}, nil)
	descStreamRate     = prometheus.NewDesc("quaver_stream_in_bytes_per_second", "A stream's inbound rate, averaged since its publish started (Config.MetricsPerStream).", []string{"app", "stream"}, nil)
	descStreamsOmitted = prometheus.NewDesc("quaver_stream_series_omitted", "Streams left out of the per-stream series by MetricsMaxStreams.", nil, nil)
)

// runtimeSamples are Go runtime figures under the names benchmarks and the
// hostile suite read (allocations per delivered message, heap per viewer);
// the Go collector's go_* series carry the rest.
var runtimeSamples = []struct {
	metric string
	desc   *prometheus.Desc
	kind   prometheus.ValueType
}{
	{"/gc/heap/allocs:objects", prometheus.NewDesc("quaver_go_heap_allocs_objects_total", "Heap objects allocated since start.", nil, nil), prometheus.CounterValue},
	{"/memory/classes/heap/objects:bytes", prometheus.NewDesc("quaver_go_heap_objects_bytes", "Bytes in live and unswept heap objects.", nil, nil), prometheus.GaugeValue},
	{"/sched/goroutines:goroutines", prometheus.NewDesc("quaver_go_goroutines", "Goroutines.", nil, nil), prometheus.GaugeValue},
}

// listenerNames label quaver_connections, by listener kind.
var listenerNames = [numListeners]string{listenerRTMP: "rtmp", listenerHTTP: "http", listenerRTMPS: "rtmps"}

// serverCollector renders the server's counters at scrape time
// (prometheus.Collector; any goroutine).
type serverCollector Server

// Describe implements prometheus.Collector.
func (c *serverCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConns, descListenerConns, descConnsTotal, descRefused, descStreams, descPublishing,
		descPublishers, descViewers, descAppBytesIn, descPacketsIn, descBytesIn, descDeliveries, descBytesOut,
		descWrites, descWakeups, descSkips, descSlow, descSubsTotal, descPartial, descVOD, descHandshakeFail, descRecordFail, descRelays, descRelayBytes, descRelayReconn,
		descStreamViewers, descStreamRate, descStreamsOmitted} {
		ch <- d
	}
	for _, r := range runtimeSamples {
		ch <- r.desc
	}
}

// Collect implements prometheus.Collector.
func (c *serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := (*Server)(c)
	st := s.Stats()
	f := st.Fanout
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(descConns, float64(st.Connections))
	_, byKind := s.admit.Open()
	for kind, name := range listenerNames {
		n := 0
		if kind < len(byKind) {
			n = byKind[kind]
		}
		gauge(descListenerConns, float64(n), name)
	}
	counter(descConnsTotal, st.ConnectionsTotal)
	for v := admission.Verdict(1); v < admission.NumVerdicts; v++ {
		counter(descRefused, s.refused[v].Load(), v.String())
	}
	gauge(descStreams, float64(st.Streams))
	gauge(descPublishing, float64(st.Publishing))

	// Publishers and viewers by app, from what each open session does.
	type appCount struct{ publishers, rtmp, http, ws int }
	apps := map[string]*appCount{}
	for name := range s.apps {
		apps[name] = &appCount{}
	}
	perStream := map[string]map[string]int{}
	for _, sess := range s.sh.Sessions() {
		a := sess.Activity()
		if a == nil || a.Role == engine.RoleNone {
			continue
		}
		ac := apps[a.App]
		if ac == nil { // an app no longer registered: not labelled
			continue
		}
		if a.Role == engine.RolePublisher {
			ac.publishers++
			continue
		}
		switch a.Protocol {
		case "http":
			ac.http++
		case "ws":
			ac.ws++
		default:
			ac.rtmp++
		}
		if s.cfg.MetricsPerStream {
			k := a.Key()
			if perStream[k] == nil {
				perStream[k] = map[string]int{}
			}
			perStream[k][a.Protocol]++
		}
	}
	for app, ac := range apps {
		gauge(descPublishers, float64(ac.publishers), app)
		gauge(descViewers, float64(ac.rtmp), app, "rtmp")
		gauge(descViewers, float64(ac.http), app, "http")
		gauge(descViewers, float64(ac.ws), app, "ws")
	}
	received := s.sh.BytesInByApp()
	for app := range apps {
		counter(descAppBytesIn, received[app], app)
	}

	counter(descPacketsIn, f.PacketsIn)
	counter(descBytesIn, f.BytesIn)
	counter(descDeliveries, f.Deliveries)
	counter(descBytesOut, f.BytesOut)
	counter(descWrites, f.Writes)
	counter(descWakeups, f.LoopWakeups)
	counter(descSkips, f.Skips)
	counter(descSlow, f.SlowDisconnects)
	counter(descSubsTotal, f.SubscribersTotal)
	gauge(descPartial, float64(s.sh.Partial.Used()))
	vodOpen, _ := s.sh.VODAdmit.Open()
	gauge(descVOD, float64(vodOpen))
	counter(descHandshakeFail, s.sh.HandshakeFailures.Load())
	c.collectRelays(ch)
	counter(descRecordFail, s.rec.Failures())

	if s.cfg.MetricsPerStream {
		c.collectStreams(ch, perStream)
	}

	samples := make([]metrics.Sample, len(runtimeSamples))
	for i, r := range runtimeSamples {
		samples[i].Name = r.metric
	}
	metrics.Read(samples)
	for i, r := range runtimeSamples {
		if samples[i].Value.Kind() == metrics.KindUint64 {
			ch <- prometheus.MustNewConstMetric(r.desc, r.kind, float64(samples[i].Value.Uint64()))
		}
	}
}

// collectStreams renders the per-stream series of the published streams, the
// first MetricsMaxStreams by name.
func (c *serverCollector) collectStreams(ch chan<- prometheus.Metric, viewers map[string]map[string]int) {
	s := (*Server)(c)
	streams := (*adminBackend)(s).Streams() // sorted by app and name
	n := 0
	omitted := 0
	for _, st := range streams {
		if !st.Publishing {
			continue
		}
		if n == s.cfg.MetricsMaxStreams {
			omitted++
			continue
		}
		n++
		v := viewers[st.App+"/"+st.Name]
		for _, p := range []string{"http", "rtmp", "ws"} {
			ch <- prometheus.MustNewConstMetric(descStreamViewers, prometheus.GaugeValue, float64(v[p]), st.App, st.Name, p)
		}
		ch <- prometheus.MustNewConstMetric(descStreamRate, prometheus.GaugeValue, float64(st.BitrateInKbps)*1000/8, st.App, st.Name)
	}
	ch <- prometheus.MustNewConstMetric(descStreamsOmitted, prometheus.GaugeValue, float64(omitted))
}

// collectRelays exports the relays by kind and state. Their counts are of
// the relays that exist now (a relay that ended takes its bytes with it), so
// they are gauges.
func (c *serverCollector) collectRelays(ch chan<- prometheus.Metric) {
	type key struct{ kind, state string }
	states := map[key]int{}
	bytes, reconnects := map[string]uint64{}, map[string]int{}
	for _, kind := range []string{"pull", "push"} {
		bytes[kind], reconnects[kind] = 0, 0
	}
	for _, r := range (*Server)(c).relays.Relays() {
		states[key{r.Kind, r.State}]++
		bytes[r.Kind] += r.Bytes
		reconnects[r.Kind] += r.Reconnects
	}
	for k, n := range states {
		ch <- prometheus.MustNewConstMetric(descRelays, prometheus.GaugeValue, float64(n), k.kind, k.state)
	}
	for kind, n := range bytes {
		ch <- prometheus.MustNewConstMetric(descRelayBytes, prometheus.GaugeValue, float64(n), kind)
		ch <- prometheus.MustNewConstMetric(descRelayReconn, prometheus.GaugeValue, float64(reconnects[kind]), kind)
	}
}
