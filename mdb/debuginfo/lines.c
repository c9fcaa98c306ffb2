/* lines: source file:line for code addresses, from the symbol file's DWARF line tables
 * (libdwarf). With .debug_aranges, only the line table of the compile unit holding an
 * address is read, on first use (a 600 MB vmlinux has 2000 of them); without, every
 * unit's at once. Each table is kept sorted by address. */
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"

struct line {
	uint64_t addr;
	unsigned lineno;
	const char *file; /* base name, in the table's names */
	bool end;   /* end of a sequence: no line covers this address */
};

struct table {
	struct line *v;
	size_t n, cap;
	uint64_t cu; /* the unit's .debug_info offset (aranges mode) */
	char **names; /* the distinct file names its lines use, owned (a unit has few) */
	size_t nnames;
};

struct range {
	uint64_t lo, hi, cu;
};

struct lines {
	struct table all;     /* without aranges: every unit's lines */
	struct range *ranges; /* with: address ranges of the units, sorted */
	size_t nranges;
	struct table *units;  /* the units read so far */
	size_t nunits;
};

static int by_addr(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return (int)y->end - (int)x->end; /* an end marker first: the next sequence wins */
}

static int by_lo(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return (x->lo > y->lo) - (x->lo < y->lo);
}

static void add(struct table *l, uint64_t addr, unsigned no, const char *src, bool end)
{
	const char *base = strrchr(src, '/'), *name = base ? base + 1 : src, *kept = NULL;
	if (l->n && !strcmp(l->v[l->n - 1].file, name))
		kept = l->v[l->n - 1].file; /* mostly the previous line's */
	for (size_t i = l->nnames; !kept && i-- > 0;)
		if (!strcmp(l->names[i], name))
			kept = l->names[i];
	if (!kept) {
		char **nn = realloc(l->names, (l->nnames + 1) * sizeof(*nn));
		if (!nn)
			return;
		l->names = nn;
		kept = l->names[l->nnames++] = xstrdup(name);
	}
	if (l->n == l->cap) {
		struct line *nv = realloc(l->v, (l->cap = l->cap ? l->cap * 2 : 1024) * sizeof(*nv));
		if (!nv)
			return;
		l->v = nv;
	}
	l->v[l->n++] = (struct line){ addr, no, kept, end };
}

/* The line table of the unit whose DIE is cu, appended to l. */
static void add_unit(Dwarf_Debug dbg, Dwarf_Die cu, struct table *l)
{
	Dwarf_Unsigned version;
	Dwarf_Small count;
	Dwarf_Line_Context ctx;
	Dwarf_Line *lines;
	Dwarf_Signed n;
	if (dwarf_srclines_b(cu, &version, &count, &ctx, NULL) != DW_DLV_OK)
		return;
	if (dwarf_srclines_from_linecontext(ctx, &lines, &n, NULL) == DW_DLV_OK) {
		for (Dwarf_Signed i = 0; i < n; i++) {
			Dwarf_Addr a;
			Dwarf_Unsigned no;
			Dwarf_Bool end = 0;
			char *src = NULL;
			if (dwarf_lineaddr(lines[i], &a, NULL) != DW_DLV_OK || dwarf_lineno(lines[i], &no, NULL) != DW_DLV_OK ||
			    dwarf_linesrc(lines[i], &src, NULL) != DW_DLV_OK)
				continue;
			dwarf_lineendsequence(lines[i], &end, NULL);
			add(l, a, (unsigned)no, src, end);
			dwarf_dealloc(dbg, src, DW_DLA_STRING);
		}
	}
	dwarf_srclines_dealloc_b(ctx);
}

/* The units' address ranges from .debug_aranges; false when there are none. */
static bool load_ranges(Dwarf_Debug dbg, struct lines *l)
{
	Dwarf_Arange *ar;
	Dwarf_Signed n;
	if (dwarf_get_aranges(dbg, &ar, &n, NULL) != DW_DLV_OK || n <= 0)
		return false;
	l->ranges = xcalloc((size_t)n, sizeof(*l->ranges));
	for (Dwarf_Signed i = 0; i < n; i++) {
		Dwarf_Addr start;
		Dwarf_Unsigned len;
		Dwarf_Off cu;
		if (dwarf_get_arange_info_b(ar[i], NULL, NULL, &start, &len, &cu, NULL) == DW_DLV_OK && len)
			l->ranges[l->nranges++] = (struct range){ start, start + len, cu };
		dwarf_dealloc(dbg, ar[i], DW_DLA_ARANGE);
	}
	dwarf_dealloc(dbg, ar, DW_DLA_LIST);
	qsort(l->ranges, l->nranges, sizeof(*l->ranges), by_lo);
	return l->nranges > 0;
}

static struct lines *load(struct target *t)
{
	struct lines *l = xcalloc(1, sizeof(*l));
	Dwarf_Debug dbg = dwarf_debug_handle(t);
	Dwarf_Unsigned next = 0;
	if (!dbg || load_ranges(dbg, l))
		return l;
	while (dwarf_next_cu_header_d(dbg, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &next, NULL, NULL) == DW_DLV_OK) {
		Dwarf_Die cu = NULL;
		if (dwarf_siblingof_b(dbg, NULL, 1, &cu, NULL) != DW_DLV_OK)
			continue;
		add_unit(dbg, cu, &l->all);
		dwarf_dealloc_die(cu);
	}
	if (l->all.n)
		qsort(l->all.v, l->all.n, sizeof(*l->all.v), by_addr);
	return l;
}

/* The .debug_info offset of the unit whose aranges hold addr (a link address). */
static bool cu_of(const struct lines *l, uint64_t addr, uint64_t *off)
{
	size_t lo = 0, hi = l->nranges;
	while (lo < hi) { /* the last range starting at or below addr; ranges may nest, so look back a little */
		size_t mid = lo + (hi - lo) / 2;
		if (l->ranges[mid].lo <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0 && lo - i <= 16;)
		if (addr < l->ranges[i].hi) {
			*off = l->ranges[i].cu;
			return true;
		}
	return false;
}

/* The table holding addr: the whole one, or its unit's (read now if it was not yet). */
static struct table *table_for(struct target *t, struct lines *l, uint64_t addr)
{
	struct table *u;
	Dwarf_Die cu;
	uint64_t off;
	if (!l->ranges)
		return &l->all;
	if (!cu_of(l, addr, &off))
		return NULL;
	for (size_t i = 0; i < l->nunits; i++)
		if (l->units[i].cu == off)
			return &l->units[i];
	u = realloc(l->units, (l->nunits + 1) * sizeof(*u));
	if (!u)
		return NULL;
	l->units = u;
	u = &l->units[l->nunits++];
	memset(u, 0, sizeof(*u));
	u->cu = off;
	if (dwarf_offdie_b(dwarf_debug_handle(t), off, 1, &cu, NULL) == DW_DLV_OK) {
		add_unit(dwarf_debug_handle(t), cu, u);
		dwarf_dealloc_die(cu);
	}
	if (u->n)
		qsort(u->v, u->n, sizeof(*u->v), by_addr);
	return u;
}

bool target_addr_cu(struct target *t, uint64_t addr, uint64_t *cu)
{
	if (!t->symfile)
		return false;
	if (!t->lines)
		t->lines = load(t);
	return ((struct lines *)t->lines)->ranges && cu_of(t->lines, target_link_addr(t, addr), cu);
}

bool target_addr_line(struct target *t, uint64_t addr, char *buf, size_t len)
{
	struct table *l;
	size_t lo = 0, hi;
	if (!t->symfile)
		return false;
	if (!t->lines)
		t->lines = load(t);
	addr = target_link_addr(t, addr);
	l = table_for(t, t->lines, addr);
	if (!l)
		return false;
	hi = l->n;
	if (!hi || addr < l->v[0].addr)
		return false;
	while (hi - lo > 1) {
		size_t mid = (lo + hi) / 2;
		if (l->v[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	if (l->v[lo].end)
		return false;
	snprintf(buf, len, "%s:%u", l->v[lo].file, l->v[lo].lineno);
	return true;
}

void target_json_file_line(FILE *out, const char *fl)
{
	const char *colon = fl ? strrchr(fl, ':') : NULL;
	if (!colon) {
		fputs(", \"file\": null, \"line\": null", out);
		return;
	}
	fputs(", \"file\": ", out);
	json_write_strn(out, fl, (size_t)(colon - fl));
	fprintf(out, ", \"line\": %ld", strtol(colon + 1, NULL, 10));
}

static void table_free(struct table *l)
{
	for (size_t i = 0; i < l->nnames; i++)
		free(l->names[i]);
	free(l->names);
	free(l->v);
}

void target_lines_free(struct target *t)
{
	struct lines *l = t->lines;
	if (!l)
		return;
	table_free(&l->all);
	for (size_t i = 0; i < l->nunits; i++)
		table_free(&l->units[i]);
	free(l->units);
	free(l->ranges);
	free(l);
	t->lines = NULL;
}
