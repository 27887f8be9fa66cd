# `make test` is the one command that runs every check CI runs.
GO ?= go
FUZZTIME ?= 10s
PKGS := ./...

.PHONY: test deps web build fmt vet race allocs bench-smoke fuzz bench run hostile

test: deps fmt vet race allocs bench-smoke perf-check fuzz hostile
	@echo "make test: all checks passed"

deps:
	@bash .ci/deps.sh
	@$(MAKE) --no-print-directory web

# Player libraries for the browser page (web/node_modules), pinned by
# web/package-lock.json; reinstalled only when package.json or the lock changed.
web:
	@if [ ! -f web/package-lock.json ]; then \
		npm --prefix web install --no-audit --no-fund --loglevel=error; \
	elif [ ! -f web/node_modules/.package-lock.json ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ] \
		|| [ web/package.json -nt web/node_modules/.package-lock.json ]; then \
		npm --prefix web ci --no-audit --no-fund --loglevel=error; \
	fi
	@test -f web/node_modules/mpegts.js/dist/mpegts.js && test -f web/node_modules/flv.js/dist/flv.min.js
	@echo "web: mpegts.js and flv.js installed in web/node_modules"

# A static rtmpd at bin/rtmpd that carries the player page's libraries (the
# tag embedplayers embeds web/node_modules' mpegts.js and flv.js, installed
# by `make web` first). -buildvcs=auto records the commit for -version even
# where GOFLAGS says -buildvcs=false; in a git worktree, where the go command
# records none, the STAMP below passes the same facts (empty outside git).
BIN ?= bin/rtmpd
VCS_REVISION = $(shell git rev-parse HEAD 2>/dev/null)
VCS_TIME = $(shell TZ=UTC git log -1 --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
VCS_MODIFIED = $(shell git rev-parse HEAD >/dev/null 2>&1 && { test -z "$$(git status --porcelain)" && echo false || echo true; })
VCS_VERSION = $(shell git describe --tags --always --dirty 2>/dev/null)
STAMP = -X main.stampRevision=$(VCS_REVISION) -X main.stampTime=$(VCS_TIME) -X main.stampModified=$(VCS_MODIFIED) -X main.stampVersion=$(VCS_VERSION)
build: web
	CGO_ENABLED=0 $(GO) build -buildvcs=auto -trimpath -tags embedplayers -ldflags '-s -w $(STAMP)' -o $(BIN) ./cmd/rtmpd
	@echo "build: $(BIN) ($$(./$(BIN) -version | head -1))"

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Full suite under the race detector (allocation tests skip themselves there).
race:
	$(GO) test -race -count=1 -timeout 20m $(PKGS)

# Allocation budgets: AllocsPerRun is only meaningful without -race.
allocs:
	$(GO) test -count=1 -run 'Allocs' $(PKGS)

# One iteration of every benchmark, so none rots.
bench-smoke:
	$(GO) test -run '^$$' -bench . -benchtime 1x $(PKGS)

# Profile every allocation of a short hot-path benchmark and fail if one is
# attributed to a hot-path function (see perf/README.md).
PERFDIR ?= $(or $(TMPDIR),/tmp)/quaver-perf
perf-check:
	@mkdir -p $(PERFDIR)
	$(GO) test -run '^$$' -bench '^BenchmarkHotPath$$' -benchtime 3000x -memprofile $(PERFDIR)/hotpath.mem.pprof -memprofilerate 1 -o $(PERFDIR)/perf.test ./perf
	$(GO) run ./perf/cmd/quaverperf check-allocs -within 'quaver/perf\.\(\*hotPath\)\.round$$' $(PERFDIR)/hotpath.mem.pprof

fuzz:
	@FUZZTIME=$(FUZZTIME) bash fuzz/run.sh

# Hostile-peer suite: rtmpd as a child process under attack while honest
# clients play (about 2 minutes; skipped under -race, so the race target only
# compiles it). HOSTILE_REPORT=FILE appends one markdown row per attack,
# HOSTILE_LABEL names the run.
hostile:
	$(GO) test -count=1 -v -timeout 10m ./hostile

# Throughput numbers (not part of test).
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

run:
	$(GO) run ./cmd/rtmpd
