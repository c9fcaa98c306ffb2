# hvkit: `make` builds build/hv (with the built-in guest) and build/guest.elf;
# `make run` boots dom0 on this terminal; `make test` runs every test (unit tests and
# end-to-end tests under ASan/UBSan); `make bench` runs the benchmarks.

CC      ?= gcc
BUILD   := build
WARN    := -Wall -Wextra -Werror
CFLAGS  := $(WARN) -O2 -g -std=gnu11 -fms-extensions -D_GNU_SOURCE -I. -Iinclude -pthread
DUMP_LIBS := -lzstd -llz4 -lz -llzo2 -lsnappy -lxxhash
LDLIBS  := -lelf -ldwarf -lcapstone -lsqlite3 -lssl -lcrypto $(DUMP_LIBS) -pthread
SAN     := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
PYTHON  := /usr/bin/python3
# The version every program's --version prints: VERSION, and the commit in a git checkout.
HVKIT_VERSION := $(shell cat VERSION)$(shell git describe --always --dirty 2>/dev/null | sed 's/^/+g/')

# The libraries: one static archive per folder, named in link order (a folder uses only
# the ones after it). scripts/layers.sh checks each archive's undefined symbols against
# the folders it may use (LAYERS below), so an upward call fails the build.
LIBS := dbgkeys kmdb mdb/os/linux mdb/os/guest mdb mdb/debuginfo hv gdb dump x86 util
HV_LIBS   := $(LIBS)
MDB_LIBS_ := mdb/os/linux mdb/os/guest mdb mdb/debuginfo gdb dump x86 util
DUMP_LIBS_ := dump x86 util
HDRS := $(wildcard */*.h */*/*.h */*/*/*.h include/hvkit/*.h)
# $(call libs,OBJDIR,FOLDERS): the archives of FOLDERS in the tree OBJDIR
libs = $(foreach d,$(2),$(1)/lib/lib$(subst /,_,$(d)).a)
define archive
$(1)/lib/lib$(subst /,_,$(2)).a: $(patsubst %.c,$(1)/%.o,$(wildcard $(2)/*.c))
	@mkdir -p $$(dir $$@)
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach o,$(BUILD)/obj $(BUILD)/asan/obj $(BUILD)/fuzz/obj,$(foreach d,$(LIBS),$(eval $(call archive,$(o),$(d)))))
ALL_SRCS := $(foreach d,$(LIBS),$(wildcard $(d)/*.c))
TEST_KERNELS := $(patsubst tests/kernels/%.S,$(BUILD)/tests/kernels/%.elf,$(wildcard tests/kernels/*.S))
PROGS := hv hvctl hvdump hvmdb

.PHONY: all run test unit e2e bench clean deps fuzz layers install uninstall linux-fixture FORCE
all: $(foreach p,$(PROGS),$(BUILD)/$(p)) $(BUILD)/guest.elf $(BUILD)/guest-nofp.elf $(TEST_KERNELS) $(BUILD)/tests/tinyinit $(BUILD)/tests/tinyinit-int80 $(BUILD)/.layers-ok

# Dependencies: checked once per build tree, installed by scripts/deps.sh.
DEPS_STAMP := $(BUILD)/.deps-ok
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(BUILD)
	@scripts/deps.sh
	@touch $@
deps: $(DEPS_STAMP)

include guest/guest.mk

# util/version.c gets HVKIT_VERSION; rebuilt when it changes ($(BUILD)/.version).
VERSION_OBJS := $(BUILD)/obj/util/version.o $(BUILD)/asan/obj/util/version.o $(BUILD)/fuzz/obj/util/version.o
$(VERSION_OBJS): $(BUILD)/.version
$(VERSION_OBJS): CFLAGS += -DHVKIT_VERSION='"$(HVKIT_VERSION)"'
$(VERSION_OBJS): FUZZ_FLAGS += -DHVKIT_VERSION='"$(HVKIT_VERSION)"'
$(BUILD)/.version: FORCE
	@mkdir -p $(BUILD)
	@echo '$(HVKIT_VERSION)' | cmp -s - $@ || echo '$(HVKIT_VERSION)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(DEPS_STAMP) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@
$(BUILD)/asan/obj/%.o: %.c $(DEPS_STAMP) $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) -O1 -c $< -o $@
$(BUILD)/obj/hv/builtin.o: hv/builtin.S $(BUILD)/guest.elf $(BUILD)/obj/hv/dsdt.aml
	@mkdir -p $(dir $@)
	$(CC) -c -DGUEST_ELF='"$(BUILD)/guest.elf"' -DDSDT_AML='"$(BUILD)/obj/hv/dsdt.aml"' $< -o $@
# the DSDT: ACPI Source Language compiled by iasl (acpica-tools), with abi.h's plain
# HVKIT_ACPI_ numbers (iasl's preprocessor takes no function-like macros)
$(BUILD)/obj/hv/dsdt.aml: hv/dsdt.asl include/hvkit/abi.h $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	grep -E '^#define HVKIT_ACPI_[A-Z0-9_]+ +[0-9a-fx]+$$' include/hvkit/abi.h > $(dir $@)hvkit_acpi.h
	iasl -we -I $(dir $@) -p $(basename $@) $< > $(basename $@).log || { cat $(basename $@).log; exit 1; }

# tests/linux/tinyinit.c: a Linux test domain's /init, freestanding and without SSE.
# tinyinit-int80: the same with `int $$0x80` system calls (docs/linux.md: what kvm_pvm does with each).
TINYINIT_CFLAGS := -static -nostdlib -ffreestanding -fno-pic -no-pie -fno-stack-protector -mgeneral-regs-only -O2 -Wall -Wextra -Werror
$(BUILD)/tests/tinyinit: tests/linux/tinyinit.c
	@mkdir -p $(dir $@)
	$(CC) $(TINYINIT_CFLAGS) $< -o $@
$(BUILD)/tests/tinyinit-int80: tests/linux/tinyinit.c
	@mkdir -p $(dir $@)
	$(CC) $(TINYINIT_CFLAGS) -DTINYINIT_INT80 $< -o $@

# The layering check: which folders each folder's archive may call into.
LAYERS := util: ;x86: util;dump: x86 util;gdb: x86 util;hv: dump x86 util; \
	mdb/debuginfo: x86 util;mdb: mdb/debuginfo gdb dump x86 util; \
	mdb/os/guest: mdb mdb/debuginfo x86 util;mdb/os/linux: mdb mdb/debuginfo dump x86 util; \
	kmdb: mdb/os/linux mdb/os/guest mdb mdb/debuginfo hv gdb dump x86 util;dbgkeys: kmdb mdb mdb/debuginfo hv dump x86 util
$(BUILD)/.layers-ok: scripts/layers.sh $(call libs,$(BUILD)/obj,$(LIBS))
	@scripts/layers.sh $(BUILD)/obj/lib "$(LAYERS)"
	@touch $@
layers: $(BUILD)/.layers-ok

# The programs: cmd/NAME/main.c and the archives, in layer order.
# (the mdb archives, in layer order)
GROUP = $(filter %/libmdb.a %/libmdb_debuginfo.a %/libmdb_os_linux.a %/libmdb_os_guest.a,$(1))
NOGROUP = $(filter-out %/libmdb.a %/libmdb_debuginfo.a %/libmdb_os_linux.a %/libmdb_os_guest.a,$(1))
$(BUILD)/hv: $(BUILD)/obj/cmd/hv/main.o $(call libs,$(BUILD)/obj,$(HV_LIBS)) $(BUILD)/obj/hv/builtin.o
	$(CC) $(CFLAGS) $(filter %/main.o %/libdbgkeys.a %/libkmdb.a,$^) $(call GROUP,$^) $(filter-out %/main.o %/libdbgkeys.a %/libkmdb.a,$(call NOGROUP,$^)) $(LDLIBS) -o $@
$(BUILD)/asan/hv: $(BUILD)/asan/obj/cmd/hv/main.o $(call libs,$(BUILD)/asan/obj,$(HV_LIBS)) $(BUILD)/obj/hv/builtin.o
	$(CC) $(CFLAGS) $(SAN) $(filter %/main.o %/libdbgkeys.a %/libkmdb.a,$^) $(call GROUP,$^) $(filter-out %/main.o %/libdbgkeys.a %/libkmdb.a,$(call NOGROUP,$^)) $(LDLIBS) -o $@
$(BUILD)/hvdump: $(BUILD)/obj/cmd/hvdump/main.o $(call libs,$(BUILD)/obj,$(DUMP_LIBS_))
	$(CC) $(CFLAGS) $^ $(DUMP_LIBS) -o $@
$(BUILD)/asan/hvdump: $(BUILD)/asan/obj/cmd/hvdump/main.o $(call libs,$(BUILD)/asan/obj,$(DUMP_LIBS_))
	$(CC) $(CFLAGS) $(SAN) $^ $(DUMP_LIBS) -o $@
MDB_LIBS := -ldwarf -lelf -lcapstone -lreadline -lsqlite3 $(DUMP_LIBS)
$(BUILD)/hvmdb: $(BUILD)/obj/cmd/hvmdb/main.o $(call libs,$(BUILD)/obj,$(MDB_LIBS_))
	$(CC) $(CFLAGS) $(filter %/main.o,$^) $(call GROUP,$^) $(filter-out %/main.o,$(call NOGROUP,$^)) $(MDB_LIBS) -o $@
$(BUILD)/asan/hvmdb: $(BUILD)/asan/obj/cmd/hvmdb/main.o $(call libs,$(BUILD)/asan/obj,$(MDB_LIBS_))
	$(CC) $(CFLAGS) $(SAN) $(filter %/main.o,$^) $(call GROUP,$^) $(filter-out %/main.o,$(call NOGROUP,$^)) $(MDB_LIBS) -o $@
$(BUILD)/hvctl: $(BUILD)/obj/cmd/hvctl/main.o $(call libs,$(BUILD)/obj,util)
	$(CC) $(CFLAGS) $^ -o $@

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
ASAN_LIBS := $(call libs,$(BUILD)/asan/obj,$(LIBS))
$(BUILD)/asan/tests/%: tests/unit/%.c $(ASAN_LIBS) $(BUILD)/obj/hv/builtin.o
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SAN) $< -Wl,--start-group $(ASAN_LIBS) -Wl,--end-group $(BUILD)/obj/hv/builtin.o $(LDLIBS) -lcmocka -o $@

# Fuzz targets: libFuzzer (clang) with ASan/UBSan over the readers of untrusted input.
FUZZ_CC    := clang
FUZZ_FLAGS := $(WARN) -Wno-microsoft-anon-tag -g -O1 -std=gnu11 -fms-extensions -D_GNU_SOURCE -I. -Iinclude -pthread -fsanitize=address,undefined
FUZZ_LIBS  := $(call libs,$(BUILD)/fuzz/obj,$(LIBS))
FUZZ_BINS  := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/fuzz/obj/%.o: %.c $(DEPS_STAMP) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(BUILD)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIBS) $(BUILD)/obj/hv/builtin.o
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer $< -Wl,--start-group $(FUZZ_LIBS) -Wl,--end-group $(BUILD)/obj/hv/builtin.o $(LDLIBS) $(MDB_LIBS) -o $@
FUZZ_SECONDS ?= 8
.SECONDARY:

FUZZ_TEST_BINS := $(FUZZ_BINS)

# The Linux fixture the Linux tests read (scripts/linux-fixture.sh --compact, in
# ${HVKIT_CACHE:-~/.cache/hvkit}/linux): made when missing (minutes, once), beside the build under
# -j2; a failure is one line and the Linux tests then fail saying why. HVKIT_NO_LINUX=1 skips
# both; HVKIT_FIXTURE_HV=1 adds hv's own Linux dumps (step 5, needs hv built, ~15 min here).
linux-fixture: $(DEPS_STAMP) $(if $(filter 1,$(HVKIT_FIXTURE_HV)),$(BUILD)/hv $(BUILD)/hvctl)
	@if [ "$(HVKIT_NO_LINUX)" = 1 ]; then echo "linux-fixture: not made (HVKIT_NO_LINUX=1: the Linux tests skip)"; \
	else HVKIT_HV=$(abspath $(BUILD))/hv scripts/linux-fixture.sh --compact || true; fi

test: all $(BUILD)/asan/hv $(BUILD)/asan/hvdump $(BUILD)/asan/hvmdb $(UNIT_BINS) $(FUZZ_TEST_BINS) linux-fixture
	@$(PYTHON) tests/run.py --build $(BUILD) --fuzz-seconds $(FUZZ_SECONDS) --fuzz "$(FUZZ_TEST_BINS)" $(UNIT_BINS)

fuzz: all $(FUZZ_BINS)
	@$(PYTHON) tests/run.py --build $(BUILD) --fuzz-seconds $${FUZZ_SECONDS:-300} --fuzz "$(FUZZ_BINS)" --fuzz-only

bench: all
	@$(PYTHON) bench/run.py --build $(BUILD)

clean:
	rm -rf $(BUILD)

# make install [PREFIX=/usr/local] [DESTDIR=]: the programs, their man pages (man/*.1),
# hvctl's and hvmdb's bash completion and the systemd unit (hv --daemon, dist/hvkit.service).
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
MAN1DIR := $(PREFIX)/share/man/man1
COMPDIR := $(PREFIX)/share/bash-completion/completions
UNITDIR := $(PREFIX)/lib/systemd/system
install: $(foreach p,$(PROGS),$(BUILD)/$(p))
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MAN1DIR) $(DESTDIR)$(COMPDIR) $(DESTDIR)$(UNITDIR)
	install -m 0755 $(foreach p,$(PROGS),$(BUILD)/$(p)) $(DESTDIR)$(BINDIR)/
	install -m 0644 $(foreach p,$(PROGS),man/$(p).1) $(DESTDIR)$(MAN1DIR)/
	install -m 0644 dist/hvctl.bash $(DESTDIR)$(COMPDIR)/hvctl
	install -m 0644 dist/hvmdb.bash $(DESTDIR)$(COMPDIR)/hvmdb
	sed 's|@BINDIR@|$(BINDIR)|g' dist/hvkit.service > $(DESTDIR)$(UNITDIR)/hvkit.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/hvkit.service
uninstall:
	rm -f $(foreach p,$(PROGS),$(DESTDIR)$(BINDIR)/$(p) $(DESTDIR)$(MAN1DIR)/$(p).1) \
	      $(DESTDIR)$(COMPDIR)/hvctl $(DESTDIR)$(COMPDIR)/hvmdb $(DESTDIR)$(UNITDIR)/hvkit.service

# The gdb stub (gdb/, no hv/ in it): unit test, fake target for the
# end-to-end tests, fuzz target; all three share the fake target's ops.
GDBSTUB_SRCS := $(wildcard gdb/*.c) $(filter-out x86/fallback.c,$(wildcard x86/*.c)) util/util.c util/access.c
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
