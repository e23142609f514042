#!/bin/bash
# The data path's throughput and the relay's upgrade, in the NAT lab.
#  - A bulk transfer from h-fc (behind a full-cone NAT) to h-open (a
#    public host), no impairment: plain TCP (nc) between the same two
#    hosts, nat-connect over its direct path, and nat-connect relayed
#    (UDP between them dropped at r-fc), in interleaved rounds; medians.
#    Goal: direct >= 70% of plain TCP; relayed >= 50% of direct (issue
#    17), the server's relay rates off, and no relay frame dropped.
#  - Relay to direct: the same pair relayed while UDP is dropped, the drop
#    lifted, time until the connection moved to the direct path.  Goal:
#    within 5 s.
#   O=build tests/bench/datapath.sh    (SIZE MiB, ROUNDS; RELAY_ONLY=1:
#   the relayed rounds alone, no goals checked; RVD_OPTS: more options
#   for nat-rendezvousd, e.g. "-Q 1048576"; LOSS=N: N% of packets
#   dropped each way at r-fc's wire, nat-lab loss, for every path; the
#   goals then are the relay's at 2%: relayed >= 30% of direct)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
export NATKIT_BIN=$top/$O/bin NATKIT_TOP=$top
[ "$(id -u)" -eq 0 ] || { echo "needs root for the NAT lab"; exit 77; }
. "$top/tests/e2e/lib.sh"
B=$NATKIT_BIN
SRV=198.51.100.10
URL=http://$SRV:80
SIZE=${SIZE:-1024}
ROUNDS=${ROUNDS:-3}
RELAY_ONLY=${RELAY_ONLY:-0}
LOSS=${LOSS:-0}

lab_up
if [ "$LOSS" -gt 0 ]; then
	"$LAB" loss fc "$LOSS" || exit 2
fi
OPEN=$("$LAB" addr h-open)
# The relay's capacity, not its default rates (16 MiB/s a session).
start_ready rvd 10 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -g 20 \
    --relay-rate=0 --relay-server-rate=0 ${RVD_OPTS:-} -l $SRV:80
mkdir -p "$T/home/a" "$T/home/b" && chmod 700 "$T/home/a" "$T/home/b"
for h in h-fc h-open; do
	"$LAB" exec $h -- "$B/nat-probe" -s $SRV >"$T/prof.$h" || exit 2
done
cat >"$T/acc.sh" <<EOF
#!/bin/sh
exec "$B/nat-connect" --accept -r -s $URL >/dev/null 2>"$T/acc.err"
EOF
chmod +x "$T/acc.sh"
start_ready reg-b 10 "$LAB" exec h-open -- env NATKIT_HOME="$T/home/b" sh -c \
    "exec \"$B/nat-register\" -s $URL -N open -e \"$T/acc.sh\" <\"$T/prof.h-open\""
start_ready reg-a 10 "$LAB" exec h-fc -- env NATKIT_HOME="$T/home/a" sh -c \
    "exec \"$B/nat-register\" -s $URL -N fc <\"$T/prof.h-fc\""

now() { date +%s.%N; }
mibs() { awk -v s="$SIZE" -v t="$1" 'BEGIN { printf "%.1f", s / t }'; }
block() {
	"$LAB" exec r-fc -- nft -f /dev/stdin <<EOF
table inet natkit_block {
	chain filter_udp {
		type filter hook forward priority -50;
		meta l4proto udp ip saddr != 198.51.100.0/24 ip daddr != 198.51.100.0/24 drop
	}
}
EOF
}
unblock() { "$LAB" exec r-fc -- nft delete table inet natkit_block 2>/dev/null; }
wait_acc() {
	for _ in $(seq 300); do
		grep -q '^type=\(closed\|failed\) ' "$T/acc.err" 2>/dev/null && return
		sleep 0.05
	done
}

# tcp: seconds for SIZE MiB over plain TCP, the receiver counting.
tcp() {
	local s e n
	"$LAB" exec h-open -- timeout 120 nc -l -p 5001 | wc -c >"$T/tcp.n" &
	local r=$!
	sleep 0.3
	s=$(now)
	head -c $((SIZE << 20)) /dev/zero | "$LAB" exec h-fc -- timeout 120 nc -N "$OPEN" 5001
	wait $r
	e=$(now)
	n=$(cat "$T/tcp.n")
	[ "$n" = $((SIZE << 20)) ] || { echo "tcp: $n bytes arrived" >&2; return 1; }
	awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f", e - s }'
}

# nc_connect: seconds for SIZE MiB through nat-connect, from the path
# record to the end (the traversal is the other benchmark's).
nc_connect() {
	local rc p c
	rm -f "$T/acc.err"
	head -c $((SIZE << 20)) /dev/zero | "$LAB" exec h-fc -- env \
	    NATKIT_HOME="$T/home/a" "$B/nat-connect" -r -s "$URL" open \
	    >/dev/null 2>"$T/nc.err"
	rc=$?
	wait_acc
	[ $rc = 0 ] || { echo "nat-connect: exit $rc: $(tail -n 1 "$T/nc.err")" >&2; return 1; }
	[ "$(grep '^type=closed ' "$T/acc.err" | field received)" = $((SIZE << 20)) ] || {
		echo "nat-connect: $(grep '^type=closed ' "$T/acc.err")" >&2; return 1; }
	p=$(grep '^type=path ' "$T/nc.err" | field ms)
	c=$(grep '^type=closed ' "$T/nc.err" | field ms)
	echo "$(grep '^type=path ' "$T/nc.err" | field technique)" >"$T/tech"
	awk -v p="$p" -v c="$c" 'BEGIN { printf "%.3f", (c - p) / 1000 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: >"$T/t.tcp"; : >"$T/t.direct"; : >"$T/t.relay"
for i in $(seq "$ROUNDS"); do
	if [ "$RELAY_ONLY" = 0 ]; then
		t=$(tcp) || exit 2
		echo "$t" >>"$T/t.tcp"
		t=$(nc_connect) || exit 2
		echo "$t" >>"$T/t.direct"
		td=$(cat "$T/tech")
	fi
	block || exit 2
	t=$(nc_connect) || { unblock; exit 2; }
	unblock
	[ "$(cat "$T/tech")" = relay ] || { echo "relayed round took $(cat "$T/tech")"; exit 2; }
	echo "$t" >>"$T/t.relay"
	if [ "$RELAY_ONLY" = 0 ]; then
		echo "round $i: tcp $(tail -n 1 "$T/t.tcp") s, direct ($td) $(tail -n 1 "$T/t.direct") s, relay $t s"
	else
		echo "round $i: relay $t s ($(mibs "$t") MiB/s)"
	fi
done
# What the server dropped of the relayed frames, all rounds together.
dropped=$("$LAB" exec h-open -- curl -sf "$URL/metrics" |
    sed -n 's/^natkit_relay_frames_dropped_total //p')
if [ "$RELAY_ONLY" != 0 ]; then
	echo "type=result bench=relay size_mib=$SIZE rounds=$ROUNDS loss=$LOSS relay_mibs=$(mibs "$(median <"$T/t.relay")") relay_dropped=${dropped:-?}"
	exit 0
fi
tt=$(median <"$T/t.tcp"); td=$(median <"$T/t.direct"); tr=$(median <"$T/t.relay")
ratio=$(awk -v a="$tt" -v b="$td" 'BEGIN { printf "%.2f", a / b }')
rratio=$(awk -v a="$tt" -v b="$tr" 'BEGIN { printf "%.2f", a / b }')
echo "type=result bench=datapath size_mib=$SIZE rounds=$ROUNDS loss=$LOSS tcp_mibs=$(mibs "$tt") direct_mibs=$(mibs "$td") relay_mibs=$(mibs "$tr") direct_vs_tcp=$ratio relay_vs_tcp=$rratio relay_vs_direct=$(awk -v a="$td" -v b="$tr" 'BEGIN { printf "%.2f", a / b }') relay_dropped=${dropped:-?}"

# Relay to direct: lift the drop once the relay carries the stream.
: >"$T/t.up"
for i in $(seq "$ROUNDS"); do
	block || exit 2
	"$LAB" exec r-fc -- conntrack -D -p udp >/dev/null 2>&1
	rm -f "$T/acc.err"
	( for _ in $(seq 200); do echo line; sleep 0.05; done | "$LAB" exec h-fc -- \
	    env NATKIT_HOME="$T/home/a" "$B/nat-connect" -r -s "$URL" open \
	    >/dev/null 2>"$T/up.err" ) &
	job=$!
	for _ in $(seq 400); do grep -q '^type=path ' "$T/up.err" && break; sleep 0.05; done
	unblock
	wait $job
	wait_acc
	p=$(grep '^type=path ' "$T/up.err" | field ms)
	u=$(grep '^type=upgraded ' "$T/up.err" | field ms)
	[ -n "$u" ] || { echo "round $i: no upgrade: $(tail -n 2 "$T/up.err")"; exit 2; }
	echo "$((u - p))" >>"$T/t.up"
	echo "upgrade round $i: direct $((u - p)) ms after the drop was lifted"
done
up=$(median <"$T/t.up")
echo "type=result bench=upgrade rounds=$ROUNDS median_ms=$up max_ms=$(sort -n "$T/t.up" | tail -n 1)"
ok=0
if [ "$LOSS" = 0 ]; then
	awk -v r="$ratio" 'BEGIN { exit !(r >= 0.70) }' || { echo "direct is under 70% of plain TCP"; ok=1; }
fi
[ "$(sort -n "$T/t.up" | tail -n 1)" -le 5000 ] || { echo "an upgrade took over 5 s"; ok=1; }
exit $ok
