/* convert: a dump file as the source of another dump (hvdump convert): its physical RAM
 * (merged into page-aligned ranges), its notes verbatim, its VMCOREINFO, and vCPU states
 * for the ELF writer's kernel aliases. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int file_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	size_t got = dump_read_phys(opaque, gpa, buf, len);
	if (got < len) /* a hole inside a merged range, or an unreadable page: zeros */
		memset((uint8_t *)buf + got, 0, len - got);
	return 0;
}

static int range_cmp(const void *a, const void *b)
{
	const struct dump_range *x = a, *y = b;
	return x->gpa < y->gpa ? -1 : x->gpa > y->gpa;
}

int dump_source_from_file(struct dump_file *f, struct dump_source *src, struct dump_range *ranges, unsigned max,
			  struct err *e)
{
	unsigned n = 0, nphys = 0;
	struct dump_cpu *cpus;
	memset(src, 0, sizeof(*src));
	for (unsigned i = 0; i < f->nloads; i++)
		nphys += dump_load_is_physical(&f->loads[i]);
	for (unsigned i = 0; i < f->nloads; i++) {
		const struct dump_load *l = &f->loads[i];
		uint64_t start = (l->paddr + 4095) & ~4095ull, end = (l->paddr + l->memsz) & ~4095ull;
		if ((nphys && !dump_load_is_physical(l)) || end <= start || l->paddr + l->memsz < l->paddr)
			continue;
		if (n == max)
			return err_set(e, "more than %u memory ranges", max);
		ranges[n++] = (struct dump_range){ start, end - start };
	}
	qsort(ranges, n, sizeof(*ranges), range_cmp);
	{ /* merge overlapping and adjacent ranges (QEMU's paging dumps map pages more than once) */
		unsigned m = 0;
		for (unsigned i = 0; i < n; i++) {
			if (m && ranges[i].gpa <= ranges[m - 1].gpa + ranges[m - 1].size) {
				uint64_t end = ranges[i].gpa + ranges[i].size;
				if (end > ranges[m - 1].gpa + ranges[m - 1].size)
					ranges[m - 1].size = end - ranges[m - 1].gpa;
			} else {
				ranges[m++] = ranges[i];
			}
		}
		n = m;
	}
	cpus = calloc(dump_nr_cpus(f) + 1, sizeof(*cpus));
	if (!cpus)
		return err_set(e, "out of memory");
	for (unsigned i = 0; i < dump_nr_cpus(f); i++) {
		if (i < f->ncpus)
			cpus[i] = *f->cpus[i];
		else if (dump_qemu_cpu(f, i, &cpus[i]) < 0)
			cpus[i].index = i;
	}
	if (f->domain)
		src->domain = *f->domain;
	src->domain.nr_vcpus = dump_nr_cpus(f);
	src->cpus = cpus;
	src->nr_cpus = dump_nr_cpus(f);
	src->ranges = ranges;
	src->nr_ranges = n;
	src->read = file_read;
	src->opaque = f;
	src->read_mt = dump_read_mt(f); /* ELF reads are plain copies from the mapping; kdump's share a page cache */
	src->vmcoreinfo = f->vmcoreinfo;
	src->notes = f->notes;
	src->notes_len = f->notes_len;
	return 0;
}
