/* guest_stack: our guest kernel's stacks ($c, ::stack, bt, ::ps -v). Each frame is unwound
 * with the symbol file's DWARF CFI when an FDE covers its pc (cfi.c), else across the trap
 * entry's frame, else by its frame pointer: the steps the engine's loop (mdb/unwind.c) asks
 * in order, which also prints the frames as mdb's text or as JSON. A frame that cannot be
 * unwound ends the trace with a note. */
#include <capstone/capstone.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/unwind.h"
#include "guest/guest.h"
#include "guest_priv.h"

#define STACK_MAX 64

struct reader {
	struct target *t;
	unsigned cpu;
};

static bool read_word(void *arg, uint64_t addr, uint64_t *v)
{
	struct reader *r = arg;
	return target_read_virt(r->t, r->cpu, addr, v, 8) == 8;
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
	if (!x86_canonical(tf.rsp) || tf.rsp <= rbp)
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
	if (!x86_canonical(rbp) || (rbp & 7))
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

/* The guest's own state of a walk: whether a frameless leaf's caller is guessed. */
struct guest_walk {
	bool leaf_check;
};

/* A caller found (frame: its frame address; how: the step): the end at a pc of 0, an
 * error when it is outside the kernel's text. */
static enum unwind_rc found(struct unwind_state *st, struct unwind_frame *f, uint64_t frame, const char *how,
			    struct err *e)
{
	uint64_t pc = st->r.r[CFI_RIP];
	bool is_return = strcmp(how, "trap") != 0; /* a trap frame's pc is the interrupted instruction */
	char sym[128];
	if (!pc)
		return UNWIND_END; /* the outermost frame */
	if (!target_symbolize(st->t, pc, is_return, sym, sizeof(sym))) {
		f->pc = pc;
		err_set(e, "the frame chain leaves kernel text at 0x%llx", (unsigned long long)pc);
		return UNWIND_ERROR;
	}
	*f = (struct unwind_frame){ .kind = UNWIND_CALLER, .cfa = frame, .pc = pc, .is_return = is_return, .how = how,
				    .regs_known = st->r.known };
	st->is_return = is_return;
	return UNWIND_FOUND;
}

/* Caught entering an interrupt: a new top frame where it came from. */
static enum unwind_rc step_trap_entry(struct unwind_state *st, struct unwind_frame *f, struct err *e)
{
	struct guest_walk *g = st->os;
	uint64_t hw, w[4];
	char sym[128];
	(void)e;
	if (!st->top || !in_trap_entry(st->t, st->cpu, st->r.r[CFI_RIP], st->r.r[CFI_RSP], &hw) ||
	    target_read_virt(st->t, st->cpu, hw, w, sizeof(w)) != sizeof(w) ||
	    !target_symbolize(st->t, w[0], false, sym, sizeof(sym)))
		return UNWIND_CANNOT;
	st->r.r[CFI_RIP] = w[0];
	st->r.r[CFI_RSP] = w[3];
	g->leaf_check = true;
	*f = (struct unwind_frame){ .kind = UNWIND_TOP, .cfa = w[3], .pc = w[0], .interrupted = true, .how = "trap",
				    .regs_known = st->r.known };
	return UNWIND_FOUND;
}

/* A frameless leaf keeps its return address at [rsp]: a guess beside the chain, when no CFI
 * knows better and the frame pointer's frame does not hold it. */
static enum unwind_rc step_guess(struct unwind_state *st, struct unwind_frame *f, struct err *e)
{
	struct guest_walk *g = st->os;
	struct reader rd = { st->t, st->cpu };
	uint64_t sp = st->r.r[CFI_RSP], rbp = st->r.r[CFI_RBP], ret, w[2];
	char sym[128];
	(void)e;
	if (!st->top || !g->leaf_check || cfi_covers(st->t, st->r.r[CFI_RIP]) || !read_word(&rd, sp, &ret) ||
	    !target_symbolize(st->t, ret, true, sym, sizeof(sym)))
		return UNWIND_CANNOT;
	if (rbp && target_read_virt(st->t, st->cpu, rbp, w, 16) == 16 && w[1] == ret)
		return UNWIND_CANNOT;
	*f = (struct unwind_frame){ .kind = UNWIND_GUESS, .cfa = sp, .pc = ret, .is_return = true, .how = "guess" };
	return UNWIND_FOUND;
}

/* The symbol file's DWARF CFI, when an FDE covers the pc. */
static enum unwind_rc step_cfi(struct unwind_state *st, struct unwind_frame *f, struct err *e)
{
	struct reader rd = { st->t, st->cpu };
	int rc = cfi_step(st->t, &st->r, st->is_return, read_word, &rd, e);
	if (rc <= 0)
		return rc ? UNWIND_ERROR : UNWIND_CANNOT;
	/* the CFA less a return address and a saved rbp: where rbp would point */
	return found(st, f, st->r.r[CFI_RSP] - 16, "cfi", e);
}

static enum unwind_rc step_trap(struct unwind_state *st, struct unwind_frame *f, struct err *e)
{
	uint64_t rbp = st->r.r[CFI_RBP];
	int rc = st->is_return ? trap_step(st->t, st->cpu, &st->r, e) : 0;
	if (rc <= 0)
		return rc ? UNWIND_ERROR : UNWIND_CANNOT;
	return found(st, f, rbp, "trap", e);
}

static enum unwind_rc step_fp(struct unwind_state *st, struct unwind_frame *f, struct err *e)
{
	uint64_t frame = 0;
	int rc = fp_step(st->t, st->cpu, &st->r, &frame, e);
	if (rc <= 0)
		return rc ? UNWIND_ERROR : UNWIND_END;
	return found(st, f, frame, "fp", e);
}

static const unwind_step_fn guest_steps[] = { step_trap_entry, step_guess, step_cfi, step_trap, step_fp };

void guest_stack_print(struct target *t, unsigned cpu, const struct cfi_regs *r, bool leaf_check, FILE *out)
{
	struct unwind_stack *s = xcalloc(1, sizeof(*s));
	struct guest_walk g = { .leaf_check = leaf_check };
	struct unwind_state st = { .t = t, .cpu = cpu, .r = *r, .top = true, .os = &g };
	static const struct unwind_print style = { .leaves_text = "(the frame chain leaves kernel text)" };
	s->max = STACK_MAX;
	unwind_add(s, &(struct unwind_frame){ .kind = UNWIND_TOP, .cfa = r->r[CFI_RSP], .pc = r->r[CFI_RIP], .how = "regs",
					      .regs_known = r->known });
	unwind_walk(&st, guest_steps, sizeof(guest_steps) / sizeof(guest_steps[0]), s);
	if (t->json)
		unwind_print_json(t, s, out);
	else
		unwind_print_text(t, s, &style, out);
	free(s);
}
