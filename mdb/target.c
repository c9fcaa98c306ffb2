/* target: what every target shares: virtual reads through util's page walk (the CPU's
 * paging mode, or the kernel's own tables), symbols, closing. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"
#include "x86/x86.h"

void target_close(struct target *t)
{
	if (!t)
		return;
	symtab_free(&t->syms);
	mdb_os_detach(t);
	target_lines_free(t);
	dwarf_close_target(t);
	dwarf_names_free(t);
	free(t->symfile);
	free(t->path);
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

/* The GNU build-id note at buf (len bytes read from a guest), in hex into out[41]; false
 * when the bytes are no such note. */
static bool note_build_id(const uint8_t *buf, size_t len, char out[41])
{
	uint32_t h[3];
	if (len < 16)
		return false;
	memcpy(h, buf, sizeof(h));
	if (h[0] != 4 || h[2] != 3 /* NT_GNU_BUILD_ID */ || memcmp(buf + 12, "GNU", 4) || !h[1] || h[1] > 20 ||
	    16 + h[1] > len)
		return false;
	for (uint32_t i = 0; i < h[1]; i++)
		snprintf(out + 2 * i, 3, "%02x", buf[16 + i]);
	return true;
}

/* A live kernel's build-id: the note read from guest memory where the symbol file has it
 * (its virtual address, else its physical load address). 1 and the id, 0 when the bytes
 * there are no build-id note, -1 when they cannot be read. */
static int live_build_id(struct target *t, char out[41])
{
	uint8_t buf[36];
	size_t n = target_read_virt(t, t->cpu, t->syms.build_id_va, buf, sizeof(buf));
	if (n == sizeof(buf) && note_build_id(buf, n, out))
		return 1;
	if (t->syms.build_id_pa && t->ops->read_phys(t, t->syms.build_id_pa, buf, sizeof(buf)) == sizeof(buf)) {
		if (note_build_id(buf, sizeof(buf), out))
			return 1;
		n = sizeof(buf);
	}
	return n == sizeof(buf) ? 0 : -1;
}

int target_check_build_id(struct target *t, const char *path, struct err *e)
{
	const char *vi = target_vmcoreinfo(t), *b = vi ? strstr(vi, "BUILD-ID=") : NULL;
	char live[41] = "";
	size_t n;
	if (!b && t->ops->run && t->syms.build_id[0] && t->syms.build_id_va) { /* a running kernel */
		int r = live_build_id(t, live);
		if (r == 0)
			return err_set(e, "%s does not match the running kernel: its build-id is %s, and the kernel has "
					  "no build-id note at %#" PRIx64 " where this file has its own",
				       path, t->syms.build_id, t->syms.build_id_va);
		if (r < 0)
			return 0; /* not readable (not loaded yet): nothing to compare */
		b = live;
	}
	if (!b || !t->syms.build_id[0])
		return 0; /* nothing to compare */
	if (b != live)
		b += 9;
	n = strcspn(b, "\n");
	if (n != strlen(t->syms.build_id) || strncmp(b, t->syms.build_id, n))
		return err_set(e, "%s does not match the %s: its build-id is %s, the %s kernel's %.*s", path,
			       b == live ? "running kernel" : "dump", t->syms.build_id, b == live ? "running" : "dumped",
			       (int)(n > 40 ? 40 : n), b);
	return 0;
}

static int read_phys_all(void *opaque, uint64_t pa, void *buf, size_t len)
{
	struct target *t = opaque;
	return t->ops->read_phys(t, pa, buf, len) == len ? 0 : -1;
}

/* A CPU's paging mode (pagewalk_levels) and CR3; -1 also when its control registers are
 * unknown (NT_PRSTATUS only). */
static int cpu_paging(struct target *t, unsigned cpu, uint64_t *cr3)
{
	struct target_regs r;
	if (t->ops->regs(t, cpu, &r) < 0 || !r.full)
		return -1;
	*cr3 = r.cr3;
	return pagewalk_levels(r.cr0, r.cr4, r.efer);
}

int target_vtop(struct target *t, unsigned cpu, uint64_t va, uint64_t *pa, uint64_t *page_size)
{
	struct pagewalk w = { .read = read_phys_all, .opaque = t };
	int levels = cpu_paging(t, cpu, &w.top);
	if (t->kernel_pt_root && (va >> 63)) { /* a kernel address: the kernel's own tables */
		uint64_t cr3;
		const char *vi;
		/* 5 levels when a CPU in long mode says CR4.LA57 (an offline one in real mode
		 * says nothing), else when the VMCOREINFO does (Linux's pgtable_l5_enabled:
		 * dumps with NT_PRSTATUS only); else 4 */
		for (unsigned i = 0; levels < 4 && i < t->ops->nr_cpus(t); i++)
			levels = cpu_paging(t, i, &cr3);
		if (levels < 4 && (vi = target_vmcoreinfo(t)) && strstr(vi, "NUMBER(pgtable_l5_enabled)=1\n"))
			levels = 5;
		w.top = t->kernel_pt_root;
		w.levels = levels == 5 ? 5 : 4;
	} else if (levels == 0) { /* paging off: physical */
		*pa = va;
		*page_size = 4096;
		return 0;
	} else if (levels < 0) { /* without CR3 only identity can be assumed; 32-bit paging: not walked */
		return -1;
	} else {
		w.levels = levels;
	}
	return pagewalk_translate(&w, va, pa, page_size, NULL);
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

/* One table's lookup: the symbol file's, else the OS module's (a loaded module's code). */
static const struct symbol *lookup_in(struct target *t, uint64_t addr, bool code, const char **mod)
{
	const struct symbol *s = code ? symtab_lookup_code(&t->syms, addr) : symtab_lookup(&t->syms, addr);
	if (!s && t->os && t->os->symbolize)
		s = t->os->symbolize(t, addr, code, mod);
	return s;
}

const struct symbol *target_symbol(struct target *t, uint64_t addr, bool code, bool is_return, const char **mod,
				   bool *past_end)
{
	const struct symbol *s = NULL;
	if (mod)
		*mod = NULL;
	if (past_end)
		*past_end = false;
	if (!addr)
		return NULL;
	if (!is_return)
		s = lookup_in(t, addr, code, mod);
	if (!s) { /* a return address: the call's own function, also when the call ends it */
		s = lookup_in(t, addr - 1, true, mod);
		if (s && past_end)
			*past_end = s->size && addr == s->addr + s->size;
	}
	return s;
}

bool target_symbolize(struct target *t, uint64_t addr, bool is_return, char *buf, size_t len)
{
	return symtab_format(target_symbol(t, addr, true, is_return, NULL, NULL), addr, buf, len);
}

const char *target_lacks(const struct target *t, enum target_cap c)
{
	const struct target_ops *o = t->ops;
	switch (c) {
	case TCAP_RUN:
		return o->run ? NULL : "this target is a dump: run control needs a live domain (hvmdb -d NAME)";
	case TCAP_BREAKPOINTS:
		return o->set_bp ? NULL : "this target has no breakpoints";
	case TCAP_WRITE_MEM:
		return o->write_virt ? NULL : "this target cannot be written (a dump is read-only)";
	case TCAP_WRITE_REGS:
		return o->set_reg ? NULL : "this target's registers cannot be written (a dump is read-only)";
	}
	return "the target cannot do that";
}
