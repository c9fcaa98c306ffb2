/* linux_kaslr: a Linux kernel's KASLR offset and phys_base from the dump alone, for dumps
 * without a VMCOREINFO note (QEMU without -device vmcoreinfo): the vmlinux's banner looked
 * for at each possible offset through a vCPU's page tables, else the kernel's own
 * VMCOREINFO text (KERNELOFFSET=, NUMBER(phys_base)=) found in physical memory. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

/* The vmlinux's banner at physical address pa. */
static bool banner_at(struct target *t, const struct linux_kernel *l, uint64_t pa)
{
	size_t n = strlen(l->banner);
	char got[sizeof(l->banner)];
	return t->ops->read_phys(t, pa, got, n) == n && !memcmp(got, l->banner, n);
}

/* linux_banner at link + offset for each offset KASLR can choose, through cpu's CR3. */
static bool by_page_tables(struct target *t, unsigned cpu, uint64_t link, struct linux_kernel *l)
{
	size_t n = strlen(l->banner);
	char got[sizeof(l->banner)];
	struct target_regs r;
	if (t->ops->regs(t, cpu, &r) < 0 || !r.full || !(r.cr0 & 0x80000000u))
		return false;
	for (uint64_t off = 0; off < LINUX_KASLR_MAX; off += LINUX_KASLR_ALIGN) {
		uint64_t pa, psz;
		if (target_vtop(t, cpu, link + off, &pa, &psz) < 0 ||
		    target_read_virt(t, cpu, link + off, got, n) != n || memcmp(got, l->banner, n))
			continue;
		l->kaslr = off;
		l->phys_base = (int64_t)(pa - (link + off - LINUX_KERNEL_MAP));
		l->phys_base_known = true;
		snprintf(l->how, sizeof(l->how), "the kernel text mapping (CPU %u's CR3)", cpu);
		return true;
	}
	return false;
}

/* Physical memory, 1 MiB at a time (holes stepped over a page at a time for 2 MiB, then 2
 * MiB at a time), for a VMCOREINFO text ("OSRELEASE=REL\n" and a KERNELOFFSET line) of the
 * vmlinux's release whose phys_base puts the vmlinux's banner where it is (the image is
 * physically contiguous); other releases seen go to seen_rel. Stops after 64 GiB without
 * memory. */
static bool by_vmcoreinfo_in_ram(struct target *t, uint64_t link, struct linux_kernel *l, char *seen_rel, size_t seen_len)
{
	enum { CHUNK = 1 << 20, TEXT = 4096 };
	static const char key[] = "OSRELEASE=";
	char rel[64];
	uint8_t *buf = xcalloc(1, CHUNK + TEXT);
	uint64_t pa = 0, empty = 0;
	bool found = false;
	snprintf(rel, sizeof(rel), "%s", l->banner + 14);
	rel[strcspn(rel, " ")] = 0;
	while (!found && empty < (64ull << 30) && pa < (1ull << 46)) {
		size_t n = t->ops->read_phys(t, pa, buf, CHUNK + TEXT);
		if (!n) {
			uint64_t step = empty < (2u << 20) ? 4096 : (2u << 20) - (pa & ((2u << 20) - 1));
			pa += step;
			empty += step;
			continue;
		}
		empty = 0;
		for (uint8_t *p = buf; !found && (p = memmem(p, n - (size_t)(p - buf), key, sizeof(key) - 1)) != NULL; p++) {
			char text[TEXT + 1], *v = text + sizeof(key) - 1;
			int64_t off, pb;
			size_t avail = n - (size_t)(p - buf) < TEXT ? n - (size_t)(p - buf) : TEXT, vl;
			memcpy(text, p, avail);
			text[avail] = 0;
			vl = strcspn(v, "\n");
			if (!v[vl] || !vl || vl > 64 || *v == '%') /* not a VMCOREINFO text (the kernel's format string) */
				continue;
			if (vl != strlen(rel) || strncmp(v, rel, vl)) {
				if (!seen_rel[0])
					snprintf(seen_rel, seen_len, "%.*s", (int)vl, v);
				continue;
			}
			if (!linux_vmcoreinfo_num(text, "KERNELOFFSET", &off) || (uint64_t)off >= LINUX_KASLR_MAX ||
			    !linux_vmcoreinfo_num(text, "NUMBER(phys_base)", &pb) || !banner_at(t, l, link + (uint64_t)off - LINUX_KERNEL_MAP + (uint64_t)pb))
				continue; /* another boot's, left in RAM */
			l->kaslr = (uint64_t)off;
			l->phys_base = pb;
			l->phys_base_known = true;
			snprintf(l->how, sizeof(l->how), "the kernel's VMCOREINFO in RAM at 0x%" PRIx64, pa + (uint64_t)(p - buf));
			found = true;
		}
		pa += n > CHUNK ? CHUNK : n; /* the TEXT bytes past the chunk are read again */
	}
	free(buf);
	return found;
}

int linux_find_kaslr(struct target *t, uint64_t banner_link, struct linux_kernel *l, char *seen_rel, size_t seen_len)
{
	seen_rel[0] = 0;
	for (unsigned cpu = 0; cpu < t->ops->nr_cpus(t); cpu++)
		if (by_page_tables(t, cpu, banner_link, l))
			return 0;
	return by_vmcoreinfo_in_ram(t, banner_link, l, seen_rel, seen_len) ? 0 : -1;
}

char *linux_read_vmcoreinfo(struct target *t)
{
	uint64_t data = linux_sym(t, "vmcoreinfo_data"), size_at = linux_sym(t, "vmcoreinfo_size"), p = 0, size = 0;
	char *text;
	if (!data || !size_at || !linux_read(t, data, &p, 8) || !linux_read(t, size_at, &size, 8) || !p || !size ||
	    size > 65536)
		return NULL;
	text = xcalloc(1, size + 1);
	if (!linux_read(t, p, text, size)) {
		free(text);
		return NULL;
	}
	text[strnlen(text, size)] = 0;
	return text;
}
