/* notes: the ELF notes of a dump (shared by the ELF and kdump-compressed writers) and the
 * small buffered-write helpers both use. */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

void dump_buf_put(struct dump_buf *b, const void *d, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
}

void dump_buf_pad(struct dump_buf *b, size_t align)
{
	static const uint8_t zero[8];
	while (b->len % align)
		dump_buf_put(b, zero, 1);
}

static void note(struct dump_buf *b, const char *name, uint32_t type, const void *desc, uint32_t len)
{
	Elf64_Nhdr h = { .n_namesz = (uint32_t)strlen(name) + 1, .n_descsz = len, .n_type = type };
	dump_buf_put(b, &h, sizeof(h));
	dump_buf_put(b, name, h.n_namesz);
	dump_buf_pad(b, 4);
	dump_buf_put(b, desc, len);
	dump_buf_pad(b, 4);
}

/* struct elf_prstatus for x86-64, by offsets (336 bytes; pr_reg at 112). */
static void prstatus(struct dump_buf *b, const struct dump_cpu *c)
{
	uint8_t p[336];
	uint64_t r[27] = {
		c->r15, c->r14, c->r13, c->r12, c->rbp, c->rbx, c->r11, c->r10, c->r9, c->r8, c->rax, c->rcx, c->rdx,
		c->rsi, c->rdi, c->rax /* orig_rax */, c->rip, c->cs.selector, c->rflags, c->rsp, c->ss.selector,
		c->fs.base, c->gs.base, c->ds.selector, c->es.selector, c->fs.selector, c->gs.selector,
	};
	int32_t pid = (int32_t)c->index + 1;
	memset(p, 0, sizeof(p));
	memcpy(p + 32, &pid, 4); /* pr_pid: gdb's thread (LWP) ids are vCPU + 1 */
	memcpy(p + 112, r, sizeof(r));
	note(b, "CORE", NT_PRSTATUS, p, sizeof(p));
}

/* The integrity note with its table zero (filled when the pages are written): where the
 * table starts in b. */
static size_t hash_note(struct dump_buf *b, const struct dump_source *src)
{
	uint32_t hh[2] = { 1, src->nr_ranges };
	uint32_t len = (uint32_t)(sizeof(hh) + src->nr_ranges * sizeof(struct dump_hash_range));
	uint8_t *desc = calloc(1, len);
	size_t hoff;
	if (!desc)
		abort();
	memcpy(desc, hh, sizeof(hh));
	hoff = b->len + sizeof(Elf64_Nhdr) + 8 /* "HVKIT\0", padded */ + sizeof(hh);
	note(b, DUMP_NOTE_HVKIT, DUMP_NOTE_HVKIT_HASH, desc, len);
	free(desc);
	return hoff;
}

/* Verbatim notes that hold an integrity note already (a conversion of ours: the same RAM). */
static bool has_hash_note(const uint8_t *p, size_t len)
{
	size_t at = 0;
	while (at + sizeof(Elf64_Nhdr) <= len) {
		Elf64_Nhdr h;
		memcpy(&h, p + at, sizeof(h));
		if (h.n_namesz == 6 && h.n_type == DUMP_NOTE_HVKIT_HASH && at + sizeof(h) + 6 <= len &&
		    !memcmp(p + at + sizeof(h), DUMP_NOTE_HVKIT, 6))
			return true;
		at += sizeof(h) + ((h.n_namesz + 3ull) & ~3ull) + ((h.n_descsz + 3ull) & ~3ull);
	}
	return false;
}

size_t dump_notes_build(struct dump_buf *b, const struct dump_source *src)
{
	size_t hoff;
	if (src->notes) { /* verbatim (convert), with an integrity note when they have none */
		dump_buf_put(b, src->notes, src->notes_len);
		return has_hash_note(src->notes, src->notes_len) ? SIZE_MAX : hash_note(b, src);
	}
	for (unsigned i = 0; i < src->nr_cpus; i++)
		prstatus(b, &src->cpus[i]);
	for (unsigned i = 0; i < src->nr_cpus; i++)
		note(b, DUMP_NOTE_HVKIT, DUMP_NOTE_HVKIT_CPU, &src->cpus[i], sizeof(struct dump_cpu));
	note(b, DUMP_NOTE_HVKIT, DUMP_NOTE_HVKIT_DOMAIN, &src->domain, sizeof(src->domain));
	hoff = hash_note(b, src);
	if (src->vmcoreinfo)
		note(b, "VMCOREINFO", 0, src->vmcoreinfo, (uint32_t)strlen(src->vmcoreinfo));
	return hoff;
}

long dump_threads(void)
{
	const char *env = getenv("HVKIT_DUMP_THREADS");
	long n = env && *env ? strtol(env, NULL, 10) : sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n;
}

bool dump_all_zero(const uint8_t *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)p;
	for (size_t i = 0; i < n / 8; i++)
		if (q[i])
			return false;
	for (size_t i = n & ~7ul; i < n; i++)
		if (p[i])
			return false;
	return true;
}

int dump_write_all(int fd, const void *p, size_t n, uint64_t off, struct err *e)
{
	const uint8_t *q = p;
	while (n) {
		ssize_t w = pwrite(fd, q, n, (off_t)off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_errno(e, "writing the dump");
		q += w;
		n -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}
