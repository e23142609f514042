#!/bin/bash
# rv_server.sh: nat-rendezvousd on loopback.  The command line (usage line
# = SYNOPSIS, exit codes), the HTTP API with curl, the WebSocket session
# with rv-client-tool, and the abuse cases: impersonation, a record
# altered in transit, replays, a flood beyond the rate limit, garbage and
# oversized frames, too many connections, slow and silent clients.  An
# honest peer stays registered throughout and must answer after each.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

RVD=$NATKIT_BIN/nat-rendezvousd
TOOL=$(dirname "$NATKIT_BIN")/tests/e2e/rv-client-tool
[ -x "$RVD" ] && [ -x "$TOOL" ] || fail "build first: no $RVD or $TOOL"
command -v curl >/dev/null || skip "needs curl"

# --- the command line -------------------------------------------------
if command -v mandoc >/dev/null && command -v col >/dev/null; then
	usage=$("$RVD" -h | sed '/^$/,$d' | tr -s ' \n\t' ' ' | sed 's/^usage: //; s/ $//')
	synopsis=$(mandoc -Tascii "$NATKIT_TOP/man/nat-rendezvousd.8" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    tr -s ' \n\t' ' ' | sed 's/^ //; s/ $//')
	expect "usage line = SYNOPSIS" "$usage" "$synopsis"
	expect "man page lint" "$(mandoc -Tlint -W warning \
	    "$NATKIT_TOP/man/nat-rendezvousd.8" 2>&1)" ""
fi
while IFS='|' read -r args word; do
	msg=$("$RVD" $args 2>&1 >/dev/null)
	rc=$?
	expect "'$args' exit" "$rc" 64
	grep -qF -- "$word" <<<"$msg" || expect "'$args' names '$word'" "$msg" "$word"
done <<'LIST'
-l 127.0.0.1:65536|65536
-l ::1:80|brackets
-g -1|-1
-i 0|ping interval 0
--redis x|x
-C 0|0
-c /etc/hostname|-k keyfile
-u no-such-user-xyz|no-such-user-xyz
extra|usage
-Z|Z
LIST
"$RVD" -n -l 127.0.0.1:0
expect "-n checks and exits" "$?" 0
timeout 5 "$RVD" -d -l 192.0.2.1:0 >/dev/null 2>&1
expect "binding an address not ours exits" "$?" 71
printf '# a comment\nlisten 127.0.0.1:0\ngrace 5\nname rv.example.org\n' >"$T/good.conf"
"$RVD" -n -f "$T/good.conf"
expect "a good configuration file" "$?" 0
printf 'listen 127.0.0.1:0\nbogus 1\n' >"$T/bad.conf"
"$RVD" -n -f "$T/bad.conf" >/dev/null 2>&1
expect "a bad configuration file exits" "$?" 78

# --- the server ---------------------------------------------------------
start_ready rvd 10 "$RVD" -d -l 127.0.0.1:0 -l 127.0.0.1:0 -g 2 -i 2 -w 3 \
    -C 20 -M 20 --burst 40
[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+),127\.0\.0\.1:([0-9]+)\ ws=/v1/ws$ ]] ||
    fail "ready line: $READY"
RVD_PID=$LAST_PID
PORT=${BASH_REMATCH[1]}
ADDR=127.0.0.1:$PORT
URL=http://$ADDR
expect "second listener answers" "$(curl -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:${BASH_REMATCH[2]}/healthz")" 200
# -l 127.0.0.1:PORT listens there only, not on every address (lws 4.1
# binds an IPv4 address as [::] unless told otherwise).
expect "listens on the address given only" \
    "$(ss -Htln "sport = :$PORT" | awk '{print $4}')" "127.0.0.1:$PORT"
# A host name (from /etc/hosts here: no DNS query) listens on its address.
start_ready rvd-name 10 "$RVD" -d -l localhost:0
[[ $READY =~ ^ready\ http=(127\.0\.0\.1|\[::1\]):[1-9][0-9]*\ ws=/v1/ws$ ]] ||
    fail "-l localhost:0: $READY"
kill "$LAST_PID"

# http METHOD PATH [BODY]: prints "STATUS BODY".
http() {
	local out
	if [ $# -ge 3 ]; then
		out=$(curl -s -m 5 -X "$1" -H 'Content-Type: application/json' \
		    --data-binary "$3" -w ' %{http_code}' "$URL$2")
	else
		out=$(curl -s -m 5 -X "$1" -w ' %{http_code}' "$URL$2")
	fi
	echo "${out##* } ${out% *}"
}
code() { cut -d' ' -f1; }
jget() { sed 's/^[0-9]* //' | python3 -c "import json,sys; v=json.load(sys.stdin)$1; print('null' if v is None else v)"; }
id_of() { "$TOOL" -k "$1" id; }

# ws NAME LINES...: runs a script as NAME's key; prints the exit status.
# The logs are numbered through a file: ws runs in a subshell.
echo 0 >"$T/n"
ws() {
	local name=$1 rc N
	shift
	N=$(($(cat "$T/n") + 1))
	echo "$N" >"$T/n"
	printf '%s\n' "$@" | "$TOOL" -w 8 -k "$name" run "$ADDR" \
	    >"$T/ws$N.log" 2>&1
	rc=$?
	[ "$rc" = 0 ] || sed "s/^/    ws$N: /" "$T/ws$N.log" >&2
	echo "$rc"
}
HELLO=("connect" "expect hello" "auth" "expect welcome")

HONEST=$(id_of honest)
MALLORY=$(id_of mallory)
# The honest peer: registered, answering every signal, for the whole test.
printf '%s\n' "${HELLO[@]}" "register 1 name=honest" "expect registered seq=1" \
    "serve 110" | "$TOOL" -w 8 -k honest run "$ADDR" >"$T/honest.log" 2>&1 &
HONEST_PID=$!
PIDS="$PIDS $HONEST_PID"
for ((i = 0; i < 50; i++)); do
	[ "$(http GET "/v1/peers/$HONEST" | code)" = 200 ] && break
	sleep 0.1
done
G=0
honest_check() {
	G=$((G + 1))
	expect "honest peer after $1" "$(ws "guest$G" "${HELLO[@]}" \
	    "signal @honest {\"check\":\"$G\"}" \
	    "expect signal from=$HONEST")" 0
	expect "honest record after $1" "$(http GET "/v1/peers/$HONEST" |
	    jget '["seq"]')" 1
}
honest_check "start"

# --- HTTP ---------------------------------------------------------------
r=$(http GET /healthz)
expect "healthz" "$(code <<<"$r") $(jget '["status"]' <<<"$r")" "200 ok"
m=$(curl -s -m 5 "$URL/metrics")
for name in sessions peers registrations_total signals_forwarded_total \
    'rejections_total{reason="bad-json"}' memory_rss_bytes memory_heap_bytes; do
	grep -q "^natkit_$name [0-9]" <<<"$m" || expect "metrics has $name" missing present
done
expect "404 for an unknown peer" "$(http GET /v1/peers/aaaaaaaaaaaaaaaaaaaaaaaaaa)" \
    '404 {"error":"unknown-peer","reason":"no such peer online"}'
expect "limit=0" "$(http GET '/v1/peers?limit=0' | code)" 400
expect "limit=101" "$(http GET '/v1/peers?limit=101' | code)" 400
expect "limit=x" "$(http GET '/v1/peers?limit=x' | code)" 400
expect "bad cursor" "$(http GET '/v1/peers?cursor=zz' | code)" 400
expect "bad name" "$(http GET '/v1/peers?name=a%20b' | code)" 400
expect "no such path" "$(http GET /v2 | code)" 404
expect "PUT" "$(http PUT /v1/peers x | code)" 405

# POST register with a TTL, then it lapses.
for p in p1 p2 p3 p4; do
	r=$(http POST /v1/peers "$("$TOOL" -k "$p" record 5 30)")
	expect "POST register $p" "$(code <<<"$r") $(jget '["seq"]' <<<"$r")" "200 5"
done
body=$("$TOOL" -k p1 record 5 30)
expect "POST replayed registration" "$(http POST /v1/peers "$body" | jget '["error"]')" replay
expect "POST altered record" "$(http POST /v1/peers "${body/203.0.113.7/203.0.113.8}" |
    jget '["error"]')" bad-signature
expect "POST bad JSON" "$(http POST /v1/peers '{"record":' | jget '["error"]')" bad-json
expect "POST wrong type" "$(http POST /v1/peers '{"record":[],"ttl":5}' | jget '["error"]')" bad-field
big=$(head -c 9000 /dev/zero | tr '\0' x)
expect "POST too large" "$(http POST /v1/peers "{\"x\":\"$big\"}" | code)" 413
r=$(http POST /v1/peers "$("$TOOL" -k old -- record 1 30 -5)")
expect "POST expired record" "$(jget '["error"]' <<<"$r")" expired
r=$(http POST /v1/peers "$("$TOOL" -k far record 1 30 90000)")
expect "POST record 25 h ahead" "$(jget '["error"]' <<<"$r")" bad-field

# Pages: 5 peers (honest, p1-p4) in id order, 2 a page.
all=$(http GET '/v1/peers?limit=100' | jget '["peers"]' | tr -d "'" | grep -o "id: [a-z2-7]*" | wc -l)
expect "list all" "$all" 5
cursor= seen=
for ((i = 0; i < 10; i++)); do
	r=$(http GET "/v1/peers?limit=2${cursor:+&cursor=$cursor}")
	ids=$(sed 's/^[0-9]* //' <<<"$r" | python3 -c 'import json,sys; print(" ".join(p["id"] for p in json.load(sys.stdin)["peers"]))')
	seen="$seen $ids"
	cursor=$(jget '["next"]' <<<"$r")
	[ "$cursor" = null ] && break
done
expect "pages of 2" "$i" 2
sorted=$(tr ' ' '\n' <<<"$seen" | grep . | sort | tr '\n' ' ')
expect "pages in id order, each peer once" "$(tr ' ' '\n' <<<"$seen" | grep . | tr '\n' ' ')" "$sorted"
expect "name filter" "$(http GET '/v1/peers?name=honest' | jget '["peers"][0]["id"]')" "$HONEST"
expect "name filter, no match" "$(http GET '/v1/peers?name=nobody')" '200 {"peers":[],"next":null}'

# A record with a TTL is served (TTL 60: a busy machine may take seconds
# between two requests), and one with a TTL of 2 lapses.
r=$(http POST /v1/peers "$("$TOOL" -k ttllong record 1 60)")
expect "POST register ttl 60" "$(code <<<"$r") $(jget '["ttl"]' <<<"$r")" "200 60"
expect "TTL record there" "$(http GET "/v1/peers/$(id_of ttllong)" | code)" 200
r=$(http POST /v1/peers "$("$TOOL" -k ttl record 1 2)")
expect "POST register ttl 2" "$(code <<<"$r") $(jget '["ttl"]' <<<"$r")" "200 2"

# Signed unregister.
P1=$(id_of p1)
expect "unregister, old seq" "$(http POST "/v1/peers/$P1/unregister" \
    "$("$TOOL" -k p1 unregister 5)" | jget '["error"]')" replay
expect "unregister, someone else's" "$(http POST "/v1/peers/$P1/unregister" \
    "$("$TOOL" -k mallory unregister 9)" | jget '["error"]')" wrong-id
expect "unregister" "$(http POST "/v1/peers/$P1/unregister" "$("$TOOL" -k p1 unregister 6)")" \
    "200 {\"id\":\"$P1\"}"
expect "unregistered peer gone" "$(http GET "/v1/peers/$P1" | code)" 404
expect "unregister twice" "$(http POST "/v1/peers/$P1/unregister" \
    "$("$TOOL" -k p1 unregister 7)" | code)" 404
expect "old record cannot come back" "$(http POST /v1/peers "$body" | jget '["error"]')" replay

# Signals over HTTP carry no sender a peer could trust: refused.
expect "signal over HTTP" "$(http POST /v1/signal "{\"to\":\"$HONEST\",\"body\":{\"via\":\"http\"}}")" \
    '401 {"error":"not-authenticated","reason":"signals go over an authenticated WebSocket session (/v1/ws)"}'
# Lapsed by now, or within a while: polled, not a fixed margin.
for _ in $(seq 60); do
	[ "$(http GET "/v1/peers/$(id_of ttl)" | code)" = 404 ] && break
	sleep 0.5
done
expect "TTL lapsed" "$(http GET "/v1/peers/$(id_of ttl)" | code)" 404

# --- the WebSocket session ------------------------------------------------
expect "wrong path refused" "$(ws alice "connect path=/x")" 1
expect "no subprotocol is fine" "$(ws alice "connect proto=-" "expect hello")" 0
expect "register, signal, unregister" "$(ws alice "${HELLO[@]}" \
    "register 3 name=alice" "expect registered seq=3" \
    "signal @alice {\"self\":1} ref=a" "expect signal from=$(id_of alice)" \
    "signal @nobody {} ref=r7" "expect error code=unknown-peer ref=r7" \
    "unregister" "signal @alice/c1 {} ref=x" "expect error code=unknown-peer")" 0
expect "unregister removed the record" "$(http GET "/v1/peers/$(id_of alice)" | code)" 404
# A tagged session gets only what is addressed to ID/TAG.
printf '%s\n' "connect" "expect hello" "auth tag=c1" "expect welcome tag=c1" \
    "tally 3" | "$TOOL" -w 8 -k bob run "$ADDR" >"$T/tagged.log" 2>&1 &
TAGGED=$!
sleep 0.5
expect "signal to a tagged session" "$(ws carol "${HELLO[@]}" \
    "signal @bob/c1 {\"t\":1}" "signal @bob {\"t\":2} ref=p" \
    "expect error code=unknown-peer ref=p")" 0
wait "$TAGGED"
expect "tagged session got its signal" "$(grep -c '"from":"'"$(id_of carol)"'","body":{"t":1}' "$T/tagged.log")" 1
expect "tagged session cannot register" "$(ws bob "connect" "expect hello" \
    "auth tag=c2" "expect welcome" "register 1" "expect error code=bad-type")" 0
expect "nothing before auth" "$(ws alice "connect" "expect hello" \
    "signal @honest {}" "expect error code=not-authenticated" \
    "register 9" "expect error code=not-authenticated")" 0

# --- abuse ----------------------------------------------------------------
expect "impersonation: auth as another id" "$(ws mallory "connect" "expect hello" \
    "auth claim=honest" "expect error code=wrong-id" "expect-close 1008")" 0
honest_check "impersonation"
expect "auth with a bad signature" "$(ws mallory "connect" "expect hello" \
    "auth badsig" "expect error code=bad-signature" "expect-close 1008")" 0
expect "auth replaying another nonce" "$(ws mallory "connect" "expect hello" \
    "auth nonce=bm9uY2Vub25jZW5vbmNlbm9uY2Vub25jZW5vbmNlbm8=" \
    "expect error code=bad-signature" "expect-close 1008")" 0
expect "auth for another server" "$(ws mallory "connect" "expect hello" \
    "auth server=rv.example.org:443" "expect error code=bad-signature" \
    "expect-close 1008")" 0
honest_check "bad auth"
expect "registering someone else's id" "$(ws mallory "${HELLO[@]}" \
    "register 50 claim=honest" "expect error code=wrong-id" \
    "register 50 as=honest" "expect error code=wrong-id" \
    "register 1" "expect registered")" 0
honest_check "registering someone else's id"
expect "record altered in transit" "$(ws mallory "${HELLO[@]}" \
    "register 7 alter" "expect error code=bad-signature" \
    "register 7" "expect registered seq=7")" 0
expect "replayed registration" "$(ws mallory "${HELLO[@]}" \
    "register 8" "expect registered seq=8" "resend" "expect error code=replay" \
    "register 6" "expect error code=replay" "register 9 expires=-10" \
    "expect error code=expired" "register 9" "expect registered seq=9")" 0
honest_check "altered and replayed records"
expect "flood" "$(ws mallory "${HELLO[@]}" \
    "flood 200 {\"type\":\"signal\",\"to\":\"$MALLORY\",\"body\":{}}" \
    "tally 3" "signal @mallory {\"after\":1}" "expect signal")" 0
N=$(cat "$T/n")
f=$(cat "$T/ws$N.log")
limited=$(sed -n 's/^tally error:rate-limited //p' <<<"$f")
passed=$(sed -n 's/^tally signal //p' <<<"$f")
expect "flood: most refused" "$([ "${limited:-0}" -ge 150 ] && echo yes)" yes
expect "flood: a burst passed" "$([ "${passed:-0}" -ge 35 ] && [ "$passed" -le 50 ] && echo yes)" yes
expect "flood: the session works again" "$(grep -c '"after":1' "$T/ws$N.log")" 1
honest_check "flood"
# Random bytes are not UTF-8: the session ends with 1007 (RFC 6455 8.1).
expect "garbage text" "$(ws mallory "${HELLO[@]}" \
    "garbage 300" "expect error code=bad-json" "expect-close 1007")" 0
expect "garbage frames" "$(ws mallory "${HELLO[@]}" \
    "send {\"type\":\"register\",\"record\":\"x\"}" "expect error code=bad-field" \
    "send {\"type\":[]}" "expect error code=bad-type" \
    "send {\"type\":\"signal\",\"to\":\"$HONEST\",\"body\":7}" "expect error code=bad-field" \
    "binary 50" "expect error code=bad-type" \
    "fragments {\"type\":\"signal\",\"to\":\"$MALLORY\",\"body\":{\"f\":1}}" \
    "expect signal" "register 20" "expect registered" \
    "big 9000" "expect error code=too-large" "expect-close 1009")" 0
honest_check "garbage"

# Too many connections from one address: 30 from 127.0.0.2, limit 20.
python3 - "$PORT" >"$T/conns.log" 2>&1 <<'PY' &
import socket, sys, time
held = []
for i in range(30):
    s = socket.socket(); s.bind(("127.0.0.2", 0))
    s.connect(("127.0.0.1", int(sys.argv[1]))); held.append(s)
time.sleep(2.5)
PY
CONNS=$!
sleep 1
honest_check "a connection flood from another address"
m=$(curl -s -m 5 "$URL/metrics")
expect "connections refused per address" \
    "$(sed -n 's/^natkit_connections_refused_total{reason="per-address"} //p' <<<"$m")" 10
wait "$CONNS"

# Slow clients: an HTTP request that never ends, a session that never
# authenticates, a peer that stops answering pings.
start=$SECONDS
exec 3<>"/dev/tcp/127.0.0.1/$PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&3
timeout 10 cat <&3 >/dev/null
exec 3<&-
expect "slowloris closed within the timeout" "$(( SECONDS - start <= 6 ))" 1
expect "no auth: closed" "$(ws mallory "connect" "expect hello" "expect-close")" 0
expect "silent peer: closed after a missed ping" "$(ws dave "${HELLO[@]}" \
    "register 1" "expect registered" "nopong" "expect-close")" 0
expect "its record in the grace period" "$(http GET "/v1/peers/$(id_of dave)" | code)" 200
sleep 3.5
expect "its record after the grace period" "$(http GET "/v1/peers/$(id_of dave)" | code)" 404
honest_check "slow clients"

# Counters and privacy.
m=$(curl -s -m 5 "$URL/metrics")
for c in wrong-id bad-signature replay rate-limited bad-json bad-field \
    too-large unknown-peer not-authenticated expired bad-type; do
	v=$(sed -n "s/^natkit_rejections_total{reason=\"$c\"} //p" <<<"$m")
	expect "rejections counted: $c" "$([ "${v:-0}" -gt 0 ] && echo yes)" yes
done
v=$(sed -n 's/^natkit_sessions_closed_total{reason="no-pong"} //p' <<<"$m")
expect "closed for no pong counted" "$v" 1
expect "nothing logged about who signals whom" "$(grep -c "$HONEST" "$T/rvd.err")" 0
r=$(http GET /healthz)
expect "healthz at the end" "$(jget '["status"]' <<<"$r")" ok
expect "the honest session saw every check" "$(grep -c '"check"' "$T/honest.log")" "$G"

kill -TERM "$RVD_PID"
wait "$RVD_PID"
expect "SIGTERM: exit 0" "$?" 0

# A reader too slow for what others send it is not closed: what does not
# fit its queue is dropped and counted, and the sender told.  (Budgets
# off, -S 0, so that the queue fills.)
start_ready rvq 10 "$RVD" -d -l 127.0.0.1:0 -M 0 -S 0
QADDR=$(sed -n 's/^ready http=\([^ ]*\) .*/\1/p' <<<"$READY")
QPID=$LAST_PID
printf '%s\n' "${HELLO[@]}" "sleep 4" "tally 3" "signal @victim {\"alive\":1}" \
    "expect signal" "close" |
    "$TOOL" -w 10 -k victim run "$QADDR" >"$T/victim.log" 2>&1 &
VICTIM=$!
sleep 0.5
pad=$(head -c 7000 /dev/zero | tr '\0' y)
printf '%s\n' "${HELLO[@]}" \
    "flood 1500 {\"type\":\"signal\",\"to\":\"$(id_of victim)\",\"body\":{\"p\":\"$pad\"}}" \
    "tally 2" "signal @sender {\"still\":1}" "expect signal" |
    "$TOOL" -w 10 -k sender run "$QADDR" >"$T/sender.log" 2>&1
expect "slow reader: the sender goes on" "$?" 0
expect "slow reader: the sender is told" \
    "$(grep -c '^tally error:busy ' "$T/sender.log")" 1
wait "$VICTIM"
expect "slow reader: not closed, reads on" "$?" 0
expect "slow reader: gets what its queue held" \
    "$(grep -c '^tally signal ' "$T/victim.log")" 1
m=$(curl -s -m 5 "http://$QADDR/metrics")
expect "slow reader: not closed as such" "$(sed -n 's/^natkit_sessions_closed_total{reason="slow-reader"} //p' <<<"$m")" 0
dropped=$(sed -n 's/^natkit_signals_dropped_total{reason="queue-full"} //p' <<<"$m")
expect "slow reader: drops counted" "$((dropped > 0))" 1
kill "$QPID"

# The relay's rate (--relay-rate): a sender faster than its budget is
# held, not dropped on, and what its peer gets in the time measured here
# is at most that time's budget, the burst saved up (a quarter second of
# it, 64 KiB at least) and the frames of one read before the hold took.
RATE=200000 BURST=65536 FR=1400
start_ready rvr 10 "$RVD" -d -l 127.0.0.1:0 --relay-rate=$RATE
RADDR=$(sed -n 's/^ready http=\([^ ]*\) .*/\1/p' <<<"$READY")
RPID=$LAST_PID
t0=$(date +%s.%N)
printf '%s\n' "${HELLO[@]}" "sleep 1" "send {\"type\":\"relay\",\"to\":\"$(id_of ra)\"}" \
    "expect relay-ok" "tally 3" |
    "$TOOL" -w 10 -k rb run "$RADDR" >"$T/rb.log" 2>&1 &
RB=$!
PIDS="$PIDS $RB"
printf '%s\n' "${HELLO[@]}" "sleep 1" "send {\"type\":\"relay\",\"to\":\"$(id_of rb)\"}" \
    "expect relay-ok" "frames 2000" "sleep 4" |
    "$TOOL" -w 10 -k ra run "$RADDR" >"$T/ra.log" 2>&1 &
RA=$!
PIDS="$PIDS $RA"
wait "$RB"
expect "relay rate: the receiver's run" "$?" 0
t1=$(date +%s.%N)
got=$(sed -n 's/^tally frame //p' "$T/rb.log")
m=$(curl -s -m 5 "http://$RADDR/metrics")
bound=$(awk -v r=$RATE -v b=$BURST -v f=$FR -v a="$t0" -v z="$t1" \
    'BEGIN { printf "%d", (b + r * (z - a)) / f + 2 }')
echo "     relay rate: ${got:-0} frames of $FR bytes in $(awk -v a="$t0" -v z="$t1" 'BEGIN { printf "%.2f", z - a }') s at $RATE bytes/s (at most $bound)"
expect "relay rate: within the rate and a burst" \
    "$(( ${got:-0} <= bound ))" 1
expect "relay rate: more than the burst went through" \
    "$(( ${got:-0} * FR > BURST ))" 1
expect "relay rate: nothing dropped" \
    "$(sed -n 's/^natkit_relay_frames_dropped_total //p' <<<"$m")" 0
expect "relay rate: the sender was held" \
    "$(( $(sed -n 's/^natkit_relay_held_rate_total //p' <<<"$m") > 0 ))" 1
wait "$RA"
kill "$RPID"

# Privileges dropped after binding.
if id nobody >/dev/null 2>&1; then
	start_ready rvd2 10 "$RVD" -d -u nobody -l 127.0.0.1:0
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$LAST_PID/status")
	expect "-u nobody" "$uid" "$(id -u nobody)"
	p=$(sed -n 's/.*:\([0-9]*\) ws.*/\1/p' <<<"$READY")
	expect "serving as nobody" "$(curl -s -m 5 -o /dev/null -w '%{http_code}' \
	    "http://127.0.0.1:$p/healthz")" 200
	kill -INT "$LAST_PID"
	wait "$LAST_PID"
	expect "SIGINT: exit 0" "$?" 0
fi
finish
