#!/bin/bash
# End-to-end test of scripts/nat-lab: every router is classified by coturn's
# turnutils_natdiscovery (RFC 5780) and the classic stun client (RFC 3489) as
# the NAT it claims to be, also under loss and delay; miniupnpd maps ports by
# UPnP IGD and NAT-PMP; up and down are idempotent and down leaves nothing.
#
# Exit 0 pass, 77 skip (reason on the last line), anything else fail.
set -u
export LC_ALL=C
top=${NATKIT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${NATKIT_BIN:-$top/build/bin}
L=$top/scripts/nat-lab
t0=$EPOCHREALTIME

skip() { echo "lab: $*"; exit 77; }
fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # description command...
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}

[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces)"
for c in ip nft iptables conntrack turnserver turnutils_natdiscovery stun stund \
	miniupnpd upnpc natpmpc socat timeout flock; do
	command -v "$c" >/dev/null || skip "$c is not installed (scripts/install-deps)"
done
[ -x "$L" ] || skip "no $L"

work=$(mktemp -d /tmp/natkit-lab-test.XXXXXX) || exit 1
export NATLAB_PREFIX=nt$$- NATLAB_DIR=$work/lab
# The delay helper: built by make, or built here by hand until it is.
if [ -x "$bin/nat-lab-delay" ]; then
	export NATLAB_DELAY=$bin/nat-lab-delay
elif cc -std=c11 -D_GNU_SOURCE -O2 -o "$work/nat-lab-delay" "$top/src/nat-lab-delay.c" \
	-lnetfilter_queue 2>"$work/cc.log"; then
	export NATLAB_DELAY=$work/nat-lab-delay
else
	rm -rf "$work"
	skip "nat-lab-delay is not built and cannot be built (libnetfilter-queue-dev)"
fi

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	NATLAB_PREFIX=nt$$b- NATLAB_DIR=$work/lab-b "$L" down >/dev/null 2>&1
	"$L" down >/dev/null 2>&1
	if [ "$rc" -eq 0 ]; then rm -rf "$work"; else echo "lab: logs kept in $work"; fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

lab() { "$L" "$@"; }
in_ns() { local h=$1; shift; lab exec "$h" -- timeout 30 "$@"; }
lab_namespaces() { ip netns list | awk '{ print $1 }' | grep -c "^$1" ; }

# --- up, ls, idempotency -----------------------------------------------
if ! lab up >"$work/up.log" 2>&1; then
	cat "$work/up.log"
	echo "lab: nat-lab up failed"
	exit 1
fi
ok "up ($(tail -n 1 "$work/up.log"))"
check "up again is a no-op" lab up
lab ls >"$work/ls" || bad "ls"
for h in pub srv h-open h-fc h-rc h-prc h-prc-b h-prc-6 h-sym h-sym2 h-adm h-blk h-upnp h-prc2 \
	h-seq h-seq3 h-pba h-poolp h-poola h-t30 h-t10 h-cgn h-nat64; do
	grep -q "^type=host host=$h ns=$NATLAB_PREFIX$h addr=" "$work/ls" || bad "ls lists $h"
done
check "ls: h-prc record" grep -qx "type=host host=h-prc ns=${NATLAB_PREFIX}h-prc addr=10.0.3.2 router=r-prc nat=port-restricted-cone mapping=endpoint-independent filtering=address-and-port-dependent wan=203.0.113.13 addr6=2001:db8:13::2 nat6=firewall mapping6=- filtering6=endpoint-independent wan6=2001:db8:13::2" "$work/ls"
check "addr h-upnp" test "$(lab addr h-upnp)" = 192.168.7.2
check "addr srv" test "$(lab addr srv)" = 198.51.100.10
check "addr of an unknown host exits 68" bash -c '"$0" addr nosuch 2>/dev/null; [ $? -eq 68 ]' "$L"
check "ls: h-cgn record" grep -qx "type=host host=h-cgn ns=${NATLAB_PREFIX}h-cgn addr=192.168.1.2 router=r-cgn nat=symmetric mapping=address-and-port-dependent filtering=address-and-port-dependent wan=203.0.113.25 addr6=- nat6=- mapping6=- filtering6=- wan6=-" "$work/ls"
check "ls: r-home record" grep -q "^type=router host=r-home ns=${NATLAB_PREFIX}r-home addr=100.64.0.2 lan=192.168.1.1 nat=port-restricted-cone " "$work/ls"
check "44 namespaces" test "$(lab_namespaces "$NATLAB_PREFIX")" -eq 44
if command -v setpriv >/dev/null; then
	# A copy the user can run: the checkout may sit in a 0700 directory.
	mkdir -m 755 "$work/user"
	install -m 755 "$L" "$work/user/nat-lab"
	chmod 711 "$work"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$work/user/nat-lab" up \
	    >"$work/nonroot" 2>&1
	check "up as a user exits 77 ($?) and says it needs root" \
		bash -c '[ "$1" -eq 77 ] && grep -q "needs root" "$0"' "$work/nonroot" $?
fi

# --- classification --------------------------------------------------------
# natdiscovery FILE HOST: mapping, filtering and hairpinning, verdicts kept.
discover() {
	in_ns "$2" turnutils_natdiscovery -m -f 198.51.100.10 >"$1.mf" 2>&1
	in_ns "$2" turnutils_natdiscovery -H 198.51.100.10 >"$1.h" 2>&1
	in_ns "$2" stun 198.51.100.12 >"$1.stun" 2>&1
	echo $? >"$1.stunrc"
}
verdicts() { # file: one line "mapping/filtering/hairpin"
	local m f h
	m=$(grep -o 'NAT with [A-Za-z ]* Mapping' "$1.mf" | head -n 1)
	f=$(grep -o 'NAT with [A-Za-z ]* Filtering' "$1.mf" | head -n 1)
	grep -q 'successful hairpinning' "$1.h" && h=hairpin || h=no-hairpin
	echo "${m:-no-mapping}/${f:-no-filtering}/$h"
}
EIM="NAT with Endpoint Independent Mapping"
ADM="NAT with Address Dependent Mapping"
APDM="NAT with Address and Port Dependent Mapping"
EIF="NAT with Endpoint Independent Filtering"
ADF="NAT with Address Dependent Filtering"
APDF="NAT with Address and Port Dependent Filtering"
declare -A WANT=(
	[fc]="$EIM/$EIF/hairpin 0x03"
	[rc]="$EIM/$ADF/no-hairpin 0x15"
	[prc]="$EIM/$APDF/no-hairpin 0x17"
	[prc2]="$EIM/$APDF/no-hairpin 0x17"
	[upnp]="$EIM/$APDF/no-hairpin 0x17"
	[sym]="$APDM/$APDF/no-hairpin 0x18"
	[sym2]="$APDM/$APDF/no-hairpin 0x18"
	[adm]="$ADM/$APDF/no-hairpin 0x18"
	[blk]="no-mapping/no-filtering/no-hairpin 0x1c"
)
# The stun client's exit status is its verdict: 0x01 open, 0x03 full cone,
# 0x05 restricted, 0x07 port restricted, 0x08 symmetric, 0x0c blocked, plus
# 0x10 when the NAT does not hairpin.
stun_code() { printf '0x%02x' "$(cat "$1.stunrc")"; }

classify_all() { # tag
	local r
	lab flush all
	for r in "${!WANT[@]}" open; do discover "$work/$1-$r" "h-$r" & done
	wait
	for r in "${!WANT[@]}"; do
		local want=${WANT[$r]} got
		got="$(verdicts "$work/$1-$r") $(stun_code "$work/$1-$r")"
		if [ "$got" = "$want" ]; then
			ok "$1: $r is $got"
		else
			bad "$1: $r is '$got', want '$want'"
		fi
	done
	# No NAT: the reflexive address is the host's own, and stun says Open.
	if grep -q 'UDP reflexive addr: 192.0.2.2:' "$work/$1-open.mf" &&
		[ "$(stun_code "$work/$1-open")" = 0x01 ]; then
		ok "$1: open has no NAT"
	else
		bad "$1: open: $(grep -m1 'reflexive' "$work/$1-open.mf") stun $(stun_code "$work/$1-open")"
	fi
}
classify_all plain

# --- hairpinning switched on and off ----------------------------------------
lab hairpin prc on && in_ns h-prc turnutils_natdiscovery -H 198.51.100.10 >"$work/hp-on" 2>&1
check "hairpin prc on" grep -q 'successful hairpinning' "$work/hp-on"
check "ls says hairpin=on" grep -q 'host=r-prc .*hairpin=on' <(lab ls)
lab hairpin prc off && lab hairpin fc off || bad "hairpin off"
in_ns h-prc turnutils_natdiscovery -H 198.51.100.10 >"$work/hp-off" 2>&1 &
in_ns h-fc turnutils_natdiscovery -H 198.51.100.10 >"$work/hp-fc" 2>&1 &
wait
check "hairpin prc off" bash -c '! grep -q "successful hairpinning" "$0"' "$work/hp-off"
check "hairpin fc off" bash -c '! grep -q "successful hairpinning" "$0"' "$work/hp-fc"
lab hairpin fc on

# --- two hosts behind one NAT ------------------------------------------------
in_ns h-prc-b stun 198.51.100.12 1 -v >/dev/null 2>"$work/prc-b"
check "h-prc-b leaves through 203.0.113.13" grep -q 'MappedAddress = 203.0.113.13:' "$work/prc-b"

# --- NAT444: h-cgn behind r-home behind the carrier-grade r-cgn -------------
# Its packets leave r-home from 100.64.0.2 and r-cgn from its port block.
in_ns h-cgn stun 198.51.100.12 1 -v >/dev/null 2>"$work/cgn"
check "h-cgn leaves through 203.0.113.25, a port of 40960-41471" \
	bash -c 'grep -o "MappedAddress = 203.0.113.25:[0-9]*" "$0" | head -n 1 |
	    awk -F: "\$2 >= 40960 && \$2 <= 41471 { f = 1 } END { exit !f }"' "$work/cgn"
check "r-cgn's conntrack has h-cgn's flow from r-home's 100.64.0.2" \
	bash -c '"$0" exec r-cgn -- conntrack -L -p udp -s 100.64.0.2 -d 198.51.100.12 2>/dev/null | grep -q "dport=3478"' "$L"
in_ns h-cgn natpmpc -g 192.168.1.1 >"$work/cgn-natpmp" 2>&1
check "r-home states 100.64.0.2 over NAT-PMP" grep -q 'Public IP address : 100.64.0.2' "$work/cgn-natpmp"

# --- loss and delay ------------------------------------------------------------
# RFC 5780 tests send each request once, so a lost answer gives no verdict;
# retry until both verdicts are there.  On a port-restricted cone, a lost
# packet can only look like stricter filtering, which it already has.
lab loss prc 10 && lab delay prc 20 || bad "loss and delay on r-prc"
check "ls says delay=20 loss=10" grep -q 'host=r-prc .*delay=20 loss=10' <(lab ls)
# rtt HOST: the shortest of five STUN binding exchanges with coturn, in
# milliseconds, timed inside one shell in HOST's namespace.
rtt() {
	lab exec "$1" -- timeout 10 bash -c '
		exec 3<>/dev/udp/198.51.100.10/3478 || exit 1
		min=99999999
		for i in 1 2 3 4 5; do
			a=$EPOCHREALTIME
			printf "\x00\x01\x00\x00\x21\x12\xa4\x42natkit%06d" "$i" >&3
			IFS= read -r -t 1 -N 1 -d "" c <&3 || continue
			b=$EPOCHREALTIME
			n=$((${b/./} - ${a/./}))
			[ "$n" -lt "$min" ] && min=$n
		done
		echo $((min / 1000))'
}
for i in 1 2 3 4 5 6; do
	lab flush prc
	in_ns h-prc turnutils_natdiscovery -m -f 198.51.100.10 >"$work/imp-prc.mf" 2>&1
	grep -q 'Mapping!' "$work/imp-prc.mf" && grep -q 'Filtering!' "$work/imp-prc.mf" && break
done
check "loss+delay: prc natdiscovery: $(verdicts "$work/imp-prc" 2>/dev/null | cut -d/ -f1,2)" \
	bash -c 'grep -q "$0" "$2" && grep -q "$1" "$2"' "$EIM" "$APDF" "$work/imp-prc.mf"
for i in 1 2 3; do
	lab flush prc
	in_ns h-prc stun 198.51.100.12 >/dev/null 2>&1
	c=$(printf '0x%02x' $?)
	[ "$c" = 0x17 ] && break
done
check "loss+delay: prc stun $c" test "$c" = 0x17
lab loss prc 0
d=$(rtt h-prc)
check "delay: a STUN round trip takes >= 40 ms ($d ms)" test "$d" -ge 40
lab delay prc 0
n=$(rtt h-prc)
check "no delay: a STUN round trip takes < 20 ms ($n ms)" test "$n" -lt 20
check "delay helper stopped" bash -c '! grep -q " delay-prc " "$0/pids"' "$NATLAB_DIR"

# --- UPnP IGD and NAT-PMP ------------------------------------------------------
# receive PORT FILE: listens on h-upnp for one datagram for 8 s.
rx_pids=""
receive() {
	# "$L", not lab: $! is then timeout's pid, and timeout passes the
	# signal on to socat.
	"$L" exec h-upnp -- timeout 8 socat -u UDP4-RECV:"$1" STDOUT >"$2" 2>/dev/null &
	rx_pids="$rx_pids $!"
}
send() { lab exec pub -- timeout 2 socat -u - UDP4-SENDTO:203.0.113.17:"$1" <<<"$2" >/dev/null 2>&1; }
delivered() { # port file text
	local i
	for ((i = 0; i < 10; i++)); do
		send "$1" "$3"
		grep -q "$3" "$2" && return 0
		sleep 0.3
	done
	return 1
}
in_ns h-upnp upnpc -i -e natkit -a 192.168.7.2 40000 40000 UDP 600 >"$work/upnpc" 2>&1
check "upnpc maps 40000" grep -q 'external 203.0.113.17:40000 UDP is redirected to internal 192.168.7.2:40000' "$work/upnpc"
in_ns h-upnp natpmpc -g 192.168.7.1 -a 40001 40001 udp 600 >"$work/natpmpc" 2>&1
check "natpmpc maps 40001" grep -q 'Mapped public port 40001 protocol UDP to local port 40001' "$work/natpmpc"
receive 40000 "$work/rx0"
receive 40001 "$work/rx1"
receive 40002 "$work/rx2"
sleep 0.3
check "pub reaches h-upnp through the UPnP mapping" delivered 40000 "$work/rx0" via-upnp
check "pub reaches h-upnp through the NAT-PMP mapping" delivered 40001 "$work/rx1" via-natpmp
send 40002 unmapped
sleep 0.3
check "an unmapped port gets nothing" test ! -s "$work/rx2"
in_ns h-upnp upnpc -i -d 40000 UDP >/dev/null 2>&1
in_ns h-upnp natpmpc -g 192.168.7.1 -a 40001 40001 udp 0 >/dev/null 2>&1
kill $rx_pids 2>/dev/null
wait

# --- a second lab beside the first; a failed up leaves nothing -----------------
(
	export NATLAB_PREFIX=nt$$b- NATLAB_DIR=$work/lab-b
	lab up prc >/dev/null 2>&1 || exit 1
	in_ns h-prc stun 198.51.100.12 >/dev/null 2>&1
	[ $? -eq $((0x17)) ] || exit 2
	lab down || exit 3
	[ "$(lab_namespaces "$NATLAB_PREFIX")" -eq 0 ] || exit 4
)
check "a second lab (prefix nt$$b-) beside the first ($?)" test $? -eq 0
check "the first lab is intact" test "$(lab_namespaces "$NATLAB_PREFIX")" -eq 44
mkdir -p "$work/stub"
printf '#!/bin/sh\nexit 1\n' >"$work/stub/turnserver"
chmod +x "$work/stub/turnserver"
PATH=$work/stub:$PATH NATLAB_PREFIX=nt$$f- NATLAB_DIR=$work/lab-f lab up fc >"$work/up-f.log" 2>&1
check "up fails when coturn does not start" test $? -ne 0
check "a failed up leaves no namespace" test "$(lab_namespaces "nt$$f-")" -eq 0

# --- spawn, ps, stop -----------------------------------------------------------
pid=$(lab spawn pub sink -- socat -u UDP4-RECV:9999 /dev/null)
check "spawn prints a pid ($pid)" test -n "$pid" -a -d "/proc/${pid:-x}"
check "ps lists it" grep -q "^type=process name=sink pid=$pid host=pub program=socat running=yes" <(lab ps)
check "ps lists coturn" grep -q "^type=process name=coturn .* running=yes" <(lab ps)
pid=$(lab spawn pub sink2 -- socat -u UDP4-RECV:9998 /dev/null)
lab stop sink2
check "stop ends it" bash -c '! grep -q "name=sink2 .*running=yes" <("$0" ps)' "$L"

# --- down ---------------------------------------------------------------------
cp "$NATLAB_DIR/pids" "$work/pids"
left=$(for n in $(ip netns list | awk '{ print $1 }' | grep "^$NATLAB_PREFIX"); do ip netns pids "$n"; done)
check "only the lab's own processes run in its namespaces (${left:+$(echo $left)})" \
	bash -c 'for p in $1; do grep -q "^$p " "$0" || exit 1; done' "$work/pids" "$left"
check "down" lab down
check "down again" lab down
check "no namespace with prefix $NATLAB_PREFIX" test "$(lab_namespaces "$NATLAB_PREFIX")" -eq 0
left=""
while read -r pid st rest; do
	s=$(cat "/proc/$pid/stat" 2>/dev/null) || continue
	s=${s##*) }
	set -- $s
	[ "${20}" = "$st" ] && [ "$1" != Z ] && left="$left $pid"
done <"$work/pids"
check "no process of the lab is left${left:+:$left}" test -z "$left"
check "ls after down fails" bash -c '! "$0" ls >/dev/null 2>&1' "$L"

secs=$(awk "BEGIN { printf \"%.1f\", $EPOCHREALTIME - $t0 }")
if [ "$fails" -ne 0 ]; then
	echo "lab: $fails checks failed in $secs s"
	exit 1
fi
echo "lab: all checks passed in $secs s"
