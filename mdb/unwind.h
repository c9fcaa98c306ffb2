/* unwind: the engine's one stack unwinder (drgn's model): one frame row, one loop that asks
 * an OS module's list of step functions in order for each caller, and one printer. */
#ifndef HVKIT_MDB_UNWIND_H
#define HVKIT_MDB_UNWIND_H

#include "mdb/mdb.h"

#define UNWIND_MAX 96
#define UNWIND_INLINE_MAX 8

enum unwind_kind {
	UNWIND_TOP,    /* where the registers are: shown without a frame address */
	UNWIND_GUESS,  /* beside the chain (a frameless leaf's return address at [rsp]): the registers stay */
	UNWIND_CALLER, /* a caller the steps found */
	UNWIND_USER,   /* only as unwind_stack.stop: the stack ends in a return to user mode, whose
			* pc and stack pointer (cfa) these are */
};

/* One frame row. */
struct unwind_frame {
	enum unwind_kind kind;
	uint64_t pc, cfa;     /* cfa: the frame's stack address as the OS shows it */
	bool is_return;       /* pc is a return address: its line is the call's */
	bool interrupted;     /* the first frame after an interrupt entry */
	const char *how;      /* how it was found: "regs", "cfi", "trap", "fp", "orc", "guess", ... */
	const char *module;   /* the module its code is in, or NULL */
	uint64_t regs_at;     /* the register frame (pt_regs, trap frame) crossed to reach it, or 0 */
	uint32_t regs_known;  /* bits of cfi_regs.known the frame's registers had */
};

/* The walk's state: the registers of the frame last found; top: it is the first of a run
 * (the registers' own, or after an interrupt entry); os: the OS module's own state. */
struct unwind_state {
	struct target *t;
	unsigned cpu;
	struct cfi_regs r;
	bool is_return, top;
	void *os;
};

/* A step's answer. */
enum unwind_rc {
	UNWIND_CANNOT, /* not this step's frame: ask the next */
	UNWIND_FOUND,  /* *f is the caller (or a frame beside the chain), st moved to it */
	UNWIND_END,    /* the outermost frame */
	UNWIND_ERROR,  /* e says why the walk stops */
};
typedef enum unwind_rc (*unwind_step_fn)(struct unwind_state *st, struct unwind_frame *f, struct err *e);

/* Why a walk ended. */
enum unwind_stop {
	UNWIND_STOP_END,   /* the outermost frame (no step knew a caller, or one said the end) */
	UNWIND_STOP_ERROR, /* a step could not unwind: stopped says why */
	UNWIND_STOP_STILL, /* a caller had the pc and stack pointer of its callee */
	UNWIND_STOP_LIMIT, /* the frame limit */
};

/* A walked stack: the frames, why the walk stopped, and its message ("" when the stack
 * ended); stop: the frame the last step gave when the walk ended on it (an error's pc, a
 * caller that did not move, a return to user mode), else zero. */
struct unwind_stack {
	struct unwind_frame f[UNWIND_MAX];
	size_t n, max;        /* max: the walk's frame limit (0: UNWIND_MAX) */
	enum unwind_stop why;
	char stopped[sizeof(((struct err *)0)->msg)];
	struct unwind_frame stop;
};

/* The registers a walk starts from: every register of x that has a DWARF number below
 * CFI_NREGS (x86/'s table says which), all known. */
struct cfi_regs unwind_regs_from_x86(const struct x86_regs *x);

/* Appends a frame (dropped past the limit). */
void unwind_add(struct unwind_stack *s, const struct unwind_frame *f);
/* Walks from st (its top frame already in s), asking steps[0..n) in order for each caller:
 * the first that does not answer UNWIND_CANNOT gives it. Ends when one says the end or an
 * error, when a caller does not move, or at the limit (s->why says which). */
void unwind_walk(struct unwind_state *st, const unwind_step_fn *steps, size_t n, struct unwind_stack *s);

/* The printers. mdb's $c: the top frame bare, guesses "  ? f()", callers with their frame
 * address; inlined calls "f() [inlined] at file:line" above their frame. */
struct unwind_print {
	const char *leaves_text; /* a step's error with a pc (stop.pc): "  0x...() leaves_text", or NULL */
};
void unwind_print_text(struct target *t, const struct unwind_stack *s, const struct unwind_print *p, FILE *out);
/* A JSON array of frames ({"frame", "pc", "function", "offset", "file", "line", "unwinder"},
 * inlined calls as elements of their own with "inlined": true), then {"stopped": why}. */
void unwind_print_json(struct target *t, const struct unwind_stack *s, FILE *out);
/* A frame's inlined calls and lines (target_frame_lines) from its call's address. */
size_t unwind_frame_lines(struct target *t, const struct unwind_frame *f, struct target_inline *inl,
			  char fl[][TARGET_LINE_LEN]);

#endif
