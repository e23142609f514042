#!/bin/bash
# The data path (nat(7) DATA PATH): nat-connect's encrypted, reliable
# stream through real NATs and the real nat-rendezvousd.
#  - 100 MiB cross a direct path (full cone to port-restricted cone) and a
#    relayed one (symmetric to address-dependent), with 2% loss and 20 ms
#    delay each way on every router; sha256 identical on arrival.  The
#    server runs with its defaults: the relayed 100 MiB are more than the
#    64 MiB a relay carried before it had a rate instead of a total.
#  - Relay to direct: UDP between two peers is dropped at one router, so
#    the relay carries the stream; the drop is lifted and the connection
#    moves to a direct path (an "upgraded" record on both sides) while a
#    stream keeps flowing; every byte arrives, in order.
# DATAPATH_SIZE (MiB) makes the transfers smaller while debugging.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
SRV=198.51.100.10
URL=http://$SRV:80
MIB=${DATAPATH_SIZE:-100}
DELAY=${DATAPATH_DELAY:-20} LOSS=${DATAPATH_LOSS:-2}
t0=$SECONDS
lab_up
# The server's defaults: no total a relay carries (it was 64 MiB, and a
# larger copy failed with relay-limit), a rate instead.
start_ready rvd 10 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -v -g 20 \
    -l $SRV:80
expect "server ready line" "$READY" "ready http=$SRV:80 ws=/v1/ws"

HOSTS="h-fc h-prc h-sym h-adm h-rc"
mkdir -p "$T/acc"
probe_hosts $SRV $HOSTS

# The responder: the request on stdin, nothing to send back; what it
# receives goes to $T/acc/HOST.out.
cat >"$T/accept.sh" <<EOF
#!/bin/sh
exec "$B/nat-connect" --accept -r -v -s $URL -w 30 \
    >"$T/acc/\$1.out" 2>"$T/acc/\$1.err" </dev/stdin
EOF
chmod +x "$T/accept.sh"
for h in $HOSTS; do register_host "$h" "$h" "$h" "$T/accept.sh $h"; done
# wait_closed HOST: the responder's last record.
wait_closed() {
	for _ in $(seq 600); do
		grep -q '^type=\(closed\|failed\) ' "$T/acc/$1.err" 2>/dev/null && return
		sleep 0.1
	done
}
show() {
	sed 's/^/    a| /' "$1" | unescape | grep -v 'type=attempt' | tail -n 15
	sed 's/^/    b| /' "$2" | unescape | grep -v 'type=attempt' | tail -n 15
	# The responder's nat-register (-v): a request it dropped says why.
	[ -z "${3:-}" ] || sed 's/^/    r| /' "$3" | tail -n 15
}

# --- 100 MiB, direct and relayed, 2% loss and 20 ms each way ----------
head -c $((MIB << 20)) /dev/urandom >"$T/big"
want=$(sha256sum <"$T/big" | cut -d' ' -f1)
for r in fc prc sym adm; do
	[ "$DELAY" = 0 ] || "$LAB" delay "$r" "$DELAY" || fail "nat-lab delay $r"
	[ "$LOSS" = 0 ] || "$LAB" loss "$r" "$LOSS" || fail "nat-lab loss $r"
done
# bulk A B TECHNIQUE-WANTED
bulk() {
	local a=$1 b=$2 kind=$3 s=$SECONDS rc got
	"$LAB" exec "$a" -- env NATKIT_HOME="$T/home/$a" "$B/nat-connect" -r -v \
	    -s "$URL" -w 30 "$b" <"$T/big" >"$T/$a.out" 2>"$T/$a.err"
	rc=$?
	wait_closed "$b"
	expect "$MIB MiB $a->$b exit" "$rc" 0
	got=$(rec path "$T/$a.err" | field technique)
	if [ "$kind" = relay ]; then
		expect "$MIB MiB $a->$b technique" "$got" relay
	else
		case $got in '' | relay) expect "$MIB MiB $a->$b technique" "${got:-none}" "direct (not relay)" ;; esac
	fi
	expect "$MIB MiB $a->$b sha256" "$(sha256sum <"$T/acc/$b.out" | cut -d' ' -f1)" "$want"
	expect "$MIB MiB $a->$b responder's record" "$(rec closed "$T/acc/$b.err" | field received)" $((MIB << 20))
	echo "     $a->$b by ${got:-none}: $MIB MiB in $((SECONDS - s)) s"
	[ "$rc" = 0 ] || show "$T/$a.err" "$T/acc/$b.err"
}
bulk h-fc h-prc direct
[ -n "${DATAPATH_QUICK:-}" ] && finish
bulk h-sym h-adm relay
# The routers forget their UDP mappings, not the TCP of the registered
# peers' WebSockets: a conntrack -F (nat-lab flush) drops the server's
# packets to them until they send again (a ping, up to 20 s later), and an
# offer to h-fc then arrived after its initiator had given up.
for r in fc prc sym adm; do
	"$LAB" exec "r-$r" -- conntrack -D -p udp >/dev/null 2>&1
	for s in mapped peers; do
		"$LAB" exec "r-$r" -- nft flush set ip natlab $s 2>/dev/null
	done
done
"$LAB" delay fc 0 >/dev/null 2>&1
rm -f "$T/big" "$T/acc/h-prc.out" "$T/acc/h-adm.out"

# --- relay to direct ---------------------------------------------------
# UDP through r-rc to anything but the server is dropped: the pair h-rc,
# h-fc gets the relay.  A stream of numbered lines flows; the drop is
# lifted once the relay carries it.
block() {
	"$LAB" exec r-rc -- nft -f /dev/stdin <<EOF
table inet natkit_block {
	chain filter_udp {
		type filter hook forward priority -50;
		meta l4proto udp ip saddr != 198.51.100.0/24 ip daddr != 198.51.100.0/24 drop
	}
}
EOF
}
block || fail "cannot block UDP at r-rc"
for r in rc fc; do "$LAB" exec "r-$r" -- conntrack -D -p udp >/dev/null 2>&1; done
# The stream flows until 40 lines after the initiator says it upgraded
# (or 1,200 lines, 60 s, have gone), not for a fixed time that a busy
# machine's slow traversal could use up before the relay even starts.
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
    "$B/nat-connect" -r -v -s "$URL" -w 30 h-fc >"$T/up.out" 2>"$T/up.err"
  echo $? >"$T/up.rc" ) &
PIDS="$PIDS $!"
upjob=$!
# The block stays until the path is found, however long signalling takes
# on a busy machine: lifted early, direct would win.
while kill -0 "$upjob" 2>/dev/null; do
	[ -n "$(rec path "$T/up.err")" ] && break
	sleep 0.05
done
expect "blocked: technique" "$(rec path "$T/up.err" | field technique)" relay
"$LAB" exec r-rc -- nft delete table inet natkit_block || fail "cannot lift the block"
wait "$upjob"
wait_closed h-fc
expect "upgrade: exit" "$(cat "$T/up.rc")" 0
up=$(rec upgraded "$T/up.err")
expect "upgrade: initiator moved to a direct path" "$(field proto <<<"$up")" udp
expect "upgrade: responder moved too" "$(rec upgraded "$T/acc/h-fc.err" | field proto)" udp
expect "upgrade: every line, in order" "$(cmp -s "$T/acc/h-fc.out" "$T/lines.want" && echo yes)" yes
pms=$(rec path "$T/up.err" | field ms)
echo "     relayed for $(field relayed-ms <<<"$up") ms, direct $(( $(field ms <<<"$up") - pms )) ms after the block was lifted"
[ -n "$up" ] || show "$T/up.err" "$T/acc/h-fc.err" "$T/reg-h-fc.err"
echo "     run time $((SECONDS - t0)) s"
finish
