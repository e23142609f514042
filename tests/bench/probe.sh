#!/bin/bash
# Time for a full probe (mapping, filtering, hairpinning) from behind the
# port-restricted router with 20 ms delay each way: nat-probe against
# turnutils_natdiscovery -m -f -H on the same path, in the same run,
# interleaved.  Goal: nat-probe at most 2 s and faster than natdiscovery.
set -u
export LC_ALL=C
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
bin=$top/$O/bin
lab=$top/scripts/nat-lab
runs=${RUNS:-5}
[ "$(id -u)" -eq 0 ] || { echo "needs root for the NAT lab"; exit 77; }
export NATLAB_PREFIX="bp$$-" NATLAB_DIR=$(mktemp -d /tmp/natkit-bench.XXXXXX)
trap '"$lab" down >/dev/null 2>&1; rm -rf "$NATLAB_DIR"' EXIT
"$lab" up prc >/dev/null || exit 2
"$lab" delay prc 20 || exit 2

# secs CMD...: runs CMD in h-prc, prints its wall time in seconds.
secs() {
	local s e
	s=$(date +%s%N)
	"$lab" exec h-prc -- "$@" >"$NATLAB_DIR/out" 2>&1
	e=$(date +%s%N)
	echo "scale=3; ($e - $s) / 1000000000" | bc
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

for ((i = 1; i <= runs; i++)); do
	p=$(secs "$bin/nat-probe" -s 198.51.100.10)
	grep -q 'filtering=address-and-port-dependent' "$NATLAB_DIR/out" ||
	    { cat "$NATLAB_DIR/out"; echo "nat-probe: wrong verdict"; exit 2; }
	n=$(secs turnutils_natdiscovery -m -f -H 198.51.100.10)
	echo "type=run round=$i nat-probe=$p natdiscovery=$n"
	echo "$p" >>"$NATLAB_DIR/p"
	echo "$n" >>"$NATLAB_DIR/n"
done
p=$(median <"$NATLAB_DIR/p")
n=$(median <"$NATLAB_DIR/n")
ratio=$(echo "scale=1; $n / $p" | bc)
echo "type=result bench=probe delay_ms=20 runs=$runs nat-probe_s=$p natdiscovery_s=$n speedup=$ratio"
# Goals: at most 2 s, and faster than natdiscovery.
[ "$(echo "$p <= 2 && $p < $n" | bc)" = 1 ]
