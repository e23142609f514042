#!/bin/bash
# Spray (tech_spray.c) over repeated runs in the NAT lab: both NATs map
# per destination, so only a flow of each side aimed at the port the
# other's NAT gave meets.  PAIRS (initiator:responder, default below) run
# RUNS times each (default 50) through tests/e2e/tech-tool, both sides
# with -X (nat-connect --hard) unless HARD=0.  Pairs that share no router
# run at once; conntrack is flushed before each run.  Per pair: the odds
# spray computed and logged (-v) before its first packet, the runs that
# found a direct path by spray, the time to it (median, range), and the
# cost: the UDP flows each side's NAT holds after the run (conntrack
# entries: every flow is a first packet; retransmissions are not counted).
#
#   O=build RUNS=50 tests/bench/spray.sh
#
# Prints ratios and counts, asserts nothing: the odds are the goal's own
# statement.  Exits 77 without root, 2 when the lab did not run.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
RUNS=${RUNS:-50}
HARD=${HARD:-1}
PAIRS=${PAIRS:-"h-pba:h-sym h-sym2:h-adm h-seq3:h-pba h-seq:h-adm"}
[ "$(id -u)" -eq 0 ] || { echo "needs root for the NAT lab"; exit 77; }
export NATKIT_BIN=$top/$O/bin NATKIT_TOP=$top
. "$top/tests/e2e/lib.sh"
TOOL=$NATKIT_BIN/../tests/e2e/tech-tool
STUN=198.51.100.10
[ -x "$TOOL" ] || { echo "$TOOL not built (make)"; exit 2; }
lab_up || exit 2
hosts=$(echo "$PAIRS" | tr ' :' '\n\n' | sort -u)
probe_hosts $STUN $hosts
"$LAB" ls >"$T/ls"
lab_get() { grep "^type=[a-z]* host=$1 " "$T/ls" | field "$2"; }
# flows HOST PEER: UDP flows HOST's router holds from HOST to PEER's
# public address.
flows() {
	ip netns exec "$(lab_get "$(lab_get "$1" router)" ns)" conntrack -L -p udp \
	    -s "$(lab_get "$1" addr)" -d "$(lab_get "$2" wan)" 2>/dev/null | wc -l
}
hx=""; [ "$HARD" = 1 ] && hx=-X

run_pair() { # DIR A B
	local d=$1 a=$2 b=$3 pa pb
	mkdir -p "$d"
	"$LAB" exec "$a" -- "$TOOL" -v $hx -s $STUN -P "$T/prof/$a" -o "$d/a.side" \
	    -i "$d/b.side" -I -n "$a" -w 30 >"$d/a.out" 2>"$d/a.err" &
	pa=$!
	"$LAB" exec "$b" -- "$TOOL" -v $hx -s $STUN -P "$T/prof/$b" -o "$d/b.side" \
	    -i "$d/a.side" -n "$b" -w 30 >"$d/b.out" 2>"$d/b.err" &
	pb=$!
	PIDS="$PIDS $pa $pb"
	wait $pa; echo $? >"$d/a.rc"
	wait $pb; echo $? >"$d/b.rc"
}

for i in $(seq "$RUNS"); do
	"$LAB" flush all >/dev/null 2>&1
	jobs_=""
	for p in $PAIRS; do
		d=$T/runs/${p/:/-}/$i
		run_pair "$d" "${p%%:*}" "${p#*:}" &
		jobs_="$jobs_ $!"
		PIDS="$PIDS $!"
	done
	wait $jobs_
	for p in $PAIRS; do
		d=$T/runs/${p/:/-}/$i
		echo "$(flows "${p%%:*}" "${p#*:}") $(flows "${p#*:}" "${p%%:*}")" >"$d/flows"
	done
	[ $((i % 10)) = 0 ] && echo "run $i of $RUNS" >&2
done

printf '%-14s %-8s %-8s %-10s %-22s %s\n' pair odds ok ratio "ms median (range)" "flows a/b (mean)"
for p in $PAIRS; do
	r=$T/runs/${p/:/-}
	odds=$(cat "$r"/*/a.err | sed -n 's/.*success \([0-9.e+-]*%\).*/\1/p' | sort | uniq -c |
	    sort -rn | head -n 1 | awk '{ print $2 }')
	ok=0 ms=""
	for d in "$r"/*/; do
		t=$(grep '^type=path ' "$d/a.out" | field technique)
		if [ "$(cat "$d/a.rc")/$(cat "$d/b.rc")" = 0/0 ] && [ "$t" = spray ]; then
			ok=$((ok + 1))
			ms="$ms $(grep '^type=path ' "$d/a.out" | field ms)"
		fi
	done
	med=$(echo $ms | tr ' ' '\n' | sort -n | awk '{ v[NR] = $1 } END { if (NR) printf "%d (%d-%d)", v[int((NR + 1) / 2)], v[1], v[NR]; else print "-" }')
	fl=$(cat "$r"/*/flows | awk '{ a += $1; b += $2; n++ } END { printf "%.0f/%.0f", a / n, b / n }')
	printf '%-14s %-8s %-8s %-10s %-22s %s\n' "$p" "${odds:--}" "$ok/$RUNS" \
	    "$(awk -v o="$ok" -v n="$RUNS" 'BEGIN { printf "%.2f", o / n }')" "$med" "$fl"
done
exit 0
