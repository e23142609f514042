#!/bin/bash
# nat-reflect serves RFC 5780 over IPv6 as over IPv4: on srv's two IPv6
# addresses beside an instance on two IPv4 ones, coturn's natdiscovery
# sees CHANGE-REQUEST answered from the other IPv6 address and port and
# an IPv6 OTHER-ADDRESS; nat-probe -6 tells each lab router's IPv6
# filtering as natdiscovery does and as the router is built.
. "$NATKIT_TOP/tests/e2e/lib.sh"
command -v turnutils_natdiscovery >/dev/null ||
    skip "turnutils_natdiscovery not installed (package coturn)"

lab_up
PROBE=$NATKIT_BIN/nat-probe
A=198.51.100.12 B=198.51.100.13 A6=2001:db8:fffe::12 B6=2001:db8:fffe::13
start_ready reflect 10 "$LAB" exec srv -- "$NATKIT_BIN/nat-reflect" -d \
    -p 3480 -P 3481 $A $B
expect "IPv4 ready line" "$READY" \
    "ready udp=$A:3480,$A:3481,$B:3480,$B:3481 tcp=$A:3480,$A:3481,$B:3480,$B:3481"
start_ready reflect6 10 "$LAB" exec srv -- "$NATKIT_BIN/nat-reflect" -d \
    -p 3480 -P 3481 $A6 $B6
expect "IPv6 ready line" "$READY" \
    "ready udp=[$A6]:3480,[$A6]:3481,[$B6]:3480,[$B6]:3481 tcp=[$A6]:3480,[$A6]:3481,[$B6]:3480,[$B6]:3481"
R4=$A:3480 R6=[$A6]:3480

# No filter on r-open: every answer arrives, each with its origin.
"$LAB" exec h-open -- timeout 30 turnutils_natdiscovery -m -f -p 3480 $A6 \
    >"$T/nd-open" 2>&1
# natdiscovery prints "Response origin: : ADDR:PORT" and "Other addr: :
# ADDR:PORT" for each answer, IPv6 addresses unbracketed.
origins=$(sed -n 's/.*Response origin: : //p' "$T/nd-open" | sort -u | tr '\n' ' ')
expect "natdiscovery: answers came from" "$origins" "$A6:3480 $B6:3481 "
expect "natdiscovery: OTHER-ADDRESS" \
    "$(sed -n 's/.*Other addr: : //p' "$T/nd-open" | sort -u)" "$B6:3481"
expect "natdiscovery: reflexive address is h-open's" \
    "$(sed -n 's/.*UDP reflexive addr: \(.*\):[0-9]*$/\1/p' "$T/nd-open" | sort -u)" \
    2001:db8:10::2
expect "nat-probe -6 -v: other address" \
    "$("$LAB" exec h-open -- "$PROBE" -G -v -6 -s $R6 2>&1 >/dev/null |
    sed -n 's/.*other address \(.*\), [0-9]* ms$/\1/p')" "[$B6]:3481"

# What natdiscovery said in FILE, in nat-probe's terms ("" for no verdict).
verdict() { # FILE KIND(Mapping|Filtering)
	sed -n "s/^NAT with \(.*\) $2!$/\1/p" "$1" | head -n 1 |
	    sed -e 's/^Endpoint Independent$/endpoint-independent/' \
		-e 's/^Address Dependent$/address-dependent/' \
		-e 's/^Address and Port Dependent$/address-and-port-dependent/'
}

EI=endpoint-independent AD=address-dependent APD=address-and-port-dependent
# host    filtering  public
MATRIX="
h-open    $EI        [2001:db8:10::2]
h-fc      $EI        [2001:db8:11::2]
h-rc      $AD        [2001:db8:12::2]
h-prc     $EI        [2001:db8:13::2]
h-prc-6   $EI        [2001:db8:13::6]
h-sym     $APD       [2001:db8:14::2]
h-adm     $APD       [2001:db8:15::2]
h-sym2    $APD       [2001:db8:18::2]
h-prc2    $EI        [2001:db8:19::2]
"
jobs=""
while read -r host filt pub; do
	[ -n "$host" ] || continue
	(
		out=$("$LAB" exec "$host" -- "$PROBE" -G -6 -s $R6)
		expect "$host exit" $? 0
		expect "$host mapping" "$(field mapping <<<"$out")" $EI
		expect "$host filtering" "$(field filtering <<<"$out")" "$filt"
		expect "$host public" "$(field public <<<"$out" | sed 's/:[0-9]*$//')" "$pub"
		nd=$T/nd.$host
		"$LAB" exec "$host" -- timeout 30 turnutils_natdiscovery -m -f \
		    -p 3480 $A6 >"$nd" 2>&1
		expect "$host natdiscovery mapping" "$(verdict "$nd" Mapping)" $EI
		expect "$host natdiscovery filtering" "$(verdict "$nd" Filtering)" "$filt"
	) >"$T/m.$host" 2>&1 &
	jobs="$jobs $!"
done <<<"$MATRIX"
PIDS="$PIDS $jobs"
wait $jobs
cat "$T"/m.*
FAILS=$((FAILS + $(cat "$T"/m.* | grep -c '^FAIL')))

out=$("$LAB" exec h-blk -- "$PROBE" -G -6 -s $R6)
expect "h-blk -6 exit" $? 1
expect "h-blk -6 nat" "$(field nat <<<"$out")" udp-blocked
# The IPv4 instance still answers beside the IPv6 one.
out=$("$LAB" exec h-prc -- "$PROBE" -G -4 -s $R4)
expect "h-prc -4 nat" "$(field nat <<<"$out")" port-restricted-cone
finish
