#!/bin/bash
# reflect_interop.sh: coturn's turnutils_stunclient and
# turnutils_natdiscovery and the classic stun client (stun-client 0.97)
# against nat-reflect on 127.0.0.1 and 127.0.0.2, ports picked by the
# kernel.  Without a NAT in between they must see the client's own
# address, endpoint-independent mapping and filtering, and an open
# Internet.  Exit 0 pass, 77 skip, else fail.
set -u
. "$(dirname "$0")/reflect_lib.bash"

for t in turnutils_stunclient turnutils_natdiscovery stun; do
	command -v "$t" >/dev/null ||
	    skip "$t not installed (packages coturn, stun-client)"
done
ip -o addr show lo 2>/dev/null | grep -q '127.0.0.1/8' ||
    skip "loopback has no 127.0.0.1/8, so no 127.0.0.2"

reflect_start -p 0 --alternate-port 0 127.0.0.1 127.0.0.2
[[ $READY =~ ^ready\ udp=127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.2:[0-9]+,127\.0\.0\.2:[0-9]+\ tcp=127\.0\.0\.1:[0-9]+,127\.0\.0\.1:[0-9]+,127\.0\.0\.2:[0-9]+,127\.0\.0\.2:[0-9]+$ ]] ||
    fail "ready line: $READY"
[ "$UDP" = "$TCP" ] || fail "udp and tcp endpoints differ: $READY"
p=$(port "$EP0") P=$(port "$EP1")
# RFC 3489 clients send to the other address at the first port.
[ "$(port "$EP2")" = "$p" ] && [ "$(port "$EP3")" = "$P" ] ||
    fail "the two addresses do not share their ports: $READY"
pass "$READY"

# turnutils_stunclient: test I, then change IP and port, then from a
# second local port (its "RFC 5780 response 1..3").
out=$(timeout 20 turnutils_stunclient -p "$p" 127.0.0.1 2>&1) ||
    fail "turnutils_stunclient exited $?: $out"
want() { grep -qF -- "$1" <<<"$out" || fail "$2 does not print '$1':
$out"; }
want "Response origin: : 127.0.0.1:$p" turnutils_stunclient
want "Other addr: : 127.0.0.2:$P" turnutils_stunclient
want "Response origin: : 127.0.0.2:$P" turnutils_stunclient
want "UDP reflexive addr: 127.0.0.1:" turnutils_stunclient
[ "$(grep -c 'RFC 5780 response' <<<"$out")" -eq 3 ] ||
    fail "turnutils_stunclient: not three responses: $out"
pass "turnutils_stunclient: origin, other address, change request"

# nat-probe on the same host as the server: no NAT between, so open
# (it said full-cone: loopback is in no profile's local addresses).
out=$("$NATKIT_BIN/nat-probe" -G -r -s "127.0.0.1:$p" 2>&1)
want " nat=open " "nat-probe on loopback"
pass "nat-probe on loopback: nat=open"

# turnutils_natdiscovery: mapping and filtering (RFC 5780 §4.3, §4.4),
# with and without 1500 bytes of PADDING, then hairpinning.  It prints an
# answer's origin only when the answer has OTHER-ADDRESS, which answers to
# requests at the alternate address do not (reflect.c): every one it
# prints names 127.0.0.2:P, and the answer from there to filtering test
# II (change address and port) is seen.
for pad in "" -P; do
	out=$(timeout 30 turnutils_natdiscovery -m -f $pad -p "$p" \
	    127.0.0.1 2>&1) || fail "turnutils_natdiscovery -m -f $pad exited $?: $out"
	want "No ALG: Mapped == XOR-Mapped" "natdiscovery $pad"
	want "Other addr: : 127.0.0.2:$P" "natdiscovery $pad"
	grep 'Other addr' <<<"$out" | grep -vqF "127.0.0.2:$P" &&
	    fail "natdiscovery $pad: an OTHER-ADDRESS but 127.0.0.2:$P: $out"
	want "Response origin: : 127.0.0.2:$P" "natdiscovery $pad"
	want "NAT with Endpoint Independent Mapping!" "natdiscovery $pad"
	want "NAT with Endpoint Independent Filtering!" "natdiscovery $pad"
	pass "turnutils_natdiscovery -m -f $pad: independent mapping and filtering"
done
out=$(timeout 30 turnutils_natdiscovery -H -p "$p" 127.0.0.1 2>&1) ||
    fail "turnutils_natdiscovery -H exited $?: $out"
want "Received a request (maybe a successful hairpinning)" "natdiscovery -H"
pass "turnutils_natdiscovery -H: hairpinning"

# The classic client speaks RFC 3489 (no magic cookie).  Its exit status
# is the verdict: 1 is "Open"; -v prints the attributes on stderr.
out=$(timeout 30 stun "127.0.0.1:$p" -v 2>&1)
rc=$?
[ "$rc" -eq 1 ] || fail "stun exited $rc, not 1 (Open): $out"
want "Primary: Open" stun
want "ChangedAddress = 127.0.0.2:$P" stun
want "SourceAddress = 127.0.0.1:$p" stun	# test I
want "SourceAddress = 127.0.0.1:$P" stun	# test III: change port
# Test II (change IP) and test I(2) (sent to B:p) both come from B:p; the
# answer to I(2) names A:P as the changed address.
[ "$(grep -c "SourceAddress = 127.0.0.2:$p" <<<"$out")" -eq 2 ] ||
    fail "stun: not two answers from 127.0.0.2:$p: $out"
want "ChangedAddress = 127.0.0.1:$P" stun
want "MappedAddress = 127.0.0.1:" stun
want "ServerName = nat-reflect (natkit)" stun
for t in "test I = 1" "test II = 1" "test III = 1" "test I(2) = 1" \
    "is nat  = 0" "mapped IP same = 1"; do
	want "$t" stun
done
grep -q "problem parsing" <<<"$out" && fail "stun could not parse: $out"
pass "stun: Open, all four tests answered"

reflect_stop
r=$(stat refused) m=$(stat malformed)
[ "$r" -eq 0 ] && [ "$m" -eq 0 ] || fail "refused or malformed: $STATS"
pass "$STATS"

# Four threads per endpoint (SO_REUSEPORT): the same verdicts.
reflect_start -t 4 -p 0 --alternate-port 0 127.0.0.1 127.0.0.2
p=$(port "$EP0") P=$(port "$EP1")
out=$(timeout 30 turnutils_natdiscovery -m -f -p "$p" 127.0.0.1 2>&1) ||
    fail "turnutils_natdiscovery -m -f (-t 4) exited $?: $out"
want "Other addr: : 127.0.0.2:$P" "natdiscovery (-t 4)"
want "NAT with Endpoint Independent Mapping!" "natdiscovery (-t 4)"
want "NAT with Endpoint Independent Filtering!" "natdiscovery (-t 4)"
pass "-t 4: independent mapping and filtering"

reflect_stop
r=$(stat refused) m=$(stat malformed)
[ "$r" -eq 0 ] && [ "$m" -eq 0 ] || fail "refused or malformed: $STATS"
pass "$STATS"

# One address: answered, but without OTHER-ADDRESS (RFC 5780 §7.4).
reflect_start -p 0 127.0.0.1
[[ $READY =~ ^ready\ udp=127\.0\.0\.1:[0-9]+\ tcp=127\.0\.0\.1:[0-9]+$ ]] ||
    fail "one-address ready line: $READY"
p=$(port "$EP0")
out=$(timeout 20 turnutils_stunclient -p "$p" 127.0.0.1 2>&1)
want "UDP reflexive addr: 127.0.0.1:" "turnutils_stunclient (one address)"
grep -q "Other addr" <<<"$out" && fail "OTHER-ADDRESS with one address: $out"
pass "one address: mapped address, no OTHER-ADDRESS"
reflect_stop
exit 0
