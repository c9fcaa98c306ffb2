/* elf_write: the ELF core writer: NT_PRSTATUS per vCPU (what gdb, crash and drgn read),
 * our versioned HVKIT notes (full vCPU and domain state), VMCOREINFO, one PT_LOAD per RAM
 * range (p_paddr = guest physical), and PT_LOAD aliases for the kernel half of vCPU 0's
 * page tables, 4 or 5 levels (p_vaddr = virtual, sharing the file bytes of the physical
 * segments), so a plain `gdb vmlinux DUMP` can read kernel memory. */
#include <elf.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "x86/x86.h"

#define MAX_ALIASES 4096
#define CHUNK (1u << 20)
#define HOLE_MIN (64u << 10)

struct alias {
	uint64_t vaddr, paddr, size;
};

struct walk {
	const struct dump_source *src;
	struct alias *a;
	unsigned n;
};

static bool in_ram(const struct dump_source *s, uint64_t pa, uint64_t size)
{
	for (unsigned i = 0; i < s->nr_ranges; i++)
		if (pa >= s->ranges[i].gpa && pa - s->ranges[i].gpa <= s->ranges[i].size &&
		    size <= s->ranges[i].size - (pa - s->ranges[i].gpa))
			return true;
	return false;
}

static int add_map(void *opaque, uint64_t va, uint64_t pa, uint64_t size)
{
	struct walk *w = opaque;
	struct alias *last = w->n ? &w->a[w->n - 1] : NULL;
	if (!in_ram(w->src, pa, size))
		return 0;
	if (last && last->vaddr + last->size == va && last->paddr + last->size == pa && in_ram(w->src, last->paddr, last->size + size)) {
		last->size += size;
		return 0;
	}
	w->a[w->n++] = (struct alias){ va, pa, size };
	return w->n == MAX_ALIASES; /* full: stop */
}

/* The upper half (the kernel's) of vCPU 0's page tables, 4 or 5 levels, when it runs in
 * long mode; unreadable or garbage tables give fewer aliases, never a failed dump. */
static void walk_kernel(struct walk *w)
{
	const struct dump_cpu *c = w->src->cpus;
	struct pagewalk pw = { .top = c->cr3, .levels = pagewalk_levels(c->cr0, c->cr4, c->efer), .read = w->src->read,
			       .opaque = w->src->opaque };
	if (pw.levels >= 4)
		pagewalk_each(&pw, true, add_map, w, NULL);
}

/* Copies RAM into the file: threads take 1 MiB chunks in turn; each chunk has its place. */
struct copier {
	const struct dump_source *src;
	int fd;
	const uint64_t *range_off;
	uint64_t total, done;
	unsigned r;   /* next chunk: range r, offset pos */
	uint64_t pos;
	pthread_mutex_t lock;
	bool failed;
	struct err err;
	dump_progress_fn progress;
	void *popaque;
	struct dump_hasher *hs;
};

static int copy_chunk(struct copier *c, uint8_t *chunk, unsigned r, uint64_t pos, size_t n, struct err *e)
{
	const struct dump_source *src = c->src;
	if (src->read(src->opaque, src->ranges[r].gpa + pos, chunk, n) < 0)
		return err_set(e, "cannot read guest memory at 0x%llx", (unsigned long long)(src->ranges[r].gpa + pos));
	dump_hasher_blocks(c->hs, src->ranges[r].gpa + pos, chunk, n);
	/* Zero runs of HOLE_MIN or more stay holes of the sparse file; shorter ones are
	 * written: a hole every few pages would cost the file system more than the bytes. */
	size_t start = 0, p = 0;
	while (p < n) {
		size_t z = p;
		while (z < n && dump_all_zero(chunk + z, n - z < 4096 ? n - z : 4096))
			z += 4096;
		if (z > n)
			z = n;
		if (z - p >= HOLE_MIN || (z == n && z > p)) { /* a hole: write what came before it */
			if (p > start && dump_write_all(c->fd, chunk + start, p - start, c->range_off[r] + pos + start, e) < 0)
				return -1;
			start = z;
		}
		p = z;
		while (p < n && !dump_all_zero(chunk + p, n - p < 4096 ? n - p : 4096))
			p += 4096;
		if (p > n)
			p = n;
	}
	if (n > start && dump_write_all(c->fd, chunk + start, n - start, c->range_off[r] + pos + start, e) < 0)
		return -1;
	return 0;
}

static void *copier_run(void *arg)
{
	struct copier *c = arg;
	uint8_t *chunk = malloc(CHUNK);
	struct err e;
	if (!chunk) {
		pthread_mutex_lock(&c->lock);
		if (!c->failed)
			err_set(&c->err, "out of memory");
		c->failed = true;
		pthread_mutex_unlock(&c->lock);
		return NULL;
	}
	for (;;) {
		unsigned r;
		uint64_t pos;
		size_t n;
		int rc;
		bool stop;
		pthread_mutex_lock(&c->lock);
		while (c->r < c->src->nr_ranges && c->pos >= c->src->ranges[c->r].size) {
			c->r++;
			c->pos = 0;
		}
		if (c->failed || c->r == c->src->nr_ranges) {
			pthread_mutex_unlock(&c->lock);
			break;
		}
		r = c->r;
		pos = c->pos;
		n = c->src->ranges[r].size - pos < CHUNK ? (size_t)(c->src->ranges[r].size - pos) : CHUNK;
		c->pos += n;
		if (c->src->read_mt) /* else reads one at a time: the lock is held through the copy */
			pthread_mutex_unlock(&c->lock);
		rc = copy_chunk(c, chunk, r, pos, n, &e);
		if (c->src->read_mt)
			pthread_mutex_lock(&c->lock);
		if (rc == 0) {
			c->done += n;
			if (c->progress && c->progress(c->popaque, c->done, c->total))
				rc = err_set(&e, "dump cancelled");
		}
		if (rc < 0 && !c->failed)
			c->err = e;
		stop = c->failed = c->failed || rc < 0;
		pthread_mutex_unlock(&c->lock);
		if (stop)
			break;
	}
	free(chunk);
	return NULL;
}

int dump_elf_write(int fd, const struct dump_source *src, dump_progress_fn progress, void *popaque, struct err *e)
{
	struct dump_buf notes = { 0 };
	struct dump_hasher hs;
	struct walk w = { .src = src, .a = calloc(MAX_ALIASES, sizeof(struct alias)) };
	size_t hoff;
	Elf64_Ehdr eh;
	Elf64_Phdr *ph;
	unsigned nph;
	uint64_t off, data_off, total = 0, *range_off;
	int ret = -1;

	if (!w.a)
		return err_set(e, "out of memory");
	if (dump_hasher_init(&hs, src, e) < 0) {
		free(w.a);
		return -1;
	}
	hoff = dump_notes_build(&notes, src);
	if (src->nr_cpus) /* virtual aliases from vCPU 0 */
		walk_kernel(&w);

	nph = 1 + src->nr_ranges + w.n;
	ph = calloc(nph, sizeof(*ph));
	range_off = calloc(src->nr_ranges + 1, sizeof(*range_off));
	if (!ph || !range_off) {
		err_set(e, "out of memory");
		goto out;
	}
	off = sizeof(Elf64_Ehdr) + (uint64_t)nph * sizeof(Elf64_Phdr);
	ph[0] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = off, .p_filesz = notes.len, .p_align = 4 };
	data_off = (off + notes.len + 4095) & ~4095ull;
	for (unsigned i = 0; i < src->nr_ranges; i++) {
		range_off[i] = data_off;
		ph[1 + i] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X, .p_offset = data_off,
					  .p_vaddr = 0, .p_paddr = src->ranges[i].gpa, .p_filesz = src->ranges[i].size,
					  .p_memsz = src->ranges[i].size, .p_align = 4096 };
		data_off += src->ranges[i].size;
		total += src->ranges[i].size;
	}
	for (unsigned i = 0; i < w.n; i++) {
		uint64_t foff = 0;
		for (unsigned r = 0; r < src->nr_ranges; r++)
			if (w.a[i].paddr >= src->ranges[r].gpa && w.a[i].paddr - src->ranges[r].gpa < src->ranges[r].size)
				foff = range_off[r] + (w.a[i].paddr - src->ranges[r].gpa);
		ph[1 + src->nr_ranges + i] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W | PF_X, .p_offset = foff,
							   .p_vaddr = w.a[i].vaddr, .p_paddr = w.a[i].paddr,
							   .p_filesz = w.a[i].size, .p_memsz = w.a[i].size, .p_align = 4096 };
	}
	memset(&eh, 0, sizeof(eh)); /* the magic stays zero: dump_write puts it last */
	eh.e_ident[EI_CLASS] = ELFCLASS64;
	eh.e_ident[EI_DATA] = ELFDATA2LSB;
	eh.e_ident[EI_VERSION] = EV_CURRENT;
	eh.e_ident[EI_OSABI] = ELFOSABI_NONE;
	eh.e_type = ET_CORE;
	eh.e_machine = EM_X86_64;
	eh.e_version = EV_CURRENT;
	eh.e_phoff = sizeof(eh);
	eh.e_ehsize = sizeof(eh);
	eh.e_phentsize = sizeof(Elf64_Phdr);
	if (nph >= PN_XNUM) {
		err_set(e, "too many segments for an ELF core (%u)", nph);
		goto out;
	}
	eh.e_phnum = (uint16_t)nph;
	/* the headers (the magic still zero), then the file at its full size: chunks of zeros
	 * are then left as holes */
	if (dump_write_all(fd, &eh, sizeof(eh), 0, e) < 0 || dump_write_all(fd, ph, nph * sizeof(*ph), sizeof(eh), e) < 0 ||
	    dump_write_all(fd, notes.p, notes.len, off, e) < 0)
		goto out;
	if (ftruncate(fd, (off_t)data_off) < 0) {
		err_errno(e, "sizing the dump");
		goto out;
	}
	{
		struct copier c = { .src = src, .fd = fd, .range_off = range_off, .total = total, .progress = progress,
				    .popaque = popaque, .hs = &hs };
		pthread_t th[4];
		bool started[4] = { false };
		long ncpu = dump_threads();
		unsigned nt = ncpu > 4 ? 4 : ncpu > 1 ? (unsigned)ncpu : 1;
		pthread_mutex_init(&c.lock, NULL);
		for (unsigned i = 1; i < nt; i++)
			started[i] = pthread_create(&th[i], NULL, copier_run, &c) == 0;
		copier_run(&c);
		for (unsigned i = 1; i < nt; i++)
			if (started[i])
				pthread_join(th[i], NULL);
		pthread_mutex_destroy(&c.lock);
		if (c.failed) {
			*e = c.err;
			goto out;
		}
	}
	if (dump_hasher_write(&hs, fd, off, hoff, e) < 0)
		goto out;
	ret = 0;
out:
	dump_hasher_free(&hs);
	free(notes.p);
	free(w.a);
	free(ph);
	free(range_off);
	return ret;
}
