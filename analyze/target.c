/* target: what every target shares: the x86-64 page walk for virtual reads, symbols,
 * closing. */
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

void target_close(struct target *t)
{
	if (!t)
		return;
	symtab_free(&t->syms);
	linux_close(t);
	target_lines_free(t);
	dwarf_close_target(t);
	dwarf_names_free(t);
	free(t->symfile);
	if (t->ops->close)
		t->ops->close(t);
	free(t);
}

int target_add_symbols(struct target *t, const char *path, struct err *e)
{
	symtab_free(&t->syms);
	if (symtab_load_file(&t->syms, path, e) < 0)
		return -1;
	free(t->symfile);
	t->symfile = xstrdup(path);
	if (!t->syms.n)
		return err_set(e, "%s: no symbol table", path);
	return 0;
}

const char *target_vmcoreinfo(struct target *t)
{
	return t->ops->vmcoreinfo ? t->ops->vmcoreinfo(t) : NULL;
}

int target_check_build_id(struct target *t, const char *path, struct err *e)
{
	const char *vi = target_vmcoreinfo(t), *b = vi ? strstr(vi, "BUILD-ID=") : NULL;
	size_t n;
	if (!b || !t->syms.build_id[0])
		return 0; /* nothing to compare */
	b += 9;
	n = strcspn(b, "\n");
	if (n != strlen(t->syms.build_id) || strncmp(b, t->syms.build_id, n))
		return err_set(e, "%s does not match the dump: its build-id is %s, the dumped kernel's %.*s", path,
			       t->syms.build_id, (int)(n > 40 ? 40 : n), b);
	return 0;
}

int target_vtop(struct target *t, unsigned cpu, uint64_t va, uint64_t *pa, uint64_t *page_size)
{
	struct target_regs r;
	uint64_t table, e = 0;
	const uint64_t mask = 0x000ffffffffff000ull;
	if (t->kernel_pgt && (va >> 63)) { /* a kernel address: the kernel's own tables */
		table = t->kernel_pgt;
		goto walk;
	}
	if (t->ops->regs(t, cpu, &r) < 0)
		return -1;
	if (!r.full) /* without CR3 only identity can be assumed */
		return -1;
	if (!(r.cr0 & 0x80000000u)) { /* paging off: physical */
		*pa = va;
		*page_size = 4096;
		return 0;
	}
	if (!(r.efer & 0x400) || (r.cr4 & 0x1000))
		return -1; /* 32-bit paging and 5-level paging: not walked yet */
	table = r.cr3 & mask;
walk:
	for (int level = 4; level >= 1; level--) {
		int shift = 12 + 9 * (level - 1);
		unsigned idx = (va >> shift) & 511;
		if (t->ops->read_phys(t, (table & mask) + idx * 8, &e, 8) != 8 || !(e & 1))
			return -1;
		if (level == 1 || ((level == 2 || level == 3) && (e & 0x80))) {
			uint64_t size = 1ull << shift;
			*pa = (e & mask & ~(size - 1)) | (va & (size - 1));
			*page_size = size;
			return 0;
		}
		table = e;
	}
	return -1;
}

size_t target_read_virt(struct target *t, unsigned cpu, uint64_t va, void *buf, size_t len)
{
	size_t done = 0;
	if (t->ops->read_virt)
		return t->ops->read_virt(t, cpu, va, buf, len);
	while (done < len) {
		uint64_t pa, psz, n;
		if (target_vtop(t, cpu, va + done, &pa, &psz) < 0)
			break;
		n = psz - ((va + done) & (psz - 1));
		if (n > len - done)
			n = len - done;
		n = t->ops->read_phys(t, pa, (uint8_t *)buf + done, n);
		if (!n)
			break;
		done += n;
	}
	return done;
}

bool target_symbolize(struct target *t, uint64_t addr, bool is_return, char *buf, size_t len)
{
	const struct symbol *s = addr ? symtab_lookup_code(&t->syms, is_return ? addr - 1 : addr) : NULL;
	if (!s)
		return false;
	if (addr == s->addr)
		snprintf(buf, len, "%s", s->name);
	else
		snprintf(buf, len, "%s+0x%llx", s->name, (unsigned long long)(addr - s->addr));
	return true;
}
