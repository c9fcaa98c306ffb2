# hvkit: `make` builds build/hv (with the built-in guest) and build/guest.elf;
# `make run` boots dom0 on this terminal; `make test` runs every test (unit tests and
# end-to-end tests under ASan/UBSan); `make bench` runs the benchmarks.

CC      ?= gcc
BUILD   := build
WARN    := -Wall -Wextra -Werror
CFLAGS  := $(WARN) -O2 -g -std=gnu11 -D_GNU_SOURCE -I. -Iinclude -pthread
DUMP_LIBS := -lzstd -llz4 -lz -llzo2 -lsnappy
LDLIBS  := -lelf -ldwarf -lcapstone -lsqlite3 $(DUMP_LIBS) -pthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
PYTHON  := /usr/bin/python3

UTIL_SRCS := $(wildcard util/*.c)
HV_SRCS   := $(filter-out hv/main.c hv/hvctl.c,$(wildcard hv/*.c)) $(wildcard dbgkeys/*.c) $(filter-out dump/hvdump.c,$(wildcard dump/*.c)) $(filter-out kmdb-bridge/remote.c,$(wildcard kmdb-bridge/*.c))
HV_SRCS   += $(filter-out analyze/hvmdb.c,$(wildcard analyze/*.c))
HV_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(HV_SRCS) $(UTIL_SRCS))
TEST_KERNELS := $(patsubst tests/kernels/%.S,$(BUILD)/tests/kernels/%.elf,$(wildcard tests/kernels/*.S))
ASAN_OBJS := $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(HV_SRCS) $(UTIL_SRCS))

.PHONY: all run test unit e2e bench clean deps fuzz
all: $(BUILD)/hv $(BUILD)/hvctl $(BUILD)/hvdump $(BUILD)/hvmdb $(BUILD)/guest.elf $(BUILD)/guest-nofp.elf $(TEST_KERNELS)

# Dependencies: checked once per build tree, installed by scripts/deps.sh.
DEPS_STAMP := $(BUILD)/.deps-ok
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	@scripts/deps.sh
	@touch $@
deps: $(DEPS_STAMP)

include guest/guest.mk

$(BUILD)/obj/%.o: %.c $(DEPS_STAMP) $(wildcard */*.h) include/hvkit/abi.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/asan/obj/%.o: %.c $(DEPS_STAMP) $(wildcard */*.h) include/hvkit/abi.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -O1 -c $< -o $@
$(BUILD)/obj/hv/builtin.o: hv/builtin.S $(BUILD)/guest.elf
	@mkdir -p $(dir $@)
	$(CC) -c -DGUEST_ELF='"$(BUILD)/guest.elf"' $< -o $@

$(BUILD)/hv: $(BUILD)/obj/hv/main.o $(HV_OBJS) $(BUILD)/obj/hv/builtin.o
	$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@
DUMP_SRCS := $(filter-out dump/hvdump.c,$(wildcard dump/*.c))
$(BUILD)/hvdump: $(BUILD)/obj/dump/hvdump.o $(patsubst %.c,$(BUILD)/obj/%.o,$(DUMP_SRCS)) $(BUILD)/obj/util/util.o $(BUILD)/obj/util/pagewalk.o
	$(CC) $(CFLAGS) $^ $(DUMP_LIBS) -o $@
$(BUILD)/asan/hvdump: $(BUILD)/asan/obj/dump/hvdump.o $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(DUMP_SRCS)) $(BUILD)/asan/obj/util/util.o $(BUILD)/asan/obj/util/pagewalk.o
	$(CC) $(CFLAGS) $(SAN) $^ $(DUMP_LIBS) -o $@
ANALYZE_SRCS := $(filter-out analyze/hvmdb.c,$(wildcard analyze/*.c))
MDB_LIBS := -ldwarf -lelf -lcapstone -lreadline -lsqlite3 $(DUMP_LIBS)
$(BUILD)/hvmdb: $(BUILD)/obj/analyze/hvmdb.o $(BUILD)/obj/kmdb-bridge/remote.o $(patsubst %.c,$(BUILD)/obj/%.o,$(ANALYZE_SRCS)) $(patsubst %.c,$(BUILD)/obj/%.o,$(DUMP_SRCS)) $(patsubst %.c,$(BUILD)/obj/%.o,$(UTIL_SRCS))
	$(CC) $(CFLAGS) $^ $(MDB_LIBS) -o $@
$(BUILD)/asan/hvmdb: $(BUILD)/asan/obj/analyze/hvmdb.o $(BUILD)/asan/obj/kmdb-bridge/remote.o $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(ANALYZE_SRCS)) $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(DUMP_SRCS)) $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(UTIL_SRCS))
	$(CC) $(CFLAGS) $(SAN) $^ $(MDB_LIBS) -o $@
$(BUILD)/hvctl: $(BUILD)/obj/hv/hvctl.o $(BUILD)/obj/util/util.o
	$(CC) $(CFLAGS) $^ -o $@
$(BUILD)/asan/hv: $(BUILD)/asan/obj/hv/main.o $(ASAN_OBJS) $(BUILD)/obj/hv/builtin.o
	$(CC) $(CFLAGS) $(SAN) $^ $(LDLIBS) -o $@

# Small PVH kernels for tests and benchmarks.
$(BUILD)/tests/kernels/%.elf: tests/kernels/%.S tests/kernels/kernel.ld tests/kernels/pvh.h include/hvkit/abi.h
	@mkdir -p $(dir $@)
	$(CC) -m32 -c -Iinclude -Itests/kernels $< -o $(BUILD)/tests/kernels/$*.o
	ld -m elf_i386 --no-warn-rwx-segments -T tests/kernels/kernel.ld -nostdlib $(BUILD)/tests/kernels/$*.o -o $@

run: $(BUILD)/hv
	$(BUILD)/hv

# Unit tests: cmocka, built with ASan/UBSan.
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/asan/tests/%,$(UNIT_SRCS))
$(BUILD)/asan/tests/%: tests/unit/%.c $(ASAN_OBJS) $(BUILD)/obj/hv/builtin.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $< $(ASAN_OBJS) $(BUILD)/obj/hv/builtin.o $(LDLIBS) -lcmocka -o $@

# Fuzz targets: libFuzzer (clang) with ASan/UBSan over the readers of untrusted input.
FUZZ_CC    := clang
FUZZ_FLAGS := $(WARN) -g -O1 -std=gnu11 -D_GNU_SOURCE -I. -Iinclude -pthread -fsanitize=address,undefined
FUZZ_OBJS  := $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(sort $(HV_SRCS) $(UTIL_SRCS) $(ANALYZE_SRCS)))
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/fuzz/obj/%.o: %.c $(DEPS_STAMP) $(wildcard */*.h) include/hvkit/abi.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_OBJS) $(BUILD)/obj/hv/builtin.o
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< $(FUZZ_OBJS) $(BUILD)/obj/hv/builtin.o $(LDLIBS) $(MDB_LIBS) -o $@
FUZZ_SECONDS ?= 8
.SECONDARY: $(FUZZ_OBJS) $(ASAN_OBJS) $(HV_OBJS)

FUZZ_TEST_BINS := $(FUZZ_BINS)

test: all $(BUILD)/asan/hv $(BUILD)/asan/hvdump $(BUILD)/asan/hvmdb $(UNIT_BINS) $(FUZZ_TEST_BINS)
	@$(PYTHON) tests/run.py --build $(BUILD) --fuzz-seconds $(FUZZ_SECONDS) --fuzz "$(FUZZ_TEST_BINS)" $(UNIT_BINS)

fuzz: all $(FUZZ_BINS)
	@$(PYTHON) tests/run.py --build $(BUILD) --fuzz-seconds $${FUZZ_SECONDS:-300} --fuzz "$(FUZZ_BINS)" --fuzz-only

bench: all
	@$(PYTHON) bench/run.py --build $(BUILD)

clean:
	rm -rf $(BUILD)

# The gdb stub (kmdb-bridge/gdb*.c, no hv/ in it): unit test, fake target for the
# end-to-end tests, fuzz target; all three share the fake target's ops.
GDBSTUB_SRCS := kmdb-bridge/gdbstub.c kmdb-bridge/gdbpkt.c kmdb-bridge/gdbregs.c kmdb-bridge/gdblisten.c util/util.c
GDBFAKE      := tests/gdbstub_fake_ops.c tests/gdbstub_fake.h
$(BUILD)/asan/tests/test_gdbstub: tests/unit/test_gdbstub.c $(GDBFAKE) $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(GDBSTUB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(filter %.c %.o,$^) -lcmocka -o $@
$(BUILD)/tests/gdbstub_fake: tests/gdbstub_fake.c $(GDBFAKE) $(patsubst %.c,$(BUILD)/obj/%.o,$(GDBSTUB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(filter %.c %.o,$^) -o $@
$(BUILD)/asan/tests/gdbstub_fake: tests/gdbstub_fake.c $(GDBFAKE) $(patsubst %.c,$(BUILD)/asan/obj/%.o,$(GDBSTUB_SRCS))
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $(filter %.c %.o,$^) -o $@
$(BUILD)/fuzz/fuzz_gdbstub: tests/fuzz/fuzz_gdbstub.c $(GDBFAKE) $(patsubst %.c,$(BUILD)/fuzz/obj/%.o,$(GDBSTUB_SRCS))
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $(filter %.c %.o,$^) -o $@
all: $(BUILD)/tests/gdbstub_fake
test: $(BUILD)/asan/tests/gdbstub_fake
