#!/bin/bash
# hostile_rv.sh: nat-rendezvousd against hostile clients on loopback
# (issue 12).  Each attack of hostile.py runs against one server while an
# honest peer, bob, stays registered; the attack's outcome is checked
# exactly, then honest clients (a new nat-register session, nat-query for
# bob, nat-query --signal to bob) must be served during the attack where
# it lasts and after it, bob's session must never have been closed, and
# the server's memory after it must be sane.  The figures (how long the
# honest clients took, the server's RSS) are printed, not checked.
# With O=build-san the server runs under ASan and UBSan: a report stops it
# and fails the test.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
HOSTILE="python3 $NATKIT_TOP/tests/e2e/hostile.py"
[ -x "$B/nat-rendezvousd" ] || fail "build first: no $B/nat-rendezvousd"
command -v python3 >/dev/null || skip "needs python3"
# Under ASan: a smaller quarantine, so that RSS says what the server keeps.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16

# wait_for FILE PATTERN SECONDS: until a line of FILE matches (grep -E).
wait_for() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
ms_since() { awk "BEGIN { printf \"%.0f\", ($EPOCHREALTIME - $1) * 1000 }"; }
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$RVD_PID/status"; }

# -t 60: an idle connection is not closed by the timeout while an attack
# lasts, so that one holding what others need would show.  -m 2400: the
# idle attacks below fill it with 2,000 and 2,700 connections.
# The counters come from a listener of their own (-x).
MAXC=2400
start_ready rvd 20 "$B/nat-rendezvousd" -d -l 127.0.0.1:0 -w 60 -g 5 \
    --connections $MAXC -x 127.0.0.1:0
[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+)\ ws=/v1/ws\ metrics=127\.0\.0\.1:([0-9]+)$ ]] ||
    fail "ready line: $READY"
RVD_PID=$LAST_PID
PORT=${BASH_REMATCH[1]}
MPORT=${BASH_REMATCH[2]}
URL=http://127.0.0.1:$PORT
# metric NAME: its value in /metrics.
metric() { $HOSTILE metrics "$MPORT" "$1" | sed 's/^[^=]*=//'; }

echo "type=profile nat=open public=127.0.0.1:4000" >"$T/profile"
mkdir -m 700 "$T/bob" "$T/carol" "$T/alice"
start_ready bob 20 env NATKIT_HOME="$T/bob" sh -c 'exec "$@" <"$0"' \
    "$T/profile" "$B/nat-register" -s "$URL" -N bob
[ "$(field type <<<"$READY")" = registered ] || fail "bob: $READY"
BOB_PID=$LAST_PID
BOB=$(field id <<<"$READY")

# honest WHEN: a new peer registers, bob is looked up and signalled, each
# bounded by its own timeout; prints the times.  A server that does not
# serve them ends the test.
H=0
honest() {
	local t0 reg q sig out pid fails=$FAILS
	H=$((H + 1))
	t0=$EPOCHREALTIME
	rm -f "$T/carol.out"
	NATKIT_HOME=$T/carol "$B/nat-register" -s "$URL" -N carol \
	    <"$T/profile" >"$T/carol.out" 2>"$T/carol.err" &
	pid=$!
	PIDS="$PIDS $pid"
	wait_for "$T/carol.out" '^type=registered ' 20
	expect "$1: a new peer registers" "$?" 0
	reg=$(ms_since "$t0")
	kill "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	t0=$EPOCHREALTIME
	out=$("$B/nat-query" -w 10 -s "$URL" "$BOB" 2>"$T/query.err")
	expect "$1: nat-query bob" "$?:$(field name <<<"$out")" "0:bob"
	q=$(ms_since "$t0")
	t0=$EPOCHREALTIME
	echo "type=hello n=$H" | NATKIT_HOME=$T/alice "$B/nat-query" --signal \
	    -w 10 -s "$URL" "$BOB" >/dev/null 2>"$T/signal.err"
	expect "$1: nat-query --signal bob" "$?" 0
	wait_for "$T/bob.out" "^type=signal .* n=$H( |\$)" 20
	expect "$1: bob got the signal" "$?" 0
	sig=$(ms_since "$t0")
	echo "figure $1: register_ms=$reg query_ms=$q signal_ms=$sig"
	[ "$FAILS" = "$fails" ] || fail "$1: an honest client was not served"
}

# alive WHEN: the server still runs; else its last words (a sanitizer's
# report) and the end of the test.
alive() {
	kill -0 "$RVD_PID" 2>/dev/null && return 0
	tail -n 40 "$T/rvd.err"
	fail "$1: the server died"
}

# attack NAME: the RSS before it; after NAME, check_after NAME.
attack() {
	RSS0=$(rss_kb)
	echo "--- $1"
}
check_after() {
	local rss
	alive "$1"
	honest "after $1"
	rss=$(rss_kb)
	echo "figure $1: rss_kb before=$RSS0 after=$rss"
	# Sane: what an attack leaves behind is not what it cost.
	expect "$1: RSS after is within 64 MiB of before" \
	    "$((rss - RSS0 < 65536))" 1
}

honest start

# --- item 11: /metrics on its own listener ------------------------------
while read -r port method path want; do
	expect "$method $path on the ${port} listener" \
	    "$($HOSTILE get "${!port}" "$method" "$path")" "$want"
done <<'LIST'
PORT GET /metrics 404
PORT GET /healthz 200
MPORT GET /metrics 200
MPORT GET /healthz 200
MPORT GET /v1/peers 404
MPORT POST /v1/signal 405
LIST
alive "the listeners"
expect "the shipped configuration keeps /metrics on loopback" \
    "$(grep -c '^metrics-listen 127\.0\.0\.1:[0-9]*$' \
    "$NATKIT_TOP/scripts/systemd/nat-rendezvousd.conf")" 1
expect "the metrics listener speaks no WebSocket" \
    "$($HOSTILE upgrade-mix "$MPORT" | sed -n 's/^upgrade+get //p')" \
    "responses=0 status=- connection=- rest=0 close=eof ws_close=-"

# --- item 1: requests after the first on a connection -------------------
# A connection carries one request: the first is answered with
# "connection: close" and nothing after it is read, whether it came in the
# same write (pipelined), later (keep-alive), or is an upgrade.  Two
# POSTs in one write used to spin the server for good.
attack pipelining
for k in get post mix; do
	case $k in post) st=401 ;; *) st=200 ;; esac
	for n in 2 3 50; do
		expect "pipeline $k $n" "$($HOSTILE pipeline "$PORT" $k $n)" \
		    "responses=1 status=$st connection=close rest=0 close=eof"
	done
	expect "keep-alive $k" "$($HOSTILE keepalive "$PORT" $k)" \
	    "responses=1 status=$st connection=close rest=0 close=eof"
done
check_after pipelining

attack split
# A POST and a GET cut in two at every byte, and sent a byte at a time.
expect "split requests" "$($HOSTILE split "$PORT")" "cuts=195 same=195"
check_after split

attack upgrade-mix
expect "upgrade mix" "$($HOSTILE upgrade-mix "$PORT" | tr '\n' '|')" \
    "get+upgrade responses=1 status=200 connection=close rest=0 close=eof|upgrade+get responses=1 status=101 connection=Upgrade rest=0 close=eof ws_close=-|"
check_after upgrade-mix

# --- slow requests ----------------------------------------------------------
# On a second server with -t 2: a request's headers must be whole within
# -t of the connection, and its body within -t of the headers, however
# slowly they trickle (a byte every 0.25 s would take 10 s for the body:
# lws restarts its body timeout at every byte).
start_ready rvd2 20 "$B/nat-rendezvousd" -d -l 127.0.0.1:0 -w 2
PORT2=$(sed -n 's/^ready http=127\.0\.0\.1:\([0-9]*\) .*/\1/p' <<<"$READY")
RVD2_PID=$LAST_PID
expect "trickled headers: closed, unanswered" \
    "$($HOSTILE trickle "$PORT2" headers)" \
    "responses=0 status=- connection=- rest=0 close=closed"
expect "trickled body: 408" "$($HOSTILE trickle "$PORT2" body)" \
    "responses=1 status=408 connection=close rest=0 close=closed"
expect "trickled body counted" \
    "$($HOSTILE metrics "$PORT2" natkit_http_timeouts_total)" \
    "natkit_http_timeouts_total=1"
expect "the second server serves after" \
    "$($HOSTILE honest "$PORT2" 20 | sed 's/ p50.*//')" "n=20 ok=20"
kill "$RVD2_PID"

# --- item 3: idle connections -------------------------------------------

# idle N: N connections that never send a byte, 50 from each address
# from 127.1.0.1 on (the limit per address is 64), held while the honest
# clients come; the server's counters after.
idle() {
	local ev0 honest
	attack "idle $1"
	ev0=$(metric natkit_connections_evicted_total)
	start_ready "idle$1" 60 $HOSTILE idle "$PORT" "$1" --hold 120 --per 50 \
	    --rate 100
	IDLE_PID=$LAST_PID
	echo "$READY"
	# A connection is safe from eviction for its first two seconds.
	sleep 3
	honest "during idle $1"
	# The figure asked for: new clients' connect-to-answer times.
	honest=$($HOSTILE honest "$PORT" 200 --timeout 20)
	echo "figure idle $1: $honest"
	expect "idle $1: every new client answered" \
	    "$(sed 's/.* ok=\([0-9]*\) .*/\1/' <<<"$honest")" 200
	expect "idle $1: the counters answer, on their own listener" \
	    "$(metric natkit_connections | grep -c '^[0-9][0-9]*$')" 1
	EVICTED=$(($(metric natkit_connections_evicted_total) - ev0))
	echo "figure idle $1: evicted=$EVICTED" \
	    "$(metric natkit_connections_unauthenticated) unauthenticated"
	kill "$IDLE_PID"
	wait "$IDLE_PID"
	check_after "idle $1"
}
# 2,000 idle connections held 1,024 header tables (all lws had by
# default) and every newcomer waited for one, until -t closed an idle
# one: now every connection can have one.
idle 2000
expect "idle 2000: nobody evicted below 7/8 of -m" "$EVICTED" 0
# 2,700 from enough addresses would hold every connection (-m) and keep
# newcomers out: past 7/8 of -m each newcomer closes the oldest
# unauthenticated connection two seconds old.
idle 2700
expect "idle 2700: the oldest idle ones evicted" "$((EVICTED > 0))" 1

# --- the end ---------------------------------------------------------------
expect "bob's session was never closed" \
    "$(grep -c '^type=\(lost\|reregistered\)' "$T/bob.out")" 0
kill -0 "$BOB_PID" 2>/dev/null
expect "bob still running" "$?" 0
kill -TERM "$RVD_PID"
for ((i = 0; i < 100; i++)); do
	kill -0 "$RVD_PID" 2>/dev/null || break
	sleep 0.1
done
if kill -0 "$RVD_PID" 2>/dev/null; then
	kill -9 "$RVD_PID"
	expect "the server stops on SIGTERM" running stopped
else
	wait "$RVD_PID"
	expect "the server stops on SIGTERM with exit 0" "$?" 0
fi
expect "no sanitizer report" \
    "$(grep -c 'AddressSanitizer\|LeakSanitizer\|runtime error:' "$T/rvd.err")" 0
finish
