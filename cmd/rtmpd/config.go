package main

import (
	"bytes"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/quaverlive/quaver/recorder"
	"github.com/quaverlive/quaver/server"
)

// invocation is what the command line asks for beyond the settings.
type invocation struct {
	configPath string
	version    bool
	// flags is the command line, applied again over the config file and
	// the environment at every load (flags win).
	flags []string
}

// notSettings are the flags that have no config key or environment variable.
var notSettings = map[string]bool{"config": true, "version": true}

// newFlagSet returns the command line's flags: every setting bound to o,
// and -config and -version bound to inv.
func newFlagSet(o *options, inv *invocation) *flag.FlagSet {
	fs := flag.NewFlagSet("rtmpd", flag.ContinueOnError)
	fs.StringVar(&inv.configPath, "config", "", "YAML config `file`: the settings below as top-level keys (log_level or log-level), apps under apps: (see contrib/rtmpd.yaml); SIGHUP reads it again")
	fs.BoolVar(&inv.version, "version", false, "print the version and exit")
	bindFlags(fs, o)
	return fs
}

// parseCommandLine parses rtmpd's arguments; it refuses arguments that are
// not flags. Usage and flag errors go to stderr; -h returns flag.ErrHelp.
func parseCommandLine(args []string, stderr io.Writer) (invocation, error) {
	var inv invocation
	o := defaults()
	fs := newFlagSet(&o, &inv)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: rtmpd [flags]
       rtmpd repair FILE.flv...
       rtmpd sign -secret SECRET -app APP -stream NAME [-ttl 1h] [-ip ADDR]

Quaver RTMP streaming server. Publish to rtmp://HOST/live/NAME, play the same URL.

Every flag is also a key of the -config file (with '_' or '-') and an
environment variable RTMPD_<KEY> (RTMPD_LOG_LEVEL=debug). Flags win over the
environment, which wins over the file. SIGHUP reads the file again.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return inv, err
	}
	if fs.NArg() > 0 {
		return inv, fmt.Errorf("unexpected argument %q: rtmpd takes flags only (rtmpd -h lists them, rtmpd -version prints the version)", fs.Arg(0))
	}
	inv.flags = args
	return inv, nil
}

// settings are the daemon's effective configuration: the defaults, then the
// config file, the environment and the command line, each over the one
// before.
type settings struct {
	opts options
	// values holds every setting's effective value by flag name (as
	// flag.Value.String has it), to tell what a reload changes.
	values  map[string]string
	level   slog.Level
	apps    map[string]*server.App
	trusted []netip.Prefix
	cert    *tls.Certificate // for -rtmps
	// unknownEnv are the RTMPD_ variables that name no setting (logged,
	// not refused: scripts around rtmpd have their own RTMPD_ variables).
	unknownEnv []string
}

// loadSettings reads the configuration inv names: defaults, the file, the
// environment env ("KEY=value" pairs), inv's flags. Any unknown key or
// invalid value is an error that names the key.
func loadSettings(inv invocation, env []string) (*settings, error) {
	o := defaults()
	var ignored invocation
	fs := newFlagSet(&o, &ignored)
	fs.SetOutput(io.Discard)
	apps := defaultApps()
	if inv.configPath != "" {
		fileApps, err := applyFile(fs, inv.configPath)
		if err != nil {
			return nil, fmt.Errorf("config %s: %w", inv.configPath, err)
		}
		if fileApps != nil {
			apps = fileApps
		}
	}
	unknown, err := applyEnv(fs, env)
	if err != nil {
		return nil, err
	}
	if err := fs.Parse(inv.flags); err != nil {
		return nil, err
	}
	st := &settings{opts: o, values: map[string]string{}, unknownEnv: unknown}
	fs.VisitAll(func(f *flag.Flag) {
		if !notSettings[f.Name] {
			st.values[f.Name] = f.Value.String()
		}
	})
	if err := st.check(); err != nil {
		return nil, err
	}
	st.apps = serverApps(apps, &st.opts)
	return st, nil
}

// check validates what the flags' own parsing does not, and loads the TLS
// certificate.
func (st *settings) check() error {
	o := &st.opts
	st.level = map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError}[o.LogLevel]
	for _, n := range strings.Split(o.TrustedNets, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		p, ok := parsePrefix(n)
		if !ok {
			return fmt.Errorf("trusted_nets: %q is not a CIDR such as 127.0.0.0/8 or an address", n)
		}
		st.trusted = append(st.trusted, p)
	}
	if o.RTMPS != "" || o.HTTPS != "" {
		if o.TLSCert == "" || o.TLSKey == "" {
			return errors.New("rtmps, https: need tls_cert and tls_key")
		}
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return fmt.Errorf("tls_cert, tls_key: %w", err)
		}
		st.cert = &cert
	}
	return nil
}

// applyFile sets the settings the YAML file at path gives and returns its
// apps, or nil when it has no apps: block.
func applyFile(fs *flag.FlagSet, path string) (map[string]*appConfig, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil // an empty file: the defaults
		}
		return nil, err
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, errors.New("more than one YAML document (---) in the file")
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := deref(doc.Content[0])
	if !isNull(root) && root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want settings as key: value at the top of the file, got %s", root.Line, describe(root))
	}
	var apps map[string]*appConfig
	seen := map[string]string{} // flag name -> the key as written
	err = eachKey(root, "", func(key string, k, v *yaml.Node) error {
		if key == "apps" {
			var err error
			apps, err = decodeApps(v)
			return err
		}
		if key == "cluster" {
			return eachKey(v, "cluster", func(sub string, k2, v2 *yaml.Node) error {
				name := "cluster-" + flagName(sub)
				f := fs.Lookup(name)
				if f == nil {
					return errorAt(k2, joinPath("cluster", sub), "unknown key (cluster takes redis, advertise and ttl)")
				}
				val, err := scalarString(v2, joinPath("cluster", sub))
				if err != nil {
					return err
				}
				if err := setSetting(f, val); err != nil {
					return &keyError{line: v2.Line, path: joinPath("cluster", sub), err: err}
				}
				return nil
			})
		}
		name := flagName(key)
		f := fs.Lookup(name)
		if f == nil || notSettings[name] {
			return errorAt(k, key, "unknown key (rtmpd -h lists the settings: a key is a flag's name, with '_' or '-'; apps go under apps:)")
		}
		if prev, dup := seen[name]; dup {
			return errorAt(k, key, "the same setting as %s", prev)
		}
		seen[name] = key
		val, err := settingValue(v, key, name)
		if err != nil {
			return err
		}
		if err := setSetting(f, val); err != nil {
			return &keyError{line: v.Line, path: key, err: err}
		}
		return nil
	})
	return apps, err
}

// settingValue is the text of a top-level value: a scalar (null is empty),
// or for trusted_nets also a list.
func settingValue(v *yaml.Node, key, name string) (string, error) {
	if v.Kind == yaml.SequenceNode && name == "trusted-nets" {
		list, err := stringList(v, key)
		return strings.Join(list, ","), err
	}
	return scalarString(v, key)
}

// applyEnv sets the settings RTMPD_<KEY> variables give, and returns the
// RTMPD_ variables that name none.
func applyEnv(fs *flag.FlagSet, env []string) (unknown []string, err error) {
	for _, kv := range env {
		name, val, ok := strings.Cut(kv, "=")
		key, isOurs := strings.CutPrefix(name, "RTMPD_")
		if !ok || !isOurs {
			continue
		}
		fn := flagName(strings.ToLower(key))
		f := fs.Lookup(fn)
		if key == "" || f == nil || notSettings[fn] {
			unknown = append(unknown, name)
			continue
		}
		if err := setSetting(f, val); err != nil {
			return nil, fmt.Errorf("environment %s: %s: %w", name, fileKey(fn), err)
		}
	}
	return unknown, nil
}

// setSetting sets f from text, with an error that says what was wanted.
func setSetting(f *flag.Flag, v string) error {
	err := f.Value.Set(v)
	if err == nil {
		return nil
	}
	var want string
	if g, ok := f.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			want = "a duration such as 5s or 1m30s"
		case bool:
			want = "true or false"
		case int, int64:
			want = "an integer"
		case uint, uint64:
			want = "a non-negative integer"
		case float64:
			want = "a number"
		}
	}
	if want != "" {
		return fmt.Errorf("invalid value %q, want %s", v, want)
	}
	return fmt.Errorf("invalid value %q: %w", v, err)
}

// serverConfig is the server's configuration; the daemon adds the logger
// and the TLS configuration.
func (st *settings) serverConfig() server.Config {
	o := &st.opts
	cfg := server.Config{
		RTMPAddr:              o.RTMP,
		HTTPAddr:              o.HTTP,
		RecordDir:             o.RecordDir,
		WebDir:                o.WebDir,
		Loops:                 o.Loops,
		Transport:             o.Transport,
		ChunkSize:             uint32(o.ChunkSize),
		HandshakeTimeout:      o.HandshakeTime,
		IdleTimeout:           o.IdleTimeout,
		MaxConnections:        o.MaxConnections,
		MaxConnectionsPerIP:   o.MaxConnsPerIP,
		AcceptRatePerIP:       o.AcceptRate,
		AcceptBurstPerIP:      o.AcceptBurst,
		TrustedNets:           st.trusted,
		MaxIdleStreams:        o.MaxIdleStreams,
		MaxNamesPerConn:       o.MaxNamesPerConn,
		MaxPartialBytes:       o.MaxPartial,
		PartialMessageTimeout: o.PartialTimeout,
		MaxControlBacklog:     o.MaxBacklog,
		MaxVODPlays:           o.MaxVODPlays,
		MaxVODPlaysPerIP:      o.MaxVODPerIP,
		MemoryLimit:           o.MemoryLimit,
		SysmonBatch:           o.SysmonBatch && !o.SchedBatch, // -sched-batch covers sysmon
		LogRate:               o.LogRate,
		LogBurst:              o.LogBurst,
		MaxMessageSize:        uint32(o.MaxMessageSize),
		SocketSendBuffer:      o.SendBuffer,
		RepublishGrace:        o.RepublishGrace,
		RTMPSAddr:             o.RTMPS,
		HTTPSAddr:             o.HTTPS,
		AdminAddr:             o.Admin,
		MaxPulls:              o.MaxPulls,
		AdminToken:            o.AdminToken,
	}
	cfg.Recorder = recorder.Config{
		Template:       o.RecordTemplate,
		FlushInterval:  o.RecordFlush,
		RotateDuration: o.RotateDuration,
		RotateSize:     o.RotateSize,
	}
	cfg.Fanout.BatchWindow = o.BatchWindow
	if o.BatchWindow == 0 {
		cfg.Fanout.BatchWindow = -1 // the library's "send at once"
	}
	cfg.Fanout.HighWater = o.HighWater
	cfg.Fanout.HardCap = o.HardCap
	cfg.Fanout.StallTimeout = o.StallTimeout
	if o.ClusterRedis != "" {
		cfg.Cluster = &server.Cluster{Redis: o.ClusterRedis, Advertise: o.ClusterAdvertise, TTL: o.ClusterTTL}
	}
	return cfg
}
