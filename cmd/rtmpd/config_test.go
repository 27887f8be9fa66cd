package main

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/quaverlive/quaver/server"
)

// The README's five lines that secure an app (a contract: they must keep
// working exactly as written).
const secureLive = `apps:
  live:
    publish:
      keys: [s3cret]        # publish rtmp://host/live/NAME?key=s3cret ; without it: refused
    hooks:
      on_play: http://127.0.0.1:9999/hook   # 2xx plays, anything else refuses
`

// loadCase is one configuration: a file (none when empty), an environment
// and a command line; either a check of the settings or the error's text.
type loadCase struct {
	name  string
	file  string
	env   []string
	args  []string
	check func(t *testing.T, st *settings)
	// wantErr holds substrings of the error: the key it names and why.
	wantErr []string
}

var loadCases = []loadCase{
	{
		name: "edges and clusters: the fixed keys",
		file: `apps:
  live:
    pull:
      origins: [rtmp://127.0.0.2:1935/live, rtmp://127.0.0.3:1935/live]
      linger: 5s
    push:
      - rtmp://127.0.0.5:1935/live/{stream}
cluster:
  redis: 127.0.0.1:6379
  advertise: rtmp://127.0.0.2:1935
`,
		check: func(t *testing.T, st *settings) {
			wantApps(t, st, map[string]*server.App{"live": {
				Pull: &server.Pull{Origins: []string{"rtmp://127.0.0.2:1935/live", "rtmp://127.0.0.3:1935/live"}, Linger: 5 * time.Second},
				Push: server.Push{"rtmp://127.0.0.5:1935/live/{stream}"},
			}})
			cfg := st.serverConfig()
			if c := cfg.Cluster; c == nil || c.Redis != "127.0.0.1:6379" || c.Advertise != "rtmp://127.0.0.2:1935" {
				t.Errorf("cluster %+v", cfg.Cluster)
			}
		},
	},
	{name: "a pull without origins", file: "apps:\n  live:\n    pull: {linger: 5s}\n", wantErr: []string{"apps.live.pull.origins", "at least one origin"}},
	{name: "a push target that is no RTMP URL", file: "apps:\n  live:\n    push: [http://x/y]\n", wantErr: []string{"apps.live.push[0]", "rtmp://"}},
	{name: "an unknown cluster key", file: "cluster:\n  redis: 127.0.0.1:6379\n  nodes: 3\n", wantErr: []string{"cluster.nodes", "unknown key"}},
	{
		name: "no file: the defaults, with apps live and record",
		check: func(t *testing.T, st *settings) {
			wantApps(t, st, map[string]*server.App{"live": {}, "record": {Record: true, VOD: true}})
			if st.opts.RTMP != ":1935" || st.opts.HTTP != ":8080" || st.opts.LogLevel != "info" || st.level != 0 {
				t.Errorf("defaults: rtmp %q http %q log level %q", st.opts.RTMP, st.opts.HTTP, st.opts.LogLevel)
			}
		},
	},
	{
		name: "empty file: the defaults",
		file: "# nothing here\n",
		check: func(t *testing.T, st *settings) {
			wantApps(t, st, map[string]*server.App{"live": {}, "record": {Record: true, VOD: true}})
		},
	},
	{
		name: "the README's secured app maps to Access and HTTPHooks",
		file: secureLive,
		check: func(t *testing.T, st *settings) {
			wantApps(t, st, map[string]*server.App{"live": {
				Publish: server.Access{Keys: []string{"s3cret"}},
				Hooks:   server.HTTPHooks{OnPlay: "http://127.0.0.1:9999/hook"},
			}})
		},
	},
	{
		name: "every key",
		file: `
rtmp: 127.0.0.1:1936
http: ""
record_dir: /srv/rec
log-level: debug          # the flag's spelling works too
log_format: json
record_flush: 2s
chunk_size: 8192
accept_rate_per_ip: 12.5
trusted_nets: [127.0.0.0/8, "::1"]
gop_cache: false          # the default of every app
republish: replace
publisher_idle: 3s
apps:
  live:
    gop_cache: true
    republish: reject
    publisher_idle: 10s
    publish:
      keys: [a, b]
      token_secret: t0ps3cret
      token_binds_ip: true
      allow: [10.0.0.0/8, 192.0.2.7]
      deny: [10.9.0.1/16]
    play:
      allow: ["2001:db8::/32"]
    hooks:
      on_connect: http://127.0.0.1:9999/connect
      on_publish: http://127.0.0.1:9999/publish
      on_play: https://hooks.example/play
      on_publish_done: http://127.0.0.1:9999/publish_done
      on_play_done: http://127.0.0.1:9999/play_done
      on_record_done: http://127.0.0.1:9999/record_done
      timeout: 1500ms
  archive:
    record: true
  quiet:
`,
		check: func(t *testing.T, st *settings) {
			o := st.opts
			if o.RTMP != "127.0.0.1:1936" || o.HTTP != "" || o.RecordDir != "/srv/rec" || o.LogFormat != "json" ||
				o.RecordFlush != 2*time.Second || o.ChunkSize != 8192 || o.AcceptRate != 12.5 {
				t.Errorf("top-level settings: %+v", o)
			}
			if st.level != -4 {
				t.Errorf("level %v, want debug", st.level)
			}
			wantNets := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
			if !reflect.DeepEqual(st.trusted, wantNets) {
				t.Errorf("trusted nets %v, want %v", st.trusted, wantNets)
			}
			inherit := server.App{DisableGOPCache: true, Republish: server.RepublishReplace, PublisherIdleTimeout: 3 * time.Second}
			archive, quiet := inherit, inherit
			archive.Record = true
			wantApps(t, st, map[string]*server.App{
				"live": {
					Republish:            server.RepublishReject,
					PublisherIdleTimeout: 10 * time.Second,
					Publish: server.Access{
						Keys: []string{"a", "b"}, TokenSecret: "t0ps3cret", TokenBindsIP: true,
						Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32")},
						Deny:  []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")},
					},
					Play: server.Access{Allow: []netip.Prefix{netip.MustParsePrefix("2001:db8::/32")}},
					Hooks: server.HTTPHooks{
						OnConnect:     "http://127.0.0.1:9999/connect",
						OnPublish:     "http://127.0.0.1:9999/publish",
						OnPlay:        "https://hooks.example/play",
						OnPublishDone: "http://127.0.0.1:9999/publish_done",
						OnPlayDone:    "http://127.0.0.1:9999/play_done",
						OnRecordDone:  "http://127.0.0.1:9999/record_done",
						Timeout:       1500 * time.Millisecond,
					},
				},
				"archive": &archive,
				"quiet":   &quiet,
			})
		},
	},
	{
		name: "the JSON config of earlier releases still loads",
		file: `{"rtmp": ":1937", "gop-cache": false, "record-flush": "3s", "max-connections": 100}`,
		check: func(t *testing.T, st *settings) {
			if st.opts.RTMP != ":1937" || st.opts.GOPCache || st.opts.RecordFlush != 3*time.Second || st.opts.MaxConnections != 100 {
				t.Errorf("settings %+v", st.opts)
			}
			wantApps(t, st, map[string]*server.App{"live": {DisableGOPCache: true}, "record": {DisableGOPCache: true, Record: true, VOD: true}})
		},
	},
	{
		name: "environment over file",
		file: "rtmp: :1937\nlog_level: warn\nhttp: :8081\n",
		env:  []string{"RTMPD_RTMP=:1936", "RTMPD_LOG_LEVEL=debug", "PATH=/bin", "RTMPD_TRUSTED_NETS=10.0.0.0/8,127.0.0.1"},
		check: func(t *testing.T, st *settings) {
			if st.opts.RTMP != ":1936" || st.opts.LogLevel != "debug" || st.opts.HTTP != ":8081" || len(st.trusted) != 2 {
				t.Errorf("rtmp %q log level %q http %q trusted %v", st.opts.RTMP, st.opts.LogLevel, st.opts.HTTP, st.trusted)
			}
		},
	},
	{
		name: "flags over environment over file",
		file: "rtmp: :1937\nrecord_dir: /from/file\nhttp: :8081\n",
		env:  []string{"RTMPD_RTMP=:1936", "RTMPD_RECORD_DIR=/from/env"},
		args: []string{"-rtmp", ":1938"},
		check: func(t *testing.T, st *settings) {
			if st.opts.RTMP != ":1938" || st.opts.RecordDir != "/from/env" || st.opts.HTTP != ":8081" {
				t.Errorf("rtmp %q record dir %q http %q", st.opts.RTMP, st.opts.RecordDir, st.opts.HTTP)
			}
		},
	},
	{
		name: "a flag for an app default reaches the apps that do not set it",
		file: "apps:\n  live:\n  fixed:\n    gop_cache: true\n",
		args: []string{"-gop-cache=false"},
		check: func(t *testing.T, st *settings) {
			wantApps(t, st, map[string]*server.App{"live": {DisableGOPCache: true}, "fixed": {}})
		},
	},
	{
		name: "RTMPD_ variables that name no setting are reported, not refused",
		env:  []string{"RTMPD_VARIANTS=-loops 1", "RTMPD_CONFIG=x.yaml"},
		check: func(t *testing.T, st *settings) {
			if !reflect.DeepEqual(st.unknownEnv, []string{"RTMPD_VARIANTS", "RTMPD_CONFIG"}) {
				t.Errorf("unknown environment %v", st.unknownEnv)
			}
		},
	},

	// Errors: each names the key.
	{name: "unknown top-level key", file: "rtmp: :1935\nrtmp_port: 1935\n", wantErr: []string{"line 2: rtmp_port: unknown key"}},
	{name: "config is no key", file: "config: other.yaml\n", wantErr: []string{"config: unknown key"}},
	{name: "unknown app key", file: "apps:\n  live:\n    recrd: true\n", wantErr: []string{"line 3: apps.live.recrd: unknown key"}},
	{name: "unknown access key", file: "apps:\n  live:\n    publish:\n      key: [s3cret]\n", wantErr: []string{"apps.live.publish.key: unknown key"}},
	{name: "unknown hook", file: "apps:\n  live:\n    hooks:\n      on_plays: http://x/\n", wantErr: []string{"apps.live.hooks.on_plays: unknown key"}},
	{name: "bad top-level duration", file: "record_flush: soon\n", wantErr: []string{"record_flush", `"soon"`, "duration"}},
	{name: "bad app duration", file: "apps:\n  live:\n    publisher_idle: 5 seconds\n", wantErr: []string{"apps.live.publisher_idle", "duration"}},
	{name: "negative app duration", file: "apps:\n  live:\n    publisher_idle: -5s\n", wantErr: []string{"apps.live.publisher_idle", "negative"}},
	{name: "bad hook timeout", file: "apps:\n  live:\n    hooks:\n      timeout: 3\n", wantErr: []string{"apps.live.hooks.timeout", "duration"}},
	{name: "bad integer", file: "max_connections: many\n", wantErr: []string{"max_connections", "integer"}},
	{name: "bad boolean", file: "apps:\n  live:\n    record: yes\n", wantErr: []string{"apps.live.record", "true or false"}},
	{name: "bad allow CIDR", file: "apps:\n  live:\n    play:\n      allow: [10.0.0.0/33]\n", wantErr: []string{"apps.live.play.allow[0]", "10.0.0.0/33"}},
	{name: "bad deny CIDR", file: "apps:\n  live:\n    publish:\n      deny: [10.0.0.0/8, nowhere]\n", wantErr: []string{"apps.live.publish.deny[1]", "nowhere"}},
	{name: "bad trusted nets", file: "trusted_nets: [127.0.0.0/8, 10.0.0/8]\n", wantErr: []string{"trusted_nets", "10.0.0/8"}},
	{name: "bad app republish", file: "apps:\n  live:\n    republish: kick\n", wantErr: []string{"apps.live.republish", "reject or replace"}},
	{name: "bad top-level republish", file: "republish: kick\n", wantErr: []string{"republish", "reject or replace"}},
	{name: "unknown log level", file: "log_level: verbose\n", wantErr: []string{"line 1: log_level", "debug, info, warn or error"}},
	{name: "unknown log format", file: "log_format: xml\n", wantErr: []string{"log_format", "text or json"}},
	{name: "unknown transport", file: "transport: epoll\n", wantErr: []string{"transport", "gnet or std"}},
	{name: "hook that is no URL", file: "apps:\n  live:\n    hooks:\n      on_play: 127.0.0.1:9999/hook\n", wantErr: []string{"apps.live.hooks.on_play", "http://"}},
	{name: "keys not a list", file: "apps:\n  live:\n    publish:\n      keys: s3cret\n", wantErr: []string{"apps.live.publish.keys", "list"}},
	{name: "empty key", file: "apps:\n  live:\n    publish:\n      keys: [\"\"]\n", wantErr: []string{"apps.live.publish.keys[0]"}},
	{name: "token bound to the address without a secret", file: "apps:\n  live:\n    play:\n      token_binds_ip: true\n", wantErr: []string{"apps.live.play.token_binds_ip", "token_secret"}},
	{name: "key given twice", file: "apps:\n  live:\n    record: true\n    record: false\n", wantErr: []string{"apps.live.record", "twice"}},
	{name: "both spellings of a setting", file: "log_level: info\nlog-level: debug\n", wantErr: []string{"log-level", "same setting as log_level"}},
	{name: "apps without an app", file: "apps: {}\n", wantErr: []string{"apps", "no app"}},
	{name: "app that is not a mapping", file: "apps:\n  live: yes\n", wantErr: []string{"apps.live", "mapping"}},
	{name: "bad app name", file: "apps:\n  live/x:\n", wantErr: []string{"apps.live/x", "app name"}},
	{name: "setting given a mapping", file: "rtmp:\n  port: 1935\n", wantErr: []string{"rtmp", "single value"}},
	{name: "not a mapping at the top", file: "- rtmp\n", wantErr: []string{"line 1", "key: value"}},
	{name: "two documents", file: "rtmp: :1\n---\nrtmp: :2\n", wantErr: []string{"more than one YAML document"}},
	{name: "not YAML", file: "rtmp: [\n", wantErr: []string{"config "}},
	{name: "rtmps without a certificate", file: "rtmps: :1936\n", wantErr: []string{"rtmps", "tls_cert"}},
	{name: "bad environment value", env: []string{"RTMPD_LOG_LEVEL=loud"}, wantErr: []string{"RTMPD_LOG_LEVEL", "log_level", "loud"}},
	{name: "bad environment duration", env: []string{"RTMPD_IDLE_TIMEOUT=1 hour"}, wantErr: []string{"RTMPD_IDLE_TIMEOUT", "idle_timeout", "duration"}},
	{name: "bad flag value", args: []string{"-republish", "kick"}, wantErr: []string{"-republish", "reject or replace"}},
}

func TestLoadSettings(t *testing.T) {
	for _, tc := range loadCases {
		t.Run(tc.name, func(t *testing.T) {
			var inv invocation
			if tc.file != "" {
				inv.configPath = filepath.Join(t.TempDir(), "rtmpd.yaml")
				if err := os.WriteFile(inv.configPath, []byte(tc.file), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			inv.flags = tc.args
			st, err := loadSettings(inv, tc.env)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("loaded; want an error with %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, st)
		})
	}
}

func TestMissingConfigFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.yaml")
	_, err := loadSettings(invocation{configPath: path}, nil)
	if err == nil || !strings.Contains(err.Error(), path) || !os.IsNotExist(errUnwrapAll(err)) {
		t.Fatalf("err = %v, want a missing file naming %s", err, path)
	}
}

// errUnwrapAll returns the innermost error.
func errUnwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok || u.Unwrap() == nil {
			return err
		}
		err = u.Unwrap()
	}
}

// TestEveryFlagIsAKey checks that each setting's flag is a config key and
// an environment variable, and that the example config sets every one of
// them with a valid value.
func TestEveryFlagIsAKey(t *testing.T) {
	example, err := os.ReadFile("../../contrib/rtmpd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	o := defaults()
	var inv invocation
	fs := newFlagSet(&o, &inv)
	n := 0
	for name := range liveKeys {
		if fs.Lookup(name) == nil {
			t.Errorf("live key %q is no flag", name)
		}
	}
	fs.VisitAll(func(f *flag.Flag) {
		if notSettings[f.Name] {
			return
		}
		n++
		key := fileKey(f.Name)
		if !strings.Contains(string(example), "\n"+key+":") && !strings.Contains(string(example), "\n# "+key+":") {
			t.Errorf("contrib/rtmpd.yaml does not show %s", key)
		}
		envName := "RTMPD_" + strings.ToUpper(key)
		st, err := loadSettings(invocation{}, []string{envName + "=" + f.DefValue})
		if err != nil {
			t.Errorf("%s=%s: %v", envName, f.DefValue, err)
		} else if len(st.unknownEnv) > 0 {
			t.Errorf("%s is not a setting", envName)
		}
	})
	if n < 40 {
		t.Errorf("only %d settings", n)
	}
	// The example loads as it is, with every setting.
	if _, err := loadSettings(invocation{configPath: "../../contrib/rtmpd.yaml"}, nil); err != nil {
		t.Fatalf("contrib/rtmpd.yaml: %v", err)
	}
}

// wantApps compares the apps a configuration declares with want.
func wantApps(t *testing.T, st *settings, want map[string]*server.App) {
	t.Helper()
	if !reflect.DeepEqual(st.apps, want) {
		for name, a := range st.apps {
			t.Logf("got %s: %+v", name, *a)
		}
		for name, a := range want {
			t.Logf("want %s: %+v", name, *a)
		}
		t.Errorf("apps differ")
	}
}
