#!/bin/bash
# relay-load.sh: the WebSocket relay's aggregate (issue 17): PAIRS relayed
# streams (100) at once through one nat-rendezvousd pinned to CPU 1, its
# relay rates and limits off; rv-load -m relay on CPU 0 logs 2 x PAIRS
# sessions in, has each pair ask for a relay, and sends relay frames of
# 1,200 bytes of payload as fast as the server takes them for DURATION
# seconds (10).  Rounds: ROUNDS (3), medians.
#
#   O=build tests/bench/relay-load.sh
#
# Records on stdout: type=bench (each rv-load run, rv-load.c), then
#   type=result bench=relay-load pairs=N mibs=F server_s_per_gib=F
#       server_rss_kb=N idle_rss_kb=N kb_per_stream=F
# mibs: payload received by the receivers a second, all streams; the
# server's CPU seconds per GiB of it; its resident memory while relaying,
# before the sessions came (idle_rss_kb), and their difference per
# stream (a pair: two sessions, one relay).  No goal: ratios to compare.
# Loopback only; exit 0, 77 with fewer than two CPUs, else an error.
set -u
O=${O:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
PAIRS=${PAIRS:-100}
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
load="$O/tests/bench/rv-load"
rvd="$O/bin/nat-rendezvousd"
for b in "$load" "$rvd"; do
	[ -x "$b" ] || { echo "relay-load.sh: $b missing: run make" >&2; exit 2; }
done
[ "$(nproc)" -ge 2 ] || { echo "relay-load.sh: skip: needs two CPUs"; exit 77; }

tmp=$(mktemp -d /tmp/natkit-relayload.XXXXXX) || exit 2
spid=
cleanup() {
	[ -n "$spid" ] && { kill -TERM "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; }
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
field() { tr ' ' '\n' | sed -n "s/^$1=//p"; }

: >"$tmp/runs"
for r in $(seq "$ROUNDS"); do
	: >"$tmp/out"
	taskset -c 1 "$rvd" -d -l 127.0.0.1:0 -C 65535 -M 0 -S 0 -t 60 \
	    --relay-rate=0 --relay-server-rate=0 --relay-bytes=0 \
	    --relay-time=0 >"$tmp/out" 2>"$tmp/err" &
	spid=$!
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/^ready http=127\.0\.0\.1:\([0-9]*\).*/\1/p' \
		    "$tmp/out")
		[ -n "$port" ] && break
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.1
	done
	[ -n "$port" ] || { echo "relay-load.sh: server did not come up:" >&2
		tail -n 5 "$tmp/err" >&2; exit 2; }
	idle=$(awk '/^VmRSS:/ { print $2 }' /proc/$spid/status)
	taskset -c 0 timeout $((DURATION + 60)) "$load" -T natkit -m relay \
	    -P "$PAIRS" -d "$DURATION" -k "relay-load-$r" -p "$spid" \
	    "127.0.0.1:$port" >"$tmp/load" 2>"$tmp/load.err" ||
	    { echo "relay-load.sh: rv-load failed:" >&2; tail -n 5 "$tmp/load.err" >&2; exit 2; }
	rec=$(grep '^type=bench ' "$tmp/load")
	echo "$rec idle_rss_kb=$idle"
	[ "$(echo "$rec" | field relays)" = "$PAIRS" ] ||
	    { echo "relay-load.sh: not every relay came up" >&2; exit 2; }
	echo "$rec idle_rss_kb=$idle" >>"$tmp/runs"
	kill -TERM "$spid"; wait "$spid" 2>/dev/null; spid=
done
mibs=$(field mibs <"$tmp/runs" | median)
spg=$(field server_s_per_gib <"$tmp/runs" | median)
rss=$(field server_rss_kb <"$tmp/runs" | median)
idle=$(field idle_rss_kb <"$tmp/runs" | median)
echo "type=result bench=relay-load pairs=$PAIRS mibs=$mibs server_s_per_gib=$spg server_rss_kb=$rss idle_rss_kb=$idle kb_per_stream=$(awk -v a="$rss" -v b="$idle" -v n="$PAIRS" 'BEGIN { printf "%.1f", (a - b) / n }')"
