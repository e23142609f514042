#!/bin/bash
# json.sh: every record the four clients write with -j, on loopback, has
# the keys and types nat(7) lists under "JSON types" (json_schema.py):
# nat-probe's profile; nat-register's registered, request, signal and
# lost; nat-query's peer and sent; nat-connect's attempt, path, failed and
# closed, on both sides.  Loopback only, no lab.
. "$NATKIT_TOP/tests/e2e/lib.sh"
command -v python3 >/dev/null || skip "needs python3"
B=$NATKIT_BIN
export NATKIT_HOME=$T/alice
mkdir -m 700 "$NATKIT_HOME"

start_ready refl 10 "$B/nat-reflect" -d -p 0 --alternate-port 0 127.0.0.1 127.0.0.2
STUN=${READY#ready udp=}; STUN=${STUN%%,*}
start_ready rvd 10 "$B/nat-rendezvousd" -d -l 127.0.0.1:0
RVD_PID=$LAST_PID
URL=http://${READY#ready http=}; URL=${URL%% *}

# In the root namespace: -G, no gateway discovery.
timeout 60 "$B/nat-probe" -G -j -T -s "$STUN" >"$T/probe.json"
expect "nat-probe -j: exit" "$?" 0
timeout 60 "$B/nat-probe" -G -r -s "$STUN" >"$T/prof"
# alice takes calls with nat-connect --accept: -j on stderr, path on stdout.
# The side --print left is still there when the test ends: its PID is
# kept, and timeout bounds it anyway.
cat >"$T/accept.sh" <<EOS
#!/bin/sh
n=\$(date +%s%N)
echo \$\$ >>"$T/acc.pids"
exec timeout 60 "$B/nat-connect" -j --accept -w 20 -s "$URL" -e cat >"$T/acc.\$n.out" 2>"$T/acc.\$n.err"
EOS
chmod +x "$T/accept.sh"
# (An & command's stdin is /dev/null unless it says otherwise.)
start_ready reg 10 sh -c 'exec "$@" <"$0"' "$T/prof" \
    "$B/nat-register" -j -s "$URL" -N alice -e "$T/accept.sh"
REG_PID=$LAST_PID

export NATKIT_HOME=$T/bob
mkdir -m 700 "$NATKIT_HOME"
timeout 30 "$B/nat-query" -j -s "$URL" >"$T/query-list.json"
expect "nat-query -j: exit" "$?" 0
timeout 30 "$B/nat-query" -j -s "$URL" alice >"$T/query-peer.json"
expect "nat-query -j alice: exit" "$?" 0
echo '{"type":"note","text":"hello"}' |
    timeout 30 "$B/nat-query" -j -s "$URL" --signal alice >"$T/query-signal.json"
expect "nat-query -j --signal alice: exit" "$?" 0
# Its command says hello, reads alice's cat's echo, and ends the stream.
timeout 60 "$B/nat-connect" -j -w 20 -P "$T/prof" -s "$URL" \
    -e 'echo hello; read -r x; echo "$x" >&2' alice >"$T/connect.out" 2>"$T/connect.err"
expect "nat-connect -j -e alice: exit" "$?" 0
expect "nat-connect -j -e alice: the echo" "$(grep -c '^hello$' "$T/connect.err")" 1
timeout 60 "$B/nat-connect" -j --print -w 20 -P "$T/prof" -s "$URL" alice \
    >"$T/print.out" 2>"$T/print.err"
expect "nat-connect -j --print alice: exit" "$?" 0
timeout 60 "$B/nat-connect" -j -w 2 -P "$T/prof" -s "$URL" nobody \
    >"$T/fail.out" 2>"$T/fail.err"
expect "nat-connect -j nobody: exit" "$?" 68

# The server goes: nat-register says it lost it.
kill "$RVD_PID"
for ((i = 0; i < 200; i++)); do
	grep -q '"type":"lost"' "$T/reg.out" && break
	sleep 0.05
done
kill "$REG_PID"
for p in $(cat "$T/acc.pids" 2>/dev/null); do
	ps -o args= -p "$p" 2>/dev/null | grep -q "^timeout 60 $B/nat-connect " &&
	    kill "$p"
done
for r in profile registered request signal lost peer sent attempt path failed closed; do
	grep -hq "^{\"type\":\"$r\"" "$T"/*.json "$T"/*.out "$T"/*.err ||
	    expect "a $r record was written" "none" "one at least"
done
python3 "$NATKIT_TOP/tests/e2e/json_schema.py" "$NATKIT_TOP/man/nat.7" \
    "$T"/*.json "$T"/*.out "$T"/*.err >"$T/check" 2>&1
expect "every -j record has nat(7)'s keys and types" "$?/$(grep -v '^checked' "$T/check" | head -n 20)" "0/"
cat "$T/check"
finish
