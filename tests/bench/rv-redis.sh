#!/bin/bash
# Scale-out benchmark: nat-rendezvousd instances sharing one Redis
# (nat-rendezvousd(8), Scale-out with Redis), on this one box.
#
#   O=build tests/bench/rv-redis.sh
#
# Starts its own redis-server on a loopback port of its own (nothing
# saved).  Every session is an rv-load session that logs in and registers
# a signed record (-R); loaders of $PER_LOADER sessions (default 4,200),
# each from its own source address 127.A.B.N (A.B random per run: no
# TIME_WAIT from an earlier run).  A process may hold 20,000 files here,
# so an instance holds at most 19,936 sessions and the load comes from
# several processes.
#
#   mem     one instance without Redis (the in-memory store), $LOADERS
#           loaders (default 4, 16,800 sessions): sessions held, VmRSS
#           per session;
#   held    one instance without Redis, then one with, offered 20,000
#           sessions (5 loaders of 4,000): the sessions each holds;
#   scale   $INSTANCES instances (default 6) with -r, each given $LOADERS
#           loaders (default 100,800 sessions in all): sessions held in
#           all and per instance, the records each instance lists
#           (/healthz for all, every page of /v1/peers for two), VmRSS per
#           session per instance, Redis' used_memory (INFO memory) per
#           peer, and how long until every instance listed every peer;
#   signals with the sessions still held: 1,000 pairs keeping 8 signals
#           in flight each for BENCH_SECONDS (default 5), the receivers
#           on the senders' instance (within) or on another (across, so
#           through Redis), alternating, BENCH_REPEATS rounds (default
#           3); the median of each and their ratio.
#
# Records on stdout:
#   type=bench ...                 each rv-load run (rv-load.c)
#   type=result test=mem|scale|signals ...
# Exit status: 0 done, 77 skipped (no redis-server), anything else an
# error.  There are no goals to pass: the figures go in the report.
set -u
O=${O:-build}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 2
INSTANCES=${INSTANCES:-6}
LOADERS=${LOADERS:-4}
PER_LOADER=${PER_LOADER:-4200}
secs=${BENCH_SECONDS:-5}
rounds=${BENCH_REPEATS:-3}
load="$O/tests/bench/rv-load"
rvd="$O/bin/nat-rendezvousd"
[ -x "$load" ] && [ -x "$rvd" ] || { echo "rv-redis.sh: build first (make)" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "rv-redis.sh: no redis-server"; exit 77; }
tmp=$(mktemp -d /tmp/rv-redis.XXXXXX)
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

stop() {	# $1: a pid started here
	kill -TERM "$1" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	n=; for p in $pids; do [ "$p" = "$1" ] || n="$n $p"; done; pids=$n
}

r=$(od -An -N2 -tu2 /dev/urandom)
net="127.$((r % 200 + 20)).$((r / 256 % 250 + 1))"
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
hz() { curl -s --max-time 5 "http://127.0.0.1:$1/healthz"; }
hfield() { sed -n "s/.*\"$2\":\([0-9]*\).*/\1/p" <<<"$1"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# --- Redis -------------------------------------------------------------
for _ in 1 2 3 4 5 6 7 8; do
	rport=$((20000 + RANDOM % 20000))
	ss -Hltn "sport = :$rport" | grep -q . || break
done
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize no --loglevel warning >"$tmp/redis.log" 2>&1 &
rpid=$!
pids="$pids $rpid"
for _ in $(seq 50); do redis-cli -p "$rport" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
rmem() { redis-cli -p "$rport" info memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p'; }

# start NAME ARGS...: an instance; its pid in ipid_NAME, port in port_NAME.
start() {
	name=$1; shift
	"$rvd" -d -l 127.0.0.1:0 -C 65535 -M 0 -S 0 -t 60 -i 120 -P 400000 "$@" \
	    >"$tmp/$name.out" 2>"$tmp/$name.err" &
	eval "ipid_$name=$!"
	pids="$pids $!"
	for _ in $(seq 100); do
		p=$(sed -n 's/^ready http=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$tmp/$name.out" 2>/dev/null)
		[ -n "$p" ] && { eval "port_$name=$p"; return 0; }
		sleep 0.1
	done
	echo "rv-redis.sh: instance $name did not come up" >&2
	cat "$tmp/$name.err" >&2
	exit 2
}

# loaders NAME FIRST: $LOADERS idle loaders on instance NAME, source
# addresses $net.FIRST and on.
lpids=
loaders() {
	eval "lp=\$port_$1"
	for k in $(seq 0 $((LOADERS - 1))); do
		a=$(($2 + k))
		"$load" -T natkit -m idle -R -n "$PER_LOADER" -d 3000 \
		    -b "$net.$a" -k "rr-$net-$a" "127.0.0.1:$lp" \
		    >"$tmp/L$a" 2>"$tmp/L$a.err" &
		pids="$pids $!"
		lpids="$lpids $!"
	done
}

# settle PORT... : waits until the sessions and peers of every instance
# stop growing (6 s unchanged) or reach their goal; at most $1 s.
settle() {
	max=$1 want=$2; shift 2
	last= same=0 t0=$(now)
	while :; do
		cur=
		for p in "$@"; do h=$(hz "$p"); cur="$cur $(hfield "$h" sessions)/$(hfield "$h" peers)"; done
		done_all=1
		for x in $cur; do [ "${x#*/}" -ge "$want" ] && [ "${x%/*}" -ge "$per" ] || done_all=0; done
		[ $done_all = 1 ] && return 0
		if [ "$cur" = "$last" ]; then same=$((same + 1)); [ $same -ge 12 ] && return 0
		else same=0; fi
		last=$cur
		[ "$(awk -v a="$(since "$t0")" -v m="$max" 'BEGIN { print (a >= m) }')" = 1 ] && return 1
		sleep 0.5
	done
}

per=$((LOADERS * PER_LOADER))

# --- mem: one instance, in-memory store ---------------------------------
start mem
rss0=$(rss_kb $ipid_mem)
t0=$(now)
loaders mem 1
settle 300 "$per" "$port_mem"
ramp=$(since "$t0")
h=$(hz "$port_mem")
held=$(hfield "$h" sessions)
rss=$(rss_kb $ipid_mem)
echo "type=result test=mem store=memory sessions=$held peers=$(hfield "$h" peers)" \
    "rss0_kb=$rss0 rss_kb=$rss mem_per_session=$(( (rss - rss0) * 1024 / (held > 0 ? held : 1) ))" \
    "ramp_s=$ramp"
for p in $lpids; do stop "$p"; done
lpids=
stop $ipid_mem

# --- held: the most one instance holds, in memory and with Redis --------
# 20,000 offered, more than the open files limit allows.
for store in memory redis; do
	if [ $store = redis ]; then start held -r "redis://127.0.0.1:$rport" -E 60
	else start held; fi
	LOADERS_SAVE=$LOADERS PER_SAVE=$PER_LOADER
	LOADERS=5 PER_LOADER=4000
	base=60; [ $store = redis ] && base=70
	loaders held $base
	# A full instance takes no /healthz: count its connections.
	last=-1 same=0
	for _ in $(seq 600); do
		c=$(ss -Htn state established "( sport = :$port_held )" | wc -l)
		if [ "$c" = "$last" ]; then same=$((same + 1)); [ $same -ge 10 ] && break
		else same=0; fi
		last=$c
		sleep 0.5
	done
	echo "type=result test=held store=$store offered=20000 sessions=$c"
	for p in $lpids; do stop "$p"; done
	lpids=
	stop $ipid_held
	LOADERS=$LOADERS_SAVE PER_LOADER=$PER_SAVE
	per=$((LOADERS * PER_LOADER))
done
redis-cli -p "$rport" flushall >/dev/null

# --- scale: INSTANCES instances on one Redis -----------------------------
rm0=$(rmem)
ports=
for i in $(seq 1 "$INSTANCES"); do
	start "i$i" -r "redis://127.0.0.1:$rport" -E 60
	eval "ports=\"\$ports \$port_i$i\""
	eval "rss0_i$i=\$(rss_kb \$ipid_i$i)"
done
t0=$(now)
for i in $(seq 1 "$INSTANCES"); do loaders "i$i" $((100 + (i - 1) * LOADERS)); done
total_want=$((per * INSTANCES))
settle 900 "$total_want" $ports
ramp=$(since "$t0")
sum=0 minpeers=
for i in $(seq 1 "$INSTANCES"); do
	eval "p=\$port_i$i pid=\$ipid_i$i r0=\$rss0_i$i"
	h=$(hz "$p")
	s=$(hfield "$h" sessions) pe=$(hfield "$h" peers) rs=$(rss_kb "$pid")
	sum=$((sum + s))
	[ -z "$minpeers" ] || [ "$pe" -lt "$minpeers" ] && minpeers=$pe
	echo "type=result test=scale instance=$i sessions=$s peers=$pe rss0_kb=$r0" \
	    "rss_kb=$rs rss_per_session=$(( (rs - r0) * 1024 / (s > 0 ? s : 1) ))" \
	    "status=$(sed -n 's/.*"status":"\([a-z]*\)".*/\1/p' <<<"$h")"
done
rm1=$(rmem)
# Every page of the list, from two instances.
walk() {
	n=0 cur= pages=0
	while [ $pages -lt 5000 ]; do
		j=$(curl -s --max-time 30 "http://127.0.0.1:$1/v1/peers?limit=100${cur:+&cursor=$cur}")
		# Records are flat objects: one "type":"peer" each.
		c=$(grep -o '"type":"peer"' <<<"$j" | wc -l)
		n=$((n + c)); pages=$((pages + 1))
		cur=$(sed -n 's/.*"next":"\([a-z2-7]*\)"}$/\1/p' <<<"$j")
		[ -n "$cur" ] || break
	done
	echo $n
}
tw=$(now)
eval "l1=\$(walk \$port_i1)"
eval "l2=\$(walk \$port_i$INSTANCES)"
walk_s=$(since "$tw")
echo "type=result test=scale instances=$INSTANCES sessions=$sum min_peers_listed=$minpeers" \
    "listed_by_1=$l1 listed_by_$INSTANCES=$l2 list_walk_s=$walk_s ramp_s=$ramp" \
    "redis_used_memory0=$rm0 redis_used_memory=$rm1" \
    "redis_bytes_per_peer=$(( (rm1 - rm0) / (minpeers > 0 ? minpeers : 1) ))"

# --- signals: across two instances vs within one ------------------------
: >"$tmp/within"; : >"$tmp/across"
for k in $(seq 1 "$rounds"); do
	for mode in within across; do
		extra= m=0
		[ $mode = across ] && extra="-S 127.0.0.1:$port_i2" m=1
		"$load" -T natkit -m pairs -P 1000 -w 8 -d "$secs" \
		    -b "$net.$((200 + k * 2 + m))" \
		    -k "sig-$net-$k-$mode" $extra -p "$ipid_i1" \
		    "127.0.0.1:$port_i1" >"$tmp/run" 2>"$tmp/run.err"
		sed "s/\$/ mode2=$mode/" "$tmp/run" | tee -a "$tmp/$mode"
	done
done
median() {
	awk -v k="$2" '{ for (i = 1; i <= NF; i++) { split($i, kv, "=")
		if (kv[1] == k) v[++n] = kv[2] } }
	END { for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] + 0 > v[j] + 0; j--) {
		t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		print n ? v[int((n + 1) / 2)] : 0 }' "$1"
}
rw=$(median "$tmp/within" rate) ra=$(median "$tmp/across" rate)
echo "type=result test=signals within_rate=$rw across_rate=$ra" \
    "within_p99_us=$(median "$tmp/within" p99_us) across_p99_us=$(median "$tmp/across" p99_us)" \
    "across_vs_within=$(awk -v a="$ra" -v w="$rw" 'BEGIN { printf "%.2f", w ? a / w : 0 }')"
