#!/bin/bash
# The relay through nat-rendezvousd: the pairs without a direct path (both
# sides map per destination, or one blocks UDP) get a relayed path from
# tech-tool with a real server on the lab's public side, and carry a
# message both ways; a pair with a direct path still takes it; a relay the
# peer never asked for is refused; a relayed pair upgrades to the direct
# path when one appears; the server's byte limit ends a relay with
# relay-limit; /metrics counts the relayed bytes.
. "$NATKIT_TOP/tests/e2e/lib.sh"

TOOL=$NATKIT_BIN/../tests/e2e/tech-tool
SRV=198.51.100.10
STUN=$SRV
URL=http://$SRV:80
LIMIT=200000
[ -x "$TOOL" ] || fail "$TOOL not built (make)"
lab_up

start_ready rvd 10 "$LAB" exec srv -- "$NATKIT_BIN/nat-rendezvousd" -d \
    -l $SRV:80 -R $LIMIT
expect "server ready line" "$READY" "ready http=$SRV:80 ws=/v1/ws"

HOSTS="h-open h-fc h-rc h-prc h-sym h-adm h-upnp h-blk h-sym2 h-prc2"
mkdir -p "$T/pairs"
probe_hosts $STUN $HOSTS

# run_pair N A B [A-ARGS [B-ARGS]]: both sides at once, both with the
# server; results in $T/pairs/N.
run_pair() {
	local n=$1 a=$2 b=$3 d=$T/pairs/$1
	mkdir -p "$d"
	"$LAB" flush all >/dev/null 2>&1
	"$LAB" exec "$a" -- "$TOOL" -s $STUN -P "$T/prof/$a" -o "$d/a.side" \
	    -i "$d/b.side" -I -n "$a" -w 30 -r $URL ${4:-} >"$d/a.out" 2>"$d/a.err" &
	local pa=$!
	"$LAB" exec "$b" -- "$TOOL" -s $STUN -P "$T/prof/$b" -o "$d/b.side" \
	    -i "$d/a.side" -n "$b" -w 30 -r $URL ${5:-} >"$d/b.out" 2>"$d/b.err" &
	local pb=$!
	PIDS="$PIDS $pa $pb"
	wait $pa; echo $? >"$d/a.rc"
	wait $pb; echo $? >"$d/b.rc"
}

dump() {
	sed 's/^/    a| /' "$1/a.out" "$1/a.err" | unescape
	sed 's/^/    b| /' "$1/b.out" "$1/b.err" | unescape
}

# The pairs without a direct path.
RELAY="h-sym:h-sym2 h-sym:h-adm h-open:h-blk h-fc:h-blk h-rc:h-blk h-prc:h-blk h-sym:h-blk h-adm:h-blk h-blk:h-upnp"
n=0
t0=$SECONDS
: >"$T/table"
for p in $RELAY; do
	a=${p%%:*} b=${p#*:}
	n=$((n + 1))
	d=$T/pairs/$n
	run_pair $n "$a" "$b"
	ra=$(cat "$d/a.rc") rb=$(cat "$d/b.rc")
	expect "$a-$b exit" "$ra/$rb" 0/0
	pa=$(grep '^type=path ' "$d/a.out") pb=$(grep '^type=path ' "$d/b.out")
	expect "$a-$b relayed both sides" \
	    "$(field technique <<<"$pa")/$(field proto <<<"$pa") $(field technique <<<"$pb")/$(field proto <<<"$pb")" \
	    "relay/relay relay/relay"
	expect "$a-$b each names the other's session" \
	    "$(field remote <<<"$pa") $(field remote <<<"$pb")" \
	    "$(field local <<<"$pb") $(field local <<<"$pa")"
	expect "$a-$b message to $a" "$(grep '^type=message ' "$d/a.out" | field text)" "hello-from-$b"
	expect "$a-$b message to $b" "$(grep '^type=message ' "$d/b.out" | field text)" "hello-from-$a"
	printf '%-14s %-6s path %5s ms  first byte %5s ms\n' "$a-$b" \
	    "$(field technique <<<"$pa")" "$(field ms <<<"$pa")" \
	    "$(grep '^type=message ' "$d/a.out" | field ms)" >>"$T/table"
	[ "$ra/$rb" = 0/0 ] || dump "$d"
done
cat "$T/table"
echo "$n relayed pairs in $((SECONDS - t0)) s"

# A pair with a direct path keeps it: the relay is the last resort.
n=$((n + 1))
d=$T/pairs/$n
run_pair $n h-prc h-prc2
expect "h-prc-h-prc2 with a server: exit" "$(cat "$d/a.rc")/$(cat "$d/b.rc")" 0/0
tech=$(grep '^type=path ' "$d/a.out" | field technique)
case $tech in
relay | "") expect "h-prc-h-prc2 with a server: technique" "${tech:-none}" "direct (not relay)"; dump "$d" ;;
*) echo "ok   h-prc-h-prc2 with a server: technique $tech" ;;
esac
expect "h-prc-h-prc2: the relay stopped" \
    "$(grep '^type=attempt technique=relay ' "$d/a.out" | field outcome)" stopped

# Keep trying direct: with the candidates hidden from the first run the
# relay wins, then connect_upgrade finds the direct path and the second
# message goes over it.
n=$((n + 1))
d=$T/pairs/$n
run_pair $n h-prc h-prc2 -U -U
expect "upgrade: exit" "$(cat "$d/a.rc")/$(cat "$d/b.rc")" 0/0
techs() { sed -n 's/^type=path technique=\([^ ]*\) .*/\1/p' "$1" | tr '\n' ' '; }
pa=$(techs "$d/a.out") pb=$(techs "$d/b.out")
expect "upgrade: relay, then direct, both sides" "$pa/$pb" "relay punch /relay punch "
expect "upgrade: message over the relay" "$(grep '^type=message ' "$d/b.out" | head -n 1 | field text)" hello-from-h-prc
expect "upgrade: message over the direct path" \
    "$(grep '^type=message ' "$d/a.out" | tail -n 1 | field text)/$(grep '^type=message ' "$d/b.out" | tail -n 1 | field text)" \
    upgraded-from-h-prc2/upgraded-from-h-prc
echo "     upgrade: direct path $(grep '^type=path ' "$d/a.out" | tail -n 1 | field ms) ms into the second run"
[ "$(cat "$d/a.rc")/$(cat "$d/b.rc")" = 0/0 ] || dump "$d"

# A relay to a session that never asks for one is refused by the server.
n=$((n + 1))
d=$T/pairs/$n
run_pair $n h-sym h-sym2 "" "-N -H 13"
expect "unasked relay: exit" "$(cat "$d/a.rc")/$(cat "$d/b.rc")" 1/1
att=$(grep '^type=attempt technique=relay ' "$d/a.out")
expect "unasked relay: outcome" "$(field outcome <<<"$att")" failed
case $(field why <<<"$att" | unescape) in
*relay-refused*) echo "ok   unasked relay: $(field why <<<"$att" | unescape)" ;;
*) expect "unasked relay: why" "$(field why <<<"$att" | unescape)" "...relay-refused..."; dump "$d" ;;
esac

# The byte limit: both sides send more than the server's -R allows.
n=$((n + 1))
d=$T/pairs/$n
run_pair $n h-sym h-adm "-B 300000" "-B 300000"
expect "byte limit: exit" "$(cat "$d/a.rc")/$(cat "$d/b.rc")" 1/1
expect "byte limit: relayed" "$(grep '^type=path ' "$d/a.out" | field technique)" relay
expect "byte limit: the server's error" \
    "$(grep '^type=rverror ' "$d/a.out" | field code)/$(grep '^type=rverror ' "$d/b.out" | field code)" \
    relay-limit/relay-limit
expect "byte limit: the relay ended" "$(grep '^type=bulk ' "$d/a.out" | field state)" ended
got=$(grep '^type=bulk ' "$d/b.out" | field received)
echo "     the relay carried ${got:-?} of 300000 bytes from h-sym before the limit of $LIMIT (both ways)"
[ "${got:-0}" -gt 0 ] && [ "${got:-0}" -le $LIMIT ] ||
    expect "byte limit: bytes carried" "${got:-none}" "1..$LIMIT"

# The server counted it all.
M=$("$LAB" exec h-open -- curl -sf "$URL/metrics")
rb=$(sed -n 's/^natkit_relay_bytes_total //p' <<<"$M")
rt=$(sed -n 's/^natkit_relays_total //p' <<<"$M")
rl=$(sed -n 's/^natkit_relays_limited_total //p' <<<"$M")
echo "     metrics: relay_bytes_total=$rb relays_total=$rt relays_limited_total=$rl"
[ "${rb:-0}" -gt 100000 ] || expect "relayed bytes counted" "${rb:-none}" "> 100000"
expect "relays paired" "$rt" "$(($(echo $RELAY | wc -w) + 3))"
expect "relays limited" "$rl" 1
expect "relays open after all left" "$(sed -n 's/^natkit_relays //p' <<<"$M")" 0
finish
