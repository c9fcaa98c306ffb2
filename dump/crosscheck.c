/* crosscheck: what a dump says twice must agree, or the dump is refused at open (a flipped
 * byte must not make one command say 7426 vCPUs while another lists 2): the vCPU count of
 * our domain note against the vCPU notes and NT_PRSTATUS notes, each vCPU note's index and
 * registers against its NT_PRSTATUS, the domain's memory size against the RAM the file
 * holds, and RAM ranges that overlap. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static int by_paddr(const void *a, const void *b)
{
	const struct dump_load *x = a, *y = b;
	return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

static int bad(struct err *e, const char *path, const char *what)
{
	return err_set(e, "%s: inconsistent dump: %s (a damaged file?)", path, what);
}

int dump_crosscheck(struct dump_file *f, const char *path, struct err *e)
{
	const struct dump_domain *d = f->domain;
	uint64_t ram = 0;
	char what[200];

	if (!d || f->image) /* only ours say things twice; images check their records' CRCs */
		return 0;
	if (d->nr_vcpus != f->ncpus) {
		snprintf(what, sizeof(what), "the domain note says %u vCPUs, the file holds %u vCPU notes", d->nr_vcpus,
			 f->ncpus);
		return bad(e, path, what);
	}
	if (f->nprstatus != f->ncpus) {
		snprintf(what, sizeof(what), "%u vCPU notes but %u NT_PRSTATUS notes", f->ncpus, f->nprstatus);
		return bad(e, path, what);
	}
	for (unsigned i = 0; i < f->ncpus; i++) {
		const struct dump_cpu *c = f->cpus[i];
		uint64_t rip, rsp, rbp;
		if (c->index != i) {
			snprintf(what, sizeof(what), "vCPU note %u is for vCPU %u", i, c->index);
			return bad(e, path, what);
		}
		if (dump_prstatus_regs(f, i, &rip, &rsp, &rbp) == 0 && (rip != c->rip || rsp != c->rsp || rbp != c->rbp)) {
			snprintf(what, sizeof(what), "vCPU %u's registers differ between its note (rip %llx) and NT_PRSTATUS "
						   "(rip %llx)", i, (unsigned long long)c->rip, (unsigned long long)rip);
			return bad(e, path, what);
		}
	}
	{ /* the physical segments by address: each must end before the next begins */
		struct dump_load *l = malloc((f->nloads ? f->nloads : 1) * sizeof(*l));
		unsigned n = 0;
		if (!l)
			return err_set(e, "out of memory");
		for (unsigned i = 0; i < f->nloads; i++)
			if (dump_load_is_physical(&f->loads[i]))
				l[n++] = f->loads[i];
		qsort(l, n, sizeof(*l), by_paddr);
		for (unsigned i = 0; i < n; i++) {
			ram += l[i].memsz;
			if (i && l[i].paddr - l[i - 1].paddr < l[i - 1].memsz) {
				snprintf(what, sizeof(what), "RAM segments overlap (0x%llx+0x%llx and 0x%llx+0x%llx)",
					 (unsigned long long)l[i - 1].paddr, (unsigned long long)l[i - 1].memsz,
					 (unsigned long long)l[i].paddr, (unsigned long long)l[i].memsz);
				free(l);
				return bad(e, path, what);
			}
		}
		free(l);
	}
	if (ram != d->mem_bytes) {
		snprintf(what, sizeof(what), "the domain note says %llu bytes of memory, the file holds %llu bytes of RAM",
			 (unsigned long long)d->mem_bytes, (unsigned long long)ram);
		return bad(e, path, what);
	}
	return 0;
}
