package main

import "sort"

// reload reads the configuration again (SIGHUP) and applies what can change
// on a running server: the apps (access rules, hooks, recording and the rest,
// for new connections; open ones keep the app they joined), the log level
// and the RTMPS certificate. Any other change is logged, one line per key,
// as needing a restart. A configuration that does not load is logged and
// changes nothing.
func (d *daemon) reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	if d.inv.configPath == "" {
		d.log.Info("SIGHUP: no -config file to read again; nothing changes")
		return nil
	}
	st, err := loadSettings(d.inv, d.env)
	if err != nil {
		d.log.Error("config reload failed; the running configuration stays", "config", d.inv.configPath, "err", err)
		return err
	}
	if err := d.srv.SetApps(st.apps); err != nil {
		d.log.Error("config reload failed; the running configuration stays", "config", d.inv.configPath, "err", err)
		return err
	}
	d.level.Set(st.level)
	rtmpsSame := d.running["rtmps"] == st.values["rtmps"] && d.running["https"] == st.values["https"]
	if st.cert != nil && rtmpsSame {
		d.cert.Store(st.cert)
	}
	names := make([]string, 0, len(st.values))
	for name := range st.values {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		was, now := d.running[name], st.values[name]
		if was == now {
			continue
		}
		if liveKeys[name] && (rtmpsSame || (name != "tls-cert" && name != "tls-key")) {
			d.running[name] = now
			continue
		}
		d.log.Warn("restart needed", "key", fileKey(name), "running", was, "config", now)
	}
	d.log.Info("config reloaded", "config", d.inv.configPath, "apps", appNames(st.apps), "log_level", st.opts.LogLevel)
	return nil
}
