#!/bin/bash
# Presence on Redis Cluster (nat-rendezvousd(8), Scale-out with Redis
# Cluster; doc/scale.md): what an instance costs when the engine holds
# 10,000 records and when it holds 1,000,000.
#
#   O=build tests/bench/rv-cluster.sh
#
# Starts its own cluster of 3 primaries (no replicas: the failover is
# tests/e2e/cluster.sh's) on loopback ports of its own, nothing saved,
# and instance A with --redis redis-cluster://.  $LOADERS rv-load loaders of
# $PER_LOADER sessions (default 2 x 5,000) register on A; then:
#
#   small   the engine holds A's 10,000 records: A's VmRSS, after 200
#           lookups and 20 list pages through A's HTTP;
#   load    cluster-tool writes $RECORDS synthetic records (default
#           990,000: 1,000,000 in all) straight into the cluster, as
#           store_cluster.c leaves them (600-byte records, the index);
#   large   the same lookups and pages, A's VmRSS again, and the ratio;
#   lookup  HMGET through cluster.c (what a fetch sends), $LOOKUPS
#           (20,000) at $LOOKUP_RATE (5,000) a second over the loaded
#           records: p50, p99; and 500 GET /v1/peers/ID through A, one
#           connection each (curl): p50, p99;
#   signals instance B beside A; rv-load -m pairs, $PAIRS pairs (200) at
#           $SIG_RATE signals a second (2,000) for $BENCH_SECONDS (5):
#           receivers on A with the senders (within) or on B (across:
#           SMEMBERS, then SPUBLISH to B's shard channel); p50, p99 and
#           the ratio across/within (the floor measured in the same run).
#
# Records on stdout: type=bench (each rv-load run) and type=result.
# Exit: 0 done, 77 skipped (no redis-server 7), else an error.  No goals
# to pass: the figures go in the report.
set -u
O=${O:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
LOADERS=${LOADERS:-2}
PER_LOADER=${PER_LOADER:-5000}
RECORDS=${RECORDS:-990000}
LOOKUPS=${LOOKUPS:-20000}
LOOKUP_RATE=${LOOKUP_RATE:-5000}
PAIRS=${PAIRS:-200}
SIG_RATE=${SIG_RATE:-2000}
secs=${BENCH_SECONDS:-5}
load="$O/tests/bench/rv-load"
tool="$O/tests/e2e/cluster-tool"
rvd="$O/bin/nat-rendezvousd"
[ -x "$load" ] && [ -x "$rvd" ] && [ -x "$tool" ] ||
    { echo "rv-cluster.sh: build first (make)" >&2; exit 2; }
redis-server --version 2>/dev/null | grep -Eq 'v=([7-9]|[1-9][0-9])\.' ||
    { echo "rv-cluster.sh: needs redis-server 7"; exit 77; }
tmp=$(mktemp -d /tmp/rv-cluster.XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill -TERM "$p" 2>/dev/null; done
	for p in $pids; do
		for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$p" 2>/dev/null
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

r=$(od -An -N2 -tu2 /dev/urandom)
net="127.$((r % 200 + 20)).$((r / 256 % 250 + 1))"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hz() { curl -s --max-time 5 "http://127.0.0.1:$1/healthz"; }
hfield() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }
free_port() { ! ss -Hltn "sport = :$1" | grep -q .; }

# --- the cluster ------------------------------------------------------------
for _ in 1 2 3 4 5 6 7 8; do
	base=$((20000 + RANDOM % 2700)) ok=1	# below the ephemeral ports
	for i in 0 1 2; do free_port $((base + i)) && free_port $((base + i + 10000)) || ok=0; done
	[ $ok = 1 ] && break
done
for i in 0 1 2; do
	p=$((base + i))
	mkdir "$tmp/n$p"
	(cd "$tmp/n$p" && exec redis-server --port $p --bind 127.0.0.1 \
	    --cluster-enabled yes --cluster-config-file nodes.conf \
	    --save "" --appendonly no --daemonize no --loglevel warning) \
	    >"$tmp/n$p.log" 2>&1 &
	pids="$pids $!"
done
for i in 0 1 2; do
	for _ in $(seq 50); do redis-cli -p $((base + i)) ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
done
redis-cli --cluster create 127.0.0.1:$base 127.0.0.1:$((base + 1)) 127.0.0.1:$((base + 2)) \
    --cluster-yes >"$tmp/create.log" 2>&1 || { cat "$tmp/create.log"; exit 2; }
for _ in $(seq 100); do redis-cli -p $base cluster info | grep -q cluster_state:ok && break; sleep 0.1; done
URL=redis-cluster://127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))
used() { local t=0 i; for i in 0 1 2; do t=$((t + $(redis-cli -p $((base + i)) info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'))); done; echo $t; }

start() { # NAME: an instance; its pid in ipid_NAME, port in port_NAME
	"$rvd" -d -l 127.0.0.1:0 -C 65535 -M 0 -S 0 -t 60 -i 120 -P 400000 \
	    --redis "$URL" -E 60 >"$tmp/$1.out" 2>"$tmp/$1.err" &
	eval "ipid_$1=$!"
	pids="$pids $!"
	for _ in $(seq 100); do
		p=$(sed -n 's/^ready http=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$1.out" 2>/dev/null)
		[ -n "$p" ] && { eval "port_$1=$p"; return 0; }
		sleep 0.1
	done
	echo "rv-cluster.sh: instance $1 did not come up" >&2
	cat "$tmp/$1.err" >&2
	exit 2
}
start a
want=$((LOADERS * PER_LOADER))
t_reg=$EPOCHREALTIME
for k in $(seq 1 "$LOADERS"); do
	"$load" -T natkit -m idle -R -n "$PER_LOADER" -d 3000 -b "$net.$k" \
	    -k "rc-$net-$k" "127.0.0.1:$port_a" >"$tmp/L$k" 2>"$tmp/L$k.err" &
	pids="$pids $!"
done
for _ in $(seq 600); do
	h=$(hz "$port_a")
	[ "$(hfield "$h" sessions)" -ge "$want" ] 2>/dev/null &&
	    [ "$(hfield "$h" peers)" -ge "$want" ] 2>/dev/null && break
	sleep 0.1
done
t_reg=$(awk -v a="$t_reg" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')
echo "type=result test=sessions sessions=$(hfield "$h" sessions) peers=$(hfield "$h" peers)"
# Registration: connect, authenticate, register (a record written to the
# cluster with cput and two index ZADDs, the session set SADD), the
# loaders on the same cores.
echo "type=result test=register registrations=$want secs=$t_reg" \
    "per_s=$(awk -v n="$want" -v t="$t_reg" 'BEGIN { printf "%.0f", (t > 0) ? n / t : 0 }')" \
    "server_cpu_s=$(awk '{ printf "%.2f", ($14 + $15) / 100 }' /proc/$ipid_a/stat)"

# exercise: 200 lookups of listed ids and 20 pages through A.
exercise() {
	local cur= i ids
	ids=$(curl -s "http://127.0.0.1:$port_a/v1/peers?limit=100" | grep -o '"id":"[a-z2-7]*"' | cut -d'"' -f4)
	for i in $(seq 20); do
		j=$(curl -s "http://127.0.0.1:$port_a/v1/peers?limit=100${cur:+&cursor=$cur}")
		cur=$(sed -n 's/.*"next":"\([a-z2-7]*\)"}$/\1/p' <<<"$j")
	done
	for i in 1 2; do for id in $ids; do
		echo "url = \"http://127.0.0.1:$port_a/v1/peers/$id\""
		echo 'output = "/dev/null"'
	done; done >"$tmp/ex.cfg"
	curl -s -K "$tmp/ex.cfg"
}
exercise
rss_small=$(rss_kb "$ipid_a")
mem_small=$(used)
echo "type=result test=small records=$want rss_kb=$rss_small engine_used_memory=$mem_small"

"$tool" "$URL" load "$RECORDS" "rc-$net" >"$tmp/load" 2>&1
cat "$tmp/load" | sed 's/^/type=result test=load /'
exercise
rss_large=$(rss_kb "$ipid_a")
mem_large=$(used)
total=$((want + RECORDS))
echo "type=result test=large records=$total rss_kb=$rss_large engine_used_memory=$mem_large" \
    "rss_growth=$(awk -v a="$rss_small" -v b="$rss_large" 'BEGIN { printf "%.3f", a ? b / a : 0 }')" \
    "engine_bytes_per_record=$(( (mem_large - mem_small) / (RECORDS > 0 ? RECORDS : 1) ))"

# --- lookups -------------------------------------------------------------
"$tool" "$URL" lookups "$LOOKUPS" "$LOOKUP_RATE" "rc-$net" "$RECORDS" |
    sed 's/^lookups /type=result test=lookup via=cluster.c /'
# 500 GETs through A, one connection each (the server closes each):
# curl prints each time_total.
# The ids of A's own listed peers and of loaded records (found by a page).
ids=$(curl -s "http://127.0.0.1:$port_a/v1/peers?limit=100&cursor=maaaaaaaaaaaaaaaaaaaaaaaaa" | grep -o '"id":"[a-z2-7]*"' | cut -d'"' -f4)
for i in 1 2 3 4 5; do for id in $ids; do echo "url = \"http://127.0.0.1:$port_a/v1/peers/$id\""; echo 'output = "/dev/null"'; done; done >"$tmp/curl.cfg"
curl -s -K "$tmp/curl.cfg" -w '%{time_total}\n' >"$tmp/http.times"
sort -n "$tmp/http.times" | awk '{ v[NR] = $1 * 1e6 } END {
	printf "type=result test=lookup via=http n=%d p50_us=%.0f p99_us=%.0f max_us=%.0f\n",
	    NR, v[int(NR / 2) + 1], v[int(NR * 0.99) + 1], v[NR] }'

# --- signals: within A, and from A to B -----------------------------------
start b
sleep 1
for mode in within across; do
	extra=
	[ $mode = across ] && extra="-S 127.0.0.1:$port_b"
	"$load" -T natkit -m pairs -P "$PAIRS" -r "$SIG_RATE" -d "$secs" \
	    -b "$net.$([ $mode = within ] && echo 50 || echo 51)" \
	    -k "sig-$net-$mode" $extra -p "$ipid_a" \
	    "127.0.0.1:$port_a" >"$tmp/$mode" 2>"$tmp/$mode.err"
	sed "s/\$/ mode2=$mode/" "$tmp/$mode"
done
f() { sed -n "s/.* $2=\([0-9.]*\).*/\1/p" "$tmp/$1"; }
echo "type=result test=signals rate=$SIG_RATE within_p50_us=$(f within p50_us)" \
    "within_p99_us=$(f within p99_us) across_p50_us=$(f across p50_us)" \
    "across_p99_us=$(f across p99_us)" \
    "across_vs_within_p99=$(awk -v a="$(f across p99_us)" -v w="$(f within p99_us)" 'BEGIN { printf "%.2f", w ? a / w : 0 }')"
