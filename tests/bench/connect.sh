#!/bin/bash
# Time from nat-connect's start to the first byte, per pair of the lab's
# NATs, with 20 ms delay each way on every router (80 ms between two NATed
# peers): the e2e matrix (tests/e2e/connect.sh) run with CONNECT_DELAY.
# Goals: cone pairs' traversal within 4 RTT (320 ms) after signalling,
# birthday pairs within 10 s.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
[ "$(id -u)" -eq 0 ] || { echo "needs root for the NAT lab"; exit 77; }
out=$(mktemp /tmp/natkit-bench-connect.XXXXXX)
trap 'rm -f "$out"' EXIT
NATKIT_BIN=$top/$O/bin NATKIT_TOP=$top CONNECT_DELAY=${DELAY:-20} \
    CONNECT_ONLY_MATRIX=1 bash "$top/tests/e2e/connect.sh" >"$out" 2>&1
rc=$?
sed -n '/^pair /,$p' "$out"
[ $rc -eq 0 ] || { grep FAIL "$out" | head -20; echo "the matrix failed (exit $rc)"; exit 2; }
# Goals, from the table: technique, traversal ms.
awk -v rtt=80 '
	$1 == "pair" || NF < 4 { next }
	$2 == "birthday" { if ($3 > 10000) bad = bad " " $1 "(" $3 " ms)"; nb++; next }
	$2 == "relay" { nr++; next }
	{ if ($3 > 4 * rtt) slow = slow " " $1 "(" $3 " ms)"; nc++ }
	END {
		printf "type=result bench=connect delay_ms=20 rtt_ms=%d cone_pairs=%d birthday_pairs=%d relay_pairs=%d\n", rtt, nc, nb, nr
		if (slow != "") print "cone pairs over 4 RTT:" slow
		if (bad != "") print "birthday pairs over 10 s:" bad
		exit (slow != "" || bad != "")
	}' < <(sed -n '/^pair /,/pairs through/p' "$out" | grep -v 'pairs through')
