/* linux_mod: mod / ::modinfo for Linux: the loaded modules on the kernel's `modules` list,
 * each one's struct module, name, base and size (core_layout of 4.5 to 6.3, module_core
 * before, mem[] from 6.4), in crash's `mod` columns; and the list kept for the unwinder and
 * the symbols (linux_module_at). The walk is capped and stops at a loop or an unreadable
 * entry. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

#define MAX_MODULES 65536
#define MOD_NAME_LEN 56
#define MOD_MEM_TYPES 7 /* enum mod_mem_type of 6.4+ */

enum { M_LIST, M_NAME, M_CORE_BASE, M_CORE_SIZE, M_OLD_BASE, M_OLD_SIZE, M_MEM, MM_BASE, MM_SIZE, MM_SIZEOF, NF };

/* The modules, *n of them; NULL after a message on out (if any) when struct module's layout
 * is unknown. */
static struct linux_module *mods_read(struct target *t, size_t *n, FILE *out)
{
	struct dwarf_field f[NF] = {
		[M_LIST] = { .type = "module", .member = "list" },
		[M_NAME] = { .type = "module", .member = "name" },
		[M_CORE_BASE] = { .type = "module", .member = "core_layout.base" },
		[M_CORE_SIZE] = { .type = "module", .member = "core_layout.size" },
		[M_OLD_BASE] = { .type = "module", .member = "module_core" },
		[M_OLD_SIZE] = { .type = "module", .member = "core_size" },
		[M_MEM] = { .type = "module", .member = "mem" },
		[MM_BASE] = { .type = "module_memory", .member = "base" },
		[MM_SIZE] = { .type = "module_memory", .member = "size" },
		[MM_SIZEOF] = { .type = "module_memory", .member = NULL },
	};
	uint64_t head = linux_sym(t, "modules"), next;
	size_t cap = 0;
	struct linux_module *v = NULL;
	int64_t base_off, size_off;
	bool mem;
	*n = 0;
	if (!head) {
		if (out)
			fprintf(out, "mdb: the vmlinux has no `modules` list\n");
		return NULL;
	}
	/* struct module's fields first: asking for a type the kernel lacks costs a pass over all the DWARF */
	if (linux_fields(t, NULL, f, M_MEM + 1) < 0 || f[M_LIST].off < 0 || f[M_NAME].off < 0) {
		if (out)
			fprintf(out, "mdb: struct module's list and name are not in the symbol file's DWARF\n");
		return NULL;
	}
	mem = f[M_CORE_BASE].off < 0 && f[M_OLD_BASE].off < 0;
	base_off = f[M_CORE_BASE].off >= 0 ? f[M_CORE_BASE].off : f[M_OLD_BASE].off;
	size_off = f[M_CORE_BASE].off >= 0 ? f[M_CORE_SIZE].off : f[M_OLD_SIZE].off;
	if (mem && f[M_MEM].off >= 0)
		linux_fields(t, NULL, f + MM_BASE, NF - MM_BASE);
	if (mem && (f[M_MEM].off < 0 || f[MM_BASE].off < 0 || f[MM_SIZE].off < 0 || !f[MM_SIZEOF].size)) {
		if (out)
			fprintf(out, "mdb: struct module has neither core_layout, module_core nor mem[] in the symbol file's DWARF\n");
		return NULL;
	}
	v = xcalloc(1, sizeof(*v));
	cap = 1;
	if (!linux_read(t, head, &next, 8))
		return v;
	while (next != head && *n < MAX_MODULES) {
		struct linux_module m = { .addr = next - (uint64_t)f[M_LIST].off };
		bool loop = false;
		for (size_t i = 0; i < *n; i++)
			loop |= v[i].addr == m.addr;
		if (loop || !linux_read(t, m.addr + (uint64_t)f[M_NAME].off, m.name, MOD_NAME_LEN))
			break;
		if (mem) { /* text's base; the size of every kind of memory */
			uint64_t at = m.addr + (uint64_t)f[M_MEM].off;
			linux_read(t, at + (uint64_t)f[MM_BASE].off, &m.base, 8);
			for (unsigned k = 0; k < MOD_MEM_TYPES; k++) {
				uint32_t sz = 0;
				if (linux_read(t, at + k * f[MM_SIZEOF].size + (uint64_t)f[MM_SIZE].off, &sz, 4))
					m.size += sz;
			}
		} else {
			uint32_t sz = 0;
			linux_read(t, m.addr + (uint64_t)base_off, &m.base, 8);
			if (size_off >= 0 && linux_read(t, m.addr + (uint64_t)size_off, &sz, 4))
				m.size = sz;
		}
		if (*n == cap) {
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			if (!v)
				abort();
		}
		v[(*n)++] = m;
		if (!linux_read(t, next, &next, 8))
			break;
	}
	return v;
}

struct linux_module *linux_module_at(struct target *t, uint64_t addr)
{
	struct linux_kernel *l = t->os_priv;
	if (!l || symtab_lookup(&t->syms, addr)) /* the vmlinux's: the list is not read for it */
		return NULL;
	if (!l->mods && l->nmods >= 0) {
		size_t n;
		l->mods = mods_read(t, &n, NULL);
		l->nmods = l->mods ? (long)n : -1;
	}
	for (long i = 0; i < l->nmods; i++)
		if (addr - l->mods[i].base < l->mods[i].size)
			return &l->mods[i];
	return NULL;
}

void linux_modules_free(struct linux_kernel *l)
{
	for (long i = 0; i < l->nmods; i++) {
		symtab_free(&l->mods[i].syms);
		free(l->mods[i].orc);
	}
	free(l->mods);
	l->mods = NULL;
	l->nmods = 0;
}

/* s centred in w columns, as crash's mkstring(CENTER|LJUST). */
static void centre(const char *s, int w, FILE *out)
{
	int len = (int)strlen(s), left = len < w ? (w - len) / 2 : 0;
	fprintf(out, "%*s%-*s", left, "", w - left, s);
}

int linux_cmd_mod(struct target *t, FILE *out)
{
	size_t n;
	struct linux_module *v = mods_read(t, &n, out);
	int namew = 4, sizew = 4;
	bool kallsyms = linux_sym(t, "kallsyms_lookup_name") != 0;
	if (!v)
		return -1;
	if (t->json) {
		fputc('[', out);
		for (size_t i = 0; i < n; i++) {
			fprintf(out, "%s{\"module\": \"0x%" PRIx64 "\", \"name\": ", i ? ", " : "", v[i].addr);
			json_write_str(out, v[i].name);
			fprintf(out, ", \"base\": \"0x%" PRIx64 "\", \"size\": %" PRIu64 "}", v[i].base, v[i].size);
		}
		fputs("]\n", out);
		free(v);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		char sz[24];
		int l = (int)strlen(v[i].name), s = snprintf(sz, sizeof(sz), "%" PRIu64, v[i].size);
		namew = l > namew ? l : namew;
		sizew = s > sizew ? s : sizew;
	}
	centre("MODULE", 16, out);
	fprintf(out, "  %-*s  ", namew, "NAME");
	centre("BASE", 16, out);
	fprintf(out, "  %*s  OBJECT FILE\n", sizew, "SIZE");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "%016" PRIx64 "  %-*s  %016" PRIx64 "  %*" PRIu64 "  (not loaded)%s\n", v[i].addr, namew, v[i].name,
			v[i].base, sizew, v[i].size, kallsyms ? "  [CONFIG_KALLSYMS]" : "");
	free(v);
	return 0;
}
