/* target_hv: the engine's live target inside hv (the q prompt): a debug session on one
 * domain (hv_dbg_*), so every hvmdb command works on it with the same code. */
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"
#include "hv/hv.h"
#include "internal.h"

static unsigned h_nr_cpus(struct target *t)
{
	return hv_dbg_nr_vcpus(t->priv);
}

static int h_regs(struct target *t, unsigned cpu, struct target_regs *r)
{
	struct kvm_regs k;
	struct kvm_sregs s;
	if (hv_dbg_get_regs(t->priv, cpu, &k, &s) < 0)
		return -1;
	*r = (struct target_regs){ .online = hv_dbg_online(t->priv, cpu), .full = true };
	hv_regs_from_kvm(&k, &s, &r->x86);
	return 0;
}

static size_t h_read_phys(struct target *t, uint64_t pa, void *buf, size_t len)
{
	return hv_dbg_read_phys(t->priv, pa, buf, len);
}

static size_t h_read_virt(struct target *t, unsigned cpu, uint64_t va, void *buf, size_t len)
{
	return hv_dbg_read_virt(t->priv, cpu, va, buf, len);
}

static size_t h_write_virt(struct target *t, unsigned cpu, uint64_t va, const void *buf, size_t len, struct err *e)
{
	hv_dbg_set_writable(t->priv, t->writable);
	return hv_dbg_write_virt(t->priv, cpu, va, buf, len, e);
}

static int h_set_reg(struct target *t, unsigned cpu, const char *name, uint64_t v, struct err *e)
{
	const struct x86_reg_desc *d = x86_reg_by_name(name);
	struct kvm_regs k;
	struct kvm_sregs s;
	struct x86_regs x;
	if (hv_dbg_get_regs(t->priv, cpu, &k, &s) < 0)
		return err_set(e, "no stopped vCPU %u", cpu);
	if (!d || !(d->flags & X86_REG_KVM))
		return err_set(e, "%s: only the general registers, rip and rflags can be set", name);
	hv_regs_from_kvm(&k, &s, &x);
	x86_reg_set(&x, d, v);
	hv_regs_to_kvm(&x, &k);
	hv_dbg_set_writable(t->priv, t->writable);
	return hv_dbg_set_regs(t->priv, cpu, &k, e);
}

static int h_set_bp(struct target *t, enum target_bp_kind k, uint64_t addr, unsigned len, bool insert, struct err *e)
{
	return hv_dbg_set_bp(t->priv, k == TBP_EXEC ? HV_DBG_EXEC : k == TBP_WRITE ? HV_DBG_WRITE : HV_DBG_ACCESS, addr, len,
			     insert, e);
}

static int h_run(struct target *t, int step_cpu, struct target_stop *s, struct err *e)
{
	struct hv_dbg_stop st;
	if (hv_dbg_resume(t->priv, step_cpu, e) < 0)
		return -1;
	if (hv_dbg_wait_stop(t->priv, &st) < 0)
		return err_set(e, "lost the domain while it ran");
	memset(s, 0, sizeof(*s));
	s->cpu = st.cpu;
	if (st.exited) {
		s->kind = TSTOP_EXITED;
		snprintf(s->why, sizeof(s->why), "%s", st.why);
		return 0;
	}
	s->kind = st.kind == HV_DBG_STOP_STEP ? TSTOP_STEP : st.kind == HV_DBG_STOP_BP ? TSTOP_BREAK
		  : st.kind == HV_DBG_STOP_WATCH ? TSTOP_WATCH : TSTOP_INTERRUPT;
	s->addr = st.bp.addr;
	return 0;
}

static void h_status(struct target *t, FILE *out)
{
	fprintf(out, "debugging live domain %s (id %d), stopped at the kmdb prompt\n", hv_dbg_domain_name(t->priv),
		hv_dbg_domain_id(t->priv));
}

static void h_close(struct target *t)
{
	(void)t; /* the session belongs to the prompt */
}

static const struct target_ops hv_target_ops = {
	.kind = "live", .nr_cpus = h_nr_cpus, .regs = h_regs, .read_phys = h_read_phys, .status = h_status,
	.close = h_close, .read_virt = h_read_virt, .write_virt = h_write_virt, .set_reg = h_set_reg,
	.set_bp = h_set_bp, .run = h_run,
};

struct target *kmdb_target_hv(struct hv_dbg *g)
{
	struct target *t = xcalloc(1, sizeof(*t));
	t->ops = &hv_target_ops;
	t->priv = g;
	return t;
}
