/* guest_stack: our guest kernel's stacks ($c, ::stack, bt, ::ps -v). Each frame is unwound
 * with the symbol file's DWARF CFI when an FDE covers its pc (cfi.c), else across the trap
 * entry's frame, else by its frame pointer; the frames are collected first, then printed as
 * mdb's text or as JSON. A frame that cannot be unwound ends the trace with a note. */
#include <capstone/capstone.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest.h"
#include "guest_priv.h"

#define STACK_MAX 64
#define INLINE_MAX 8

enum frame_kind {
	FRAME_TOP,    /* where the registers are: no frame address */
	FRAME_GUESS,  /* a frameless leaf's return address at [rsp]: "? caller()" */
	FRAME_CALLER, /* "frame caller()" */
};

struct frame {
	enum frame_kind kind;
	uint64_t frame, pc;
	bool is_return;   /* pc is a return address: its line is the call's */
	bool interrupted; /* the first frame after an interrupt entry */
	const char *unwinder;
};

struct stack {
	struct frame f[STACK_MAX];
	size_t n;
	char stopped[sizeof(((struct err *)0)->msg)]; /* why the unwind ended early, or "" */
	bool leaves_text;  /* the text form's own wording for a return address outside the kernel */
	uint64_t leaves_pc;
};

struct reader {
	struct target *t;
	unsigned cpu;
};

static bool read_word(void *arg, uint64_t addr, uint64_t *v)
{
	struct reader *r = arg;
	return target_read_virt(r->t, r->cpu, addr, v, 8) == 8;
}

static bool canonical(uint64_t a)
{
	return (a >> 47) == 0 || (a >> 47) == 0x1ffff;
}

/* Our guest's interrupt entry (trap_stub_N, then trap_common) before it has built the
 * frame unwinders follow: the pushes between the entry symbol and rip tell where the
 * CPU's interrupt frame (rip, cs, rflags, rsp, ss) is. false when rip is not there. */
static bool in_trap_entry(struct target *t, unsigned cpu, uint64_t rip, uint64_t rsp, uint64_t *frame_at)
{
	const struct symbol *s = symtab_lookup_code(&t->syms, rip);
	uint8_t code[256];
	size_t n, pushes = 0;
	cs_insn *insn;
	csh h;
	bool common;
	if (!s || (strcmp(s->name, "trap_common") && strncmp(s->name, "trap_stub_", 10)) || rip - s->addr > sizeof(code))
		return false;
	common = !strcmp(s->name, "trap_common");
	if (rip == s->addr) {
		*frame_at = rsp + (common ? 16 : 0);
		return true;
	}
	if (target_read_virt(t, cpu, s->addr, code, rip - s->addr) != rip - s->addr ||
	    cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return false;
	n = cs_disasm(h, code, rip - s->addr, s->addr, 0, &insn);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(insn[i].mnemonic, "push") || !strcmp(insn[i].mnemonic, "pushq"))
			pushes++;
		if (!strcmp(insn[i].mnemonic, "mov") && !strcmp(insn[i].op_str, "rbp, rsp"))
			pushes = 1000; /* the unwinders' frame is built: see trap_step */
	}
	if (n)
		cs_free(insn, n);
	cs_close(&h);
	if (pushes >= 1000)
		return false;
	*frame_at = rsp + 8 * pushes + (common ? 16 : 0);
	return true;
}

static void add(struct stack *s, enum frame_kind kind, uint64_t frame, uint64_t pc, bool is_return, const char *unwinder)
{
	if (s->n < STACK_MAX)
		s->f[s->n++] = (struct frame){ kind, frame, pc, is_return, false, unwinder };
}

/* A return address into trap_common after it built its frame for unwinders (guest/vectors.S:
 * rbp points at it, the struct trapframe just above): every register of the interrupted
 * code. 1, 0 when pc is not there, -1 with a message. */
static int trap_step(struct target *t, unsigned cpu, struct cfi_regs *r, struct err *e)
{
	const struct symbol *s = symtab_lookup_code(&t->syms, r->r[CFI_RIP] - 1);
	struct trapframe tf;
	uint64_t rbp = r->r[CFI_RBP];
	if (!s || strcmp(s->name, "trap_common") || !(r->known & (1u << CFI_RBP)))
		return 0;
	if (target_read_virt(t, cpu, rbp + 16, &tf, sizeof(tf)) != sizeof(tf))
		return err_set(e, "cannot read the trap frame at 0x%llx", (unsigned long long)(rbp + 16));
	if (!canonical(tf.rsp) || tf.rsp <= rbp)
		return err_set(e, "the trap frame at 0x%llx has a bad stack pointer", (unsigned long long)(rbp + 16));
	*r = (struct cfi_regs){ .r = { tf.rax, tf.rdx, tf.rcx, tf.rbx, tf.rsi, tf.rdi, tf.rbp, tf.rsp, tf.r8, tf.r9,
				       tf.r10, tf.r11, tf.r12, tf.r13, tf.r14, tf.r15, tf.rip },
				.known = (1u << CFI_NREGS) - 1 };
	return 1;
}

/* The frame-pointer step: [rbp] is the caller's rbp, [rbp+8] its return address. */
static int fp_step(struct target *t, unsigned cpu, struct cfi_regs *r, uint64_t *frame, struct err *e)
{
	uint64_t rbp = r->r[CFI_RBP], f[2];
	if (!(r->known & (1u << CFI_RBP)) || !rbp)
		return 0; /* the outermost frame (thread_start and the entry clear rbp) */
	if (!canonical(rbp) || (rbp & 7))
		return err_set(e, "no CFI for 0x%llx and the frame pointer 0x%llx is not an address",
			       (unsigned long long)r->r[CFI_RIP], (unsigned long long)rbp);
	if ((r->known & (1u << CFI_RSP)) && rbp < r->r[CFI_RSP])
		return err_set(e, "no CFI for 0x%llx and the frame pointer 0x%llx is below the stack pointer",
			       (unsigned long long)r->r[CFI_RIP], (unsigned long long)rbp);
	if (target_read_virt(t, cpu, rbp, f, sizeof(f)) != sizeof(f))
		return err_set(e, "cannot read the frame at 0x%llx", (unsigned long long)rbp);
	if (!f[1])
		return 0;
	*frame = rbp;
	r->r[CFI_RBP] = f[0];
	r->r[CFI_RSP] = rbp + 16;
	r->r[CFI_RIP] = f[1];
	r->known = 1u << CFI_RBP | 1u << CFI_RSP | 1u << CFI_RIP;
	return 1;
}

/* One step from the frame in r to its caller's: 1 with how it was done, 0 at the outermost
 * frame, -1 with a message. */
static int step(struct target *t, unsigned cpu, struct cfi_regs *r, bool is_return, uint64_t *frame, const char **how,
		struct err *e)
{
	struct reader rd = { t, cpu };
	uint64_t rbp = r->r[CFI_RBP];
	int rc = cfi_step(t, r, is_return, read_word, &rd, e);
	if (rc) {
		*frame = r->r[CFI_RSP] - 16; /* the CFA less a return address and a saved rbp: where rbp would point */
		*how = "cfi";
		return rc;
	}
	rc = is_return ? trap_step(t, cpu, r, e) : 0;
	if (rc) {
		*frame = rbp;
		*how = "trap";
		return rc;
	}
	*how = "fp";
	return fp_step(t, cpu, r, frame, e);
}

static void stack_unwind(struct target *t, unsigned cpu, struct cfi_regs r, bool leaf_check, struct stack *s)
{
	struct reader rd = { t, cpu };
	bool top = true, is_return = false, interrupted = false;
	struct err e = { 0 };
	char sym[128];
	while (s->n < STACK_MAX) {
		uint64_t pc = r.r[CFI_RIP], sp = r.r[CFI_RSP], frame = 0, hw, ret, f[4];
		const char *how;
		int rc;
		if (top) {
			add(s, FRAME_TOP, sp, pc, false, interrupted ? "trap" : "regs");
			s->f[s->n - 1].interrupted = interrupted;
			interrupted = false;
			/* caught entering an interrupt: go on from where it came */
			if (in_trap_entry(t, cpu, pc, sp, &hw) && target_read_virt(t, cpu, hw, f, sizeof(f)) == sizeof(f) &&
			    target_symbolize(t, f[0], false, sym, sizeof(sym))) {
				r.r[CFI_RIP] = f[0];
				r.r[CFI_RSP] = f[3];
				interrupted = leaf_check = true;
				continue;
			}
			/* a frameless leaf keeps its return address at [rsp]: a guess, when no CFI knows better */
			if (leaf_check && !cfi_covers(t, pc) && read_word(&rd, sp, &ret) &&
			    target_symbolize(t, ret, true, sym, sizeof(sym))) {
				uint64_t rbp = r.r[CFI_RBP];
				if (!rbp || target_read_virt(t, cpu, rbp, f, 16) != 16 || f[1] != ret)
					add(s, FRAME_GUESS, sp, ret, true, "guess");
			}
		}
		rc = step(t, cpu, &r, is_return, &frame, &how, &e);
		if (rc < 0) {
			snprintf(s->stopped, sizeof(s->stopped), "%s", e.msg);
			return;
		}
		if (rc == 0 || !r.r[CFI_RIP])
			return; /* the outermost frame */
		is_return = strcmp(how, "trap") != 0; /* a trap frame's pc is the interrupted instruction */
		if (!target_symbolize(t, r.r[CFI_RIP], is_return, sym, sizeof(sym))) {
			s->leaves_text = true;
			s->leaves_pc = r.r[CFI_RIP];
			snprintf(s->stopped, sizeof(s->stopped), "the frame chain leaves kernel text at 0x%llx",
				 (unsigned long long)r.r[CFI_RIP]);
			return;
		}
		add(s, FRAME_CALLER, frame, r.r[CFI_RIP], is_return, how);
		top = false;
	}
	snprintf(s->stopped, sizeof(s->stopped), "more than %d frames", STACK_MAX);
}

/* The frame's inlined calls and lines (target_frame_lines), from the call's address. */
static size_t frame_lines(struct target *t, const struct frame *f, struct target_inline *inl,
			  char fl[][TARGET_LINE_LEN])
{
	fl[0][0] = 0;
	return f->pc ? target_frame_lines(t, f->is_return ? f->pc - 1 : f->pc, inl, INLINE_MAX, fl) : 0;
}

/* The frame's inlined calls (innermost first, each an object of its own with "inlined":
 * true and the real frame's address), then the frame, whose line is then the call's. */
static void frame_json(struct target *t, const struct frame *f, FILE *out)
{
	const struct symbol *sym = f->pc ? symtab_lookup_code(&t->syms, f->is_return ? f->pc - 1 : f->pc) : NULL;
	struct target_inline inl[INLINE_MAX];
	char fl[INLINE_MAX + 1][TARGET_LINE_LEN];
	size_t n = frame_lines(t, f, inl, fl);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "{\"frame\": \"0x%llx\", \"pc\": \"0x%llx\", \"function\": ", (unsigned long long)f->frame,
			(unsigned long long)f->pc);
		json_write_str(out, inl[i].function);
		fputs(", \"offset\": null", out);
		target_json_file_line(out, fl[i]);
		fprintf(out, ", \"inlined\": true, \"unwinder\": \"%s\"}, ", f->unwinder);
	}
	fprintf(out, "{\"frame\": \"0x%llx\", \"pc\": \"0x%llx\", \"function\": ", (unsigned long long)f->frame,
		(unsigned long long)f->pc);
	if (sym) {
		json_write_str(out, sym->name);
		fprintf(out, ", \"offset\": %llu", (unsigned long long)(f->pc - sym->addr));
	} else {
		fputs("null, \"offset\": null", out);
	}
	target_json_file_line(out, fl[n]);
	fprintf(out, ", \"unwinder\": \"%s\"}", f->unwinder);
}

static void stack_json(struct target *t, const struct stack *s, FILE *out)
{
	fputs("[", out);
	for (size_t i = 0; i < s->n; i++) {
		fputs(i ? ", " : "", out);
		frame_json(t, &s->f[i], out);
	}
	if (s->stopped[0]) {
		fputs(s->n ? ", {\"stopped\": " : "{\"stopped\": ", out);
		json_write_str(out, s->stopped);
		fputs("}", out);
	}
	fputs("]\n", out);
}

/* One line of $c: the first frame bare, each caller with its frame address (fl: "file:line"
 * or ""). */
static void text_line(const struct frame *f, const char *name, bool inlined, const char *fl, FILE *out)
{
	char at[180] = "";
	snprintf(at, sizeof(at), "%s%s%s", inlined ? " [inlined]" : "", fl[0] ? " at " : "", fl);
	if (f->kind == FRAME_TOP)
		fprintf(out, "%s()%s\n", name, at);
	else if (f->kind == FRAME_GUESS)
		fprintf(out, "  ? %s()%s\n", name, at);
	else
		fprintf(out, "%016llx %s()%s\n", (unsigned long long)f->frame, name, at);
}

/* mdb's $c; a call the compiler inlined shows as "func() [inlined] at file:line" above the
 * frame it is in, whose line is then the inlined call's. */
static void stack_text(struct target *t, const struct stack *s, FILE *out)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct frame *f = &s->f[i];
		struct target_inline inl[INLINE_MAX];
		char sym[128], fl[INLINE_MAX + 1][TARGET_LINE_LEN];
		size_t n = frame_lines(t, f, inl, fl);
		if (!target_symbolize(t, f->pc, f->is_return, sym, sizeof(sym)))
			snprintf(sym, sizeof(sym), "0x%llx", (unsigned long long)f->pc);
		if (f->interrupted)
			fprintf(out, "  -- interrupted --\n");
		for (size_t k = 0; k < n; k++)
			text_line(f, inl[k].function, true, fl[k], out);
		text_line(f, sym, false, fl[n], out);
	}
	if (s->leaves_text)
		fprintf(out, "  0x%llx() (the frame chain leaves kernel text)\n", (unsigned long long)s->leaves_pc);
	else if (s->stopped[0])
		fprintf(out, "  (unwinding stopped: %s)\n", s->stopped);
}

void guest_stack_print(struct target *t, unsigned cpu, const struct cfi_regs *r, bool leaf_check, FILE *out)
{
	struct stack *s = xcalloc(1, sizeof(*s));
	stack_unwind(t, cpu, *r, leaf_check, s);
	if (t->json)
		stack_json(t, s, out);
	else
		stack_text(t, s, out);
	free(s);
}
