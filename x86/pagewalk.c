/* pagewalk: the x86-64 page walk (4-level, and 5-level under CR4.LA57) over a reader of
 * guest-physical memory: translating one address, and enumerating what a table maps.
 * The one walker of hv (live reads), analyze (dump reads) and dump (kernel aliases). */
#include <inttypes.h>

#include "x86.h"

#define PTE_P 0x1ull
#define PTE_PS 0x80ull
#define PTE_ADDR 0x000ffffffffff000ull
#define CR0_PG 0x80000000ull
#define CR4_LA57 0x1000ull
#define EFER_LMA 0x400ull
#define MAX_LEVELS 5

static const char *const level_name[MAX_LEVELS + 1] = { "", "PT", "PD", "PDPT", "PML4", "PML5" };

int pagewalk_levels(uint64_t cr0, uint64_t cr4, uint64_t efer)
{
	if (!(cr0 & CR0_PG))
		return 0;
	if (!(efer & EFER_LMA))
		return -1; /* 32-bit or PAE paging */
	return cr4 & CR4_LA57 ? 5 : 4;
}

static int shift_of(int level)
{
	return 12 + 9 * (level - 1);
}

static bool top_ok(const struct pagewalk *w)
{
	return w->read && (w->levels == 4 || w->levels == 5);
}

static uint64_t sign_extend(uint64_t va, int levels)
{
	int bits = shift_of(levels + 1); /* 48 or 57 */
	return va & (1ull << (bits - 1)) ? va | ~((1ull << bits) - 1) : va & ((1ull << bits) - 1);
}

bool pagewalk_canonical(uint64_t va, int levels)
{
	return sign_extend(va, levels) == va;
}

/* 0: a page of 1 << shift_of(level) bytes; 1: the next table; -1: reserved bits set
 * (PS in a PML4 or PML5 entry, the low frame bits of a large page). */
static int classify(uint64_t e, int level)
{
	if (level == 1)
		return 0;
	if (!(e & PTE_PS))
		return 1;
	if (level > 3)
		return -1;
	/* bit 12 of a large page is PAT; the rest below the page size must be clear */
	if (e & PTE_ADDR & ((1ull << shift_of(level)) - 1) & ~0x1000ull)
		return -1;
	return 0;
}

int pagewalk_translate(const struct pagewalk *w, uint64_t va, uint64_t *pa, uint64_t *page_size, struct err *e)
{
	uint64_t table, ent = 0;
	if (!top_ok(w))
		return err_set(e, "page walk: %d-level paging is not walked", w->levels);
	if (!pagewalk_canonical(va, w->levels))
		return err_set(e, "0x%" PRIx64 ": not canonical under %d-level paging", va, w->levels);
	table = w->top & PTE_ADDR;
	for (int level = w->levels; level >= 1; level--) {
		int shift = shift_of(level), kind;
		uint64_t at = table + ((va >> shift) & 511) * 8;
		if (w->read(w->opaque, at, &ent, sizeof(ent)) < 0)
			return err_set(e, "0x%" PRIx64 ": cannot read the %s entry at physical 0x%" PRIx64, va,
				       level_name[level], at);
		if (!(ent & PTE_P))
			return err_set(e, "0x%" PRIx64 ": not mapped (%s entry 0x%" PRIx64 " not present)", va,
				       level_name[level], ent);
		kind = classify(ent, level);
		if (kind < 0)
			return err_set(e, "0x%" PRIx64 ": %s entry 0x%" PRIx64 " has reserved bits set", va, level_name[level],
				       ent);
		if (kind == 0) {
			uint64_t size = 1ull << shift;
			*pa = (ent & PTE_ADDR & ~(size - 1)) | (va & (size - 1));
			*page_size = size;
			return 0;
		}
		table = ent & PTE_ADDR;
	}
	return err_set(e, "0x%" PRIx64 ": page walk ended without a page", va); /* not reached */
}

struct each {
	const struct pagewalk *w;
	pagewalk_map_fn fn;
	void *opaque;
	uint64_t path[MAX_LEVELS + 1]; /* the tables above, by level: a table met again is a loop */
	unsigned budget;               /* tables still to read */
	int stop;                      /* fn's non-zero answer */
};

static int each_table(struct each *c, uint64_t table, int level, uint64_t va_base, unsigned from)
{
	uint64_t ents[512];
	int shift = shift_of(level);
	for (int l = level + 1; l <= c->w->levels; l++)
		if (c->path[l] == table)
			return 0; /* an entry pointing back up (a loop, or a recursive self-map): skipped */
	if (!c->budget)
		return -1;
	c->budget--;
	if (c->w->read(c->w->opaque, table, ents, sizeof(ents)) < 0)
		return level == c->w->levels ? -1 : 0; /* an unreadable lower table maps nothing */
	c->path[level] = table;
	for (unsigned i = from; i < 512 && !c->stop; i++) {
		uint64_t ent = ents[i], va = va_base | ((uint64_t)i << shift);
		int kind = (ent & PTE_P) ? classify(ent, level) : -1;
		if (kind == 0)
			c->stop = c->fn(c->opaque, sign_extend(va, c->w->levels), ent & PTE_ADDR & ~((1ull << shift) - 1),
					1ull << shift);
		else if (kind == 1 && each_table(c, ent & PTE_ADDR, level - 1, va, 0) < 0)
			return -1;
	}
	c->path[level] = ~0ull;
	return 0;
}

int pagewalk_each(const struct pagewalk *w, bool upper_half, pagewalk_map_fn fn, void *opaque, struct err *e)
{
	struct each c = { .w = w, .fn = fn, .opaque = opaque, .budget = PAGEWALK_MAX_TABLES };
	if (!top_ok(w))
		return err_set(e, "page walk: %d-level paging is not walked", w->levels);
	for (int l = 0; l <= MAX_LEVELS; l++)
		c.path[l] = ~0ull;
	if (each_table(&c, w->top & PTE_ADDR, w->levels, 0, upper_half ? 256 : 0) < 0)
		return c.budget ? err_set(e, "cannot read the %s at physical 0x%" PRIx64, level_name[w->levels],
					  (uint64_t)(w->top & PTE_ADDR))
				: err_set(e, "page tables: more than %u tables (a loop or garbage)", PAGEWALK_MAX_TABLES);
	return c.stop ? 1 : 0;
}
