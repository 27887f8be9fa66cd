package main

import (
	"fmt"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/quaverlive/quaver/server"
)

// appConfig is one block under apps: as the file writes it. A nil field was
// not set: the top-level default (gop_cache, republish, publisher_idle)
// applies, or the server's.
type appConfig struct {
	record        *bool
	gopCache      *bool
	republish     *server.RepublishPolicy
	publisherIdle *time.Duration
	publish, play server.Access
	hooks         server.HTTPHooks
	vod           *bool
	pull          *server.Pull
	push          server.Push
}

// defaultApps are the apps of a config without an apps: block, as rtmpd
// always had them: live, and record, which records every publish and plays
// its recordings.
func defaultApps() map[string]*appConfig {
	yes := true
	return map[string]*appConfig{"live": {}, "record": {record: &yes, vod: &yes}}
}

// decodeApps reads the apps: block. At least one app must be declared.
func decodeApps(n *yaml.Node) (map[string]*appConfig, error) {
	apps := map[string]*appConfig{}
	err := eachKey(n, "apps", func(name string, k, v *yaml.Node) error {
		path := joinPath("apps", name)
		if name == "" || strings.ContainsAny(name, "/?") {
			return errorAt(k, path, "an app name must be non-empty and contain neither '/' nor '?'")
		}
		a, err := decodeApp(v, path)
		apps[name] = a
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(apps) == 0 {
		return nil, errorAt(n, "apps", "no app declared (leave apps: out to get the default apps live and record)")
	}
	return apps, nil
}

// decodeApp reads one app's block; an empty one takes every default.
func decodeApp(n *yaml.Node, path string) (*appConfig, error) {
	a := &appConfig{}
	err := eachKey(n, path, func(key string, k, v *yaml.Node) error {
		p := joinPath(path, key)
		switch key {
		case "record", "gop_cache", "vod":
			b, err := boolean(v, p)
			switch key {
			case "record":
				a.record = &b
			case "vod":
				a.vod = &b
			default:
				a.gopCache = &b
			}
			return err
		case "pull":
			pl, err := decodePull(v, p)
			a.pull = pl
			return err
		case "push":
			list, err := stringList(v, p)
			for i, u := range list {
				if !isRTMPURL(u) {
					return errorAt(deref(v.Content[i]), fmt.Sprintf("%s[%d]", p, i), "want an rtmp:// or rtmps:// URL, got %q", u)
				}
			}
			a.push = list
			return err
		case "republish":
			s, err := scalarString(v, p)
			if err != nil {
				return err
			}
			pol, ok := republishPolicy(s)
			if !ok {
				return errorAt(v, p, "want %s, got %q", orList(republishes), s)
			}
			a.republish = &pol
		case "publisher_idle":
			d, err := duration(v, p)
			a.publisherIdle = &d
			return err
		case "publish", "play":
			acc, err := decodeAccess(v, p)
			if key == "publish" {
				a.publish = acc
			} else {
				a.play = acc
			}
			return err
		case "hooks":
			h, err := decodeHooks(v, p)
			a.hooks = h
			return err
		default:
			return errorAt(k, p, "unknown key (an app takes record, vod, gop_cache, republish, publisher_idle, publish, play, hooks, pull and push)")
		}
		return nil
	})
	return a, err
}

// decodePull reads a pull: block (origins, linger, static).
func decodePull(n *yaml.Node, path string) (*server.Pull, error) {
	pl := &server.Pull{}
	err := eachKey(n, path, func(key string, k, v *yaml.Node) error {
		p := joinPath(path, key)
		switch key {
		case "origins":
			list, err := stringList(v, p)
			for i, u := range list {
				if !isRTMPURL(u) {
					return errorAt(deref(v.Content[i]), fmt.Sprintf("%s[%d]", p, i), "want an rtmp:// or rtmps:// URL, got %q", u)
				}
			}
			pl.Origins = list
			return err
		case "linger":
			d, err := duration(v, p)
			pl.Linger = d
			return err
		case "static":
			list, err := stringList(v, p)
			pl.Static = list
			return err
		case "round_robin":
			b, err := boolean(v, p)
			pl.RoundRobin = b
			return err
		}
		return errorAt(k, p, "unknown key (pull takes origins, round_robin, linger and static)")
	})
	if err == nil && len(pl.Origins) == 0 {
		err = errorAt(n, joinPath(path, "origins"), "at least one origin is needed")
	}
	return pl, err
}

// isRTMPURL reports whether u is an rtmp:// or rtmps:// URL with a host.
func isRTMPURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "rtmp" || p.Scheme == "rtmps") && p.Host != ""
}

// republishPolicy maps reject and replace (any case) to the server's policy.
func republishPolicy(s string) (server.RepublishPolicy, bool) {
	switch strings.ToLower(s) {
	case "reject":
		return server.RepublishReject, true
	case "replace":
		return server.RepublishReplace, true
	}
	return 0, false
}

// decodeAccess reads a publish: or play: block into server.Access.
func decodeAccess(n *yaml.Node, path string) (server.Access, error) {
	var acc server.Access
	err := eachKey(n, path, func(key string, k, v *yaml.Node) error {
		p := joinPath(path, key)
		var err error
		switch key {
		case "keys":
			acc.Keys, err = stringList(v, p)
		case "token_secret":
			acc.TokenSecret, err = scalarString(v, p)
		case "token_binds_ip":
			acc.TokenBindsIP, err = boolean(v, p)
		case "allow":
			acc.Allow, err = prefixes(v, p)
		case "deny":
			acc.Deny, err = prefixes(v, p)
		default:
			return errorAt(k, p, "unknown key (publish and play take keys, token_secret, token_binds_ip, allow and deny)")
		}
		return err
	})
	if err == nil && acc.TokenBindsIP && acc.TokenSecret == "" {
		err = errorAt(n, joinPath(path, "token_binds_ip"), "needs token_secret")
	}
	return acc, err
}

// prefixes reads a list of networks: CIDRs ("10.0.0.0/8", "2001:db8::/32")
// or single addresses ("192.0.2.7", taken as /32 or /128).
func prefixes(n *yaml.Node, path string) ([]netip.Prefix, error) {
	list, err := stringList(n, path)
	if err != nil || list == nil {
		return nil, err
	}
	out := make([]netip.Prefix, 0, len(list))
	for i, s := range list {
		p, ok := parsePrefix(s)
		if !ok {
			return nil, errorAt(deref(n.Content[i]), fmt.Sprintf("%s[%d]", path, i), "%q is not a CIDR such as 10.0.0.0/8 or an address", s)
		}
		out = append(out, p)
	}
	return out, nil
}

// parsePrefix parses a CIDR or a single address, masked.
func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// decodeHooks reads a hooks: block into server.HTTPHooks.
func decodeHooks(n *yaml.Node, path string) (server.HTTPHooks, error) {
	var h server.HTTPHooks
	urls := map[string]*string{
		"on_connect":      &h.OnConnect,
		"on_publish":      &h.OnPublish,
		"on_play":         &h.OnPlay,
		"on_publish_done": &h.OnPublishDone,
		"on_play_done":    &h.OnPlayDone,
		"on_record_done":  &h.OnRecordDone,
	}
	err := eachKey(n, path, func(key string, k, v *yaml.Node) error {
		p := joinPath(path, key)
		if key == "timeout" {
			var err error
			h.Timeout, err = duration(v, p)
			return err
		}
		dst := urls[key]
		if dst == nil {
			return errorAt(k, p, "unknown key (hooks take on_connect, on_publish, on_play, on_publish_done, on_play_done, on_record_done and timeout)")
		}
		s, err := scalarString(v, p)
		if err != nil {
			return err
		}
		if s != "" {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return errorAt(v, p, "want an http:// or https:// URL, got %q", s)
			}
		}
		*dst = s
		return nil
	})
	return h, err
}

// serverApps turns the apps as written into the server's, with the
// top-level defaults o for what an app does not set.
func serverApps(apps map[string]*appConfig, o *options) map[string]*server.App {
	policy, _ := republishPolicy(o.Republish)
	out := make(map[string]*server.App, len(apps))
	for name, c := range apps {
		a := &server.App{
			DisableGOPCache:      !o.GOPCache,
			Republish:            policy,
			PublisherIdleTimeout: o.PublisherIdle,
			Publish:              c.publish,
			Play:                 c.play,
			Hooks:                c.hooks,
		}
		if c.record != nil {
			a.Record = *c.record
		}
		if c.gopCache != nil {
			a.DisableGOPCache = !*c.gopCache
		}
		if c.republish != nil {
			a.Republish = *c.republish
		}
		if c.publisherIdle != nil {
			a.PublisherIdleTimeout = *c.publisherIdle
		}
		if c.vod != nil {
			a.VOD = *c.vod
		}
		a.Pull, a.Push = c.pull, c.push
		out[name] = a
	}
	return out
}

// appNames lists apps' names in order, for logs.
func appNames[T any](apps map[string]T) []string {
	names := make([]string, 0, len(apps))
	for n := range apps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
