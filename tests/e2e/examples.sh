#!/bin/bash
# The scripts in scripts/examples, each run for real on the NAT lab, with
# nat-rendezvousd on the public server and coturn there for nat-probe:
# chat (alice waits behind a full cone, bob calls from behind a router
# that blocks UDP: lines both ways); send-file to receive-file (5 MiB and
# its SHA-256, then the same name refused); ssh-over-natkit (Debian's
# sshd on dave's loopback, a command run there through ssh's
# ProxyCommand, and the end of the stream reaching sshd); forward (an
# HTTP request and a 300 kB response through nat-connect -L and nc -N).
# The servers come from -s on one side and NATKIT_SERVERS on the other.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
EX=$NATKIT_TOP/scripts/examples
SRV=198.51.100.10
URL=http://$SRV:80
t0=$SECONDS
for c in nc ssh ssh-keygen python3 /usr/sbin/sshd; do
	command -v "$c" >/dev/null || skip "$c is not installed (scripts/install-deps)"
done

# Every script: -h prints its usage, a bad option is a usage error.
for s in chat send-file receive-file ssh-over-natkit forward; do
	out=$("$EX/$s" -h)
	expect "$s -h: exit" "$?" 0
	expect "$s -h: the usage" "$(head -n 1 <<<"$out" | cut -d ' ' -f 1,2)" "usage: $s"
	"$EX/$s" -x >/dev/null 2>"$T/usage.err"
	expect "$s -x: exit" "$?" 64
	expect "$s -x: the usage on stderr" "$(grep -Fx -f <(echo "$out") "$T/usage.err")" "$out"
done
export PATH="$B:$PATH"
lab_up fc,prc,blk
start_ready rvd 20 "$LAB" exec srv -- "$B/nat-rendezvousd" -d -v -g 5 -l $SRV:80
expect "server ready line" "$READY" "ready http=$SRV:80 ws=/v1/ws"

# on HOST HOME CMD...: CMD behind HOST's NAT, with the key in $T/home/HOME.
# In a background subshell it replaces the subshell, so that its PID is
# the command's (start_ready, cleanup).
on() {
	local h=$1 home=$2
	shift 2
	mkdir -p -m 700 "$T/home/$home"
	[ "$BASHPID" = $$ ] || exec "$LAB" exec "$h" -- env NATKIT_HOME="$T/home/$home" "$@"
	"$LAB" exec "$h" -- env NATKIT_HOME="$T/home/$home" "$@"
}
# wait_for FILE TEXT: up to 20 s for a line starting with TEXT in FILE.
wait_for() {
	for _ in $(seq 200); do
		grep -q "^$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	cat "$1"
	fail "no '$2' in $1 within 20 s"
}

# chat: alice waits behind the full cone, bob calls from behind the
# router that blocks UDP; both type two lines and end.
printf 'hello bob\nhow is the weather behind your NAT?\n' >"$T/chat.alice"
printf 'hi alice\nno UDP here: the path goes around it\n' >"$T/chat.bob"
on h-fc alice "$EX/chat" -l -N alice -s "$URL" <"$T/chat.alice" \
    >"$T/chat-a.out" 2>"$T/chat-a.err" &
pa=$!
PIDS="$PIDS $pa"
wait_for "$T/chat-a.err" "chat: waiting for a call as alice "
on h-blk bob env NATKIT_SERVERS="$URL" "$EX/chat" -N bob alice <"$T/chat.bob" \
    >"$T/chat-b.out" 2>"$T/chat-b.err"
expect "chat: caller's exit" "$?" 0
wait $pa
expect "chat: waiting side's exit" "$?" 0
expect "chat: lines to alice" "$(cat "$T/chat-a.out")" "$(sed 's/^/bob: /' "$T/chat.bob")"
expect "chat: lines to bob" "$(cat "$T/chat-b.out")" "$(sed 's/^/alice: /' "$T/chat.alice")"

# send-file and receive-file: 5 MiB, and its SHA-256, from bob to carol;
# the same name again is refused and the first copy stays.
mkdir "$T/inbox"
head -c $((5 << 20)) /dev/urandom >"$T/blob.bin"
start_ready recv 20 on h-fc carol env NATKIT_SERVERS="$URL" "$EX/receive-file" \
    -N carol "$T/inbox"
expect "receive-file: registered" "${READY%% *}" type=registered
on h-prc bob "$EX/send-file" -s "$URL" "$T/blob.bin" carol >"$T/send.out" 2>"$T/send.err"
expect "send-file: exit" "$?" 0
sum=$(sha256sum <"$T/blob.bin")
sum=${sum%% *}
expect "send-file: what it says" "$(cat "$T/send.err")" \
    "send-file: blob.bin: 5242880 bytes, SHA-256 $sum, stored by carol as blob.bin"
expect "send-file: nothing on stdout" "$(wc -c <"$T/send.out")" 0
got=$(sha256sum <"$T/inbox/blob.bin")
expect "receive-file: SHA-256 of what arrived" "${got%% *}" "$sum"
expect "receive-file: only the file" "$(ls -A "$T/inbox")" blob.bin
mkdir "$T/other"
head -c 1000 /dev/urandom >"$T/other/blob.bin"
on h-prc bob "$EX/send-file" -s "$URL" "$T/other/blob.bin" carol >/dev/null 2>"$T/send2.err"
expect "send-file again: exit" "$?" 1
expect "send-file again: why" "$(cat "$T/send2.err")" \
    "send-file: carol refused blob.bin: blob.bin exists"
got=$(sha256sum <"$T/inbox/blob.bin")
expect "receive-file: the first copy stays" "${got%% *}" "$sum"
expect "receive-file: a line per file" "$(grep '^receive-file: ' "$T/recv.err")" \
    "receive-file: blob.bin: ok $sum blob.bin
receive-file: blob.bin: refused blob.bin exists"

# ssh-over-natkit: Debian's sshd on dave's loopback (port 22 of h-fc's
# namespace), with a host key and an authorized key made here; erin runs
# a command there through ssh's ProxyCommand.
mkdir -m 700 "$T/ssh"
ssh-keygen -q -t ed25519 -N '' -C dave -f "$T/ssh/host" || fail "ssh-keygen"
ssh-keygen -q -t ed25519 -N '' -C erin -f "$T/ssh/id" || fail "ssh-keygen"
cp "$T/ssh/id.pub" "$T/ssh/authorized_keys"
echo "dave $(cut -d ' ' -f 1,2 "$T/ssh/host.pub")" >"$T/ssh/known_hosts"
cat >"$T/ssh/sshd_config" <<EOS
ListenAddress 127.0.0.1:22
HostKey $T/ssh/host
AuthorizedKeysFile $T/ssh/authorized_keys
AllowUsers $(id -un)
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PidFile none
EOS
# sshd wants its privilege separation directory; remove it if made here.
[ -d /run/sshd ] || { mkdir -m 755 /run/sshd && trap 'cleanup; rmdir /run/sshd' EXIT; }
/usr/sbin/sshd -t -f "$T/ssh/sshd_config"
expect "sshd -t: the test's configuration" "$?" 0
"$LAB" exec h-fc -- /usr/sbin/sshd -D -e -f "$T/ssh/sshd_config" 2>"$T/sshd.err" &
PIDS="$PIDS $!"
listening() {
	for _ in $(seq 200); do
		[ -n "$("$LAB" exec "$1" -- ss -Hltn "sport = :$2")" ] && return 0
		sleep 0.1
	done
	fail "nothing listens on port $2 in $1 within 20 s"
}
listening h-fc 22
start_ready sshnk 20 on h-fc dave "$EX/ssh-over-natkit" -l -N dave -s "$URL"
expect "ssh-over-natkit -l: registered" "${READY%% *}" type=registered
on h-prc erin "$EX/ssh-over-natkit" -s "$URL" -- -F /dev/null -i "$T/ssh/id" \
    -o IdentitiesOnly=yes -o BatchMode=yes -o LogLevel=ERROR \
    -o UserKnownHostsFile="$T/ssh/known_hosts" -o GlobalKnownHostsFile=/dev/null \
    -o StrictHostKeyChecking=yes "$(id -un)@dave" \
    'echo $((6*7)); hostname; readlink /proc/self/ns/net' >"$T/ssh.out" 2>"$T/ssh.err"
expect "ssh through natkit: exit" "$?" 0
expect "ssh through natkit: the command's output, in dave's namespace" \
    "$(cat "$T/ssh.out")" "42
$(hostname)
$("$LAB" exec h-fc -- readlink /proc/self/ns/net)"
[ -s "$T/ssh.err" ] && sed 's/^/    ssh| /' "$T/ssh.err"
# The end of ssh's stream reaches sshd: its connection ends (within the
# 20 s bound, well before the stream's 30 s idle timeout would end it).
for _ in $(seq 200); do
	[ -z "$("$LAB" exec h-fc -- ss -Htn state established "sport = :22")" ] && break
	sleep 0.1
done
expect "ssh through natkit: dave's sshd connection ended" \
    "$("$LAB" exec h-fc -- ss -Htn state established "sport = :22" | wc -l)" 0

# forward: a one-shot HTTP server on frank's loopback (port 8080); gina
# forwards her port 8000 to frank and a request goes through it.
cat >"$T/httpd.py" <<'EOS'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8080))
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
req = b""
while b"\r\n\r\n" not in req:
    d = c.recv(65536)
    if not d:
        break
    req += d
open(sys.argv[1], "wb").write(req)
c.sendall(open(sys.argv[2], "rb").read())
c.shutdown(socket.SHUT_WR)
while c.recv(65536):
    pass
c.close()
EOS
printf 'GET /blob HTTP/1.0\r\nHost: frank\r\n\r\n' >"$T/http.req"
{ printf 'HTTP/1.0 200 OK\r\nContent-Length: 300000\r\n\r\n'; head -c 300000 /dev/urandom; } >"$T/http.resp"
start_ready httpd 20 "$LAB" exec h-fc -- python3 "$T/httpd.py" "$T/http.got-req" "$T/http.resp"
start_ready fwd-l 20 on h-fc frank env NATKIT_SERVERS="$URL" "$EX/forward" -l -N frank 8080
expect "forward -l: registered" "${READY%% *}" type=registered
on h-prc gina "$EX/forward" -s "$URL" 8000 frank >"$T/fwd.out" 2>"$T/fwd.err" &
pf=$!
PIDS="$PIDS $pf"
listening h-prc 8000
"$LAB" exec h-prc -- nc -N 127.0.0.1 8000 <"$T/http.req" >"$T/http.got-resp"
expect "forward: nc's exit" "$?" 0
wait $pf
expect "forward: exit" "$?" 0
expect "forward: the request arrived intact" "$(cmp "$T/http.req" "$T/http.got-req" && echo same)" same
expect "forward: the response arrived intact" "$(cmp "$T/http.resp" "$T/http.got-resp" && echo same)" same

echo "     run time $((SECONDS - t0)) s"
finish
