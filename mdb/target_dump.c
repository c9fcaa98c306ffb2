/* target_dump: the dump target: a dump file (ours, or any x86-64 ELF core) opened with
 * dump/'s reader, registers from our HVKIT notes or NT_PRSTATUS. */
#include <stdlib.h>
#include <string.h>

#include "mdb.h"
#include "dump/dump.h"

static unsigned d_nr_cpus(struct target *t)
{
	return dump_nr_cpus(t->priv);
}

static int d_regs(struct target *t, unsigned cpu, struct target_regs *r)
{
	const struct dump_cpu *c = dump_cpu(t->priv, cpu);
	struct dump_cpu q;
	memset(r, 0, sizeof(*r));
	if (!c && dump_qemu_cpu(t->priv, cpu, &q) == 0)
		c = &q;
	if (c) {
		dump_cpu_to_x86(c, &r->x86);
		r->online = c->online;
		r->full = true;
		return 0;
	}
	if (dump_prstatus_regs(t->priv, cpu, &r->rip, &r->rsp, &r->rbp) < 0)
		return -1;
	r->online = true;
	return 0;
}

static size_t d_read_phys(struct target *t, uint64_t pa, void *buf, size_t len)
{
	return dump_read_phys(t->priv, pa, buf, len);
}

static void d_status(struct target *t, FILE *out)
{
	const struct dump_domain *d = dump_domain_info(t->priv);
	fprintf(out, "debugging %s (%s)\n", dump_is_image(t->priv) ? "a saved domain" : "crash dump",
		dump_format(t->priv));
	if (d) {
		fprintf(out, "domain: %d (%s), %u vCPUs, %llu MiB\n", d->id, d->name, d->nr_vcpus,
			(unsigned long long)(d->mem_bytes >> 20));
		fprintf(out, "state: %s\n", d->state);
		if (d->reason[0])
			fprintf(out, "panic message: %s\n", d->reason);
	}
	{
		unsigned nh;
		if (dump_hashes(t->priv, &nh))
			fprintf(out, "integrity: a hash per RAM range (%u; ::verify checks them)\n", nh);
	}
	if (dump_vmcoreinfo(t->priv)) {
		const char *rel = strstr(dump_vmcoreinfo(t->priv), "OSRELEASE=");
		if (rel)
			fprintf(out, "os release: %.*s\n", (int)strcspn(rel + 10, "\n"), rel + 10);
	}
}

static int d_status_info(struct target *t, struct target_status *s)
{
	const struct dump_domain *d = dump_domain_info(t->priv);
	const char *vi = dump_vmcoreinfo(t->priv), *rel = vi ? strstr(vi, "OSRELEASE=") : NULL;
	memset(s, 0, sizeof(*s));
	s->domain_id = -1;
	snprintf(s->format, sizeof(s->format), "%s", dump_format(t->priv));
	if (d) {
		s->domain_id = d->id;
		snprintf(s->domain, sizeof(s->domain), "%.*s", (int)strnlen(d->name, sizeof(d->name)), d->name);
		snprintf(s->state, sizeof(s->state), "%.*s", (int)strnlen(d->state, sizeof(d->state)), d->state);
		snprintf(s->reason, sizeof(s->reason), "%.*s", (int)strnlen(d->reason, sizeof(d->reason)), d->reason);
		s->nr_vcpus = d->nr_vcpus;
		s->mem_bytes = d->mem_bytes;
		s->time_ns = d->time_ns;
	}
	if (rel)
		snprintf(s->os_release, sizeof(s->os_release), "%.*s", (int)strcspn(rel + 10, "\n"), rel + 10);
	return 0;
}

static int d_verify(struct target *t, FILE *out, struct err *e)
{
	unsigned n;
	return dump_verify(t->priv, out, &n, e);
}

static const char *d_vmcoreinfo(struct target *t)
{
	return dump_vmcoreinfo(t->priv);
}

static void d_close(struct target *t)
{
	dump_close(t->priv);
}

static const struct target_ops dump_ops = {
	.kind = "dump", .nr_cpus = d_nr_cpus, .regs = d_regs, .read_phys = d_read_phys, .status = d_status,
	.status_info = d_status_info, .vmcoreinfo = d_vmcoreinfo, .close = d_close, .verify = d_verify,
};

struct target *target_dump_open(const char *path, struct err *e)
{
	struct dump_file *f = dump_open(path, e);
	struct target *t;
	if (!f)
		return NULL;
	if (!dump_nr_cpus(f)) {
		dump_close(f);
		err_set(e, "%s: the dump has no CPU state", path);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->ops = &dump_ops;
	t->priv = f;
	t->path = xstrdup(path);
	return t;
}
