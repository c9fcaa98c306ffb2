/* elf_read: the ELF core reader (ours, QEMU's dump-guest-memory, kdump's /proc/vmcore saved
 * as ELF), one row of open.c's reader table: every header, offset and size checked against
 * the file; the PT_LOAD segments, the notes (NT_PRSTATUS, HVKIT, VMCOREINFO), physical reads. */
#include <elf.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* QEMUCPUState (QEMU target/i386/arch_dump.c): version, size, 16 GPRs, rip, rflags, then
 * cs ds es fs gs ss ldt tr gdt idt as {u32 selector, limit, flags, pad; u64 base}, cr[5] */
#define QEMU_SEG(i) (8 + 18 * 8 + (i) * 24)
#define QEMU_CR (QEMU_SEG(10))
#define QEMU_STATE_MIN (QEMU_CR + 5 * 8)

/* Our integrity note: version 1, a count, that many ranges, nothing else. */
static int hash_note(struct dump_file *f, const uint8_t *d, uint32_t len, struct err *e)
{
	uint32_t hh[2];
	if (len < sizeof(hh))
		return err_set(e, "corrupt integrity note (%u bytes)", len);
	memcpy(hh, d, sizeof(hh));
	if (hh[0] != 1)
		return 0; /* a later version: not ours to check */
	if (hh[1] > 4096 || len != sizeof(hh) + (uint64_t)hh[1] * sizeof(struct dump_hash_range))
		return err_set(e, "corrupt integrity note (%u ranges in %u bytes)", hh[1], len);
	f->hashes = calloc(hh[1] ? hh[1] : 1, sizeof(*f->hashes));
	if (!f->hashes)
		return err_set(e, "out of memory");
	memcpy(f->hashes, d + sizeof(hh), (size_t)hh[1] * sizeof(*f->hashes));
	f->nhashes = hh[1];
	return 0;
}

int dump_parse_notes(struct dump_file *f, uint64_t off, uint64_t len, struct err *e)
{
	uint64_t p = off, end = off + len;
	uint8_t *all;
	if (off > f->size || len > f->size - off)
		return err_set(e, "notes lie outside the file (truncated?)");
	all = realloc(f->notes, f->notes_len + len + 4);
	if (!all)
		return err_set(e, "out of memory");
	f->notes = all;
	memcpy(f->notes + f->notes_len, f->map + off, len);
	f->notes_len += len;
	while (f->notes_len % 4) /* the next segment's notes start aligned */
		f->notes[f->notes_len++] = 0;
	while (p + sizeof(Elf64_Nhdr) <= end) {
		Elf64_Nhdr h;
		uint64_t name, desc, next;
		memcpy(&h, f->map + p, sizeof(h));
		name = p + sizeof(h);
		desc = name + ((h.n_namesz + 3ull) & ~3ull);
		next = desc + ((h.n_descsz + 3ull) & ~3ull);
		if (h.n_namesz > 256 || desc > end || next > end || h.n_descsz > end - desc)
			return err_set(e, "corrupt note at offset %llu", (unsigned long long)p);
		if (h.n_namesz == 5 && !memcmp(f->map + name, "CORE", 5) && h.n_type == NT_PRSTATUS && h.n_descsz >= 336) {
			if (f->nprstatus < DUMP_MAX_CPUS)
				f->prstatus[f->nprstatus++] = f->map + desc;
		} else if (h.n_namesz == 6 && !memcmp(f->map + name, DUMP_NOTE_HVKIT, 6)) {
			if (h.n_type == DUMP_NOTE_HVKIT_CPU && h.n_descsz == sizeof(struct dump_cpu) && f->ncpus < DUMP_MAX_CPUS) {
				f->cpus[f->ncpus] = malloc(sizeof(struct dump_cpu));
				if (!f->cpus[f->ncpus])
					return err_set(e, "out of memory");
				memcpy(f->cpus[f->ncpus++], f->map + desc, sizeof(struct dump_cpu));
			} else if (h.n_type == DUMP_NOTE_HVKIT_HASH && !f->hashes) {
				if (hash_note(f, f->map + desc, h.n_descsz, e) < 0)
					return -1;
			} else if (h.n_type == DUMP_NOTE_HVKIT_DOMAIN && h.n_descsz == sizeof(struct dump_domain) && !f->domain) {
				f->domain = malloc(sizeof(*f->domain));
				if (!f->domain)
					return err_set(e, "out of memory");
				memcpy(f->domain, f->map + desc, sizeof(*f->domain));
				f->domain->name[sizeof(f->domain->name) - 1] = 0;
				f->domain->state[sizeof(f->domain->state) - 1] = 0;
				f->domain->reason[sizeof(f->domain->reason) - 1] = 0;
			}
		} else if (h.n_namesz == 5 && !memcmp(f->map + name, "QEMU", 5) && h.n_descsz >= QEMU_STATE_MIN) {
			if (f->nqemu < DUMP_MAX_CPUS) {
				f->qemu_size[f->nqemu] = h.n_descsz;
				f->qemu[f->nqemu++] = f->map + desc;
			}
		} else if (h.n_namesz == 11 && !memcmp(f->map + name, "VMCOREINFO", 11) && !f->vmcoreinfo) {
			f->vmcoreinfo = calloc(1, h.n_descsz + 1);
			if (!f->vmcoreinfo)
				return err_set(e, "out of memory");
			memcpy(f->vmcoreinfo, f->map + desc, h.n_descsz);
		}
		p = next;
	}
	return 0;
}

bool elf_probe(const uint8_t *map, uint64_t size)
{
	return size >= SELFMAG && !memcmp(map, ELFMAG, SELFMAG);
}

int elf_open(struct dump_file *f, const char *path, struct err *e)
{
	Elf64_Ehdr eh;
	if (f->size < sizeof(eh))
		return err_set(e, "%s: too short to be an ELF core (%llu bytes)", path, (unsigned long long)f->size);
	memcpy(&eh, f->map, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB || eh.e_machine != EM_X86_64)
		return err_set(e, "%s: not a 64-bit little-endian x86-64 ELF file", path);
	if (eh.e_type != ET_CORE)
		return err_set(e, "%s: an ELF file, but not a core dump (type %u)", path, eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phoff > f->size ||
	    (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > f->size - eh.e_phoff)
		return err_set(e, "%s: program headers lie outside the file (truncated?)", path);
	f->loads = calloc(eh.e_phnum ? eh.e_phnum : 1, sizeof(*f->loads));
	if (!f->loads)
		return err_set(e, "out of memory");
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, f->map + eh.e_phoff + (uint64_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_offset > f->size || ph.p_filesz > f->size - ph.p_offset)
			return err_set(e, "%s: segment %u lies outside the file (truncated dump?)", path, i);
		if (ph.p_type == PT_NOTE) {
			if (dump_parse_notes(f, ph.p_offset, ph.p_filesz, e) < 0)
				return err_prefix(e, "%s", path);
		} else if (ph.p_type == PT_LOAD) {
			if (ph.p_filesz > ph.p_memsz)
				return err_set(e, "%s: segment %u has more file bytes than memory bytes", path, i);
			f->loads[f->nloads++] = (struct dump_load){ ph.p_vaddr, ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_offset };
		}
	}
	return 0;
}

bool dump_load_is_physical(const struct dump_load *l)
{
	/* ours carry vaddr 0; QEMU without paging writes vaddr = paddr */
	return !l->vaddr || l->vaddr == l->paddr;
}

const char *elf_describe(const struct dump_file *f)
{
	return f->domain ? "ELF core (hvkit)" : f->nqemu ? "ELF core (QEMU dump-guest-memory)" : "ELF core";
}

unsigned dump_nr_loads(const struct dump_file *f)
{
	return f->nloads;
}

const struct dump_load *dump_loadseg(const struct dump_file *f, unsigned i)
{
	return i < f->nloads ? &f->loads[i] : NULL;
}

unsigned dump_nr_cpus(const struct dump_file *f)
{
	unsigned n = f->nprstatus > f->ncpus ? f->nprstatus : f->ncpus;
	return f->nqemu > n ? f->nqemu : n;
}

const struct dump_cpu *dump_cpu(const struct dump_file *f, unsigned i)
{
	return i < f->ncpus ? f->cpus[i] : NULL;
}

int dump_prstatus_regs(const struct dump_file *f, unsigned i, uint64_t *rip, uint64_t *rsp, uint64_t *rbp)
{
	uint64_t r[27];
	if (i >= f->nprstatus)
		return -1;
	memcpy(r, f->prstatus[i] + 112, sizeof(r));
	*rip = r[16];
	*rsp = r[19];
	*rbp = r[4];
	return 0;
}

static uint64_t q64(const uint8_t *p, size_t off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return v;
}

static void qseg(struct dump_seg *s, const uint8_t *p, size_t off)
{
	uint32_t sel, limit, flags;
	memcpy(&sel, p + off, 4);
	memcpy(&limit, p + off + 4, 4);
	memcpy(&flags, p + off + 8, 4);
	s->selector = (uint16_t)sel;
	s->limit = limit;
	s->base = q64(p, off + 16);
	s->type = (flags >> 8) & 15;
	s->s = (flags >> 12) & 1;
	s->dpl = (flags >> 13) & 3;
	s->present = (flags >> 15) & 1;
	s->avl = (flags >> 20) & 1;
	s->l = (flags >> 21) & 1;
	s->db = (flags >> 22) & 1;
	s->g = (flags >> 23) & 1;
}

int dump_qemu_cpu(const struct dump_file *f, unsigned i, struct dump_cpu *c)
{
	const uint8_t *p;
	uint64_t *gpr[16];
	if (i >= f->nqemu)
		return -1;
	p = f->qemu[i];
	memset(c, 0, sizeof(*c));
	c->version = DUMP_VERSION;
	c->index = i;
	c->online = 1;
	gpr[0] = &c->rax; gpr[1] = &c->rbx; gpr[2] = &c->rcx; gpr[3] = &c->rdx; gpr[4] = &c->rsi; gpr[5] = &c->rdi;
	gpr[6] = &c->rsp; gpr[7] = &c->rbp; gpr[8] = &c->r8; gpr[9] = &c->r9; gpr[10] = &c->r10; gpr[11] = &c->r11;
	gpr[12] = &c->r12; gpr[13] = &c->r13; gpr[14] = &c->r14; gpr[15] = &c->r15;
	for (int r = 0; r < 16; r++)
		*gpr[r] = q64(p, 8 + (size_t)r * 8);
	c->rip = q64(p, 8 + 16 * 8);
	c->rflags = q64(p, 8 + 17 * 8);
	qseg(&c->cs, p, QEMU_SEG(0));
	qseg(&c->ds, p, QEMU_SEG(1));
	qseg(&c->es, p, QEMU_SEG(2));
	qseg(&c->fs, p, QEMU_SEG(3));
	qseg(&c->gs, p, QEMU_SEG(4));
	qseg(&c->ss, p, QEMU_SEG(5));
	qseg(&c->ldt, p, QEMU_SEG(6));
	qseg(&c->tr, p, QEMU_SEG(7));
	c->gdt_base = q64(p, QEMU_SEG(8) + 16);
	c->idt_base = q64(p, QEMU_SEG(9) + 16);
	c->cr0 = q64(p, QEMU_CR);
	c->cr2 = q64(p, QEMU_CR + 16);
	c->cr3 = q64(p, QEMU_CR + 24);
	c->cr4 = q64(p, QEMU_CR + 32);
	/* QEMU records no EFER: long mode is paging + PAE + a 64-bit code segment */
	if ((c->cr0 & 0x80000000u) && (c->cr4 & 0x20) && c->cs.l)
		c->efer = 0x500;
	return 0;
}

const struct dump_domain *dump_domain_info(const struct dump_file *f)
{
	return f->domain;
}

const char *dump_vmcoreinfo(const struct dump_file *f)
{
	return f->vmcoreinfo;
}

size_t elf_read_phys(struct dump_file *f, uint64_t gpa, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		const struct dump_load *l = NULL;
		uint64_t a = gpa + done, n;
		/* physical segments first, then any (aliases carry a virtual address) */
		for (int pass = 0; pass < 2 && !l; pass++)
			for (unsigned i = 0; i < f->nloads && !l; i++)
				if ((pass || dump_load_is_physical(&f->loads[i])) && a >= f->loads[i].paddr &&
				    a - f->loads[i].paddr < f->loads[i].memsz)
					l = &f->loads[i];
		if (!l)
			break;
		n = l->memsz - (a - l->paddr);
		if (n > len - done)
			n = len - done;
		if (a - l->paddr >= l->filesz)
			memset((uint8_t *)buf + done, 0, n);
		else {
			uint64_t avail = l->filesz - (a - l->paddr);
			if (n > avail)
				n = avail;
			memcpy((uint8_t *)buf + done, f->map + l->offset + (a - l->paddr), n);
		}
		done += n;
	}
	return done;
}
