#!/bin/bash
# A relay that alters a datagram (nat-connect(1) EXIT STATUS 76): h-sym and
# h-adm, whose pair gets the relay (both map per destination), connect
# through the real nat-rendezvousd, a few hundred KiB each way.  The
# initiator reaches the server through flip-proxy.py, which flips one
# byte of the 20th relay frame the server sends it: the initiator ends
# with exit 76 and says the relay altered a datagram, the responder ends
# with exit 76 and says its datagrams were altered, and what either wrote
# before the end is a prefix of what the other sent.  A control run
# through a second proxy that alters nothing carries every byte.
# TAMPER_N and TAMPER_OFFSET pick another frame or byte while debugging.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
SRV=198.51.100.10
URL=http://$SRV:80
PROXY=$NATKIT_TOP/tests/e2e/flip-proxy.py
N=${TAMPER_N:-20} OFFSET=${TAMPER_OFFSET:-40}
SIZE=$((300 * 1024))
t0=$SECONDS
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up sym,adm
# -N: the proxies on other ports of this address are the server's own
# front doors here (auth records name the port dialled: nat-rendezvousd(8)).
start_ready rvd 10 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -v -l $SRV:80 -N $SRV
expect "server ready line" "$READY" "ready http=$SRV:80 ws=/v1/ws"
# Two proxies to the server: one flips a byte, one passes all.
start_ready flip 10 "$LAB" exec srv -- python3 "$PROXY" -l $SRV:8080 \
    -t $SRV:80 -n $N -o $OFFSET
expect "flipping proxy ready" "$READY" "ready $SRV:8080"
start_ready pass 10 "$LAB" exec srv -- python3 "$PROXY" -l $SRV:8081 \
    -t $SRV:80 -n 0
expect "passing proxy ready" "$READY" "ready $SRV:8081"

mkdir -p "$T/acc"
probe_hosts $SRV h-sym h-adm
head -c $SIZE /dev/urandom >"$T/to-adm"
head -c $SIZE /dev/urandom >"$T/to-sym"

# The responder, run by nat-register -e with the request on stdin: sends
# its data, keeps what arrives and its exit status under the run's name.
cat >"$T/accept.sh" <<EOF
#!/bin/sh
run=\$(cat "$T/run")
{ head -n 1; cat "$T/to-sym"; } | "$B/nat-connect" --accept -r -v -s $URL \
    -w 10 >"$T/acc/\$run.out" 2>"$T/acc/\$run.err"
echo \$? >"$T/acc/\$run.rc"
EOF
chmod +x "$T/accept.sh"
for h in h-sym h-adm; do register_host "$h" "$h" "$h" "$T/accept.sh"; done
# prefix GOT SENT: "yes" when GOT holds the first bytes of SENT.
prefix() { cmp -s -n "$(stat -c %s "$1")" "$1" "$2" && echo yes; }
# run NAME URL: h-sym connects to h-adm by name through the server at URL;
# its exit status goes to $T/NAME.rc, the responder's to $T/acc/NAME.rc.
run() {
	echo "$1" >"$T/run"
	"$LAB" exec h-sym -- env NATKIT_HOME="$T/home/h-sym" "$B/nat-connect" \
	    -r -v -s "$2" -w 10 h-adm <"$T/to-adm" >"$T/$1.out" 2>"$T/$1.err"
	echo $? >"$T/$1.rc"
	for _ in $(seq 150); do
		[ -s "$T/acc/$1.rc" ] && break
		sleep 0.1
	done
	touch "$T/acc/$1.out" "$T/acc/$1.err"
}
show() {
	sed 's/^/    a| /' "$T/$1.err" | unescape | grep -v 'type=attempt' | tail -n 15
	sed 's/^/    b| /' "$T/acc/$1.err" | unescape | grep -v 'type=attempt' | tail -n 15
}

# --- the N-th relay frame to the initiator altered ---------------------
run tamper http://$SRV:8080
expect "tamper: technique" "$(rec path "$T/tamper.err" | field technique)" relay
expect "tamper: initiator's exit" "$(cat "$T/tamper.rc")" 76
expect "tamper: initiator's record" \
    "$(rec failed "$T/tamper.err" | field exit)/$(rec failed "$T/tamper.err" | field reason | unescape)" \
    "76/a datagram through the relay failed authentication: the relay altered it, so the connection ends"
expect "tamper: responder's exit" "$(cat "$T/acc/tamper.rc")" 76
expect "tamper: responder's record" \
    "$(rec failed "$T/acc/tamper.err" | field exit)/$(rec failed "$T/acc/tamper.err" | field reason | unescape)" \
    "76/peer saw our datagrams altered on the way (a datagram through the relay failed authentication)"
flipped=$(grep '^flipped ' "$T/flip.out")
expect "tamper: the proxy flipped one byte" "$(grep -c '^flipped ' "$T/flip.out")/$(field frame <<<"$flipped")/$(field offset <<<"$flipped")" \
    "1/$N/$OFFSET"
echo "     $flipped"
expect "tamper: bytes to the initiator a prefix" "$(prefix "$T/tamper.out" "$T/to-sym")" yes
expect "tamper: bytes to the responder a prefix" "$(prefix "$T/acc/tamper.out" "$T/to-adm")" yes
echo "     before the end: $(stat -c %s "$T/tamper.out") of $SIZE bytes to h-sym, $(stat -c %s "$T/acc/tamper.out") of $SIZE to h-adm"
[ "$(cat "$T/tamper.rc")/$(cat "$T/acc/tamper.rc")" = 76/76 ] || show tamper

# --- control: the same through a proxy that alters nothing --------------
run control http://$SRV:8081
expect "control: technique" "$(rec path "$T/control.err" | field technique)" relay
expect "control: exits" "$(cat "$T/control.rc")/$(cat "$T/acc/control.rc")" 0/0
expect "control: bytes to the initiator intact" "$(cmp -s "$T/control.out" "$T/to-sym" && echo yes)" yes
expect "control: bytes to the responder intact" "$(cmp -s "$T/acc/control.out" "$T/to-adm" && echo yes)" yes
expect "control: no datagram failed authentication" "$(rec closed "$T/control.err" | field auth-failures)" 0
expect "control: the proxy carried the WebSocket" "$(grep -c '^upgraded ' "$T/pass.out")" 1
[ "$(cat "$T/control.rc")/$(cat "$T/acc/control.rc")" = 0/0 ] || show control
echo "     run time $((SECONDS - t0)) s"
finish
