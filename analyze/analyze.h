/* analyze: the debugger engine behind hvmdb. A target is an ops vector (registers per
 * CPU, physical reads; virtual reads go through the x86-64 page walk here); the dump
 * target lives in this directory, the live one will come with the kmdb bridge. Commands
 * are mdb's (::status, $r, $c, ADDR/FMT, ::dis, ...), with crash's aliases. */
#ifndef HVKIT_ANALYZE_H
#define HVKIT_ANALYZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/util.h"

struct target_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rbp, rsp, r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags, cr0, cr2, cr3, cr4, efer, fs_base, gs_base;
	uint16_t cs, ss;
	bool online, full; /* full: every field known (our dumps); else the NT_PRSTATUS subset */
};

struct target;
struct target_ops {
	const char *kind;
	unsigned (*nr_cpus)(struct target *t);
	int (*regs)(struct target *t, unsigned cpu, struct target_regs *r);
	/* guest-physical read; returns bytes read (short at a hole) */
	size_t (*read_phys)(struct target *t, uint64_t pa, void *buf, size_t len);
	void (*status)(struct target *t, FILE *out);
	const char *(*vmcoreinfo)(struct target *t); /* may be NULL */
	void (*close)(struct target *t);
};

struct target {
	const struct target_ops *ops;
	void *priv;
	struct symtab syms;
	char *symfile; /* for DWARF, opened on first use */
	void *dwarf;
	void *lines;   /* lines.c */
	unsigned cpu; /* the current CPU (::switch) */
	bool json;    /* listing commands print JSON (hvmdb --json) */
};

struct target *target_dump_open(const char *path, struct err *e);
void target_close(struct target *t);
int target_add_symbols(struct target *t, const char *path, struct err *e);
/* The dump's kernel build-id (VMCOREINFO BUILD-ID=) against the symbol file's: -1 with
 * a message when both are known and differ. */
int target_check_build_id(struct target *t, const char *path, struct err *e);
/* Text of the target's VMCOREINFO, or NULL. */
const char *target_vmcoreinfo(struct target *t);
/* Virtual to physical through CPU cpu's CR3 (4-level paging); -1 if not mapped. */
int target_vtop(struct target *t, unsigned cpu, uint64_t va, uint64_t *pa, uint64_t *page_size);
/* Virtual read through CPU cpu's page tables; returns bytes read. */
size_t target_read_virt(struct target *t, unsigned cpu, uint64_t va, void *buf, size_t len);
/* "name+0x1c" for a code address (is_return: look one byte back); false when unknown. */
bool target_symbolize(struct target *t, uint64_t addr, bool is_return, char *buf, size_t len);

/* dwarf.c: DWARF types of the symbol file */
int dwarf_cmd_print(struct target *t, const char *type, uint64_t addr, FILE *out);
int dwarf_cmd_sizeof(struct target *t, const char *type, FILE *out);
int dwarf_cmd_offsetof(struct target *t, const char *type, const char *member, FILE *out);
void dwarf_close_target(struct target *t);
/* The libdwarf handle of the symbol file (opened on first use), or NULL. */
void *dwarf_debug_handle(struct target *t);
/* lines.c: "file.c:123" for a code address; false when unknown. */
bool target_addr_line(struct target *t, uint64_t addr, char *buf, size_t len);
void target_lines_free(struct target *t);

/* Runs one command line (several may be separated by ';'). Returns 0, or -1 after an
 * error message on out. */
int mdb_exec(struct target *t, const char *line, FILE *out);
/* For completion: the command names, NULL-terminated. */
extern const char *const mdb_command_names[];

#endif
