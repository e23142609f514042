#!/bin/bash
# The traversal matrix's IPv6 rows: every pair of dual-stack hosts whose
# IPv6 is at most a stateful firewall (any filtering) or NPTv6 gets a
# direct path over IPv6 through tech-tool, with the technique exact and
# the family checked in the path record: hole punching needs no port
# guessed over IPv6, so pairs whose IPv4 NATs both map per destination
# (relayed over IPv4) connect directly too.  h-prc-6, IPv6-only, reaches
# an IPv6 peer directly and has no direct path to h-upnp (IPv4-only).
# The control: the same pairs with IPv6 candidates not offered (-4) get
# no direct path (or IPv4), so the rows depend on IPv6 candidates.
. "$NATKIT_TOP/tests/e2e/lib.sh"

TOOL=$NATKIT_BIN/../tests/e2e/tech-tool
STUN=198.51.100.10 STUN6=[2001:db8:fffe::10]:3478
[ -x "$TOOL" ] || fail "$TOOL not built (make)"
lab_up

# Each host's profile over both families (ip6- keys, both servers).
mkdir -p "$T/prof" "$T/pairs"
probes=""
for h in h-sym h-adm h-sym2 h-rc h-prc h-prc2 h-prc-6 h-upnp h-open h-blk; do
	"$LAB" exec "$h" -- "$NATKIT_BIN/nat-probe" -s $STUN -s "$STUN6" \
	    >"$T/prof/$h" 2>"$T/prof/$h.err" &
	probes="$probes $!"
done
PIDS="$PIDS $probes"
wait $probes

# run_pair N A B [OPT]: both sides at once; results in $T/pairs/N.
run_pair() {
	local d=$T/pairs/$1 a=$2 b=$3 opt=${4:-}
	mkdir -p "$d"
	"$LAB" exec "$a" -- "$TOOL" -s $STUN -S "$STUN6" -P "$T/prof/$a" -o "$d/a.side" \
	    -i "$d/b.side" -I -n "$a" -w 30 $opt >"$d/a.out" 2>"$d/a.err" &
	local pa=$!
	"$LAB" exec "$b" -- "$TOOL" -s $STUN -S "$STUN6" -P "$T/prof/$b" -o "$d/b.side" \
	    -i "$d/a.side" -n "$b" -w 30 $opt >"$d/b.out" 2>"$d/b.err" &
	local pb=$!
	PIDS="$PIDS $pa $pb"
	wait $pa; echo $? >"$d/a.rc"
	wait $pb; echo $? >"$d/b.rc"
}

# family ADDR: 6 for "[...]:port", 4 otherwise.
family() { case $1 in \[*) echo 6 ;; '') echo - ;; *) echo 4 ;; esac; }

# check N A B WANT: WANT is TECHNIQUE/FAMILY ("punch/6") or "none".
check() {
	local d=$T/pairs/$1 a=$2 b=$3 want=$4 ra rb ta tb fa fb ms
	ra=$(cat "$d/a.rc") rb=$(cat "$d/b.rc")
	if [ "$want" = none ]; then
		expect "$a-$b${5:+ $5} exit" "$ra/$rb" 1/1
		printf 'ROW %-22s %-9s %6s  %s\n' "$a-$b${5:+ $5}" none - \
		    "$(grep '^type=nopath ' "$d/a.out" | field why | unescape)" >>"$T/table"
		return
	fi
	expect "$a-$b${5:+ $5} exit" "$ra/$rb" 0/0
	ta=$(grep '^type=path ' "$d/a.out" | field technique)
	tb=$(grep '^type=path ' "$d/b.out" | field technique)
	fa=$(family "$(grep '^type=path ' "$d/a.out" | field remote)")
	fb=$(family "$(grep '^type=path ' "$d/b.out" | field remote)")
	expect "$a-$b${5:+ $5} technique/family" "$ta/$fa $tb/$fb" "$want $want"
	expect "$a-$b message to $a" "$(grep '^type=message ' "$d/a.out" | field text)" "hello-from-$b"
	expect "$a-$b message to $b" "$(grep '^type=message ' "$d/b.out" | field text)" "hello-from-$a"
	ms=$(grep '^type=path ' "$d/a.out" | field ms)
	printf 'ROW %-22s %-9s %6s  %s\n' "$a-$b${5:+ $5}" "$ta/$fa" "${ms:--}" \
	    "$(grep '^type=path ' "$d/a.out" | field cands)" >>"$T/table"
	if [ "$ra/$rb" != 0/0 ] || [ "$ta/$fa" != "$want" ]; then
		sed 's/^/    a| /' "$d/a.out" "$d/a.err" | unescape
		sed 's/^/    b| /' "$d/b.out" "$d/b.err" | unescape
	fi
}

# The rows: initiator, responder, what it must get, tech-tool options.
ROWS="
h-sym   h-adm    punch/6
h-sym   h-sym2   punch/6
h-adm   h-sym2   punch/6
h-rc    h-sym    punch/6
h-prc2  h-sym    punch/6
h-prc-6 h-sym    punch/6
h-prc-6 h-prc2   punch/6
h-prc-6 h-upnp   none
h-sym   h-blk    none
h-sym   h-adm    none     -4
h-prc-6 h-sym    none     -4
"
n=0
: >"$T/table"
while read -r a b want opt; do
	[ -n "$a" ] || continue
	n=$((n + 1))
	"$LAB" flush all >/dev/null 2>&1
	run_pair $n "$a" "$b" "$opt"
	check $n "$a" "$b" "$want" "$opt"
done <<<"$ROWS"
echo
echo "pair                   technique path_ms  candidates or reason"
sed 's/^ROW //' "$T/table"
finish
