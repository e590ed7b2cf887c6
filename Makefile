# flameshot-node build. Everything lands in build/; nothing is written into
# the source tree.
#
#   make            BPF objects + skeletons + flameshotd: build/flameshotd (a link
#                   to build/bin/flameshotd, the lean entry: libc only; --help,
#                   --version, jcmd) and build/libexec/flameshot/flameshotd (the
#                   full program the lean entry execs for everything else)
#   make deps       install build and test dependencies (apt-get, idempotent)
#   make run        deps + build + start the agent on this host (standalone)
#   make test       build + the whole test suite (ends "N passed, N failed")
#   make asan       sanitizer build: build/asan/flameshotd and unit tests
#   make bench      the agent's benchmarks, one table (tools/bench/run; minutes,
#                   root, not in make test); bench-evidence, bench-jfr: the others
#   make soak       1000 triggers with exec and Pod churn under ASan, then 800
#                   under valgrind's memcheck: no leak, fds and RSS flat, every
#                   job accounted for (tools/soak/run; minutes, not in CI)
#   make fuzz       every libFuzzer target in tests/fuzz/, FUZZ_SECONDS each (60)
#   make format / make lint

MACHINE := $(shell uname -m)
ifeq ($(MACHINE),x86_64)
ARCH := x86
else ifeq ($(MACHINE),aarch64)
ARCH := arm64
else ifeq ($(MACHINE),arm64)
ARCH := arm64
else
$(error unsupported architecture '$(MACHINE)': flameshot-node builds for x86_64 and aarch64)
endif

BUILD   := build
# V=1 shows full command lines
Q       := $(if $(V),,@)
CC      ?= gcc
CLANG   ?= clang
BPFTOOL ?= bpftool
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
GIT_REV := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

PKGS    := libbpf libcurl libcjson libmicrohttpd libpcre2-8 zlib libelf
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
ifeq ($(PKG_LIBS),)
PKG_LIBS := -lbpf -lcurl -lcjson -lmicrohttpd -lpcre2-8 -lz -lelf
endif

CFLAGS_COMMON := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers -Wno-format-truncation \
	-Iinclude -I. -I$(BUILD)/gen $(PKG_CFLAGS) \
	-DFS_VERSION='"$(VERSION)"' -MMD -MP
CFLAGS  ?= -O2 -g
LDLIBS  := $(PKG_LIBS) -lpthread
ASAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined

BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Ivmlinux/$(ARCH) -Ibpf -Wall -Werror

SRCS      := $(wildcard src/*.c src/*/*.c)
LIB_SRCS  := $(filter-out src/main.c src/main_lean.c,$(SRCS))
OBJS      := $(SRCS:src/%.c=$(BUILD)/obj/%.o)
LIB_OBJS  := $(LIB_SRCS:src/%.c=$(BUILD)/obj/%.o)
FULL_OBJS := $(LIB_OBJS) $(BUILD)/obj/main.o
ASAN_LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/asan/obj/%.o)
ASAN_OBJS := $(ASAN_LIB_OBJS) $(BUILD)/asan/obj/main.o
# the lean entry: the jcmd path's modules and nothing that needs a library
# beyond libc (tests/integration/21_lean_entry.sh checks its NEEDED list)
LEAN_SRCS := src/main_lean.c src/core/entry.c src/core/caps.c src/core/fsutil.c src/core/log.c \
	src/core/units.c src/events/procfs.c $(addprefix src/capture/,cli_jcmd.c attach.c nsexec.c \
	jvm.c jvmopts.c rootfs.c)
LEAN_OBJS := $(LEAN_SRCS:src/%.c=$(BUILD)/obj/%.o)
FULL      := $(BUILD)/libexec/flameshot/flameshotd

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/bpf/%.bpf.o)
SKELS     := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/gen/%.skel.h)

# unit tests mirror src/ (tests/unit/<subsystem>/test_<module>.c); binaries are flat
UNIT_SRCS := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(addprefix $(BUILD)/asan/tests/,$(basename $(notdir $(UNIT_SRCS))))
vpath test_%.c $(sort $(dir $(UNIT_SRCS)))
TEST_HELPER_SRCS := $(wildcard tests/helpers/*.c)
TEST_HELPERS := $(TEST_HELPER_SRCS:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
TEST_AGENT_SRCS := $(wildcard tests/agents/*.c)
TEST_AGENTS := $(TEST_AGENT_SRCS:tests/agents/%.c=$(BUILD)/tests/agents/%.so)
JAVA_SRCS := $(wildcard tests/fixtures/java/*.java)
TOOL_SRCS := $(wildcard tools/*.c tools/bench/*.c)
TOOLS     := $(TOOL_SRCS:tools/%.c=$(BUILD)/tools/%)

.PHONY: all deps run test asan unit bench soak bench-evidence bench-jfr fuzz test-build test-asprof format lint clean vmlinux
.DEFAULT_GOAL := all
# the BPF object and skeleton are intermediates of a pattern chain: keep them
.SECONDARY: $(BPF_OBJS) $(SKELS)

all: $(BUILD)/flameshotd $(FULL)

# --- BPF ------------------------------------------------------------------
$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(wildcard bpf/*.h) vmlinux/$(ARCH)/vmlinux.h
	@mkdir -p $(dir $@)
	@echo '  BPF     $@'
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/gen/%.skel.h: $(BUILD)/bpf/%.bpf.o
	@mkdir -p $(dir $@)
	@echo '  SKEL    $@'
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

# --- daemon -----------------------------------------------------------------
# The revision goes in a generated header rewritten only when it changes,
# so a new commit rebuilds what prints it and nothing else.
GIT_REV_H := $(BUILD)/gen/git_rev.h
$(GIT_REV_H): FORCE
	@mkdir -p $(dir $@)
	@echo '#define FS_GIT_REV "$(GIT_REV)"' > $@.tmp
	@cmp -s $@.tmp $@ || mv $@.tmp $@
	@rm -f $@.tmp
.PHONY: FORCE
FORCE:

$(BUILD)/obj/%.o: src/%.c | $(SKELS) $(GIT_REV_H)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(CFLAGS_COMMON) $(CFLAGS) -c $< -o $@

$(FULL): $(FULL_OBJS)
	@mkdir -p $(dir $@)
	@echo '  LD      $@'
	$(Q)$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/flameshotd: $(LEAN_OBJS)
	@mkdir -p $(dir $@)
	@echo '  LD      $@'
	$(Q)$(CC) $(CFLAGS) -o $@ $^

# a link, so that the lean entry finds the full program the same way here
# as in the image (/usr/bin -> /usr/libexec/flameshot: core/entry.h)
$(BUILD)/flameshotd: $(BUILD)/bin/flameshotd
	$(Q)ln -sfn bin/flameshotd $@

# The flame graph page's script and style, embedded from their sources
FLAME_PAGE := $(wildcard src/flame/page/*.css src/flame/page/*.js)
FLAME_ASSETS_H := $(BUILD)/gen/flame_assets.h
$(FLAME_ASSETS_H): tools/embed.sh $(FLAME_PAGE)
	@mkdir -p $(dir $@)
	@echo '  EMBED   $@'
	$(Q)sh tools/embed.sh $(FLAME_PAGE) > $@.tmp && mv $@.tmp $@
$(BUILD)/obj/flame/flamepage.o $(BUILD)/asan/obj/flame/flamepage.o: $(FLAME_ASSETS_H)

# --- sanitizer variant ----------------------------------------------------
$(BUILD)/asan/obj/%.o: src/%.c | $(SKELS) $(GIT_REV_H)
	@mkdir -p $(dir $@)
	@echo '  CC      $@'
	$(Q)$(CC) $(CFLAGS_COMMON) $(ASAN_FLAGS) -c $< -o $@

$(BUILD)/asan/flameshotd: $(ASAN_OBJS)
	@echo '  LD      $@'
	$(Q)$(CC) $(ASAN_FLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/asan/libflameshot.a: $(ASAN_LIB_OBJS)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/asan/tests/test_%: test_%.c tests/harness.h $(BUILD)/asan/libflameshot.a
	@mkdir -p $(dir $@)
	@echo '  TEST    $@'
	$(Q)$(CC) $(CFLAGS_COMMON) -Itests $(ASAN_FLAGS) -o $@ $< $(BUILD)/asan/libflameshot.a $(LDLIBS)

asan: $(BUILD)/asan/flameshotd $(UNIT_BINS)

# --- test support ---------------------------------------------------------
$(BUILD)/tests/helpers/%: tests/helpers/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo '  HELPER  $@'
	$(Q)$(CC) $(CFLAGS_COMMON) -Itests -O1 -g -o $@ $< $(LIB_OBJS) $(LDLIBS)

# the JFR reader's test tool, also what tools/bench/jfr times: the reader
# alone at the agent's optimisation, without the agent's libraries (their
# loading, ~15 ms, is the CLI's start-up, not the reader's speed)
JFR_OBJS := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(wildcard src/flame/jfr*.c))
$(BUILD)/tests/helpers/jfr_collapse: tests/helpers/jfr_collapse.c $(JFR_OBJS)
	@mkdir -p $(dir $@)
	@echo '  HELPER  $@'
	$(Q)$(CC) $(CFLAGS_COMMON) -Itests $(CFLAGS) -o $@ $< $(JFR_OBJS)

# the JFR reader's test tool with sanitizers: cut and flipped real files
# (tests/integration/90_jfr_reader.sh)
ASAN_HELPERS := $(BUILD)/asan/tests/helpers/jfr_collapse
$(BUILD)/asan/tests/helpers/%: tests/helpers/%.c $(BUILD)/asan/libflameshot.a
	@mkdir -p $(dir $@)
	@echo '  HELPER  $@'
	$(Q)$(CC) $(CFLAGS_COMMON) -Itests $(ASAN_FLAGS) -o $@ $< $(BUILD)/asan/libflameshot.a $(LDLIBS)

# libFuzzer targets (clang): tests/fuzz/<target>/fuzz.c -> build/fuzz/fuzz_<target>,
# linked against a clang copy of the library (fuzzer-no-link: coverage, ASan,
# UBSan aborting) from which the linker takes what a target needs
FUZZ_TARGETS := $(patsubst tests/fuzz/%/fuzz.c,%,$(wildcard tests/fuzz/*/fuzz.c))
FUZZ_LIB_OBJS := $(LIB_SRCS:src/%.c=$(BUILD)/fuzz/obj/%.o)
FUZZ_SAN := -g -O1 -fno-omit-frame-pointer -fno-sanitize-recover=undefined
FUZZ_CFLAGS := $(filter-out -Werror -Wno-format-truncation,$(CFLAGS_COMMON)) $(FUZZ_SAN)
FUZZ := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%) $(BUILD)/fuzz/jfr_seeds
$(BUILD)/fuzz/obj/%.o: src/%.c | $(SKELS) $(GIT_REV_H)
	@mkdir -p $(dir $@)
	@echo '  FUZZCC  $@'
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
$(BUILD)/fuzz/libflameshot.a: $(FUZZ_LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^
$(BUILD)/fuzz/fuzz_%: tests/fuzz/%/fuzz.c $(BUILD)/fuzz/libflameshot.a
	@echo '  FUZZ    $@'
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -MF $@.d -fsanitize=fuzzer,address,undefined -o $@ $< \
		$(BUILD)/fuzz/libflameshot.a $(LDLIBS)
$(BUILD)/fuzz/jfr_seeds: tests/fuzz/jfr/seeds.c tests/unit/flame/jfr_build.h
	@mkdir -p $(dir $@)
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-missing-field-initializers -O1 -o $@ $<
-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%.d)
FUZZ_SECONDS ?= 60
fuzz: $(FUZZ)
	@rc=0; for t in $(FUZZ_TARGETS); do tests/fuzz/run.sh $$t $(FUZZ_SECONDS) || rc=1; done; exit $$rc

# JVMTI agents built by the tests: no JDK headers needed (see the sources)
$(BUILD)/tests/agents/%.so: tests/agents/%.c
	@mkdir -p $(dir $@)
	@echo '  AGENT   $@'
	$(Q)$(CC) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -fPIC -shared -o $@ $<

$(BUILD)/tests/java/.stamp: $(JAVA_SRCS)
	@mkdir -p $(dir $@)
	@if [ -n "$(JAVA_SRCS)" ]; then javac -d $(dir $@) $(JAVA_SRCS); fi
	@touch $@

$(BUILD)/tools/%: tools/%.c $(LIB_OBJS)
	@mkdir -p $(dir $@)
	@echo '  TOOL    $@'
	$(Q)$(CC) $(CFLAGS_COMMON) $(CFLAGS) -o $@ $< $(LIB_OBJS) $(LDLIBS)

# a real async-profiler for tests/integration/22_asprof_real.sh, built once
# from ../shared/third_party into a cache outside the tree (tests/lib/asprof.sh)
test-asprof:
	@bash tests/lib/asprof.sh build

test-build: all asan $(TEST_HELPERS) $(ASAN_HELPERS) $(FUZZ) $(TEST_AGENTS) $(BUILD)/tests/java/.stamp $(TOOLS) test-asprof

test: test-build
	@tests/run.sh

unit: test-build
	@tests/run.sh --unit

# the agent's scenarios (tools/bench/run: attach latency, detection latency,
# footprint, exec storm, node economy, outbox), one table; BENCH=... picks some
bench: test-build
	@tools/bench/run $(BENCH)

# the soak (tools/soak/run): SOAK_AGENT=asan|valgrind|release runs one agent,
# SOAK_TRIGGERS triggers (1000); by default ASan's 1000, then memcheck's
# SOAK_VALGRIND_TRIGGERS (800: enough to fill the agent's job history of
# 256, fewer than 1000: memcheck runs the agent many times slower), then
# the release build's 1000, whose RSS is the figure of flatness
SOAK_VALGRIND_TRIGGERS ?= 800
soak: test-build
	@if [ -n "$(SOAK_AGENT)" ]; then tools/soak/run --agent "$(SOAK_AGENT)"; else \
		tools/soak/run --agent asan && \
		tools/soak/run --agent valgrind --triggers $(SOAK_VALGRIND_TRIGGERS) && \
		tools/soak/run --agent release; fi

# evidence before the OOM kill, per leak rate and event source
bench-evidence: all $(BUILD)/tests/java/.stamp
	@tools/bench/evidence

# the JFR reader against async-profiler's converter
bench-jfr: all $(BUILD)/tests/helpers/jfr_collapse $(BUILD)/tests/java/.stamp test-asprof
	@tools/bench/jfr

# --- housekeeping ---------------------------------------------------------
deps:
	@tools/deps.sh

run: deps all
	@mkdir -p $${FLAMESHOT_PROFILING_PATH:-/var/lib/flameshot}
	exec $(BUILD)/flameshotd

vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$(ARCH)/vmlinux.h

FORMAT_FILES := $(wildcard src/*.c src/*/*.c include/*.h include/*/*.h bpf/*.c bpf/*.h tests/unit/*/*.c tests/unit/*/*.h tests/*.h tests/helpers/*.c tests/agents/*.c tests/fuzz/*.h tests/fuzz/*/*.c tools/*.c tools/bench/*.c tools/soak/*.c)

format:
	clang-format -i $(FORMAT_FILES)

# ctuuninitvar: cppcheck 2.10 takes out-parameters (struct *err, *tx) for
# reads of uninitialised memory across files
lint:
	clang-format --dry-run --Werror $(FORMAT_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability --inline-suppr \
		--suppress=missingIncludeSystem --suppress=ctuuninitvar -D_GNU_SOURCE -Iinclude -I. src/

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(ASAN_OBJS:.o=.d)
