#!/bin/bash
# portmap: gateway port mapping (src/lib/probe/portmap) on the NAT lab.
#
# Behind the miniupnpd router (WAN 203.0.113.17) discovery finds UPnP IGD,
# NAT-PMP and PCP, each reporting 203.0.113.17; a UDP mapping made through
# each lets a datagram from the public peer reach the host, renews to the
# same address, and once it is removed a datagram to that address does not; UPnP's refusal comes
# back in UPnP's words.  Behind a plain router discovery reports none of
# them, within a second.  Exit 0 pass, 77 skip (why on the last line),
# anything else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"
WAN=203.0.113.17
TOOL=$(dirname "$NATKIT_BIN")/tests/e2e/portmap-tool
[ -x "$TOOL" ] || fail "no $TOOL: run make first"

# wait_line FILE REGEX SECONDS: prints the first matching line, or fails.
wait_line() {
	local i
	for ((i = 0; i < $3 * 20; i++)); do
		grep -E -m 1 "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
ms() { echo $(($(date +%s%N) / 1000000)); }

lab_up upnp,prc
grep -q "Port forwarding is now enabled" "$T/lab/miniupnpd.log" ||
	{ cat "$T/lab-up.log"; fail "miniupnpd did not enable port forwarding"; }

# 1. Discovery behind miniupnpd.
t0=$(ms)
out=$("$LAB" exec h-upnp -- "$TOOL" discover -w 800)
expect "discover behind miniupnpd: exit" $? 0
t1=$(ms)
echo "$out" | sed 's/^/     | /'
g=$(echo "$out" | grep '^type=gateway ')
expect "gateway" "$(field gateway <<<"$g") found=$(field found <<<"$g")" "192.168.7.1 found=3"
for p in upnp natpmp pcp; do
	l=$(echo "$out" | grep "^type=portmap proto=$p ")
	expect "$p answered" "answered=$(field answered <<<"$l") ok=$(field ok <<<"$l") external=$(field external <<<"$l")" \
	    "answered=1 ok=1 external=$WAN"
done
expect "discover behind miniupnpd took under 1 s" "$([ $((t1 - t0)) -lt 1000 ] && echo yes || echo "no: $((t1 - t0)) ms")" yes

# 2. A UDP mapping through each protocol, then its removal.
rules() {
	"$LAB" exec r-upnp -- nft list chain inet miniupnpd prerouting_miniupnpd |
	    grep -c "dport $1 "
}
map_test() {
	local p=$1 port=$2 pid l ext n
	mkfifo "$T/in.$p"
	"$LAB" exec h-upnp -- "$TOOL" hold -w 1000 -T 30 "$p" "$port" \
	    <"$T/in.$p" >"$T/hold.$p" 2>&1 &
	pid=$!
	PIDS="$PIDS $pid"
	exec 9>"$T/in.$p"
	l=$(wait_line "$T/hold.$p" '^type=(mapping|error) ' 5) || l="nothing"
	ext=$(field external <<<"$l")
	expect "$p mapping" "$l" "type=mapping proto=$p internal=192.168.7.2:$port external=$WAN:$port lifetime=$(field lifetime <<<"$l")"
	expect "$p: DNAT rules for port $port in miniupnpd's chain" "$(rules "$port")" 1
	"$LAB" exec pub -- socat -u - "UDP4-SENDTO:$ext,sourceport=$((port + 1))" <<<"before-$p"
	l=$(wait_line "$T/hold.$p" "data=before-$p" 3) || l="nothing"
	expect "$p: datagram from the public peer while mapped" "$l" \
	    "type=datagram from=198.51.100.20:$((port + 1)) data=before-$p"
	echo renew >&9
	l=$(wait_line "$T/hold.$p" '^type=(renewed|error) ' 5) || l="nothing"
	expect "$p renewal" "$l" "type=renewed proto=$p internal=192.168.7.2:$port external=$WAN:$port lifetime=$(field lifetime <<<"$l")"
	expect "$p: DNAT rules for port $port after renewal" "$(rules "$port")" 1
	echo remove >&9
	l=$(wait_line "$T/hold.$p" '^type=(removed|error) ' 5) || l="nothing"
	expect "$p removal" "$l" "type=removed proto=$p"
	expect "$p: DNAT rules for port $port after removal" "$(rules "$port")" 0
	# A new source port: the first datagram's conntrack entry still
	# carries its DNAT for 30 s.
	"$LAB" exec pub -- socat -u - "UDP4-SENDTO:$ext,sourceport=$((port + 2))" <<<"after-$p"
	sleep 1
	n=$(grep -c "data=after-$p" "$T/hold.$p")
	expect "$p: datagrams that arrived after removal" "$n" 0
	echo quit >&9
	exec 9>&-
	wait "$pid"
	expect "$p hold: exit" $? 0
	sed 's/^/     | /' "$T/hold.$p"
}
map_test upnp 40100
map_test natpmp 40200
map_test pcp 40300

# 3. A refusal, in UPnP's words (miniupnpd allows ports 1024-65535 only).
# XXX Not tried through NAT-PMP or PCP: miniupnpd 2.3.1 then walks all
# 65535 external ports against its permission rules before it answers,
# for seconds, deaf to everything else.
l=$("$LAB" exec h-upnp -- "$TOOL" hold -w 1000 -T 1 upnp 1000 </dev/null)
expect "upnp refusal: exit" $? 1
expect "upnp refusal" "$l" \
    "type=error proto=upnp errno=Permission denied error=UPnP refused AddPortMapping: Action not authorized (606)"

# 4. Discovery behind a router without miniupnpd: nothing, quickly.
t0=$(ms)
out=$("$LAB" exec h-prc -- "$TOOL" discover -w 500)
expect "discover behind a plain router: exit" $? 0
t1=$(ms)
echo "$out" | sed 's/^/     | /'
g=$(echo "$out" | grep '^type=gateway ')
expect "plain gateway" "$(field gateway <<<"$g") found=$(field found <<<"$g")" "10.0.3.1 found=0"
expect "plain upnp" "$(echo "$out" | grep '^type=portmap proto=upnp ')" \
    "type=portmap proto=upnp answered=0 ok=0 external=- rtt_ms=0 error=UPnP: no IGD answered SSDP"
for p in natpmp pcp; do
	w=NAT-PMP
	[ $p = pcp ] && w=PCP
	expect "plain $p" "$(echo "$out" | grep "^type=portmap proto=$p ")" \
	    "type=portmap proto=$p answered=0 ok=0 external=- rtt_ms=0 error=$w: nothing serves port 5351 on the gateway (ICMP port unreachable)"
done
expect "discover behind a plain router took under 1 s" "$([ $((t1 - t0)) -lt 1000 ] && echo yes || echo "no: $((t1 - t0)) ms")" yes

[ "$FAILS" -eq 0 ] || { tail -n 30 "$T/lab/miniupnpd.log"; fail "$FAILS check(s) failed"; }
echo "all checks passed"
exit 0
