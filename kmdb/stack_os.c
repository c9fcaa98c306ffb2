/* stack_os: the d key's call trace on a Linux domain from the Linux module's own unwinder
 * (ORC, the bt of hvmdb and the q prompt), over the key's snapshot of the vCPUs: the
 * vmlinux hv loaded gives the symbols and types. Other kernels keep the frame-pointer
 * trace (stack.c). */
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"
#include "hv/hv.h"
#include "internal.h"

struct snap {
	struct hv *hv;
	int id;
	const struct vcpu_snapshot *vs;
	unsigned n;
};

static unsigned s_nr_cpus(struct target *t)
{
	return ((struct snap *)t->priv)->n;
}

static int s_regs(struct target *t, unsigned cpu, struct target_regs *r)
{
	struct snap *s = t->priv;
	if (cpu >= s->n)
		return -1;
	*r = (struct target_regs){ .online = s->vs[cpu].online, .full = true };
	hv_regs_from_kvm(&s->vs[cpu].regs, &s->vs[cpu].sregs, &r->x86);
	return 0;
}

static size_t s_read_phys(struct target *t, uint64_t pa, void *buf, size_t len)
{
	struct snap *s = t->priv;
	return hv_read_phys(s->hv, s->id, pa, buf, len);
}

static size_t s_read_virt(struct target *t, unsigned cpu, uint64_t va, void *buf, size_t len)
{
	struct snap *s = t->priv;
	return hv_read_virt(s->hv, s->id, cpu, va, buf, len);
}

static void s_close(struct target *t)
{
	free(t->priv);
}

static const struct target_ops snap_ops = {
	.kind = "live", .nr_cpus = s_nr_cpus, .regs = s_regs, .read_phys = s_read_phys,
	.read_virt = s_read_virt, .close = s_close,
};

struct target *kmdb_stack_os_open(struct hv *hv, int id, const struct vcpu_snapshot *vs, unsigned n)
{
	char path[300];
	struct err e;
	struct snap *s;
	struct target *t;
	if (hv_domain_kernel_path(hv, id, path, sizeof(path)) < 0 || kmdb_os_register() < 0)
		return NULL;
	s = xcalloc(1, sizeof(*s));
	*s = (struct snap){ .hv = hv, .id = id, .vs = vs, .n = n };
	t = xcalloc(1, sizeof(*t));
	t->ops = &snap_ops;
	t->priv = s;
	if (target_add_symbols(t, path, &e) < 0 || mdb_os_attach(t, NULL, &e) < 0 || !t->os ||
	    strcmp(t->os->name, "linux") || !t->os->stack) {
		target_close(t);
		return NULL;
	}
	return t;
}

int kmdb_stack_os(struct target *t, unsigned cpu, FILE *out)
{
	t->cpu = cpu;
	return t->os->stack(t, NULL, out);
}
