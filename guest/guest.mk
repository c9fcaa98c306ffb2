# guest.mk: builds build/guest.elf, the built-in guest kernel (included by the top Makefile).
# Two links: the second adds the kernel's own symbol table (mksyms.sh) in the last section.

GUEST_CC     ?= gcc
GUEST_CFLAGS := -ffreestanding -fno-pic -mcmodel=kernel -mno-red-zone -mgeneral-regs-only -mno-sse \
                -mno-mmx -mno-avx -fno-stack-protector -fno-omit-frame-pointer -fno-builtin -nostdlib \
                -fno-asynchronous-unwind-tables -fno-optimize-sibling-calls -O2 -g -Wall -Wextra -Werror -std=gnu11 -Iinclude -Iguest
GUEST_LDFLAGS := -nostdlib -static -z max-page-size=4096 --no-warn-rwx-segments --build-id=sha1 -T guest/guest.ld
GUEST_SRCS   := $(wildcard guest/*.c)
GUEST_ASMS   := $(wildcard guest/*.S)
GUEST_OBJS   := $(patsubst guest/%.c,$(BUILD)/guest/%.o,$(GUEST_SRCS)) $(patsubst guest/%.S,$(BUILD)/guest/%.o,$(GUEST_ASMS))

$(BUILD)/guest/%.o: guest/%.c guest/guest.h guest/kernel.h include/hvkit/abi.h guest/guest.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(BUILD)/guest/%.o: guest/%.S include/hvkit/abi.h guest/guest.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_CFLAGS) -D__ASSEMBLER__ -c $< -o $@

$(BUILD)/guest/pass1.elf: $(GUEST_OBJS) guest/guest.ld
	ld $(GUEST_LDFLAGS) $(GUEST_OBJS) -o $@
$(BUILD)/guest/ksyms.c: $(BUILD)/guest/pass1.elf guest/mksyms.sh
	guest/mksyms.sh $< > $@
$(BUILD)/guest/ksyms.o: $(BUILD)/guest/ksyms.c
	$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@
$(BUILD)/guest.elf: $(GUEST_OBJS) $(BUILD)/guest/ksyms.o guest/guest.ld
	ld $(GUEST_LDFLAGS) $(GUEST_OBJS) $(BUILD)/guest/ksyms.o -o $@
	@nm -n $(BUILD)/guest/pass1.elf | grep ' [tT] ' > $(BUILD)/guest/syms1.txt
	@nm -n $@ | grep ' [tT] ' > $(BUILD)/guest/syms2.txt
	@cmp -s $(BUILD)/guest/syms1.txt $(BUILD)/guest/syms2.txt || { echo "guest: text moved between links"; rm -f $@; exit 1; }
	@# int instructions only in the shell's insns test (which hv completes on kvm_pvm)
	@! objdump -d $@ | awk '/^[0-9a-f]+ <.*>:$$/ { f = $$2 } f != "<cmd_insns>:"' | grep -qE '\s(int|int3|into)\s' || { echo "guest: an int instruction slipped in"; rm -f $@; exit 1; }

# build/guest-nofp.elf: the same kernel without frame pointers, its CFI kept in .eh_frame (the
# linker script's discard list minus .eh_frame): the subject of hvmdb's DWARF CFI unwinder test.
GUEST_NOFP_CFLAGS := $(filter-out -fno-omit-frame-pointer -fno-asynchronous-unwind-tables,$(GUEST_CFLAGS)) \
                     -fomit-frame-pointer -fasynchronous-unwind-tables
GUEST_NOFP_OBJS   := $(patsubst $(BUILD)/guest/%,$(BUILD)/guest-nofp/%,$(GUEST_OBJS))
GUEST_NOFP_LDFLAGS := $(filter-out -T guest/guest.ld,$(GUEST_LDFLAGS)) -T $(BUILD)/guest-nofp/guest.ld

$(BUILD)/guest-nofp/%.o: guest/%.c guest/guest.h guest/kernel.h include/hvkit/abi.h guest/guest.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_NOFP_CFLAGS) -c $< -o $@
$(BUILD)/guest-nofp/%.o: guest/%.S include/hvkit/abi.h guest/guest.mk
	@mkdir -p $(dir $@)
	$(GUEST_CC) $(GUEST_NOFP_CFLAGS) -D__ASSEMBLER__ -c $< -o $@
$(BUILD)/guest-nofp/guest.ld: guest/guest.ld
	@mkdir -p $(dir $@)
	sed 's/ \*(\.eh_frame)//' $< > $@
$(BUILD)/guest-nofp/pass1.elf: $(GUEST_NOFP_OBJS) $(BUILD)/guest-nofp/guest.ld
	ld $(GUEST_NOFP_LDFLAGS) $(GUEST_NOFP_OBJS) -o $@
$(BUILD)/guest-nofp/ksyms.c: $(BUILD)/guest-nofp/pass1.elf guest/mksyms.sh
	guest/mksyms.sh $< > $@
$(BUILD)/guest-nofp/ksyms.o: $(BUILD)/guest-nofp/ksyms.c
	$(GUEST_CC) $(GUEST_NOFP_CFLAGS) -c $< -o $@
$(BUILD)/guest-nofp.elf: $(GUEST_NOFP_OBJS) $(BUILD)/guest-nofp/ksyms.o $(BUILD)/guest-nofp/guest.ld
	ld $(GUEST_NOFP_LDFLAGS) $(GUEST_NOFP_OBJS) $(BUILD)/guest-nofp/ksyms.o -o $@
	@nm -n $(BUILD)/guest-nofp/pass1.elf | grep ' [tT] ' > $(BUILD)/guest-nofp/syms1.txt
	@nm -n $@ | grep ' [tT] ' > $(BUILD)/guest-nofp/syms2.txt
	@cmp -s $(BUILD)/guest-nofp/syms1.txt $(BUILD)/guest-nofp/syms2.txt || { echo "guest-nofp: text moved between links"; rm -f $@; exit 1; }
