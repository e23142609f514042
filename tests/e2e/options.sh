#!/bin/bash
# options.sh: the six programs' command lines follow one set of
# conventions (nat(7) OPTIONS): each usage equals its man page's SYNOPSIS;
# every option -h lists has a long form, and every long form is in the man
# page; a letter means the same thing in every program; --version says
# one version, version.h's, for all, nat-lab and the examples too; an old
# spelling still works, with a warning naming the new one; -n refuses a
# listen host that does not resolve.  No network: -h, -V and -n only.
. "$NATKIT_TOP/tests/e2e/lib.sh"
command -v mandoc >/dev/null && command -v col >/dev/null ||
    skip "needs mandoc and col (scripts/install-deps)"

M=$NATKIT_TOP/man
want=$(sed -n 's/^#define NATKIT_VERSION[[:space:]]*"\(.*\)"/\1/p' \
    "$NATKIT_TOP/src/lib/prog/version.h")
[ -n "$want" ] || fail "no NATKIT_VERSION in version.h"
: >"$T/letters"
for p in nat-probe:1 nat-connect:1 nat-query:1 nat-register:1 \
    nat-reflect:8 nat-rendezvousd:8; do
	prog=${p%:*} page=$M/$prog.${p#*:}
	[ -x "$NATKIT_BIN/$prog" ] || fail "build first: no $NATKIT_BIN/$prog"
	"$NATKIT_BIN/$prog" -h >"$T/h" 2>"$T/h.err"
	expect "$prog -h: exit, stderr" "$?/$(cat "$T/h.err")" "0/"
	usage=$(sed '/^$/,$d' "$T/h" | tr -s ' \n\t' ' ' | sed 's/^usage: //; s/ $//')
	synopsis=$(mandoc -Tascii "$page" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    tr -s ' \n\t' ' ' | sed 's/^ //; s/ $//')
	expect "$prog: usage = SYNOPSIS" "$usage" "$synopsis"
	mandoc -Tascii "$page" | col -b >"$T/man"
	# The summary: "  -x, --long arg  help" or "      --long arg  help".
	sed '1,/^$/d' "$T/h" >"$T/sum"
	nosum=$(grep -cv '^  \(-[0-9A-Za-z], \|    \)--[a-z0-9-]' "$T/sum")
	expect "$prog -h: every summary line has a long form" "$nosum" 0
	missing=
	for l in $(sed -n 's/^ *\(-., \)\{0,1\}\(--[a-z0-9-]*\).*/\2/p' "$T/sum"); do
		grep -qe "$l\b" "$T/man" || missing="$missing $l"
	done
	expect "$prog: the man page names every long option" "${missing:-none missing}" "none missing"
	# Every letter of the usage is in the summary.
	missing=
	for c in $(sed '/^$/,$d' "$T/h" | grep -o '\[-[0-9A-Za-z]*\|\[-[0-9A-Za-z] \| -[0-9A-Za-z] ' |
	    tr -d '[ -' | fold -w 1 | sort -u); do
		grep -q "^  -$c, --" "$T/sum" || missing="$missing -$c"
	done
	expect "$prog: the summary has every letter of the usage" "${missing:-none missing}" "none missing"
	sed -n "s/^  -\(.\), --\([a-z0-9-]*\).*/\1 \2 $prog/p" "$T/sum" >>"$T/letters"
	expect "$prog --version" "$("$NATKIT_BIN/$prog" --version)" "$prog $want"
	expect "$prog -V" "$("$NATKIT_BIN/$prog" -V)" "$prog $want"
	"$NATKIT_BIN/$prog" --no-such-option >/dev/null 2>"$T/e"
	expect "$prog --no-such-option: exit" "$?" 64
	grep -q '^usage: ' "$T/e" || expect "$prog --no-such-option: the usage on stderr" "$(cat "$T/e")" "usage: ..."
done

# One letter, one meaning: -w is a timeout in seconds everywhere, the
# reflector's being the one of an idle connection.
clash=$(sed 's/^w idle /w timeout /' "$T/letters" | awk '{ print $1, $2 }' |
    sort -u | awk '{ n[$1]++; s[$1] = s[$1] " --" $2 } END {
	for (c in n) if (n[c] > 1) printf "-%s:%s; ", c, s[c] }')
expect "a letter means one thing in all six" "${clash:-none}" "none"

# An old spelling works for one release, with a warning naming the new one.
while IFS='|' read -r prog args say; do
	out=$("$NATKIT_BIN/$prog" $args 2>"$T/e" </dev/null)
	expect "$prog $args: exit" "$?" 0
	expect "$prog $args: the warning" "$(cat "$T/e")" "$prog: $say"
done <<'LIST'
nat-reflect|-r 5 -n 127.0.0.1|-r is the old spelling of -M or --rate, accepted until natkit 0.2
nat-reflect|--address-connections=5 -n 127.0.0.1|--address-connections is the old spelling of -C or --per-address, accepted until natkit 0.2
nat-rendezvousd|-t 5 -n -l 127.0.0.1:0|-t is the old spelling of -w or --timeout, accepted until natkit 0.2
nat-rendezvousd|-m 100 -n -l 127.0.0.1:0|-m is the old spelling of --connections, accepted until natkit 0.2
nat-probe|-L 5 -V|-L is the old spelling of --lifetime, accepted until natkit 0.2
nat-register|-n x -V|-n is the old spelling of -N or --name, accepted until natkit 0.2
nat-connect|-k 5 -V|-k is the old spelling of --keepalive, accepted until natkit 0.2
LIST
# And in a configuration file, by its old name, naming the file's line.
printf 'address 127.0.0.1\naddress-connections 5\n' >"$T/r.conf"
"$NATKIT_BIN/nat-reflect" -n -f "$T/r.conf" 2>"$T/e"
expect "nat-reflect -f with an old name: exit" "$?" 0
expect "nat-reflect -f with an old name: the warning" "$(cat "$T/e")" \
    "nat-reflect: $T/r.conf:2: address-connections is the old spelling of per-address, accepted until natkit 0.2"

# Options that exclude each other are refused, naming the two given.
"$NATKIT_BIN/nat-connect" -s http://127.0.0.1:9 --print -L 8080 peer 2>"$T/e"
expect "nat-connect --print -L: exit, message" "$?/$(cat "$T/e")" \
    "64/nat-connect: -L and --print exclude each other"

# nat-lab and the examples take -h, --help, -V and --version alike.
for s in nat-lab examples/chat examples/forward examples/receive-file \
    examples/send-file examples/ssh-over-natkit; do
	x=$NATKIT_TOP/scripts/$s
	PATH=$NATKIT_BIN:$PATH "$x" -h >"$T/h" 2>"$T/e"
	expect "$s -h: exit, stderr" "$?/$(cat "$T/e")" "0/"
	expect "$s -h: the usage" "$(head -n 1 "$T/h" | cut -d ' ' -f 1,2)" "usage: ${s#*/}"
	PATH=$NATKIT_BIN:$PATH "$x" --help >"$T/h2" 2>&1
	expect "$s --help = -h" "$?/$(cmp "$T/h" "$T/h2" && echo same)" "0/same"
	for v in -V --version; do
		expect "$s $v" "$(PATH=$NATKIT_BIN:$PATH "$x" $v 2>&1)" "${s#*/} $want"
	done
	PATH=$NATKIT_BIN:$PATH "$x" --no-such-option >/dev/null 2>"$T/e"
	expect "$s --no-such-option: exit" "$?" 64
done

# -n refuses a listen host that does not resolve, as starting would: 78,
# naming the value and the file's line.  (.invalid never resolves.)
printf 'address 127.0.0.1\nalternate-address no-such-host.invalid\n' >"$T/r2.conf"
printf 'listen 127.0.0.1:0\nlisten no-such-host.invalid:8080\n' >"$T/d.conf"
while IFS='|' read -r prog args say; do
	"$NATKIT_BIN/$prog" $args 2>"$T/e"
	expect "$prog $args: exit" "$?" 78
	# The resolver's words after the value vary with the resolver.
	expect "$prog $args: says" "$(grep -cF "$prog: $say: " "$T/e")" 1
done <<LIST
nat-rendezvousd|-n -l no-such-host.invalid:8080|listen no-such-host.invalid:8080
nat-rendezvousd|-n -x no-such-host.invalid:9100|metrics-listen no-such-host.invalid:9100
nat-rendezvousd|-n -f $T/d.conf|$T/d.conf:2: listen no-such-host.invalid:8080
nat-reflect|-n -f $T/r2.conf|$T/r2.conf:2: address no-such-host.invalid
LIST
finish
