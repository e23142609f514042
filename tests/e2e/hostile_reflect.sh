#!/bin/bash
# hostile_reflect.sh: nat-reflect against a hostile Internet, in a network
# namespace of its own (made here, removed on exit) where any 127.x
# address, and any address of 2001:db8:bb::/64, is ours, so that a
# script can send what a reflection attacker forges: requests whose
# source is the victim.
#
#  1. Reflection: spoofed requests of every kind (bare, padded, 420s,
#     CHANGE-REQUEST, RESPONSE-PORT), from many ports of the victim, to
#     all four endpoints served by four threads each, between requests
#     from addresses that shared the victim's slot in the old limiter.
#     nftables counts what the server sends to the victim; it must stay
#     within the bound nat-reflect(8) states: burst + rate * t cells of
#     160 bytes (payload), burst = 2 * rate, for the victim address, and
#     for an IPv6 /64 as a whole.  Then the global budget (-R) over 16
#     victims.
#  2. TCP: a connection trickling a byte at a time is closed at its
#     deadline, not kept alive by the bytes; 1,030 connections from one
#     address, then 1,100 from 110 addresses, each sending a byte a
#     second, while an honest client from another address is answered
#     every time.
#
# Each attack is bounded in packets, connections and seconds; nothing
# leaves the namespace.  Exit 0 pass, 77 skip, else fail.
set -u
. "$(dirname "$0")/reflect_lib.bash"
hostile=$(dirname "$0")/reflect_hostile.py

[ "$(id -u)" -eq 0 ] || skip "needs root for a network namespace"
for t in ip nft python3; do
	command -v "$t" >/dev/null || skip "$t not installed"
done
NS=nrh$$
ip netns add "$NS" || fail "ip netns add $NS"
ns_cleanup() {
	reflect_cleanup
	ip netns del "$NS" 2>/dev/null
}
trap ns_cleanup EXIT
in_ns() { ip netns exec "$NS" "$@"; }
ip -n "$NS" link set lo up &&
    ip -n "$NS" -6 addr add 2001:db8:aa::1/128 dev lo nodad &&
    ip -n "$NS" -6 addr add 2001:db8:aa::2/128 dev lo nodad &&
    ip -n "$NS" -6 route add local 2001:db8:bb::/64 dev lo &&
    ip netns exec "$NS" sysctl -qw net.ipv6.ip_nonlocal_bind=1 ||
    fail "cannot set the namespace's addresses up"
NR_WRAP=(ip netns exec "$NS")
# What the server sends to the victims: packets and bytes (IP headers
# included), by nftables' output hook.
in_ns nft -f - <<'EOF' || fail "nft: cannot add the counters"
table inet hostile {
	counter v4 { }
	counter v6 { }
	counter many { }
	set ports { type inet_service; }
	chain out {
		type filter hook output priority 0; policy accept;
		ip daddr 127.0.0.1 udp sport @ports counter name v4
		ip6 daddr 2001:db8:bb::/64 udp sport @ports counter name v6
		ip daddr 127.0.1.0/24 udp sport @ports counter name many
	}
}
EOF

now() { date +%s.%N; }
# The server's resident memory, for the record (its tables have a fixed
# size: what an attack leaves behind should be nothing).
rss() { sed -n 's/^VmRSS:[[:space:]]*//p' "/proc/$NR_PID/status"; }
# counter NAME: "packets bytes" of a counter, and zeroes it.
counter() {
	in_ns nft reset counter inet hostile "$1" |
	    sed -n 's/.*packets \([0-9]*\) bytes \([0-9]*\).*/\1 \2/p'
}

# reflection NAME VICTIMS HDR RATE TOTAL EP: runs the spoofing attack at
# the endpoints in EP for 3 s and checks counter NAME against the bound
# of RATE cells a second per victim (TOTAL: in all, 0 for none).  HDR is
# the IP and UDP header bytes of a packet, not part of the payload.
reflection() {
	local name=$1 victims=$2 hdr=$3 rate=$4 total=$5 eps=$6 t0 t1 out
	local pkts bytes
	counter "$name" >/dev/null
	t0=$(now)
	out=$(in_ns timeout 30 python3 "$hostile" spoof "$victims" "$eps" 3 \
	    60000) || fail "spoof $victims: $out"
	sleep 0.5		# what the server still had queued
	read -r pkts bytes < <(counter "$name")
	t1=$(now)
	[ -n "$pkts" ] || fail "no counter $name"
	awk -v sent="${out#sent=}" -v p="$pkts" -v b="$bytes" -v h="$hdr" \
	    -v r="$rate" -v tot="$total" -v t0="$t0" -v t1="$t1" \
	    -v name="$name" -v victims="$victims" '
	BEGIN {
		split(sent, f, " "); n = f[1] + 0; t = t1 - t0
		burst = 2 * r < 10 ? 10 : 2 * r
		cells = burst + r * t		# one victim address or /64
		if (tot > 0) {			# plus a grant per thread
			cells = 2 * tot + tot * t + 32 * 17
			burst = 2 * tot
		}
		payload = b - h * p
		printf "%s: %d requests at %s in %.2f s: %d answers, %d bytes " \
		    "(%d payload, %.0f B/s); bound %.0f answers, %.0f bytes\n",
		    name, n, victims, t, p, b, payload, b / t, cells,
		    cells * 160
		if (n < 5 * cells) { print "FAIL: attack too small: " n; exit 1 }
		if (p < burst / 2) { print "FAIL: hardly answered: " p; exit 1 }
		if (p > cells || payload > cells * 160) {
			print "FAIL: over the bound"; exit 1
		}
	}' || fail "reflection at $victims"
}

ports() { in_ns nft add element inet hostile ports "{ $1, $2 }"; }

# 1. Reflection, IPv4: four threads on each of the four endpoints.
reflect_start -t 4 -p 0 --alternate-port 0 127.0.0.2 127.0.0.3
ports "$(port "$EP0")" "$(port "$EP1")"
m0=$(rss)
reflection v4 127.0.0.1 28 100 0 "$UDP"
reflect_stats
pass "v4: $STATS; memory $m0 before, $(rss) after"
[ "$(stat ratelimited)" -gt 0 ] || fail "nothing counted as ratelimited"
reflect_stop

# The same over IPv6: every address of the /64 is one victim.
reflect_start -t 4 -p 0 --alternate-port 0 2001:db8:aa::1 2001:db8:aa::2
ports "$(port "$EP0")" "$(port "$EP1")"
reflection v6 2001:db8:bb::/64 48 100 0 "$UDP"
reflect_stop
pass "v6: $STATS"

# The global budget: 16 victims, each allowed 1,000 a second, all of them
# 200 a second together.
reflect_start -t 4 -M 1000 --total-rate 200 -p 0 --alternate-port 0 127.0.0.2 127.0.0.3
ports "$(port "$EP0")" "$(port "$EP1")"
reflection many '127.0.1.1*16' 28 1000 200 "$UDP"
reflect_stats
[ "$(stat overbudget)" -gt 0 ] || fail "nothing counted as overbudget"
reflect_stop
pass "global budget: $STATS"

# 2. TCP.  A request's deadline is 2 s from the accept; bytes alone do
# not move it.  A trickle of a byte each half second would take 9.5 s to
# send 19 bytes (never a whole header).
ulimit -n 8192 || fail "ulimit -n 8192"
reflect_start -w 2 -p 0 --alternate-port 0 127.0.0.2 127.0.0.3
tp=$(port "${TCP%%,*}")
m0=$(rss)
out=$(in_ns timeout 30 python3 "$hostile" trickle 127.0.0.2 "$tp" 0.5) ||
    fail "trickle: $out"
[[ $out =~ ^sent=([0-9]+)\ closed=yes$ ]] && [ "${BASH_REMATCH[1]}" -lt 19 ] ||
    fail "a trickling connection outlived its deadline: $out"
pass "trickle: closed at its deadline after ${BASH_REMATCH[1]} bytes"

# 1,030 connections from one address: 16 held, the rest refused, and the
# honest client served all along.
out=$(in_ns timeout 60 python3 "$hostile" tcpflood 127.0.0.2 "$tp" \
    127.0.0.5 1030 8 127.0.0.6) || fail "tcpflood: $out"
[[ $out =~ ^honest=([0-9]+)/([0-9]+)\  ]] &&
    [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] &&
    [ "${BASH_REMATCH[2]}" -ge 3 ] ||
    fail "one address: the honest client was not always served: $out"
reflect_stats
[ "$(stat tcp_rejected)" -ge 1014 ] || fail "one address: $STATS"
pass "one address, 1,030 connections: $out; $STATS"

# 1,100 from 110 addresses, 10 each (under the 16 an address may hold),
# more than the 1,024 slots: the oldest give way to new ones.
out=$(in_ns timeout 60 python3 "$hostile" tcpflood 127.0.0.2 "$tp" \
    '127.1.0.1*110' 1100 8 127.0.0.6) || fail "tcpflood: $out"
[[ $out =~ ^honest=([0-9]+)/([0-9]+)\  ]] &&
    [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] &&
    [ "${BASH_REMATCH[2]}" -ge 3 ] ||
    fail "110 addresses: the honest client was not always served: $out"
reflect_stats
[ "$(stat tcp_evicted)" -ge 1 ] || fail "110 addresses: $STATS"
pass "110 addresses, 1,100 connections: $out; $STATS; memory $m0 before the TCP attacks, $(rss) after"
reflect_stop
exit 0
