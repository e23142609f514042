#!/bin/bash
# nat-connect through the real nat-rendezvousd: every host of the lab
# probes, registers with nat-register -e running nat-connect --accept, and
# every pair of NAT types (plus two hosts behind one NAT) connects by name,
# each side sending a message of several datagrams that must arrive
# intact.  Pairs where both sides map per destination or one blocks UDP
# get the relay through the server, every other pair a direct path.  Then:
# --print hands the path to the real nc, a message each way; a forged and
# an altered answer, and an altered offer, are refused (exit 76); a peer
# that never answers, and one that crashed, are offline (exit 75 or 1).
# Offers and answers travel sealed (sealed.sh); the forged ones here are
# sealed by seal-tool, so that what is refused is what they forge; one in
# the clear is refused for that.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
SEAL=$(dirname "$B")/tests/e2e/seal-tool
SRV=198.51.100.10
URL=http://$SRV:80
GRACE=20
t0=$SECONDS
command -v nc >/dev/null || skip "nc (netcat-openbsd) is not installed"
[ -x "$SEAL" ] || fail "no $SEAL: run make first"
# The hosts of the matrix (CONNECT_HOSTS for others, as
# tests/bench/outcomes.sh runs), two of them behind one NAT, and their
# routers.
HOSTS=${CONNECT_HOSTS:-"h-open h-fc h-rc h-prc h-sym h-adm h-upnp h-blk"}
ALL=$HOSTS
case " $HOSTS " in *" h-prc "*) ALL="$HOSTS h-prc-b" ;; esac
ROUTERS=$(for h in $ALL; do r=${h#h-}; echo "${r%-b}"; done | sort -u)
lab_up
# The benchmarks (tests/bench/connect.sh, outcomes.sh) delay every
# router's WAN.
if [ -n "${CONNECT_DELAY:-}" ]; then
	for r in $ROUTERS; do
		"$LAB" delay "$r" "$CONNECT_DELAY" || fail "nat-lab delay $r"
	done
fi
start_ready rvd 10 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -v -v -g $GRACE \
    -l $SRV:80
expect "server ready line" "$READY" "ready http=$SRV:80 ws=/v1/ws"

mkdir -p "$T/prof" "$T/acc" "$T/pairs"
probe_hosts $SRV $ALL
for h in $ALL; do
	# Several datagrams each way: 3000 bytes plus a trailer.
	{ head -c 2250 /dev/urandom | base64 -w 0; echo " from $h"; } >"$T/msg.$h"
done

# The responder side, run by nat-register -e with the request on stdin:
# its output named after the initiator; $T/mode.HOST says how to answer
# (pipe: the host's message; print: --print; mute: never answer).
cat >"$T/accept.sh" <<EOF
#!/bin/sh
h=\$1
read -r req
from=\$(printf '%s\n' "\$req" | tr ' ' '\n' | sed -n 's/^from=//p')
case \$(cat "$T/mode.\$h" 2>/dev/null) in
mute) cat >/dev/null; exit 0 ;;
print) printf '%s\n' "\$req" | exec "$B/nat-connect" --accept --print --keepalive 1 \
    -s $URL -w 10 >"$T/acc/\$h.\$from.out" 2>"$T/acc/\$h.\$from.err" ;;
*) { printf '%s\n' "\$req"; cat "$T/msg.\$h"; } | exec "$B/nat-connect" \
    --accept -r -v -s $URL -w 10 >"$T/acc/\$h.\$from.out" 2>"$T/acc/\$h.\$from.err" ;;
esac
EOF
chmod +x "$T/accept.sh"

# register HOST [NAME [HOME]]: nat-register on HOST with the key in HOME.
register() {
	local h=$1 name=${2:-$1} home=${3:-${2:-$1}}
	register_host "$h" "$name" "$home" "$T/accept.sh $name"
	eval "ID_${home//-/_}=$(field id <<<"$READY") PID_${home//-/_}=$LAST_PID"
}
for h in $ALL; do register "$h"; done
id_of() { local v=ID_${1//-/_}; echo "${!v}"; }

# connect N A B [ARGS]: A connects to B by name with its message on stdin.
connect() {
	local n=$1 a=$2 b=$3 d=$T/pairs/$1
	shift 3
	mkdir -p "$d"
	"$LAB" exec "$a" -- env NATKIT_HOME="$T/home/$a" "$B/nat-connect" -r -v \
	    -s "$URL" -w 10 "$@" "$b" <"$T/msg.$a" >"$d/data" 2>"$d/err"
	echo $? >"$d/rc"
}

dependent() { case $1 in h-sym | h-adm) return 0 ;; esac; return 1; }
no_direct() {
	[ "$1" = h-blk ] || [ "$2" = h-blk ] && return 0
	dependent "$1" && dependent "$2"
}

# check N A B: asserts and adds the table row.
check() {
	local n=$1 a=$2 b=$3 d=$T/pairs/$1 rc acc ta tb why ttfb pms
	rc=$(cat "$d/rc")
	acc=$T/acc/$b.$(id_of "$a")
	# The responder may still be finishing its side.
	for _ in $(seq 50); do
		grep -q '^type=\(closed\|failed\) ' "$acc.err" 2>/dev/null && break
		sleep 0.1
	done
	expect "$a-$b exit" "$rc" 0
	ta=$(rec path "$d/err" | field technique)
	tb=$(rec path "$acc.err" | field technique)
	expect "$a-$b same technique both sides" "$tb" "$ta"
	if no_direct "$a" "$b"; then
		expect "$a-$b technique" "$ta" relay
		# Both random: spray's search is off unless --hard, and says so.
		if dependent "$a" && dependent "$b"; then
			why=$(grep '^type=attempt technique=spray ' "$d/err" | head -n 1 | field why | unescape)
			case $why in
			*"off unless nat-connect --hard (relay needed)") echo "ok   $a-$b spray: $why" ;;
			*) expect "$a-$b spray skipped" "$why" "... off unless nat-connect --hard (relay needed)" ;;
			esac
		fi
	else
		case $ta in '' | relay) expect "$a-$b technique" "${ta:-none}" "direct (not relay)" ;; esac
	fi
	expect "$a-$b bytes to $a intact" "$(cmp -s "$d/data" "$T/msg.$b" && echo yes)" yes
	expect "$a-$b bytes to $b intact" "$(cmp -s "$acc.out" "$T/msg.$a" && echo yes)" yes
	ttfb=$(rec closed "$d/err" | field first-byte-ms)
	pms=$(rec path "$d/err" | field traversal-ms)
	printf 'ROW %-18s %-9s %8s %8s  %s\n' "$a-$b" "${ta:--}" "${pms:--}" \
	    "${ttfb:--}" "$(rec path "$d/err" | field cands)" >>"$T/table"
	if [ "$rc" != 0 ] || [ -z "$ta" ]; then
		sed 's/^/    a| /' "$d/err" | unescape | tail -n 20
		sed 's/^/    b| /' "$acc.err" | unescape | tail -n 20
	fi
}

# The routers forget their UDP mappings between batches; nat-lab flush
# would cut the nat-register WebSockets too (TCP through the same NATs).
flush_udp() {
	local r
	for r in $ROUTERS; do
		"$LAB" exec "r-$r" -- conntrack -D -p udp >/dev/null 2>&1
	done
}

PAIRS=""
set -- $HOSTS
while [ $# -gt 0 ]; do
	a=$1; shift
	for b in "$@"; do PAIRS="$PAIRS $a:$b"; done
done
case " $ALL " in *" h-prc-b "*) PAIRS="$PAIRS h-prc:h-prc-b" ;; esac
# A subset while debugging: CONNECT_PAIRS="h-prc:h-fc ...".
PAIRS=${CONNECT_PAIRS:-$PAIRS}

# Batches of pairs that share no host (nor NAT), run at once.
n=0
left=$PAIRS
for _ in $(seq 40); do
	[ -n "${left// /}" ] || break
	used=" " batch="" rest=""
	for p in $left; do
		a=${p%%:*} b=${p#*:} ka=${p%%:*} kb=${b%-b}
		case $used in *" $ka "* | *" $kb "*) rest="$rest $p"; continue ;; esac
		used="$used$ka $kb "
		batch="$batch $p"
	done
	left=$rest
	flush_udp
	jobs_=""
	for p in $batch; do
		n=$((n + 1))
		echo "$n ${p%%:*} ${p#*:}" >>"$T/order"
		connect $n "${p%%:*}" "${p#*:}" &
		jobs_="$jobs_ $!"
		PIDS="$PIDS $!"
	done
	wait $jobs_
done
while read -r i a b; do check "$i" "$a" "$b"; done <"$T/order"
echo
echo "pair               technique  trav_ms  ttfb_ms  candidates or reason"
sed 's/^ROW //' "$T/table"
echo "$n pairs through the server in $((SECONDS - t0)) s"
# Keep the evidence while debugging: CONNECT_KEEP=DIR.
[ -z "${CONNECT_KEEP:-}" ] || { rm -rf "$CONNECT_KEEP"; cp -r "$T" "$CONNECT_KEEP"; }
[ -z "${CONNECT_ONLY_MATRIX:-}" ] || finish

# --print, then the real nc on both sides, a message each way.
flush_udp
echo print >"$T/mode.h-fc"
n=$((n + 1))
connect $n h-prc h-fc --print --keepalive 1
d=$T/pairs/$n
expect "--print: exit" "$(cat "$d/rc")" 0
pa=$(rec path "$d/data")
acc=$T/acc/h-fc.$(id_of h-prc)
for _ in $(seq 50); do [ -n "$(rec path "$acc.out")" ] && break; sleep 0.1; done
pb=$(rec path "$acc.out")
expect "--print: one path record" "$(field proto <<<"$pa")/$(field proto <<<"$pb")" udp/udp
echo "     initiator: $pa"
echo "     responder: $pb"
# ncat HOST PATHRECORD TEXT OUT: nc on the path's local port to its remote.
ncat() {
	local lp=$(field local <<<"$2") rm=$(field remote <<<"$2")
	(sleep 1; echo "$3"; sleep 3) | timeout 8 "$LAB" exec "$1" -- \
	    nc -u -w 2 -p "${lp##*:}" "${rm%:*}" "${rm##*:}" >"$4" 2>"$4.err"
}
for _ in $(seq 30); do kill -0 "$(pgrep -P "$PID_h_fc" | head -n 1)" 2>/dev/null || break; sleep 0.1; done
ncat h-prc "$pa" "nc-from-prc" "$T/nc.prc" &
p1=$!
ncat h-fc "$pb" "nc-from-fc" "$T/nc.fc" &
p2=$!
PIDS="$PIDS $p1 $p2"
wait $p1 $p2
expect "nc over the punched path: to h-prc" "$(head -n 1 "$T/nc.prc")" nc-from-fc
expect "nc over the punched path: to h-fc" "$(head -n 1 "$T/nc.fc")" nc-from-prc
echo pipe >"$T/mode.h-fc"

# A peer that takes the offer but never answers: offline, exit 75.
register h-fc mute
echo mute >"$T/mode.mute"
MUTE=$(id_of mute) PRC=$(id_of h-prc)
"$LAB" exec h-prc -- env NATKIT_HOME="$T/home/h-prc" "$B/nat-connect" -r \
    -s "$URL" -w 2 mute </dev/null >/dev/null 2>"$T/mute.err"
expect "no answer: exit" "$?" 75
expect "no answer: reason" "$(rec failed "$T/mute.err" | field reason | unescape)" \
    "peer $MUTE is offline: no answer within 2 s"

# forge N BODYFILE HOME [clear]: while h-prc waits for mute's answer, the
# test plays the server and sends it BODY (a key=value line with NONCE and
# TAG in it), signed by HOME's key unless it carries a sig already, and
# sealed to h-prc's key unless clear.
forge() {
	local n=$1 body=$2 home=$3 req tag nonce seal="$SEAL -K $T/home/$3 seal $T/home/h-prc"
	: >"$T/reg-mute.out.seen"
	"$LAB" exec h-prc -- env NATKIT_HOME="$T/home/h-prc" "$B/nat-connect" -r \
	    -s "$URL" -w 8 mute </dev/null >/dev/null 2>"$T/forge$n.err" &
	local pid=$!
	PIDS="$PIDS $pid"
	# Until mute has its request n, or the initiator gave up: not a
	# margin of seconds, which a busy machine can pass.  The count
	# first: a request printed between two reads would leave req the
	# one before, whose session is gone.
	while kill -0 "$pid" 2>/dev/null; do
		[ "$(grep -c '^type=request ' "$T/reg-mute.out")" -ge "$n" ] && break
		sleep 0.05
	done
	req=$(grep '^type=request ' "$T/reg-mute.out" | tail -n 1)
	tag=$(field tag <<<"$req") nonce=$(field nonce <<<"$req")
	[ "${4:-}" = clear ] && seal=cat
	sed "s/NONCE/$nonce/; s/EXPIRES/$(($(date +%s) + 50))/" "$body" | $seal |
	    "$LAB" exec h-fc -- env NATKIT_HOME="$T/home/$home" "$B/nat-query" \
	    -w 2 -s "$URL" --signal "$PRC/$tag" >/dev/null
	wait $pid
	echo $? >"$T/forge$n.rc"
}
prof=$(head -n 1 "$T/prof/h-fc" | sed 's/^type=profile //')
echo "type=answer to=$PRC nonce=NONCE expires=EXPIRES cands=host:udp:10.0.0.2:9 eph=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA= $prof" >"$T/answer.kv"
# 1: signed by another peer's key, under its own id.
mkdir -p -m 700 "$T/home/evil"
forge 2 "$T/answer.kv" evil
expect "answer signed by another key: exit" "$(cat "$T/forge2.rc")" 76
expect "answer signed by another key: reason" \
    "$(rec failed "$T/forge2.err" | field reason | unescape | sed 's/by [a-z2-7]\{26\}, not/by X, not/')" \
    "answer refused: the answer is signed by X, not by $MUTE"
# 2: signed by mute, then altered: mute signs it to itself (its
# nat-register prints the signed fields), the test changes the candidates.
sed "s/ to=[^ ]*/ to=$PRC/" "$T/answer.kv" >"$T/answer.self"
nonce0=$(grep '^type=request ' "$T/reg-mute.out" | tail -n 1 | field nonce)
sed "s/NONCE/$nonce0/; s/EXPIRES/$(($(date +%s) + 55))/" "$T/answer.self" |
    "$LAB" exec h-fc -- env NATKIT_HOME="$T/home/mute" "$B/nat-query" -w 2 \
    -s "$URL" --signal "$MUTE" >/dev/null
for _ in $(seq 50); do grep -q '^type=signal .*body-type=answer' "$T/reg-mute.out" && break; sleep 0.1; done
signed=$(grep '^type=signal .*body-type=answer' "$T/reg-mute.out" | tail -n 1 |
    sed 's/^type=signal from=[^ ]* body-type=/type=/; s/ body-from=/ from=/')
expect "a signed answer to alter" "$(field from <<<"$signed")" "$MUTE"
# The nonce and expiry are signed: the altered copy keeps them, so the
# initiator that waits sees a stale nonce unless the test re-uses it:
# alter only the candidates, and send it with the live nonce spliced in
# (both changes break the signature, which is what is checked first).
sed 's/ cands=[^ ]*/ cands=host:udp:10.6.6.6:6/; s/ nonce=[^ ]*/ nonce=NONCE/' <<<"$signed" >"$T/answer.altered"
forge 3 "$T/answer.altered" mute
expect "altered answer: exit" "$(cat "$T/forge3.rc")" 76
expect "altered answer: reason" "$(rec failed "$T/forge3.err" | field reason | unescape)" \
    "answer refused: the answer from $MUTE was altered on the way: its signature does not verify"
# 4: mute's own signed answer, in the clear: refused unopened.
forge 4 "$T/answer.self" mute clear
expect "answer in the clear: exit" "$(cat "$T/forge4.rc")" 76
expect "answer in the clear: reason" \
    "$(rec failed "$T/forge4.err" | field reason | unescape | sed 's,from [a-z2-7]\{26\}/q[0-9a-f]*,from X,')" \
    "answer refused: the answer from X is not sealed to this peer's key"

# An altered offer on nat-connect --accept's stdin.
req=$(grep '^type=request ' "$T/reg-mute.out" | tail -n 1)
sed 's/ cands=[^ ]*/ cands=host:udp:10.6.6.6:6/' <<<"$req" | "$LAB" exec h-fc -- \
    env NATKIT_HOME="$T/home/mute" "$B/nat-connect" --accept -s "$URL" \
    -w 2 >/dev/null 2>"$T/offer.err"
expect "altered offer: exit" "$?" 76
expect "altered offer: reason" "$(tail -n 1 "$T/offer.err")" \
    "nat-connect: offer refused: the offer from $PRC was altered on the way: its signature does not verify"

# A second peer calls itself mute: the name is refused with both listed;
# an alias says which one is meant, and wins over the server.
echo mute >"$T/mode.mute2"
register h-sym mute mute2
"$LAB" exec h-prc -- env NATKIT_HOME="$T/home/h-prc" "$B/nat-connect" \
    -s "$URL" -w 2 mute </dev/null >/dev/null 2>"$T/ambiguous.err"
expect "ambiguous name: exit" "$?" 68
expect "ambiguous name: both listed" \
    "$(grep -c -e "^  $MUTE " -e "^  $(id_of mute2) " "$T/ambiguous.err")" 2
printf '# test\nmute %s\n' "$(id_of mute2)" >"$T/home/h-prc/aliases"
"$LAB" exec h-prc -- env NATKIT_HOME="$T/home/h-prc" "$B/nat-connect" -r \
    -s "$URL" -w 1 mute </dev/null >/dev/null 2>"$T/alias.err"
expect "alias: exit" "$?" 75
expect "alias: the alias's peer" "$(rec failed "$T/alias.err" | field reason | unescape)" \
    "peer $(id_of mute2) is offline: no answer within 1 s"
rm "$T/home/h-prc/aliases"

# A peer whose nat-register crashed: still listed (grace), but offline;
# -j: the failure as JSON on stderr.
{ kill -9 "$PID_h_rc" && wait "$PID_h_rc"; } 2>/dev/null
"$LAB" exec h-prc -- env NATKIT_HOME="$T/home/h-prc" "$B/nat-connect" -j \
    -s "$URL" -w 2 h-rc </dev/null >/dev/null 2>"$T/crash.err"
rc=$?
why=$(grep '^{' "$T/crash.err" | jq -r 'select(.type == "failed") | .reason')
expect "crashed peer: -j record's exit" "$(grep '^{' "$T/crash.err" | jq -r 'select(.type == "failed") | .exit')" "$rc"
case $rc:$why in
1:"peer $(id_of h-rc) is offline"* | 75:"peer $(id_of h-rc) is offline"*) echo "ok   crashed peer: exit $rc: $why" ;;
*) expect "crashed peer" "$rc:$why" "1 or 75: peer ... is offline" ;;
esac
echo "     run time $((SECONDS - t0)) s"
finish
