#!/bin/bash
# failover.sh: clients given several servers, the first of them down, on
# loopback.  nat-query gets past a closed port at once and past a server
# that accepts but never answers within one -w timeout (plus a margin that
# cannot flake); the server list comes from -s, else NATKIT_SERVERS (comma
# or space separated), else the servers file, and a bad one is a
# configuration error.  nat-register, started while one of its two servers
# is down, registers on the other, keeps that session, and registers on the
# first when it comes up; a silent first server does not delay it either.
# A signal sent with nat-query --signal past a
# silent server reaches the peer.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
[ -x "$B/nat-rendezvousd" ] || fail "build first: no $B/nat-rendezvousd"
command -v python3 >/dev/null || skip "needs python3"

# wait_for FILE PATTERN SECONDS: until a line of FILE matches (grep -E).
wait_for() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# within SECONDS since T0: 1 when less time passed.
within() { awk "BEGIN { print ($EPOCHREALTIME - $2 < $1) }"; }

start_ready live 10 "$B/nat-rendezvousd" -d -g 2 -l 127.0.0.1:0
[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+)\ ws=/v1/ws$ ]] ||
    fail "ready line: $READY"
LIVE=http://127.0.0.1:${BASH_REMATCH[1]}
# A port nobody listens on (taken from the kernel, then let go); the
# second server starts there later.
CLOSED_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CLOSED=http://127.0.0.1:$CLOSED_PORT
# A server that accepts connections and never says a word.
start_ready silent 10 python3 -c '
import socket, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
print("ready port=%d" % s.getsockname()[1], flush=True)
time.sleep(300)'
SILENT=http://127.0.0.1:$(field port <<<"$READY")

# A peer registered on the live server only, to be found.
export NATKIT_HOME=$T/bob
mkdir -m 700 "$NATKIT_HOME"
echo "type=profile nat=open public=127.0.0.1:4000" >"$T/bob.profile"
start_ready bob 10 sh -c 'exec "$@" <"$0"' "$T/bob.profile" \
    "$B/nat-register" -s "$LIVE" -N bob -e "cat >$T/bob.signal"
expect "bob registered" "$(field type <<<"$READY") $(field server <<<"$READY")" \
    "registered $LIVE"
BOB=$(field id <<<"$READY")
unset NATKIT_HOME

# query NAME ARGS...: nat-query by name, the exit status and the peer's
# name in GOT, the time it took checked by the caller.
query() {
	local what=$1
	shift
	T0=$EPOCHREALTIME
	out=$("$@" 2>"$T/query.err")
	GOT="$?:$(field name <<<"$out")"
	[ "${GOT%%:*}" = 0 ] || { echo "-- $what:"; cat "$T/query.err"; }
}

# --- nat-query with -s ------------------------------------------------
query "closed port" "$B/nat-query" -w 5 -s "$CLOSED" -s "$LIVE" bob
expect "a closed port first" "$GOT" "0:bob"
expect "a closed port costs no timeout (under 2 s)" "$(within 2 "$T0")" 1
query "silent" "$B/nat-query" -v -w 2 -s "$SILENT" -s "$LIVE" bob
expect "a silent server first" "$GOT" "0:bob"
expect "a silent server costs one timeout (-w 2, under 5 s)" \
    "$(within 5 "$T0")" 1
expect "the story: the silent one, then the live one" \
    "$(sed -n 's/^nat-query: asking //p' "$T/query.err" | tr '\n' ' ')" \
    "$SILENT $LIVE "
query "all down" "$B/nat-query" -w 1 -s "$CLOSED" -s "$SILENT" bob
expect "every server down: exit 69" "${GOT%%:*}" 69
expect "every server down: two rounds of -w 1 and one backoff, under 7 s" \
    "$(within 7 "$T0")" 1

# --- the server list from the environment and the file -----------------
query "env comma" env NATKIT_SERVERS="$CLOSED,$LIVE" "$B/nat-query" -w 5 bob
expect "NATKIT_SERVERS, commas" "$GOT" "0:bob"
query "env space" env NATKIT_SERVERS="$SILENT $LIVE" "$B/nat-query" -w 2 bob
expect "NATKIT_SERVERS, spaces, a silent server first" "$GOT" "0:bob"
expect "... within one timeout (-w 2, under 5 s)" "$(within 5 "$T0")" 1
query "env overridden" env NATKIT_SERVERS="$CLOSED" "$B/nat-query" -w 5 \
    -s "$LIVE" bob
expect "-s wins over NATKIT_SERVERS" "$GOT" "0:bob"
mkdir -m 700 "$T/home"
printf '# the servers, in order\n%s   # down\n\n%s\n' "$CLOSED" "$LIVE" \
    >"$T/home/servers"
query "file" env -u NATKIT_SERVERS NATKIT_HOME="$T/home" "$B/nat-query" -w 5 bob
expect "the servers file" "$GOT" "0:bob"
query "env over file" env NATKIT_SERVERS="$LIVE" NATKIT_HOME="$T/nohome" \
    "$B/nat-query" -w 5 bob
expect "NATKIT_SERVERS wins over the file" "$GOT" "0:bob"
mkdir -p "$T/xdg/natkit"
printf '%s\n' "$LIVE" >"$T/xdg/natkit/servers"
query "xdg" env -u NATKIT_SERVERS -u NATKIT_HOME XDG_CONFIG_HOME="$T/xdg" \
    "$B/nat-query" -w 5 bob
expect "\$XDG_CONFIG_HOME/natkit/servers" "$GOT" "0:bob"
out=$(env NATKIT_SERVERS="$LIVE,ftp://x" "$B/nat-query" bob 2>&1 >/dev/null)
expect "a bad URL in NATKIT_SERVERS" "$?:$out" \
    "78:nat-query: server ftp://x: not http[s]://host[:port]"
printf '%s\nhttp://\n' "$LIVE" >"$T/home/servers"
out=$(env -u NATKIT_SERVERS NATKIT_HOME="$T/home" "$B/nat-query" bob 2>&1 >/dev/null)
expect "a bad URL in the servers file" "$?:$out" \
    "78:nat-query: server http://: not http[s]://host[:port] (in $T/home/servers)"
out=$(env -u NATKIT_SERVERS NATKIT_HOME="$T/empty" "$B/nat-query" bob 2>&1 >/dev/null)
expect "no server anywhere" "$?:$out" \
    "64:nat-query: no server: give -s url or set NATKIT_SERVERS"

# --- a signal past a silent server ----------------------------------------
mkdir -m 700 "$T/alice"
T0=$EPOCHREALTIME
out=$(echo "type=hello n=1" | NATKIT_HOME=$T/alice "$B/nat-query" --signal \
    -w 2 -s "$SILENT" -s "$LIVE" "$BOB" 2>"$T/signal.err")
expect "--signal past a silent server" "$?:$out" \
    "0:type=sent to=$BOB server=$LIVE"
expect "... within one timeout (-w 2, under 6 s)" "$(within 6 "$T0")" 1
wait_for "$T/bob.out" '^type=signal ' 5
expect "bob got it" "$(grep '^type=signal ' "$T/bob.out" | field body-type)" hello
# By name: the lookup meets the silent server once, the signal goes
# straight to the live one (two timeouts would be 8 s).
T0=$EPOCHREALTIME
out=$(echo "type=hello n=2" | NATKIT_HOME=$T/alice "$B/nat-query" --signal \
    -w 4 -s "$SILENT" -s "$LIVE" bob 2>"$T/signal.err")
expect "--signal by name past a silent server" "$?:$out" \
    "0:type=sent to=$BOB server=$LIVE"
expect "... within one timeout (-w 4, under 7 s)" "$(within 7 "$T0")" 1
wait_for "$T/bob.out" '^type=signal .* n=2' 5
expect "bob got the second" "$(grep -c '^type=signal .* n=2' "$T/bob.out")" 1

# --- nat-register on two servers, the first down ----------------------------
export NATKIT_HOME=$T/carol
mkdir -m 700 "$NATKIT_HOME"
start_ready carol 10 sh -c 'exec "$@" <"$0"' "$T/bob.profile" \
    "$B/nat-register" -s "$CLOSED" -s "$LIVE" -N carol
CAROL_PID=$LAST_PID
unset NATKIT_HOME
wait_for "$T/carol.out" "^type=registered .*server=$LIVE " 10
line=$(grep -m 1 "^type=registered .*server=$LIVE " "$T/carol.out")
expect "carol registered on the live server" "$(field server <<<"$line")" "$LIVE"
CAROL=$(field id <<<"$line")
wait_for "$T/carol.out" "^type=lost server=$CLOSED " 5
expect "the down one reported lost once" \
    "$(grep -c "^type=lost server=$CLOSED " "$T/carol.out")" 1
start_ready second 10 "$B/nat-rendezvousd" -d -g 2 -l 127.0.0.1:$CLOSED_PORT
expect "the second server is up" "$READY" "ready http=127.0.0.1:$CLOSED_PORT ws=/v1/ws"
# The reconnection backoff is at most 30 s (+25%) between attempts; it
# has grown for a few seconds only here.
wait_for "$T/carol.out" "^type=(re)?registered .*server=$CLOSED " 20 ||
    cat "$T/carol.out" "$T/carol.err"
expect "carol registered on the second server when it came up" \
    "$(grep -Ec "^type=(re)?registered .*server=$CLOSED " "$T/carol.out")" 1
expect "the live session was kept" \
    "$(grep -c "^type=lost server=$LIVE " "$T/carol.out")" 0
for u in "$LIVE" "$CLOSED"; do
	out=$("$B/nat-query" -w 5 -s "$u" "$CAROL" 2>&1)
	expect "carol is online at $u" "$?:$(field name <<<"$out")" "0:carol"
done

# A silent first server does not hold the registration on the live one.
mkdir -m 700 "$T/dave"
T0=$EPOCHREALTIME
start_ready dave 10 env NATKIT_HOME="$T/dave" sh -c 'exec "$@" <"$0"' \
    "$T/bob.profile" "$B/nat-register" -s "$SILENT" -s "$LIVE" -N dave
wait_for "$T/dave.out" "^type=registered .*server=$LIVE " 10
expect "dave registered on the live server past a silent one, under 3 s" \
    "$(grep -c "^type=registered .*server=$LIVE " "$T/dave.out") $(within 3 "$T0")" "1 1"

# A server that cannot be reached is said on stderr, with its name and the
# wait before the next try; a TLS URL at a plain server, in words.
mkdir -m 700 "$T/erin"
for u in "http://127.0.0.1:1" "${LIVE/http:/https:}"; do
	: >"$T/erin.err"
	env NATKIT_HOME="$T/erin" "$B/nat-register" -s "$u" -N erin \
	    <"$T/bob.profile" >/dev/null 2>"$T/erin.err" &
	pid=$!
	PIDS="$PIDS $pid"
	wait_for "$T/erin.err" "trying again in [0-9.]+ s" 20
	kill "$pid"
	wait "$pid"
	expect "unreachable $u: said, with the wait" \
	    "$(grep -c "^nat-register: $u: .*; trying again in [0-9.]* s$" "$T/erin.err")" \
	    "$(grep -c 'trying again' "$T/erin.err")"
	grep -q 'trying again' "$T/erin.err" || expect "unreachable $u: said" no yes
done
expect "a TLS URL at a plain server, in words" \
    "$(grep -c 'the TLS handshake failed: is 127.0.0.1:[0-9]* a TLS server?' "$T/erin.err")" \
    "$(grep -c 'trying again' "$T/erin.err")"

kill "$CAROL_PID"
wait "$CAROL_PID"
expect "nat-register exits 0 on SIGTERM" "$?" 0

finish
