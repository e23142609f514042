#!/bin/bash
# reflect_badpackets.sh: truncated, mis-sized, wrongly fingerprinted,
# garbage, oversized and non-request packets, over UDP and TCP, at a
# running nat-reflect.  After each kind a good request must still be
# answered, nothing may answer the bad ones, and the counters must show
# exactly the drops.  Then the per-source rate limit and the connection
# limits.  Loopback only; every loop is bounded.  Exit 0 pass, 77 skip.
set -u
. "$(dirname "$0")/reflect_lib.bash"
sender=$(dirname "$0")/reflect_sender.py

command -v python3 >/dev/null || skip "python3 not installed"
python3 -c 'import random; random.Random(1).randbytes(1)' 2>/dev/null ||
    skip "python3 is older than 3.9"

reflect_start -M 0 -w 2 -p 0 --alternate-port 0 127.0.0.1 127.0.0.2
p=$(port "$EP0")
tp=$(port "${TCP%%,*}")
out=$(timeout 60 python3 "$sender" bad 127.0.0.1 "$p" "$tp") ||
    fail "sender: $out"
echo "$out" | grep -v '^expect '
want=$(echo "$out" | sed -n 's/^expect //p')
[ -n "$want" ] || fail "sender printed no expectation: $out"
reflect_stats
for kv in $want ratelimited=0 sendfail=0 tcp_rejected=0 overbudget=0 \
    tcp_evicted=0; do
	k=${kv%%=*} v=${kv#*=}
	[ "$(stat "$k")" = "$v" ] || fail "counter $k is $(stat "$k"), not $v: $STATS"
done
pass "$STATS"
# Still answering after all that, and a clean exit.
out=$(timeout 20 turnutils_stunclient -p "$p" 127.0.0.1 2>&1) ||
    fail "turnutils_stunclient after the bad packets: $out"
reflect_stop
pass "answering after the bad packets; exit 0 on SIGTERM"

# Rate limit: 5 a second with a burst of 10, so of 60 requests sent back
# to back from one address about 10 are answered; the rest are counted.
reflect_start -M 5 -C 1 --connections 1 -p 0 127.0.0.1
p=$(port "$EP0")
out=$(timeout 20 python3 "$sender" flood 127.0.0.1 "$p" 60) ||
    fail "flood: $out"
n=${out#answered=}
[ "$n" -ge 10 ] && [ "$n" -le 15 ] || fail "rate limit: $n of 60 answered"
reflect_stats
[ "$(stat ratelimited)" -eq $((60 - n)) ] &&
    [ "$(stat answered)" -eq "$n" ] || fail "rate limit counters: $STATS"
pass "rate limit: $n of 60 answered, $((60 - n)) counted as ratelimited"

# One connection per address: a second one from it is closed at once.
# One in all: a connection from another address takes the place of the
# one that has waited longest for its next request.
out=$(timeout 20 python3 "$sender" limit 127.0.0.1 "$p") || fail "$out"
echo "$out"
reflect_stats
[ "$(stat tcp_rejected)" -eq 1 ] && [ "$(stat tcp_evicted)" -eq 1 ] &&
    [ "$(stat tcp_accepted)" -eq 2 ] || fail "tcp counters: $STATS"
reflect_stop
pass "$STATS"
exit 0
