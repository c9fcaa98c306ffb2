/* linux_modsym: the symbols of a loaded Linux module, from the kallsyms the kernel keeps for
 * it (mod->core_kallsyms: Elf64_Sym symtab, strtab, and typetab's nm letters), read from the
 * dump on first use, bounded, and kept in the module's own table; so that frames and `sym`
 * name module code as crash does (scsi_error_handler+0x1c7 [scsi_mod]). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

#define MAX_SYMS (1u << 20)      /* num_symtab beyond this is not believed */
#define MAX_STRTAB (16u << 20)
#define ELF64_SYM 24             /* st_name:4 st_info:1 st_other:1 st_shndx:2 st_value:8 st_size:8 */

enum { K_SYMTAB, K_NUM, K_STRTAB, K_TYPETAB, NK };

static int sym_by_addr(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;
	return (x->addr > y->addr) - (x->addr < y->addr);
}

/* The module's kallsyms into m->syms; an empty table when they cannot be read. */
static void modsym_load(struct target *t, struct linux_module *m)
{
	struct dwarf_field f[NK] = {
		[K_SYMTAB] = { .type = "module", .member = "core_kallsyms.symtab" },
		[K_NUM] = { .type = "module", .member = "core_kallsyms.num_symtab" },
		[K_STRTAB] = { .type = "module", .member = "core_kallsyms.strtab" },
		[K_TYPETAB] = { .type = "module", .member = "core_kallsyms.typetab" },
	};
	uint64_t symtab = 0, strtab = 0, typetab = 0, strlen_;
	uint32_t n = 0;
	uint8_t *raw = NULL;
	char *str = NULL, *types = NULL;
	m->syms_read = true;
	if (linux_fields(t, NULL, f, NK) < 0 || f[K_SYMTAB].off < 0 || f[K_NUM].off < 0 || f[K_STRTAB].off < 0 ||
	    !linux_read(t, m->addr + (uint64_t)f[K_SYMTAB].off, &symtab, 8) ||
	    !linux_read(t, m->addr + (uint64_t)f[K_NUM].off, &n, 4) ||
	    !linux_read(t, m->addr + (uint64_t)f[K_STRTAB].off, &strtab, 8) || !n || n > MAX_SYMS || !strtab)
		return;
	if (f[K_TYPETAB].off >= 0)
		linux_read(t, m->addr + (uint64_t)f[K_TYPETAB].off, &typetab, 8);
	/* 6.1 lays out symtab, strtab, typetab one after the other in the module's core memory */
	strlen_ = typetab > strtab && typetab - strtab <= MAX_STRTAB ? typetab - strtab
		  : strtab - m->base < m->size ? m->base + m->size - strtab : 0;
	if (strlen_ > MAX_STRTAB)
		strlen_ = MAX_STRTAB;
	raw = xcalloc(n, ELF64_SYM);
	str = xcalloc(1, strlen_ + 1); /* a NUL after the last string, whatever the dump holds */
	if (typetab) {
		types = xcalloc(1, n);
		if (!linux_read(t, typetab, types, n)) {
			free(types);
			types = NULL;
		}
	}
	if (!strlen_ || !linux_read(t, symtab, raw, (size_t)n * ELF64_SYM) || !linux_read(t, strtab, str, strlen_))
		goto out;
	m->syms.syms = xcalloc(n, sizeof(*m->syms.syms));
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *p = raw + (size_t)i * ELF64_SYM;
		uint32_t name;
		uint64_t value, size;
		unsigned type = p[4] & 15;
		memcpy(&name, p, 4);
		memcpy(&value, p + 8, 8);
		memcpy(&size, p + 16, 8);
		if (!value || name >= strlen_ || !str[name] || (type != 0 && type != 1 && type != 2)) /* NOTYPE OBJECT FUNC */
			continue;
		m->syms.syms[m->syms.n++] = (struct symbol){
			.addr = value,
			.size = size,
			.name = xstrdup(str + name),
			.code = types ? tolower((unsigned char)types[i]) == 't' : type == 2,
		};
	}
	qsort(m->syms.syms, m->syms.n, sizeof(*m->syms.syms), sym_by_addr);
out:
	free(raw);
	free(str);
	free(types);
}

const struct symbol *linux_module_sym(struct target *t, uint64_t addr, bool code, const char **module)
{
	struct linux_module *m = linux_module_at(t, addr);
	if (!m)
		return NULL;
	if (!m->syms_read)
		modsym_load(t, m);
	if (module)
		*module = m->name;
	return code ? symtab_lookup_code(&m->syms, addr) : symtab_lookup(&m->syms, addr);
}
