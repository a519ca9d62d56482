# ringward — build, test, run.
#
#   make            build build/ringward (installs missing Debian packages first)
#   make run        build, then run the sensor in the foreground (root)
#   make test       build and run every test (unit tests under ASan+UBSan,
#                   kernel tests as root against the real sensor, fuzz corpus replay)
#   make fuzz       run every libFuzzer harness for FUZZ_SECONDS each
#   make bench      run the benchmarks in bench/ (alone on the machine, please)
#
# New sources are picked up by wildcard: src/**/*.c go into the sensor,
# bpf/*.bpf.c become skeletons, tests/{unit,kernel}/test_*.c become test
# programs, fuzz/fuzz_*.c become fuzzers.

BUILD      ?= build
CC         := clang
BPFTOOL    ?= bpftool
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
Q          := $(if $(V),,@)

WARN       := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
OPT        ?= -O2 -g
CPPFLAGS   := -D_GNU_SOURCE -Iinclude -Isrc -I$(BUILD)
CFLAGS_ALL := -std=gnu11 $(OPT) $(WARN) -fno-omit-frame-pointer
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=undefined
LIBS       := -lbpf -lelf -lz -ljson-c -lpthread -lyaml -lpcre2-8 -lhs -lsodium -lseccomp -lcurl

DEPS_STAMP := $(BUILD)/.deps-ok

SRC_ALL    := $(shell find src -name '*.c' | sort)
SRC_LIB    := $(filter-out src/main.c,$(SRC_ALL))
OBJ_LIB    := $(SRC_LIB:%.c=$(BUILD)/obj/%.o)
OBJ_ASAN   := $(SRC_LIB:%.c=$(BUILD)/asan/%.o)
OBJ_FUZZ   := $(SRC_LIB:%.c=$(BUILD)/fuzzobj/%.o)

BPF_SRC    := $(wildcard bpf/*.bpf.c)
BPF_OBJ    := $(BPF_SRC:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
SKELS      := $(BPF_SRC:bpf/%.bpf.c=$(BUILD)/%.skel.h)

UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/unit/%)
KTEST_SRC  := $(wildcard tests/kernel/test_*.c)
KTEST_BIN  := $(KTEST_SRC:tests/kernel/%.c=$(BUILD)/tests/kernel/%)
TEST_LIB   := tests/lib/testlib.c
FUZZ_SRC   := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN   := $(FUZZ_SRC:fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60

# keep generated skeletons and BPF objects between partial builds
.SECONDARY: $(SKELS) $(BPF_OBJ) $(BUILD)/vmlinux.h

.PHONY: all run test unit-tests kernel-tests fuzz-tests fuzz bench clean deps install
all: $(BUILD)/ringward

# --- dependencies -----------------------------------------------------------
$(DEPS_STAMP): scripts/install-deps.sh
	$(Q)mkdir -p $(BUILD)
	$(Q)sh scripts/install-deps.sh
	$(Q)touch $@
deps: $(DEPS_STAMP)

# --- kernel side ------------------------------------------------------------
$(BUILD)/vmlinux.h: | $(DEPS_STAMP)
	$(Q)mkdir -p $(BUILD)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) include/ringward/abi.h $(BUILD)/vmlinux.h
	$(Q)mkdir -p $(@D)
	@echo "  BPF     $<"
	$(Q)$(CC) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Werror \
		-Iinclude -I$(BUILD) -Ibpf -c $< -o $@
	$(Q)llvm-strip -g $@ 2>/dev/null || true

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@.tmp && mv $@.tmp $@

# --- user side --------------------------------------------------------------
$(BUILD)/obj/%.o: %.c $(SKELS) | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(BUILD)/asan/%.o: %.c $(SKELS) | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS_ALL) $(SAN) -MMD -MP -c $< -o $@

$(BUILD)/fuzzobj/%.o: %.c $(SKELS) | $(DEPS_STAMP)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -DRW_FUZZING -fsanitize=fuzzer-no-link,address,undefined -MMD -MP -c $< -o $@

$(BUILD)/libringward.a: $(OBJ_LIB)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/libringward-asan.a: $(OBJ_ASAN)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/libringward-fuzz.a: $(OBJ_FUZZ)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/ringward: $(BUILD)/obj/src/main.o $(BUILD)/libringward.a
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS_ALL) -o $@ $^ $(LIBS)

# The same sensor under ASan+UBSan, for tests that want it.
$(BUILD)/ringward-asan: $(BUILD)/asan/src/main.o $(BUILD)/libringward-asan.a
	$(Q)$(CC) $(CFLAGS_ALL) $(SAN) -o $@ $^ $(LIBS)

# --- tests ------------------------------------------------------------------
$(BUILD)/tests/unit/%: tests/unit/%.c $(TEST_LIB) $(BUILD)/libringward-asan.a
	$(Q)mkdir -p $(@D)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS_ALL) $(SAN) -o $@ $< $(TEST_LIB) \
		$(BUILD)/libringward-asan.a $(LIBS) -lcmocka

$(BUILD)/tests/kernel/%: tests/kernel/%.c $(TEST_LIB) $(BUILD)/libringward.a
	$(Q)mkdir -p $(@D)
	@echo "  KTEST   $@"
	$(Q)$(CC) $(CPPFLAGS) -Itests/lib $(CFLAGS_ALL) -o $@ $< $(TEST_LIB) \
		$(BUILD)/libringward.a $(LIBS) -lcmocka

$(BUILD)/fuzz/%: fuzz/%.c $(BUILD)/libringward-fuzz.a
	$(Q)mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -DRW_FUZZING -fsanitize=fuzzer,address,undefined \
		-o $@ $< $(BUILD)/libringward-fuzz.a $(LIBS)

test: $(BUILD)/ringward $(BUILD)/ringward-asan $(UNIT_BIN) $(KTEST_BIN) $(FUZZ_BIN)
	$(Q)BUILD=$(BUILD) sh tests/run.sh

unit-tests: $(UNIT_BIN)
	$(Q)BUILD=$(BUILD) RW_ONLY=unit sh tests/run.sh
kernel-tests: $(BUILD)/ringward $(KTEST_BIN)
	$(Q)BUILD=$(BUILD) RW_ONLY=kernel sh tests/run.sh

fuzz: $(FUZZ_BIN)
	$(Q)for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p $(BUILD)/corpus/$$n; \
		echo "== $$n for $(FUZZ_SECONDS)s"; \
		$$f -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=$(BUILD)/fuzz/$$n- \
		    $(BUILD)/corpus/$$n fuzz/corpus/$$n || exit 1; done

# --- fleet replay (bench/fleet/README.md) ------------------------------------
# make fleet: 19 July 2024 replayed on 8.5 M hosts -> bench/fleet/results.md,
# bench/fleet.png. The model (fleet_model.c: no I/O) is linked straight into
# its unit test, which this rule builds instead of the pattern rule above.
FLEET_DEPS := bench/fleet/fleet_model.c bench/fleet/fleet_model.h
$(BUILD)/fleetsim: bench/fleet/fleetsim.c bench/fleet/plot.c bench/fleet/plot.h $(FLEET_DEPS)
	$(Q)mkdir -p $(@D)
	@echo "  LD      $@"
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS_ALL) -o $@ $(filter %.c,$^) -lpng -lsodium -lm
$(BUILD)/tests/unit/test_fleet_model: tests/unit/test_fleet_model.c $(FLEET_DEPS)
	$(Q)mkdir -p $(@D)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CPPFLAGS) -Ibench/fleet $(CFLAGS_ALL) $(SAN) -o $@ $< \
		bench/fleet/fleet_model.c -lsodium -lm -lcmocka
.PHONY: fleet
fleet: $(BUILD)/fleetsim
	$(Q)BUILD=$(BUILD) sh bench/fleet/run.sh

# --- run / bench / install --------------------------------------------------
run: $(BUILD)/ringward
	./$(BUILD)/ringward run --events --format text

bench: $(BUILD)/ringward
	sh bench/run.sh
	sh bench/protect.sh

# make install [DESTDIR=/tmp/x] [SIGNING_KEY=/path/to/secret.key]
# The binary, the systemd unit, the state directory (0700), and the default
# content as a bundle signed with the production key: the key pair is made
# once (kept in $(RW_CONFDIR)/signing, 0700) unless SIGNING_KEY names an
# existing secret key (its .pub beside it); its public key goes into
# $(RW_CONFDIR)/trusted.d. CONTENT_VERSION only ever goes up (anti-rollback).
PREFIX          ?= /usr/local
RW_SBINDIR      ?= $(PREFIX)/sbin
RW_DOCDIR       ?= $(PREFIX)/share/doc/ringward
RW_CONFDIR      ?= /etc/ringward
RW_STATEDIR     ?= /var/lib/ringward
RW_UNITDIR      ?= /etc/systemd/system
SIGNING_KEY     ?=
CONTENT_VERSION ?= $(shell date -u +%Y%m%d%H%M%S)

install: $(BUILD)/ringward
	$(Q)set -e; rw=$(BUILD)/ringward; conf=$(DESTDIR)$(RW_CONFDIR); \
	install -d -m 0755 $(DESTDIR)$(RW_SBINDIR) $(DESTDIR)$(RW_UNITDIR) $(DESTDIR)$(RW_DOCDIR) \
		$$conf $$conf/trusted.d; \
	install -d -m 0700 $(DESTDIR)$(RW_STATEDIR) $$conf/signing; \
	chmod 0700 $(DESTDIR)$(RW_STATEDIR); \
	install -m 0755 $$rw $(DESTDIR)$(RW_SBINDIR)/ringward; \
	install -m 0644 dist/ringward.service $(DESTDIR)$(RW_UNITDIR)/ringward.service; \
	install -m 0644 README.md $(DESTDIR)$(RW_DOCDIR)/README.md; \
	key="$(SIGNING_KEY)"; \
	if [ -z "$$key" ]; then \
		key=$$conf/signing/production.key; \
		if [ ! -e $$key ]; then $$rw content keygen --out $$conf/signing/production; fi; \
	fi; \
	pub=$${key%.key}.pub; [ -f "$$pub" ] || { echo "install: no $$pub beside $$key" >&2; exit 1; }; \
	install -m 0644 $$pub $$conf/trusted.d/$$(basename $$pub); \
	new=$$conf/.content.new; rm -rf $$new; install -d -m 0755 $$new/rules; \
	install -m 0644 content/rules/*.yml $$new/rules/; \
	$$rw content manifest $$new --name ringward-default --version $(CONTENT_VERSION) \
		--force >/dev/null; \
	$$rw content sign $$new --key $$key >/dev/null; \
	$$rw content verify $$new --trusted $$conf/trusted.d >/dev/null; \
	rm -rf $$conf/.content.old; \
	if [ -e $$conf/content ]; then mv $$conf/content $$conf/.content.old; fi; \
	mv $$new $$conf/content; rm -rf $$conf/.content.old; \
	echo "installed ringward: $(DESTDIR)$(RW_SBINDIR)/ringward, content version \
	$(CONTENT_VERSION) signed by $$key, unit $(DESTDIR)$(RW_UNITDIR)/ringward.service"; \
	if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl daemon-reload; systemctl enable ringward.service; \
		echo "enabled: it starts at boot; now: systemctl start ringward"; \
	fi

clean:
	rm -rf $(BUILD)

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# for scripts that link against the library (bench/engine.sh)
print-libs:
	@echo $(LIBS)
