# lib.sh: helpers for natkit's end-to-end tests, sourced by tests/e2e/*.sh.
#
# A test calls lab_up to get its own NAT lab (a prefix no other lab uses),
# starts daemons with start_ready, checks with expect, and leaves; the EXIT
# trap kills what it started, by PID, and takes the lab down.
set -u
export LC_ALL=C
: "${NATKIT_BIN:?run me through tests/run}" "${NATKIT_TOP:?run me through tests/run}"
LAB=$NATKIT_TOP/scripts/nat-lab
T=$(mktemp -d /tmp/natkit-e2e.XXXXXX)
PIDS=""
LAB_IS_UP=0
FAILS=0

# ours PID: the process is still one this test started (its parent is
# this shell, or another process it started), not an exited one's number
# the kernel gave to someone else.
ours() {
	local pp
	pp=$(ps -o ppid= -p "$1" 2>/dev/null | tr -d ' ')
	[ -n "$pp" ] || return 1
	[ "$pp" = $$ ] && return 0
	case " $PIDS " in *" $pp "*) return 0 ;; esac
	return 1
}

cleanup() {
	local p live=""
	for p in $PIDS; do ours "$p" && live="$live $p"; done
	PIDS=$live
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do
		# Bounded wait, then the hard way; only our own PIDs.
		for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$p" 2>/dev/null
	done
	[ "$LAB_IS_UP" = 1 ] && "$LAB" down >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

skip() { echo "$*"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }

# expect WHAT GOT WANT: compares and counts; the test ends with finish.
expect() {
	if [ "$2" = "$3" ]; then
		echo "ok   $1: $2"
	else
		echo "FAIL $1: got '$2', want '$3'"
		FAILS=$((FAILS + 1))
	fi
}

finish() {
	[ "$FAILS" -eq 0 ] || fail "$FAILS check(s) failed"
	echo "all checks passed"
	exit 0
}

# field KEY < record line: prints the value of KEY in a key=value record.
field() { tr ' ' '\n' | sed -n "s/^$1=//p" | head -n 1; }

lab_up() {
	[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces"
	export NATLAB_PREFIX="e$$-"
	export NATLAB_DIR="$T/lab"
	LAB_IS_UP=1
	"$LAB" up "$@" >"$T/lab-up.log" 2>&1 || { cat "$T/lab-up.log"; fail "nat-lab up"; }
}

# start_ready NAME SECONDS CMD...: starts CMD in the background with its
# stdout in $T/NAME.out, waits up to SECONDS for its first line, and puts
# that line in READY and the PID in LAST_PID.
start_ready() {
	local name=$1 secs=$2 i
	shift 2
	"$@" >"$T/$name.out" 2>"$T/$name.err" &
	LAST_PID=$!
	PIDS="$PIDS $LAST_PID"
	for ((i = 0; i < secs * 20; i++)); do
		READY=$(head -n 1 "$T/$name.out" 2>/dev/null)
		[ -n "$READY" ] && return 0
		kill -0 "$LAST_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$T/$name.err"
	fail "$name did not get ready within $secs s"
}

# probe_hosts SERVER HOST...: nat-probe against SERVER on every HOST at
# once; each profile in $T/prof/HOST.  Fails when a host got none.
probe_hosts() {
	local srv=$1 h probes=""
	shift
	mkdir -p "$T/prof"
	for h in "$@"; do
		"$LAB" exec "$h" -- "$NATKIT_BIN/nat-probe" -s "$srv" \
		    >"$T/prof/$h" 2>"$T/prof/$h.err" &
		probes="$probes $!"
	done
	PIDS="$PIDS $probes"
	wait $probes
	for h in "$@"; do
		grep -q '^type=profile ' "$T/prof/$h" ||
		    fail "no profile for $h: $(cat "$T/prof/$h.err")"
	done
}

# register_host HOST NAME HOME CMD: nat-register on HOST with its profile
# from $T/prof/HOST and its key in $T/home/HOME, to $URL as NAME, running
# CMD for each request; the registered record in READY, the PID in
# LAST_PID.
register_host() {
	mkdir -p -m 700 "$T/home/$3"
	start_ready "reg-$3" 10 "$LAB" exec "$1" -- env NATKIT_HOME="$T/home/$3" \
	    sh -c 'f=$1; shift; exec "$@" <"$f"' sh "$T/prof/$1" \
	    "$NATKIT_BIN/nat-register" -v -s "$URL" -N "$2" -e "$4"
	case $READY in
	type=registered\ *) ;;
	*) cat "$T/reg-$3.err"; fail "$3 did not register: $READY" ;;
	esac
}

# rec TYPE FILE: the first record of TYPE in FILE.
rec() { grep "^type=$1 " "$2" | head -n 1; }
# unescape: a record's %XX-escaped value as the bytes it stands for.
unescape() { printf '%b' "$(sed 's/%\([0-9A-Fa-f][0-9A-Fa-f]\)/\\x\1/g')"; }
