#!/bin/bash
# redis.sh: two nat-rendezvousd instances sharing one Redis (its own
# redis-server on a loopback port of its own, nothing saved).  A peer on
# instance 1 and one on instance 2 see each other, signal each other and
# relay frames both ways; a peer that nat-register keeps on both survives
# the kill -9 of instance 1, whose own peer leaves instance 2's list within
# the TTL and registers again on a new instance; without Redis both
# instances serve their own peers and say degraded; when Redis is back the
# shared presence returns with nothing restarted.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
RVD=$B/nat-rendezvousd
TOOL=$(dirname "$B")/tests/e2e/rv-client-tool
TTL=4
[ -x "$RVD" ] && [ -x "$TOOL" ] || fail "build first: no $RVD or $TOOL"
command -v redis-server >/dev/null || skip "needs redis-server"
command -v curl >/dev/null || skip "needs curl"

# until SECS CMD...: runs CMD every 0.1 s until it succeeds (0) or SECS
# pass (1).
until_ok() {
	local i secs=$1
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# reaped PID: PID exited and was reaped; the cleanup must not signal it
# again (its number may belong to someone else by then).
reaped() {
	local p n=
	for p in $PIDS; do [ "$p" = "$1" ] || n="$n $p"; done
	PIDS=$n
}

# --- Redis on a port nobody else uses --------------------------------------
redis_start() {
	start_ready redis 10 sh -c 'echo ready; exec redis-server --port "$0" \
	    --bind 127.0.0.1 --save "" --appendonly no --daemonize no \
	    --loglevel warning' "$RPORT"
	REDIS_PID=$LAST_PID
	until_ok 5 sh -c "redis-cli -p $RPORT ping 2>/dev/null | grep -q PONG" ||
	    { cat "$T/redis.err"; fail "redis-server on $RPORT did not answer"; }
}
for try in 1 2 3 4 5; do
	RPORT=$((20000 + RANDOM % 20000))
	ss -Hltn "sport = :$RPORT" | grep -q . && continue
	break
done
redis_start
REDIS=redis://127.0.0.1:$RPORT

# rvd NAME: an instance on a port picked; its URL in URL.
rvd() {
	start_ready "$1" 10 "$RVD" -d -v -l 127.0.0.1:0 -g 2 --redis "$REDIS" -E $TTL
	[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+)\ ws=/v1/ws$ ]] ||
	    fail "$1 ready line: $READY"
	PORT=${BASH_REMATCH[1]}
	URL=http://127.0.0.1:$PORT
}
rvd i1; I1_PID=$LAST_PID; P1=$PORT; U1=$URL
rvd i2; I2=$LAST_PID; P2=$PORT; U2=$URL
until_ok 5 sh -c "curl -s $U1/healthz | grep -q '\"ok\"' && curl -s $U2/healthz | grep -q '\"ok\"'" ||
    fail "the instances did not reach Redis"

ALICE=$("$TOOL" -k alice id)
BOB=$("$TOOL" -k bob id)
ids() { curl -s "$1/v1/peers?limit=100" | jq -r '.peers[].id' | sort | tr '\n' ' '; }
listed() { curl -s "$1/v1/peers/$2" | jq -e ".id == \"$2\"" >/dev/null 2>&1; }
unlisted() { ! listed "$@"; }
# wsig PORT TO JSON: signals TO with body JSON from a session of its own
# on PORT (signals need an authenticated sender); prints what the server
# answered within a second as "tally" lines: nothing when delivered.
wsig() {
	printf '%s\n' connect "expect hello" auth "expect welcome" \
	    "signal $2 $3" "tally 1" |
	    "$TOOL" -k sender -w 5 run "127.0.0.1:$1" 2>&1 | grep '^tally' | tr '\n' ' '
}
# logged FILE TEXT: the tool printed a message holding TEXT.
logged() { grep -qF -- "$2" "$1"; }

# --- a peer on each instance: list, signal, relay both ways -----------------
# The tools keep their sessions (tally) for the phases after.
cat >"$T/alice.in" <<EOF
connect
expect hello
auth
expect welcome
register 1
expect registered
sleep 1
signal $BOB {"m":"to-bob"}
expect signal from=$BOB
send {"type":"relay","to":"$BOB","ref":"r1"}
expect relay-ok peer=$BOB ref=r1
frame frame-from-alice
expect frame data=frame-from-bob
tally 60
EOF
cat >"$T/bob.in" <<EOF
connect
expect hello
auth
expect welcome
register 1
expect registered
expect signal from=$ALICE
signal $ALICE {"m":"to-alice"}
send {"type":"relay","to":"$ALICE","ref":"r2"}
expect relay-ok peer=$ALICE ref=r2
frame frame-from-bob
expect frame data=frame-from-alice
tally 60
EOF
"$TOOL" -k alice -w 8 run 127.0.0.1:$P1 <"$T/alice.in" >"$T/alice.log" 2>&1 &
ALICE_PID=$!
"$TOOL" -k bob -w 8 run 127.0.0.1:$P2 <"$T/bob.in" >"$T/bob.log" 2>&1 &
BOB_PID=$!
PIDS="$PIDS $ALICE_PID $BOB_PID"
until_ok 10 logged "$T/alice.log" '"data":"frame-from-bob"'
until_ok 5 logged "$T/bob.log" '"data":"frame-from-alice"'
kill -0 $ALICE_PID 2>/dev/null && kill -0 $BOB_PID 2>/dev/null ||
    { cat "$T/alice.log" "$T/bob.log"; fail "a peer's tool stopped"; }
both="$(printf '%s\n' "$ALICE" "$BOB" | sort | tr '\n' ' ')"
expect "instance 1 lists both" "$(ids $U1)" "$both"
expect "instance 2 lists both" "$(ids $U2)" "$both"
expect "instance 2 serves alice's signed record" \
    "$(curl -s $U2/v1/peers/$ALICE | jq -r '.id + " " + .seq')" "$ALICE 1"
expect "bob got alice's signal through instance 2" \
    "$(grep -c '"body":{"m":"to-bob"}' "$T/bob.log")" 1
expect "alice got bob's signal through instance 1" \
    "$(grep -c '"body":{"m":"to-alice"}' "$T/alice.log")" 1
expect "alice's relay frame reached bob" \
    "$(grep -c '"type":"frame",.*"data":"frame-from-alice"' "$T/bob.log")" 1
expect "bob's relay frame reached alice" \
    "$(grep -c '"type":"frame",.*"data":"frame-from-bob"' "$T/alice.log")" 1
expect "a signal to instance 1 for bob" \
    "$(wsig $P1 $BOB '{"m":"http"}')" \
    ''
until_ok 3 logged "$T/bob.log" '"body":{"m":"http"}'
expect "bob got it" "$(grep -c '"body":{"m":"http"}' "$T/bob.log")" 1
out=$("$B/nat-query" -w 5 -s "$U2" "$ALICE" 2>"$T/query.err")
expect "nat-query on instance 2 finds alice of instance 1" \
    "$?:$(field id <<<"$out") $(field seq <<<"$out")" "0:$ALICE 1"
expect "a replay of alice's record on instance 2 is refused" \
    "$(curl -s -X POST -d "$("$TOOL" -k alice record 1 60)" $U2/v1/peers | jq -r .error)" \
    replay

# --- carol on both instances with nat-register; kill -9 instance 1 ----------
echo "type=profile nat=open public=127.0.0.1:4000" >"$T/carol.profile"
mkdir -m 700 "$T/carol"
start_ready carol 10 env NATKIT_HOME="$T/carol" sh -c 'exec "$@" <"$0"' \
    "$T/carol.profile" "$B/nat-register" -s "$U1" -s "$U2" -N carol \
    -e "cat >>$T/carol.signals"
CAROL=$(field id <<<"$READY")
until_ok 5 sh -c "[ \$(grep -c '^type=registered' $T/carol.out) = 2 ]"
expect "carol registered with both instances" \
    "$(grep -o '^type=registered .*server=[^ ]*' "$T/carol.out" | sed 's/.*server=//' | sort | tr '\n' ' ')" \
    "$(printf '%s\n' "$U1" "$U2" | sort | tr '\n' ' ')"
until_ok 3 listed $U2 "$CAROL"
expect "carol listed by instance 2" "$(curl -s $U2/v1/peers/$CAROL | jq -r .name)" carol

kill -9 $I1_PID
T0=$EPOCHREALTIME
wait $I1_PID 2>/dev/null
reaped $I1_PID
until_ok $((TTL + 3)) unlisted $U2 "$ALICE"
gone=$(awk "BEGIN { print $EPOCHREALTIME - $T0 }")
expect "alice gone from instance 2 within the TTL ($gone s)" \
    "$(awk "BEGIN { print ($gone <= $TTL + 0.3) }")" 1
expect "carol still listed by instance 2" "$(listed $U2 "$CAROL" && echo yes)" yes
expect "a signal to carol through instance 2" \
    "$(wsig $P2 $CAROL '{"type":"note","m":"after-crash"}')" \
    ''
until_ok 3 grep -q 'after-crash' "$T/carol.out"
expect "carol got it" "$(grep -c 'after-crash' "$T/carol.out")" 1
wait $ALICE_PID 2>/dev/null
reaped $ALICE_PID
# Alice comes back on a new instance 1.
rvd i3; P3=$PORT; U3=$URL
until_ok 5 sh -c "curl -s $U3/healthz | grep -q '\"ok\"'"
cat >"$T/alice2.in" <<EOF
connect
expect hello
auth
expect welcome
register 2
expect registered
tally 60
EOF
"$TOOL" -k alice -w 8 run 127.0.0.1:$P3 <"$T/alice2.in" >"$T/alice2.log" 2>&1 &
PIDS="$PIDS $!"
until_ok 5 listed $U2 "$ALICE"
expect "alice, registered again on the new instance, listed by instance 2" \
    "$(curl -s $U2/v1/peers/$ALICE | jq -r .seq)" 2
expect "the new instance lists bob and carol" "$(ids $U3)" \
    "$(printf '%s\n' "$ALICE" "$BOB" "$CAROL" | sort | tr '\n' ' ')"
expect "a signal to alice through instance 2" \
    "$(wsig $P2 $ALICE '{"m":"again"}')" \
    ''
until_ok 3 logged "$T/alice2.log" '"body":{"m":"again"}'
expect "alice got it" "$(grep -c '"body":{"m":"again"}' "$T/alice2.log")" 1

# --- an instance that stalls past the TTL is dropped, then comes back ------
kill -STOP "$I2"
until_ok $((TTL + 2)) unlisted $U3 "$BOB"
expect "a stalled instance's peer leaves the others' lists" \
    "$(unlisted $U3 "$BOB" && echo gone)" gone
sleep 1
kill -CONT "$I2"
until_ok 5 listed $U3 "$BOB"
expect "and is back once its instance is" "$(listed $U3 "$BOB" && echo back)" back

# --- Redis down: each instance serves its own, degraded ---------------------
# (The stalled instance may have reconnected once already.)
reconnects() { curl -s $U2/metrics | sed -n 's/^natkit_redis_reconnects_total //p'; }
R0=$(reconnects)
kill $REDIS_PID
wait $REDIS_PID 2>/dev/null
reaped $REDIS_PID
until_ok 5 sh -c "curl -s $U2/healthz | grep -q degraded && curl -s $U3/healthz | grep -q degraded"
expect "instance 2 degraded" "$(curl -s $U2/healthz | jq -r .status)" degraded
expect "new instance 1 degraded" "$(curl -s $U3/healthz | jq -r .status)" degraded
expect "metrics say so" "$(curl -s $U2/metrics | grep '^natkit_redis_degraded ')" \
    "natkit_redis_degraded 1"
expect "instance 2 lists its own peers" "$(ids $U2)" \
    "$(printf '%s\n' "$BOB" "$CAROL" | sort | tr '\n' ' ')"
expect "new instance 1 lists its own peer" "$(ids $U3)" "$ALICE "
expect "a signal within instance 2" \
    "$(wsig $P2 $BOB '{"m":"degraded"}')" \
    ''
until_ok 3 logged "$T/bob.log" '"body":{"m":"degraded"}'
expect "bob got it" "$(grep -c '"body":{"m":"degraded"}' "$T/bob.log")" 1
expect "alice is not reachable from instance 2" \
    "$(wsig $P2 $ALICE '{}')" "tally error:unknown-peer 1 "

# --- Redis back: shared presence returns, nothing restarted -----------------
redis_start
until_ok 15 sh -c "curl -s $U2/healthz | grep -q '\"ok\"' && curl -s $U3/healthz | grep -q '\"ok\"'"
until_ok 5 listed $U2 "$ALICE"
expect "instance 2 back to ok" "$(curl -s $U2/healthz | jq -r .status)" ok
all="$(printf '%s\n' "$ALICE" "$BOB" "$CAROL" | sort | tr '\n' ' ')"
expect "instance 2 lists everyone again" "$(ids $U2)" "$all"
until_ok 5 sh -c "[ \"\$(curl -s $U3/v1/peers | jq -r '.peers | length')\" = 3 ]"
expect "new instance 1 lists everyone again" "$(ids $U3)" "$all"
expect "a signal across again" \
    "$(wsig $P2 $ALICE '{"m":"back"}')" \
    ''
until_ok 3 logged "$T/alice2.log" '"body":{"m":"back"}'
expect "alice got it" "$(grep -c '"body":{"m":"back"}' "$T/alice2.log")" 1
expect "the reconnect counted" "$(reconnects)" $((R0 + 1))
finish
