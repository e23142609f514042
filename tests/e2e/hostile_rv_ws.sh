#!/bin/bash
# hostile_rv_ws.sh: nat-rendezvousd's WebSocket sessions against hostile
# peers and servers (issue 12): a man in the middle relaying the real
# server's challenge, signals that grow when forwarded, a flood at one
# victim from many connections.  Each attack asserts its exact outcome,
# and an honest peer is served during and after it.  Loopback only.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

RVD=$NATKIT_BIN/nat-rendezvousd
TOOL=$(dirname "$NATKIT_BIN")/tests/e2e/rv-client-tool
[ -x "$RVD" ] && [ -x "$TOOL" ] || fail "build first: no $RVD or $TOOL"
command -v python3 >/dev/null || skip "needs python3"

# tool NAME HOST:PORT <<script: runs rv-client-tool as NAME; its output
# in $T/NAME.log, its exit status returned.
tool() {
	local name=$1 at=$2
	"$TOOL" -w 5 -k "$name" run "$at" >"$T/$name.log" 2>&1
}

# honest: a peer that is not under attack registers and is answered.
honest() {
	tool "honest$1" "127.0.0.1:$PORT" <<EOF
connect
expect hello
auth
expect welcome
register $(date +%s%3N)
expect registered
close
EOF
	expect "an honest peer is served ($1)" "$?" 0
}

start_ready rvd 10 "$RVD" -d -v -l 127.0.0.1:0
[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+)\  ]] || fail "ready line: $READY"
PORT=${BASH_REMATCH[1]}
expect "the names an auth must sign, by default the listener" \
    "$(grep -c "auth records must name one of: 127.0.0.1:$PORT\$" "$T/rvd.err")" 1

# --- a man in the middle relays the real server's challenge ---------------
# The victim dials the relay (a plain TCP forwarder here: it could read
# and change every byte of a plain connection) and signs its auth for the
# server it dialled; the relay passes it, Host header and all, to the real
# server, which must see that it is not the server named.
start_ready mitm 5 python3 "$NATKIT_TOP/tests/e2e/tcp-relay.py" 127.0.0.1 "$PORT" 120
MITM=${READY#ready }
tool victim "127.0.0.1:$MITM" <<'EOF'
connect
expect hello
auth
expect error code=bad-signature
expect-close 1008
EOF
expect "a challenge relayed by another server is refused" "$?" 0
expect "... saying why" "$(grep -c 'server does not name this server' "$T/victim.log")" 1
tool direct "127.0.0.1:$PORT" <<'EOF'
connect
expect hello
auth
expect welcome
close
EOF
expect "the same peer dialling the server itself is welcome" "$?" 0
honest mitm

# -N names the server: any port of those names, nothing else.
start_ready rvd2 10 "$RVD" -d -v -l 127.0.0.1:0 -N localhost
[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+)\  ]] || fail "ready line: $READY"
P2=${BASH_REMATCH[1]}
tool byname "127.0.0.1:$P2" <<EOF
connect host=localhost:$P2
expect hello
auth server=localhost:$P2
expect welcome
close
EOF
expect "-N localhost: a client dialling localhost is welcome" "$?" 0
tool byaddr "127.0.0.1:$P2" <<'EOF'
connect
expect hello
auth
expect error code=bad-signature
EOF
expect "-N localhost: one dialling 127.0.0.1 is not" "$?" 0

# A TLS server without -N answers to its certificate's names.
if command -v openssl >/dev/null; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -days 2 -subj /CN=cn.test -addext subjectAltName=DNS:rv.test,DNS:alt.test \
	    -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1 ||
	    fail "openssl req"
	start_ready rvd3 10 "$RVD" -d -v -l 127.0.0.1:0 -c "$T/cert.pem" -k "$T/key.pem"
	expect "a certificate's names" \
	    "$(grep -c 'auth records must name one of: rv.test alt.test$' "$T/rvd3.err")" 1
	printf 'not a certificate\n' >"$T/bad.pem"
	timeout 10 "$RVD" -d -l 127.0.0.1:0 -c "$T/bad.pem" -k "$T/key.pem" \
	    >/dev/null 2>"$T/bad.err"
	rc=$?
	expect "a certificate that names nothing, no -N: exit" "$rc" 78
fi

# --- a signal that grows when forwarded -------------------------------------
# 8,192 bytes from a tagged session, whose "from" (ID/TAG) is longer than
# its "to": forwarded, it would pass what the victim takes.  The sender is
# told too-large; the victim's session goes on.
VICTIM=$("$TOOL" -k victim id)
pre="{\"type\":\"signal\",\"to\":\"$VICTIM\",\"body\":{\"p\":\""
big="$pre$(head -c $((8192 - ${#pre} - 3)) /dev/zero | tr '\0' x)\"}}"
expect "the big signal is 8192 bytes" "${#big}" 8192
tool victim "127.0.0.1:$PORT" <<EOF &
connect
expect hello
auth
expect welcome
tally 3
signal @victim {"alive":1}
expect signal
close
EOF
VPID=$!
sleep 1
tool tagged "127.0.0.1:$PORT" <<EOF
connect
expect hello
auth tag=t1
expect welcome
send $big
expect error code=too-large
close
EOF
expect "a signal too large once forwarded: refused to its sender" "$?" 0
wait "$VPID"
expect "... and the victim's session goes on" "$?" 0
expect "... having received nothing" "$(grep -c '^tally signal' "$T/victim.log")" 0
honest large

# --- a flood at one victim from many sessions ---------------------------------
# Ten senders with ids of their own, from one address, 300 signals each as
# fast as they can; signal budgets of 10 a second (-S 10).  Every signal
# either reaches the victim or is refused to its sender with
# rate-limited, and the victim gets no more than its budget allows over
# the time the flood took.
start_ready rvs 10 "$RVD" -d -l 127.0.0.1:0 -M 0 -S 10
[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+)\  ]] || fail "ready line: $READY"
PS=${BASH_REMATCH[1]}
tool fvictim "127.0.0.1:$PS" <<EOF &
connect
expect hello
auth
expect welcome
tally 8
close
EOF
VPID=$!
sleep 1
FV=$("$TOOL" -k fvictim id)
t0=$(date +%s%N)
senders=""
for i in 0 1 2 3 4 5 6 7 8 9; do
	printf '%s\n' connect "expect hello" auth "expect welcome" \
	    "flood 300 {\"type\":\"signal\",\"to\":\"$FV\",\"body\":{\"n\":$i}}" \
	    "tally 1" close |
	    "$TOOL" -w 5 -k "flood$i" run "127.0.0.1:$PS" >"$T/flood$i.log" 2>&1 &
	senders="$senders $!"
done
for p in $senders; do wait "$p"; done
secs=$(( ($(date +%s%N) - t0 + 999999999) / 1000000000 ))
wait "$VPID"
expect "the victim of a flood is not closed" "$?" 0
got=$(sed -n 's/^tally signal //p' "$T/fvictim.log")
refused=$(cat "$T"/flood?.log | sed -n 's/^tally error:rate-limited //p' |
    awk '{ n += $1 } END { print n + 0 }')
expect "every flooded signal delivered or refused as rate-limited" \
    "$((got + refused))" 3000
expect "the victim got at most its budget over ${secs} s (20 + 10/s)" \
    "$((got <= 20 + 10 * secs))" 1
m=$(curl -s -m 5 "http://127.0.0.1:$PS/metrics")
counted=$(sed -n 's/^natkit_signals_dropped_total{reason="\(sender-address\|sender-id\|to-peer\)"} //p' <<<"$m" |
    awk '{ n += $1 } END { print n + 0 }')
expect "the refusals are counted" "$counted" "$refused"
honest flood
finish
