# natkit: build, test and install.
#
#   make                 build the library, the programs and the tests
#   make check           install missing packages, build, run every test
#   make SANITIZE=1      the same with ASan and UBSan (objects in build-san/)
#   make fuzz            run each libFuzzer target (FUZZ=names) for FUZZTIME s
#   make install         PREFIX=/usr/local DESTDIR= SYSCONFDIR=/etc honoured
#   make dist            the release tarball natkit-VERSION.tar.gz (in DISTDIR)
#   make demo            the six-phase flow on the NAT lab
#   make bench           the benchmarks in tests/bench (not part of check)
#   V=1                  show the commands

PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/natkit
DATAROOTDIR ?= $(PREFIX)/share
MANDIR     ?= $(DATAROOTDIR)/man
DATADIR    ?= $(DATAROOTDIR)/natkit
BASHCOMPDIR ?= $(DATAROOTDIR)/bash-completion/completions
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
FUZZTIME   ?= 60
FUZZ       ?= $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZCC     ?= clang

ifeq ($(SANITIZE),1)
O   ?= build-san
SAN := -fsanitize=address,undefined -fno-omit-frame-pointer \
       -fno-sanitize-recover=undefined
else
O   ?= build
SAN :=
endif

CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wmissing-prototypes
ifeq ($(WERROR),1)
WARN     += -Werror
endif
PKGS     := libsodium libcjson libwebsockets libcurl miniupnpc hiredis zlib \
            libngtcp2 libngtcp2_crypto_gnutls gnutls
# Evaluated when a recipe needs them, so that `make check` can install the
# packages first.
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null) -lnatpmp
# The library's folders, lowest first: a folder includes only itself and
# the folders before it (make lint checks it; doc/architecture.md).
LAYERS   := base probe rv traverse carry prog
ALL_CPPFLAGS = -D_GNU_SOURCE $(LAYERS:%=-Isrc/lib/%) $(PKG_CFLAGS) $(CPPFLAGS)
ALL_CFLAGS   = -std=c11 $(WARN) $(SAN) -MMD -MP $(CFLAGS)
ALL_LDFLAGS  = $(SAN) -Wl,--as-needed $(LDFLAGS)
ALL_LIBS     = $(PKG_LIBS) -lev -lpthread -lm $(LDLIBS)
# The libraries each program uses, itself or through the objects it pulls
# from libnat.a; the tests link them all.  A program links with its own
# only, so that a new use shows as an undefined reference at link time
# instead of a library a daemon loads and never calls: nat-rendezvousd
# once took libcurl in through relay.o -> rv_ws.o -> rv.o (before rvmsg.c),
# which -Wl,--as-needed cannot drop.  readelf -d shows what each got.
PKGS_nat-probe       := libcjson miniupnpc zlib
LIBS_nat-probe       := -lnatpmp
PKGS_nat-register    := libsodium libcjson libwebsockets libcurl
PKGS_nat-query       := libsodium libcjson libwebsockets libcurl
PKGS_nat-connect     := libsodium libcjson libwebsockets libcurl miniupnpc zlib \
                        libngtcp2 libngtcp2_crypto_gnutls gnutls
LIBS_nat-connect     := -lnatpmp
PKGS_nat-rendezvousd := libsodium libcjson libwebsockets hiredis gnutls
LIBS_nat-rendezvousd := -lev
PKGS_nat-reflect     := zlib
PKGS_nat-lab-delay   := libnetfilter_queue
prog_libs = $(if $(PKGS_$(1)),$(shell $(PKG_CONFIG) --libs $(PKGS_$(1)) 2>/dev/null)) \
            $(LIBS_$(1)) -lpthread -lm $(LDLIBS)

ifeq ($(V),1)
Q :=
say :=
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2);
endif

# libnat.a is the library; prog/ (option parsing, configuration files,
# usage: whatever prints and exits) is linked by the programs only.
LIB_SRC   := $(foreach l,$(filter-out prog,$(LAYERS)),$(wildcard src/lib/$(l)/*.c))
LIB_OBJ   := $(LIB_SRC:%.c=$(O)/%.o)
LIBNAT    := $(O)/libnat.a
PROG_OBJ  := $(patsubst %.c,$(O)/%.o,$(wildcard src/lib/prog/*.c))
LIBPROG   := $(O)/libnatprog.a

# A client is one file src/nat-NAME.c; a daemon is a folder server/nat-NAME/
# whose main.c holds main() and whose other files make an archive
# $(O)/libnat-NAME.a that the unit tests may link.
# nat-lab-delay is built like a client but is the lab's helper, installed
# in LIBEXECDIR for scripts/nat-lab only.
LABTOOLS  := nat-lab-delay
CLIENTS   := $(filter-out $(LABTOOLS),$(patsubst src/%.c,%,$(wildcard src/nat-*.c)))
SERVERS   := $(notdir $(wildcard server/nat-*))
SRV_LIBS  := $(SERVERS:%=$(O)/lib%.a)
# A daemon's Lua scripts (server/NAME/lua/*.lua) become C strings in
# $(O)/server/NAME/lua.c (scripts/embed-lua), part of its archive.
SRV_LUA_C := $(foreach s,$(SERVERS),$(if $(wildcard server/$(s)/lua/*.lua),$(O)/server/$(s)/lua.c))
PROGS     := $(CLIENTS:%=$(O)/bin/%) $(LABTOOLS:%=$(O)/bin/%) $(SERVERS:%=$(O)/bin/%)

UNIT      := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(wildcard tests/unit/test_*.c))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY    := $(patsubst tests/fuzz/fuzz_%.c,$(O)/tests/fuzz/replay_%,$(FUZZ_SRC))
BENCH     := $(patsubst tests/bench/%.c,$(O)/tests/bench/%,$(wildcard tests/bench/*.c))
# Small drivers the end-to-end scripts run.
E2E_TOOLS := $(patsubst tests/e2e/%.c,$(O)/tests/e2e/%,$(wildcard tests/e2e/*.c))
MANPAGES  := $(wildcard man/*.[178])
MANSECTS  := $(sort $(patsubst .%,%,$(suffix $(MANPAGES))))
UNITS     := $(wildcard scripts/systemd/*.service)
CONFS     := $(wildcard scripts/systemd/*.conf)
COMPLETIONS := $(patsubst %,$(O)/completions/%,$(CLIENTS) $(SERVERS) nat-lab)

# Objects are never intermediate: keep them for the next build.
.SECONDARY:

.PHONY: all check check-unit deps demo fuzz bench install uninstall clean lint \
        dist programs
all: $(PROGS) $(COMPLETIONS) $(UNIT) $(REPLAY) $(BENCH) $(E2E_TOOLS)

# What make install installs, without the tests (debian/rules builds this).
programs: $(PROGS) $(COMPLETIONS)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIBNAT): $(LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(LIBPROG): $(PROG_OBJ)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(O)/bin/%: $(O)/src/%.o $(LIBPROG) $(LIBNAT)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call prog_libs,$(@F))

.SECONDEXPANSION:
$(SRV_LIBS): $$(patsubst %.c,$(O)/%.o,$$(filter-out %/main.c,$$(wildcard server/$$(patsubst lib%.a,%,$$(@F))/*.c))) \
    $$(patsubst %.c,%.o,$$(filter $(O)/server/$$(patsubst lib%.a,%,$$(@F))/%,$(SRV_LUA_C)))
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(O)/server/%/lua.c: $$(wildcard server/$$*/lua/*.lua) scripts/embed-lua
	@mkdir -p $(@D)
	$(call say,GEN,$@)scripts/embed-lua $(filter %.lua,$^) >$@.tmp && \
	    mv $@.tmp $@

$(O)/server/%/lua.o: $(O)/server/%/lua.c
	$(call say,CC,$<)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(SERVERS:%=$(O)/bin/%): $(O)/server/$$(@F)/main.o $(O)/lib$$(@F).a $(LIBPROG) $(LIBNAT)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(call prog_libs,$(@F))

# A program's bash completion: scripts/completions/natkit.bash with the
# long options of the program's getopt_long table.
$(O)/completions/%: scripts/completions/natkit.bash scripts/completions/gen \
    $$(wildcard src/$$*.c server/$$*/main.c)
	@mkdir -p $(@D)
	$(call say,GEN,$@)scripts/completions/gen $* $(filter %.c,$^) >$@.tmp && \
	    mv $@.tmp $@

# The daemons' archives: a test links only the objects it uses.
$(O)/tests/unit/%: $(O)/tests/unit/%.o $(SRV_LIBS) $(LIBPROG) $(LIBNAT)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS) -lcmocka

$(O)/tests/fuzz/replay_%: $(O)/tests/fuzz/fuzz_%.o $(O)/tests/fuzz/replay.o $(SRV_LIBS) $(LIBNAT)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(O)/tests/bench/%: $(O)/tests/bench/%.o $(LIBNAT)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(O)/tests/e2e/%: $(O)/tests/e2e/%.o $(SRV_LIBS) $(LIBNAT)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)

# The same sources, built with clang as libFuzzer targets.
$(O)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(filter-out %/main.c,$(wildcard server/*/*.c)) $(SRV_LUA_C)
	@mkdir -p $(@D)
	$(call say,FUZZCC,$@)$(FUZZCC) -D_GNU_SOURCE $(LAYERS:%=-Isrc/lib/%) $(PKG_CFLAGS) -g -O1 \
	    -fsanitize=fuzzer,address,undefined \
	    -fno-sanitize-recover=undefined -o $@ $^ $(ALL_LIBS)

# FUZZ=stun picks targets; each runs FUZZTIME seconds, from the seeds as
# replay decodes them (NAME.hex seeds are hex text).
fuzz: $(FUZZ:%=$(O)/fuzz/fuzz_%) $(FUZZ:%=$(O)/tests/fuzz/replay_%)
	@for f in $(FUZZ:%=$(O)/fuzz/fuzz_%); do \
	    n=$${f##*/fuzz_}; s=$(O)/fuzz-seeds/$$n; \
	    mkdir -p $(O)/fuzz-corpus/$$n $$s; \
	    $(O)/tests/fuzz/replay_$$n -o $$s tests/fuzz/corpus/$$n || exit 1; \
	    echo "fuzz: $$n for $(FUZZTIME) s"; \
	    $$f -max_total_time=$(FUZZTIME) -print_final_stats=1 \
	        $(O)/fuzz-corpus/$$n $$s || exit 1; \
	done

deps:
	@scripts/install-deps

# Packages first (the variables above read pkg-config), then the build.
check: deps
	@$(MAKE) --no-print-directory all lint
	@O=$(O) tests/run

check-unit: all
	@O=$(O) tests/run unit

bench: all
	@O=$(O) tests/bench/run

# Packages first, as for check: both README commands work on a fresh
# machine, in either order.
demo: deps
	@$(MAKE) --no-print-directory all
	@O=$(O) scripts/demo

lint:
	@for m in $(MANPAGES); do mandoc -Tlint -W warning $$m || exit 1; done
	@scripts/check-layers $(LAYERS)

# install makes a directory only for what goes in it, and notes in
# DATADIR/installed-dirs each one it made (not those already there);
# uninstall removes those again when they are empty, deepest first, so
# that install then uninstall leaves nothing behind but the
# administrator's files in SYSCONFDIR/natkit.
DIRLOG = $(DESTDIR)$(DATADIR)/installed-dirs
# $(call mkdirs,DIR ...) makes each DIR under DESTDIR with its missing
# parents, printing every directory it made.
mkdirs = for t in $(1); do p=; r=$${t\#/}; while [ -n "$$r" ]; do \
	    c=$${r%%/*}; p=$$p/$$c; r=$${r\#"$$c"}; r=$${r\#/}; \
	    [ -d "$(DESTDIR)$$p" ] && continue; \
	    mkdir "$(DESTDIR)$$p" && echo "$$p" || exit 1; done; done

install: $(PROGS) $(COMPLETIONS)
	@[ -z "$(DESTDIR)" ] || mkdir -p "$(DESTDIR)"
	@made=$$($(call mkdirs,$(DATADIR))) || exit 1; \
	    for d in $$made; do echo "$$d"; done >>"$(DIRLOG)"
	@$(call mkdirs,$(BINDIR) $(SBINDIR) $(LIBEXECDIR) \
	    $(MANSECTS:%=$(MANDIR)/man%) $(UNITDIR) $(SYSCONFDIR)/natkit \
	    $(BASHCOMPDIR)) \
	    >>"$(DIRLOG)"
	install -m 755 $(CLIENTS:%=$(O)/bin/%) "$(DESTDIR)$(BINDIR)/"
	install -m 755 $(SERVERS:%=$(O)/bin/%) "$(DESTDIR)$(SBINDIR)/"
	install -m 755 $(LABTOOLS:%=$(O)/bin/%) "$(DESTDIR)$(LIBEXECDIR)/"
	@# nat-lab, told where its helper is.
	sed -e 's|^LIBEXEC=.*|LIBEXEC=$(LIBEXECDIR)|' \
	    -e 's|^VERSION=.*|VERSION=$(VERSION)|' scripts/nat-lab \
	    >"$(DESTDIR)$(BINDIR)/nat-lab" && \
	    chmod 755 "$(DESTDIR)$(BINDIR)/nat-lab"
	for m in $(MANPAGES); do \
	    install -m 644 $$m "$(DESTDIR)$(MANDIR)/man$${m##*.}/" || exit 1; done
	install -m 644 $(COMPLETIONS) "$(DESTDIR)$(BASHCOMPDIR)/"
	@# The units with this install's paths; the example configurations
	@# in DATADIR, and in SYSCONFDIR/natkit unless one is there already.
	for u in $(UNITS); do \
	    sed -e 's|/usr/local/sbin|$(SBINDIR)|g' \
	        -e 's|/etc/natkit|$(SYSCONFDIR)/natkit|g' $$u \
	        >"$(DESTDIR)$(UNITDIR)/$${u##*/}" && \
	    chmod 644 "$(DESTDIR)$(UNITDIR)/$${u##*/}" || exit 1; done
	for c in $(CONFS); do install -m 644 $$c "$(DESTDIR)$(DATADIR)/" && \
	    { [ -e "$(DESTDIR)$(SYSCONFDIR)/natkit/$${c##*/}" ] || \
	    install -m 644 $$c "$(DESTDIR)$(SYSCONFDIR)/natkit/"; } || exit 1; done

uninstall:
	rm -f $(CLIENTS:%="$(DESTDIR)$(BINDIR)/%") "$(DESTDIR)$(BINDIR)/nat-lab"
	rm -f $(SERVERS:%="$(DESTDIR)$(SBINDIR)/%")
	rm -f $(LABTOOLS:%="$(DESTDIR)$(LIBEXECDIR)/%")
	for m in $(MANPAGES); do \
	    rm -f "$(DESTDIR)$(MANDIR)/man$${m##*.}/$${m##*/}"; done
	for f in $(UNITS); do rm -f "$(DESTDIR)$(UNITDIR)/$${f##*/}"; done
	rm -f $(COMPLETIONS:$(O)/completions/%="$(DESTDIR)$(BASHCOMPDIR)/%")
	for f in $(CONFS); do rm -f "$(DESTDIR)$(DATADIR)/$${f##*/}"; done
	@# What SYSCONFDIR/natkit holds is the administrator's: left alone,
	@# and so is every directory install did not make.
	@if [ -f "$(DIRLOG)" ]; then \
	    dirs=$$(LC_ALL=C sort -ru "$(DIRLOG)") && rm -f "$(DIRLOG)" && \
	    for d in $$dirs; do rmdir "$(DESTDIR)$$d" 2>/dev/null; done; \
	fi; true

# The release tarball: the files git tracks (as they are in the work tree;
# uncommitted changes are named), or when this tree is no git work tree's
# top (an unpacked tarball) every file but what builds make; under
# natkit-VERSION/, the same bytes for the same files.
VERSION := $(shell sed -n 's/^\#define NATKIT_VERSION[^"]*"\(.*\)"/\1/p' \
             src/lib/prog/version.h)
DIST    := natkit-$(VERSION)
DISTDIR ?= .
DIST_NOT := build build-san $(O) natkit-*.tar.gz debian/tmp debian/.debhelper \
            debian/files debian/*.substvars debian/debhelper-build-stamp \
            $(addprefix debian/,natkit-clients natkit-lab nat-rendezvousd nat-reflect)
dist:
	@set -e; l=$$(mktemp); trap 'rm -f "$$l"' EXIT; \
	if [ "$$(git rev-parse --show-toplevel 2>/dev/null)" = "$$(pwd -P)" ]; then \
	    git diff --quiet HEAD -- || \
	        echo "dist: with changes not committed: $$(git diff --name-only HEAD -- | tr '\n' ' ')" >&2; \
	    t=$$(git log -1 --format=%ct); \
	    git ls-files | while IFS= read -r f; do \
	        [ ! -e "$$f" ] || echo "$$f"; done >"$$l"; \
	else \
	    t=$$(stat -c %Y src/lib/prog/version.h); \
	    find . -type f $(foreach d,$(DIST_NOT),! -path './$(d)' ! -path './$(d)/*') \
	        -printf '%P\n' >"$$l"; \
	fi; \
	LC_ALL=C sort -o "$$l" "$$l"; \
	tar --verbatim-files-from -T "$$l" --transform 's,^,$(DIST)/,' \
	    --owner=0 --group=0 --numeric-owner --mtime=@$${SOURCE_DATE_EPOCH:-$$t} \
	    --mode=go-w -cf - | gzip -9n >"$(DISTDIR)/$(DIST).tar.gz.tmp"; \
	mv "$(DISTDIR)/$(DIST).tar.gz.tmp" "$(DISTDIR)/$(DIST).tar.gz"; \
	echo "dist: $(DISTDIR)/$(DIST).tar.gz"

clean:
	rm -rf build build-san

-include $(shell find $(O) -name '*.d' 2>/dev/null)
