#!/bin/bash
# nat-reflect serves RFC 5780 over IPv6 as over IPv4: on srv's two IPv6
# addresses beside an instance on two IPv4 ones, coturn's natdiscovery
# sees CHANGE-REQUEST answered from the other IPv6 address and port and
# an IPv6 OTHER-ADDRESS.  nat-probe, given a server of each family,
# probes both and tells each lab router's IPv6 behaviour exactly: open,
# a firewall and its filtering (as natdiscovery says), NPTv6, UDP
# blocked; IPv4-only and IPv6-only hosts probe the family they have.
# An ALG that rewrites MAPPED-ADDRESS is seen.  --nat64 finds r-nat64's
# prefix through its DNS64 (RFC 7050), and says why when there is none.
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
# By default nat-probe probes each family this host has a route of to a
# server: IPv4 in the fields it always had, IPv6 in ip6-*.  Every router's
# IPv6 verdict, exactly ("-" in ip6-nat: no ip6- field at all).
# host    nat (IPv4)            ip6-nat      ip6-filtering ip6-public
MATRIX="
h-open    open                  open         $EI   [2001:db8:10::2]
h-fc      full-cone             firewall     $EI   [2001:db8:11::2]
h-rc      restricted-cone       firewall     $AD   [2001:db8:12::2]
h-prc     port-restricted-cone  firewall     $EI   [2001:db8:13::2]
h-prc-6   unknown               firewall     $EI   [2001:db8:13::6]
h-prc-b   port-restricted-cone  -            -     -
h-sym     symmetric             firewall     $APD  [2001:db8:14::2]
h-adm     symmetric             firewall     $APD  [2001:db8:15::2]
h-sym2    symmetric             firewall     $APD  [2001:db8:18::2]
h-prc2    port-restricted-cone  nptv6        $EI   [2001:db8:19::2]
h-upnp    port-restricted-cone  -            -     -
h-blk     udp-blocked           udp-blocked  -     -
"
jobs=""
while read -r host nat nat6 filt pub; do
	[ -n "$host" ] || continue
	(
		out=$("$LAB" exec "$host" -- "$PROBE" -G -s $R4 -s $R6)
		rc=$?
		expect "$host exit" $rc "$([ "$nat" = udp-blocked ] && echo 1 || echo 0)"
		expect "$host nat" "$(field nat <<<"$out")" "$nat"
		if [ "$nat6" = - ]; then
			expect "$host: no ip6- field" "$(grep -c ' ip6-' <<<"$out")" 0
			exit
		fi
		expect "$host ip6-nat" "$(field ip6-nat <<<"$out")" "$nat6"
		expect "$host ip6-filtering" "$(field ip6-filtering <<<"$out")" "$filt"
		expect "$host ip6-public" \
		    "$(field ip6-public <<<"$out" | sed 's/:[0-9]*$//')" "$pub"
		[ "$nat6" = udp-blocked ] && exit
		expect "$host ip6-mapping" "$(field ip6-mapping <<<"$out")" $EI
		expect "$host ip6-preserve" "$(field ip6-preserve <<<"$out")" yes
		# natdiscovery, a client of its own, agrees on the filtering.
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

# -6 probes IPv6 only, and a blocked IPv6 alone is exit 1.
out=$("$LAB" exec h-blk -- "$PROBE" -G -6 -s $R6)
expect "h-blk -6 exit" $? 1
expect "h-blk -6 ip6-nat" "$(field ip6-nat <<<"$out")" udp-blocked
out=$("$LAB" exec h-prc2 -- "$PROBE" -G -6 -s $R6)
expect "h-prc2 -6: IPv4 not probed" "$(field nat <<<"$out") $(field ip6-nat <<<"$out")" "unknown nptv6"
# The IPv4 instance still answers beside the IPv6 one.
out=$("$LAB" exec h-prc -- "$PROBE" -G -4 -s $R4)
expect "h-prc -4 nat" "$(field nat <<<"$out") $(grep -c ' ip6-' <<<"$out")" \
    "port-restricted-cone 0"
expect "h-prc -4: no ALG" "$(field alg <<<"$out")" no
# The terminal report shows both families.
if command -v script >/dev/null; then
	"$LAB" exec h-prc2 -- script -qec "$PROBE -G -s $R4 -s $R6" /dev/null \
	    </dev/null | tr -d '\r' >"$T/tty"
	expect "report: IPv4 NAT" "$(grep -c '^NAT: *port-restricted-cone$' "$T/tty")" 1
	expect "report: IPv6 NAT" "$(sed -n '/^IPv6:$/,$p' "$T/tty" | grep -c '^  NAT: *nptv6$')" 1
	expect "report: both servers" "$(grep -c '^server: .* RFC 5780$' "$T/tty")" 2
fi

# An ALG: r-prc writes h-prc's private address over the IPv4 address of
# MAPPED-ADDRESS in nat-reflect's answers from port 3480, and fixes the
# FINGERPRINT up, as a STUN-aware ALG would (stun_alg.py says where and
# how, per server address: their answers differ in length).  veth does
# not check UDP checksums.  Last: this leaves r-prc changed.
"$LAB" flush r-prc || fail "nat-lab flush r-prc"
for a in $A $B; do
	set -- $("$LAB" exec h-prc -- python3 "$NATKIT_TOP/tests/e2e/stun_alg.py" \
	    $a 3480 10.0.3.2) || fail "stun_alg.py $a"
	"$LAB" exec r-prc -- nft insert rule ip natlab forward \
	    iifname '"wan0"' ip saddr $a udp sport 3480 \
	    @th,$(((8 + $1) * 8)),32 set 0x0a000302 \
	    @th,$(((8 + $2) * 8)),32 set @th,$(((8 + $2) * 8)),32 '^' "$3" ||
	    fail "r-prc: cannot add the ALG for $a"
done
out=$("$LAB" exec h-prc -- "$PROBE" -G -v -4 -s $R4 2>"$T/alg.err")
expect "ALG: alg" "$(field alg <<<"$out")" yes
expect "ALG: public is still the router's" "$(field public <<<"$out" | cut -d: -f1)" 203.0.113.13
expect "ALG: the rest as before" "$(field mapping <<<"$out") $(field nat <<<"$out")" \
    "$EI port-restricted-cone"
expect "ALG: -v says" "$(grep -c 'ALG: MAPPED-ADDRESS 10.0.3.2:[0-9]* differs' "$T/alg.err")" 1
# NAT64 prefix discovery, only where asked: h-nat64's resolver is the
# lab's DNS64 (no DNS query leaves the lab).
out=$("$LAB" exec h-nat64 -- timeout 30 "$PROBE" -G -v --nat64 -s $R6 2>"$T/nat64.err")
expect "h-nat64 --nat64 exit" $? 0
expect "h-nat64 nat64" "$(field nat64 <<<"$out")" 2001:db8:64::/96
expect "h-nat64 -v says" "$(grep -c 'NAT64: ipv4only.arpa has AAAA 2001:db8:64::c000:aa: prefix 2001:db8:64::/96' "$T/nat64.err")" 1
out=$("$LAB" exec h-nat64 -- timeout 30 "$PROBE" -G -j --nat64 -s $R6)
expect "h-nat64 JSON nat64" "$(grep -o '"nat64":"[^"]*"' <<<"$out")" '"nat64":"2001:db8:64::/96"'
out=$("$LAB" exec h-nat64 -- timeout 30 "$PROBE" -G -s $R6)
expect "h-nat64 without --nat64: no nat64 field" "$(grep -c ' nat64=' <<<"$out")" 0
# No DNS64: no prefix, and the resolver's failure in words.
"$LAB" stop dns64 || fail "nat-lab stop dns64"
out=$("$LAB" exec h-nat64 -- timeout 60 "$PROBE" -G -v --nat64 -s $R6 2>"$T/nat64.err")
expect "no DNS64: nat64" "$(field nat64 <<<"$out")" -
expect "no DNS64: -v says" "$(grep -c 'NAT64: ipv4only.arpa: the resolver failed' "$T/nat64.err")" 1
"$LAB" start dns64 || fail "nat-lab start dns64"
finish
