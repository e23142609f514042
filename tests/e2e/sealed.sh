#!/bin/bash
# sealed.sh: what the rendezvous servers see of a connection, and connect
# requests that run at most once (nat(7) SECURITY).  Two nat-rendezvousd
# instances share a Redis in the lab's server namespace, each behind a
# socat tap that logs the bytes it passes (what a server sends is in the
# clear there; what clients send is masked, RFC 6455 §5.3, and forwarded
# as it was).  alice (port-restricted cone, instance 1) connects to bob
# (full cone, instance 2, nat-register -e nat-connect --accept), so that
# the offer and the answer cross Redis.  Neither the instances' logs
# (-vvv), nor Redis (MONITOR), nor the taps hold the connection's
# candidate addresses, its check token, its nonce, its ephemeral key or
# its signature; each view did carry the sealed bodies.  Then a server
# plays the attacker: the sealed request it passed on, sent again 40 times
# as alice, runs bob's -e command once, the 40 logged as replays, and
# once more after bob's nat-register restarted does not run either; a box
# sealed to another peer is dropped; with -m 2, five requests at once run
# two commands and refuse three (type=refused reason=busy), and one more
# runs once those two have ended.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
SEAL=$(dirname "$B")/tests/e2e/seal-tool
TOOL=$(dirname "$B")/tests/e2e/rv-client-tool
SRV1=198.51.100.10 SRV2=198.51.100.11
URL1=http://$SRV1:80 URL2=http://$SRV2:80
[ -x "$SEAL" ] && [ -x "$TOOL" ] || fail "no $SEAL or $TOOL: run make first"
command -v redis-server >/dev/null || skip "needs redis-server"
command -v socat >/dev/null || skip "needs socat"

# Options that do not fit: usage errors before anything runs.
"$B/nat-register" -m 2 -s http://127.0.0.1:9 </dev/null 2>/dev/null
expect "-m without -e: exit" "$?" 64
"$B/nat-register" -m 0 -e true -s http://127.0.0.1:9 </dev/null 2>/dev/null
expect "-m 0: exit" "$?" 64

lab_up prc,fc

# until SECS CMD...: CMD every 0.1 s until it succeeds, for SECS at most.
until_ok() {
	local i secs=$1
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
srv() { "$LAB" exec srv -- "$@"; }
listening() { [ -n "$(srv ss -Hltn "sport = :$1" 2>/dev/null)" ]; }

# Redis, and everything it is told, inside the server's namespace.
start_ready redis 10 "$LAB" exec srv -- sh -c 'echo ready; exec redis-server \
    --port 6379 --bind 127.0.0.1 --save "" --appendonly no --loglevel warning'
until_ok 5 sh -c "'$LAB' exec srv -- redis-cli -p 6379 ping 2>/dev/null | grep -q PONG" ||
    fail "redis-server did not answer"
start_ready monitor 10 "$LAB" exec srv -- redis-cli -p 6379 monitor
# Each instance on loopback, its tap on the public address it is dialled
# by (-N: the name its clients sign into their sessions).
for i in 1 2; do
	eval "a=\$SRV$i"
	start_ready rvd$i 10 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -v -v -v \
	    -g 2 -l 127.0.0.1:808$i -N "$a" -r redis://127.0.0.1:6379
	expect "instance $i ready" "$READY" "ready http=127.0.0.1:808$i ws=/v1/ws"
	start_ready tap$i 10 "$LAB" exec srv -- sh -c 'echo ready; exec socat -v \
	    "TCP-LISTEN:80,bind=$0,fork,reuseaddr" "TCP:127.0.0.1:$1"' "$a" 808$i
	until_ok 5 listening 80 || fail "tap $i is not listening"
done

probe_hosts $SRV1 h-prc h-fc
mkdir -p -m 700 "$T/home/alice" "$T/home/carol"
"$SEAL" -K "$T/home/carol" request "$T/home/carol" >/dev/null || fail "no key for carol"

# bob answers every request: its record in $T/runs, its output per run.
cat >"$T/accept.sh" <<EOF
#!/bin/sh
read -r req
printf '%s\n' "\$req" >>"$T/runs"
n=\$(wc -l <"$T/runs")
{ printf '%s\n' "\$req"; echo "hello from bob"; } | exec "$B/nat-connect" \
    --accept -r -v -s $URL2 -w 10 --stun $SRV1 >"$T/acc.\$n.out" 2>"$T/acc.\$n.err"
EOF
chmod +x "$T/accept.sh"
URL=$URL2
register_host h-fc bob bob "$T/accept.sh"
BOB=$(field id <<<"$READY") BOB_PID=$LAST_PID

# --- One connection, and what the servers saw of it ----------------------
echo "hello from alice" | "$LAB" exec h-prc -- env NATKIT_HOME="$T/home/alice" \
    "$B/nat-connect" -r -v -s $URL1 -w 10 --stun $SRV1 -P "$T/prof/h-prc" "$BOB" \
    >"$T/alice.out" 2>"$T/alice.err"
expect "alice connected: exit" "$?" 0
until_ok 5 grep -q '^type=closed ' "$T/acc.1.err"
expect "bob's -e ran nat-connect --accept" "$(rec closed "$T/acc.1.err" | field type)" closed
expect "alice got bob's line" "$(cat "$T/alice.out")" "hello from bob"
expect "bob got alice's line" "$(cat "$T/acc.1.out")" "hello from alice"
ALICE=$(field from <"$T/runs")
req=$(rec request "$T/reg-bob.out")
expect "bob's request is alice's, opened" "$(field from <<<"$req") $(field to <<<"$req")" \
    "$ALICE $BOB"

# The connection's secrets: the request's candidates, token, nonce,
# ephemeral key and signature, and every address:port the paths used.
{
	field cands <<<"$req" | tr ',' '\n' | sed 's/^[a-z]*:[a-z]*://'
	for k in token nonce eph sig; do field $k <<<"$req" | unescape; echo; done
	cat "$T/alice.err" "$T/acc.1.err" | grep '^type=path ' |
	    grep -o '[0-9]\{1,3\}\(\.[0-9]\{1,3\}\)\{3\}:[0-9]\+'
} | grep . | sort -u >"$T/secrets"
ncand=$(field cands <<<"$req" | tr ',' '\n' | grep -c .)
nsec=$(wc -l <"$T/secrets")
echo "     $nsec secrets ($ncand candidates in the offer: $(field cands <<<"$req"))"
[ "$ncand" -ge 2 ] && [ "$nsec" -ge $((ncand + 4)) ] || fail "too few secrets to look for"
# The views, each of which carried the sealed bodies (a view that missed
# them would prove nothing).
sleep 0.5
srv redis-cli -p 6379 ping >/dev/null
views="rvd1.err rvd2.err monitor.out tap1.err tap2.err"
expect "the offer reached bob sealed (tap 2)" \
    "$(grep -c '"body":{"type":"sealed","v":1,"box":"' "$T/tap2.err")" 1
expect "the answer reached alice sealed (tap 1)" \
    "$(grep -c '"body":{"type":"sealed","v":1,"box":"' "$T/tap1.err")" 1
expect "both crossed Redis sealed" "$(grep -c 'PUBLISH.*type\\":\\"sealed' "$T/monitor.out")" 2
expect "a view shows records in the clear: bob's public address in Redis" \
    "$(grep -c "$(field public <"$T/prof/h-fc")" "$T/monitor.out" | sed 's/^[1-9][0-9]*$/some/')" some
found=0
while read -r s; do
	for v in $views; do
		if grep -qF -- "$s" "$T/$v"; then
			echo "     $s is in $v"
			found=$((found + 1))
		fi
	done
done <"$T/secrets"
expect "secrets in the servers' logs, Redis and the bytes they sent" "$found" 0

# --- A server replays the sealed request it passed on --------------------
grep -o '{"type":"sealed","v":1,"box":"[A-Za-z0-9+/=]*"}' "$T/tap2.err" | head -n 1 >"$T/body"
expect "the captured body is alice's request" \
    "$("$SEAL" -K "$T/home/bob" open <"$T/body")" "$req"
{
	echo connect
	echo expect hello
	echo auth
	echo expect welcome
	for _ in $(seq 40); do
		echo "signal $BOB $(cat "$T/body")"
		echo "sleep 0.06"
	done
	# And a box sealed to another peer (carol), sent to bob.
	echo "signal $BOB $("$SEAL" -K "$T/home/alice" request "$T/home/carol" |
	    "$SEAL" -K "$T/home/alice" seal "$T/home/carol")"
	echo "sleep 0.5"
	echo close
} >"$T/replay.in"
srv "$TOOL" -K "$T/home/alice" -w 5 run $SRV1:80 <"$T/replay.in" >"$T/replay.log" 2>&1
expect "the replays were sent" "$?" 0
until_ok 5 grep -q 'sealed signal from' "$T/reg-bob.err"
until_ok 5 sh -c "[ \$(grep -c 'seen before' '$T/reg-bob.err') -ge 40 ]"
expect "40 replays: logged (-v)" "$(grep -c "request $(field nonce <<<"$req") from $ALICE seen before" \
    "$T/reg-bob.err")" 40
expect "40 replays: the -e command ran once" "$(wc -l <"$T/runs")" 1
expect "40 replays: one request printed" "$(grep -c '^type=request ' "$T/reg-bob.out")" 1
expect "a box sealed to carol: dropped" "$(grep -c '^type=request ' "$T/reg-bob.out") \
$(grep -o 'sealed signal from .*' "$T/reg-bob.err" | sed 's,from [a-z2-7]*:,from X:,')" \
    "1 sealed signal from X: the sealed box does not open with this peer's key ($BOB): sealed to another peer, or altered on the way; dropped"

# The same body after bob's nat-register restarted, within its expiry: the
# new run has not seen it, but it was made before the run began.
kill "$BOB_PID"
wait "$BOB_PID" 2>/dev/null
register_host h-fc bob bob "$T/accept.sh"
BOB_PID=$LAST_PID
{ echo connect; echo expect hello; echo auth; echo expect welcome
  echo "signal $BOB $(cat "$T/body")"; echo "sleep 0.5"; echo close; } >"$T/again.in"
srv "$TOOL" -K "$T/home/alice" -w 5 run $SRV1:80 <"$T/again.in" >"$T/again.log" 2>&1
until_ok 5 grep -q 'before nat-register started' "$T/reg-bob.err"
expect "after a restart: not run" "$(wc -l <"$T/runs") $(grep -c '^type=request ' "$T/reg-bob.out")" "1 0"
expect "after a restart: the warning" "$(grep -o 'request from .*' "$T/reg-bob.err" |
    sed 's/made [0-9]* s/made N s/; s,/-:,:,')" \
    "request from $ALICE: made N s before nat-register started: a replay, or the sender's clock is behind; dropped"

# --- Commands at once: -m 2 -----------------------------------------------
cat >"$T/slow.sh" <<EOF
#!/bin/sh
read -r req
printf '%s\n' "\$req" >>"$T/carol.runs"
i=0
while [ ! -e "$T/gate" ] && [ \$i -lt 300 ]; do sleep 0.1; i=\$((i + 1)); done
EOF
chmod +x "$T/slow.sh"
start_ready reg-carol 10 "$LAB" exec h-fc -- env NATKIT_HOME="$T/home/carol" \
    sh -c 'f=$1; shift; exec "$@" <"$f"' sh "$T/prof/h-fc" \
    "$B/nat-register" -v -s "$URL2" -m 2 -e "$T/slow.sh"
CAROL=$(field id <<<"$READY") CAROL_PID=$LAST_PID
expect "carol registered" "$(field type <<<"$READY")" registered
# requests N: N fresh requests from alice to carol, each sealed.
requests() {
	echo connect
	echo expect hello
	echo auth
	echo expect welcome
	for _ in $(seq "$1"); do
		echo "signal $CAROL $("$SEAL" -K "$T/home/alice" request "$T/home/carol" |
		    "$SEAL" -K "$T/home/alice" seal "$T/home/carol")"
	done
	echo "sleep 0.5"
	echo close
}
requests 5 >"$T/five.in"
srv "$TOOL" -K "$T/home/alice" -w 5 run $SRV2:80 <"$T/five.in" >"$T/five.log" 2>&1
expect "five requests sent" "$?" 0
until_ok 5 sh -c "[ \$(grep -c '^type=\(request\|refused\) ' '$T/reg-carol.out') -ge 5 ]"
until_ok 5 sh -c "[ \$(wc -l <'$T/carol.runs') -ge 2 ]"
expect "five at once: two run" "$(grep -c '^type=request ' "$T/reg-carol.out") $(wc -l <"$T/carol.runs")" "2 2"
expect "five at once: three refused, busy" \
    "$(grep '^type=refused ' "$T/reg-carol.out" | sed 's/ nonce=[0-9a-f]*//' | sort | uniq -c | sed 's/^ *//')" \
    "3 type=refused from=$ALICE reason=busy"
expect "five at once: the warnings" \
    "$(grep -c "request from $ALICE: busy: 2 commands running (-m 2); dropped" "$T/reg-carol.err")" 3
touch "$T/gate"
until_ok 10 sh -c "[ -z \"\$(ps --ppid $CAROL_PID -o pid=)\" ]" || fail "carol's commands did not end"
requests 1 >"$T/one.in"
srv "$TOOL" -K "$T/home/alice" -w 5 run $SRV2:80 <"$T/one.in" >"$T/one.log" 2>&1
until_ok 5 sh -c "[ \$(wc -l <'$T/carol.runs') -ge 3 ]"
expect "once they ended: the next runs" "$(grep -c '^type=request ' "$T/reg-carol.out") $(wc -l <"$T/carol.runs")" "3 3"
# Keep the evidence while debugging: SEALED_KEEP=DIR.
[ -z "${SEALED_KEEP:-}" ] || { rm -rf "$SEALED_KEEP"; cp -r "$T" "$SEALED_KEEP"; }
finish
