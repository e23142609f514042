# natkit: build, test and install.
#
#   make                 build the library, the programs and the tests
#   make check           install missing packages, build, run every test
#   make SANITIZE=1      the same with ASan and UBSan (objects in build-san/)
#   make fuzz            run each libFuzzer target (FUZZ=names) for FUZZTIME s
#   make install         PREFIX=/usr/local DESTDIR= SYSCONFDIR=/etc honoured
#   make demo            the six-phase flow on the NAT lab
#   make bench           the benchmarks in tests/bench (not part of check)
#   V=1                  show the commands

PKG_CONFIG ?= pkg-config
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBEXECDIR ?= $(PREFIX)/libexec/natkit
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share/natkit
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
# Libraries only one program needs.
LIBS_nat-lab-delay = -lnetfilter_queue

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
CLIENTS   := $(patsubst src/%.c,%,$(wildcard src/nat-*.c))
SERVERS   := $(notdir $(wildcard server/nat-*))
SRV_LIBS  := $(SERVERS:%=$(O)/lib%.a)
PROGS     := $(CLIENTS:%=$(O)/bin/%) $(SERVERS:%=$(O)/bin/%)

UNIT      := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(wildcard tests/unit/test_*.c))
FUZZ_SRC  := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY    := $(patsubst tests/fuzz/fuzz_%.c,$(O)/tests/fuzz/replay_%,$(FUZZ_SRC))
BENCH     := $(patsubst tests/bench/%.c,$(O)/tests/bench/%,$(wildcard tests/bench/*.c))
# Small drivers the end-to-end scripts run.
E2E_TOOLS := $(patsubst tests/e2e/%.c,$(O)/tests/e2e/%,$(wildcard tests/e2e/*.c))
MANPAGES  := $(wildcard man/*.[178])
UNITS     := $(wildcard scripts/systemd/*.service)
CONFS     := $(wildcard scripts/systemd/*.conf)

# Objects are never intermediate: keep them for the next build.
.SECONDARY:

.PHONY: all check check-unit deps demo fuzz bench install uninstall clean lint
all: $(PROGS) $(UNIT) $(REPLAY) $(BENCH) $(E2E_TOOLS)

$(O)/%.o: %.c
	@mkdir -p $(@D)
	$(call say,CC,$<)$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

$(LIBNAT): $(LIB_OBJ)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(LIBPROG): $(PROG_OBJ)
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(O)/bin/%: $(O)/src/%.o $(LIBPROG) $(LIBNAT)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS) $(LIBS_$(@F))

.SECONDEXPANSION:
$(SRV_LIBS): $$(patsubst %.c,$(O)/%.o,$$(filter-out %/main.c,$$(wildcard server/$$(patsubst lib%.a,%,$$(@F))/*.c)))
	$(call say,AR,$@)rm -f $@ && $(AR) rcs $@ $^

$(SERVERS:%=$(O)/bin/%): $(O)/server/$$(@F)/main.o $(O)/lib$$(@F).a $(LIBPROG) $(LIBNAT)
	@mkdir -p $(@D)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)

# The daemons' archives: a test links only the objects it uses.
$(O)/tests/unit/%: $(O)/tests/unit/%.o $(SRV_LIBS) $(LIBPROG) $(LIBNAT)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS) -lcmocka

$(O)/tests/fuzz/replay_%: $(O)/tests/fuzz/fuzz_%.o $(O)/tests/fuzz/replay.o $(SRV_LIBS) $(LIBNAT)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(O)/tests/bench/%: $(O)/tests/bench/%.o $(LIBNAT)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)

$(O)/tests/e2e/%: $(O)/tests/e2e/%.o $(LIBNAT)
	$(call say,LD,$@)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(ALL_LIBS)

# The same sources, built with clang as libFuzzer targets.
$(O)/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(filter-out %/main.c,$(wildcard server/*/*.c))
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

install: $(PROGS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBEXECDIR)
	for p in $(CLIENTS); do install -m 755 $(O)/bin/$$p $(DESTDIR)$(BINDIR)/; done
	for p in $(SERVERS); do install -m 755 $(O)/bin/$$p $(DESTDIR)$(SBINDIR)/; done
	for s in $(wildcard scripts/nat-lab); do install -m 755 $$s $(DESTDIR)$(BINDIR)/; done
	for m in $(MANPAGES); do s=$${m##*.}; \
	    install -d $(DESTDIR)$(MANDIR)/man$$s; \
	    install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	@# The units with this install's paths; the example configurations
	@# in DATADIR, and in SYSCONFDIR/natkit unless one is there already.
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DATADIR) \
	    $(DESTDIR)$(SYSCONFDIR)/natkit
	for u in $(UNITS); do \
	    sed -e 's|/usr/local/sbin|$(SBINDIR)|g' \
	        -e 's|/etc/natkit|$(SYSCONFDIR)/natkit|g' $$u \
	        >$(DESTDIR)$(UNITDIR)/$${u##*/} && \
	    chmod 644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; done
	for c in $(CONFS); do install -m 644 $$c $(DESTDIR)$(DATADIR)/; \
	    [ -e $(DESTDIR)$(SYSCONFDIR)/natkit/$${c##*/} ] || \
	    install -m 644 $$c $(DESTDIR)$(SYSCONFDIR)/natkit/; done

uninstall:
	for p in $(CLIENTS) $(wildcard scripts/nat-lab); do rm -f $(DESTDIR)$(BINDIR)/$${p##*/}; done
	for p in $(SERVERS); do rm -f $(DESTDIR)$(SBINDIR)/$$p; done
	for m in $(MANPAGES); do s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	for f in $(UNITS); do rm -f $(DESTDIR)$(UNITDIR)/$${f##*/}; done
	for f in $(CONFS); do rm -f $(DESTDIR)$(DATADIR)/$${f##*/}; done
	@# What SYSCONFDIR/natkit holds is the administrator's: left alone.

clean:
	rm -rf build build-san

-include $(shell find $(O) -name '*.d' 2>/dev/null)
