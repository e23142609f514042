#!/bin/bash
# TURN (RFC 8656) against a real coturn with use-auth-secret, on the lab's
# public side: nat-rendezvousd hands an authenticated session credentials
# (checked against openssl's HMAC-SHA1), and with them turn-tool
# allocates over UDP, TCP and TLS from behind a NAT, gets its datagrams
# echoed through a permission and a channel byte for byte, and from the
# UDP-blocked host allocates over TCP only.  Wrong and expired
# credentials fail with their messages.
. "$NATKIT_TOP/tests/e2e/lib.sh"

TOOL=$NATKIT_BIN/../tests/e2e/turn-tool
RVT=$NATKIT_BIN/../tests/e2e/rv-client-tool
SRV=198.51.100.10
PUB=198.51.100.20
SECRET=natkit-e2e-secret
PORT=3480 TLSPORT=5350
[ -x "$TOOL" ] && [ -x "$RVT" ] || fail "turn-tool or rv-client-tool not built (make)"
command -v turnserver >/dev/null || skip "turnserver (coturn) not installed"
lab_up

# coturn: REST credentials, TLS on 5349 with a certificate for a name.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=turn.natkit.test \
    -addext subjectAltName=DNS:turn.natkit.test,IP:$SRV \
    -keyout "$T/turn.key" -out "$T/turn.crt" >/dev/null 2>&1 ||
    fail "openssl could not make a certificate"
printf '%s\n' "$SECRET" >"$T/turn.secret"
cat >"$T/turnserver.conf" <<CONF
listening-ip=$SRV
relay-ip=$SRV
listening-port=$PORT
tls-listening-port=$TLSPORT
alt-listening-port=$((PORT + 1))
alt-tls-listening-port=$((TLSPORT + 1))
min-port=49152
max-port=49407
use-auth-secret
static-auth-secret=$SECRET
realm=natkit.test
cert=$T/turn.crt
pkey=$T/turn.key
no-dtls
no-cli
no-rfc5780
userdb=$T/turndb
log-file=$T/turnserver.log
simple-log
pidfile=$T/turnserver.pid
CONF
# The lab's own coturn (STUN only, for nat-probe) has $SRV:$PORT and
# 3479: with SO_REUSEPORT the kernel would share their packets between
# the two, so this one takes other ports.
"$LAB" exec srv -- turnserver -c "$T/turnserver.conf" --no-stdout-log \
    >"$T/turnserver.out" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 100); do
	"$LAB" exec srv -- ss -ltn 2>/dev/null | grep -q "$SRV:$TLSPORT" && break
	sleep 0.1
done
"$LAB" exec srv -- ss -lun | grep -q "$SRV:$PORT" || fail "coturn did not listen"

# An echo server for datagrams on the public peer, bounded in time.
cat >"$T/echo.py" <<'PY'
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 7000))
s.settimeout(1)
print("ready", flush=True)
end = time.time() + 120
while time.time() < end:
    try:
        d, a = s.recvfrom(2048)
    except socket.timeout:
        continue
    s.sendto(d, a)
PY
start_ready echo 10 "$LAB" exec pub -- python3 "$T/echo.py" $PUB

# 1. nat-rendezvousd mints the credentials.
start_ready rvd 10 "$LAB" exec srv -- "$NATKIT_BIN/nat-rendezvousd" -d \
    -l $SRV:80 --turn-secret "$T/turn.secret" \
    --turn "turn:$SRV:$PORT?transport=udp" --turn "turn:$SRV:$PORT?transport=tcp" \
    --turn "turns:$SRV:$TLSPORT" --turn-ttl 600
printf '%s\n' connect "expect hello" auth "expect welcome" close |
    "$LAB" exec h-prc -- "$RVT" -k alice run $SRV:80 >"$T/welcome" 2>&1
W=$(sed -n 's/^< \({"type":"welcome".*\)/\1/p' "$T/welcome")
ID=$("$RVT" -k alice id)
USER=$(jq -r .turn.username <<<"$W")
PASS=$(jq -r .turn.password <<<"$W")
expect "welcome's TURN URIs" "$(jq -c .turn.uris <<<"$W")" \
    "[\"turn:$SRV:$PORT?transport=udp\",\"turn:$SRV:$PORT?transport=tcp\",\"turns:$SRV:$TLSPORT\"]"
expect "welcome's TTL" "$(jq .turn.ttl <<<"$W")" 600
expect "username is EXPIRY:ID" "${USER#*:}" "$ID"
left=$(( ${USER%%:*} - $(date +%s) ))
expect "expires in the TTL" "$([ $left -gt 500 ] && [ $left -le 600 ] && echo yes)" yes
expect "password is coturn's HMAC" "$PASS" \
    "$(printf %s "$USER" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64)"

# turn HOST TAG ARGS...: turn-tool on HOST, output in $T/TAG.{out,err,rc}.
turn() {
	local h=$1 tag=$2
	shift 2
	"$LAB" exec "$h" -- "$TOOL" "$@" >"$T/$tag.out" 2>"$T/$tag.err"
	echo $? >"$T/$tag.rc"
}
# shape: a turn-allocated record with the ports blanked.
shape() { sed 's/:[0-9]*\( \|$\)/:P\1/g' "$T/$1.out" | head -n 1; }

# 2. Allocations over UDP, TCP and TLS from behind the NAT, and the echo.
WAN=203.0.113.13
for u in "udp turn:$SRV:$PORT?transport=udp" "tcp turn:$SRV:$PORT?transport=tcp" \
    "tls turns:$SRV:$TLSPORT"; do
	tr=${u%% *} uri=${u#* }
	turn h-prc $tr -u "$USER" -p "$PASS" -c "$T/turn.crt" "$uri" $PUB:7000
	expect "$tr: exit" "$(cat "$T/$tr.rc")" 0
	expect "$tr: allocated" "$(shape $tr)" \
	    "type=turn-allocated transport=$tr relayed=$SRV:P mapped=$WAN:P lifetime=600"
	expect "$tr: echoed through a channel" "$(sed -n 2p "$T/$tr.out")" \
	    "type=turn-echo sent=6 received=6 bound=1"
	[ "$(cat "$T/$tr.rc")" = 0 ] || cat "$T/$tr.err"
done

# A certificate the client does not trust ends the TLS handshake.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=other \
    -keyout "$T/other.key" -out "$T/other.crt" >/dev/null 2>&1
turn h-prc untrusted -c "$T/other.crt" -u "$USER" -p "$PASS" "turns:$SRV:$TLSPORT"
expect "tls: untrusted certificate" "$(cat "$T/untrusted.rc") $(cat "$T/untrusted.err")" \
    "1 turn-tool: TURN server turns:$SRV:$TLSPORT (tls): TLS handshake: Error in the certificate verification."

# 3. The UDP-blocked host: TCP allocates, UDP does not answer.
turn h-blk blk-tcp -u "$USER" -p "$PASS" "turn:$SRV:$PORT?transport=tcp"
expect "blocked host over tcp" "$(shape blk-tcp | cut -d' ' -f1-3)" \
    "type=turn-allocated transport=tcp relayed=$SRV:P"
turn h-blk blk-udp -w 1500 -u "$USER" -p "$PASS" "turn:$SRV:$PORT?transport=udp"
expect "blocked host over udp" "$(cat "$T/blk-udp.rc") $(cat "$T/blk-udp.err")" \
    "1 turn-tool: TURN server turn:$SRV:$PORT?transport=udp (udp): no allocation in 1500 ms"

# 4. Wrong and expired credentials.
turn h-prc wrong -u "$USER" -p "AAAAAAAAAAAAAAAAAAAAAAAAAAA=" "turn:$SRV:$PORT?transport=udp"
expect "wrong password" "$(cat "$T/wrong.rc") $(cat "$T/wrong.err")" \
    "1 turn-tool: TURN server turn:$SRV:$PORT?transport=udp (udp): Allocate refused: 401 Unauthorized: wrong username or password (username $USER)"
OLD="1000000000:$ID"
OLDPASS=$(printf %s "$OLD" | openssl dgst -sha1 -hmac "$SECRET" -binary | base64)
turn h-prc expired -u "$OLD" -p "$OLDPASS" "turn:$SRV:$PORT?transport=tcp"
expect "expired credentials" "$(cat "$T/expired.rc") $(cat "$T/expired.err")" \
    "1 turn-tool: TURN server turn:$SRV:$PORT?transport=tcp (tcp): Allocate refused: the credentials expired at 2001-09-09T01:46:40Z (username $OLD)"
# 5. nat-connect through TURN: pairs with no direct path (both map per
# destination; one blocks UDP and allocates over TCP) take the turn
# technique, preferred to the WebSocket relay, and copy bytes exactly.
B=$NATKIT_BIN
URL=http://$SRV:80
mkdir -p "$T/acc"
probe_hosts $SRV h-sym h-adm h-blk
cat >"$T/accept.sh" <<EOF
#!/bin/sh
exec "$B/nat-connect" --accept -r -v -s $URL -w 30 \
    >"$T/acc/\$1.out" 2>"$T/acc/\$1.err" </dev/stdin
EOF
chmod +x "$T/accept.sh"
for h in h-adm h-blk; do register_host "$h" "$h" "$h" "$T/accept.sh $h"; done
mkdir -p -m 700 "$T/home/h-sym" "$T/home/h-rc"
head -c $((4 << 20)) /dev/urandom >"$T/data"
want=$(sha256sum <"$T/data" | cut -d' ' -f1)
for b in h-adm h-blk; do
	"$LAB" exec h-sym -- env NATKIT_HOME="$T/home/h-sym" "$B/nat-connect" -P "$T/prof/h-sym" \
	    -r -v -s "$URL" -w 30 "$b" <"$T/data" >"$T/sym-$b.out" 2>"$T/sym-$b.err"
	rc=$?
	for _ in $(seq 300); do
		grep -q '^type=\(closed\|failed\) ' "$T/acc/$b.err" 2>/dev/null && break
		sleep 0.1
	done
	expect "h-sym->$b exit" "$rc" 0
	expect "h-sym->$b technique" "$(rec path "$T/sym-$b.err" | field technique)" turn
	expect "h-sym->$b responder's technique" \
	    "$(rec path "$T/acc/$b.err" | field technique)" turn
	expect "h-sym->$b sha256" "$(sha256sum <"$T/acc/$b.out" | cut -d' ' -f1)" "$want"
	if [ "$rc" != 0 ]; then
		grep -v type=attempt "$T/sym-$b.err" | tail -n 12 | sed 's/^/    a| /'
		grep -v type=attempt "$T/acc/$b.err" | tail -n 12 | sed 's/^/    b| /'
	fi
done

# 6. TURN to direct: UDP through r-rc to anything but the public side is
# dropped, so h-rc and h-fc take TURN; a stream of numbered lines flows,
# the drop is lifted, and the connection moves to a direct path.
probe_hosts $SRV h-rc h-fc
register_host h-fc h-fc h-fc "$T/accept.sh h-fc"
"$LAB" exec r-rc -- nft -f /dev/stdin <<EOF || fail "cannot block UDP at r-rc"
table inet natkit_block {
	chain filter_udp {
		type filter hook forward priority -50;
		meta l4proto udp ip saddr != 198.51.100.0/24 ip daddr != 198.51.100.0/24 drop
	}
}
EOF
for r in rc fc; do "$LAB" exec "r-$r" -- conntrack -D -p udp >/dev/null 2>&1; done
seq_stream() {
	local i=0 after=0
	while [ $i -lt 1200 ]; do
		i=$((i + 1))
		printf 'line %05d of the stream\n' "$i"
		if [ $after -eq 0 ] && grep -q '^type=upgraded ' "$T/up.err" 2>/dev/null; then
			after=$i
		fi
		[ $after -gt 0 ] && [ $((i - after)) -ge 40 ] && break
		sleep 0.05
	done
}
( seq_stream | tee "$T/lines.want" | "$LAB" exec h-rc -- env NATKIT_HOME="$T/home/h-rc" \
    "$B/nat-connect" -P "$T/prof/h-rc" -r -v -s "$URL" -w 30 h-fc >"$T/up.out" 2>"$T/up.err"
  echo $? >"$T/up.rc" ) &
PIDS="$PIDS $!"
upjob=$!
while kill -0 "$upjob" 2>/dev/null; do
	[ -n "$(rec path "$T/up.err")" ] && break
	sleep 0.05
done
expect "blocked: technique" "$(rec path "$T/up.err" | field technique)" turn
"$LAB" exec r-rc -- nft delete table inet natkit_block || fail "cannot lift the block"
wait "$upjob"
for _ in $(seq 300); do
	grep -q '^type=\(closed\|failed\) ' "$T/acc/h-fc.err" 2>/dev/null && break
	sleep 0.1
done
expect "upgrade: exit" "$(cat "$T/up.rc")" 0
expect "upgrade: initiator moved to a direct path" "$(rec upgraded "$T/up.err" | field proto)" udp
expect "upgrade: responder moved too" "$(rec upgraded "$T/acc/h-fc.err" | field proto)" udp
expect "upgrade: every line, in order" "$(cmp -s "$T/acc/h-fc.out" "$T/lines.want" && echo yes)" yes
if [ -z "$(rec upgraded "$T/up.err")" ]; then
	grep -v type=attempt "$T/up.err" | tail -n 12 | sed 's/^/    a| /'
	grep -v type=attempt "$T/acc/h-fc.err" | tail -n 12 | sed 's/^/    b| /'
fi

if [ "$FAILS" -gt 0 ]; then
	for f in "$T"/*.err; do sed "s|^|    ${f##*/}: |" "$f"; done
	tail -n 40 "$T/turnserver.log" | sed 's/^/    coturn: /'
fi
finish
