/* target_hv: the engine's live target inside hv (the q prompt): a debug session on one
 * domain (hv_dbg_*), so every hvmdb command works on it with the same code. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"
#include "hv/hv.h"
#include "internal.h"

static unsigned h_nr_cpus(struct target *t)
{
	return hv_dbg_nr_vcpus(t->priv);
}

/* The general registers, rip and rflags lead both structures in the same order. */
_Static_assert(offsetof(struct target_regs, rflags) == offsetof(struct gdbstub_regs, rflags) &&
		       offsetof(struct target_regs, rflags) == 17 * 8 && offsetof(struct target_regs, cr0) == 18 * 8,
	       "struct target_regs and struct gdbstub_regs start alike");

static int h_regs(struct target *t, unsigned cpu, struct target_regs *r)
{
	struct gdbstub_regs g;
	if (kmdb_hv_regs(t->priv, cpu, &g) < 0)
		return -1;
	*r = (struct target_regs){
		.cr0 = g.cr0, .cr2 = g.cr2, .cr3 = g.cr3, .cr4 = g.cr4, .efer = g.efer, .fs_base = g.fs_base,
		.gs_base = g.gs_base, .cs = (uint16_t)g.cs, .ss = (uint16_t)g.ss, .online = hv_dbg_online(t->priv, cpu),
		.full = true,
	};
	memcpy(r, &g, offsetof(struct target_regs, cr0));
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
	static const char *const names[] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9",
					     "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags" };
	struct kvm_regs k;
	uint64_t *slot[18];
	if (hv_dbg_get_regs(t->priv, cpu, &k, NULL) < 0)
		return err_set(e, "no stopped vCPU %u", cpu);
	slot[0] = (uint64_t *)&k.rax; slot[1] = (uint64_t *)&k.rbx; slot[2] = (uint64_t *)&k.rcx;
	slot[3] = (uint64_t *)&k.rdx; slot[4] = (uint64_t *)&k.rsi; slot[5] = (uint64_t *)&k.rdi;
	slot[6] = (uint64_t *)&k.rbp; slot[7] = (uint64_t *)&k.rsp; slot[8] = (uint64_t *)&k.r8;
	slot[9] = (uint64_t *)&k.r9; slot[10] = (uint64_t *)&k.r10; slot[11] = (uint64_t *)&k.r11;
	slot[12] = (uint64_t *)&k.r12; slot[13] = (uint64_t *)&k.r13; slot[14] = (uint64_t *)&k.r14;
	slot[15] = (uint64_t *)&k.r15; slot[16] = (uint64_t *)&k.rip; slot[17] = (uint64_t *)&k.rflags;
	for (int i = 0; i < 18; i++) {
		if (!strcmp(name, names[i])) {
			*slot[i] = v;
			hv_dbg_set_writable(t->priv, t->writable);
			return hv_dbg_set_regs(t->priv, cpu, &k, e);
		}
	}
	return err_set(e, "%s: only the general registers, rip and rflags can be set", name);
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
