/* stack: the d key's call trace as the engine's unwinder walks it (mdb/unwind.c): a live
 * vCPU's frame-pointer chain read through hv, in the frame rows every stack printer uses. */
#include "mdb/unwind.h"
#include "hv/hv.h"
#include "internal.h"

#define FP_DEPTH 16 /* callers the d key follows */

/* The domain and vCPU the walk reads, and how far the chain got. */
struct live {
	struct hv *hv;
	int id;
	unsigned vcpu;
	int depth;
	bool ended; /* the last caller's frame did not lie above its callee's */
};

static size_t l_read_virt(struct target *t, unsigned cpu, uint64_t va, void *buf, size_t len)
{
	struct live *l = t->priv;
	return hv_read_virt(l->hv, l->id, cpu, va, buf, len);
}

static unsigned l_nr_cpus(struct target *t)
{
	return ((struct live *)t->priv)->vcpu + 1;
}

static const struct target_ops live_ops = { .kind = "live", .nr_cpus = l_nr_cpus, .read_virt = l_read_virt };

static bool is_text(const struct live *l, uint64_t pc)
{
	char name[128];
	return hv_symbolize_code(l->hv, l->id, pc, true, name, sizeof(name));
}

/* A frameless leaf (or a function before its prologue) keeps its return address at
 * [rsp], outside the rbp chain: a guess beside it, as Linux shows one. */
static enum unwind_rc step_leaf(struct unwind_state *st, struct unwind_frame *f, struct err *e)
{
	struct live *l = st->os;
	uint64_t sp = st->r.r[CFI_RSP], rbp = st->r.r[CFI_RBP], ret, frame[2];
	(void)e;
	if (!st->top || l->depth || target_read_virt(st->t, l->vcpu, sp, &ret, 8) != 8 || !is_text(l, ret))
		return UNWIND_CANNOT;
	if (rbp && target_read_virt(st->t, l->vcpu, rbp, frame, sizeof(frame)) == sizeof(frame) && frame[1] == ret)
		return UNWIND_CANNOT;
	*f = (struct unwind_frame){ .kind = UNWIND_GUESS, .cfa = sp, .pc = ret, .is_return = true, .how = "guess" };
	return UNWIND_FOUND;
}

/* [rbp] is the caller's rbp, [rbp+8] its return address; the chain ends quietly at an
 * rbp that is not a frame, and with an error (stop.pc) at a return address outside text. */
static enum unwind_rc step_fp(struct unwind_state *st, struct unwind_frame *f, struct err *e)
{
	struct live *l = st->os;
	uint64_t rbp = st->r.r[CFI_RBP], frame[2];
	if (l->ended || l->depth >= FP_DEPTH || !rbp || !x86_canonical(rbp) || (rbp & 7) ||
	    target_read_virt(st->t, l->vcpu, rbp, frame, sizeof(frame)) != sizeof(frame) || !frame[1])
		return UNWIND_END;
	if (!is_text(l, frame[1])) {
		f->pc = frame[1];
		err_set(e, "not a kernel text address");
		return UNWIND_ERROR;
	}
	l->depth++;
	l->ended = frame[0] <= rbp; /* frames grow upwards; anything else ends the walk */
	st->r.r[CFI_RBP] = frame[0];
	st->r.r[CFI_RSP] = rbp + 16;
	st->r.r[CFI_RIP] = frame[1];
	st->is_return = true;
	*f = (struct unwind_frame){ .kind = UNWIND_CALLER, .cfa = rbp, .pc = frame[1], .is_return = true, .how = "fp" };
	return UNWIND_FOUND;
}

static const unwind_step_fn live_steps[] = { step_leaf, step_fp };

void kmdb_stack_fp(struct hv *hv, int id, unsigned vcpu, const struct x86_regs *r, struct unwind_stack *s)
{
	struct live l = { .hv = hv, .id = id, .vcpu = vcpu };
	struct target t = { .ops = &live_ops, .priv = &l, .cpu = vcpu };
	struct unwind_state st = { .t = &t, .cpu = vcpu, .r = unwind_regs_from_x86(r), .top = true, .os = &l };
	*s = (struct unwind_stack){ 0 };
	unwind_add(s, &(struct unwind_frame){ .kind = UNWIND_TOP, .cfa = r->rsp, .pc = r->rip, .how = "regs",
					      .regs_known = st.r.known });
	unwind_walk(&st, live_steps, sizeof(live_steps) / sizeof(live_steps[0]), s);
}
