# `make test` is the one command that runs every check CI runs.
GO ?= go
FUZZTIME ?= 10s
PKGS := ./...

.PHONY: test deps fmt vet race allocs bench-smoke fuzz bench run

test: deps fmt vet race allocs bench-smoke fuzz
	@echo "make test: all checks passed"

deps:
	@bash .ci/deps.sh

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

fuzz:
	@FUZZTIME=$(FUZZTIME) bash fuzz/run.sh

# Throughput numbers (not part of test).
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

run:
	$(GO) run ./cmd/rtmpd
