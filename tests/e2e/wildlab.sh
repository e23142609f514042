#!/bin/bash
# The lab's NATs as they are in the wild (nat-lab(1) TOPOLOGY), each
# asserted by the public ports and addresses coturn sees for a small STUN
# sender's flows: sequential and stepped allocation with one counter
# across flows, port blocks, paired and arbitrary address pools, short
# UDP timeouts (what conntrack holds), and rebinding.
. "$NATKIT_TOP/tests/e2e/lib.sh"

SEND=$NATKIT_TOP/tests/e2e/stun-send.py
command -v python3 >/dev/null || skip "python3 is not installed"
lab_up seq,seq3,pba,poolp,poola,t30,t10,prc
S1=198.51.100.10:3478 S2=198.51.100.11:3478 S3=198.51.100.12:3478

# send HOST SPEC...: the sender's lines, one per flow.
send() { local h=$1; shift; "$LAB" exec "$h" -- timeout 30 python3 "$SEND" "$@"; }
ports() { awk '{ n = split($4, a, ":"); print a[n] }'; }
addrs() { awk '{ split($4, a, ":"); print a[1] }'; }
# steps: the differences of successive ports, space-separated.
steps() { awk 'NR > 1 { printf "%s%d", s, $1 - p; s = " " } { p = $1 } END { print "" }'; }

# --- sequential: one counter, whatever the socket and destination -------
for r in seq:1 seq3:3; do
	h=h-${r%:*} k=${r#*:}
	send $h a/$S1 b/$S1 c/$S3 a/$S2 d/$S1 >"$T/$h"
	expect "$h: five new flows step by $k" "$(ports <"$T/$h" | steps)" "$k $k $k $k"
	expect "$h: the public address" "$(addrs <"$T/$h" | sort -u)" \
	    "$("$LAB" addr r-${r%:*})"
	# The counter moved on meanwhile for nobody else: the next flow is
	# the next step, also after a flush of every mapping.
	last=$(ports <"$T/$h" | tail -n 1)
	"$LAB" flush r-${r%:*}
	expect "$h: after a flush the counter goes on" \
	    "$(send $h e/$S1 | ports)" $((last + k))
done

# --- port block: random inside the subscriber's 512 ports ---------------
send h-pba $(for i in $(seq 12); do echo "s$i/$S1"; done) >"$T/pba"
expect "h-pba: 12 flows answered" "$(ports <"$T/pba" | grep -c '^[0-9]')" 12
expect "h-pba: every port in the block 40960-41471" \
    "$(ports <"$T/pba" | awk '$1 < 40960 || $1 > 41471' | wc -l)" 0
expect "h-pba: 12 distinct ports" "$(ports <"$T/pba" | sort -u | wc -l)" 12
st=$(ports <"$T/pba" | steps | tr ' ' '\n' | sort -u | wc -l)
[ "$st" -gt 1 ] && echo "ok   h-pba: not sequential ($st different steps)" ||
    expect "h-pba: different steps" "$st" "more than 1"

# --- address pools ---------------------------------------------------------
send h-poolp 40000/$S1 40001/$S1 40000/$S2 x/$S3 >"$T/poolp"
expect "h-poolp: paired: one public address for every socket" \
    "$(addrs <"$T/poolp" | sort -u | wc -l)" 1
case $(addrs <"$T/poolp" | head -n 1) in
203.0.113.30 | 203.0.113.31) echo "ok   h-poolp: an address of the pool" ;;
*) expect "h-poolp: address" "$(addrs <"$T/poolp" | head -n 1)" "203.0.113.30 or .31" ;;
esac
expect "h-poolp: endpoint-independent" "$(sed -n 3p "$T/poolp" | cut -d' ' -f4)" \
    "$(sed -n 1p "$T/poolp" | cut -d' ' -f4)"
send h-poola 40000/$S1 40001/$S1 40000/$S2 40001/$S3 >"$T/poola"
expect "h-poola: arbitrary: the sockets leave through both addresses" \
    "$(addrs <"$T/poola" | tr '\n' ' ')" \
    "203.0.113.32 203.0.113.33 203.0.113.32 203.0.113.33 "
expect "h-poola: endpoint-independent" \
    "$(sed -n 3p "$T/poola" | cut -d' ' -f4) $(sed -n 4p "$T/poola" | cut -d' ' -f4)" \
    "$(sed -n 1p "$T/poola" | cut -d' ' -f4) $(sed -n 2p "$T/poola" | cut -d' ' -f4)"

# --- mapping timeouts: what the router's conntrack holds -------------------
# ct_left ROUTER HOST: seconds conntrack gives the host's UDP flow to S1
# ("" when there is none), and its state.
ct_left() {
	"$LAB" exec "r-$1" -- conntrack -L -p udp -s "$("$LAB" addr "$2")" \
	    -d ${S1%:*} 2>/dev/null | awk '{ print $3, ($0 ~ /ASSURED/ ? "stream" : "once") }'
}
# A stream: traffic both ways, then again after conntrack's 2 s.
for h in t30 t10 prc; do
	send h-$h 41000/$S1 >/dev/null &
done
wait
sleep 2.5
for h in t30 t10 prc; do
	send h-$h 41000/$S1 >/dev/null &
done
wait
for h in t30:30 t10:10 prc:120; do
	read -r left state < <(ct_left ${h%:*} h-${h%:*})
	expect "r-${h%:*}: a stream's mapping is kept" "$state" stream
	# Within a few seconds of the limit: a busy machine is slow.
	[ "${left:-0}" -le ${h#*:} ] && [ "${left:-0}" -ge $((${h#*:} - 5)) ] &&
	    echo "ok   r-${h%:*}: $left s left of ${h#*:}" ||
	    expect "r-${h%:*}: seconds left" "${left:-none}" "${h#*:} or a little less"
done
sleep 11
expect "r-t10: the idle mapping is gone after 11 s" "$(ct_left t10 h-t10)" ""
[ -n "$(ct_left t30 h-t30)" ] && echo "ok   r-t30: still there after 11 s" ||
    expect "r-t30: mapping after 11 s" none "still there"

# --- rebinding: the same socket, a new port -------------------------------
# A low port too: the port a router kept must not be kept again.
for rp in prc:5000 prc:42000 seq3:42000 poola:42000; do
	r=${rp%:*}
	a=$(send h-$r ${rp#*:}/$S1 | cut -d' ' -f4)
	"$LAB" rebind $r || expect "nat-lab rebind $r" $? 0
	b=$(send h-$r ${rp#*:}/$S1 | cut -d' ' -f4)
	[ "${a:--}" != - ] && [ "${b:--}" != - ] && [ "$a" != "$b" ] &&
	    echo "ok   r-$r rebinds: $a, then $b" ||
	    expect "r-$r rebinds" "$a then $b" "two different mappings"
	[ $r != seq3 ] || expect "r-seq3 rebinds to the next step" "${b##*:}" $((${a##*:} + 3))
done
"$LAB" rebind fc 2>/dev/null
expect "rebind of a router not in the lab" $? 68
finish
