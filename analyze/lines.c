/* lines: source file:line for code addresses, from the symbol file's DWARF line tables
 * (libdwarf), loaded once on first use and kept sorted by address. */
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

struct line {
	uint64_t addr;
	unsigned lineno;
	char *file; /* base name, owned */
	bool end;   /* end of a sequence: no line covers this address */
};

struct lines {
	struct line *v;
	size_t n;
};

static int by_addr(const void *a, const void *b)
{
	const struct line *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return (int)y->end - (int)x->end; /* an end marker first: the next sequence wins */
}

static void add(struct lines *l, size_t *cap, uint64_t addr, unsigned no, const char *src, bool end)
{
	const char *base = strrchr(src, '/');
	if (l->n == *cap) {
		struct line *nv = realloc(l->v, (*cap = *cap ? *cap * 2 : 1024) * sizeof(*nv));
		if (!nv)
			return;
		l->v = nv;
	}
	l->v[l->n++] = (struct line){ addr, no, xstrdup(base ? base + 1 : src), end };
}

static struct lines *load(struct target *t)
{
	struct lines *l = xcalloc(1, sizeof(*l));
	Dwarf_Debug dbg = dwarf_debug_handle(t);
	Dwarf_Unsigned next = 0;
	size_t cap = 0;
	if (!dbg)
		return l;
	while (dwarf_next_cu_header_d(dbg, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &next, NULL, NULL) == DW_DLV_OK) {
		Dwarf_Die cu = NULL;
		Dwarf_Unsigned version;
		Dwarf_Small count;
		Dwarf_Line_Context ctx;
		Dwarf_Line *lines;
		Dwarf_Signed n;
		if (dwarf_siblingof_b(dbg, NULL, 1, &cu, NULL) != DW_DLV_OK)
			continue;
		if (dwarf_srclines_b(cu, &version, &count, &ctx, NULL) == DW_DLV_OK) {
			if (dwarf_srclines_from_linecontext(ctx, &lines, &n, NULL) == DW_DLV_OK) {
				for (Dwarf_Signed i = 0; i < n; i++) {
					Dwarf_Addr a;
					Dwarf_Unsigned no;
					Dwarf_Bool end = 0;
					char *src = NULL;
					if (dwarf_lineaddr(lines[i], &a, NULL) != DW_DLV_OK ||
					    dwarf_lineno(lines[i], &no, NULL) != DW_DLV_OK ||
					    dwarf_linesrc(lines[i], &src, NULL) != DW_DLV_OK)
						continue;
					dwarf_lineendsequence(lines[i], &end, NULL);
					add(l, &cap, a, (unsigned)no, src, end);
					dwarf_dealloc(dbg, src, DW_DLA_STRING);
				}
			}
			dwarf_srclines_dealloc_b(ctx);
		}
		dwarf_dealloc_die(cu);
	}
	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), by_addr);
	return l;
}

bool target_addr_line(struct target *t, uint64_t addr, char *buf, size_t len)
{
	struct lines *l;
	size_t lo = 0, hi;
	if (!t->symfile)
		return false;
	if (!t->lines)
		t->lines = load(t);
	l = t->lines;
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

void target_lines_free(struct target *t)
{
	struct lines *l = t->lines;
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].file);
	free(l->v);
	free(l);
	t->lines = NULL;
}
