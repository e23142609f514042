#!/bin/bash
# reflect_options.sh: nat-reflect's command line: the usage line equals the
# man page's SYNOPSIS, bad values exit 64 naming the value, -u drops
# privileges after binding, SIGINT ends it with status 0.  Loopback only.
# Exit 0 pass, 77 skip, else fail.
set -u
. "$(dirname "$0")/reflect_lib.bash"
top=${NATKIT_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}

[ -x "$bin/nat-reflect" ] || fail "no $bin/nat-reflect (run make)"
if command -v mandoc >/dev/null && command -v col >/dev/null; then
	usage=$("$bin/nat-reflect" -h | sed '/^$/,$d' | tr -s ' \n\t' ' ' | sed 's/^usage: //; s/ $//')
	synopsis=$(mandoc -Tascii "$top/man/nat-reflect.8" | col -b |
	    sed -n '/^SYNOPSIS/,/^DESCRIPTION/p' | sed '1d;$d' |
	    tr -s ' \n\t' ' ' | sed 's/^ //; s/ $//')
	[ "$usage" = "$synopsis" ] ||
	    fail "usage and SYNOPSIS differ:
  usage:    $usage
  synopsis: $synopsis"
	mandoc -Tlint -W warning "$top/man/nat-reflect.8" ||
	    fail "mandoc -Tlint complains"
	pass "usage line = SYNOPSIS, man page lint clean"
fi
v=$("$bin/nat-reflect" -V) && [[ $v =~ ^nat-reflect\ [0-9] ]] ||
    fail "-V printed '$v'"

# Each bad command line: exit 64, and the message names the bad value.
while IFS='|' read -r args word; do
	msg=$("$bin/nat-reflect" $args 2>&1 >/dev/null)
	rc=$?
	[ "$rc" -eq 64 ] || fail "nat-reflect $args exited $rc, not 64"
	grep -qF -- "$word" <<<"$msg" || fail "nat-reflect $args said '$msg', not naming '$word'"
done <<'LIST'
-p 65536 127.0.0.1|65536
--alternate-port -1 127.0.0.1 127.0.0.2|-1
-p 3x 127.0.0.1|3x
-t 0 127.0.0.1|0
-t 65 127.0.0.1|65
--connections 0 127.0.0.1|connections 0
--padding-max 1501 127.0.0.1|1501
-w 0 127.0.0.1|idle timeout 0
-M -5 127.0.0.1|-5
--total-rate x 127.0.0.1|total rate x
--total-rate 100000001 127.0.0.1|100000001
-C 0 127.0.0.1|connections per address 0
-u no-such-user-xyz 127.0.0.1|no-such-user-xyz
--alternate-port 4000 127.0.0.1|4000
-p 5000 --alternate-port 5000 127.0.0.1 127.0.0.2|5000
127.0.0.1 ::1|::1
127.0.0.1 127.0.0.1|127.0.0.1
-n 0.0.0.0 127.0.0.2|wildcard
-n ::1 ::|wildcard
300.1.2.3|300.1.2.3
127.0.0.1 127.0.0.2 127.0.0.3|usage
|usage
-Z 127.0.0.1|Z
LIST
pass "bad options exit 64 naming the value"

# Binding a port that is not ours to bind: 71.
"$bin/nat-reflect" -d -p 0 192.0.2.1 >/dev/null 2>&1
[ $? -eq 71 ] || fail "binding 192.0.2.1 did not exit 71"
pass "a failed bind exits 71"

if id nobody >/dev/null 2>&1 && command -v turnutils_stunclient >/dev/null; then
	reflect_start -u nobody -p 0 127.0.0.1
	uid=$(awk '/^Uid:/ { print $2 }' "/proc/$NR_PID/status")
	[ "$uid" = "$(id -u nobody)" ] || fail "-u nobody: uid is $uid"
	out=$(timeout 20 turnutils_stunclient -p "$(port "$EP0")" 127.0.0.1 2>&1)
	grep -q "UDP reflexive addr: 127.0.0.1:" <<<"$out" ||
	    fail "not answering as nobody: $out"
	pass "-u nobody: bound, then running as nobody"
	kill -INT "$NR_PID"
	reflect_expect '^nat-reflect: stats ' 5 || fail "no stats at exit"
	wait "$NR_PID"
	rc=$?
	NR_PID=
	[ "$rc" -eq 0 ] || fail "exit $rc on SIGINT"
	pass "SIGINT: stats logged, exit 0"
fi
exit 0
