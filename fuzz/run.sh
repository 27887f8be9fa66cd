#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 10s).
# Targets are discovered with `go test -list`, so a new FuzzXxx joins CI by existing.
set -euo pipefail
FUZZTIME=${FUZZTIME:-10s}
status=0
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($FUZZTIME)"
		if ! go test -run '^$' -fuzz "^${target}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "${FUZZMINIMIZETIME:-2s}" "$pkg" >/tmp/fuzz-$target.log 2>&1; then
			cat /tmp/fuzz-$target.log
			echo "fuzz: FAIL $pkg $target (new crashers are written under that package's testdata/fuzz/)"
			status=1
		fi
	done
done
exit $status
