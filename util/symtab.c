/* symtab: an ELF file's .symtab (functions, objects, assembly labels), sorted for
 * address lookup, so hv and hvmdb can name guest RIPs and return addresses. Bounds come
 * from libelf. */
#include "util/util.h"

#include <fcntl.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int by_addr(const void *a, const void *b)
{
	const struct symbol *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* The physical address of va by the PT_LOAD that holds it; 0 when none does. */
static uint64_t load_paddr(Elf *elf, uint64_t va)
{
	size_t n;
	if (elf_getphdrnum(elf, &n) != 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (gelf_getphdr(elf, (int)i, &ph) && ph.p_type == PT_LOAD && va >= ph.p_vaddr &&
		    va - ph.p_vaddr < ph.p_memsz)
			return ph.p_paddr + (va - ph.p_vaddr);
	}
	return 0;
}

/* The NT_GNU_BUILD_ID note, in hex (up to 20 bytes), into out[41]; where it is loaded into
 * *va and *pa when they are given (0 in a section that is not loaded). */
static void read_build_id_at(char *out, Elf *elf, uint64_t *va, uint64_t *pa)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		Elf_Data *data;
		GElf_Nhdr nh;
		size_t off = 0, start = 0, name_off, desc_off;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(data = elf_getdata(scn, NULL)))
			continue;
		for (; (off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0; start = off) {
			const uint8_t *desc = (const uint8_t *)data->d_buf + desc_off;
			if (nh.n_type != NT_GNU_BUILD_ID || nh.n_namesz != 4 || memcmp((char *)data->d_buf + name_off, "GNU", 4))
				continue;
			for (size_t i = 0; i < nh.n_descsz && i < 20; i++)
				snprintf(out + 2 * i, 3, "%02x", desc[i]);
			if (va && (sh.sh_flags & SHF_ALLOC) && sh.sh_addr) {
				*va = sh.sh_addr + start;
				*pa = load_paddr(elf, *va);
			}
			return;
		}
	}
}

static void read_build_id(struct symtab *t, Elf *elf)
{
	read_build_id_at(t->build_id, elf, &t->build_id_va, &t->build_id_pa);
}

int elf_file_build_id(const char *path, char out[41])
{
	struct stat st;
	struct err e;
	int fd = file_open_regular(path, "", &st, &e);
	Elf *elf;
	out[0] = 0;
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (elf && elf_kind(elf) == ELF_K_ELF)
		read_build_id_at(out, elf, NULL, NULL);
	if (elf)
		elf_end(elf);
	close(fd);
	return out[0] ? 0 : -1;
}

void symtab_load(struct symtab *t, Elf *elf)
{
	Elf_Scn *scn = NULL;
	memset(t, 0, sizeof(*t));
	read_build_id(t, elf);
	while ((scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		Elf_Data *data;
		size_t count;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		data = elf_getdata(scn, NULL);
		if (!data)
			continue;
		count = data->d_size / sh.sh_entsize;
		t->syms = xcalloc(count, sizeof(*t->syms));
		for (size_t i = 0; i < count; i++) {
			GElf_Sym sym;
			const char *name;
			int type;
			if (!gelf_getsym(data, (int)i, &sym))
				continue;
			type = GELF_ST_TYPE(sym.st_info);
			/* functions, objects, and assembly labels (NOTYPE) */
			if ((type != STT_FUNC && type != STT_OBJECT && type != STT_NOTYPE) || !sym.st_value ||
			    sym.st_shndx == SHN_UNDEF || sym.st_shndx == SHN_ABS)
				continue;
			name = elf_strptr(elf, sh.sh_link, sym.st_name);
			if (!name || !*name || *name == '.' || *name == '$')
				continue;
			{
				Elf_Scn *sec = elf_getscn(elf, sym.st_shndx);
				GElf_Shdr ssh;
				bool code = sec && gelf_getshdr(sec, &ssh) && (ssh.sh_flags & SHF_EXECINSTR);
				t->syms[t->n++] = (struct symbol){ sym.st_value, sym.st_size, xstrdup(name), code };
			}
		}
		qsort(t->syms, t->n, sizeof(*t->syms), by_addr);
		return;
	}
}

void symtab_free(struct symtab *t)
{
	for (size_t i = 0; i < t->n; i++)
		free(t->syms[i].name);
	free(t->syms);
	memset(t, 0, sizeof(*t));
}

static const struct symbol *lookup(const struct symtab *t, uint64_t addr, bool code)
{
	size_t lo = 0, hi = t->n;
	if (!t->n || addr < t->syms[0].addr)
		return NULL;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->syms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	/* the nearest symbol at or below addr that covers it (several may share an address) */
	for (size_t i = lo + 1; i-- > 0 && lo - i < 8;) {
		const struct symbol *s = &t->syms[i];
		if (code && !s->code)
			continue;
		if (s->size ? addr - s->addr < s->size
			    : (addr - s->addr < 0x10000 && (i + 1 >= t->n || addr < t->syms[i + 1].addr || t->syms[i + 1].addr == s->addr)))
			return s;
		if (!s->size)
			return NULL;
	}
	return NULL;
}

const struct symbol *symtab_lookup(const struct symtab *t, uint64_t addr)
{
	return lookup(t, addr, false);
}

const struct symbol *symtab_lookup_code(const struct symtab *t, uint64_t addr)
{
	return lookup(t, addr, true);
}

int symtab_load_file(struct symtab *t, const char *path, struct err *e)
{
	struct stat st;
	int fd;
	Elf *elf;
	memset(t, 0, sizeof(*t));
	fd = file_open_regular(path, "", &st, e); /* a FIFO must not hang the reader */
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		if (elf)
			elf_end(elf);
		close(fd);
		return err_set(e, "%s: not an ELF file", path);
	}
	symtab_load(t, elf);
	elf_end(elf);
	close(fd);
	return 0;
}

const struct symbol *symtab_by_name(const struct symtab *t, const char *name)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->syms[i].name, name))
			return &t->syms[i];
	return NULL;
}

bool symtab_format(const struct symbol *s, uint64_t addr, char *buf, size_t len)
{
	if (!s)
		return false;
	if (addr == s->addr)
		snprintf(buf, len, "%s", s->name);
	else
		snprintf(buf, len, "%s+0x%llx", s->name, (unsigned long long)(addr - s->addr));
	return true;
}
