#!/bin/bash
# deploy.sh: what an administrator installs and runs.  `make install
# DESTDIR=` puts the programs, the systemd units (with this install's
# paths) and the example configurations in place, and keeps a
# configuration already there; the units pass systemd-analyze verify and
# its offline security check; -n on both daemons accepts a good file and
# refuses bad ones with exit 78 naming FILE:LINE; each daemon starts on
# its shipped file as shipped, in a network namespace of its own.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

RVD=$NATKIT_BIN/nat-rendezvousd
REFL=$NATKIT_BIN/nat-reflect
[ -x "$RVD" ] && [ -x "$REFL" ] || fail "build first: no $RVD or $REFL"
command -v make >/dev/null || skip "needs make"

# --- make install --------------------------------------------------------
D=$T/root
make -s -C "$NATKIT_TOP" O="$O" install DESTDIR="$D" PREFIX=/usr \
    >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }
for f in usr/sbin/nat-rendezvousd usr/sbin/nat-reflect usr/bin/nat-register \
    usr/bin/nat-query usr/bin/nat-connect usr/share/man/man8/nat-reflect.8 \
    usr/lib/systemd/system/nat-rendezvousd.service \
    usr/lib/systemd/system/nat-reflect.service \
    usr/share/natkit/nat-rendezvousd.conf usr/share/natkit/nat-reflect.conf \
    etc/natkit/nat-rendezvousd.conf etc/natkit/nat-reflect.conf; do
	[ -f "$D/$f" ] || expect "installed $f" missing present
done
expect "the unit runs the installed daemon" \
    "$(grep '^ExecStart=' "$D/usr/lib/systemd/system/nat-rendezvousd.service")" \
    "ExecStart=/usr/sbin/nat-rendezvousd -d -f /etc/natkit/nat-rendezvousd.conf"
expect "the unit checks the file first" \
    "$(grep '^ExecStartPre=' "$D/usr/lib/systemd/system/nat-reflect.service")" \
    "ExecStartPre=/usr/sbin/nat-reflect -n -f /etc/natkit/nat-reflect.conf"
expect "unit mode" "$(stat -c %a "$D/usr/lib/systemd/system/nat-reflect.service")" 644
# An administrator's file survives a second install.
echo "rate 7" >>"$D/etc/natkit/nat-reflect.conf"
make -s -C "$NATKIT_TOP" O="$O" install DESTDIR="$D" PREFIX=/usr \
    >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install again"; }
expect "a second install keeps /etc/natkit" \
    "$(tail -n 1 "$D/etc/natkit/nat-reflect.conf")" "rate 7"
expect "the example is still installed beside it" \
    "$(cmp -s "$D/usr/share/natkit/nat-reflect.conf" \
    "$NATKIT_TOP/scripts/systemd/nat-reflect.conf" && echo same)" same

# --- the example configurations are good --------------------------------
for d in nat-rendezvousd nat-reflect; do
	out=$("$D/usr/sbin/$d" -n -f "$D/etc/natkit/$d.conf" 2>&1)
	expect "$d -n on the example file" "$?:$out" "0:"
done

# --- ... and start as shipped ---------------------------------------------
# What the packaged unit runs, on the pristine copy, in an empty network
# namespace (only loopback) so that no port here is taken.
for d in nat-rendezvousd nat-reflect; do
	start_ready "start-$d" 10 unshare -n sh -c \
	    'ip link set lo up && exec "$0" -d -f "$1"' \
	    "$D/usr/sbin/$d" "$D/usr/share/natkit/$d.conf"
	expect "$d starts on the shipped file" "${READY%% *}" ready
	kill "$LAST_PID"
done

# --- the units ---------------------------------------------------------------
# Installed again under a prefix that exists here, so that verify finds
# the programs and, through MANPATH, the pages in Documentation=.
P=$T/prefix
make -s -C "$NATKIT_TOP" O="$O" install PREFIX="$P/usr" SYSCONFDIR="$P/etc" \
    >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install PREFIX"; }
if command -v systemd-analyze >/dev/null; then
	for u in nat-rendezvousd nat-reflect; do
		out=$(cd "$P/usr/lib/systemd/system" && MANPATH=$P/usr/share/man \
		    systemd-analyze verify "$u.service" 2>&1)
		expect "systemd-analyze verify $u.service" "$?:$out" "0:"
		lvl=$(cd "$P/usr/lib/systemd/system" && systemd-analyze security \
		    --offline=yes --no-pager "$u.service" 2>&1 |
		    sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p')
		expect "$u.service exposure $lvl is at most 2.0" \
		    "$(awk -v l="${lvl:-99}" 'BEGIN { print (l <= 2.0) }')" 1
	done
else
	echo "skip systemd-analyze: not installed"
fi
for u in nat-rendezvousd nat-reflect; do
	for k in DynamicUser=yes NoNewPrivileges=yes ProtectSystem=strict \
	    ProtectHome=yes PrivateTmp=yes \
	    CapabilityBoundingSet=CAP_NET_BIND_SERVICE \
	    AmbientCapabilities=CAP_NET_BIND_SERVICE \
	    SystemCallFilter=@system-service; do
		grep -qxF "$k" "$NATKIT_TOP/scripts/systemd/$u.service" ||
		    expect "$u.service has $k" missing present
	done
done

# --- -n on good and bad files ---------------------------------------------
# check NAME WANT-RC WANT-STDERR DAEMON ARGS...
check() {
	local name=$1 rc=$2 want=$3 out got
	shift 3
	out=$("$@" 2>&1 >/dev/null)
	got=$?
	expect "$name" "$got:$out" "$rc:$want"
}
printf '# a comment\nlisten 127.0.0.1:0  # trailing\n\ngrace 5\nverbose\n' \
    >"$T/rv.conf"
check "rendezvousd: a good file" 0 "" "$RVD" -n -f "$T/rv.conf"
printf 'listen 127.0.0.1:0\ngrace 5 6\n' >"$T/rv2.conf"
check "rendezvousd: two values" 78 \
    "nat-rendezvousd: $T/rv2.conf:2: grace: one value only" \
    "$RVD" -n -f "$T/rv2.conf"
printf 'grace soon\n' >"$T/rv3.conf"
check "rendezvousd: a bad number names the line" 78 \
    "nat-rendezvousd: $T/rv3.conf:1: grace soon: invalid" \
    "$RVD" -n -f "$T/rv3.conf"
printf 'check\n' >"$T/rv4.conf"
check "rendezvousd: -n is no setting" 78 \
    "nat-rendezvousd: $T/rv4.conf:1: check: unknown setting" \
    "$RVD" -n -f "$T/rv4.conf"
check "rendezvousd: no such file" 78 \
    "nat-rendezvousd: $T/none.conf: No such file or directory" \
    "$RVD" -n -f "$T/none.conf"
printf 'file %s\n' "$T/loop.conf" >"$T/loop.conf"
check "rendezvousd: a file including itself" 78 \
    "nat-rendezvousd: $T/loop.conf: files include each other more than 4 deep" \
    "$RVD" -n -f "$T/loop.conf"
check "rendezvousd: the command line after -f overrides it" 64 \
    "nat-rendezvousd: grace x: invalid" "$RVD" -n -f "$T/rv.conf" -g x

printf 'address 127.0.0.1\nalternate-address 127.0.0.2\nport 0\nrate 50\nbasic\n' \
    >"$T/rf.conf"
check "reflect: a good file" 0 "" "$REFL" -n -f "$T/rf.conf"
printf 'address 127.0.0.1\nthreads 65\n' >"$T/rf2.conf"
check "reflect: a value out of range names the line" 78 \
    "nat-reflect: $T/rf2.conf:2: threads 65: too large (at most 64)" \
    "$REFL" -n -f "$T/rf2.conf"
printf 'address\n' >"$T/rf3.conf"
check "reflect: a setting without its value" 78 \
    "nat-reflect: $T/rf3.conf:1: address: needs a value" \
    "$REFL" -n -f "$T/rf3.conf"
printf 'adress 127.0.0.1\n' >"$T/rf4.conf"
check "reflect: a misspelt setting" 78 \
    "nat-reflect: $T/rf4.conf:1: adress: unknown setting" \
    "$REFL" -n -f "$T/rf4.conf"
printf 'address 127.0.0.1\nalternate-address 127.0.0.1\n' >"$T/rf5.conf"
check "reflect: conflicting addresses" 64 \
    "nat-reflect: alternate address 127.0.0.1: the same as the address" \
    "$REFL" -n -f "$T/rf5.conf"
check "reflect: operands replace the file's addresses" 0 "" \
    "$REFL" -n -f "$T/rf5.conf" 127.0.0.1
printf 'rate 5\n' >"$T/rf6.conf"
out=$("$REFL" -n -f "$T/rf6.conf" 2>&1 >/dev/null)
expect "reflect: no address anywhere" "$?:${out%%:*}" "64:usage"

finish
