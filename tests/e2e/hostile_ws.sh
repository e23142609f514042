#!/bin/bash
# hostile_ws.sh: nat-rendezvousd's WebSocket side against hostile clients
# on loopback (issue 12, the adversarial suite).  Every attack of
# ws_attack.py (malformed frames, text that is not UTF-8, floods before
# auth, oversized, deep and odd JSON, slow writers and readers, relays
# that never read, connection storms) checks its own exact outcome; then
# its network fuzzer runs for WS_FUZZ_SECONDS (default 20).  Meanwhile an
# honest peer, bob, stays registered and is looked up every half second,
# and between attacks it is looked up and signalled: each of those must
# be served, bob's session must never close, and the server's memory is
# printed before and after each attack and bounded at the end.  With
# O=build-san the servers run under ASan and UBSan: a report aborts the
# server, which fails the test.  Attacks come from 127.0.x.y addresses
# other than 127.0.0.1, bob and the lookups from 127.0.0.1.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
ATTACK="python3 $NATKIT_TOP/tests/e2e/ws_attack.py"
[ -x "$B/nat-rendezvousd" ] || fail "build first: no $B/nat-rendezvousd"
command -v python3 >/dev/null || skip "needs python3"
python3 -c 'import ctypes.util, sys
sys.exit(ctypes.util.find_library("sodium") is None)' ||
    skip "needs libsodium where python3's ctypes finds it"
# Under ASan: a small quarantine, so that RSS says what the server keeps;
# the memory bounds allow for it and ASan's own keeping (SLACK MiB).
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=16
SLACK=0
ldd "$B/nat-rendezvousd" | grep -q libasan && SLACK=48

# wait_for FILE PATTERN SECONDS: until a line of FILE matches (grep -E).
wait_for() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }

# The server the attacks hit, with short timeouts so that the attacks
# that wait for them are short: ping after 3 s of quiet, closed 3 s
# later; auth and HTTP requests within 3 s.  The second has no message
# rate and no signal budgets (-M 0 -S 0), so that a victim's queue (-Q)
# is what fills.
start_ready rvd 20 "$B/nat-rendezvousd" -d -v -l 127.0.0.1:0 -i 3 -w 3 -g 2
[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+)\ ws=/v1/ws$ ]] ||
    fail "ready line: $READY"
RVD_PID=$LAST_PID
PORT=${BASH_REMATCH[1]}
URL=http://127.0.0.1:$PORT
start_ready rvq 20 "$B/nat-rendezvousd" -d -l 127.0.0.1:0 -i 3 -w 3 \
    -M 0 -S 0
[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+)\ ws=/v1/ws$ ]] ||
    fail "ready line: $READY"
RVQ_PID=$LAST_PID
QPORT=${BASH_REMATCH[1]}

echo "type=profile nat=open public=127.0.0.1:4000" >"$T/profile"
mkdir -m 700 "$T/bob" "$T/alice"
start_ready bob 20 env NATKIT_HOME="$T/bob" sh -c 'exec "$@" <"$0"' \
    "$T/profile" "$B/nat-register" -s "$URL" -N bob
[ "$(field type <<<"$READY")" = registered ] || fail "bob: $READY"
BOB_PID=$LAST_PID
BOB=$(field id <<<"$READY")

# While the attacks run: bob looked up every half second, each lookup
# bounded by -w 5, at most 1200 of them; one line per lookup.
(
	for ((i = 0; i < 1200; i++)); do
		[ -e "$T/stop" ] && break
		if out=$("$B/nat-query" -w 5 -s "$URL" "$BOB" 2>&1) &&
		    [ "$(field name <<<"$out")" = bob ]; then
			echo ok
		else
			echo "fail $(date +%T) $out"
		fi
		sleep 0.5
	done
) >"$T/lookups" 2>&1 &
LOOKUPS=$!
PIDS="$PIDS $LOOKUPS"

# honest WHEN: bob looked up and signalled now; the server alive.
H=0
honest() {
	local out
	H=$((H + 1))
	kill -0 "$RVD_PID" 2>/dev/null ||
	    { tail -n 30 "$T/rvd.err"; fail "$1: the server died"; }
	out=$("$B/nat-query" -w 5 -s "$URL" "$BOB" 2>"$T/query.err")
	expect "$1: nat-query bob" "$?:$(field name <<<"$out")" "0:bob"
	echo "type=hello n=$H" | NATKIT_HOME=$T/alice "$B/nat-query" --signal \
	    -w 5 -s "$URL" "$BOB" >/dev/null 2>"$T/signal.err"
	expect "$1: nat-query --signal bob" "$?" 0
	wait_for "$T/bob.out" "^type=signal .* n=$H( |\$)" 10
	expect "$1: bob got the signal" "$?" 0
}

# hit PID PORT NAME...: runs the attacks against the server at PORT,
# each checked by ws_attack.py itself, the RSS before and after printed.
hit() {
	local pid=$1 port=$2 a r0 r1
	shift 2
	for a in "$@"; do
		r0=$(rss_kb "$pid")
		$ATTACK -i 3 -t 3 -m "$SLACK" -b 127.0.0.2 "127.0.0.1:$port" "$a" \
		    >"$T/attack.out" 2>&1
		expect "attack $a" "$?" 0
		cat "$T/attack.out"
		kill -0 "$pid" 2>/dev/null ||
		    { tail -n 30 "$T/rvd.err" "$T/rvq.err"
		      fail "$a: the server died"; }
		honest "after $a"
		r1=$(rss_kb "$pid")
		echo "figure $a: rss_kb before=$r0 after=$r1"
	done
}

honest start
RSS_START=$(rss_kb "$RVD_PID")
mapfile -t ATTACKS < <($ATTACK "127.0.0.1:$PORT" list |
    awk '$2 == "default" { print $1 }')
expect "the attacks listed" "$((${#ATTACKS[@]} >= 25))" 1
hit "$RVD_PID" "$PORT" "${ATTACKS[@]}"
hit "$RVQ_PID" "$QPORT" slow-reader-queue

# The network fuzzer, /healthz checked every 50 inputs.
r0=$(rss_kb "$RVD_PID")
$ATTACK "127.0.0.1:$PORT" fuzz "${WS_FUZZ_SECONDS:-20}" >"$T/fuzz.out" 2>&1
expect "the fuzzer: the server answered throughout" "$?" 0
cat "$T/fuzz.out"
kill -0 "$RVD_PID" 2>/dev/null ||
    { tail -n 30 "$T/rvd.err"; fail "fuzz: the server died"; }
honest "after fuzz"
echo "figure fuzz: rss_kb before=$r0 after=$(rss_kb "$RVD_PID")"

# --- the end ---------------------------------------------------------------
touch "$T/stop"
wait "$LOOKUPS"
echo "figure lookups during the attacks: $(grep -c '^ok' "$T/lookups")" \
    "served, $(grep -vc '^ok' "$T/lookups") failed"
grep -v '^ok' "$T/lookups" | head -n 5
expect "no lookup of bob failed during the attacks" \
    "$(grep -vc '^ok' "$T/lookups")" 0
RSS_END=$(rss_kb "$RVD_PID")
echo "figure all attacks: rss_kb before=$RSS_START after=$RSS_END"
# What the attacks leave behind is not what they cost: at most twice
# what the server held before, 32 MiB for the allocator's keeping, and
# SLACK for ASan's.
expect "RSS after every attack < 2 x before + 32 MiB + $SLACK MiB" \
    "$((RSS_END < 2 * RSS_START + 32768 + SLACK * 1024))" 1
expect "bob's session was never closed" \
    "$(grep -c '^type=\(lost\|reregistered\)' "$T/bob.out")" 0
kill -0 "$BOB_PID" 2>/dev/null
expect "bob still running" "$?" 0
for p in $RVD_PID $RVQ_PID; do
	kill -TERM "$p"
	for ((i = 0; i < 100; i++)); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		kill -9 "$p"
		expect "the server stops on SIGTERM" running stopped
	else
		wait "$p"
		expect "the server stops on SIGTERM with exit 0" "$?" 0
	fi
done
expect "no sanitizer report" "$(cat "$T/rvd.err" "$T/rvq.err" |
    grep -c 'AddressSanitizer\|LeakSanitizer\|runtime error:')" 0
finish
