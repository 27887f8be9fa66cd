#!/usr/bin/env bash
# bench/compare.sh: Quaver's rtmpd and nginx-rtmp side by side under the same
# load from cmd/rtmpbench, on this machine only (127.0.0.1).
#
# Both servers get the same core (SERVER_CPU, default 0: rtmpd with
# GOMAXPROCS=1 -loops 1, nginx with one worker); the load generator gets
# another (TOOL_CPU, default 1). Every scenario starts a fresh server, runs
# rtmpbench against it and stops it:
#   - 720p30-like stream (2.5 Mbps video + 128 kbps audio), RTMP players:
#     PLAYERS_HI (default 100 500 1000 2000)
#   - 500 kbps stream (436 kbps video + 64 kbps audio), RTMP players:
#     PLAYERS_LO (default 2000 5000)
#   - rtmpd only: RTMP vs WS-FLV vs HTTP-FLV, PROTO_PLAYERS (default 1000) each
#   - the kernel floor (rtmpbench -floor, writer thread on SERVER_CPU) at the
#     same rates, one write per frame and one write per 100 ms
#     (the floor's readers acknowledge as RTMP players do: rtmpbench
#     -floor-ack-window, default rtmpd's 2500000-byte window)
#   - batch windows: for each of WINDOW_SCENARIOS, the floor once per frame and
#     once per nonzero window W of WINDOWS (-floor-batch W), rtmpd with
#     -batch-window W for every W, and nginx-rtmp, in ROUNDS rounds; a table
#     per scenario with each row's median CPU-s/GB over the floor's at the
#     same batch size (window 0 and nginx-rtmp: the per-frame floor) and over
#     nginx-rtmp's; and the latency of rtmpd at window 0 and of nginx-rtmp
#     with LATENCY_PLAYERS readers that read at once
#   - a join storm: rtmpd (default window) and nginx-rtmp with STORM_BASE
#     players of the 2.5 Mbps stream playing and STORM_PLAYERS more RTMP
#     players joining at STORM_RATE per second (rtmpbench -storm); the storm's
#     connect p50/p99 (TCP connect to NetStream.Play.Start)
# and writes bench/results/compare-<date>.md (printed at the end).
#
# Environment:
#   QUICK=1          only 100 and 500 players, 10 s windows; windows group
#                    500x2.5M with windows 0 and 100ms, one round; storm
#                    500 + 500 (a few minutes in all)
#   DURATION=20s     measuring window      WARMUP=3s   wait before it
#   RAMP=200         players started per second
#   PLAYERS_HI, PLAYERS_LO, PROTO_PLAYERS   player counts (space-separated;
#                    set to "" to skip that group)
#   SERVERS="rtmpd nginx"                   which servers to run ("" for none)
#   RTMPD_VARIANTS   extra rtmpd runs, ';'-separated flag sets, e.g.
#                    "-batch-window 20ms" (a -batch-window 0s run is added by
#                    itself when rtmpd's default window is not 0)
#   FLOOR=0          skip the floor measurements    PROTO=0  skip the protocol runs
#   WINDOWS="0 20ms 50ms 100ms"   the windows group's rtmpd -batch-window values
#                    ("" skips the group)
#   SCHED_WINDOWS="0 100ms"   the windows at which rtmpd runs once more with
#                    -sched-batch (all its threads under SCHED_BATCH; "" skips)
#   SYSMON_OFF_WINDOWS="0"   the windows at which rtmpd runs once more with
#                    -sysmon-batch=false (its default puts the Go runtime's
#                    sysmon thread under SCHED_BATCH; "" skips)
#   WINDOW_SCENARIOS="1000x2.5M 2000x500k"   its scenarios, PLAYERSxSTREAM:
#                    2.5M is 2500k video + 128k audio, 500k is 436k + 64k,
#                    VIDEO+AUDIO (e.g. 1000x1M+128k) any other
#   FLOOR_SILENT=1   the windows group also measures the per-frame floor with
#                    readers that never write (-floor-ack-window 0; its ratio is
#                    to the floor with acknowledging readers)
#   ROUNDS=3         the windows group runs in rounds: each round measures every
#                    floor, every window of WINDOWS and nginx-rtmp once (the
#                    SCHED_WINDOWS, SYSMON_OFF_WINDOWS and silent-floor rows run
#                    in the first round only), so a drift of the shared machine
#                    over minutes touches the floor and rtmpd alike; its tables
#                    give each row's median run and the range of its runs
#   LATENCY_PLAYERS=200   with the windows group, each round also measures
#                    rtmpd -batch-window 0 and nginx-rtmp with this many players
#                    of the 2.5 Mbps stream, for the latency of readers that
#                    read at once ("" skips)
#   SETTLE=auto      the windows group's servers run this long with the publisher
#                    before the players (rtmpbench -settle), so that RSS/player
#                    counts the players and not the stream's ring filling up;
#                    auto: until rtmpd's ring is full at the scenario's rate
#                    (its 2 MiB of lag plus a 2 s GOP, plus 2 s), at least 10 s
#   STORM=1 STORM_BASE=1000 STORM_PLAYERS=1000 STORM_RATE=500   the join storm
#                    (STORM=0 skips it)
#   SERVER_CPU=0 TOOL_CPU=1   the cores used
#   RETRIES=2 NOISE=0.2   repeat a run up to RETRIES times while other processes
#                    used, or the hypervisor stole, more than NOISE cores in its
#                    window (a shared machine);
#                    the least disturbed attempt is reported
#   OUT=FILE         where to write the Markdown (default bench/results/compare-<date>.md)
#
# Needs root only to install nginx and libnginx-mod-rtmp when missing
# (apt-get). Traffic never leaves 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=$PATH:/usr/local/go/bin

QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
	DURATION=${DURATION:-10s}
	PLAYERS_HI=${PLAYERS_HI-"100 500"}
	PLAYERS_LO=${PLAYERS_LO-"500"}
	PROTO_PLAYERS=${PROTO_PLAYERS-"500"}
	WINDOWS=${WINDOWS-"0 100ms"}
	WINDOW_SCENARIOS=${WINDOW_SCENARIOS-"500x2.5M"}
	ROUNDS=${ROUNDS:-1}
	STORM_BASE=${STORM_BASE:-500}
	STORM_PLAYERS=${STORM_PLAYERS:-500}
fi
DURATION=${DURATION:-20s}
WARMUP=${WARMUP:-3s}
RAMP=${RAMP:-200}
PLAYERS_HI=${PLAYERS_HI-"100 500 1000 2000"}
PLAYERS_LO=${PLAYERS_LO-"2000 5000"}
PROTO_PLAYERS=${PROTO_PLAYERS-"1000"}
SERVERS=${SERVERS-"rtmpd nginx"}
RTMPD_VARIANTS=${RTMPD_VARIANTS:-}
FLOOR=${FLOOR:-1}
FLOOR_SILENT=${FLOOR_SILENT:-1}
PROTO=${PROTO:-1}
WINDOWS=${WINDOWS-"0 20ms 50ms 100ms"}
WINDOW_SCENARIOS=${WINDOW_SCENARIOS-"1000x2.5M 2000x500k"}
ROUNDS=${ROUNDS:-3}
LATENCY_PLAYERS=${LATENCY_PLAYERS-"200"}
SCHED_WINDOWS=${SCHED_WINDOWS-"0 100ms"}
SYSMON_OFF_WINDOWS=${SYSMON_OFF_WINDOWS-"0"}
SETTLE=${SETTLE:-auto}
STORM=${STORM:-1}
STORM_BASE=${STORM_BASE:-1000}
STORM_PLAYERS=${STORM_PLAYERS:-1000}
STORM_RATE=${STORM_RATE:-500}
SERVER_CPU=${SERVER_CPU:-0}
TOOL_CPU=${TOOL_CPU:-1}
RETRIES=${RETRIES:-2}
NOISE=${NOISE:-0.2}
STAMP=$(date -u +%Y-%m-%d-%H%M)
SUFFIX=""
[ "$QUICK" = 1 ] && SUFFIX="-quick"
OUT=${OUT:-$ROOT/bench/results/compare-$STAMP$SUFFIX.md}

RTMPD_RTMP=127.0.0.1:19350
RTMPD_HTTP=127.0.0.1:18080
NGINX_RTMP=127.0.0.1:19351
STREAM=bench

HI_VIDEO=2500k HI_AUDIO=128k
LO_VIDEO=436k LO_AUDIO=64k

log() { echo "compare: $*" >&2; }
die() { log "$*"; exit 1; }

# is_zero W: W is a zero duration (0, 0s, 0ms, ...).
is_zero() { [[ $1 =~ ^0+(\.0*)?[a-zµ]*$ ]]; }

# floor_label W: the label of the floor row at batch window W.
floor_label() {
	if is_zero "$1"; then echo "floor: write per frame"; else echo "floor: write per $1"; fi
}

# stream_rates STREAM: "VIDEO AUDIO" of a WINDOW_SCENARIOS stream name.
stream_rates() {
	case $1 in
	2.5M) echo "$HI_VIDEO $HI_AUDIO" ;;
	500k) echo "$LO_VIDEO $LO_AUDIO" ;;
	*+*) echo "${1%%+*} ${1#*+}" ;;
	*) return 1 ;;
	esac
}

# bits RATE: a rate such as 2500k, 2.5M or 64000 in bits per second.
bits() {
	awk -v r="$1" 'BEGIN {
		m = 1; u = substr(r, length(r))
		if (u == "k" || u == "K") m = 1e3; else if (u == "M") m = 1e6
		if (m > 1) r = substr(r, 1, length(r) - 1)
		printf "%d\n", r * m
	}'
}

# settle_for VIDEO AUDIO: SETTLE, or with SETTLE=auto the time the stream's
# ring takes to fill (fanout's default 2 MiB of lag plus a 2 s GOP) plus 2 s,
# at least 10 s.
settle_for() {
	if [ "$SETTLE" != auto ]; then
		echo "$SETTLE"
		return
	fi
	awk -v v="$(bits "$1")" -v a="$(bits "$2")" 'BEGIN {
		s = int(2097152 * 8 / (v + a) + 2 + 2 + 0.999)
		printf "%ds\n", (s < 10 ? 10 : s)
	}'
}

has_server() { [[ " $SERVERS " == *" $1 "* ]]; }

# WINDOW_SCENARIOS and ROUNDS are checked before any run.
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS: want a positive count, got $ROUNDS"
[ -z "$LATENCY_PLAYERS" ] || [[ $LATENCY_PLAYERS =~ ^[1-9][0-9]*$ ]] || die "LATENCY_PLAYERS: want a player count, got $LATENCY_PLAYERS"
if [ -n "$WINDOWS" ]; then
	for spec in $WINDOW_SCENARIOS; do
		if ! [[ $spec =~ ^[0-9]+x. ]] || ! stream_rates "${spec#*x}" >/dev/null; then
			die "WINDOW_SCENARIOS: bad scenario $spec (PLAYERSxSTREAM, STREAM 2.5M, 500k or VIDEO+AUDIO)"
		fi
	done
fi

# The exact command, for the report.
COMMAND="bash bench/compare.sh"
for v in QUICK DURATION WARMUP RAMP PLAYERS_HI PLAYERS_LO PROTO_PLAYERS SERVERS RTMPD_VARIANTS FLOOR PROTO \
	WINDOWS SCHED_WINDOWS SYSMON_OFF_WINDOWS FLOOR_SILENT WINDOW_SCENARIOS ROUNDS LATENCY_PLAYERS SETTLE STORM STORM_BASE STORM_PLAYERS STORM_RATE SERVER_CPU TOOL_CPU RETRIES NOISE; do
	if [ -n "${!v+x}" ] && env | grep -q "^$v="; then
		COMMAND="$v=\"${!v}\" $COMMAND"
	fi
done

WORK=$(mktemp -d /tmp/quaver-compare.XXXXXX)
SERVER_PID=""

stop_server() {
	if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		for _ in $(seq 50); do
			kill -0 "$SERVER_PID" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	SERVER_PID=""
}

cleanup() {
	stop_server
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Tools.
command -v taskset >/dev/null || die "taskset (util-linux) is required"
[ "$(nproc)" -ge 2 ] || log "warning: fewer than 2 CPUs; server and load generator share a core"

find_rtmp_module() {
	local f
	for f in /usr/lib/nginx/modules/ngx_rtmp_module.so /usr/share/nginx/modules/ngx_rtmp_module.so; do
		[ -f "$f" ] && { echo "$f"; return 0; }
	done
	# Debian's modules-available/mod-rtmp.conf names the .so it loads.
	if [ -f /usr/share/nginx/modules-available/mod-rtmp.conf ]; then
		f=$(sed -n 's/^ *load_module *\([^;]*\);.*/\1/p' /usr/share/nginx/modules-available/mod-rtmp.conf | head -1)
		case "$f" in /*) ;; *) f=/usr/share/nginx/$f ;; esac
		[ -f "$f" ] && { echo "$f"; return 0; }
	fi
	return 1
}

if [[ " $SERVERS " == *" nginx "* ]]; then
	if ! command -v nginx >/dev/null || ! find_rtmp_module >/dev/null; then
		[ "$(id -u)" = 0 ] || die "nginx with the RTMP module is missing; run as root to install it (apt-get install nginx libnginx-mod-rtmp)"
		log "installing nginx and libnginx-mod-rtmp"
		if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx libnginx-mod-rtmp >"$WORK/apt.log" 2>&1; then
			apt-get update -q >>"$WORK/apt.log" 2>&1
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx libnginx-mod-rtmp >>"$WORK/apt.log" 2>&1 || { cat "$WORK/apt.log"; die "apt-get failed"; }
		fi
	fi
	NGINX_MODULE=$(find_rtmp_module) || die "ngx_rtmp_module.so not found"
fi

# File descriptors: each player is one socket in the tool and one in the server.
ulimit -Hn 1048576 2>/dev/null || true
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
log "open files limit $NOFILE"

log "building rtmpd and rtmpbench"
go build -o "$WORK/rtmpd" ./cmd/rtmpd
go build -o "$WORK/rtmpbench" ./cmd/rtmpbench

# A -batch-window 0s run when rtmpd's default window is not 0.
default_window=$("$WORK/rtmpd" -h 2>&1 | awk '/-batch-window/ {getline; if (match($0, /\(default [^)]*\)/)) print substr($0, RSTART+9, RLENGTH-10)}')
if [ -n "$default_window" ] && [ "$default_window" != 0s ] && [ "$default_window" != 0 ]; then
	RTMPD_VARIANTS="-batch-window 0s${RTMPD_VARIANTS:+;$RTMPD_VARIANTS}"
fi

wait_port() { # host:port
	local host=${1%:*} port=${1##*:}
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
		sleep 0.1
	done
	return 1
}

start_rtmpd() { # extra flags...
	GOMAXPROCS=1 taskset -c "$SERVER_CPU" "$WORK/rtmpd" -rtmp "$RTMPD_RTMP" -http "$RTMPD_HTTP" -loops 1 \
		-log-level warn -trusted-nets 127.0.0.0/8 -record-dir "$WORK/record" "$@" >>"$WORK/rtmpd.log" 2>&1 &
	SERVER_PID=$!
	wait_port "$RTMPD_RTMP" || { tail "$WORK/rtmpd.log"; die "rtmpd did not start"; }
}

start_nginx() {
	mkdir -p "$WORK/nginx/logs"
	cat >"$WORK/nginx/nginx.conf" <<EOF
load_module $NGINX_MODULE;
worker_processes 1;
daemon off;
master_process on;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
worker_rlimit_nofile $NOFILE;
events {
    worker_connections $((NOFILE - 100));
}
rtmp {
    server {
        listen $NGINX_RTMP;
        application live {
            live on;
        }
    }
}
EOF
	taskset -c "$SERVER_CPU" nginx -p "$WORK/nginx" -e "$WORK/nginx/logs/error.log" -c "$WORK/nginx/nginx.conf" \
		>>"$WORK/nginx/logs/stdout.log" 2>&1 &
	SERVER_PID=$!
	wait_port "$NGINX_RTMP" || { cat "$WORK/nginx/logs/error.log"; die "nginx did not start"; }
}

# Results: scenario, label, then rtmpbench's -tsv columns; one file per table.
# measure appends to $RESULTS, which each group points at its own file.
MAIN_RESULTS=$WORK/results.tsv
WINDOW_RESULTS=$WORK/windows.tsv
LATENCY_RESULTS=$WORK/latency.tsv
STORM_RESULTS=$WORK/storm.tsv
: >"$MAIN_RESULTS"
: >"$WINDOW_RESULTS"
: >"$LATENCY_RESULTS"
: >"$STORM_RESULTS"
RESULTS=$MAIN_RESULTS

# other_cores TSV: the disturbance of the run in a -tsv file, in cores: the
# CPU of other processes (column 18) or the time the hypervisor gave to other
# guests (steal, column 24), whichever is larger; 0 when unknown.
other_cores() {
	tail -n 1 "$1" | awk -F'\t' '{
		o = ($18 == "-" ? 0 : $18 + 0); s = (NF >= 24 && $24 != "-") ? $24 + 0 : 0
		print (s > o ? s : o)
	}'
}

# measure SCENARIO SERVER VARIANT rtmpbench-flags...: one measurement. SERVER
# is rtmpd, nginx or none (floor); a fresh server is started for it, and the
# run is repeated (up to RETRIES more times, fresh server each time) while
# other processes on the machine used, or the hypervisor stole, more than
# NOISE cores during the window. The least disturbed attempt goes into the
# results.
measure() {
	local scenario=$1 server=$2 variant=$3
	shift 3
	local label target=() attempt best="" best_other="" other
	case $server in
	rtmpd) label="rtmpd${variant:+ $variant}" ;;
	nginx) label="nginx-rtmp" ;;
	none) label=$variant variant="" ;;
	*) die "unknown server $server (SERVERS takes rtmpd and nginx)" ;;
	esac
	for attempt in $(seq 0 "$RETRIES"); do
		case $server in
		rtmpd)
			# shellcheck disable=SC2086
			start_rtmpd $variant
			target=(-url "rtmp://$RTMPD_RTMP/live/$STREAM" -http-url "http://$RTMPD_HTTP/live/$STREAM.flv" -pid "$SERVER_PID")
			;;
		nginx)
			start_nginx
			target=(-url "rtmp://$NGINX_RTMP/live/$STREAM" -pid "$SERVER_PID")
			;;
		esac
		if [ "$attempt" = 0 ]; then log "$scenario / $label: $*"; else log "$scenario / $label: attempt $((attempt + 1))"; fi
		rm -f "$WORK/run.tsv"
		if ! taskset -c "$TOOL_CPU" "$WORK/rtmpbench" -q -warmup "$WARMUP" -duration "$DURATION" -ramp "$RAMP" \
			-tsv "$WORK/run.tsv" "${target[@]}" "$@" >"$WORK/run.txt" 2>"$WORK/run.err"; then
			stop_server
			log "FAILED: $(cat "$WORK/run.err")"
			[ -n "$best" ] && break
			printf '%s\t%s\tFAILED\n' "$scenario" "$label" >>"$RESULTS"
			return 0
		fi
		stop_server
		sed 's/^/    /' "$WORK/run.txt" >&2
		other=$(other_cores "$WORK/run.tsv")
		if [ -z "$best" ] || awk -v a="$other" -v b="$best_other" 'BEGIN {exit !(a < b)}'; then
			best=$(tail -n 1 "$WORK/run.tsv")
			best_other=$other
		fi
		awk -v a="$best_other" -v lim="$NOISE" 'BEGIN {exit !(a > lim)}' || break
		[ "$attempt" -lt "$RETRIES" ] && log "other processes or the hypervisor took $other cores during the window: measuring again"
	done
	printf '%s\t%s\t%s\n' "$scenario" "$label" "$best" >>"$RESULTS"
}

# The server list: rtmpd (default, then each variant) and nginx.
run_servers() { # scenario rtmpbench-flags...
	local scenario=$1
	shift
	local s v
	for s in $SERVERS; do
		if [ "$s" = rtmpd ]; then
			measure "$scenario" rtmpd "" "$@"
			if [ -n "$RTMPD_VARIANTS" ]; then
				IFS=';' read -ra vs <<<"$RTMPD_VARIANTS"
				for v in "${vs[@]}"; do
					measure "$scenario" rtmpd "$v" "$@"
				done
			fi
		else
			measure "$scenario" "$s" "" "$@"
		fi
	done
}

START=$(date +%s)
for n in $PLAYERS_HI; do
	run_servers "2.5 Mbps" -bitrate "$HI_VIDEO" -audio-bitrate "$HI_AUDIO" -rtmp-players "$n"
done
for n in $PLAYERS_LO; do
	run_servers "500 kbps" -bitrate "$LO_VIDEO" -audio-bitrate "$LO_AUDIO" -rtmp-players "$n"
done
if [ "$PROTO" = 1 ] && [[ " $SERVERS " == *" rtmpd "* ]]; then
	for n in $PROTO_PLAYERS; do
		for kind in rtmp ws http; do
			measure "protocol 2.5 Mbps: $kind" rtmpd "" -bitrate "$HI_VIDEO" -audio-bitrate "$HI_AUDIO" "-$kind-players" "$n"
		done
	done
fi
if [ "$FLOOR" = 1 ]; then
	for spec in "2.5 Mbps|$HI_VIDEO|$HI_AUDIO|$PLAYERS_HI" "500 kbps|$LO_VIDEO|$LO_AUDIO|$PLAYERS_LO"; do
		IFS='|' read -r scen video audio counts <<<"$spec"
		for n in $counts; do
			measure "$scen" none "floor: write per frame" -floor -floor-writer-cpu "$SERVER_CPU" \
				-bitrate "$video" -audio-bitrate "$audio" -rtmp-players "$n"
			measure "$scen" none "floor: write per 100 ms" -floor -floor-writer-cpu "$SERVER_CPU" -floor-batch 100ms \
				-bitrate "$video" -audio-bitrate "$audio" -rtmp-players "$n"
		done
	done
fi
# window_round ROUND: one round of the windows group; the variant rows
# (-sched-batch, -sysmon-batch=false, silent floor readers) in round 1 only.
window_round() {
	local round=$1 spec n stream video audio scen rates settle st w
	RESULTS=$WINDOW_RESULTS
	for spec in $WINDOW_SCENARIOS; do
		n=${spec%%x*} stream=${spec#*x}
		read -r video audio <<<"$(stream_rates "$stream")"
		scen="$n x $stream"
		rates=(-bitrate "$video" -audio-bitrate "$audio" -rtmp-players "$n")
		settle=()
		st=$(settle_for "$video" "$audio")
		is_zero "$st" || settle=(-settle "$st")
		measure "$scen" none "$(floor_label 0)" -floor -floor-writer-cpu "$SERVER_CPU" "${rates[@]}"
		if [ "$FLOOR_SILENT" = 1 ] && [ "$round" = 1 ]; then
			measure "$scen" none "$(floor_label 0), silent readers" -floor -floor-writer-cpu "$SERVER_CPU" -floor-ack-window 0 "${rates[@]}"
		fi
		for w in $WINDOWS; do
			if ! is_zero "$w"; then
				measure "$scen" none "$(floor_label "$w")" -floor -floor-writer-cpu "$SERVER_CPU" -floor-batch "$w" "${rates[@]}"
			fi
		done
		if has_server rtmpd; then
			for w in $WINDOWS; do
				measure "$scen" rtmpd "-batch-window $w" "${rates[@]}" "${settle[@]}"
			done
			if [ "$round" = 1 ]; then
				for w in $SCHED_WINDOWS; do
					measure "$scen" rtmpd "-batch-window $w -sched-batch" "${rates[@]}" "${settle[@]}"
				done
				for w in $SYSMON_OFF_WINDOWS; do
					measure "$scen" rtmpd "-batch-window $w -sysmon-batch=false" "${rates[@]}" "${settle[@]}"
				done
			fi
		fi
		if has_server nginx; then
			measure "$scen" nginx "" "${rates[@]}" "${settle[@]}"
		fi
	done
	if [ -n "$LATENCY_PLAYERS" ]; then
		RESULTS=$LATENCY_RESULTS
		rates=(-bitrate "$HI_VIDEO" -audio-bitrate "$HI_AUDIO" -rtmp-players "$LATENCY_PLAYERS")
		has_server rtmpd && measure "$LATENCY_PLAYERS x 2.5M" rtmpd "-batch-window 0" "${rates[@]}"
		has_server nginx && measure "$LATENCY_PLAYERS x 2.5M" nginx "" "${rates[@]}"
	fi
}

if [ -n "$WINDOWS" ]; then
	for round in $(seq "$ROUNDS"); do
		log "windows group: round $round of $ROUNDS"
		window_round "$round"
	done
fi
if [ "$STORM" = 1 ]; then
	RESULTS=$STORM_RESULTS
	for s in $SERVERS; do
		measure "join storm" "$s" "" -bitrate "$HI_VIDEO" -audio-bitrate "$HI_AUDIO" -rtmp-players "$STORM_BASE" \
			-storm "$STORM_PLAYERS" -storm-rate "$STORM_RATE"
	done
fi
RESULTS=$MAIN_RESULTS
ELAPSED=$(($(date +%s) - START))

# median_rows IN OUT COLUMN: one row per scenario and label of IN: the run
# with the median value in COLUMN (9: CPU-s/GB, 28: latency p99 at the
# players' sockets; of an even
# count, the lower middle one), followed by three columns: how many runs the
# row had, and the least and the greatest value of COLUMN among them. A row
# whose runs all failed stays FAILED.
median_rows() {
	awk -F'\t' -v OFS='\t' -v col="$3" '
	{ k = $1 SUBSEP $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k } }
	$3 == "FAILED" { failed[k] = $0; next }
	{ c = ++cnt[k]; row[k, c] = $0; val[k, c] = $col + 0 }
	END {
		for (i = 1; i <= n; i++) {
			k = order[i]; m = cnt[k]
			if (m == 0) { print failed[k]; continue }
			for (a = 1; a <= m; a++) idx[a] = a
			for (a = 2; a <= m; a++) {
				t = idx[a]
				for (b = a - 1; b >= 1 && val[k, idx[b]] > val[k, t]; b--) idx[b + 1] = idx[b]
				idx[b + 1] = t
			}
			print row[k, idx[int((m + 1) / 2)]], m, val[k, idx[1]], val[k, idx[m]]
		}
	}' "$1" >"$2"
}
WINDOW_MEDIANS=$WORK/windows-median.tsv
LATENCY_MEDIANS=$WORK/latency-median.tsv
median_rows "$WINDOW_RESULTS" "$WINDOW_MEDIANS" 9
median_rows "$LATENCY_RESULTS" "$LATENCY_MEDIANS" 28

# runs_range FILE SCENARIO LABEL: "least-greatest (runs)" of the value a
# median row was chosen by, or the one value with a single run.
runs_range() {
	awk -F'\t' -v s="$2" -v l="$3" '$1 == s && $2 == l && $3 != "FAILED" {
		if ($(NF - 2) == 1) printf "%s (1)\n", $(NF - 1); else printf "%s-%s (%s)\n", $(NF - 1), $NF, $(NF - 2)
	}' "$1"
}

# rfield FILE SCENARIO LABEL COLUMN: a column of a result row; "FAILED" for a
# failed run, "" when there is no such row.
rfield() {
	awk -F'\t' -v s="$2" -v l="$3" -v c="$4" '$1 == s && $2 == l {v = ($3 == "FAILED") ? "FAILED" : $c} END {print v}' "$1"
}

# ratio A B: A/B to 2 decimals, "-" when either is not a number or B is 0.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) print "-"; else printf "%.2f\n", a / b
	}'
}

# windows_table SCENARIO: the batch-window table of one scenario.
windows_table() {
	local scen=$1 row label floor cpu nginx warn
	local rows=()
	for w in $WINDOWS; do rows+=("rtmpd -batch-window $w|$(floor_label "$w")"); done
	for w in $SCHED_WINDOWS; do rows+=("rtmpd -batch-window $w -sched-batch|$(floor_label "$w")"); done
	for w in $SYSMON_OFF_WINDOWS; do rows+=("rtmpd -batch-window $w -sysmon-batch=false|$(floor_label "$w")"); done
	rows+=("nginx-rtmp|$(floor_label 0)" "$(floor_label 0)|$(floor_label 0)" "$(floor_label 0), silent readers|$(floor_label 0)")
	for w in $WINDOWS; do is_zero "$w" || rows+=("$(floor_label "$w")|$(floor_label "$w")"); done
	nginx=$(rfield "$WINDOW_MEDIANS" "$scen" nginx-rtmp 9)
	echo "### Batch windows: $scen"
	echo
	echo "| configuration | CPU-s/GB | ratio to floor | ratio to nginx-rtmp | CPU-s/GB of the runs | latency p50 ms | latency p99 ms | p99 at socket ms | keep-up min | RSS/player KB |"
	echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
	for row in "${rows[@]}"; do
		label=${row%%|*} floor=${row#*|}
		cpu=$(rfield "$WINDOW_MEDIANS" "$scen" "$label" 9)
		case $cpu in
		"") continue ;; # not run (SERVERS)
		FAILED) echo "| $label | run failed | | | | | | | | |"; continue ;;
		esac
		warn=""
		[ "$(rfield "$WINDOW_MEDIANS" "$scen" "$label" 21)" != "-" ] && warn=" (!)"
		printf '| %s%s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$warn" "$cpu" \
			"$(ratio "$cpu" "$(rfield "$WINDOW_MEDIANS" "$scen" "$floor" 9)")" "$(ratio "$cpu" "$nginx")" \
			"$(runs_range "$WINDOW_MEDIANS" "$scen" "$label")" \
			"$(rfield "$WINDOW_MEDIANS" "$scen" "$label" 17)" "$(rfield "$WINDOW_MEDIANS" "$scen" "$label" 18)" \
			"$(rfield "$WINDOW_MEDIANS" "$scen" "$label" 28)" \
			"$(rfield "$WINDOW_MEDIANS" "$scen" "$label" 14)" "$(rfield "$WINDOW_MEDIANS" "$scen" "$label" 11)"
	done
	echo
}

# notes FILE: the warnings of a results file, one line per run.
notes() {
	awk -F'\t' '$21 != "" && $21 != "-" && $3 != "FAILED" {printf "- %s / %s, %s players: %s\n", $1, $2, $4, $21}' "$1"
}

# The Markdown report. Rows are grouped by scenario and player count; the
# ratio column is the row's CPU-s/GB over nginx-rtmp's in the same group.
MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
CORES=$(nproc)
KERNEL=$(uname -r)
NGINX_VERSION=$( (nginx -v 2>&1 || true) | sed 's/^nginx version: //')
COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || COMMIT="$COMMIT (with uncommitted changes)"
mkdir -p "$(dirname "$OUT")"
{
	echo "# rtmpd vs nginx-rtmp, $(date -u +%Y-%m-%d)"
	echo
	echo "- machine: $MODEL, $CORES cores, Linux $KERNEL"
	echo "- servers pinned to core $SERVER_CPU (rtmpd: GOMAXPROCS=1 -loops 1; nginx: 1 worker), rtmpbench pinned to core $TOOL_CPU"
	echo "- rtmpd at commit $COMMIT, $(go version | awk '{print $3}'); $NGINX_VERSION with $(basename "${NGINX_MODULE:-none}")"
	echo "- each run: fresh server, players started at $RAMP/s, $WARMUP warm-up, $DURATION window; GOP 2 s; repeated up to"
	echo "  $RETRIES times while other processes or the hypervisor took more than $NOISE cores in the window (least disturbed kept)"
	echo "- command: \`$COMMAND\` (took ${ELAPSED}s)"
	echo
	if [ -s "$MAIN_RESULTS" ]; then
		echo "| scenario | server | players | delivered MB/s | server CPU-s/GB | ratio to nginx | server core % | RSS/player KB | first frame median ms | keep-up min / median | latency p99 ms | largest stall ms |"
		echo "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |"
		awk -F'\t' '
		$3 == "FAILED" { rows[++n] = sprintf("| %s | %s | | run failed | | | | | | | | |", $1, $2); next }
		{
			key = $1 SUBSEP $4
			if ($2 == "nginx-rtmp") nginx[key] = $9
			scen[++n] = $1; srv[n] = $2; line[n] = $0
		}
		END {
			for (i = 1; i <= n; i++) {
				if (i in rows) { print rows[i]; continue }
				split(line[i], f, "\t")
				key = f[1] SUBSEP f[4]
				ratio = "-"
				if (f[2] != "nginx-rtmp" && f[9] != "-" && (key in nginx) && nginx[key] != "-" && nginx[key] + 0 > 0)
					ratio = sprintf("%.2f", f[9] / nginx[key])
				if (f[2] == "nginx-rtmp") ratio = "1"
				players = f[5] "/" f[4]
				core = (f[10] == "-") ? "-" : sprintf("%.0f", f[10] * 100)
				warn = (f[21] != "-") ? " (!)" : ""
				printf "| %s | %s%s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s | %s |\n", \
					f[1], f[2], warn, players, f[8], f[9], ratio, core, f[11], f[12], f[14], f[15], f[18], f[16]
			}
		}' "$MAIN_RESULTS"
		echo
		echo "players = connected/requested. server CPU-s/GB: user+system seconds of the server's process tree over the window"
		echo "per GB (1e9 bytes) the players read; for floor rows, the writer thread's. ratio to nginx: the row's CPU-s/GB"
		echo "over nginx-rtmp's in the same scenario and player count. server core %: share of one core used in the window."
		echo "RSS/player: server RSS growth from before players joined to the window start, per connected player."
		echo "keep-up: video frames a player received in the window / frames published in it (floor: bytes)."
		echo "latency: publisher send to player receive, from the SEI stamp in each frame. largest stall: the longest"
		echo "gap between two video frames of any player in the window. (!) marks a run with a warning (rtmpbench used"
		echo "over 80% of its core and may have been the bottleneck, or other processes on the machine competed for"
		echo "CPU); see the notes."
		echo
	fi
	if [ -s "$WINDOW_RESULTS" ]; then
		for spec in $WINDOW_SCENARIOS; do
			windows_table "${spec%%x*} x ${spec#*x}"
		done
		echo "CPU-s/GB: server (floor: writer thread) CPU per GB the players read. ratio to floor: over the floor's at"
		echo "the same batch size (-batch-window W against -floor-batch W; window 0 and nginx-rtmp against one write per"
		echo "frame). ratio to nginx-rtmp: over nginx-rtmp's in the same scenario. latency: publisher send to the load"
		echo "tool's decoding of the frame; at socket: to the frame's arrival at the player's socket (the kernel's"
		echo "receive stamp). keep-up min: the worst player's frames received / published in the window (floor: bytes)."
		echo "RSS/player: server RSS growth from before the players to the window start, per player."
		echo "-sched-batch: rtmpd's threads under Linux's SCHED_BATCH policy, so the Go runtime's own threads do not"
		echo "preempt the event loop when they wake (see rtmpd -h). rtmpd does that by default for the runtime's sysmon"
		echo "thread alone; -sysmon-batch=false leaves it."
		echo "Floor readers send an RTMP Acknowledgement every 2500000 bytes, as the RTMP players do at rtmpd's"
		echo "window; silent readers never write (rtmpbench -floor-ack-window 0), which on loopback moves the"
		echo "kernel's acknowledgements off the writer's core."
		echo "Rounds: $ROUNDS; each round measured every floor, every -batch-window of WINDOWS and nginx-rtmp once,"
		echo "one row after another, the -sched-batch, -sysmon-batch=false and silent-reader rows in the first round"
		echo "only. Each row shows its median run by CPU-s/GB; ratios are of medians. CPU-s/GB of the runs: the"
		echo "least and the greatest of the row's runs (how many)."
		echo
	fi
	if [ -s "$LATENCY_MEDIANS" ]; then
		echo "### Latency, $LATENCY_PLAYERS players of the 2.5 Mbps stream, reading at once"
		echo
		echo "| server | p50 at socket ms | p99 at socket ms | p99 at socket of the runs | latency p50 ms | latency p99 ms | keep-up min | CPU-s/GB |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
		awk -F'\t' '
		$3 == "FAILED" { printf "| %s | run failed | | | | | | |\n", $2; next }
		{ printf "| %s%s | %s | %s | %s | %s | %s | %s | %s |\n", $2, ($21 != "-" ? " (!)" : ""), $27, $28,
			($(NF - 2) == 1 ? $(NF - 1) " (1)" : $(NF - 1) "-" $NF " (" $(NF - 2) ")"), $17, $18, $14, $9 }' "$LATENCY_MEDIANS"
		echo
		echo "One run per round; each row shows its median run by p99 at socket, and the least and the greatest"
		echo "of its runs (how many). latency: publisher send to the load tool's decoding of the frame, from the SEI"
		echo "stamp in each frame; at socket: publisher send to the kernel's arrival stamp of the frame's last"
		echo "segment at the player's socket, which leaves out the time the tool's readers, sharing one core, take to"
		echo "get to it."
		echo
	fi
	if [ -s "$STORM_RESULTS" ]; then
		echo "### Join storm: $STORM_PLAYERS RTMP players joining at $STORM_RATE/s while $STORM_BASE play (2.5 Mbps)"
		echo
		echo "| server | players playing | storm connect p50 ms | storm connect p99 ms | latency p99 ms (players playing) | keep-up min (players playing) | CPU-s/GB |"
		echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
		awk -F'\t' '
		$3 == "FAILED" { printf "| %s | run failed | | | | | |\n", $2; next }
		{ printf "| %s%s | %s/%s | %s | %s | %s | %s | %s |\n", $2, ($21 != "-" ? " (!)" : ""), $5, $4, $24, $25, $18, $14, $9 }' "$STORM_RESULTS"
		echo
		echo "storm connect: from a storm player's TCP connect to NetStream.Play.Start; the storm starts with the"
		echo "window, after the players playing have connected and warmed up, and the window lasts until every storm"
		echo "player has connected or failed plus 1 s. Failed storm players are a warning (!). latency and keep-up are"
		echo "the players playing; CPU-s/GB counts the storm players' bytes too."
		echo
	fi
	warned=$(cat "$MAIN_RESULTS" "$WINDOW_RESULTS" "$LATENCY_RESULTS" "$STORM_RESULTS" | notes /dev/stdin)
	if [ -n "$warned" ]; then
		echo "Notes:"
		echo
		echo "$warned"
	fi
} >"$OUT"
cat "$OUT"
log "wrote $OUT"
