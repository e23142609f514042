#!/bin/bash
# The rendezvous flow across the lab against the real nat-rendezvousd:
# alice (port-restricted cone) and bob (symmetric) probe and register;
# each sees the other with the right NAT type, verified; a signed request
# from alice, sealed to bob's key, reaches bob's nat-register and its -e
# command exactly, opened, and one in the clear does not; a plain
# signal from bob reaches alice; a server restart makes both re-register
# by themselves; a crashed nat-register is gone within the grace period, a
# stopped one at once; a record a server altered is not trusted; a down
# first server fails over to the next.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
SEAL=$(dirname "$B")/tests/e2e/seal-tool
SRV=198.51.100.10
URL=http://$SRV:80
GRACE=2
t0=$EPOCHREALTIME

[ -x "$SEAL" ] || fail "no $SEAL: run make first"
lab_up prc,sym
start_ready reflect 10 "$LAB" exec srv -- "$B/nat-reflect" -d \
    -p 3480 --alternate-port 3481 198.51.100.12 198.51.100.13
start_ready rvd 10 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -g $GRACE \
    -l $SRV:80
RVD=$LAST_PID
expect "server ready line" "$READY" "ready http=$SRV:80 ws=/v1/ws"

# wait_for FILE PATTERN SECONDS: until a line of FILE matches (grep -E).
wait_for() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}

# gone PID SECONDS: until the process has exited.
gone() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
	return 1
}

# query HOST ARGS...: nat-query from a lab host; the exit status in RC.
query() {
	local host=$1
	shift
	OUT=$("$LAB" exec "$host" -- "$B/nat-query" -w 2 "$@" 2>"$T/query.err")
	RC=$?
}

# Probe both NATs at once, then register: the profile on stdin, as piped.
"$LAB" exec h-prc -- "$B/nat-probe" -G -s 198.51.100.12:3480 >"$T/alice.profile" &
p1=$!
"$LAB" exec h-sym -- "$B/nat-probe" -G -s 198.51.100.12:3480 >"$T/bob.profile" &
p2=$!
wait $p1 $p2
expect "alice probe" "$(field nat <"$T/alice.profile")" port-restricted-cone
expect "bob probe" "$(field nat <"$T/bob.profile")" symmetric
mkdir -m 700 "$T/alice" "$T/bob"

# register NAME HOST ARGS...: nat-register for NAME on HOST (its PID is
# the process's own: env and sh exec it).
register() {
	local name=$1 host=$2
	shift 2
	start_ready "$name" 10 "$LAB" exec "$host" -- env NATKIT_HOME="$T/$name" \
	    sh -c 'f=$1; shift; exec "$@" <"$f"' sh "$T/$name.profile" \
	    "$B/nat-register" -s "$URL" -N "$name" "$@"
	case $READY in
	type=registered\ *) ;;
	*) cat "$T/$name.err" "$T/rvd.err"; fail "$name did not register: $READY" ;;
	esac
}
# alice also has a server that is not there (nobody holds .99).
DOWN=http://198.51.100.99:80
register alice h-prc -s $DOWN
ALICE=$LAST_PID A=$(field id <<<"$READY")
expect "alice registered" "$(field type <<<"$READY") $(field server <<<"$READY")" \
    "registered $URL"
register bob h-sym -e "cat >$T/bob.request"
BOB=$LAST_PID B_ID=$(field id <<<"$READY")
expect "bob registered" "$(field type <<<"$READY")" registered

# Each sees the other, verified, with its NAT type and public address.
query h-prc -s "$URL" "$B_ID"
expect "alice sees bob: exit" "$RC" 0
expect "alice sees bob" "$(field name <<<"$OUT") $(field nat <<<"$OUT") $(field verified <<<"$OUT")" \
    "bob symmetric yes"
expect "bob's public address is his router's" "$(field public <<<"$OUT" | cut -d: -f1)" \
    203.0.113.14
miss=0
for kv in $(cat "$T/bob.profile"); do
	case $kv in type=*) continue ;; esac
	grep -qF -- " $kv " <<<"$OUT " || { echo "missing: $kv"; miss=$((miss + 1)); }
done
expect "bob's record carries his whole profile" "$miss" 0
query h-sym -s "$URL" alice
expect "bob sees alice by name: exit" "$RC" 0
expect "bob sees alice by name" "$(field id <<<"$OUT") $(field nat <<<"$OUT") $(field verified <<<"$OUT")" \
    "$A port-restricted-cone yes"
query h-sym -s "$URL"
expect "the list: exit" "$RC" 0
expect "the list" "$(grep -c ' verified=yes ' <<<"$OUT") $(grep -c . <<<"$OUT")" "2 2"
query h-sym -j -s "$URL" "$A"
expect "JSON" "$(jq -r '.type + " " + .nat + " " + .verified' <<<"$OUT")" \
    "peer port-restricted-cone yes"
query h-prc -s "$URL" aaaaaaaaaaaaaaaaaaaaaaaaaa
expect "unknown peer: exit" "$RC" 68
query h-prc -s "$URL" nobody
expect "unknown name: exit" "$RC" 68

# A first server that is down costs one refused connection, no more.
query h-prc -s http://$SRV:81 -s "$URL" "$B_ID"
expect "failover: exit" "$RC" 0
expect "failover" "$(field verified <<<"$OUT")" yes
# One that does not answer at all costs at most -w.
t=$EPOCHREALTIME
OUT=$("$LAB" exec h-prc -- "$B/nat-query" -w 1 -s $DOWN -s "$URL" "$B_ID" 2>/dev/null)
expect "failover past a silent server: exit" "$?" 0
expect "failover past a silent server within -w 1" \
    "$(awk "BEGIN { print ($EPOCHREALTIME - $t < 1.8) }")" 1

# A signed request from alice, sealed to bob, reaches bob's nat-register
# and -e command opened, field for field as alice signed it.
"$SEAL" -K "$T/alice" request "$T/bob" >"$T/alice.req"
out=$("$SEAL" -K "$T/alice" seal "$T/bob" <"$T/alice.req" | "$LAB" exec h-prc -- \
    env NATKIT_HOME="$T/alice" "$B/nat-query" -w 2 -s "$URL" --signal "$B_ID")
expect "signal sent: exit" "$?" 0
expect "signal sent" "$out" "type=sent to=$B_ID server=$URL"
wait_for "$T/bob.out" '^type=request ' 5
req=$(grep '^type=request ' "$T/bob.out")
expect "bob got the request" "$req" "$(cat "$T/alice.req")"
expect "bob got the request from alice" "$(field from <<<"$req")" "$A"
wait_for "$T/bob.request" . 5
expect "the -e command got the request record" "$(cat "$T/bob.request")" "$req"
sleep 0.2
expect "no zombies" "$(ps --ppid "$BOB" -o stat= | grep -c Z)" 0
# The same request in the clear is dropped, with a warning: sealing is not
# optional.
"$SEAL" -K "$T/alice" request "$T/bob" | "$LAB" exec h-prc -- \
    env NATKIT_HOME="$T/alice" "$B/nat-query" -w 2 -s "$URL" --signal "$B_ID" >/dev/null
wait_for "$T/bob.err" 'not sealed' 5
expect "a request in the clear: dropped" "$(grep -c '^type=request ' "$T/bob.out")" 1
expect "a request in the clear: the warning" "$(grep -o 'request from .*' "$T/bob.err" |
    sed 's,/q[0-9a-f]*:,:,')" \
    "request from $A: not sealed to this peer's key (an older natkit?); dropped"
# Any other body is a signal record; a peer nobody knows is exit 68.
echo "type=note text=hi" | "$LAB" exec h-sym -- env NATKIT_HOME="$T/bob" \
    "$B/nat-query" -w 2 -s "$URL" --signal alice >/dev/null
expect "note sent: exit" "$?" 0
wait_for "$T/alice.out" '^type=signal ' 5
sig=$(grep '^type=signal ' "$T/alice.out")
expect "alice got the note" "$(field from <<<"$sig" | cut -d/ -f1) $(field body-type <<<"$sig") $(field text <<<"$sig")" \
    "$B_ID note hi"
echo "type=note" | "$LAB" exec h-sym -- env NATKIT_HOME="$T/bob" \
    "$B/nat-query" -w 2 -s "$URL" --signal aaaaaaaaaaaaaaaaaaaaaaaaaa 2>/dev/null
expect "signal to an unknown peer: exit" "$?" 68

# A server that alters a record, or serves one under another id, is caught.
mkdir -p "$T/fake/v1/peers"
"$LAB" exec h-prc -- curl -sf "$URL/v1/peers/$B_ID" >"$T/bob.json"
"$LAB" exec h-prc -- curl -sf "$URL/v1/peers/$A" >"$T/fake/v1/peers/$A"
sed 's/"nat":"symmetric"/"nat":"full-cone"/' "$T/bob.json" >"$T/fake/v1/peers/$B_ID"
OTHER=bbbbbbbbbbbbbbbbbbbbbbbbba
cp "$T/bob.json" "$T/fake/v1/peers/$OTHER"
expect "the fake holds a change" "$(grep -c '"nat":"full-cone"' "$T/fake/v1/peers/$B_ID")" 1
start_ready fake 10 "$LAB" exec srv -- python3 -u -m http.server \
    --bind 198.51.100.11 --directory "$T/fake" 8080
FAKE=http://198.51.100.11:8080
query h-prc -s $FAKE "$A"
expect "a copied record verifies anywhere: exit" "$RC" 0
expect "a copied record verifies anywhere" "$(field verified <<<"$OUT")" yes
query h-prc -s $FAKE "$B_ID"
expect "altered record: exit" "$RC" 76
expect "altered record" "$(field nat <<<"$OUT") $(field verified <<<"$OUT")" "full-cone no"
expect "altered record: reason" "$(field reason <<<"$OUT")" "signature%20does%20not%20verify"
query h-prc -s $FAKE $OTHER
expect "record under another id: exit" "$RC" 76
expect "record under another id" "$(field id <<<"$OUT") $(field verified <<<"$OUT")" "$B_ID no"
kill "$LAST_PID"

# The server restarts: both notice, come back by themselves, and are listed.
kill "$RVD"
gone "$RVD" 5 || fail "nat-rendezvousd did not stop"
start_ready rvd2 10 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -g $GRACE \
    -l $SRV:80
RVD=$LAST_PID
wait_for "$T/alice.out" '^type=reregistered ' 15
wait_for "$T/bob.out" '^type=reregistered ' 15
expect "alice lost the server" "$(grep -c "^type=lost server=$URL " "$T/alice.out")" 1
expect "alice re-registered" "$(grep '^type=reregistered ' "$T/alice.out" | field id)" "$A"
expect "bob re-registered" "$(grep '^type=reregistered ' "$T/bob.out" | field id)" "$B_ID"
query h-prc -s "$URL"
expect "both listed again" "$(grep -c ' verified=yes ' <<<"$OUT")" 2

# A second peer calls itself bob: the name is no longer an answer.
mkdir -m 700 "$T/bob2"
cp "$T/alice.profile" "$T/bob2.profile"
register bob2 h-prc -n bob
query h-prc -s "$URL" bob
expect "an ambiguous name: exit" "$RC" 68
expect "an ambiguous name: both listed" "$(grep -c "^  [a-z2-7]\{26\} " "$T/query.err")" 2
kill "$LAST_PID"

# A crashed nat-register: bob is gone within the grace period (and the
# server's sweep); a stopped one: alice is gone at once.
{ kill -9 "$BOB" && wait "$BOB"; } 2>/dev/null
t=$EPOCHREALTIME
for ((i = 0; i < (GRACE + 6) * 10; i++)); do
	query h-prc -s "$URL" "$B_ID"
	[ "$RC" = 68 ] && break
	sleep 0.1
done
expect "bob gone after a crash" "$RC" 68
echo "     bob was listed $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t }") s after the crash (grace $GRACE s)"
t=$EPOCHREALTIME
kill -TERM "$ALICE"
gone "$ALICE" 5 || fail "nat-register did not exit on SIGTERM"
expect "alice stops within 2 s, a server down or not" \
    "$(awk "BEGIN { print ($EPOCHREALTIME - $t < 2) }")" 1
wait "$ALICE"
expect "alice exits 0 on SIGTERM" "$?" 0
query h-sym -s "$URL" "$A"
expect "alice gone at once" "$RC" 68
query h-sym -s "$URL"
expect "nobody listed" "$RC:$OUT" "0:"
echo "     run time $(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }") s"
finish
