#!/bin/bash
# package.sh: what a packager and an installer get.  Each program links
# only the libraries it uses (no libcurl in the daemons); make install
# puts every file in its place, nat-lab-delay in LIBEXECDIR, and leaves
# no empty directory, and uninstall removes what install made but the
# administrator's /etc/natkit; the bash completions offer each program's
# options; make dist makes natkit-VERSION.tar.gz of the tracked files;
# from it dpkg-buildpackage builds the four packages, lintian finds no
# error or warning in them, and their files, conffiles and units are
# where they belong.  Nothing is installed on this host: the packages
# are unpacked into a throwaway root.
# Exit 0 pass, 77 skip, else fail.
. "$NATKIT_TOP/tests/e2e/lib.sh"

for c in make readelf dpkg-buildpackage dpkg-deb dh lintian; do
	command -v "$c" >/dev/null || skip "needs $c (scripts/install-deps)"
done
for p in nat-probe nat-register nat-query nat-connect nat-rendezvousd \
    nat-reflect nat-lab-delay; do
	[ -x "$NATKIT_BIN/$p" ] || fail "build first: no $NATKIT_BIN/$p"
done
VERSION=$(sed -n 's/^#define NATKIT_VERSION[^"]*"\(.*\)"/\1/p' \
    "$NATKIT_TOP/src/lib/prog/version.h")
[ -n "$VERSION" ] || fail "no NATKIT_VERSION in src/lib/prog/version.h"

# --- linking ---------------------------------------------------------------
needed() { readelf -d "$1" | sed -n 's/.*Shared library: \[\([^].]*\)\..*/\1/p' | tr '\n' ' '; }
# links BIN LIB: yes when BIN needs LIB.
links() { case " $(needed "$1")" in *" $2 "*) echo yes ;; *) echo no ;; esac; }
for p in nat-rendezvousd nat-reflect nat-probe; do
	expect "$p links libcurl" "$(links "$NATKIT_BIN/$p" libcurl)" no
done
expect "nat-query links libcurl (the check sees libraries)" \
    "$(links "$NATKIT_BIN/nat-query" libcurl)" yes
expect "nat-lab-delay's libraries" "$(needed "$NATKIT_BIN/nat-lab-delay")" \
    "libnetfilter_queue libc "

# --- make install, uninstall ----------------------------------------------
# Into a DESTDIR where usr/bin is there already, with a file of another's.
D=$T/inst
mkdir -p "$D/usr/bin" && touch "$D/usr/bin/other"
make -s -C "$NATKIT_TOP" O="$O" install DESTDIR="$D" PREFIX=/usr \
    >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }
for f in usr/bin/nat-probe usr/bin/nat-lab usr/sbin/nat-reflect \
    usr/libexec/natkit/nat-lab-delay usr/share/man/man1/nat-lab.1 \
    usr/share/bash-completion/completions/nat-probe \
    usr/share/bash-completion/completions/nat-rendezvousd \
    usr/share/bash-completion/completions/nat-lab; do
	[ -f "$D/$f" ] || expect "installed $f" missing present
done
expect "nat-lab-delay is not in bin" "$(ls "$D/usr/bin" | grep -c delay)" 0
expect "the installed nat-lab looks in LIBEXECDIR" \
    "$(grep '^LIBEXEC=' "$D/usr/bin/nat-lab")" "LIBEXEC=/usr/libexec/natkit"
expect "no empty directory after install" "$(cd "$D" && find . -type d -empty)" ""
echo "rate 7" >>"$D/etc/natkit/nat-reflect.conf"
make -s -C "$NATKIT_TOP" O="$O" uninstall DESTDIR="$D" PREFIX=/usr \
    >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make uninstall"; }
expect "what uninstall leaves" "$(cd "$D" && find . ! -name . | LC_ALL=C sort | tr '\n' ' ')" \
    "./etc ./etc/natkit ./etc/natkit/nat-reflect.conf ./etc/natkit/nat-rendezvousd.conf ./usr ./usr/bin ./usr/bin/other "

# --- completions -------------------------------------------------------------
# complete BIN-DIR COMPLETION-FILE WORD...: what completing the last WORD
# offers, one line, sorted, with the programs of BIN-DIR first in PATH.
complete_words() {
	PATH=$1:$PATH bash --norc --noprofile -c '
		f=$1; shift; . "$f" || exit 1
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		fn=$(complete -p "$1" | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		[ -n "$fn" ] || exit 1
		"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
		printf "%s\n" "${COMPREPLY[@]}" | LC_ALL=C sort | tr "\n" " "' \
	    sh "${@:2}"
}
# have WHAT LIST WORD...: each WORD is in the space-separated LIST.
have() {
	local w miss=
	for w in "${@:3}"; do case " $2 " in *" $w "*) ;; *) miss="$miss $w" ;; esac; done
	expect "$1" "${miss:-none missing}" "none missing"
}
C=$NATKIT_TOP/$O/completions
[ -f "$C/nat-probe" ] || fail "build first: no $C/nat-probe"
got=$(complete_words "$NATKIT_BIN" "$C/nat-probe" nat-probe --)
have "nat-probe -- offers its long options ($got)" "$got" --json --records --tcp --help --version
case " $got " in *" --accept "* | *" -s "*) expect "nat-probe -- offers only its own --options" "$got" "no --accept, no -s" ;; esac
got=$(complete_words "$NATKIT_BIN" "$C/nat-probe" nat-probe -)
have "nat-probe - offers its short options" "$got" -4 -6 -b -j -s -T -V --json
got=$(complete_words "$NATKIT_BIN" "$C/nat-rendezvousd" nat-rendezvousd --cert "$NATKIT_TOP/scripts/systemd/nat-re")
have "nat-rendezvousd --cert completes a file" "$got" \
    "$NATKIT_TOP/scripts/systemd/nat-reflect.conf" "$NATKIT_TOP/scripts/systemd/nat-rendezvousd.conf"
expect "nat-lab start offers its services" \
    "$(complete_words "$NATKIT_TOP/scripts" "$C/nat-lab" nat-lab start "")" \
    "coturn dns64 miniupnpd natpmp-home stund tayga "

# --- make dist ---------------------------------------------------------------
make -s -C "$NATKIT_TOP" dist DISTDIR="$T" >"$T/dist.log" 2>&1 ||
    { cat "$T/dist.log"; fail "make dist"; }
TGZ=$T/natkit-$VERSION.tar.gz
[ -f "$TGZ" ] || fail "make dist made no $TGZ"
if git -C "$NATKIT_TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	expect "the tarball holds the tracked files" \
	    "$(tar -tzf "$TGZ" | LC_ALL=C sort | md5sum)" \
	    "$(cd "$NATKIT_TOP" && git ls-files | while IFS= read -r f; do
	        [ ! -e "$f" ] || echo "natkit-$VERSION/$f"; done | LC_ALL=C sort | md5sum)"
fi

# --- dpkg-buildpackage -------------------------------------------------------
B=$T/build
mkdir -p "$B" && tar -xzf "$TGZ" -C "$B" || fail "cannot unpack $TGZ"
S=$B/natkit-$VERSION
expect "debian/changelog's version is version.h's" \
    "$(cd "$S" && dpkg-parsechangelog -S Version)" "$VERSION"
# The unit tests are make check's, not this test's: nocheck.
(cd "$S" && DEB_BUILD_OPTIONS="nocheck parallel=2" \
    dpkg-buildpackage -us -uc -b -Pnocheck) >"$T/dpkg.log" 2>&1 ||
    { tail -n 40 "$T/dpkg.log"; fail "dpkg-buildpackage"; }
DEB() { echo "$B/${1}_${VERSION}_$(dpkg --print-architecture).deb"; }
for p in natkit-clients nat-rendezvousd nat-reflect natkit-lab; do
	[ -f "$(DEB $p)" ] || fail "no $(DEB $p)"
done

# --- lintian -----------------------------------------------------------------
lintian --display-level '>=warning' "$B"/natkit_"$VERSION"_*.changes \
    >"$T/lintian.log" 2>&1
expect "lintian: errors and warnings" \
    "$(grep -E '^[EW]: ' "$T/lintian.log" | tr '\n' ' ')" ""

# --- what each package holds --------------------------------------------------
# files PKG: its files and links, not directories, without the docs
# debhelper adds to every package.
files() {
	dpkg-deb -c "$(DEB "$1")" | awk '$1 !~ /^d/ { print $6 }' |
	    grep -v "^\./usr/share/doc/$1/" | sed 's,^\.,,' | LC_ALL=C sort | tr '\n' ' '
}
BC=/usr/share/bash-completion/completions
expect "natkit-clients' files" "$(files natkit-clients)" \
"/usr/bin/nat-connect /usr/bin/nat-probe /usr/bin/nat-query /usr/bin/nat-register \
$BC/nat-connect $BC/nat-probe $BC/nat-query $BC/nat-register \
/usr/share/man/man1/nat-connect.1.gz /usr/share/man/man1/nat-probe.1.gz \
/usr/share/man/man1/nat-query.1.gz /usr/share/man/man1/nat-register.1.gz \
/usr/share/man/man7/nat.7.gz "
for d in nat-rendezvousd nat-reflect; do
	expect "$d's files" "$(files $d)" \
	    "/etc/natkit/$d.conf /lib/systemd/system/$d.service /usr/sbin/$d $BC/$d /usr/share/man/man8/$d.8.gz "
	expect "$d's conffiles" \
	    "$(dpkg-deb --ctrl-tarfile "$(DEB $d)" | tar -xOf - ./conffiles)" \
	    "/etc/natkit/$d.conf"
	expect "$d depends on libcurl" \
	    "$(dpkg-deb -f "$(DEB $d)" Depends | grep -c libcurl)" 0
done
expect "natkit-lab's files" "$(files natkit-lab)" \
    "/usr/bin/nat-lab /usr/libexec/natkit/nat-lab-delay $BC/nat-lab /usr/share/man/man1/nat-lab.1.gz "

# --- unpacked into a throwaway root ------------------------------------------
R=$T/root
for p in natkit-clients nat-rendezvousd nat-reflect natkit-lab; do
	dpkg-deb -x "$(DEB $p)" "$R" || fail "dpkg-deb -x $p"
done
expect "the packaged nat-lab looks in /usr/libexec/natkit" \
    "$(grep '^LIBEXEC=' "$R/usr/bin/nat-lab")" "LIBEXEC=/usr/libexec/natkit"
for p in usr/bin/nat-probe usr/bin/nat-connect usr/sbin/nat-rendezvousd usr/sbin/nat-reflect; do
	"$R/$p" -V >"$T/v.out" 2>&1
	expect "packaged $p -V" "$?:$(cut -d' ' -f1 "$T/v.out")" "0:${p##*/}"
done
for u in nat-rendezvousd nat-reflect; do
	expect "$u.service runs the packaged daemon" \
	    "$(grep '^ExecStart=' "$R/lib/systemd/system/$u.service")" \
	    "ExecStart=/usr/sbin/$u -d -f /etc/natkit/$u.conf"
done
got=$(complete_words "$R/usr/bin" "$R$BC/nat-probe" nat-probe --)
have "the packaged completion: nat-probe -- ($got)" "$got" --json --tcp --help --version

finish
