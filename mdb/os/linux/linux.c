/* linux: hvmdb's Linux-kernel module, attached when the symbol file is a vmlinux (it has
 * linux_banner): the KASLR offset and phys_base (--kaslr, VMCOREINFO, or the dump alone),
 * the symbols relocated by it, the vmlinux's banner checked against the dump's, and the
 * helpers linux_tasks.c and linux_log.c read the kernel with. */
#include <gelf.h>
#include <inttypes.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "linux.h"

void linux_close(struct target *t)
{
	struct linux_kernel *l = t->os_priv;
	if (!l)
		return;
	free(l->vmcoreinfo);
	free(l->tasks);
	free(l->log);
	linux_orc_free(l->orc);
	linux_modules_free(l);
	free(l);
	t->os_priv = NULL;
	t->reloc_base = t->reloc_off = 0;
}

uint64_t linux_sym(struct target *t, const char *name)
{
	const struct symbol *s = symtab_by_name(&t->syms, name);
	return s ? s->addr : 0;
}

bool linux_read(struct target *t, uint64_t va, void *buf, size_t len)
{
	return len == 0 || (va && target_read_virt(t, t->cpu, va, buf, len) == len);
}

const char *linux_vmcoreinfo(struct target *t)
{
	const char *vi = target_vmcoreinfo(t);
	struct linux_kernel *l = t->os_priv;
	return vi ? vi : l ? l->vmcoreinfo : NULL;
}

bool linux_vmcoreinfo_num(const char *vi, const char *key, int64_t *v)
{
	size_t kl = strlen(key);
	char *end;
	for (const char *p = vi; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, kl) || p[kl] != '=')
			continue;
		if (!strcmp(key, "KERNELOFFSET"))
			*v = (int64_t)strtoull(p + kl + 1, &end, 16);
		else
			*v = strtoll(p + kl + 1, &end, 10);
		return end != p + kl + 1;
	}
	return false;
}

unsigned linux_nr_cpus(struct target *t)
{
	uint32_t n = 0;
	uint64_t a = linux_sym(t, "nr_cpu_ids");
	if (!a || !linux_read(t, a, &n, sizeof(n)) || !n)
		n = t->ops->nr_cpus(t);
	return n > LINUX_MAX_CPUS ? LINUX_MAX_CPUS : n;
}

bool linux_percpu(struct target *t, unsigned cpu, uint64_t var, uint64_t *addr)
{
	uint64_t offs = linux_sym(t, "__per_cpu_offset"), off;
	if (!offs || cpu >= LINUX_MAX_CPUS || !linux_read(t, offs + 8ull * cpu, &off, 8))
		return false;
	*addr = off + var;
	return true;
}

int linux_fields(struct target *t, const char *cu_hint, struct dwarf_field *f, size_t n)
{
	const char *vi = linux_vmcoreinfo(t);
	struct dwarf_field *rest = xcalloc(n ? n : 1, sizeof(*rest));
	size_t *where = xcalloc(n ? n : 1, sizeof(*where)), nr = 0;
	int ret = 0;
	for (size_t i = 0; i < n; i++) {
		char key[160];
		int64_t v;
		if (f[i].member)
			snprintf(key, sizeof(key), "OFFSET(%s.%s)", f[i].type, f[i].member);
		else
			snprintf(key, sizeof(key), "SIZE(%s)", f[i].type);
		if (vi && linux_vmcoreinfo_num(vi, key, &v) && v >= 0 && v < (1 << 20)) { /* the dump's word: bounded */
			f[i].off = f[i].member ? v : 0;
			f[i].size = f[i].member ? 0 : (uint64_t)v;
			f[i].found = true;
			continue;
		}
		where[nr] = i;
		rest[nr++] = f[i];
	}
	if (nr) {
		ret = dwarf_fields(t, cu_hint, rest, nr);
		for (size_t j = 0; j < nr; j++)
			f[where[j]] = rest[j];
	}
	free(rest);
	free(where);
	return ret;
}

/* The vmlinux's linux_banner, from the file's section holding it. */
static int read_file_banner(const char *path, uint64_t link, size_t size, char *out, size_t len, struct err *e)
{
	struct stat st;
	int fd = file_open_regular(path, "", &st, e);
	Elf *elf;
	Elf_Scn *scn = NULL;
	int ret = -1;
	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	while (elf && (scn = elf_nextscn(elf, scn)) != NULL) {
		GElf_Shdr sh;
		size_t n = size && size < len ? size : len - 1;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || link < sh.sh_addr || link - sh.sh_addr >= sh.sh_size)
			continue;
		if (n > sh.sh_size - (link - sh.sh_addr))
			n = sh.sh_size - (link - sh.sh_addr);
		memset(out, 0, len);
		if (pread(fd, out, n, (off_t)(sh.sh_offset + (link - sh.sh_addr))) == (ssize_t)n)
			ret = 0;
		break;
	}
	if (elf)
		elf_end(elf);
	close(fd);
	if (ret < 0 || strncmp(out, "Linux version ", 14))
		return err_set(e, "%s: cannot read its linux_banner", path);
	return 0;
}

/* The first line of a banner, for messages. */
static const char *first_line(char *s)
{
	s[strcspn(s, "\n")] = 0;
	return s;
}

/* The dump's linux_banner at the relocated address against the vmlinux's. */
static int check_banner(struct target *t, struct linux_kernel *l, uint64_t at, struct err *e)
{
	size_t n = strlen(l->banner);
	char got[sizeof(l->banner)] = "";
	if (target_read_virt(t, t->cpu, at, got, n) != n)
		return err_set(e, "%s: cannot read linux_banner at 0x%" PRIx64 " in the dump (KASLR offset 0x%" PRIx64 " from %s)",
			       t->symfile, at, l->kaslr, l->how);
	if (memcmp(got, l->banner, n)) {
		char want[sizeof(l->banner)], rel[80] = "";
		const char *vi = linux_vmcoreinfo(t), *r = vi ? strstr(vi, "OSRELEASE=") : NULL;
		memcpy(want, l->banner, sizeof(want));
		got[n] = 0;
		if (r)
			snprintf(rel, sizeof(rel), "; the dumped kernel is %.*s", (int)strcspn(r + 10, "\n"), r + 10);
		if (!strncmp(got, "Linux version ", 14))
			return err_set(e, "%s does not match the dump: the dump's banner is \"%.150s\", the vmlinux's \"%.150s\"",
				       t->symfile, first_line(got), first_line(want));
		return err_set(e, "%s does not match the dump: its banner \"%.150s\" is not at linux_banner (KASLR offset 0x%" PRIx64
			       " from %s)%s", t->symfile, first_line(want), l->kaslr, l->how, rel);
	}
	return 0;
}

/* The kernel's own page tables (init_top_pgt), when phys_base puts them where they work. */
static void use_kernel_pgt(struct target *t, struct linux_kernel *l, uint64_t banner_at)
{
	uint64_t pgt = linux_sym(t, "init_top_pgt"), saved = t->kernel_pt_root;
	char got[sizeof(l->banner)];
	size_t n = strlen(l->banner);
	if (!pgt)
		pgt = linux_sym(t, "swapper_pg_dir");
	if (!pgt || !l->phys_base_known)
		return;
	t->kernel_pt_root = pgt - LINUX_KERNEL_MAP + (uint64_t)l->phys_base;
	if (target_read_virt(t, t->cpu, banner_at, got, n) != n || memcmp(got, l->banner, n))
		t->kernel_pt_root = saved;
}

static void relocate(struct target *t, uint64_t off)
{
	for (size_t i = 0; i < t->syms.n; i++)
		if (t->syms.syms[i].addr >= LINUX_KERNEL_MAP) /* not the per-CPU section's (linked at 0) */
			t->syms.syms[i].addr += off;
}

int linux_attach(struct target *t, const char *kaslr, struct err *e)
{
	const struct symbol *b = symtab_by_name(&t->syms, "linux_banner");
	const char *vi = target_vmcoreinfo(t);
	struct linux_kernel *l;
	char seen[80];
	uint64_t link;
	int64_t v;
	if (!b) {
		if (kaslr)
			return err_set(e, "--kaslr: the symbol file is not a Linux kernel (it has no linux_banner)");
		return 0;
	}
	link = b->addr;
	l = xcalloc(1, sizeof(*l));
	if (read_file_banner(t->symfile, link, b->size, l->banner, sizeof(l->banner), e) < 0) {
		free(l);
		return -1;
	}
	if (kaslr) {
		char *end;
		l->kaslr = strtoull(kaslr, &end, 16);
		if (!*kaslr || *end || l->kaslr >= LINUX_KASLR_MAX) {
			free(l);
			return err_set(e, "--kaslr %s: a hexadecimal offset below 0x%llx", kaslr, LINUX_KASLR_MAX);
		}
		snprintf(l->how, sizeof(l->how), "--kaslr");
	} else if (vi && linux_vmcoreinfo_num(vi, "KERNELOFFSET", &v)) {
		l->kaslr = (uint64_t)v;
		snprintf(l->how, sizeof(l->how), "VMCOREINFO");
	} else if (linux_find_kaslr(t, link, l, seen, sizeof(seen)) < 0) {
		char want[sizeof(l->banner)];
		memcpy(want, l->banner, sizeof(want));
		free(l);
		if (seen[0])
			return err_set(e, "%s does not match the dump: its banner is \"%.150s\", the dumped kernel is %s", t->symfile,
				       first_line(want), seen);
		return err_set(e, "%s does not match the dump, or the dump has no kernel page tables: its banner \"%.150s\" is "
			       "neither in the kernel text mapping nor in the kernel's VMCOREINFO in RAM (--kaslr OFFSET to give it)",
			       t->symfile, first_line(want));
	}
	if (!l->phys_base_known && vi && linux_vmcoreinfo_num(vi, "NUMBER(phys_base)", &v)) {
		l->phys_base = v;
		l->phys_base_known = true;
	}
	relocate(t, l->kaslr);
	t->os_priv = l;
	t->reloc_base = LINUX_KERNEL_MAP; /* the debug info's addresses: target_link_addr */
	t->reloc_off = l->kaslr;
	if (!l->phys_base_known) { /* --kaslr without VMCOREINFO: from the text mapping */
		uint64_t pa, psz;
		if (target_vtop(t, t->cpu, link + l->kaslr, &pa, &psz) == 0) {
			l->phys_base = (int64_t)(pa - (link + l->kaslr - LINUX_KERNEL_MAP));
			l->phys_base_known = true;
		}
	}
	use_kernel_pgt(t, l, link + l->kaslr);
	if (check_banner(t, l, link + l->kaslr, e) < 0) {
		relocate(t, -l->kaslr);
		t->kernel_pt_root = 0;
		linux_close(t);
		return -1;
	}
	if (!vi)
		l->vmcoreinfo = linux_read_vmcoreinfo(t);
	return 1;
}

/* ::status --json's members: ', "linux": {...}, "sys": {...}' */
static void status_json(struct target *t, const struct linux_kernel *l, const char *rel, FILE *out)
{
	fputs(", \"linux\": {\"release\": ", out);
	json_write_str(out, rel);
	fprintf(out, ", \"kaslr\": \"0x%" PRIx64 "\", \"kaslr_from\": ", l->kaslr);
	json_write_str(out, l->how);
	if (l->phys_base_known)
		fprintf(out, ", \"phys_base\": \"%s0x%" PRIx64 "\"", l->phys_base < 0 ? "-" : "",
			l->phys_base < 0 ? -(uint64_t)l->phys_base : (uint64_t)l->phys_base);
	else
		fputs(", \"phys_base\": null", out);
	if (t->kernel_pt_root)
		fprintf(out, ", \"init_top_pgt\": \"0x%" PRIx64 "\"", t->kernel_pt_root);
	fputs("}, \"sys\": ", out);
	linux_sys_json(t, out);
}

void linux_status(struct target *t, FILE *out)
{
	struct linux_kernel *l = t->os_priv;
	char rel[80];
	if (!l)
		return;
	snprintf(rel, sizeof(rel), "%s", l->banner + 14);
	rel[strcspn(rel, " ")] = 0;
	if (t->json) {
		status_json(t, l, rel, out);
		return;
	}
	fprintf(out, "Linux %s, KASLR offset 0x%" PRIx64 " (from %s), phys_base ", rel, l->kaslr, l->how);
	if (l->phys_base_known)
		fprintf(out, "%s0x%" PRIx64 "\n", l->phys_base < 0 ? "-" : "",
			l->phys_base < 0 ? -(uint64_t)l->phys_base : (uint64_t)l->phys_base);
	else
		fprintf(out, "unknown\n");
	if (t->kernel_pt_root)
		fprintf(out, "kernel addresses through the kernel's page tables (init_top_pgt at physical 0x%" PRIx64 ")\n",
			t->kernel_pt_root);
}
