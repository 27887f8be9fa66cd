#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each (default 10s).
# Targets are discovered with `go test -list`, so a new FuzzXxx joins CI by existing.
#
# A target fails when go test fails with a reproducer written under the
# package's testdata/fuzz/<target>/ (a real crasher) or with any other error.
# One failure is not trusted: Go's fuzz coordinator (up to Go 1.26, go.dev/issue/75804)
# can end a duration-bound run with a bare "context deadline exceeded" at the
# -fuzztime boundary and no input at all, on a loaded machine. Such a run is
# retried once; if it happens again it is reported as a toolchain flake, not a
# failure.
set -euo pipefail
FUZZTIME=${FUZZTIME:-10s}
status=0
run_target() { # pkg target log
	go test -run '^$' -fuzz "^${2}\$" -fuzztime "$FUZZTIME" -fuzzminimizetime "${FUZZMINIMIZETIME:-2s}" "$1" >"$3" 2>&1
}
corpus_files() { # pkg target
	local dir
	dir=$(go list -f '{{.Dir}}' "$1")/testdata/fuzz/$2
	if [ -d "$dir" ]; then ls "$dir"; fi
}
coordinator_race() { # log: the known toolchain race, and nothing else wrong
	grep -q '^    context deadline exceeded$' "$1" && ! grep -qE 'Failing input written|panic:|\.go:[0-9]+:' "$1"
}
for pkg in $(go list ./...); do
	for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		echo "fuzz: $pkg $target ($FUZZTIME)"
		log=/tmp/fuzz-$target.log
		before=$(corpus_files "$pkg" "$target")
		if run_target "$pkg" "$target" "$log"; then
			continue
		fi
		if [ "$(corpus_files "$pkg" "$target")" = "$before" ] && coordinator_race "$log"; then
			echo "fuzz: $target ended with the fuzz coordinator's deadline race (go.dev/issue/75804), no input written; running it again"
			if run_target "$pkg" "$target" "$log"; then
				continue
			fi
			if [ "$(corpus_files "$pkg" "$target")" = "$before" ] && coordinator_race "$log"; then
				echo "fuzz: FLAKE $pkg $target: the toolchain race again, no failing input (not counted as a failure)"
				continue
			fi
		fi
		cat "$log"
		echo "fuzz: FAIL $pkg $target (new crashers are written under that package's testdata/fuzz/)"
		status=1
	done
done
exit $status
