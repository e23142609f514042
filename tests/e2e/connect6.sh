#!/bin/bash
# The traversal matrix's IPv6 rows: every pair of dual-stack hosts whose
# IPv6 is at most a stateful firewall (any filtering) or NPTv6 gets a
# direct path over IPv6 through tech-tool, with the technique exact and
# the family checked in the path record: hole punching needs no port
# guessed over IPv6, so pairs whose IPv4 NATs both map per destination
# (relayed over IPv4) connect directly too.  h-prc-6, IPv6-only, reaches
# an IPv6 peer directly and has no direct path to h-upnp (IPv4-only).
# The control: the same pairs with IPv6 candidates not offered (-4) get
# no direct path, so the rows depend on IPv6 candidates.  Then
# nat-connect through nat-rendezvousd on both families: h-sym to h-adm
# carries its stream (QUIC) over IPv6 punched directly; h-prc-6 reaches
# h-adm directly over IPv6 and h-upnp (IPv4-only) through the relay.
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
	[ "$a:$b:$opt" = h-sym:h-blk: ] && nblk=$n
done <<<"$ROWS"
# -v's reason names each family.
expect "h-sym-h-blk reason" \
    "$(grep '^type=nopath ' "$T/pairs/$nblk/a.out" | field why | unescape)" \
    "no direct path: peer's network blocks UDP; not over IPv6: the peer's network blocks UDP over IPv6"
echo
echo "pair                   technique path_ms  candidates or reason"
sed 's/^ROW //' "$T/table"

# nat-connect, a message of several datagrams each way.
B=$NATKIT_BIN
URL4=http://$STUN:80 URL6=http://[2001:db8:fffe::10]:80
start_ready rvd 10 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -g 20 \
    -l $STUN:80 -l '[2001:db8:fffe::10]:80'
url_of() { [ "$1" = h-prc-6 ] && echo $URL6 || echo $URL4; }
mkdir -p "$T/acc" "$T/nc"
cat >"$T/accept.sh" <<EOS
#!/bin/sh
read -r req
from=\$(printf '%s\n' "\$req" | tr ' ' '\n' | sed -n 's/^from=//p')
{ printf '%s\n' "\$req"; cat "$T/msg.\$1"; } | exec "$B/nat-connect" \
    --accept -r -v -s "\$2" -w 10 >"$T/acc/\$1.\$from.out" 2>"$T/acc/\$1.\$from.err"
EOS
chmod +x "$T/accept.sh"
for h in h-sym h-adm h-prc-6 h-upnp; do
	{ head -c 2250 /dev/urandom | base64 -w 0; echo " from $h"; } >"$T/msg.$h"
	URL=$(url_of $h) register_host $h $h $h "$T/accept.sh $h $(url_of $h)"
	eval "ID_${h//-/_}=$(field id <<<"$READY")"
done
: >"$T/table"
# nc_row A B WANT: WANT is TECHNIQUE/FAMILY of the path record.
nc_row() {
	local a=$1 b=$2 want=$3 d=$T/nc/$1.$2 acc rc t f v
	mkdir -p "$d"
	"$LAB" exec "$a" -- env NATKIT_HOME="$T/home/$a" "$B/nat-connect" -r -v \
	    -s "$(url_of $a)" -w 10 "$b" <"$T/msg.$a" >"$d/data" 2>"$d/err"
	rc=$?
	v=ID_${a//-/_}
	acc=$T/acc/$b.${!v}
	for _ in $(seq 50); do
		grep -q '^type=\(closed\|failed\) ' "$acc.err" 2>/dev/null && break
		sleep 0.1
	done
	expect "nat-connect $a-$b exit" $rc 0
	t=$(rec path "$d/err" | field technique)
	f=$(family "$(rec path "$d/err" | field remote)")
	[ "$t" = relay ] && f=-
	expect "nat-connect $a-$b technique/family" "$t/$f" "$want"
	expect "nat-connect $a-$b bytes to $a intact" \
	    "$(cmp -s "$d/data" "$T/msg.$b" && echo yes)" yes
	expect "nat-connect $a-$b bytes to $b intact" \
	    "$(cmp -s "$acc.out" "$T/msg.$a" && echo yes)" yes
	printf 'ROW %-22s %-9s %6s  %s\n' "$a-$b" "$t/$f" \
	    "$(rec path "$d/err" | field traversal-ms)" \
	    "$(rec path "$d/err" | field cands)" >>"$T/table"
	[ "$rc" = 0 ] && [ "$t/$f" = "$want" ] ||
	    sed 's/^/    a| /' "$d/err" | unescape | tail -n 30
}
nc_row h-sym h-adm punch/6
nc_row h-prc-6 h-adm punch/6
nc_row h-prc-6 h-upnp relay/-
echo
echo "nat-connect            technique traversal_ms  candidates"
sed 's/^ROW //' "$T/table"
finish
