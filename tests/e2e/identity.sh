#!/bin/bash
# Where the clients keep their identity: a NATKIT_HOME that does not exist
# is refused by nat-register, nat-query --signal and nat-connect (exit 66,
# nothing made), not turned into a new identity; a key made in a directory
# that exists, or in the default place (made when missing), is announced
# on stderr with its id, once.  No daemon: the server is a closed loopback
# port.
. "$NATKIT_TOP/tests/e2e/lib.sh"

B=$NATKIT_BIN
TOOL=$(dirname "$B")/tests/e2e/rv-client-tool
[ -x "$TOOL" ] || fail "build first: no $TOOL"
URL=http://127.0.0.1:1
PEER=aaaaaaaaaaaaaaaaaaaaaaaaaa
echo "type=profile nat=open" >"$T/profile"
unset NATKIT_SERVERS

# client NAME: runs client NAME against $URL with the environment as set;
# its stderr in $T/NAME.err, its exit status in RC.  nat-register retries
# for ever: it is stopped after its first attempt has had time.
client() {
	case $1 in
	nat-register) timeout 3 "$B/nat-register" -s $URL <"$T/profile" ;;
	nat-query) echo "type=hello" | "$B/nat-query" --signal -w 1 -s $URL $PEER ;;
	nat-connect) "$B/nat-connect" -w 1 -s $URL $PEER </dev/null ;;
	esac >/dev/null 2>"$T/$1.err"
	RC=$?
}

for c in nat-register nat-query nat-connect; do
	# A directory that is not there: refused, and not made.
	NATKIT_HOME=$T/missing/$c client $c
	expect "$c: NATKIT_HOME missing: exit" "$RC" 66
	expect "$c: NATKIT_HOME missing: stderr" "$(cat "$T/$c.err")" \
	    "$c: NATKIT_HOME $T/missing/$c: no such directory (make it with mkdir -m 700, or unset NATKIT_HOME for the default)"
	expect "$c: NATKIT_HOME missing: nothing made" \
	    "$([ -e "$T/missing" ] && echo made)" ""

	# A directory that is there: the key is made in it, and said once.
	mkdir -m 700 "$T/$c"
	NATKIT_HOME=$T/$c client $c
	id=$("$TOOL" -K "$T/$c" id)
	expect "$c: new key: said" "$(head -n 1 "$T/$c.err")" \
	    "$c: made a new identity $id in $T/$c"
	expect "$c: new key: mode" "$(stat -c %a "$T/$c/id_ed25519")" 600
	NATKIT_HOME=$T/$c client $c
	expect "$c: the same key again: not said" \
	    "$(grep -c 'made a new identity' "$T/$c.err")" 0

	# The default place is made, with its parents.
	env -u NATKIT_HOME XDG_CONFIG_HOME="$T/xdg-$c/config" \
	    bash -c "$(declare -f client); T=$T B=$B URL=$URL PEER=$PEER; client $c"
	id=$("$TOOL" -K "$T/xdg-$c/config/natkit" id)
	expect "$c: default place: said" "$(head -n 1 "$T/$c.err")" \
	    "$c: made a new identity $id in $T/xdg-$c/config/natkit"
	expect "$c: default place: mode" \
	    "$(stat -c %a "$T/xdg-$c/config/natkit")" 700
done
finish
