#!/bin/bash
# reflect_lab.sh: third-party clients against nat-reflect behind the lab's
# NATs.  coturn's turnutils_natdiscovery must reach, against nat-reflect,
# the verdict the lab's router is built to give, as it does against
# coturn; it takes OTHER-ADDRESS from the latest answer (test III goes to
# what test II's answer named), so the address-dependent router (r-adm)
# is the one that tells.  Started at the alternate address, it must reach
# no mapping verdict rather than a wrong one.  nat-probe, which reads
# test I's OTHER-ADDRESS, must still classify r-adm right.
. "$NATKIT_TOP/tests/e2e/lib.sh"

command -v turnutils_natdiscovery >/dev/null ||
    skip "turnutils_natdiscovery not installed (package coturn)"
lab_up
A=198.51.100.12 B=198.51.100.13
start_ready reflect 10 "$LAB" exec srv -- "$NATKIT_BIN/nat-reflect" -d \
    -p 3480 --alternate-port 3481 $A $B
expect "ready line" "$READY" \
    "ready udp=$A:3480,$A:3481,$B:3480,$B:3481 tcp=$A:3480,$A:3481,$B:3480,$B:3481"

EI=endpoint-independent AD=address-dependent APD=address-and-port-dependent
# host   mapping filtering
MATRIX="
h-fc     $EI     $EI
h-rc     $EI     $AD
h-prc    $EI     $APD
h-sym    $APD    $APD
h-adm    $AD     $APD
"

# What natdiscovery said in FILE, in nat-probe's terms ("" for none).
verdict() { # FILE Mapping|Filtering
	sed -n "s/^NAT with \(.*\) $2!$/\1/p" "$1" | head -n 1 |
	    sed -e 's/^Endpoint Independent$/endpoint-independent/' \
		-e 's/^Address Dependent$/address-dependent/' \
		-e 's/^Address and Port Dependent$/address-and-port-dependent/'
}

# Every host at once, each on its own NAT.
jobs=""
while read -r host map filt; do
	[ -n "$host" ] || continue
	"$LAB" exec "$host" -- timeout 30 turnutils_natdiscovery -m -f \
	    -p 3480 $A >"$T/nd.$host" 2>&1 &
	jobs="$jobs $!"
done <<<"$MATRIX"
PIDS="$PIDS $jobs"
wait $jobs
while read -r host map filt; do
	[ -n "$host" ] || continue
	expect "natdiscovery $host mapping" "$(verdict "$T/nd.$host" Mapping)" "$map"
	expect "natdiscovery $host filtering" \
	    "$(verdict "$T/nd.$host" Filtering)" "$filt"
done <<<"$MATRIX"

# From the alternate address: answers there carry no OTHER-ADDRESS, so
# natdiscovery finds no RFC 5780 server and gives no verdict.
out=$("$LAB" exec h-adm -- timeout 30 turnutils_natdiscovery -m -p 3480 $B 2>&1)
expect "natdiscovery at $B: mapping" "$(verdict <(echo "$out") Mapping)" ""
expect "natdiscovery at $B: answered" \
    "$(grep -c 'UDP reflexive addr' <<<"$out" | sed 's/^[1-9][0-9]*$/yes/')" yes
expect "natdiscovery at $B: no RFC 5780 answer" \
    "$(grep -c 'RFC 5780 response' <<<"$out")" 0

out=$("$LAB" exec h-adm -- "$NATKIT_BIN/nat-probe" -s $A:3480)
expect "nat-probe h-adm exit" "$?" 0
expect "nat-probe h-adm mapping" "$(field mapping <<<"$out")" "$AD"
expect "nat-probe h-adm filtering" "$(field filtering <<<"$out")" "$APD"
finish
