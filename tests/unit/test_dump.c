/* Unit tests for dump/: every format written from a synthetic guest (two RAM ranges around
 * a hole; zero, text-like, random and pattern pages; two vCPUs; VMCOREINFO) reads back
 * byte for byte with the same registers and notes, converts to every other format and
 * back, and truncated or corrupted files are refused with a message. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <elf.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "mdb/mdb.h"
#include "dump/dump.h"
#include "slurp.h"

#define R0 (4u << 20)
#define R1_GPA (16ull << 20)
#define R1 (2u << 20)

static uint8_t *ram0, *ram1;
static struct dump_cpu cpus[2];
static const struct dump_range ranges[2] = { { 0, R0 }, { R1_GPA, R1 } };

static int mem_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	(void)o;
	if (gpa + len <= R0) {
		memcpy(buf, ram0 + gpa, len);
		return 0;
	}
	if (gpa >= R1_GPA && gpa + len <= R1_GPA + R1) {
		memcpy(buf, ram1 + (gpa - R1_GPA), len);
		return 0;
	}
	return -1;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
	for (size_t pg = 0; pg < n / 4096; pg++) {
		uint8_t *q = p + pg * 4096;
		switch (pg % 4) {
		case 0: /* zero */
			memset(q, 0, 4096);
			break;
		case 1: /* compressible text */
			for (int i = 0; i < 4096; i++)
				q[i] = (uint8_t)("the quick brown fox "[i % 20] + (pg & 3));
			break;
		case 2: /* random: stored, not compressed */
			for (int i = 0; i < 4096; i++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				q[i] = (uint8_t)x;
			}
			break;
		default: /* a page with one word set */
			memset(q, 0, 4096);
			memcpy(q + 4088, &pg, sizeof(pg));
		}
	}
}

static int setup(void **state)
{
	(void)state;
	ram0 = malloc(R0);
	ram1 = malloc(R1);
	fill(ram0, R0, 1);
	fill(ram1, R1, 2);
	for (unsigned i = 0; i < 2; i++) {
		memset(&cpus[i], 0, sizeof(cpus[i]));
		cpus[i].version = DUMP_VERSION;
		cpus[i].index = i;
		cpus[i].online = 1;
		cpus[i].rip = 0xffffffff80100000ull + i;
		cpus[i].rsp = 0xffff888000010000ull + 16 * i;
		cpus[i].rbx = 0x1122334455667788ull ^ i;
		cpus[i].cr3 = 0x1000;
		cpus[i].cs.selector = 8;
		cpus[i].lapic[0x20] = (uint8_t)(i << 0);
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(ram0);
	free(ram1);
	return 0;
}

static void source(struct dump_source *s)
{
	memset(s, 0, sizeof(*s));
	s->domain.version = DUMP_VERSION;
	s->domain.id = 3;
	snprintf(s->domain.name, sizeof(s->domain.name), "testdom");
	snprintf(s->domain.state, sizeof(s->domain.state), "crashed");
	snprintf(s->domain.reason, sizeof(s->domain.reason), "panic: unit test");
	s->domain.mem_bytes = R0 + R1;
	s->domain.time_ns = 1764000000123456789ull;
	s->domain.nr_vcpus = 2;
	s->cpus = cpus;
	s->nr_cpus = 2;
	s->ranges = ranges;
	s->nr_ranges = 2;
	s->read = mem_read;
	s->vmcoreinfo = "OSRELEASE=6.1.0-test\nPAGESIZE=4096\nNUMBER(phys_base)=0x1000000\n";
}

static void tmp_path(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "/tmp/hvkit-test-dump-%d-%s", (int)getpid(), tag);
	unlink(buf);
}

static void write_file(const char *path, const struct dump_source *s, enum dump_fmt fmt)
{
	struct err e = { "" };
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (dump_write(fd, s, fmt, NULL, NULL, &e) < 0)
		fail_msg("%s: %s", dump_fmt_name(fmt), e.msg);
	close(fd);
}

#define MIB (1u << 20)

static void check_file(const char *path, bool ours)
{
	struct err e = { "" };
	struct dump_file *f = dump_open(path, &e);
	uint8_t *buf = malloc(R0);
	if (!f)
		fail_msg("%s", e.msg);
	assert_int_equal(dump_read_phys(f, 0, buf, R0), R0);
	assert_memory_equal(buf, ram0, R0);
	assert_int_equal(dump_read_phys(f, R1_GPA, buf, R1), R1);
	assert_memory_equal(buf, ram1, R1);
	assert_int_equal(dump_read_phys(f, R0, buf, 16), 0); /* the hole */
	assert_int_equal(dump_read_phys(f, R1_GPA + R1 - 8, buf, 16), 8);
	assert_int_equal(dump_nr_cpus(f), 2);
	for (unsigned i = 0; i < 2; i++) {
		uint64_t rip, rsp, rbp;
		assert_int_equal(dump_prstatus_regs(f, i, &rip, &rsp, &rbp), 0);
		assert_int_equal(rip, cpus[i].rip);
		assert_int_equal(rsp, cpus[i].rsp);
		if (ours) {
			assert_non_null(dump_cpu(f, i));
			assert_memory_equal(dump_cpu(f, i), &cpus[i], sizeof(cpus[i]));
		}
	}
	assert_non_null(dump_vmcoreinfo(f));
	assert_non_null(strstr(dump_vmcoreinfo(f), "OSRELEASE=6.1.0-test\n"));
	if (ours) {
		const struct dump_hash_range *h;
		unsigned nh;
		assert_non_null(dump_domain_info(f));
		assert_string_equal(dump_domain_info(f)->reason, "panic: unit test");
		/* the integrity note: as defined (XXH3 of the blocks' XXH3s), and what the file holds */
		h = dump_hashes(f, &nh);
		assert_non_null(h);
		assert_int_equal(nh, 2);
		for (unsigned r = 0; r < 2; r++) {
			const uint8_t *ram = r ? ram1 : ram0;
			uint64_t size = r ? R1 : R0, got, *bh = malloc(size / MIB * 8);
			for (uint64_t b = 0; b < size / MIB; b++)
				bh[b] = XXH3_64bits(ram + b * MIB, MIB);
			assert_int_equal(h[r].gpa, r ? R1_GPA : 0);
			assert_int_equal(h[r].size, size);
			assert_int_equal(h[r].hash, XXH3_64bits(bh, size / MIB * 8));
			assert_int_equal(dump_hash_range(f, h[r].gpa, h[r].size, &got, &e), 0);
			assert_int_equal(got, h[r].hash);
			free(bh);
		}
	}
	free(buf);
	dump_close(f);
}

static void test_round_trip(void **state)
{
	struct dump_source s;
	char path[128];
	(void)state;
	source(&s);
	for (int fmt = DUMP_FMT_ELF; fmt <= DUMP_FMT_KDUMP_RAW; fmt++) {
		tmp_path(path, sizeof(path), dump_fmt_name((enum dump_fmt)fmt));
		write_file(path, &s, (enum dump_fmt)fmt);
		check_file(path, true);
		unlink(path);
	}
}

static void test_convert_every_way(void **state)
{
	struct dump_source s, c;
	struct dump_range rr[16];
	char a[128], b[128], back[128];
	struct err e = { "" };
	(void)state;
	source(&s);
	for (int from = DUMP_FMT_ELF; from <= DUMP_FMT_KDUMP_RAW; from++) {
		tmp_path(a, sizeof(a), "from");
		write_file(a, &s, (enum dump_fmt)from);
		for (int to = DUMP_FMT_ELF; to <= DUMP_FMT_KDUMP_RAW; to++) {
			struct dump_file *f = dump_open(a, &e);
			assert_non_null(f);
			assert_int_equal(dump_source_from_file(f, &c, rr, 16, &e), 0);
			tmp_path(b, sizeof(b), "to");
			write_file(b, &c, (enum dump_fmt)to);
			free((void *)c.cpus);
			dump_close(f);
			check_file(b, true);
			/* and back again */
			f = dump_open(b, &e);
			assert_non_null(f);
			assert_int_equal(dump_source_from_file(f, &c, rr, 16, &e), 0);
			tmp_path(back, sizeof(back), "back");
			write_file(back, &c, (enum dump_fmt)from);
			free((void *)c.cpus);
			dump_close(f);
			check_file(back, true);
			unlink(b);
			unlink(back);
		}
		unlink(a);
	}
}


/* Every truncation of a kdump file opens with a message or reads what is there. */
static void test_kdump_truncated_and_corrupt(void **state)
{
	struct dump_source s;
	char path[128], cut[128];
	struct err e;
	uint8_t *all, buf[8192];
	long size;
	FILE *fp;
	(void)state;
	source(&s);
	tmp_path(path, sizeof(path), "full");
	tmp_path(cut, sizeof(cut), "cut");
	write_file(path, &s, DUMP_FMT_KDUMP_ZSTD);
	all = slurp(path, &size);
	for (long n = 0; n < size; n += n < 20000 ? 97 : 40961) {
		struct dump_file *f;
		fp = fopen(cut, "wb");
		fwrite(all, 1, (size_t)n, fp);
		fclose(fp);
		e.msg[0] = 0;
		f = dump_open(cut, &e);
		if (!f) {
			assert_true(e.msg[0] != 0);
			continue;
		}
		dump_read_phys(f, 0, buf, sizeof(buf));
		dump_read_phys(f, R1_GPA + 4096, buf, sizeof(buf));
		dump_close(f);
	}
	/* compressed data scribbled over: reads stop short, never crash */
	for (long i = size / 2; i < size; i += 512)
		all[i] ^= 0x5a;
	fp = fopen(cut, "wb");
	fwrite(all, 1, (size_t)size, fp);
	fclose(fp);
	{
		struct dump_file *f = dump_open(cut, &e);
		uint8_t *big = malloc(R0);
		assert_non_null(f);
		assert_true(dump_read_phys(f, 0, big, R0) <= R0);
		free(big);
		dump_close(f);
	}
	free(all);
	unlink(cut);
	unlink(path);
}

static struct dump_file *open_bytes(const char *path, const uint8_t *p, size_t n, struct err *e)
{
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(p, 1, n, fp), n);
	fclose(fp);
	e->msg[0] = 0;
	return dump_open(path, e);
}

static const enum dump_fmt fmts[] = { DUMP_FMT_KDUMP_ZSTD, DUMP_FMT_ELF };

/* The test source written to path in fmt, its bytes, which open (as the file other). */
static uint8_t *written(const char *path, const char *other, enum dump_fmt fmt, long *size)
{
	struct dump_source s;
	struct dump_file *f;
	struct err e;
	uint8_t *all;
	source(&s);
	write_file(path, &s, fmt);
	all = slurp(path, size);
	f = open_bytes(other, all, (size_t)*size, &e);
	if (!f)
		fail_msg("%s", e.msg);
	dump_close(f);
	return all;
}

/* A kdump cut inside its page data is refused at open ("truncated"), not found out page by
 * page; a dump whose magic was never written (its writer killed) is refused as incomplete. */
static void test_cut_and_incomplete_refused(void **state)
{
	char path[128], cut[128];
	struct err e;
	(void)state;
	tmp_path(path, sizeof(path), "whole");
	tmp_path(cut, sizeof(cut), "cut2");
	for (unsigned k = 0; k < 2; k++) {
		long size;
		uint8_t *all = written(path, cut, fmts[k], &size);
		if (fmts[k] != DUMP_FMT_ELF) {
			const long cuts[] = { size - 1, size - 4096, size * 3 / 4, size / 2 };
			for (unsigned i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
				assert_null(open_bytes(cut, all, (size_t)cuts[i], &e));
				assert_non_null(strstr(e.msg, "truncated"));
			}
		}
		memset(all, 0, fmts[k] == DUMP_FMT_ELF ? 4 : 8);
		assert_null(open_bytes(cut, all, (size_t)size, &e));
		assert_non_null(strstr(e.msg, "an incomplete dump"));
		free(all);
	}
	unlink(cut);
	unlink(path);
}

/* The descriptor of our note of type `type` (its n-th one) in a file's bytes. */
static uint8_t *find_note(uint8_t *all, long size, uint32_t type, uint32_t descsz, unsigned nth)
{
	for (long i = 0; i + 20 <= size; i++) { /* kdump: notes after VMCOREINFO, unaligned */
		Elf64_Nhdr h;
		memcpy(&h, all + i, sizeof(h));
		if (h.n_namesz == 6 && h.n_descsz == descsz && h.n_type == type && !memcmp(all + i + 12, "HVKIT", 6) &&
		    nth-- == 0)
			return all + i + 20;
	}
	fail_msg("no note of type %x", type);
	return NULL;
}

/* What a dump says twice must agree: each field flipped alone makes the open fail and
 * name the disagreement. */
static void test_crosscheck(void **state)
{
	char path[128], cut[128];
	struct err e;
	(void)state;
	tmp_path(path, sizeof(path), "x");
	tmp_path(cut, sizeof(cut), "xflip");
	for (unsigned k = 0; k < 2; k++) {
		long size;
		uint8_t *all = written(path, cut, fmts[k], &size), *dom, *cpu1, save[8];
		uint32_t v = 7426;
		uint64_t m = (R0 + R1) * 2;
		dom = find_note(all, size, DUMP_NOTE_HVKIT_DOMAIN, sizeof(struct dump_domain), 0);
		cpu1 = find_note(all, size, DUMP_NOTE_HVKIT_CPU, sizeof(struct dump_cpu), 1);
		memcpy(save, dom + offsetof(struct dump_domain, nr_vcpus), 4);
		memcpy(dom + offsetof(struct dump_domain, nr_vcpus), &v, 4);
		assert_null(open_bytes(cut, all, (size_t)size, &e));
		if (!strstr(e.msg, "inconsistent dump: the domain note says 7426 vCPUs, the file holds 2 vCPU notes"))
			fail_msg("%s", e.msg);
		memcpy(dom + offsetof(struct dump_domain, nr_vcpus), save, 4);
		memcpy(save, dom + offsetof(struct dump_domain, mem_bytes), 8);
		memcpy(dom + offsetof(struct dump_domain, mem_bytes), &m, 8);
		assert_null(open_bytes(cut, all, (size_t)size, &e));
		if (!strstr(e.msg, "inconsistent dump: the domain note says")) fail_msg("%s", e.msg);
		memcpy(dom + offsetof(struct dump_domain, mem_bytes), save, 8);
		memcpy(save, cpu1 + offsetof(struct dump_cpu, index), 4);
		v = 0;
		memcpy(cpu1 + offsetof(struct dump_cpu, index), &v, 4);
		assert_null(open_bytes(cut, all, (size_t)size, &e));
		if (!strstr(e.msg, "vCPU note 1 is for vCPU 0")) fail_msg("%s", e.msg);
		memcpy(cpu1 + offsetof(struct dump_cpu, index), save, 4);
		cpu1[offsetof(struct dump_cpu, rip)] ^= 0x10;
		assert_null(open_bytes(cut, all, (size_t)size, &e));
		if (!strstr(e.msg, "vCPU 1's registers differ between its note")) fail_msg("%s", e.msg);
		cpu1[offsetof(struct dump_cpu, rip)] ^= 0x10;
		if (fmts[k] != DUMP_FMT_ELF) { /* the kdump header's CPU count */
			v = 3;
			memcpy(save, all + 460, 4);
			memcpy(all + 460, &v, 4);
			assert_null(open_bytes(cut, all, (size_t)size, &e));
			if (!strstr(e.msg, "the kdump header says 3 CPUs, the notes hold 2 vCPUs")) fail_msg("%s", e.msg);
			memcpy(all + 460, save, 4);
			all[424] |= 0x8; /* status: makedumpfile's "incomplete" */
			assert_null(open_bytes(cut, all, (size_t)size, &e));
			if (!strstr(e.msg, "one of ours flagged incomplete")) fail_msg("%s", e.msg);
			all[424] &= (uint8_t)~0x8;
		}
		{
			struct dump_file *f = open_bytes(cut, all, (size_t)size, &e);
			assert_non_null(f);
			dump_close(f);
		}
		free(all);
	}
	unlink(cut);
	unlink(path);
}

/* A conversion of a foreign dump (verbatim notes without ours) gains the integrity note;
 * one of ours keeps its own (check_file, through every conversion). */
static void test_foreign_gets_an_integrity_note(void **state)
{
	static const char info[] = "OSRELEASE=6.1.0-test\n";
	uint8_t notes[64] = { 0 };
	Elf64_Nhdr h = { .n_namesz = 11, .n_descsz = sizeof(info) - 1, .n_type = 0 };
	struct dump_source s;
	struct dump_file *f;
	char path[128];
	struct err e;
	unsigned n;
	(void)state;
	memcpy(notes, &h, sizeof(h));
	memcpy(notes + sizeof(h), "VMCOREINFO", 11);
	memcpy(notes + sizeof(h) + 12, info, sizeof(info) - 1);
	source(&s);
	s.notes = notes;
	s.notes_len = sizeof(h) + 12 + ((sizeof(info) - 1 + 3) & ~3ul);
	tmp_path(path, sizeof(path), "foreign");
	for (unsigned k = 0; k < 2; k++) {
		write_file(path, &s, fmts[k]);
		f = dump_open(path, &e);
		if (!f)
			fail_msg("%s", e.msg);
		assert_null(dump_domain_info(f));
		assert_non_null(dump_hashes(f, &n));
		assert_int_equal(n, 2);
		{
			FILE *null = fopen("/dev/null", "w");
			assert_int_equal(dump_verify(f, null, &n, &e), 0);
			fclose(null);
		}
		dump_close(f);
		unlink(path);
	}
}

static void put_be64(FILE *fp, int64_t v)
{
	for (int i = 7; i >= 0; i--)
		fputc((int)((uint64_t)v >> (8 * i)) & 0xff, fp);
}

/* makedumpfile's flattened stream of a kdump file (records in reverse order, 3000-byte
 * pieces) opens as the file itself; broken streams are refused with a message. */
static void test_flattened_stream(void **state)
{
	struct dump_source s;
	char path[128], flat[128];
	struct err e = { "" };
	uint8_t *all;
	long size;
	FILE *fp;
	(void)state;
	source(&s);
	tmp_path(path, sizeof(path), "kd");
	tmp_path(flat, sizeof(flat), "flat");
	write_file(path, &s, DUMP_FMT_KDUMP_ZSTD);
	all = slurp(path, &size);
	for (int variant = 0; variant < 3; variant++) {
		struct dump_file *f;
		fp = fopen(flat, "wb");
		fwrite("makedumpfile", 1, 12, fp);
		for (int i = 12; i < 4096; i++)
			fputc(0, fp);
		for (long off = (size - 1) / 3000 * 3000; off >= 0; off -= 3000) {
			long n = size - off < 3000 ? size - off : 3000;
			put_be64(fp, variant == 2 && off == 0 ? -5 : off);
			put_be64(fp, n);
			fwrite(all + off, 1, (size_t)n, fp);
		}
		if (variant != 1) { /* 1: no end record */
			put_be64(fp, -1);
			put_be64(fp, -1);
		}
		fclose(fp);
		e.msg[0] = 0;
		f = dump_open(flat, &e);
		if (variant == 0) {
			if (!f)
				fail_msg("%s", e.msg);
			dump_close(f);
			check_file(flat, true);
		} else {
			assert_null(f);
			assert_non_null(strstr(e.msg, variant == 1 ? "no end record" : "corrupt flattened dump record"));
		}
	}
	free(all);
	unlink(path);
	unlink(flat);
}

static void test_fmt_names(void **state)
{
	(void)state;
	assert_int_equal(dump_fmt_parse("kdump-zstd"), DUMP_FMT_KDUMP_ZSTD);
	assert_int_equal(dump_fmt_parse("elf"), DUMP_FMT_ELF);
	assert_int_equal(dump_fmt_parse("kdump-lzo"), -1);
	assert_string_equal(dump_fmt_name(DUMP_FMT_KDUMP_ZLIB), "kdump-zlib");
}

static void put_entry(uint64_t table, unsigned i, uint64_t e)
{
	memcpy(ram0 + table + i * 8, &e, 8);
}

/* vCPU 0 with 5-level paging (CR4.LA57): the ELF core's kernel aliases come from its
 * PML5, coalesced where both sides are contiguous. */
static void test_elf_aliases_five_level(void **state)
{
	enum { T = 0x300000, N = 5 * 4096 };
	struct dump_cpu saved = cpus[0];
	uint8_t *ram_saved = malloc(N);
	struct dump_source s;
	struct dump_file *f;
	struct err e = { "" };
	const struct dump_load *al[4];
	unsigned nal = 0;
	struct target *t;
	uint64_t pa, psz;
	char path[128];
	(void)state;
	memcpy(ram_saved, ram0 + T, N);
	memset(ram0 + T, 0, N);
	put_entry(T, 511, (T + 0x1000) | 3);            /* PML5[511] -> PML4 */
	put_entry(T + 0x1000, 511, (T + 0x2000) | 3);   /* PML4[511] -> PDPT */
	put_entry(T + 0x2000, 510, (T + 0x3000) | 3);   /* PDPT[510] -> PD: 0xffffffff80000000 */
	put_entry(T + 0x3000, 0, 0x200000 | 0x80 | 3);  /* a 2 MiB page */
	put_entry(T + 0x3000, 1, (T + 0x4000) | 3);     /* -> PT */
	put_entry(T + 0x4000, 0, 0x5000 | 3);
	put_entry(T + 0x4000, 1, 0x6000 | 3);           /* contiguous with the one before */
	put_entry(T + 0x4000, 2, 0x7fff000 | 3);        /* not RAM: no alias */
	put_entry(T, 1, (T + 0x1000) | 3);              /* PML5[1]: the lower half, not aliased */
	cpus[0].cr0 = 0x80000011;
	cpus[0].cr4 = 0x1020;
	cpus[0].efer = 0x500;
	cpus[0].cr3 = T;
	source(&s);
	tmp_path(path, sizeof(path), "la57");
	write_file(path, &s, DUMP_FMT_ELF);
	f = dump_open(path, &e);
	if (!f)
		fail_msg("%s", e.msg);
	for (unsigned i = 0; i < dump_nr_loads(f); i++)
		if (!dump_load_is_physical(dump_loadseg(f, i)) && nal < 4)
			al[nal++] = dump_loadseg(f, i);
	assert_int_equal(nal, 2);
	assert_int_equal(al[0]->vaddr, 0xffffffff80000000ull);
	assert_int_equal(al[0]->paddr, 0x200000);
	assert_int_equal(al[0]->memsz, 2u << 20);
	assert_int_equal(al[1]->vaddr, 0xffffffff80200000ull);
	assert_int_equal(al[1]->paddr, 0x5000);
	assert_int_equal(al[1]->memsz, 0x2000);
	dump_close(f);
	/* and the engine's dump target walks the same 5 levels */
	t = target_dump_open(path, &e);
	if (!t)
		fail_msg("%s", e.msg);
	assert_int_equal(target_vtop(t, 0, 0xffffffff80201234ull, &pa, &psz), 0);
	assert_int_equal(pa, 0x6234);
	assert_int_equal(psz, 4096);
	assert_int_equal(target_vtop(t, 0, 0xffffffff80012345ull, &pa, &psz), 0);
	assert_int_equal(pa, 0x212345);
	assert_int_equal(psz, 2u << 20);
	assert_int_equal(target_vtop(t, 0, 0xffffffff80202000ull, &pa, &psz), 0); /* mapped, not RAM */
	assert_int_equal(pa, 0x7fff000);
	assert_int_equal(target_vtop(t, 0, 0xffffffff80203000ull, &pa, &psz), -1);
	assert_int_equal(target_vtop(t, 1, 0xffffffff80201234ull, &pa, &psz), 0); /* CPU 1: paging off */
	assert_int_equal(pa, 0xffffffff80201234ull);
	t->kernel_pt_root = T; /* the kernel's tables: 5 levels from CPU 0's CR4, asked for CPU 1 */
	assert_int_equal(target_vtop(t, 1, 0xffffffff80201234ull, &pa, &psz), 0);
	assert_int_equal(pa, 0x6234);
	target_close(t);
	unlink(path);
	cpus[0] = saved;
	memcpy(ram0 + T, ram_saved, N);
	free(ram_saved);
}

/* A new dump file: never over an existing one, invisible under its name until committed,
 * and nothing left behind by an abort. */
static void test_out_create_commit_abort(void **state)
{
	struct dump_out o;
	struct err e = { "" };
	char path[128], partial[160];
	(void)state;
	tmp_path(path, sizeof(path), "out");
	snprintf(partial, sizeof(partial), "%s.partial-%d", path, (int)getpid());
	assert_int_equal(dump_out_create(&o, path, &e), 0);
	assert_string_equal(o.tmp, partial); /* the partial's whole path, for whoever notes it */
	assert_int_equal(write(o.fd, "abc", 3), 3);
	assert_int_equal(access(partial, F_OK), 0);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(dump_out_commit(&o, &e), 0);
	assert_int_equal(access(partial, F_OK), -1);
	assert_int_equal(access(path, F_OK), 0);
	dump_out_abort(&o); /* a no-op after the commit */
	assert_int_equal(access(path, F_OK), 0);

	assert_int_equal(dump_out_create(&o, path, &e), -1);
	assert_non_null(strstr(e.msg, "exists: a dump is never overwritten"));
	dump_out_abort(&o);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);

	assert_int_equal(dump_out_create(&o, path, &e), 0); /* the name appears meanwhile */
	close(open(path, O_WRONLY | O_CREAT, 0600));
	assert_int_equal(dump_out_commit(&o, &e), -1);
	assert_non_null(strstr(e.msg, "File exists"));
	dump_out_abort(&o);
	assert_int_equal(access(partial, F_OK), -1);
	unlink(path);

	assert_int_equal(dump_out_create(&o, path, &e), 0);
	dump_out_abort(&o);
	assert_int_equal(access(partial, F_OK), -1);
	assert_int_equal(access(path, F_OK), -1);

	assert_int_equal(symlink("/nonexistent-victim", partial), 0); /* never written through */
	assert_int_equal(dump_out_create(&o, path, &e), -1);
	assert_non_null(strstr(e.msg, "exists: hv never writes through or over a file it did not create"));
	dump_out_abort(&o);
	assert_int_equal(unlink(partial), 0);
	assert_int_equal(symlink("/nonexistent-victim", path), 0); /* nor over */
	assert_int_equal(dump_out_create(&o, path, &e), -1);
	assert_non_null(strstr(e.msg, "exists: a dump is never overwritten"));
	dump_out_abort(&o);
	assert_int_equal(unlink(path), 0);

	assert_int_equal(dump_out_create(&o, "/nonexistent-dir/core", &e), -1);
	assert_non_null(strstr(e.msg, "/nonexistent-dir"));
	assert_non_null(strstr(e.msg, "No such file or directory"));
	dump_out_abort(&o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_convert_every_way),
		cmocka_unit_test(test_kdump_truncated_and_corrupt),
		cmocka_unit_test(test_cut_and_incomplete_refused),
		cmocka_unit_test(test_crosscheck),
		cmocka_unit_test(test_foreign_gets_an_integrity_note),
		cmocka_unit_test(test_flattened_stream),
		cmocka_unit_test(test_fmt_names),
		cmocka_unit_test(test_elf_aliases_five_level),
		cmocka_unit_test(test_out_create_commit_abort),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
