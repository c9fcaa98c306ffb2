/* x86: the one model of the x86-64 machine that every layer shares: the register set and
 * its description table, the page walk (4 and 5 levels) and canonical addresses. */
#ifndef HVKIT_X86_H
#define HVKIT_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- regs.c: the registers of one vCPU, the one type every layer converts to (KVM's
 * kvm_regs/kvm_sregs in hv/, dump_cpu in dump/, gdb's 'g' packet in gdb/, the debugger's
 * target_regs), and the one table that describes them. */
struct x86_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer;
	uint64_t fs_base, gs_base;
	uint16_t cs, ss, ds, es, fs, gs; /* selectors */
};

/* The gdb target description's features (gdb/gdbregs.c names them in target.xml). */
enum x86_gdb_feature { X86_GDB_CORE, X86_GDB_SEGMENTS, X86_GDB_SYS, X86_GDB_NFEATURES };

enum x86_reg_flags {
	X86_REG_KVM = 1u << 0,   /* in KVM's struct kvm_regs (the GPRs, rip, rflags): settable live */
	X86_REG_FULL = 1u << 1,  /* known from a full vCPU state only, not an ELF core's NT_PRSTATUS */
	X86_REG_SHOWN = 1u << 2, /* listed by hvmdb's $r --json, in table order */
	X86_REG_ZERO = 1u << 3,  /* no storage here: gdb's x87 registers, read as zero, writes ignored */
};

/* One register. The table's order is hvmdb's ($r --json); gdb's order is the gdb column. */
struct x86_reg_desc {
	const char *name;      /* "rflags", "fs_base", "st0" */
	int off;               /* in struct x86_regs; -1 with X86_REG_ZERO */
	uint8_t size;          /* bytes there: 8, or 2 for a selector */
	int gdb;               /* number in our target.xml ('p'/'P', the order of 'g'); -1: none */
	uint8_t gdb_size;      /* bytes on gdb's wire: 8; 4 for eflags and selectors; 10 for st0-7 */
	int dwarf;             /* DWARF number (x86-64 psABI); -1: none */
	uint8_t gdb_feature;   /* enum x86_gdb_feature */
	const char *gdb_name;  /* gdb's name when it differs ("eflags"), else NULL */
	const char *gdb_type;  /* target.xml type: "int64", "code_ptr", "i386_eflags" ... */
	const char *gdb_group; /* target.xml group, or NULL */
	unsigned flags;        /* enum x86_reg_flags */
};

extern const struct x86_reg_desc x86_reg_table[];
extern const size_t x86_reg_count;
#define X86_GDB_NREGS 48 /* registers in our target.xml: gdb numbers 0..47 */

/* Lookups; NULL when there is no such register. */
const struct x86_reg_desc *x86_reg_by_name(const char *name);
const struct x86_reg_desc *x86_reg_by_gdb(unsigned n);
const struct x86_reg_desc *x86_reg_by_dwarf(unsigned n);
/* The value (zero-extended; 0 without storage), and setting it (truncated to the
 * register's size; ignored without storage). */
uint64_t x86_reg_get(const struct x86_regs *r, const struct x86_reg_desc *d);
void x86_reg_set(struct x86_regs *r, const struct x86_reg_desc *d, uint64_t v);
/* va canonical under 4-level paging (bits 48-63 copy bit 47): what a stack walker that
 * does not know the paging mode asks of a frame pointer. */
bool x86_canonical(uint64_t va);

/* ---- pagewalk.c: the x86-64 page walk, 4-level and 5-level (CR4.LA57), over a reader of
 * guest-physical memory (0, or -1 when [pa, pa + len) cannot be read). */
typedef int (*pagewalk_read_fn)(void *opaque, uint64_t pa, void *buf, size_t len);
struct pagewalk {
	uint64_t top;   /* CR3, or a kernel's top table: the PML4 (PML5 at 5 levels) in bits 12-51 */
	int levels;     /* 4 or 5 */
	pagewalk_read_fn read;
	void *opaque;
};
/* The paging mode of CR0, CR4 and EFER: 0 paging off, 4 or 5 long-mode levels, -1 for
 * 32-bit or PAE paging (not walked here). */
int pagewalk_levels(uint64_t cr0, uint64_t cr4, uint64_t efer);
/* va sign-extended from bit 47 (4 levels) or 56 (5 levels). */
bool pagewalk_canonical(uint64_t va, int levels);
/* va to pa, and the size of the page holding it (4 KiB, 2 MiB or 1 GiB); -1 with a message
 * for a non-canonical address, an unreadable table, a non-present or reserved entry. */
int pagewalk_translate(const struct pagewalk *w, uint64_t va, uint64_t *pa, uint64_t *page_size, struct err *e);
/* Each page mapped (the lower and upper half, or the upper half only), in address order:
 * fn(opaque, canonical va, pa, page size); a non-zero return stops the walk. Entries with
 * reserved bits and unreadable lower tables are skipped; so is a table that points back
 * to one above it. Reads at most PAGEWALK_MAX_TABLES tables. Returns 0, 1 when fn stopped
 * it, or -1 with a message (the top table unreadable, too many tables). */
#define PAGEWALK_MAX_TABLES 65536u
typedef int (*pagewalk_map_fn)(void *opaque, uint64_t va, uint64_t pa, uint64_t size);
int pagewalk_each(const struct pagewalk *w, bool upper_half, pagewalk_map_fn fn, void *opaque, struct err *e);

/* ---- fallback.c: the few instructions a host's instruction emulator may reject (kvm_pvm
 * runs every guest instruction through KVM's emulator, which lacks int3, int N, fwait,
 * ldmxcsr and stmxcsr), completed from the vCPU's state: decoded with capstone, checked as
 * the CPU checks them (CR0.TS, CR4.OSFXSR, the IDT gate's DPL, MXCSR's reserved bits), and
 * either done (rip advanced, memory or MXCSR written) or turned into the exception the CPU
 * would raise. Never reached on hardware KVM. */
struct x86_fb_cpu {
	struct x86_regs r;      /* in: the registers; out: rip advanced when done */
	uint64_t idt_base;
	uint16_t idt_limit;
	unsigned cpl;           /* CS.DPL */
	bool long64;            /* CS.L: 64-bit code (the only mode decoded) */
	uint32_t mxcsr, mxcsr_mask; /* in/out; mask 0 means the default 0xffbf */
	uint16_t fsw, fcw;      /* x87 status and control words */
};
/* The event to deliver when the result is X86_FB_INJECT. */
struct x86_fb_event {
	uint8_t vector;
	bool has_error;
	uint32_t error;
	bool soft;              /* int3, int N, int1: delivered as a trap, rip after the instruction */
	bool has_cr2;           /* a page fault: CR2 is set to cr2 first */
	uint64_t cr2;
};
/* Guest-virtual memory as the vCPU sees it: 0, or -1 when a byte cannot be reached. */
struct x86_fb_mem {
	void *opaque;
	int (*read)(void *opaque, uint64_t va, void *buf, size_t len);
	int (*write)(void *opaque, uint64_t va, const void *buf, size_t len);
};
enum x86_fb_result {
	X86_FB_DONE,    /* completed: registers (and mxcsr, memory) updated */
	X86_FB_INJECT,  /* the CPU raises an exception or interrupt: *ev says which */
	X86_FB_UNKNOWN, /* not one of ours: the caller crashes the domain as before */
};
#define X86_FB_MXCSR_CHANGED 1u /* *changed: the caller writes MXCSR back */
/* Completes the instruction at c->r.rip whose bytes are insn[0..len). name receives its
 * mnemonic ("int3", "ldmxcsr"), or for X86_FB_UNKNOWN what it was and why. */
enum x86_fb_result x86_fallback(struct x86_fb_cpu *c, const uint8_t *insn, size_t len,
				const struct x86_fb_mem *m, struct x86_fb_event *ev, unsigned *changed,
				char *name, size_t namelen);

#endif
