# reflect_lib.bash: shared by the reflect_*.sh tests (sourced, not run).
# Starts nat-reflect as a coprocess, waits for its ready line under a
# deadline, reads its log lines, stops it by the PID it started.

bin=${NATKIT_BIN:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bin}
tmp=$(mktemp -d /tmp/reflect-test.XXXXXX)
NR_PID=
log=$tmp/nat-reflect.log

reflect_cleanup() {
	# bash unsets NR_PID when the coprocess ends: a copy.
	local i pid=${NR_PID:-}
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		# Bounded: a server that ignores SIGTERM is killed after 5 s.
		for i in $(seq 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap reflect_cleanup EXIT

skip() { echo "$*"; exit 77; }
fail() {
	echo "FAIL: $*"
	[ -s "$log" ] && sed 's/^/  nat-reflect| /' "$log" | tail -n 15
	exit 1
}
pass() { echo "ok: $*"; }

# Reads the server's lines until one matches the extended regex $1, within
# $2 seconds (default 5); the line is left in $line.
reflect_expect() {
	local pat=$1 deadline=$(( $(date +%s) + ${2:-5} )) left
	while :; do
		left=$(( deadline - $(date +%s) ))
		[ "$left" -gt 0 ] || return 1
		IFS= read -r -t "$left" -u "${NR[0]}" line || return 1
		printf '%s\n' "$line" >>"$log"
		[[ $line =~ $pat ]] && return 0
	done
}

# Starts nat-reflect with the given arguments (-d added) and sets READY,
# UDP and TCP (the lists) and EP0..EP3 (the UDP endpoints).  NR_WRAP, an
# array, is a command to run it through (ip netns exec NAME).
NR_WRAP=()
reflect_start() {
	[ -x "$bin/nat-reflect" ] || fail "no $bin/nat-reflect (run make)"
	coproc NR { exec ${NR_WRAP[@]+"${NR_WRAP[@]}"} "$bin/nat-reflect" \
	    -d "$@" 2>&1; }
	NR_PID=$!
	reflect_expect '^ready ' 5 || fail "no ready line within 5 s"
	READY=$line
	UDP=${READY#ready udp=}; UDP=${UDP%% *}
	TCP=${READY##* tcp=}
	IFS=, read -r EP0 EP1 EP2 EP3 <<<"$UDP"
}

# Asks for the counters with SIGUSR1 and sets STATS to the line.
reflect_stats() {
	kill -USR1 "$NR_PID" || fail "nat-reflect is gone"
	reflect_expect '^nat-reflect: stats ' 5 || fail "no stats line"
	STATS=${line#nat-reflect: }
}

# The value of counter $1 in $STATS.
stat() {
	local v=${STATS#* $1=}
	echo "${v%% *}"
}

# Stops the server with SIGTERM; it must exit 0 after a stats line.
reflect_stop() {
	local rc
	kill -TERM "$NR_PID"
	reflect_expect '^nat-reflect: stats ' 5 || fail "no stats at exit"
	STATS=${line#nat-reflect: }
	wait "$NR_PID"
	rc=$?
	NR_PID=
	[ "$rc" -eq 0 ] || fail "nat-reflect exited $rc on SIGTERM"
}

host() { echo "${1%:*}"; }
port() { echo "${1##*:}"; }
