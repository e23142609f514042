#!/bin/bash
# hostile_clients.sh: the clients facing hostile servers (issue 12, items
# 8 and 10).  nat-query against fake_rv.py (slow, dripping, huge and
# endless pages, records that break the protocol, validly signed records
# full of escape sequences, WebSocket sessions that replay, refuse with
# escapes, send oversized messages or garbage) and nat-probe against
# fake_stun.py (silence, garbage, oversized and mismatched answers,
# escapes).  Each asserts the exit status, the words on standard error,
# that nothing printed holds a control character, that -w bounds the run
# (generously: -w 2 must end within 10 s) and that memory stays bounded.
# The real nat-rendezvousd refuses such a record with bad-field.
# Everything runs on loopback; nat-probe runs with -G.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

E2E=$(dirname "$NATKIT_BIN")/tests/e2e
Q=$NATKIT_BIN/nat-query
PROBE=$NATKIT_BIN/nat-probe
RVD=$NATKIT_BIN/nat-rendezvousd
SIGN=$E2E/peer-record
FAKE_RV=$NATKIT_TOP/tests/e2e/fake_rv.py
FAKE_STUN=$NATKIT_TOP/tests/e2e/fake_stun.py
[ -x "$Q" ] && [ -x "$PROBE" ] && [ -x "$SIGN" ] || fail "build first"
command -v python3 >/dev/null || skip "needs python3"
[ -x /usr/bin/time ] || skip "needs /usr/bin/time (GNU time)"
command -v curl >/dev/null || skip "needs curl"
export NATKIT_HOME=$T/home
mkdir -m 700 "$NATKIT_HOME"
unset NATKIT_SERVERS
MEM_MAX_KB=65536	# what nat-query may hold against any server
# Under ASan memory is the sanitizer's: the bound is not checked there.
ldd "$Q" 2>/dev/null | grep -q libasan && MEM_MAX_KB=$((1 << 30))

# ontty OUT ERR CMD...: runs CMD with its standard output on a terminal
# (a pty in raw mode, so that the bytes are as written) into OUT, its
# standard error into ERR.  Exits with CMD's status.
cat >"$T/ontty.py" <<'EOF'
import os, pty, subprocess, sys, tty
out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
m, s = pty.openpty()
tty.setraw(s)
with open(err, "wb") as e:
    p = subprocess.Popen(cmd, stdout=s, stderr=e)
os.close(s)
data = b""
while True:
    try:
        d = os.read(m, 65536)
    except OSError:
        break
    if not d:
        break
    data += d
rc = p.wait()
open(out, "wb").write(data)
sys.exit(rc)
EOF
ontty() { python3 "$T/ontty.py" "$@"; }

# clean FILE: "clean", or what a terminal would obey in FILE and where
# (C0 but newline, DEL, C1, bytes that are not UTF-8, bidi and line
# separators).
cat >"$T/clean.py" <<'EOF'
import sys
b = open(sys.argv[1], "rb").read()
try:
    t = b.decode("utf-8")
except UnicodeDecodeError as e:
    sys.exit(print("not UTF-8 at byte %d" % e.start))
bad = set("\u061c\u200e\u200f") | set(map(chr, range(0x2028, 0x202f))) | \
    set(map(chr, range(0x2066, 0x206a)))
for i, c in enumerate(t):
    if c != "\n" and (ord(c) < 0x20 or 0x7f <= ord(c) <= 0x9f or c in bad):
        sys.exit(print("U+%04X at character %d" % (ord(c), i)))
print("clean")
EOF
clean() { python3 "$T/clean.py" "$1"; }

# timed OUT ERR CMD...: runs CMD, sets RC, SECS (elapsed) and KB (max RSS).
timed() {
	local out=$1 err=$2
	shift 2
	/usr/bin/time -f '%e %M' -o "$T/time" "$@" >"$out" 2>"$err"
	RC=$?
	read -r SECS KB < <(tail -n 1 "$T/time")
}
# within SECS LIMIT: "yes" when SECS < LIMIT.
within() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b) ? "yes" : "no" }'; }
# has FILE TEXT: "yes" when FILE holds TEXT (fixed string), else the file.
has() { grep -qF -- "$2" "$1" && echo yes || head -c 300 "$1"; }

# fake MODE [ARGS...]: a fake_rv.py; its URL in URL, its port in PORT.
# fakes_stop ends them all.
FAKES=""
fake() {
	start_ready "rv-$1-$RANDOM" 10 python3 "$FAKE_RV" -t 60 "${@:2}" "$1"
	[[ $READY =~ ^ready\ ([0-9]+)$ ]] || fail "fake_rv $1: $READY"
	PORT=${BASH_REMATCH[1]}
	URL=http://127.0.0.1:$PORT
	FAKES="$FAKES $LAST_PID"
}
fakes_stop() {
	local p
	for p in $FAKES; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
	FAKES=""
}

# --- records to serve: signed by their peer, so only the grammar is wrong
ESC_PROFILE='type=profile nat=%1B]0;owned%07%1B[2J public=203.0.113.7:40001%C2%9B1m'
echo "$ESC_PROFILE" | "$SIGN" -k evil -n evil 1 >"$T/escape.json" ||
    fail "peer-record"
EVIL=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <"$T/escape.json")
echo 'type=profile nat=full-cone public=203.0.113.8:40001 verified=yes' |
    "$SIGN" -k liar -n liar 1 >"$T/liar.json"
LIAR=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <"$T/liar.json")
echo 'type=profile mapping=endpoint-independent nat=full-cone public=203.0.113.9:40001 local=10.0.0.2' |
    "$SIGN" -k good -n good 1 >"$T/good.json"
GOOD=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])' <"$T/good.json")
cat "$T/escape.json" "$T/liar.json" "$T/good.json" >"$T/all.json"

# --- item 8: escape sequences in a validly signed record ---------------
fake normal -r "$T/all.json"
ontty "$T/o" "$T/e" "$Q" -s "$URL"
expect "table on a terminal: exit" "$?" 76
expect "table on a terminal: stdout" "$(clean "$T/o")" clean
expect "table on a terminal: stderr" "$(clean "$T/e")" clean
expect "table shows the escape, escaped" "$(has "$T/o" '\x1b]0;owned\x07\x1b[2J')" yes
expect "table: the good peer verifies" \
    "$(grep -c "^$GOOD  good .* yes$" "$T/o")" 1
expect "warning names the field" \
    "$(has "$T/e" "peer $EVIL: record not verified: field nat: not a NAT type")" yes
ontty "$T/o" "$T/e" "$Q" -s "$URL" "$EVIL"
expect "one peer on a terminal: exit" "$?" 76
expect "one peer on a terminal: stdout" "$(clean "$T/o")" clean
expect "one peer: public escaped" \
    "$(grep -c '^public        203.0.113.7:40001\\xc2\\x9b1m$' "$T/o")" 1
expect "one peer: verdict" "$(grep '^verified' "$T/o")" \
    "verified      NO: field nat: not a NAT type"
ontty "$T/o" "$T/e" "$Q" -r -s "$URL" "$EVIL"
expect "-r on a terminal: exit" "$?" 76
expect "-r on a terminal: stdout" "$(clean "$T/o")" clean
expect "-r escapes C1 as %XX" "$(field public <"$T/o")" "203.0.113.7:40001%C2%9B1m"
expect "-r reason" "$(field reason <"$T/o" | unescape)" "field nat: not a NAT type"
ontty "$T/o" "$T/e" "$Q" -j -s "$URL" "$EVIL"
expect "-j on a terminal: exit" "$?" 76
expect "-j on a terminal: stdout" "$(clean "$T/o")" clean
expect "-j escapes ESC and C1" "$(python3 -c 'import json,sys; r=json.load(sys.stdin); print(repr(r["nat"]), repr(r["public"]), r["verified"])' <"$T/o")" \
    "'\\x1b]0;owned\\x07\\x1b[2J' '203.0.113.7:40001\\x9b1m' no"
# A signed verified=yes is not passed on: one verified field, ours.
"$Q" -r -s "$URL" "$LIAR" >"$T/o" 2>"$T/e"
expect "verified=yes in a record: exit" "$?" 76
expect "verified=yes in a record: one verified" \
    "$(grep -o ' verified=[a-z]*' "$T/o" | tr -d ' ')" "verified=no"
expect "verified=yes in a record: reason" "$(field reason <"$T/o" | unescape)" \
    "field verified: readers add it, a record may not carry it"
"$Q" -r -s "$URL" "$GOOD" >"$T/o" 2>"$T/e"
expect "a good record: exit" "$?" 0
expect "a good record: verified" "$(field verified <"$T/o")" yes

# --- item 8: the real server refuses such a record ------------------
if [ -x "$RVD" ]; then
	start_ready rvd 10 "$RVD" -d -l 127.0.0.1:0
	[[ $READY =~ ^ready\ http=127\.0\.0\.1:([0-9]+) ]] || fail "rvd: $READY"
	RV=http://127.0.0.1:${BASH_REMATCH[1]}
	echo "$ESC_PROFILE" | "$SIGN" -b -k evil -n evil 2 >"$T/body"
	expect "server refuses escapes" "$(curl -s -w ' %{http_code}' \
	    -H 'Content-Type: application/json' --data-binary @"$T/body" \
	    "$RV/v1/peers")" \
	    '{"error":"bad-field","reason":"field nat: not a NAT type"} 400'
	echo 'type=profile nat=full-cone public=203.0.113.8:40001 verified=yes' |
	    "$SIGN" -b -k liar -n liar 2 >"$T/body"
	expect "server refuses verified=yes" "$(curl -s -w ' %{http_code}' \
	    -H 'Content-Type: application/json' --data-binary @"$T/body" \
	    "$RV/v1/peers")" \
	    '{"error":"bad-field","reason":"field verified: readers add it, a record may not carry it"} 400'
	echo 'type=profile nat=full-cone public=203.0.113.9:40001' |
	    "$SIGN" -b -k good -n good 2 >"$T/body"
	expect "server takes a good record" "$(curl -s -o /dev/null \
	    -w '%{http_code}' -H 'Content-Type: application/json' \
	    --data-binary @"$T/body" "$RV/v1/peers")" 200
fi

# --- item 10: -w bounds the whole run, and what is read is bounded ---
fakes_stop
fake slow -r "$T/good.json"
timed "$T/o" "$T/e" "$Q" -w 2 -s "$URL"
expect "slow endless pages: exit" "$RC" 69
expect "slow endless pages: -w 2 ends within 10 s" "$(within "$SECS" 10)" yes
expect "slow endless pages: says" "$(has "$T/e" "no server answered within -w: $URL: page ")" yes
fakes_stop
fake drip -r "$T/good.json"
timed "$T/o" "$T/e" "$Q" -w 2 -s "$URL"
expect "a dripping page: exit" "$RC" 69
expect "a dripping page: -w 2 ends within 10 s" "$(within "$SECS" 10)" yes
fakes_stop
fake silent
SILENT=$PORT
fake normal -r "$T/good.json"
timed "$T/o" "$T/e" "$Q" -r -w 4 -s "http://127.0.0.1:9,$URL" "$GOOD"
expect "after a refusing server, the next: exit" "$RC" 0
timed "$T/o" "$T/e" "$Q" -r -w 4 -s "http://127.0.0.1:$SILENT,$URL" "$GOOD"
expect "after a silent server, the next: exit" "$RC" 0
expect "after a silent server: -w 4 ends within 10 s" "$(within "$SECS" 10)" yes
expect "after a silent server: the record" "$(field verified <"$T/o")" yes
timed "$T/o" "$T/e" "$Q" -w 2 -s "http://127.0.0.1:$SILENT,http://127.0.0.1:$SILENT/"
expect "two silent servers: exit" "$RC" 69
expect "two silent servers: -w 2 ends within 10 s" "$(within "$SECS" 10)" yes

fakes_stop
fake huge -s 104857600
timed "$T/o" "$T/e" "$Q" -w 30 -s "$URL"
expect "a 100 MB page: exit" "$RC" 76
expect "a 100 MB page: says" "$(head -c 300 "$T/e")" "nat-query: $URL: an answer larger than 512 KiB"
expect "a 100 MB page: memory under $MEM_MAX_KB KiB" "$((KB < MEM_MAX_KB))" 1
fakes_stop
fake flood
timed "$T/o" "$T/e" "$Q" -w 60 -s "$URL"
expect "endless full pages: exit" "$RC" 76
expect "endless full pages: says" "$(head -c 300 "$T/e")" "nat-query: $URL: more than 16 MiB of records"
expect "endless full pages: memory under $MEM_MAX_KB KiB" "$((KB < MEM_MAX_KB))" 1
echo "endless full pages: ${SECS} s, ${KB} KiB"
fakes_stop
fake endless -r "$T/good.json"
timed "$T/o" "$T/e" "$Q" -w 60 -s "$URL"
expect "endless pages: exit" "$RC" 76
expect "endless pages: says" "$(head -c 300 "$T/e")" "nat-query: $URL: the list goes on past 100 pages"
fakes_stop
fake big-record
timed "$T/o" "$T/e" "$Q" -s "$URL"
expect "a 5 kB record: exit" "$RC" 76
expect "a 5 kB record: says" "$(head -c 300 "$T/e")" \
    "nat-query: $URL: a record of 5033 bytes, more than the 4096 a peer may register"
fakes_stop
fake too-many
timed "$T/o" "$T/e" "$Q" -s "$URL"
expect "101 on a page: exit" "$RC" 76
expect "101 on a page: says" "$(head -c 300 "$T/e")" \
    "nat-query: $URL: more than the 100 peers asked for on a page"
fakes_stop
fake garbage
timed "$T/o" "$T/e" "$Q" -s "$URL"
expect "garbage: exit" "$RC" 76
expect "garbage: says" "$(head -c 300 "$T/e")" \
    "nat-query: $URL: the answer has no peers list or a bad next cursor"
fakes_stop
fake error-escapes
timed "$T/o" "$T/e" "$Q" -v -s "$URL"
expect "an error code of escapes: exit" "$RC" 76
expect "an error code of escapes: stderr (with -v)" "$(clean "$T/e")" clean
expect "an error code of escapes: shown" \
    "$(has "$T/e" "nat-query: $URL: HTTP 400 \\x1b]0;owned\\x07\\x1b[2J")" yes

# --- the WebSocket side: nat-query --signal ---------------------------
fakes_stop
fake ws-normal
echo type=note x=1 >"$T/note"
timed "$T/o" "$T/e" "$Q" -r --signal -w 5 -s "$URL" "$GOOD" <"$T/note"
expect "signal: exit" "$RC" 0
expect "signal: sent" "$(cat "$T/o")" "type=sent to=$GOOD server=$URL"
fakes_stop
fake ws-error-escapes
timed "$T/o" "$T/e" "$Q" -r --signal -v -w 5 -s "$URL" "$GOOD" <"$T/note"
expect "signal refused with escapes: exit" "$RC" 76
expect "signal refused with escapes: stderr" "$(clean "$T/e")" clean
expect "signal refused with escapes: shown" \
    "$(has "$T/e" "nat-query: $URL: \\x1b]0;owned\\x07")" yes
fakes_stop
fake ws-replay
timed "$T/o" "$T/e" "$Q" -r --signal -w 2 -s "$URL" "$GOOD" <"$T/note"
expect "replayed welcome is no confirmation: exit" "$RC" 75
expect "replayed: -w 2 ends within 10 s" "$(within "$SECS" 10)" yes
fakes_stop
fake ws-oversize
timed "$T/o" "$T/e" "$Q" -r --signal -w 2 -s "$URL" "$GOOD" <"$T/note"
expect "a 1 MiB message: exit" "$RC" 69
expect "a 1 MiB message: -w 2 ends within 10 s" "$(within "$SECS" 10)" yes
expect "a 1 MiB message: memory under $MEM_MAX_KB KiB" "$((KB < MEM_MAX_KB))" 1
fakes_stop
fake ws-garbage
timed "$T/o" "$T/e" "$Q" -r --signal -w 2 -s "$URL" "$GOOD" <"$T/note"
expect "garbage frames: exit" "$RC" 69
expect "garbage frames: stderr" "$(clean "$T/e")" clean
# A tagged ws:// session frames WebSocket itself (wsframe.c).
fakes_stop
fake ws-split
timed "$T/o" "$T/e" "$Q" -r --signal -w 5 -s "$URL" "$GOOD" <"$T/note"
expect "frames in pieces, a ping among fragments: exit" "$RC" 0
expect "frames in pieces: sent" "$(cat "$T/o")" "type=sent to=$GOOD server=$URL"
fakes_stop
fake ws-masked
timed "$T/o" "$T/e" "$Q" -r --signal -v -w 2 -s "$URL" "$GOOD" <"$T/note"
expect "a masked frame from the server: exit" "$RC" 69
expect "a masked frame: refused" "$(has "$T/e" "malformed WebSocket frame")" yes
fakes_stop
fake ws-bad-accept
timed "$T/o" "$T/e" "$Q" -r --signal -v -w 2 -s "$URL" "$GOOD" <"$T/note"
expect "a wrong Sec-WebSocket-Accept: exit" "$RC" 69
expect "a wrong Sec-WebSocket-Accept: refused" \
    "$(has "$T/e" "Sec-WebSocket-Accept is wrong")" yes

# --- nat-probe against a hostile STUN server ---------------------------
fakes_stop
stun() { # MODE EXPECTED-EXIT PUBLIC
	fakes_stop
	start_ready "stun-$1" 10 python3 "$FAKE_STUN" -t 60 "$1"
	[[ $READY =~ ^ready\ ([0-9]+)$ ]] || fail "fake_stun $1: $READY"
	STUN=127.0.0.1:${BASH_REMATCH[1]}
	FAKES="$FAKES $LAST_PID"
	timed "$T/o" "$T/e" "$PROBE" -G -v -r -s "$STUN"
	expect "stun $1: exit" "$RC" "$2"
	expect "stun $1: public" "$(field public <"$T/o")" "$3"
	expect "stun $1: stderr (-v)" "$(clean "$T/e")" clean
	expect "stun $1: ends within 30 s" "$(within "$SECS" 30)" yes
}
stun normal 0 127.0.0.9:4444
stun silent 1 -
stun garbage 1 -
stun huge 1 -
stun wrong-tid 1 -
stun bad-attr 1 -
stun noisy 0 127.0.0.9:4444
stun escapes 0 127.0.0.9:4444
ontty "$T/o" "$T/e" "$PROBE" -G -s "$STUN"
expect "stun escapes: the report on a terminal" "$(clean "$T/o")" clean
expect "stun escapes: the report" "$(grep '^public:' "$T/o")" "public:       127.0.0.9:4444"

finish
