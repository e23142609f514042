#!/bin/bash
# status_page.sh: nat-rendezvousd's status page on the -x listener, in a
# real headless Chromium (tests/e2e/status_browser.py, on loopback).
# Three peers register, two of them relay 20 bytes, one signals itself 5
# times, and a bad request is refused: the page shows those figures; a
# fourth peer registers and the page shows 4 without a reload; every
# request it made went to the metrics listener; the last hour's graph
# gains samples.  The public listener serves neither the page nor its
# JSON.  A server whose Redis is unreachable shows its engine degraded.  A screenshot is left in $O/tests/log/status_page.png.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

RVD=$NATKIT_BIN/nat-rendezvousd
TOOL=$(dirname "$NATKIT_BIN")/tests/e2e/rv-client-tool
BROWSER=$NATKIT_TOP/tests/e2e/status_browser.py
[ -x "$RVD" ] && [ -x "$TOOL" ] || fail "build first: no $RVD or $TOOL"
CHROMIUM=$(command -v chromium) || skip "needs chromium (scripts/install-deps)"
command -v curl >/dev/null || skip "needs curl"

start_ready rvd 10 "$RVD" -d -l 127.0.0.1:0 -x 127.0.0.1:0
[[ $READY =~ ^ready\ http=(127\.0\.0\.1:[0-9]+)\ ws=/v1/ws\ metrics=(127\.0\.0\.1:[0-9]+)$ ]] ||
    fail "ready line: $READY"
ADDR=${BASH_REMATCH[1]}
M=http://${BASH_REMATCH[2]}

# --- the page and its figures, on the metrics listener only -------------
code() { curl -s -o /dev/null -w '%{http_code}' "$1"; }
expect "public listener: no page" "$(code "http://$ADDR/")" 404
expect "public listener: no status.json" "$(code "http://$ADDR/status.json")" 404
expect "metrics listener: the page" "$(code "$M/")" 200
hdr=$(curl -s -D - -o "$T/page.html" "$M/" | tr -d '\r')
expect "page type" "$(sed -n 's/^content-type: //Ip' <<<"$hdr")" \
    "text/html; charset=utf-8"
# The policy allows the page's own script and style, by their hashes.
hash() { python3 -c 'import base64,hashlib,sys
t = open(sys.argv[1], "rb").read()
a = t.index(sys.argv[2].encode()) + len(sys.argv[2])
print(base64.b64encode(hashlib.sha256(t[a:t.index(sys.argv[3].encode(), a)]).digest()).decode())' \
    "$T/page.html" "$1" "$2"; }
expect "page policy" "$(sed -n 's/^content-security-policy: //Ip' <<<"$hdr")" \
    "default-src 'none'; script-src 'sha256-$(hash '<script>' '</script>')'; style-src 'sha256-$(hash '<style>' '</style>')'; img-src data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
# The page names no other place (the SVG namespace is a name, not fetched).
expect "page names no other host" \
    "$(grep -o '[a-z]*://[^"]*' "$T/page.html" | sort -u)" "http://www.w3.org/2000/svg"

# jq-less: a Python expression over /status.json, e.g. j "['now']['peers']".
j() { curl -s "$M/status.json" | python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
until_ok() {
	local i secs=$1
	shift
	for ((i = 0; i < secs * 10; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}
is() { [ "$(j "$1")" = "$2" ]; }
expect "history: every 10 s, 360 kept" \
    "$(j "['history']['interval']") $(j "['history']['max']")" "10 360"

# --- three peers: a relay, five signals, and a refusal --------------------
ID_A=$("$TOOL" -k alice id)
ID_B=$("$TOOL" -k bob id)
ID_C=$("$TOOL" -k carol id)
HELLO=$'connect\nexpect hello\nauth\nexpect welcome'
peer() { # NAME SCRIPT: the tool runs SCRIPT as NAME, in the background
	printf '%s\n' "$HELLO" "$2" | "$TOOL" -k "$1" -w 8 run "$ADDR" \
	    >"$T/$1.log" 2>&1 &
	PIDS="$PIDS $!"
}
peer alice "register 1 name=alice
expect registered
sleep 1
send {\"type\":\"relay\",\"to\":\"$ID_B\",\"ref\":\"r1\"}
expect relay-ok peer=$ID_B ref=r1
frame hello-bob
expect frame data=hello-alice
tally 120"
peer bob "register 1 name=bob
expect registered
sleep 1
send {\"type\":\"relay\",\"to\":\"$ID_A\",\"ref\":\"r2\"}
expect relay-ok peer=$ID_A ref=r2
frame hello-alice
expect frame data=hello-bob
tally 120"
signals=""
for i in 1 2 3 4 5; do
	signals="$signals
signal @carol {\"n\":$i}
expect signal from=$ID_C"
done
peer carol "register 1 name=carol
expect registered$signals
tally 120"
expect "a bad record is refused" "$(curl -s -o /dev/null -w '%{http_code}' \
    -X POST --data-binary '{' "http://$ADDR/v1/peers")" 400
until_ok 20 is "['now']['relay_bytes_total']" 20 ||
    { cat "$T"/alice.log "$T"/bob.log; fail "no relay: $(j "['now']")"; }
until_ok 20 is "['now']['signals_total']" 5 ||
    { cat "$T"/carol.log; fail "no signals: $(j "['now']")"; }
expect "status.json: peers, sessions, relays, bytes, signals, refusals" \
    "$(j "['now']['peers']") $(j "['now']['sessions_authenticated']") $(j "['now']['relays']") $(j "['now']['relay_bytes_total']") $(j "['now']['signals_total']") $(j "['refusals']['messages']['bad-json']")" \
    "3 3 1 20 5 1"

# --- the browser -----------------------------------------------------------
mkdir "$T/browser"
coproc BR { exec python3 "$BROWSER" "$CHROMIUM" "$T/browser" "$M/"; }
BROWSER_PID=$BR_PID	# bash unsets BR_PID when the coprocess ends
PIDS="$PIDS $BROWSER_PID"
exec 3<&"${BR[0]}" 4>&"${BR[1]}"
# br COMMAND: one command to the browser, its one-line answer.
br() {
	local line
	echo "$*" >&4
	read -r -t 90 line <&3 || line="no answer to '$*'"
	echo "$line"
}
read -r -t 90 line <&3
[ "${line:-}" = ready ] || { tail -n 20 "$T/browser/chromium.log" 2>/dev/null
	fail "the browser did not start: ${line:-nothing}"; }
while read -r id want; do
	expect "page shows $id" "$(br wait 30 "$id" "$want")" ok
done <<EOF
peers 3
sessions 3
relays 1
relay-bytes 20 B
signals-total 5
refusals-total 1
refusals-messages-bad-json-v 1
engine memory
EOF
relay=$(j "['relays']['largest'][0]['id']")
expect "status.json: the relay, its bytes" \
    "$(j "['relays']['largest'].__len__()") $(j "['relays']['largest'][0]['bytes']")" "1 20"
expect "page lists the relay with its bytes" \
    "$(br wait 30 "relay-$relay-v" "20 B")" ok
polls=$(br eval "Number(document.body.dataset.polls)")

# A fourth peer: the page follows without a reload.
peer dave "register 1 name=dave
expect registered
tally 120"
expect "page shows 4 peers without a reload" "$(br wait 30 peers 4)" ok
expect "page shows 4 sessions" "$(br wait 30 sessions 4)" ok
after=$(br eval "Number(document.body.dataset.polls)")
[ "$after" -gt "$polls" ] 2>/dev/null
expect "the page polled again (polls $polls, then $after)" "$?" 0

# The hour graph: samples every 10 s, and now; wait for the second sample.
npoints() { br eval "document.querySelector('#g-peers polyline').getAttribute('points').split(' ').length"; }
for ((i = 0; i < 40; i++)); do
	[ "$(npoints)" -ge 3 ] 2>/dev/null && break
	sleep 1
done
expect "peers graph: two samples and now at least" "$( [ "$(npoints)" -ge 3 ] && echo yes)" yes
expect "peers graph: top of the scale" \
    "$(br eval "document.querySelector('#g-peers text:nth-of-type(1)').textContent")" '"5"'

req=$(br requests)
expect "one document load (no reload)" \
    "$(python3 -c 'import json,sys; print(sum(1 for t, u in json.loads(sys.argv[1]) if t == "Document"))' "$req")" 1
expect "every request went to the metrics listener" \
    "$(python3 -c 'import json,sys; print(sorted({u.split("?")[0] for t, u in json.loads(sys.argv[1])}))' "$req")" \
    "['$M/', '$M/status.json']"
expect "no script error, no blocked load" "$(br errors)" "[]"
# A picture for whoever reads the log.
br screenshot "$NATKIT_TOP/${O:-build}/tests/log/status_page.png" >/dev/null

# --- the engine: Redis, unreachable (nothing listens on port 1) -----------
start_ready rvd-redis 10 "$RVD" -d -l 127.0.0.1:0 -x 127.0.0.1:0 \
    --redis redis://127.0.0.1:1/0
[[ $READY =~ metrics=(127\.0\.0\.1:[0-9]+)$ ]] || fail "ready line: $READY"
M=http://${BASH_REMATCH[1]}
expect "status.json: redis, degraded" \
    "$(j "['engine']['kind']") $(j "['engine']['degraded']")" "redis True"
expect "open the second server's page" "$(br goto "$M/")" ok
expect "page shows the engine degraded" "$(br wait 30 engine redis, DEGRADED)" ok
expect "page says what degraded means" \
    "$(br wait 30 engine-table-state-v degraded: serving own peers only)" ok
expect "no script error on either page" "$(br errors)" "[]"
br quit >/dev/null
wait "$BROWSER_PID" 2>/dev/null
finish
