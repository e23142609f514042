#!/bin/bash
# nat-probe tells a server that fails from UDP that is blocked: a refusing
# port (ICMP port unreachable), a name that does not resolve, a silent
# address alone and beside a server that answers, an address no router can
# reach, and the real UDP-blocked router r-blk.  Each has its exact exit
# status, record fields and words on stderr.
. "$NATKIT_TOP/tests/e2e/lib.sh"

lab_up fc,blk
PROBE=$NATKIT_BIN/nat-probe
COTURN=198.51.100.10:3478
REFLECT=198.51.100.12:3480
REFUSE=198.51.100.12:3999	# nothing listens there
SILENT=198.51.100.20:3997	# pub drops everything to that port
NOHOST=198.51.100.99:3478	# the lab's core router has no route there
start_ready reflect 10 "$LAB" exec srv -- "$NATKIT_BIN/nat-reflect" -d \
    -p 3480 -P 3481 198.51.100.12 198.51.100.13
"$LAB" exec pub -- nft -f - <<EOF || fail "pub: cannot drop port 3997"
table inet silent {
	chain input {
		type filter hook input priority 0;
		udp dport 3997 drop
		tcp dport 3997 drop
	}
}
EOF
# An unreachable route answers at once with ICMP host unreachable (an
# address nobody has on a link would take the time ARP gives up in).
"$LAB" exec inet -- ip route add unreachable 198.51.100.99/32 ||
    fail "inet: cannot add the unreachable route"

# A name that does not resolve: only /etc/hosts is asked (a private
# mount of /etc/nsswitch.conf), nothing is sent.  A resolver that cannot
# be reached (a private /etc/resolv.conf naming a closed port) is not a
# wrong name: the name server did not answer.
echo "hosts: files" >"$T/nsswitch.conf"
echo "nameserver 127.0.0.1" >"$T/resolv.conf"

# run NAME HOST ARGS...: nat-probe -G ARGS on HOST, in the background; its
# stdout in $T/NAME.out, stderr in $T/NAME.err, exit status in $T/NAME.rc.
run() {
	local name=$1 host=$2
	shift 2
	( "$LAB" exec "$host" -- "$@" >"$T/$name.out" 2>"$T/$name.err"
	  echo $? >"$T/$name.rc" ) &
	jobs="$jobs $!"
}
jobs=""
run refuse h-fc "$PROBE" -G -s $REFUSE
run nohost h-fc unshare -m sh -c 'mount --bind "$1" /etc/nsswitch.conf &&
    exec "$2" -G -s no-such-host.invalid' sh "$T/nsswitch.conf" "$PROBE"
run nodns h-fc unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf &&
    exec "$2" -G -s no-such-host.invalid' sh "$T/resolv.conf" "$PROBE"
run silent h-fc "$PROBE" -G -s $SILENT
run silent2 h-fc "$PROBE" -G -s $SILENT -s $REFLECT
run unreach h-fc "$PROBE" -G -s $NOHOST
run blk h-blk "$PROBE" -G -s $COTURN
run blk2 h-blk "$PROBE" -G -s $REFUSE
run blkT h-blk "$PROBE" -G -T -s $COTURN
PIDS="$PIDS $jobs"
wait $jobs

# check NAME EXIT NAT EVIDENCE: the exit status, the nat and evidence
# fields; the words on stderr are checked after it.
check() {
	expect "$1 exit" "$(cat "$T/$1.rc")" "$2"
	expect "$1 nat" "$(field nat <"$T/$1.out")" "$3"
	expect "$1 evidence" "$(field evidence <"$T/$1.out")" "$4"
}
stderr() { expect "$1 stderr" "$(cat "$T/$1.err")" "$2"; }

check refuse 69 unknown refused
stderr refuse "nat-probe: server $REFUSE: ICMP port unreachable from the \
server: nothing listens on that UDP port; its host refuses TCP to that port
nat-probe: UDP is not blocked (it reaches the host that refused), but no \
server answered: NAT type unknown"

expect "nohost exit" "$(cat "$T/nohost.rc")" 68
expect "nohost stdout" "$(cat "$T/nohost.out")" ""
stderr nohost "nat-probe: server no-such-host.invalid: unknown host"
expect "nodns exit" "$(cat "$T/nodns.rc")" 75
expect "nodns stdout" "$(cat "$T/nodns.out")" ""
stderr nodns "nat-probe: server no-such-host.invalid: no answer from the \
name server (try again)"

check silent 1 udp-blocked silence
stderr silent "nat-probe: server $SILENT: no answer over UDP; no answer \
over TCP either
nat-probe: UDP is blocked, or the servers are down: no answer over UDP or \
TCP (another server would tell)"

# Beside a server that answers, the silent one is the server's fault: the
# verdict stands on the other's answers.
check silent2 69 full-cone answer
expect "silent2 rtt" "$(field rtt <"$T/silent2.out" | cut -d, -f1)" -
stderr silent2 "nat-probe: server $SILENT: no answer over UDP"

check unreach 1 udp-blocked unreachable
stderr unreach "nat-probe: server $NOHOST: ICMP host unreachable from \
203.0.113.1; unreachable over TCP too
nat-probe: UDP is blocked, or no server can be reached: no route, over \
UDP or TCP"

# r-blk drops UDP and lets TCP through: coturn accepts the connection;
# on the refusing port the server's host resets it, which tells as much.
check blk 1 udp-blocked tcp
# ... and then TCP is tested without -T: all a connection could use.
expect "blk tcp-public without -T" \
    "$(field tcp-public <"$T/blk.out" | cut -d: -f1)" 203.0.113.16
stderr blk "nat-probe: server $COTURN: no answer over UDP; it accepts TCP \
connections
nat-probe: UDP is blocked: no server answered over UDP, but TCP reaches them"
check blk2 1 udp-blocked tcp
stderr blk2 "nat-probe: server $REFUSE: no answer over UDP; its host \
refuses TCP to that port
nat-probe: UDP is blocked: no server answered over UDP, but TCP reaches them"
check blkT 1 udp-blocked tcp
expect "blk -T tcp-public" "$(field tcp-public <"$T/blkT.out" | cut -d: -f1)" \
    203.0.113.16
finish
