/* mdb: the debugger engine behind hvmdb. A target is an ops vector (registers per
 * CPU, physical reads; virtual reads go through the x86-64 page walk here); the dump
 * target lives in this directory, the live one will come with the kmdb bridge. Commands
 * are mdb's (::status, $r, $c, ADDR/FMT, ::dis, ...), with crash's aliases. */
#ifndef HVKIT_MDB_H
#define HVKIT_MDB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/util.h"
#include "x86/x86.h"

/* A CPU's registers: x86/'s register set (its fields read as r.rip: an anonymous member,
 * -fms-extensions; the whole as r.x86), and what the target knows of them. */
struct target_regs {
	union {
		struct x86_regs x86;
		struct x86_regs;
	};
	bool online, full; /* full: every field known (our dumps); else the NT_PRSTATUS subset */
};

struct target;
/* A target's state for ::status --json ("" or -1: unknown). */
struct target_status {
	char format[64];     /* of the dump file */
	int domain_id;
	char domain[64], state[16];
	char reason[256];    /* the panic message, or why the domain stopped */
	char os_release[65];
	unsigned nr_vcpus;
	uint64_t mem_bytes;
	uint64_t time_ns;    /* the dump's instant (CLOCK_REALTIME); 0: unknown */
};
enum target_bp_kind { TBP_EXEC, TBP_WRITE, TBP_ACCESS };
enum target_stop_kind { TSTOP_STEP, TSTOP_BREAK, TSTOP_WATCH, TSTOP_INTERRUPT, TSTOP_EXITED };
struct target_stop {
	enum target_stop_kind kind;
	unsigned cpu;
	uint64_t addr; /* the breakpoint or watched address */
	char why[256]; /* exited: why */
};
struct target_bp {
	bool used;
	enum target_bp_kind kind;
	uint64_t addr;
	unsigned len;
};
#define TARGET_MAX_BPS 4 /* the x86 debug registers */

struct target_ops {
	const char *kind;
	unsigned (*nr_cpus)(struct target *t);
	int (*regs)(struct target *t, unsigned cpu, struct target_regs *r);
	/* guest-physical read; returns bytes read (short at a hole) */
	size_t (*read_phys)(struct target *t, uint64_t pa, void *buf, size_t len);
	void (*status)(struct target *t, FILE *out);
	/* What status prints, as fields (for ::status --json); may be NULL. */
	int (*status_info)(struct target *t, struct target_status *s);
	const char *(*vmcoreinfo)(struct target *t); /* may be NULL */
	/* Dumps with an integrity note: the RAM against it, a line per range; the number of
	 * ranges that differ, or -1 with a message (no note). NULL: not a dump. */
	int (*verify)(struct target *t, FILE *out, struct err *e);
	void (*close)(struct target *t);
	/* Live targets (all optional): they translate virtual addresses themselves, write
	 * memory and registers, and run under control. */
	size_t (*read_virt)(struct target *t, unsigned cpu, uint64_t va, void *buf, size_t len);
	size_t (*write_virt)(struct target *t, unsigned cpu, uint64_t va, const void *buf, size_t len, struct err *e);
	int (*set_reg)(struct target *t, unsigned cpu, const char *name, uint64_t v, struct err *e);
	int (*set_bp)(struct target *t, enum target_bp_kind k, uint64_t addr, unsigned len, bool insert, struct err *e);
	/* Resumes (step_cpu -1: every CPU; else one instruction on that CPU) and waits for
	 * the stop (Ctrl-C interrupts). 0 with *s, or -1. */
	int (*run)(struct target *t, int step_cpu, struct target_stop *s, struct err *e);
};

/* What a target may lack, and the one place that says so (target.c): target_lacks gives
 * the message for a capability the target's ops do not have, or NULL when it has it. */
enum target_cap { TCAP_RUN, TCAP_BREAKPOINTS, TCAP_WRITE_MEM, TCAP_WRITE_REGS };
struct target;
const char *target_lacks(const struct target *t, enum target_cap c);

struct target {
	const struct target_ops *ops;
	void *priv;
	struct symtab syms;
	char *symfile; /* for DWARF, opened on first use */
	char *path;    /* the dump file (target_dump_open); NULL for a live target */
	void *dwarf;
	void *lines;   /* lines.c */
	void *cfi;     /* cfi.c: the FDE list, read on first use */
	void *type_names; /* dwarf_names.c */
	unsigned cpu; /* the current CPU (::switch) */
	bool json;    /* listing commands print JSON (hvmdb --json) */
	bool writable; /* ::set -w (or -w): memory and register writes allowed */
	unsigned values; /* crash's p: the last value's number ($N) */
	struct target_bp bps[TARGET_MAX_BPS];
	/* The active OS module (mdb_os_attach) and its state; NULL when none claimed the kernel. */
	const struct mdb_os *os;
	void *os_priv;
	/* The kernel's own page tables for kernel addresses (physical address of the top
	 * table, set by the OS module; 0: each CPU's CR3). */
	uint64_t kernel_pt_root;
	/* The symbol file's addresses from reloc_base up are relocated by reloc_off (a KASLR
	 * slide, set by the OS module): target_link_addr undoes it for the debug info. */
	uint64_t reloc_base, reloc_off;
};

struct target *target_dump_open(const char *path, struct err *e);
void target_close(struct target *t);
int target_add_symbols(struct target *t, const char *path, struct err *e);
/* The dump's kernel build-id (VMCOREINFO BUILD-ID=), or a live kernel's (its GNU build-id
 * note read from guest memory where the symbol file has its own), against the symbol
 * file's: -1 with a message naming both when they differ (or when a live kernel has no
 * note there). */
int target_check_build_id(struct target *t, const char *path, struct err *e);
/* symfind.c: the symbol file whose build-id is the dumped kernel's, searched in
 * $HVKIT_DEBUG_PATH (default /usr/lib/debug:build:.); false when none is found. */
bool target_find_symfile(struct target *t, char *path, size_t len);
/* Text of the target's VMCOREINFO, or NULL. */
const char *target_vmcoreinfo(struct target *t);
/* Virtual to physical through CPU cpu's CR3 (4-level paging); -1 if not mapped. */
int target_vtop(struct target *t, unsigned cpu, uint64_t va, uint64_t *pa, uint64_t *page_size);
/* Virtual read through CPU cpu's page tables; returns bytes read. */
size_t target_read_virt(struct target *t, unsigned cpu, uint64_t va, void *buf, size_t len);
/* The one symbol lookup (::sym, sym, $c, ::dis, the unwinders): the symbol that holds addr
 * (code: code symbols only), in the symbol file, else the OS module's tables (mod: the
 * loaded module's name, or NULL); for a return address (is_return), or when nothing holds
 * addr, the code symbol that holds addr - 1: the call's own function, also when the call
 * is its last instruction and addr one past its end (*past_end true then; mod and
 * past_end may be NULL). NULL when none. */
const struct symbol *target_symbol(struct target *t, uint64_t addr, bool code, bool is_return, const char **mod,
				   bool *past_end);
/* "name+0x1c" for a code address, by target_symbol; false when unknown. */
bool target_symbolize(struct target *t, uint64_t addr, bool is_return, char *buf, size_t len);
/* The symbol file's (link) address of a relocated kernel address; addr itself otherwise. */
static inline uint64_t target_link_addr(const struct target *t, uint64_t addr)
{
	return t->reloc_off && addr >= t->reloc_base + t->reloc_off ? addr - t->reloc_off : addr;
}

/* dwarf.c: DWARF types of the symbol file */
/* How ::print reaches the target's memory (the engine's virtual reads and symbols): read
 * returns the bytes read; symbolize is target_symbolize's contract. */
struct dwarf_mem {
	size_t (*read)(void *arg, uint64_t va, void *buf, size_t len);
	bool (*symbolize)(void *arg, uint64_t addr, char *buf, size_t len);
	/* gdb's "<name+off>" of a pointer: the symbol that holds addr (may be NULL) */
	bool (*symoff)(void *arg, uint64_t addr, char *name, size_t len, uint64_t *off);
	void *arg;
};
int dwarf_cmd_print(struct target *t, const char *type, uint64_t addr, const struct dwarf_mem *m, FILE *out);
int dwarf_cmd_sizeof(struct target *t, const char *type, FILE *out);
/* crash's p EXPR (dwarf_expr.c): the expression's value as crash prints it, "$N = ..."
 * (t->values counts them), "NAME = $N = ..." for a bare global when name_prefix. fmt: decimal
 * (p, p -d, pd, p/d), crash's hex radix (p -x, px: integers in hex, strings and symbols kept)
 * or gdb's /x format (p/x: every scalar in hex, pointers bare). -1 after one error line. */
enum dwarf_p_fmt { DWARF_P_DEC, DWARF_P_RADIX16, DWARF_P_X, DWARF_P_D /* p/d: chars as numbers too */ };
int dwarf_cmd_p(struct target *t, const char *expr, enum dwarf_p_fmt fmt, bool name_prefix, const struct dwarf_mem *m,
		FILE *out);
/* crash's whatis [-o] ARG (dwarf_decl.c): a struct, union, enum or typedef's definition (-o:
 * with member offsets), a global's or function's declaration, an expression's type. */
int dwarf_cmd_whatis(struct target *t, const char *args, const struct dwarf_mem *m, FILE *out);
int dwarf_cmd_offsetof(struct target *t, const char *type, const char *member, FILE *out);
void dwarf_close_target(struct target *t);
/* The libdwarf handle of the symbol file (opened on first use), or NULL. */
void *dwarf_debug_handle(struct target *t);
/* dwarf.c: member offsets of structs for guest-awareness modules: each type (a struct, else
 * a union, by that name) through the type index (dwarf_names_find); with cu_hint, on a
 * private handle in one pass over the compile units whose name contains it, which stops
 * once every type asked for is found. member: "thread_info.cpu" (a path through
 * nested structs; anonymous structs and unions are looked into), or NULL for the size of
 * the struct. -1 when the symbol file has no DWARF. */
struct dwarf_field {
	const char *type, *member;
	int64_t off;   /* -1: no such member (or type) */
	uint64_t size; /* of the member's type */
	bool found;    /* the type was found */
};
int dwarf_fields(struct target *t, const char *cu_hint, struct dwarf_field *f, size_t n);
/* The value of enumerator name of enum type (through the type index): 1 and *v, 0 when
 * there is no such enumerator, -1 without DWARF. */
int dwarf_enum_value(struct target *t, const char *type, const char *name, int64_t *v);
/* dwarf_obj.c: a libdwarf handle (*dbg) over the symbol file mapped read-only; NULL when it
 * has no DWARF. Each handle iterates the compile units on its own. */
struct dwarf_obj;
struct dwarf_obj *dwarf_obj_open(const char *path, void **dbg);
/* A section of the mapped file by name (its link address and size), or NULL. */
const uint8_t *dwarf_obj_section(struct dwarf_obj *o, const char *name, uint64_t *addr, size_t *size);
void dwarf_obj_close(struct dwarf_obj *o);
/* dwarf_abbrev.c: 0 when every abbreviation in .debug_abbrev (p, size) parses and uses only
 * known forms whose index sections the file has (have: DWARF_NEED_* bits); else -1 and why. */
enum { DWARF_NEED_STR_OFFSETS = 1, DWARF_NEED_ADDR = 2, DWARF_NEED_RNGLISTS = 4, DWARF_NEED_LOCLISTS = 8 };
int dwarf_abbrev_check(const uint8_t *p, size_t size, unsigned have, char *why, size_t len);
/* cfi.c: DWARF call frame information of the symbol file (.debug_frame, else .eh_frame),
 * read on first use and kept per target (freed by dwarf_close_target, before the handle it
 * came from). Registers are DWARF-numbered (x86-64: 0 rax 1 rdx 2 rcx 3 rbx 4 rsi 5 rdi
 * 6 rbp 7 rsp 8-15 r8-r15 16 rip); `known` has a bit for each one whose value is known. */
enum { CFI_RBX = 3, CFI_RBP = 6, CFI_RSP = 7, CFI_RIP = 16, CFI_NREGS = 17 };
struct cfi_regs {
	uint64_t r[CFI_NREGS];
	uint32_t known;
};
/* Reads the 8-byte word at addr (the stack: untrusted, may be unmapped); false when it cannot. */
typedef bool (*cfi_read_fn)(void *arg, uint64_t addr, uint64_t *v);
/* One unwind step from the frame in r to its caller's, in place (is_return: r's rip is a
 * return address, its call is one byte back): 1 (a caller's rip of 0: r was the outermost
 * frame); 0 when no FDE covers rip (r untouched); -1 with a message when the FDE does not
 * give the caller (r untouched). */
int cfi_step(struct target *t, struct cfi_regs *r, bool is_return, cfi_read_fn rd, void *arg, struct err *e);
bool cfi_covers(struct target *t, uint64_t pc);
void cfi_close_target(struct target *t);
/* dwarf_names.c: for completion, the symbol file's type names ("struct thread", typedefs,
 * base types), sorted, NULL-terminated, *n of them (none without DWARF); read once, in a
 * thread from dwarf_names_prefetch on (the shell starts it), which the first use waits
 * for. build_ns (may be NULL): how long reading them took. */
void dwarf_names_prefetch(struct target *t);
const char *const *dwarf_type_names(struct target *t, size_t *n, uint64_t *build_ns);
/* The members of a struct or union ("struct thread", "thread", a typedef of one): a
 * malloc()ed, NULL-terminated array of strdup()ed names, *n of them; NULL when none. */
char **dwarf_type_members(struct target *t, const char *type, size_t *n);
void dwarf_names_free(struct target *t);
/* The index behind both (and behind type lookups): top-level type name and kind -> the
 * .debug_info offset of the first DIE that defines it (no DW_AT_declaration), in unit
 * order. It comes from the type cache when one is valid; else a thread scans the units (on
 * the private handle) and writes the cache when done, and a lookup waits only until the
 * scan has reached the name. dwarf_names_find: 1 and *off, 0 when there is no such type,
 * -1 without DWARF. dwarf_names_distrust: the offset the cache gave is not that type (the
 * caller checked the DIE): the cache is dropped and the units scanned. HVKIT_DEBUG_TYPES=1
 * tells on stderr where the index came from. dwarf_names_free waits for a running scan
 * that will write the cache, when the session asked for types itself (dwarf_names_wanted:
 * ::print, ::sizeof, ::offsetof, completion); a scan only the Linux helpers' own lookups
 * started is stopped instead, so `ps` or `bt` never wait for it. */
enum type_kind { TYPE_OTHER, TYPE_STRUCT, TYPE_UNION, TYPE_ENUM }; /* other: typedefs and base types */
int dwarf_names_find(struct target *t, enum type_kind kind, const char *name, uint64_t *off);
void dwarf_names_distrust(struct target *t);
void dwarf_names_wanted(struct target *t);
/* type_cache.c: that index on disk, per build-id: $HVKIT_TYPE_CACHE/BUILD-ID.sqlite ("off":
 * none), else ${HVKIT_CACHE:-${XDG_CACHE_HOME:-~/.cache}/hvkit}/types/BUILD-ID.sqlite. It
 * is valid only for the file it was made from: the key. Each call: -1 with a message. */
struct type_cache_key {
	char build_id[41];
	uint64_t file_size, info_size; /* of the symbol file and of its .debug_info */
	int64_t mtime_ns;
};
struct type_cache_entry {
	enum type_kind kind;
	const char *name; /* without the tag: "task_struct" */
	uint64_t off;
};
struct type_cache;
int type_cache_key(const char *symfile, struct type_cache_key *k, struct err *e);
int type_cache_path(const struct type_cache_key *k, char *out, size_t len, struct err *e);
/* Written whole to a temporary file, then renamed over path (its directories made). */
int type_cache_write(const char *path, const struct type_cache_key *k, const struct type_cache_entry *v, size_t n,
		     struct err *e);
/* NULL when missing, unreadable, not ours or made from another file. */
struct type_cache *type_cache_open(const char *path, const struct type_cache_key *k, struct err *e);
/* 1 and *off (inside .debug_info), 0 when not there, -1 (also for an offset out of bounds). */
int type_cache_lookup(struct type_cache *c, enum type_kind kind, const char *name, uint64_t *off, struct err *e);
typedef void (*type_cache_fn)(void *arg, enum type_kind kind, const char *name, uint64_t off);
/* fn for every entry; -1 at the first bad row (fn may have seen some). */
int type_cache_each(struct type_cache *c, type_cache_fn fn, void *arg, struct err *e);
void type_cache_close(struct type_cache *c);
/* lines.c: "file.c:123" for a code address; false when unknown. */
bool target_addr_line(struct target *t, uint64_t addr, char *buf, size_t len);
/* The .debug_info offset of the compile unit holding a code address (from .debug_aranges);
 * false when unknown. */
bool target_addr_cu(struct target *t, uint64_t addr, uint64_t *cu);
/* The JSON members ', "file": "file.c", "line": 123' of "file.c:123" (both null when fl is
 * NULL or has no line). */
void target_json_file_line(FILE *out, const char *fl);

/* inline.c: the inlined calls holding a code address, innermost first: each the inlined
 * function and where it was called (in the next entry's function, or in the function the
 * address's symbol names). Returns how many were stored (0 when none or no DWARF). */
struct target_inline {
	char function[128];
	char call_file[64];
	unsigned call_line;
};
size_t target_inlined(struct target *t, uint64_t addr, struct target_inline *out, size_t max);
/* A frame's lines for printing it with its inlined calls: those at pc (a call's address, not
 * a return address) into inl, innermost first, and lines[0..n] the file:line of each and then
 * of the real frame ("" when unknown): pc's own line for the innermost, each inlined call's
 * line for the function around it. Returns n. */
#define TARGET_LINE_LEN 140
size_t target_frame_lines(struct target *t, uint64_t pc, struct target_inline *inl, size_t max,
			  char lines[][TARGET_LINE_LEN]);
void target_lines_free(struct target *t);

/* run.c: the run-control and write commands of live targets (:c :s ::bp ::wp ::delete
 * ::events ::set -w ADDR/[vwWZ] VALUE VALUE>REG); 1 when cmd is not one of them. */
int mdb_run_cmd(struct target *t, char *cmd, FILE *out);
/* An address expression (as in ADDR::dcmd): 0, or -1 after a message on out. */
int mdb_parse_addr(struct target *t, const char *s, uint64_t *v, FILE *out);

/* status.c: a size as crash's sys prints MEMORY: "64 MB", "1.5 GB" (and a newline). */
void mdb_print_size(uint64_t bytes, FILE *out);
/* status.c: ::status: the target's state, the kernel's (Linux: also sys), and the CPUs;
 * a JSON object with the panic message and the CPU that panicked when t->json. */
int target_cmd_status(struct target *t, FILE *out);

/* Runs one command line (several may be separated by ';'). Returns 0, or -1 after an
 * error message on out. */
int mdb_exec(struct target *t, const char *line, FILE *out);
/* A command that ends the session: mdb's $q and ::quit, crash's q and exit, gdb's quit
 * (mdb_exec runs none of the commands after it). */
bool mdb_is_quit(const char *cmd);
/* Set by the program's SIGINT handler while a command runs: mdb_exec runs no further
 * command of its line (the program clears it at its prompt). */
extern volatile int mdb_interrupt; /* an int, as sig_atomic_t is here (signal.h not pulled in) */

/* target_remote.c: hvmdb's live target: a domain of a running hv, through its control
 * socket's gdb session. The domain stops while attached; closing the target detaches.
 * nopause: the domain runs on; registers are read at an instant, memory while it runs. */
struct target *target_remote_open(const char *sock, const char *domain, bool nopause, struct err *e);
/* dcmd.c: the command and walker tables (mdb's dcmds[] and walkers[]). The engine has its
 * own (cmds.c); the active OS module adds its rows, which take the place of an engine row
 * only when that row is flagged MDB_FALLBACK. A row's name is its spelling: "::status",
 * "$c", or a bare word ("bt", "ps": crash's). */
struct mdb_args {
	const char *line; /* the command as typed (without a trailing --json) */
	char *arg;        /* the words after the name (may be modified), or NULL */
	uint64_t addr;    /* ADDR::dcmd (or ::dcmd ADDR for MDB_ADDR_ARG rows) */
	bool have_addr;
};
enum {
	MDB_NOARGS = 1 << 0,   /* a bare word only matches alone ("ps", not "ps -v") */
	MDB_NEEDARGS = 1 << 1, /* a bare word only matches with arguments ("rd ADDR") */
	MDB_ADDR_ARG = 1 << 2, /* "::dcmd ADDR [...]" is read as "ADDR::dcmd [...]" */
	MDB_LINE = 1 << 3,     /* fn parses a->line itself (no address is parsed first) */
	MDB_FALLBACK = 1 << 4, /* an engine row the OS module's row of that name replaces */
	MDB_STACK = 1 << 5,    /* the OS module's stack op: ::help adds its stack_usage */
	MDB_SLASH = 1 << 6,    /* a bare word that may carry gdb's /FMT ("p/x EXPR": fn reads a->line) */
};
struct mdb_dcmd {
	const char *name, *usage, *desc; /* usage: the arguments ("[-v]", "ADDR"), may be "" */
	int (*fn)(struct target *t, struct mdb_args *a, FILE *out); /* 0, or -1 after a message */
	unsigned flags;
};
struct mdb_walker {
	const char *name, *desc;
	/* The addresses the walk visits, at most max into v, *n of them: 0, or -1 with e. */
	int (*walk)(struct target *t, uint64_t *v, size_t max, size_t *n, struct err *e);
};
/* An OS module: what the engine knows of a kernel only through it. Every op may be NULL. */
struct mdb_os {
	const char *name;
	const char *hint; /* what its commands need: "for Linux kernels (hvmdb -s vmlinux)" */
	/* 1 when the kernel (t's symbols and dump) is this module's, after setting t->os_priv
	 * and relocation (reloc: --kaslr's text, or NULL); 0 when not; -1 with e. */
	int (*attach)(struct target *t, const char *reloc, struct err *e);
	void (*close)(struct target *t); /* frees t->os_priv */
	const struct mdb_dcmd *dcmds;
	size_t nr_dcmds;
	const struct mdb_walker *walkers;
	size_t nr_walkers;
	/* $c, ::stack, bt: args NULL or the words after the command; stack_usage: what the
	 * arguments are and how the stacks are unwound (for ::help) */
	int (*stack)(struct target *t, const char *args, FILE *out);
	const char *stack_usage;
	/* ::status: the kernel's lines (with t->json: JSON members ', "k": ...'); status_more:
	 * what the text prints after the CPUs line */
	void (*status)(struct target *t, FILE *out);
	int (*status_more)(struct target *t, FILE *out);
	/* The panic message and CPU (-1: unknown): false when the kernel did not panic. */
	bool (*panic)(struct target *t, char *msg, size_t len, int *cpu);
	/* crash's foreach: verb "bt", "ps" or "task" (with args, or NULL) for each task that
	 * mdb_foreach_match picks with the selectors sel[0..nsel) */
	int (*foreach)(struct target *t, const char *verb, char *const *sel, size_t nsel, const char *args, FILE *out);
	/* A symbol for an address the symbol file has none for (code: code symbols only), its
	 * module's name in *module (may be NULL); NULL when unknown. */
	const struct symbol *(*symbolize)(struct target *t, uint64_t addr, bool code, const char **module);
};
/* The program's OS modules, tried in the order registered: -1 with e when the module's
 * name, or one of its dcmd or walker names, is registered already (its own rows included;
 * engine rows only MDB_FALLBACK ones may be repeated). */
int mdb_os_register(const struct mdb_os *os, struct err *e);
void mdb_os_unregister_all(void); /* for tests */
/* The first registered module that claims t's kernel becomes t->os (none: t->os NULL). */
int mdb_os_attach(struct target *t, const char *reloc, struct err *e);
void mdb_os_detach(struct target *t);
/* The row for a spelling (the OS module's first, then the engine's), or NULL. */
const struct mdb_dcmd *mdb_dcmd_find(struct target *t, const char *name);
const struct mdb_walker *mdb_walker_find(struct target *t, const char *name);
/* A command only an inactive module has, said so ("sys: for Linux kernels ..."): -1 after
 * the message; 1 when no module has it. */
int mdb_dcmd_elsewhere(struct target *t, const char *name, FILE *out);
/* For completion: the i-th command name of t (OS module and engine rows), NULL past the end. */
const char *mdb_dcmd_name(struct target *t, size_t i);
/* cmds.c: the engine's rows; dcmd.c's listing commands (::help ::dcmds ::walkers ::walk). */
extern const struct mdb_dcmd mdb_engine_dcmds[];
extern const size_t mdb_engine_nr_dcmds;
int mdb_cmd_help(struct target *t, struct mdb_args *a, FILE *out);
int mdb_cmd_dcmds(struct target *t, struct mdb_args *a, FILE *out);
int mdb_cmd_walkers(struct target *t, struct mdb_args *a, FILE *out);
int mdb_cmd_walk(struct target *t, struct mdb_args *a, FILE *out);
/* The addresses of walker name (as ::walk NAME), *n of them: 0, or -1 after a message. */
int mdb_walk(struct target *t, const char *name, uint64_t *v, size_t max, size_t *n, FILE *out);
/* foreach.c: crash's foreach [SELECTOR...] VERB [ARGS] (the OS module's foreach op), and
 * whether a task is one the selectors pick: a PID, a task address (hex), a name ("\\NAME"
 * when it is a verb's), kernel, user, active (on a CPU), a state ("RU"); none: every task. */
struct mdb_task {
	uint64_t addr;
	long pid;
	const char *comm, *state; /* state may be NULL */
	int kernel;               /* a kernel thread (-1: the OS does not say) */
	bool current;             /* running on a CPU */
};
bool mdb_foreach_match(char *const *sel, size_t nsel, const struct mdb_task *k);
int mdb_cmd_foreach(struct target *t, struct mdb_args *a, FILE *out);
/* cmds.c: the target's memory and symbols for the DWARF printers (dwarf_mem). */
void mdb_dwarf_mem(struct target *t, struct dwarf_mem *m);
/* dwarf_expr.c: crash's way of showing one object (foreach task): "struct task_struct {...}",
 * the value of type at addr as crash's p prints it; -1 after a message. */
int dwarf_cmd_object(struct target *t, const char *type, uint64_t addr, const struct dwarf_mem *m, FILE *out);
/* "mdb: " and the message; -1 */
int mdb_fail(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
