/* dwarf_priv: what the DWARF type files share (private to mdb/debuginfo/): the symbol
 * file's handle per target, DIE helpers, the type lookup, member lookup through anonymous
 * structs and unions, reading a typed value, and C declarations of types. dwarf.c has the
 * helpers and mdb's ::print; dwarf_decl.c the declarations (crash's whatis); dwarf_expr.c
 * crash's p EXPR, printed as gdb prints values (dwarf_value.c). */
#ifndef HVKIT_MDB_DEBUGINFO_DWARF_PRIV_H
#define HVKIT_MDB_DEBUGINFO_DWARF_PRIV_H

#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>

#include "mdb/mdb.h"

#define DW_GLOBALS 16
struct dw {
	struct dwarf_obj *obj;
	Dwarf_Debug dbg;
	const struct dwarf_mem *mem; /* during a print: the target's memory and symbols */
	bool show_types;             /* ::print -t: each member with its type */
	struct {                     /* dw_global's answers, the last DW_GLOBALS names */
		char *name;
		uint64_t off;
		bool func;
	} globals[DW_GLOBALS];
	size_t next_global;
};

/* The target's handle, opened on first use; NULL after a message on out (may be NULL). */
struct dw *dw_get(struct target *t, FILE *out);
Dwarf_Half dw_tag(Dwarf_Die die);
/* The DIE after die among its siblings, or NULL; die is deallocated (a walk's step). */
Dwarf_Die dw_next(struct dw *d, Dwarf_Die die);
bool dw_name_is(Dwarf_Die die, const char *name);
bool dw_has_attr(Dwarf_Die die, Dwarf_Half at);
int dw_udata(Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *v);
/* The DIE's DW_AT_type (the caller deallocates it), or NULL (void). */
Dwarf_Die dw_type_of(struct dw *d, Dwarf_Die die);
uint64_t dw_type_size(struct dw *d, Dwarf_Die t);
/* Through typedefs and qualifiers to the type itself; consumes t. */
Dwarf_Die dw_strip(struct dw *d, Dwarf_Die t);
/* The defining DIE of a type by kind and name (through the type index), or NULL. */
Dwarf_Die dw_find_type(struct target *t, struct dw *d, enum type_kind kind, const char *name);
/* "struct thread", "thread" (struct, union or typedef), "uint64_t": the defining DIE, or NULL. */
Dwarf_Die dw_lookup(struct target *t, struct dw *d, const char *spec);
/* The DW_TAG_member named name of struct or union ty, also inside anonymous struct and union
 * members, its offset added to *off; NULL when none. The caller deallocates it. */
Dwarf_Die dw_member(struct dw *d, Dwarf_Die ty, const char *name, uint64_t *off, int depth);
/* A member's bits: false when it is not a bitfield; else its byte offset in *off (from the
 * struct), and the bit offset in that byte's little-endian word and the width. */
bool dw_bitfield(Dwarf_Die m, uint64_t *off, unsigned *bitoff, unsigned *bits);
/* A value of type ty read from addr through m (NULL, said on out, when it has no usable
 * size or cannot be read); *sz its size. what names the value in the message. */
uint8_t *dw_read_typed(struct dw *d, Dwarf_Die ty, const char *what, uint64_t addr, const struct dwarf_mem *m,
		       uint64_t *sz, FILE *out);
/* The .debug_info offset of the DIE of global variable or function name (a scan of the
 * units' top level on a private handle; the last names asked for are kept): 1, *func true
 * for a function; 0 when the DWARF has none. */
int dw_global(struct target *t, const char *name, uint64_t *off, bool *func);

/* dwarf_decl.c: a C declaration of name (may be "") with type ty (NULL: void), as gdb and
 * crash write them: "struct list_head *next", "char comm[16]", "void (*fn)(int)"; ptrs
 * pointer levels added around ty (an address taken: "char (*)[16]"). */
void dw_decl(struct dw *d, Dwarf_Die ty, unsigned ptrs, const char *name, char *buf, size_t len);
/* dw_decl without a name: "struct thread *", "char [16]" (mdb's ::print -t and whatis NAME). */
void dw_type_name(struct dw *d, Dwarf_Die ty, char *buf, size_t len);

/* dwarf_expr.c: the type of expression text (crash's whatis init_task.pid: "pid_t"); -1 with e. */
int dw_expr_type(struct target *t, struct dw *d, const char *text, const struct dwarf_mem *m, char *buf, size_t len,
		 struct err *e);

/* dwarf_value.c: a value as gdb prints it (crash's p): structs and unions pretty-printed
 * ("{\n  a = 1,\n  b = 0x0\n}" at level 0), arrays in braces, char arrays as strings,
 * integers in decimal (hex: /x), pointers with the symbol they point into ("<init_task+168>"),
 * char pointers with their string, enums by name. */
struct dw_gdb {
	struct dw *d;
	bool hex;          /* gdb's /x: every scalar in hex, pointers without their symbol */
	bool radix16;      /* crash's px: integers and chars in hex */
	bool numbers;      /* gdb's /d: a char is its number alone */
	uint64_t addr;     /* where the bytes at p0 are in the target (0: unknown) */
	const uint8_t *p0;
};
void dw_gdb_value(const struct dw_gdb *g, Dwarf_Die ty, const uint8_t *p, size_t avail, int level, FILE *out);
/* A bitfield's value (bits at bitoff of the word at p), as gdb prints an integer of type ty. */
void dw_gdb_bits(const struct dw_gdb *g, Dwarf_Die ty, const uint8_t *p, size_t avail, unsigned bitoff, unsigned bits,
		 FILE *out);
/* A one-byte character type (char, signed or unsigned char, their typedefs). */
bool dw_gdb_char(struct dw *d, Dwarf_Die ty);
/* A pointer's value: "0x... <sym+off>" (a char pointer: its string). */
void dw_gdb_pointer(const struct dw_gdb *g, Dwarf_Die target_ty, uint64_t v, FILE *out);

#endif
