#!/bin/bash
# Time from nat-connect's start to its first byte from the peer, per pair
# of the lab's NATs, with DELAY ms (default 20) each way on every router:
# 2*DELAY to the server, 4*DELAY between two NATed peers (the RTT below).
# The e2e matrix (tests/e2e/connect.sh) runs with CONNECT_DELAY and keeps
# its records; each pair's time to first byte is split into its phases,
# from nat-connect's own records:
#   setup      start to the start of traversal: lookups, the signalled
#              offer and the peer's answer (path ms - traversal-ms)
#   traversal  the techniques' race until one won (traversal-ms)
#   handshake  path found to the first byte (first-byte-ms - path ms):
#              the QUIC handshake and the first stream data
#   ttfb       all of it (first-byte-ms)
# Goals: for direct pairs, traversal within 4 RTT and the handshake
# within 3 RTT; birthday pairs' traversal within 10 s; every pair's first
# byte within setup + its traversal goal + 3 RTT.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
O=${O:-build}
DELAY=${DELAY:-20}
[ "$(id -u)" -eq 0 ] || { echo "needs root for the NAT lab"; exit 77; }
keep=$(mktemp -d /tmp/natkit-bench-connect.XXXXXX)
trap 'rm -rf "$keep"' EXIT
NATKIT_BIN=$top/$O/bin NATKIT_TOP=$top CONNECT_DELAY=$DELAY \
    CONNECT_ONLY_MATRIX=1 CONNECT_KEEP=$keep/t \
    bash "$top/tests/e2e/connect.sh" >"$keep/out" 2>&1
rc=$?
[ $rc -eq 0 ] || { grep FAIL "$keep/out" | head -20; echo "the matrix failed (exit $rc)"; exit 2; }

# field KEY: the value of KEY in the record on stdin.
field() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }
while read -r n a b; do
	err=$keep/t/pairs/$n/err
	path=$(grep '^type=path ' "$err")
	closed=$(grep '^type=closed ' "$err")
	echo "$a-$b $(field technique <<<"$path") $(field ms <<<"$path")" \
	    "$(field traversal-ms <<<"$path") $(field first-byte-ms <<<"$closed")"
done <"$keep/t/order" | awk -v rtt=$((4 * DELAY)) -v delay="$DELAY" '
	function med(a, n,   i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
		return n ? a[int((n + 1) / 2)] : "-"
	}
	BEGIN { printf "%-18s %-9s %6s %9s %9s %6s\n", "pair", "technique", "setup", "traversal", "handshake", "ttfb" }
	NF < 5 || $5 == "" { bad = bad " " $1 "(no first byte)"; next }
	{
		setup = $3 - $4; hs = $5 - $3
		printf "%-18s %-9s %6d %9d %9d %6d\n", $1, $2, setup, $4, hs, $5
		c = ($2 == "relay") ? "relay" : ($2 == "birthday") ? "birthday" : "direct"
		k = ++cnt[c]; S[c, k] = setup; T[c, k] = $4; H[c, k] = hs; F[c, k] = $5
		goal = (c == "birthday") ? 10000 : (c == "direct") ? 4 * rtt : $4
		if (c != "relay" && $4 > goal) bad = bad " " $1 "(traversal " $4 " ms)"
		if (c == "direct" && hs > 3 * rtt) bad = bad " " $1 "(handshake " hs " ms)"
		if ($5 > setup + goal + 3 * rtt) bad = bad " " $1 "(first byte " $5 " ms)"
	}
	END {
		for (c in cnt) {
			n = cnt[c]
			for (k = 1; k <= n; k++) { s[k] = S[c, k]; t[k] = T[c, k]; h[k] = H[c, k]; f[k] = F[c, k] }
			printf "type=result bench=connect class=%s pairs=%d delay_ms=%d rtt_ms=%d setup_ms=%d traversal_ms=%d handshake_ms=%d ttfb_ms=%d\n", c, n, delay, rtt, med(s, n), med(t, n), med(h, n), med(f, n)
		}
		if (bad != "") print "missed goals:" bad
		exit (bad != "")
	}'
