package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/quaverlive/quaver/web"
)

// buildVersion is what the binary knows of its build (runtime/debug.BuildInfo):
// the module's version, which Go derives from the version control tag and
// commit when it builds from a checkout (make build), and the commit itself.
type buildVersion struct {
	Module   string // module path
	Version  string // module version, "(devel)" without one
	Revision string // vcs.revision, "" when built without version control information
	Time     string // vcs.time
	Modified string // vcs.modified: "true" when the tree had local changes
	Go       string // the Go release it was built with
}

// The build's version control facts as make build passes them (-ldflags -X)
// for a checkout in which the go command records none (a git worktree,
// whose .git is a file). The build information wins when it has them.
var (
	stampRevision string // git rev-parse HEAD
	stampTime     string // the commit's time, UTC, RFC 3339
	stampModified string // "true" when the tree had local changes
	stampVersion  string // git describe --tags --always --dirty
)

// readVersion reads the running binary's build information.
func readVersion() buildVersion {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return buildVersion{Version: "(unknown)", Go: runtime.Version()}
	}
	return versionOf(bi)
}

// versionOf extracts the version from build information.
func versionOf(bi *debug.BuildInfo) buildVersion {
	v := buildVersion{Module: bi.Main.Path, Version: bi.Main.Version, Go: bi.GoVersion}
	if v.Version == "" {
		v.Version = "(devel)"
	}
	if v.Version == "(devel)" && stampVersion != "" {
		v.Version = stampVersion
	}
	v.Revision, v.Time, v.Modified = stampRevision, stampTime, stampModified
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value
		}
	}
	return v
}

// write prints the version for -version, one fact per line.
func (v buildVersion) write(w io.Writer) {
	players := "read from -web-dir"
	if web.PlayersEmbedded {
		players = "embedded, or read from -web-dir"
	}
	fmt.Fprintf(w, "rtmpd %s\nmodule %s\n", v.Version, v.Module)
	if v.Revision == "" {
		fmt.Fprintln(w, "vcs.revision unknown\nvcs.time unknown\nvcs.modified unknown\n(built without version control information: make build, or go build -buildvcs=true in a git checkout, records it)")
	} else {
		fmt.Fprintf(w, "vcs.revision %s\nvcs.time %s\nvcs.modified %s\n", v.Revision, v.Time, v.Modified)
	}
	fmt.Fprintf(w, "go %s %s/%s\nplayer libraries %s\n", v.Go, runtime.GOOS, runtime.GOARCH, players)
}
