/* Unit tests for util's page walk: hand-built 4- and 5-level tables in a buffer that
 * stands for guest-physical memory (physical address = offset). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "util/util.h"
#include "x86/x86.h"

#define MEM_PAGES 16
#define P 0x1ull
#define RW 0x2ull
#define PS 0x80ull
/* table pages */
#define PML5 0x1000ull
#define PML4 0x2000ull
#define PDPT 0x3000ull
#define PD 0x4000ull
#define PT 0x5000ull
#define SPARE 0x6000ull

static uint8_t mem[MEM_PAGES * 4096];

static int mem_read(void *opaque, uint64_t pa, void *buf, size_t len)
{
	(void)opaque;
	if (pa > sizeof(mem) || len > sizeof(mem) - pa)
		return -1;
	memcpy(buf, mem + pa, len);
	return 0;
}

static void set(uint64_t table, unsigned i, uint64_t e)
{
	memcpy(mem + table + i * 8, &e, 8);
}

static uint64_t va_of(unsigned i5, unsigned i4, unsigned i3, unsigned i2, unsigned i1, int levels)
{
	uint64_t va = (uint64_t)i5 << 48 | (uint64_t)i4 << 39 | (uint64_t)i3 << 30 | (uint64_t)i2 << 21 | (uint64_t)i1 << 12;
	int top = levels == 5 ? 56 : 47;
	return va & (1ull << top) ? va | ~((1ull << (top + 1)) - 1) : va;
}

/* PML4[1] -> PDPT: [2] a 1 GiB page at 0x40000000, [3] -> PD: [4] a 2 MiB page at
 * 0x200000, [5] -> PT: [6] a 4 KiB page at 0x7000; [7] not present. PML4[300] (upper
 * half) -> the same PDPT. PML5[1] and PML5[400] -> the PML4. */
static int setup(void **state)
{
	(void)state;
	memset(mem, 0, sizeof(mem));
	set(PML5, 1, PML4 | P | RW);
	set(PML5, 400, PML4 | P | RW);
	set(PML4, 1, PDPT | P | RW);
	set(PML4, 300, PDPT | P | RW);
	set(PDPT, 2, 0x40000000ull | PS | P | RW);
	set(PDPT, 3, PD | P | RW);
	set(PD, 4, 0x200000ull | PS | P | RW | (1ull << 63)); /* NX: not an address bit */
	set(PD, 5, PT | P | RW);
	set(PT, 6, 0x7000ull | P | RW);
	set(PT, 7, 0x8000ull); /* not present */
	return 0;
}

static struct pagewalk walker(uint64_t top, int levels)
{
	return (struct pagewalk){ .top = top, .levels = levels, .read = mem_read, .opaque = NULL };
}

static void expect(const struct pagewalk *w, uint64_t va, uint64_t want_pa, uint64_t want_size)
{
	uint64_t pa = 0, size = 0;
	struct err e = { "" };
	assert_int_equal(pagewalk_translate(w, va, &pa, &size, &e), 0);
	assert_int_equal(pa, want_pa);
	assert_int_equal(size, want_size);
}

static void expect_error(const struct pagewalk *w, uint64_t va, const char *part)
{
	uint64_t pa = 0, size = 0;
	struct err e = { "" };
	assert_int_equal(pagewalk_translate(w, va, &pa, &size, &e), -1);
	if (!strstr(e.msg, part))
		fail_msg("\"%s\" does not say \"%s\"", e.msg, part);
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(pagewalk_levels(0, 0, 0), 0);
	assert_int_equal(pagewalk_levels(0x80000001u, 0x20, 0), -1);   /* PAE, not long mode */
	assert_int_equal(pagewalk_levels(0x80000001u, 0x20, 0x500), 4);
	assert_int_equal(pagewalk_levels(0x80000001u, 0x1020, 0x500), 5);
	assert_true(pagewalk_canonical(0x00007fffffffffffull, 4));
	assert_true(pagewalk_canonical(0xffff800000000000ull, 4));
	assert_false(pagewalk_canonical(0x0000800000000000ull, 4));
	assert_true(pagewalk_canonical(0x0000800000000000ull, 5));
	assert_true(pagewalk_canonical(0xff00000000000000ull, 5));
	assert_false(pagewalk_canonical(0x0100000000000000ull, 5));
}

static void test_four_level(void **state)
{
	struct pagewalk w = walker(PML4 | 0x18 /* PWT, PCD: not address bits */, 4);
	(void)state;
	expect(&w, va_of(0, 1, 2, 0, 0, 4) + 0x12345678, 0x40000000ull + 0x12345678, 1ull << 30);
	expect(&w, va_of(0, 1, 3, 4, 0, 4) + 0x1abcd, 0x200000ull + 0x1abcd, 2ull << 20);
	expect(&w, va_of(0, 1, 3, 5, 6, 4) + 0x123, 0x7123, 4096);
	expect(&w, va_of(0, 300, 3, 5, 6, 4) + 0xfff, 0x7fff, 4096); /* upper half */
	expect_error(&w, va_of(0, 1, 3, 5, 7, 4), "PT entry 0x8000 not present");
	expect_error(&w, va_of(0, 2, 0, 0, 0, 4), "PML4 entry 0x0 not present");
	expect_error(&w, 0x0000800000000000ull, "not canonical under 4-level");
}

static void test_five_level(void **state)
{
	struct pagewalk w = walker(PML5, 5);
	(void)state;
	expect(&w, va_of(1, 1, 2, 0, 0, 5) + 0x3000, 0x40003000ull, 1ull << 30);
	expect(&w, va_of(1, 1, 3, 4, 0, 5) + 0x1000, 0x201000ull, 2ull << 20);
	expect(&w, va_of(1, 1, 3, 5, 6, 5) + 8, 0x7008, 4096);
	expect(&w, va_of(400, 300, 3, 5, 6, 5), 0x7000, 4096);
	assert_true(va_of(400, 300, 3, 5, 6, 5) >> 56 == 0xff);
	expect_error(&w, va_of(0, 1, 3, 5, 6, 5), "PML5 entry 0x0 not present");
	expect_error(&w, 0x0100000000000000ull, "not canonical under 5-level");
	/* a 4-level walk of a 5-level address: its upper bits are not canonical there */
	w = walker(PML4, 4);
	expect_error(&w, va_of(1, 1, 3, 5, 6, 5), "not canonical");
}

static void test_reserved(void **state)
{
	struct pagewalk w4 = walker(PML4, 4), w5 = walker(PML5, 5);
	(void)state;
	set(PML4, 5, 0x80000000ull | PS | P);   /* no 512 GiB pages */
	set(PML5, 5, 0x80000000ull | PS | P);
	set(PD, 8, 0x202000ull | PS | P);          /* a 2 MiB page that is not 2 MiB aligned */
	set(PD, 9, 0x400000ull | 0x1000 | PS | P); /* bit 12 of a large page is PAT */
	expect_error(&w4, va_of(0, 5, 0, 0, 0, 4), "PML4 entry 0x80000081 has reserved bits set");
	expect_error(&w5, va_of(5, 0, 0, 0, 0, 5), "PML5 entry 0x80000081 has reserved bits set");
	expect_error(&w4, va_of(0, 1, 3, 8, 0, 4), "PD entry");
	expect(&w4, va_of(0, 1, 3, 9, 0, 4) + 5, 0x400005, 2ull << 20);
}

static void test_beyond_buffer(void **state)
{
	struct pagewalk w = walker(0x100000, 4);
	(void)state;
	expect_error(&w, 0x1000, "cannot read the PML4 entry at physical 0x100000");
	set(PML4, 3, 0x7fff000ull | P); /* a PDPT far beyond memory */
	w = walker(PML4, 4);
	expect_error(&w, va_of(0, 3, 0, 0, 0, 4), "cannot read the PDPT entry at physical 0x7fff000");
	w.levels = 3;
	expect_error(&w, 0, "3-level paging is not walked");
}

/* A table whose entries all point at itself: a translation reads one entry a level and
 * ends at a page; an enumeration skips the entries that point back up. */
static void test_loop(void **state)
{
	struct pagewalk w = walker(SPARE, 4);
	uint64_t pa, size;
	struct err e;
	(void)state;
	for (unsigned i = 0; i < 512; i++)
		set(SPARE, i, SPARE | P);
	assert_int_equal(pagewalk_translate(&w, 0x1234, &pa, &size, &e), 0);
	assert_int_equal(pa, SPARE + 0x234);
	w.levels = 5;
	assert_int_equal(pagewalk_translate(&w, 0x1234, &pa, &size, &e), 0);
}

struct collected {
	uint64_t va[16], pa[16], size[16];
	unsigned n;
	unsigned long calls;
	unsigned stop_after;
};

static int collect(void *opaque, uint64_t va, uint64_t pa, uint64_t size)
{
	struct collected *c = opaque;
	c->calls++;
	if (c->n < 16) {
		c->va[c->n] = va;
		c->pa[c->n] = pa;
		c->size[c->n] = size;
		c->n++;
	}
	return c->stop_after && c->calls >= c->stop_after;
}

static void test_each(void **state)
{
	struct pagewalk w = walker(PML4, 4);
	struct collected c = { .n = 0 };
	struct err e;
	(void)state;
	assert_int_equal(pagewalk_each(&w, false, collect, &c, &e), 0);
	assert_int_equal(c.n, 6);
	assert_int_equal(c.va[0], va_of(0, 1, 2, 0, 0, 4));
	assert_int_equal(c.pa[0], 0x40000000ull);
	assert_int_equal(c.size[0], 1ull << 30);
	assert_int_equal(c.va[1], va_of(0, 1, 3, 4, 0, 4));
	assert_int_equal(c.pa[1], 0x200000ull);
	assert_int_equal(c.size[1], 2ull << 20);
	assert_int_equal(c.va[2], va_of(0, 1, 3, 5, 6, 4));
	assert_int_equal(c.pa[2], 0x7000);
	assert_int_equal(c.size[2], 4096);
	assert_int_equal(c.va[3], 0xffff960080000000ull); /* PML4[300], PDPT[2] */
	assert_int_equal(c.va[5], va_of(0, 300, 3, 5, 6, 4));

	memset(&c, 0, sizeof(c));
	assert_int_equal(pagewalk_each(&w, true, collect, &c, &e), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.va[0], 0xffff960080000000ull);

	memset(&c, 0, sizeof(c));
	c.stop_after = 2;
	assert_int_equal(pagewalk_each(&w, false, collect, &c, &e), 1);
	assert_int_equal(c.n, 2);

	/* 5 levels: PML5[1] and PML5[400] each see the PML4's six pages */
	memset(&c, 0, sizeof(c));
	w = walker(PML5, 5);
	assert_int_equal(pagewalk_each(&w, true, collect, &c, &e), 0);
	assert_int_equal(c.n, 6);
	assert_int_equal(c.va[0], va_of(400, 1, 2, 0, 0, 5));
	assert_true(c.va[0] >> 56 == 0xff);
	assert_int_equal(c.va[5], va_of(400, 300, 3, 5, 6, 5));
	assert_int_equal(c.pa[5], 0x7000);

	w = walker(0x200000, 4);
	assert_int_equal(pagewalk_each(&w, false, collect, &c, &e), -1);
	assert_non_null(strstr(e.msg, "cannot read the PML4 at physical 0x200000"));
}

/* Garbage: every entry of every level points at the next level's one table, so the tree
 * has 512^3 page tables to read; the walk gives up after PAGEWALK_MAX_TABLES. Loops
 * (entries pointing at their own table or one above) are skipped. */
static void test_each_garbage(void **state)
{
	struct pagewalk w = walker(PML4, 4);
	struct collected c = { .n = 0 };
	struct err e;
	(void)state;
	memset(mem, 0, sizeof(mem));
	for (unsigned i = 0; i < 512; i++) {
		set(PML4, i, PDPT | P);
		set(PDPT, i, PD | P);
		set(PD, i, PT | P);
		set(PT, i, 0x7000 | P);
	}
	assert_int_equal(pagewalk_each(&w, false, collect, &c, &e), -1);
	assert_non_null(strstr(e.msg, "more than 65536 tables"));
	assert_true(c.calls <= 512ul * PAGEWALK_MAX_TABLES);

	/* loops: PML4 -> itself and -> a PDPT that points back at the PML4 */
	memset(mem, 0, sizeof(mem));
	memset(&c, 0, sizeof(c));
	for (unsigned i = 0; i < 512; i++) {
		set(PML4, i, (i & 1 ? PDPT : PML4) | P);
		set(PDPT, i, (i & 1 ? PML4 : PDPT) | P);
	}
	set(PDPT, 10, 0x40000000ull | PS | P);
	assert_int_equal(pagewalk_each(&w, false, collect, &c, &e), 0);
	assert_int_equal(c.calls, 256); /* PDPT[10] under each odd PML4 entry */
	assert_int_equal(c.va[0], va_of(0, 1, 10, 0, 0, 4));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_levels),
		cmocka_unit_test_setup(test_four_level, setup),
		cmocka_unit_test_setup(test_five_level, setup),
		cmocka_unit_test_setup(test_reserved, setup),
		cmocka_unit_test_setup(test_beyond_buffer, setup),
		cmocka_unit_test_setup(test_loop, setup),
		cmocka_unit_test_setup(test_each, setup),
		cmocka_unit_test_setup(test_each_garbage, setup),
	};
	return cmocka_run_group_tests_name("pagewalk", tests, NULL, NULL);
}
