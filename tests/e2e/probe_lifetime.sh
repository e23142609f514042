#!/bin/bash
# nat-probe --lifetime measures how long an idle mapping lives (RFC 5780 §4.6) with
# RESPONSE-PORT, against nat-reflect and coturn at once: the lab's routers
# forget a once-used UDP mapping after conntrack's 30 s, so the longest
# wait it survives of 10, 20 and 40 s is 20 s.
. "$NATKIT_TOP/tests/e2e/lib.sh"

lab_up prc
start_ready reflect 10 "$LAB" exec srv -- "$NATKIT_BIN/nat-reflect" -d \
    -p 3480 --alternate-port 3481 198.51.100.12 198.51.100.13
"$LAB" exec h-prc -- "$NATKIT_BIN/nat-probe" -G --lifetime 40 -s 198.51.100.12:3480 \
    >"$T/reflect" &
a=$!
"$LAB" exec h-prc -- "$NATKIT_BIN/nat-probe" -G --lifetime 40 -s 198.51.100.10 \
    >"$T/coturn" &
b=$!
wait $a; expect "nat-reflect exit" $? 0
wait $b; expect "coturn exit" $? 0
expect "lifetime against nat-reflect" "$(field lifetime <"$T/reflect")" 20
expect "lifetime against coturn" "$(field lifetime <"$T/coturn")" 20
finish
