#!/bin/bash
# The lab's IPv6: nat-lab ls and addr show both families; every router
# filters UDP over IPv6 as ls says, told by real packets (filter6.py):
# none on r-open, endpoint-independent on r-fc and r-prc, address-
# dependent on r-rc, address-and-port-dependent on r-sym, r-sym2 and
# r-adm, UDP dropped on r-blk, NPTv6 without filter on r-prc2; h-upnp and
# h-prc-b have no IPv6, h-prc-6 no IPv4; coturn serves IPv6; loss drops
# IPv6 too.  h-nat64 reaches IPv4 through r-nat64's NAT64 and asks its
# DNS64.
. "$NATKIT_TOP/tests/e2e/lib.sh"
command -v python3 >/dev/null || skip "python3 is not installed"
command -v turnutils_natdiscovery >/dev/null ||
    skip "turnutils_natdiscovery not installed (package coturn)"

lab_up
F=$NATKIT_TOP/tests/e2e/filter6.py
S1=2001:db8:fffe::10 S2=2001:db8:fffe::11
EI=endpoint-independent AD=address-dependent APD=address-and-port-dependent

"$LAB" ls >"$T/ls"
get() { grep "^type=[a-z]* host=$1 " "$T/ls" | field "$2"; }
expect "ls h-prc2" "$(grep ' host=h-prc2 ' "$T/ls")" \
    "type=host host=h-prc2 ns=${NATLAB_PREFIX}h-prc2 addr=10.0.9.2 router=r-prc2 nat=port-restricted-cone mapping=$EI filtering=$APD wan=203.0.113.19 addr6=fd00:19::2 nat6=nptv6 mapping6=$EI filtering6=- wan6=2001:db8:19::2"
expect "ls h-prc-6" "$(grep ' host=h-prc-6 ' "$T/ls")" \
    "type=host host=h-prc-6 ns=${NATLAB_PREFIX}h-prc-6 addr=- router=r-prc nat=- mapping=- filtering=- wan=- addr6=2001:db8:13::6 nat6=firewall mapping6=- filtering6=$EI wan6=2001:db8:13::6"
expect "ls r-rc addr6 lan6 nat6" "$(get r-rc addr6) $(get r-rc lan6) $(get r-rc nat6)" \
    "2001:db8:ffff::12 2001:db8:12::1 firewall"
expect "ls coturn" "$(grep '^type=service name=coturn ' "$T/ls")" \
    "type=service name=coturn host=srv addr=198.51.100.10 port=3478 other=198.51.100.11:3479 addr6=2001:db8:fffe::10 other6=[2001:db8:fffe::11]:3479"
expect "ls srv addrs6" "$(get srv addrs6)" \
    "2001:db8:fffe::10,2001:db8:fffe::11,2001:db8:fffe::12,2001:db8:fffe::13"
expect "addr h-prc" "$("$LAB" addr h-prc)" 10.0.3.2
expect "addr -6 h-prc" "$("$LAB" addr -6 h-prc)" 2001:db8:13::2
expect "addr h-prc-6" "$("$LAB" addr h-prc-6)" 2001:db8:13::6
expect "addr -a srv" "$("$LAB" addr -a srv | tr '\n' ' ')" "198.51.100.10 2001:db8:fffe::10 "
"$LAB" addr -4 h-prc-6 >/dev/null 2>&1
expect "addr -4 h-prc-6 exit" $? 68
"$LAB" addr -6 h-upnp >/dev/null 2>&1
expect "addr -6 h-upnp exit" $? 68
expect "h-prc-6 has no IPv4 address" \
    "$("$LAB" exec h-prc-6 -- ip -4 -o addr show scope global | wc -l)" 0

# NAT64 and DNS64 (r-nat64): h-nat64 has IPv6 only; its resolver is the
# DNS64, which synthesises AAAA records under 2001:db8:64::/96; tayga
# and masquerade carry its packets to IPv4-only servers, seen there from
# r-nat64's 203.0.113.26.
expect "ls h-nat64" "$(grep ' host=h-nat64 ' "$T/ls")" \
    "type=host host=h-nat64 ns=${NATLAB_PREFIX}h-nat64 addr=- router=r-nat64 nat=- mapping=- filtering=- wan=- addr6=2001:db8:26::2 nat6=open mapping6=- filtering6=- wan6=2001:db8:26::2"
expect "ls dns64" "$(grep '^type=service name=dns64 ' "$T/ls")" \
    "type=service name=dns64 host=r-nat64 addr=2001:db8:26::1 port=53 prefix=2001:db8:64::/96"
expect "h-nat64 has no IPv4 address" \
    "$("$LAB" exec h-nat64 -- ip -4 -o addr show scope global | wc -l)" 0
expect "DNS64: ipv4only.arpa" "$("$LAB" exec h-nat64 -- timeout 10 \
    getent ahostsv6 ipv4only.arpa | awk '{ print $1 }' | sort -u | tr '\n' ' ')" \
    "2001:db8:64::c000:aa 2001:db8:64::c000:ab "
expect "DNS64: srv.lab" "$("$LAB" exec h-nat64 -- timeout 10 \
    getent ahostsv6 srv.lab | awk 'NR == 1 { print $1 }')" 2001:db8:64::c633:640a
out=$("$LAB" exec h-nat64 -- timeout 30 "$NATKIT_BIN/nat-probe" -G \
    -s "[2001:db8:64::198.51.100.10]:3478")
expect "NAT64: coturn sees h-nat64 from r-nat64" \
    "$(field ip6-public <<<"$out" | cut -d: -f1)" 203.0.113.26
expect "NAT64: r-nat64 forwarded it from tayga's pool" "$("$LAB" exec r-nat64 -- \
    conntrack -L -p udp -d 198.51.100.10 2>/dev/null |
    grep -q 'src=192.168.255.' && echo yes)" yes

# host       what comes back         the server sees
MATRIX="
h-open      P:abc_Q:d   2001:db8:10::2
h-fc        P:abc_Q:-   2001:db8:11::2
h-rc        P:ab_Q:-    2001:db8:12::2
h-prc       P:abc_Q:-   2001:db8:13::2
h-prc-6     P:abc_Q:-   2001:db8:13::6
h-sym       P:a_Q:-     2001:db8:14::2
h-adm       P:a_Q:-     2001:db8:15::2
h-blk       P:-_Q:-     -
h-sym2      P:a_Q:-     2001:db8:18::2
h-prc2      P:abc_Q:d   2001:db8:19::2
h-upnp      error       -
h-prc-b     error       -
"
# Each host sends from port 6000 (and listens on 6001), all at once; the
# server answers each for 8 s.
start_ready f6srv 10 "$LAB" exec srv -- sh -c \
    'echo ready; exec python3 "$0" server "$1" "$2" 7000 8' "$F" $S1 $S2
jobs=""
while read -r h want seen; do
	[ -n "$h" ] || continue
	"$LAB" exec "$h" -- python3 "$F" host $S1 7000 6000 6001 3 \
	    >"$T/f6.$h" 2>&1 &
	jobs="$jobs $!"
done <<<"$MATRIX"
PIDS="$PIDS $jobs"
wait $jobs
while read -r h want seen; do
	[ -n "$h" ] || continue
	got=$(cut -d' ' -f1,2 "$T/f6.$h" | tr ' ' _)
	case $got in error_*) got=error ;; esac
	expect "$h filtering by packets" "$got" "$want"
	if [ "$seen" = - ]; then
		expect "$h: the server saw nothing from it" \
		    "$(grep -c "^from $(get "$h" addr6) " "$T/f6srv.out")" 0
	else
		expect "$h: the server saw it as" \
		    "$(grep -c "^from $seen 6000\$" "$T/f6srv.out")" 1
		expect "$h: ls says wan6" "$(get "$h" wan6)" "$seen"
	fi
done <<<"$MATRIX"

# coturn answers RFC 5780 over IPv6 too: its own client tells r-rc's
# address-dependent filtering through it.
"$LAB" exec h-rc -- timeout 30 turnutils_natdiscovery -f 2001:db8:fffe::10 \
    >"$T/nd-rc" 2>&1
expect "coturn over IPv6: h-rc" \
    "$(grep -o 'NAT with [A-Za-z ]* Filtering' "$T/nd-rc" | head -n 1)" \
    "NAT with Address Dependent Filtering"
expect "coturn over IPv6: other address" \
    "$(sed -n 's/.*Other addr: : //p' "$T/nd-rc" | sort -u)" 2001:db8:fffe::11:3479

# loss covers IPv6 too: at 100% nothing crosses r-fc, at 0 all again.
for pct in 100 0; do
	"$LAB" loss fc $pct || fail "nat-lab loss fc $pct"
	start_ready f6loss$pct 10 "$LAB" exec srv -- sh -c \
	    'echo ready; exec python3 "$0" server "$1" "$2" 7000 3' "$F" $S1 $S2
	expect "loss $pct: h-fc over IPv6" "$("$LAB" exec h-fc -- python3 "$F" \
	    host $S1 7000 6100 6101 1.5 | cut -d' ' -f1)" \
	    "$([ $pct = 0 ] && echo P:abc || echo P:-)"
done
finish
