#!/bin/bash
# nat-probe classifies every NAT of the lab, against nat-reflect and against
# coturn, as coturn's turnutils_natdiscovery does; the same under 10% loss
# and under 20 ms delay each way; UDP blocked is exit 1.
. "$NATKIT_TOP/tests/e2e/lib.sh"

lab_up
PROBE=$NATKIT_BIN/nat-probe
COTURN=198.51.100.10
REFLECT=198.51.100.12:3480
start_ready reflect 10 "$LAB" exec srv -- "$NATKIT_BIN/nat-reflect" -d \
    -p 3480 --alternate-port 3481 198.51.100.12 198.51.100.13

EI=endpoint-independent AD=address-dependent APD=address-and-port-dependent
# host      mapping filtering nat                   hairpin exit portmap
MATRIX="
h-open      $EI     $EI       open                  yes     0    -
h-fc        $EI     $EI       full-cone             yes     0    -
h-rc        $EI     $AD       restricted-cone       no      0    -
h-prc       $EI     $APD      port-restricted-cone  no      0    -
h-sym       $APD    $APD      symmetric             no      0    -
h-adm       $AD     $APD      symmetric             no      0    -
h-upnp      $EI     $APD      port-restricted-cone  no      0    upnp,natpmp,pcp
h-prc-b     $EI     $APD      port-restricted-cone  no      0    -
h-blk       -       -         udp-blocked           -       1    -
"

# check LABEL HOST SERVER MAPPING FILTERING NAT HAIRPIN EXIT PORTMAP
check() {
	local label=$1 host=$2 srv=$3 out rc
	out=$("$LAB" exec "$host" -- "$PROBE" -s "$srv")
	rc=$?
	expect "$label $host $srv exit" "$rc" "$8"
	expect "$label $host $srv mapping" "$(field mapping <<<"$out")" "$4"
	expect "$label $host $srv filtering" "$(field filtering <<<"$out")" "$5"
	expect "$label $host $srv nat" "$(field nat <<<"$out")" "$6"
	expect "$label $host $srv hairpin" "$(field hairpin <<<"$out")" "$7"
	expect "$label $host $srv portmap" "$(field portmap <<<"$out")" "$9"
	if [ "$9" != - ]; then
		# The gateway's external address is the router's, as STUN saw.
		expect "$label $host $srv upnp" "$(field upnp <<<"$out")" \
		    "$(field public <<<"$out" | cut -d: -f1)"
		expect "$label $host $srv double-nat" "$(field double-nat <<<"$out")" no
		expect "$label $host $srv cgnat" "$(field cgnat <<<"$out")" no
		expect "$label $host $srv double-nat-evidence" \
		    "$(field double-nat-evidence <<<"$out")" same
	fi
	if [ "$6" != udp-blocked ]; then
		expect "$label $host $srv public is the router's" \
		    "$(field public <<<"$out" | cut -d: -f1)" \
		    "$("$LAB" ls | grep "host=$host " | field wan)"
	fi
}

# What natdiscovery said in FILE, in nat-probe's terms ("" for no verdict).
verdict() { # FILE KIND(Mapping|Filtering)
	sed -n "s/^NAT with \(.*\) $2!$/\1/p" "$1" | head -n 1 |
	    sed -e 's/^Endpoint Independent$/endpoint-independent/' \
		-e 's/^Address Dependent$/address-dependent/' \
		-e 's/^Address and Port Dependent$/address-and-port-dependent/'
}

# Every host at once (each probe is paced on its own); IMP is "" or an
# impairment ("loss 10", "delay 20") set on the host's router first.
run_matrix() { # IMP
	local imp=$1 host map filt nat hp rc router nd jobs=""
	while read -r host map filt nat hp rc pm; do
		[ -n "$host" ] || continue
		[ -z "$imp" ] || [ "$host" != h-prc-b ] || continue
		(
			if [ -n "$imp" ]; then
				router=$("$LAB" ls | grep "host=$host " | field router)
				"$LAB" ${imp% *} "$router" "${imp#* }" ||
				    echo "FAIL nat-lab $imp $router"
			fi
			label=${imp:-plain}
			label=${label% *}
			check "$label" "$host" $COTURN "$map" "$filt" "$nat" "$hp" "$rc" "$pm"
			check "$label" "$host" $REFLECT "$map" "$filt" "$nat" "$hp" "$rc" "$pm"
			if [ -z "$imp" ]; then
				# Where natdiscovery reaches a verdict, both agree.
				nd=$T/natdiscovery.$host
				"$LAB" exec "$host" -- timeout 30 \
				    turnutils_natdiscovery -m -f $COTURN >"$nd" 2>&1
				m=$(verdict "$nd" Mapping)
				f=$(verdict "$nd" Filtering)
				[ -z "$m" ] || expect "natdiscovery $host mapping" "$m" "$map"
				[ -z "$f" ] || expect "natdiscovery $host filtering" "$f" "$filt"
				[ "$nat" != udp-blocked ] ||
				    expect "natdiscovery $host: no verdict" "$m$f" ""
			fi
			[ -z "$imp" ] || "$LAB" ${imp% *} "$router" 0 ||
			    echo "FAIL nat-lab ${imp% *} $router 0"
		) >"$T/matrix.$host" 2>&1 &
		jobs="$jobs $!"
	done <<<"$MATRIX"
	wait $jobs
	cat "$T"/matrix.*
	FAILS=$((FAILS + $(cat "$T"/matrix.* | grep -c '^FAIL')))
	rm -f "$T"/matrix.*
}

run_matrix ""
run_matrix "loss 10"
run_matrix "delay 20"

# UDP blocked with -T: TCP still tells the public address.
out=$("$LAB" exec h-blk -- "$PROBE" -T -s $COTURN)
expect "h-blk -T exit" "$?" 1
expect "h-blk -T tcp-public" "$(field tcp-public <<<"$out" | cut -d: -f1)" 203.0.113.16

# NAT444: h-cgn's home router states its WAN address 100.64.0.2 over
# NAT-PMP; behind r-cgn's port block the public port is 40960-41471.
for srv in $COTURN $REFLECT; do
	out=$("$LAB" exec h-cgn -- "$PROBE" -v -s $srv 2>"$T/cgn.err")
	expect "h-cgn $srv exit" $? 0
	expect "h-cgn $srv nat" "$(field nat <<<"$out")" symmetric
	expect "h-cgn $srv public" "$(field public <<<"$out" |
	    awk -F: '$1 == "203.0.113.25" && $2 >= 40960 && $2 <= 41471 { print "in the block" }')" \
	    "in the block"
	expect "h-cgn $srv portmap" "$(field portmap <<<"$out")" natpmp
	expect "h-cgn $srv natpmp" "$(field natpmp <<<"$out")" 100.64.0.2
	expect "h-cgn $srv double-nat" "$(field double-nat <<<"$out")" yes
	expect "h-cgn $srv cgnat" "$(field cgnat <<<"$out")" yes
	expect "h-cgn $srv double-nat-evidence" \
	    "$(field double-nat-evidence <<<"$out")" shared
	expect "h-cgn $srv says why" "$(grep -c "carrier-grade NAT: NAT-PMP says the gateway's external address is 100.64.0.2, in 100.64.0.0/10" "$T/cgn.err")" 1
done
out=$("$LAB" exec h-cgn -- "$PROBE" -j -s $COTURN)
expect "h-cgn JSON cgnat" "$(grep -o '"cgnat":"yes"' <<<"$out")" '"cgnat":"yes"'
# Without the gateways (-G) nothing tells: the host's own address is
# private, not in 100.64.0.0/10.
out=$("$LAB" exec h-cgn -- "$PROBE" -G -s $COTURN)
expect "h-cgn -G cgnat" "$(field cgnat <<<"$out")" -
expect "h-cgn -G double-nat-evidence" "$(field double-nat-evidence <<<"$out")" -

# The allocation step over all of the probe's flows: r-seq and r-seq3
# give every new flow the next port of one counter (nat-lab(1)), so the
# tests' own other sockets take the ports between the ones they compare;
# r-sym allocates at random.
for hd in h-seq:1 h-seq3:3 h-sym:random; do
	for srv in $COTURN $REFLECT; do
		out=$("$LAB" exec ${hd%:*} -- "$PROBE" -s $srv)
		expect "${hd%:*} $srv exit" $? 0
		expect "${hd%:*} $srv nat" "$(field nat <<<"$out")" symmetric
		expect "${hd%:*} $srv delta" "$(field delta <<<"$out")" ${hd#*:}
	done
done

# A NAT that gives one port the same public port for both servers by
# chance (h-adm picks from 1,024 ports: about once in a thousand probes)
# is not endpoint-independent.  Here r-adm gives the first two new flows
# one port and every later flow a port of its own, so the probe's first
# port collides; its second port (the hairpin test's) tells.  Last: this
# leaves r-adm changed.
"$LAB" flush r-adm || fail "nat-lab flush r-adm"
"$LAB" exec r-adm -- nft flush chain ip natlab postrouting &&
    "$LAB" exec r-adm -- nft add rule ip natlab postrouting \
    oifname '"wan0"' meta l4proto udp snat to 203.0.113.15 : numgen inc \
    mod 8 map '{ 0 : 50000, 1 : 50000, 2 : 50001, 3 : 50002, 4 : 50003,' \
    '5 : 50004, 6 : 50005, 7 : 50006 }' ||
    fail "r-adm: cannot set the colliding NAT"
out=$("$LAB" exec h-adm -- "$PROBE" -v -s $REFLECT 2>"$T/collide.err")
expect "collision exit" "$?" 0
expect "collision mapping" "$(field mapping <<<"$out")" "$APD"
expect "collision nat" "$(field nat <<<"$out")" symmetric
expect "collision seen" "$(grep -c 'a chance collision' "$T/collide.err")" 1
finish
