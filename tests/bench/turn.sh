#!/bin/bash
# nat-connect through coturn (the turn technique) beside its direct path,
# in the NAT lab: a bulk transfer from h-fc (behind a full-cone NAT) to
# h-open (a public host), no impairment; direct, then with UDP between
# the two dropped at r-fc so that the path goes through two allocations
# on a coturn with use-auth-secret on the public side, first UDP ones,
# then (nat-rendezvousd restarted with a TCP URI only) TCP ones, and
# for comparison (restarted without TURN) the WebSocket relay.  Rounds
# interleave direct and relayed; medians.  Goal (issue 17): TURN over UDP
# >= 0.6 of direct.
#   O=build tests/bench/turn.sh    (SIZE MiB, ROUNDS)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
export NATKIT_BIN=$top/$O/bin NATKIT_TOP=$top
[ "$(id -u)" -eq 0 ] || { echo "needs root for the NAT lab"; exit 77; }
command -v turnserver >/dev/null || { echo "turnserver (coturn) not installed"; exit 77; }
. "$top/tests/e2e/lib.sh"
B=$NATKIT_BIN
SRV=198.51.100.10
URL=http://$SRV:80
PORT=3480
SIZE=${SIZE:-256}
ROUNDS=${ROUNDS:-3}

lab_up
# coturn beside the lab's STUN-only one (which keeps 3478 and 3479).
printf 'natkit-bench-secret\n' >"$T/turn.secret"
cat >"$T/turnserver.conf" <<CONF
listening-ip=$SRV
relay-ip=$SRV
listening-port=$PORT
alt-listening-port=$((PORT + 1))
min-port=49152
max-port=49407
use-auth-secret
static-auth-secret=natkit-bench-secret
realm=natkit.test
no-tls
no-dtls
no-cli
no-rfc5780
userdb=$T/turndb
log-file=$T/turnserver.log
simple-log
pidfile=$T/turnserver.pid
CONF
"$LAB" exec srv -- turnserver -c "$T/turnserver.conf" --no-stdout-log \
    >"$T/turnserver.out" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do
	"$LAB" exec srv -- ss -lun | grep -q "$SRV:$PORT" && break
	sleep 0.1
done

# rvd udp|tcp|relay: nat-rendezvousd handing out the one TURN URI, or
# none.
RVD=
rvd() {
	local turn="--turn-secret $T/turn.secret --turn turn:$SRV:$PORT?transport=$1"
	[ -z "$RVD" ] || { kill "$RVD"; wait "$RVD" 2>/dev/null; }
	[ "$1" != relay ] || turn=
	start_ready "rvd-$1" 10 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -g 20 \
	    -R $((4 * SIZE << 20)) -l $SRV:80 $turn
	RVD=$LAST_PID
}
rvd udp
mkdir -p "$T/home/a" "$T/home/b" && chmod 700 "$T/home/a" "$T/home/b"
for h in h-fc h-open; do
	"$LAB" exec $h -- "$B/nat-probe" -s $SRV >"$T/prof.$h" || exit 2
done
cat >"$T/acc.sh" <<ACC
#!/bin/sh
exec "$B/nat-connect" --accept -r -s $URL >/dev/null 2>"$T/acc.err"
ACC
chmod +x "$T/acc.sh"
start_ready reg-b 10 "$LAB" exec h-open -- env NATKIT_HOME="$T/home/b" sh -c \
    "exec \"$B/nat-register\" -s $URL -n open -e \"$T/acc.sh\" <\"$T/prof.h-open\""

mibs() { awk -v s="$SIZE" -v t="$1" 'BEGIN { printf "%.1f", s / t }'; }
block() {
	"$LAB" exec r-fc -- nft -f /dev/stdin <<NFT
table inet natkit_block {
	chain filter_udp {
		type filter hook forward priority -50;
		meta l4proto udp ip saddr != 198.51.100.0/24 ip daddr != 198.51.100.0/24 drop
	}
}
NFT
	"$LAB" exec r-fc -- conntrack -D -p udp >/dev/null 2>&1
	return 0
}
unblock() { "$LAB" exec r-fc -- nft delete table inet natkit_block 2>/dev/null; }
wait_acc() {
	for _ in $(seq 300); do
		grep -q '^type=\(closed\|failed\) ' "$T/acc.err" 2>/dev/null && return
		sleep 0.05
	done
}
# reregistered N: nat-register is back on the server restarted N times.
reregistered() {
	for _ in $(seq 200); do
		[ "$(grep -c '^type=\(registered\|reregistered\) ' "$T/reg-b.out")" -gt "$1" ] && return 0
		sleep 0.1
	done
	return 1
}

# nc_connect: seconds for SIZE MiB through nat-connect, from the path
# record to the end; the technique in $T/tech.
nc_connect() {
	local rc p c
	rm -f "$T/acc.err"
	head -c $((SIZE << 20)) /dev/zero | "$LAB" exec h-fc -- env \
	    NATKIT_HOME="$T/home/a" "$B/nat-connect" -P "$T/prof.h-fc" -r \
	    -s "$URL" open >/dev/null 2>"$T/nc.err"
	rc=$?
	wait_acc
	[ $rc = 0 ] || { echo "nat-connect: exit $rc: $(tail -n 1 "$T/nc.err")" >&2; return 1; }
	[ "$(grep '^type=closed ' "$T/acc.err" | field received)" = $((SIZE << 20)) ] || {
		echo "nat-connect: $(grep '^type=closed ' "$T/acc.err")" >&2; return 1; }
	p=$(grep '^type=path ' "$T/nc.err" | field ms)
	c=$(grep '^type=closed ' "$T/nc.err" | field ms)
	grep '^type=path ' "$T/nc.err" | field technique >"$T/tech"
	awk -v p="$p" -v c="$c" 'BEGIN { printf "%.3f", (c - p) / 1000 }'
}

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
: >"$T/t.direct"
n=0
for tr in udp tcp relay; do
	if [ $tr != udp ]; then
		rvd $tr
		n=$((n + 1))
		reregistered $n || { echo "nat-register did not come back"; exit 2; }
	fi
	want=turn
	[ $tr != relay ] || want=relay
	: >"$T/t.$tr"
	for i in $(seq "$ROUNDS"); do
		t=$(nc_connect) || exit 2
		echo "$t" >>"$T/t.direct"
		td=$(cat "$T/tech")
		block || exit 2
		t=$(nc_connect) || { unblock; exit 2; }
		unblock
		[ "$(cat "$T/tech")" = $want ] || { echo "blocked round took $(cat "$T/tech")"; exit 2; }
		echo "$t" >>"$T/t.$tr"
		label=$want
		[ $want != turn ] || label="turn over $tr"
		echo "round $i: direct ($td) $(tail -n 1 "$T/t.direct") s, $label $t s"
	done
done
td=$(median <"$T/t.direct"); tu=$(median <"$T/t.udp"); tt=$(median <"$T/t.tcp")
tr=$(median <"$T/t.relay")
ru=$(awk -v a="$tu" -v b="$td" 'BEGIN { printf "%.2f", b / a }')
rt=$(awk -v a="$tt" -v b="$td" 'BEGIN { printf "%.2f", b / a }')
rr=$(awk -v a="$tr" -v b="$td" 'BEGIN { printf "%.2f", b / a }')
echo "type=result bench=turn size_mib=$SIZE rounds=$ROUNDS direct_mibs=$(mibs "$td") turn_udp_mibs=$(mibs "$tu") turn_tcp_mibs=$(mibs "$tt") relay_mibs=$(mibs "$tr") turn_udp_vs_direct=$ru turn_tcp_vs_direct=$rt relay_vs_direct=$rr"
# Datagrams the kernel dropped for a full socket buffer, per host.
for h in srv h-fc h-open; do
	echo "udp-rcvbuf-errors $h $("$LAB" exec $h -- nstat -az UdpRcvbufErrors 2>/dev/null | awk '/UdpRcvbufErrors/ { print $2 }')"
done
# TURN_LOG=FILE keeps coturn's log: each allocation's packets and bytes.
[ -z "${TURN_LOG:-}" ] || cp "$T/turnserver.log" "$TURN_LOG"
awk -v r="$ru" 'BEGIN { exit !(r >= 0.6) }'
