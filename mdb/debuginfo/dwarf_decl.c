/* dwarf_decl: C declarations of DWARF types, as gdb's ptype and crash's whatis write them:
 * "struct list_head *next", "char comm[16]", "void (*function)(struct timer_list *)"; and
 * crash's whatis: a struct, union, enum or typedef with its members (-o: with their offsets),
 * a global variable's or function's declaration. */
#include <stdlib.h>
#include <string.h>

#include "dwarf_priv.h"

#define DECL_LEN 512

static void decl(struct dw *d, Dwarf_Die ty, const char *inner, char *buf, size_t len, int depth);

/* The parameters of a subprogram or subroutine type: "int, char *", "void", "int, ...". */
static void params(struct dw *d, Dwarf_Die fn, char *buf, size_t len, int depth)
{
	Dwarf_Die c = NULL;
	Dwarf_Bool proto = 0;
	Dwarf_Attribute a;
	size_t n = 0;
	buf[0] = 0;
	if (dwarf_child(fn, &c, NULL) != DW_DLV_OK)
		c = NULL;
	for (int i = 0; c && i < 64; i++) {
		Dwarf_Half tag = dw_tag(c);
		char p[DECL_LEN];
		if (tag == DW_TAG_formal_parameter || tag == DW_TAG_unspecified_parameters) {
			if (tag == DW_TAG_formal_parameter) {
				Dwarf_Die pt = dw_type_of(d, c);
				decl(d, pt, "", p, sizeof(p), depth + 1);
				if (pt)
					dwarf_dealloc_die(pt);
			} else {
				snprintf(p, sizeof(p), "...");
			}
			n += (size_t)snprintf(buf + n, n < len ? len - n : 0, "%s%s", n ? ", " : "", p);
			if (n >= len)
				n = len - 1;
		}
		c = dw_next(d, c);
	}
	if (c)
		dwarf_dealloc_die(c);
	if (!n && dwarf_attr(fn, DW_AT_prototyped, &a, NULL) == DW_DLV_OK) {
		dwarf_formflag(a, &proto, NULL);
		dwarf_dealloc_attribute(a);
		if (proto)
			snprintf(buf, len, "void");
	}
}

/* The name a type is written with when it has one: "int", "struct thread", "cpumask_t";
 * an anonymous struct, union or enum is "struct {...}". false for the other kinds. */
static bool named(Dwarf_Die ty, char *buf, size_t len)
{
	Dwarf_Half tag = dw_tag(ty);
	char *name = NULL;
	bool has = dwarf_diename(ty, &name, NULL) == DW_DLV_OK;
	switch (tag) {
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
	case DW_TAG_enumeration_type:
		snprintf(buf, len, "%s %s", tag == DW_TAG_structure_type ? "struct" : tag == DW_TAG_union_type ? "union" : "enum",
			 has ? name : "{...}");
		return true;
	case DW_TAG_base_type: { /* DWARF's "long unsigned int" as gdb writes it: "unsigned long" */
		static const char *const c[][2] = {
			{ "long unsigned int", "unsigned long" }, { "long int", "long" },
			{ "long long unsigned int", "unsigned long long" }, { "long long int", "long long" },
			{ "short unsigned int", "unsigned short" }, { "short int", "short" },
		};
		for (size_t i = 0; has && i < sizeof(c) / sizeof(c[0]); i++)
			if (!strcmp(name, c[i][0]))
				name = (char *)c[i][1];
		snprintf(buf, len, "%s", has ? name : "?");
		return true;
	}
	case DW_TAG_typedef:
		snprintf(buf, len, "%s", has ? name : "?");
		return true;
	default:
		return false;
	}
}

static void decl(struct dw *d, Dwarf_Die ty, const char *inner, char *buf, size_t len, int depth)
{
	char base[DECL_LEN], in2[DECL_LEN], ps[DECL_LEN];
	Dwarf_Half tag;
	Dwarf_Die u;
	if (depth > 12) {
		snprintf(buf, len, "...");
		return;
	}
	if (!ty || named(ty, base, sizeof(base))) {
		if (!ty)
			snprintf(base, sizeof(base), "void");
		snprintf(buf, len, "%s%s%s", base, *inner ? " " : "", inner);
		return;
	}
	tag = dw_tag(ty);
	u = dw_type_of(d, ty);
	switch (tag) {
	case DW_TAG_pointer_type:
		snprintf(in2, sizeof(in2), "*%s", inner);
		decl(d, u, in2, buf, len, depth + 1);
		break;
	case DW_TAG_const_type:
	case DW_TAG_volatile_type: {
		const char *q = tag == DW_TAG_const_type ? "const" : "volatile";
		if (u && dw_tag(u) == DW_TAG_array_type) { /* const on an array: its elements' (they say so) */
			decl(d, u, inner, buf, len, depth + 1);
		} else if (u && dw_tag(u) == DW_TAG_pointer_type) { /* char *const p */
			snprintf(in2, sizeof(in2), "%s%s%s", q, *inner ? " " : "", inner);
			decl(d, u, in2, buf, len, depth + 1);
		} else {
			decl(d, u, inner, in2, sizeof(in2), depth + 1);
			snprintf(buf, len, "%s %s", q, in2);
		}
		break;
	}
	case DW_TAG_array_type: {
		Dwarf_Die c = NULL;
		size_t n = (size_t)snprintf(in2, sizeof(in2), *inner == '*' ? "(%s)" : "%s", inner);
		if (dwarf_child(ty, &c, NULL) != DW_DLV_OK)
			c = NULL;
		for (int i = 0; c && i < 8; i++) { /* each dimension */
			Dwarf_Unsigned hi, cnt;
			if (dw_tag(c) == DW_TAG_subrange_type && n < sizeof(in2)) {
				if (dw_udata(c, DW_AT_count, &cnt) == 0)
					n += (size_t)snprintf(in2 + n, sizeof(in2) - n, "[%llu]", (unsigned long long)cnt);
				else if (dw_udata(c, DW_AT_upper_bound, &hi) == 0)
					n += (size_t)snprintf(in2 + n, sizeof(in2) - n, "[%llu]", (unsigned long long)hi + 1);
				else
					n += (size_t)snprintf(in2 + n, sizeof(in2) - n, "[]");
			}
			c = dw_next(d, c);
		}
		if (c)
			dwarf_dealloc_die(c);
		decl(d, u, in2, buf, len, depth + 1);
		break;
	}
	case DW_TAG_subroutine_type:
	case DW_TAG_subprogram:
		params(d, ty, ps, sizeof(ps), depth);
		snprintf(in2, sizeof(in2), *inner == '*' ? "(%s)(%s)" : "%s(%s)", inner, ps);
		decl(d, u, in2, buf, len, depth + 1);
		break;
	default:
		snprintf(buf, len, "?%s%s", *inner ? " " : "", inner);
	}
	if (u)
		dwarf_dealloc_die(u);
}

void dw_decl(struct dw *d, Dwarf_Die ty, unsigned ptrs, const char *name, char *buf, size_t len)
{
	char inner[DECL_LEN];
	unsigned i;
	for (i = 0; i < ptrs && i < 16; i++)
		inner[i] = '*';
	snprintf(inner + i, sizeof(inner) - i, "%s", name);
	decl(d, ty, inner, buf, len, 0);
}

void dw_type_name(struct dw *d, Dwarf_Die ty, char *buf, size_t len)
{
	dw_decl(d, ty, 0, "", buf, len);
}

/* ---- crash's whatis */

static bool anonymous_aggregate(Dwarf_Die ty)
{
	char *name = NULL;
	Dwarf_Half tag = ty ? dw_tag(ty) : 0;
	return (tag == DW_TAG_structure_type || tag == DW_TAG_union_type) && dwarf_diename(ty, &name, NULL) != DW_DLV_OK;
}

struct whatis {
	struct dw *d;
	bool offsets;
	int width; /* of the "[offset]" column, with its 2 leading spaces */
	FILE *out;
};

/* A line's start: the offset column (-o) and the indent of the nesting level. */
static void line_start(const struct whatis *w, int level, bool with_off, uint64_t off)
{
	char col[32] = "";
	if (w->offsets) {
		if (with_off)
			snprintf(col, sizeof(col), "[%llu]", (unsigned long long)off);
		fprintf(w->out, "%*s ", w->width, col);
		level--;
	}
	fprintf(w->out, "%*s", 4 * level, "");
}

static void members(const struct whatis *w, Dwarf_Die ty, uint64_t base, int level)
{
	Dwarf_Die m = NULL;
	int n = 0;
	if (level > 8 || dwarf_child(ty, &m, NULL) != DW_DLV_OK)
		m = NULL;
	while (m) {
		Dwarf_Die mt;
		Dwarf_Unsigned off = 0;
		uint64_t boff;
		unsigned bo, bits;
		char *name = NULL, line[DECL_LEN];
		bool bitfield;
		if (dw_tag(m) == DW_TAG_member) {
			n++;
			bitfield = dw_bitfield(m, &boff, &bo, &bits);
			if (bitfield)
				off = boff;
			else
				dw_udata(m, DW_AT_data_member_location, &off);
			if (dwarf_diename(m, &name, NULL) != DW_DLV_OK)
				name = NULL;
			mt = dw_type_of(w->d, m);
			if (anonymous_aggregate(mt)) {
				line_start(w, level, false, 0);
				fprintf(w->out, "%s {\n", dw_tag(mt) == DW_TAG_structure_type ? "struct" : "union");
				members(w, mt, base + off, level + 1);
				line_start(w, level, false, 0);
				fprintf(w->out, "}%s%s;\n", name ? " " : "", name ? name : "");
			} else {
				dw_decl(w->d, mt, 0, name ? name : "", line, sizeof(line));
				line_start(w, level, true, base + off);
				fprintf(w->out, "%s", line);
				if (bitfield)
					fprintf(w->out, " : %u", bits);
				fputs(";\n", w->out);
			}
			if (mt)
				dwarf_dealloc_die(mt);
		}
		m = dw_next(w->d, m);
	}
	if (!n) {
		line_start(w, level, false, 0);
		fputs("<no data fields>\n", w->out);
	}
}

static void enumerators(struct dw *d, Dwarf_Die ty, FILE *out)
{
	Dwarf_Die e = NULL;
	if (dwarf_child(ty, &e, NULL) != DW_DLV_OK)
		e = NULL;
	while (e) {
		Dwarf_Unsigned v = 0;
		Dwarf_Signed sv = 0;
		Dwarf_Attribute a;
		char *name = NULL;
		if (dw_tag(e) == DW_TAG_enumerator && dwarf_diename(e, &name, NULL) == DW_DLV_OK &&
		    dwarf_attr(e, DW_AT_const_value, &a, NULL) == DW_DLV_OK) {
			if (dwarf_formsdata(a, &sv, NULL) == DW_DLV_OK)
				fprintf(out, "  %s = %lld\n", name, (long long)sv);
			else if (dwarf_formudata(a, &v, NULL) == DW_DLV_OK)
				fprintf(out, "  %s = %llu\n", name, (unsigned long long)v);
			dwarf_dealloc_attribute(a);
		}
		e = dw_next(d, e);
	}
}

/* A struct, union or enum's definition (typedef: the name it gets), as crash's whatis. */
static void definition(struct dw *d, Dwarf_Die ty, const char *tdname, bool offsets, FILE *out)
{
	Dwarf_Half tag = dw_tag(ty);
	char head[DECL_LEN];
	struct whatis w = { d, offsets, 0, out };
	named(ty, head, sizeof(head));
	if (!strcmp(head + strcspn(head, " "), " {...}"))
		head[strcspn(head, " ")] = 0; /* an anonymous one: "struct {" */
	fprintf(out, "%s%s {\n", tdname ? "typedef " : "", head);
	if (tag == DW_TAG_enumeration_type) {
		enumerators(d, ty, out);
		fprintf(out, "}%s%s;\n", tdname ? " " : "", tdname ? tdname : "");
		return;
	}
	if (offsets) /* crash's column: "[offset]" as wide as the size's digits allow */
		w.width = 2 + snprintf(head, sizeof(head), "[%llu]", (unsigned long long)dw_type_size(d, ty));
	members(&w, ty, 0, 1);
	fprintf(out, "}%s%s%s\n", tdname ? " " : "", tdname ? tdname : "", tdname ? ";" : "");
	fprintf(out, "SIZE: %llu\n", (unsigned long long)dw_type_size(d, ty));
}

/* The word after "struct", "union", "enum", or a bare word: the type it names (crash's
 * order for a bare word: struct, union, typedef or base type, enum). */
static Dwarf_Die whatis_type(struct target *t, struct dw *d, const char *spec, enum type_kind *kind)
{
	static const struct {
		const char *word;
		enum type_kind kind;
	} kinds[] = { { "struct", TYPE_STRUCT }, { "union", TYPE_UNION }, { "enum", TYPE_ENUM } };
	static const enum type_kind order[] = { TYPE_STRUCT, TYPE_UNION, TYPE_OTHER, TYPE_ENUM };
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		size_t n = strlen(kinds[i].word);
		if (!strncmp(spec, kinds[i].word, n) && (spec[n] == ' ' || spec[n] == '\t')) {
			*kind = kinds[i].kind;
			return dw_find_type(t, d, kinds[i].kind, spec + n + strspn(spec + n, " \t"));
		}
	}
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		Dwarf_Die ty = dw_find_type(t, d, order[i], spec);
		if (ty) {
			*kind = order[i];
			return ty;
		}
	}
	return NULL;
}

/* whatis of a type: its definition, or a typedef's ("typedef unsigned long long u64;"). */
static void whatis_type_print(struct dw *d, Dwarf_Die ty, bool offsets, FILE *out)
{
	Dwarf_Half tag = dw_tag(ty);
	char *name = NULL, line[DECL_LEN];
	if (tag != DW_TAG_typedef && tag != DW_TAG_base_type) {
		definition(d, ty, NULL, offsets, out);
		return;
	}
	dwarf_diename(ty, &name, NULL);
	if (tag == DW_TAG_base_type) {
		fprintf(out, "%s\nSIZE: %llu\n", name ? name : "?", (unsigned long long)dw_type_size(d, ty));
		return;
	}
	{ /* through the typedefs to what this one names, as crash */
		Dwarf_Die u = dw_type_of(d, ty);
		for (int i = 0; u && dw_tag(u) == DW_TAG_typedef && i < 16; i++) {
			Dwarf_Die v = dw_type_of(d, u);
			dwarf_dealloc_die(u);
			u = v;
		}
		if (u && (dw_tag(u) == DW_TAG_structure_type || dw_tag(u) == DW_TAG_union_type ||
			  dw_tag(u) == DW_TAG_enumeration_type)) {
			definition(d, u, name, offsets, out);
		} else {
			dw_decl(d, u, 0, name ? name : "", line, sizeof(line));
			fprintf(out, "typedef %s;\nSIZE: %llu\n", line, (unsigned long long)dw_type_size(d, ty));
		}
		if (u)
			dwarf_dealloc_die(u);
	}
}

/* whatis of a global: "unsigned int nr_cpu_ids;", "void schedule(void);" */
static int whatis_global(struct target *t, struct dw *d, const char *name, FILE *out)
{
	uint64_t off;
	bool func;
	Dwarf_Die g = NULL, ty;
	char line[DECL_LEN], inner[2 * DECL_LEN + 8], ps[DECL_LEN];
	if (dw_global(t, name, &off, &func) != 1 || dwarf_offdie_b(d->dbg, off, 1, &g, NULL) != DW_DLV_OK)
		return -1;
	ty = dw_type_of(d, g);
	if (func) {
		params(d, g, ps, sizeof(ps), 0);
		snprintf(inner, sizeof(inner), "%s(%s)", name, ps);
		decl(d, ty, inner, line, sizeof(line), 0);
	} else {
		dw_decl(d, ty, 0, name, line, sizeof(line));
	}
	fprintf(out, "%s;\n", line);
	if (ty)
		dwarf_dealloc_die(ty);
	dwarf_dealloc_die(g);
	return 0;
}

int dwarf_cmd_whatis(struct target *t, const char *args, const struct dwarf_mem *m, FILE *out)
{
	struct dw *d = dw_get(t, out);
	bool offsets = false;
	enum type_kind kind = TYPE_OTHER;
	char spec[200];
	Dwarf_Die ty;
	size_t n;
	if (!d)
		return -1;
	args += strspn(args, " \t");
	if (!strncmp(args, "-o", 2) && (!args[2] || args[2] == ' ' || args[2] == '\t')) {
		offsets = true;
		args += 2 + strspn(args + 2, " \t");
	}
	snprintf(spec, sizeof(spec), "%s", args);
	for (n = strlen(spec); n && (spec[n - 1] == ' ' || spec[n - 1] == '\t');)
		spec[--n] = 0;
	if (!spec[0] || spec[0] == '-')
		return fprintf(out, "mdb: whatis [-o] struct|union|enum NAME | TYPEDEF | SYMBOL%s%s\n",
			       spec[0] ? ", not " : "", spec), -1;
	dwarf_names_wanted(t);
	if ((ty = whatis_type(t, d, spec, &kind)) != NULL) {
		whatis_type_print(d, ty, offsets, out);
		dwarf_dealloc_die(ty);
		return 0;
	}
	if (!strchr(spec, ' ') && whatis_global(t, d, spec, out) == 0)
		return 0;
	if (strpbrk(spec, ".[]-*&()")) { /* an expression: its type, as crash prints it */
		char tn[DECL_LEN];
		struct err e;
		if (dw_expr_type(t, d, spec, m, tn, sizeof(tn), &e) < 0)
			return fprintf(out, "mdb: whatis: %s\n", e.msg), -1;
		fprintf(out, "%s\n", tn);
		return 0;
	}
	fprintf(out, "mdb: whatis: no type or symbol '%s' in the symbol file's DWARF\n", spec);
	return -1;
}
