/* dwarf_value: a value of a DWARF type printed as gdb prints it with crash's settings
 * (pretty structs, no element limit, no repeats): what crash's p shows. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dwarf_priv.h"

#define MAX_ELEMENTS 100000 /* an array's elements printed (then "...") */
#define MAX_STRING 4096     /* a char pointer's string read */

static void put_escaped(int c, char quote, FILE *out)
{
	static const char from[] = "\a\b\f\n\r\t\v", to[] = "abfnrtv";
	const char *e = c ? strchr(from, c) : NULL;
	if (e)
		fprintf(out, "\\%c", to[e - from]);
	else if (c == '\\' || c == quote)
		fprintf(out, "\\%c", c);
	else if (c >= 0x20 && c < 0x7f)
		fputc(c, out);
	else
		fprintf(out, "\\%03o", c & 0xff);
}

/* A one-byte character type (char, signed or unsigned char, their typedefs: u8, int8_t). */
bool dw_gdb_char(struct dw *d, Dwarf_Die ty)
{
	Dwarf_Die s;
	Dwarf_Unsigned enc = 0;
	bool r;
	Dwarf_Half tag = ty ? dw_tag(ty) : 0;
	if (tag != DW_TAG_base_type && tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type)
		return false;
	s = tag == DW_TAG_base_type ? NULL : dw_strip(d, dw_type_of(d, ty)); /* bounded: a typedef loop ends */
	if (s && dw_tag(s) != DW_TAG_base_type) {
		dwarf_dealloc_die(s);
		return false;
	}
	dw_udata(s ? s : ty, DW_AT_encoding, &enc);
	r = dw_type_size(d, s ? s : ty) == 1 && (enc == DW_ATE_signed_char || enc == DW_ATE_unsigned_char);
	if (s)
		dwarf_dealloc_die(s);
	return r;
}

static void indent(int level, FILE *out)
{
	fprintf(out, "%*s", 2 * level, "");
}

/* An integer, enum or bool of type ty (stripped) whose bytes are v (sz bytes). */
static void scalar(const struct dw_gdb *g, Dwarf_Die ty, uint64_t v, uint64_t sz, FILE *out)
{
	Dwarf_Unsigned enc = 0;
	bool sign;
	int64_t s;
	if (sz < 8)
		v &= (1ull << (8 * sz)) - 1;
	if (dw_tag(ty) == DW_TAG_enumeration_type) {
		Dwarf_Die e = NULL;
		const char *found = NULL;
		if (!g->hex && dwarf_child(ty, &e, NULL) == DW_DLV_OK) {
			while (e) {
				Dwarf_Unsigned ev;
				char *en = NULL;
				if (!found && dw_udata(e, DW_AT_const_value, &ev) == 0 &&
				    (sz < 8 ? ev & ((1ull << (8 * sz)) - 1) : ev) == v && dwarf_diename(e, &en, NULL) == DW_DLV_OK)
					found = en;
				e = dw_next(g->d, e);
			}
		}
		if (found)
			fputs(found, out);
		else
			fprintf(out, g->hex ? "0x%llx" : "%llu", (unsigned long long)v);
		return;
	}
	dw_udata(ty, DW_AT_encoding, &enc);
	sign = enc == DW_ATE_signed || enc == DW_ATE_signed_char;
	s = sz && sz < 8 && sign && (v >> (8 * sz - 1)) & 1 ? (int64_t)(v | ~0ull << (8 * sz)) : (int64_t)v;
	if (g->hex || (g->radix16 && enc != DW_ATE_boolean))
		fprintf(out, "0x%llx", (unsigned long long)v);
	else if (enc == DW_ATE_boolean)
		fputs(v ? "true" : "false", out);
	else if (sz == 1 && !g->numbers && (enc == DW_ATE_signed_char || enc == DW_ATE_unsigned_char)) {
		fprintf(out, "%lld '", (long long)(sign ? s : (int64_t)v));
		put_escaped((int)(v & 0xff), '\'', out);
		fputc('\'', out);
	} else if (enc == DW_ATE_float && (sz == 4 || sz == 8)) {
		if (sz == 4) {
			float f;
			uint32_t w = (uint32_t)v;
			memcpy(&f, &w, 4);
			fprintf(out, "%g", f);
		} else {
			double f;
			memcpy(&f, &v, 8);
			fprintf(out, "%g", f);
		}
	} else if (sign)
		fprintf(out, "%lld", (long long)s);
	else
		fprintf(out, "%llu", (unsigned long long)v);
}

void dw_gdb_pointer(const struct dw_gdb *g, Dwarf_Die target_ty, uint64_t v, FILE *out)
{
	char name[128];
	uint64_t off;
	fprintf(out, "0x%llx", (unsigned long long)v);
	if (g->hex || !v || !g->d->mem)
		return;
	if (g->d->mem->symoff && g->d->mem->symoff(g->d->mem->arg, v, name, sizeof(name), &off)) {
		if (off)
			fprintf(out, " <%s+%llu>", name, (unsigned long long)off);
		else
			fprintf(out, " <%s>", name);
	}
	if (dw_gdb_char(g->d, target_ty)) { /* its string, as gdb: up to the NUL */
		char s[256];
		size_t done = 0;
		fputs(" \"", out);
		while (done < MAX_STRING) {
			size_t n = g->d->mem->read(g->d->mem->arg, v + done, s, sizeof(s)), k;
			for (k = 0; k < n && s[k]; k++)
				put_escaped((unsigned char)s[k], '"', out);
			done += k;
			if (k < n)
				break;
			if (n < sizeof(s)) {
				fprintf(out, "\" <error: Cannot access memory at address 0x%llx>", (unsigned long long)(v + done));
				return;
			}
		}
		fputc('"', out);
	}
}

static void gdb_struct(const struct dw_gdb *g, Dwarf_Die ty, const uint8_t *p, size_t avail, int level, FILE *out)
{
	Dwarf_Die m = NULL;
	int n = 0;
	if (dwarf_child(ty, &m, NULL) != DW_DLV_OK)
		m = NULL;
	while (m) {
		Dwarf_Die mt;
		Dwarf_Unsigned off = 0;
		uint64_t boff;
		unsigned bitoff, bits;
		char *name = NULL;
		if (dw_tag(m) == DW_TAG_member) {
			fputs(n++ ? ",\n" : "{\n", out);
			indent(level + 1, out);
			if (dwarf_diename(m, &name, NULL) == DW_DLV_OK)
				fprintf(out, "%s = ", name);
			mt = dw_type_of(g->d, m);
			if (dw_bitfield(m, &boff, &bitoff, &bits))
				dw_gdb_bits(g, mt, boff <= avail ? p + boff : p, boff <= avail ? avail - boff : 0, bitoff, bits, out);
			else if (mt && dw_udata(m, DW_AT_data_member_location, &off) == 0 && off <= avail)
				dw_gdb_value(g, mt, p + off, avail - off, level + 1, out);
			else if (mt && dw_tag(ty) == DW_TAG_union_type)
				dw_gdb_value(g, mt, p, avail, level + 1, out);
			else
				fputs("<unavailable>", out);
			if (mt)
				dwarf_dealloc_die(mt);
		}
		m = dw_next(g->d, m);
	}
	if (!n) {
		fputs("{<No data fields>}", out);
		return;
	}
	fputc('\n', out);
	indent(level, out);
	fputc('}', out);
}

static void gdb_array(const struct dw_gdb *g, Dwarf_Die ty, const uint8_t *p, size_t avail, int level, FILE *out)
{
	Dwarf_Die el = dw_type_of(g->d, ty);
	uint64_t sz = dw_type_size(g->d, ty), es = el ? dw_type_size(g->d, el) : 0, n = es ? sz / es : 0;
	if (n * es > avail)
		n = es ? avail / es : 0;
	if (!sz && g->p0 && p >= g->p0) { /* a flexible array member: gdb shows where it is */
		dw_gdb_pointer(g, el, g->addr + (uint64_t)(p - g->p0), out);
		if (el)
			dwarf_dealloc_die(el);
		return;
	}
	if (el && !g->hex && dw_gdb_char(g->d, el)) {
		if (n && !p[n - 1]) /* gdb leaves out the last NUL */
			n--;
		fputc('"', out);
		for (uint64_t i = 0; i < n; i++)
			put_escaped(p[i], '"', out);
		fputc('"', out);
	} else {
		fputc('{', out);
		for (uint64_t i = 0; el && i < n && i < MAX_ELEMENTS; i++) {
			if (i)
				fputs(", ", out);
			dw_gdb_value(g, el, p + i * es, avail - i * es, level + 1, out);
		}
		if (n > MAX_ELEMENTS)
			fputs("...", out);
		fputc('}', out);
	}
	if (el)
		dwarf_dealloc_die(el);
}

void dw_gdb_value(const struct dw_gdb *g, Dwarf_Die ty, const uint8_t *p, size_t avail, int level, FILE *out)
{
	Dwarf_Half tag = ty ? dw_tag(ty) : 0;
	uint64_t sz, v = 0;
	if (level > 32) {
		fputs("...", out);
		return;
	}
	switch (tag) {
	case 0:
		fputs("void", out);
		return;
	case DW_TAG_typedef:
	case DW_TAG_const_type:
	case DW_TAG_volatile_type: {
		Dwarf_Die u = dw_strip(g->d, dw_type_of(g->d, ty)); /* bounded: a typedef loop ends */
		Dwarf_Half ut = u ? dw_tag(u) : 0;
		if (ut == DW_TAG_typedef || ut == DW_TAG_const_type || ut == DW_TAG_volatile_type)
			fputs("...", out);
		else
			dw_gdb_value(g, u, p, avail, level, out);
		if (u)
			dwarf_dealloc_die(u);
		return;
	}
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
		gdb_struct(g, ty, p, avail, level, out);
		return;
	case DW_TAG_array_type:
		gdb_array(g, ty, p, avail, level, out);
		return;
	case DW_TAG_pointer_type:
	case DW_TAG_base_type:
	case DW_TAG_enumeration_type:
		break;
	default:
		fputs("{...}", out);
		return;
	}
	sz = tag == DW_TAG_pointer_type ? 8 : dw_type_size(g->d, ty);
	if (!sz || sz > 8 || sz > avail) {
		fputs("<unavailable>", out);
		return;
	}
	memcpy(&v, p, sz);
	if (tag == DW_TAG_pointer_type) {
		Dwarf_Die u = dw_type_of(g->d, ty);
		dw_gdb_pointer(g, u, v, out);
		if (u)
			dwarf_dealloc_die(u);
		return;
	}
	scalar(g, ty, v, sz, out);
}

void dw_gdb_bits(const struct dw_gdb *g, Dwarf_Die ty, const uint8_t *p, size_t avail, unsigned bitoff, unsigned bits,
		 FILE *out)
{
	Dwarf_Die base = NULL;
	Dwarf_Off o;
	uint64_t word = 0, v;
	Dwarf_Unsigned enc = 0;
	size_t n = (bitoff + bits + 7) / 8;
	if (n > 8 || n > avail || !bits) {
		fputs("<unavailable>", out);
		return;
	}
	memcpy(&word, p, n);
	v = (word >> bitoff) & (bits < 64 ? (1ull << bits) - 1 : ~0ull);
	/* the base type under the typedefs: its sign, or an enum or bool */
	if (ty && dwarf_dieoffset(ty, &o, NULL) == DW_DLV_OK && dwarf_offdie_b(g->d->dbg, o, 1, &base, NULL) == DW_DLV_OK)
		base = dw_strip(g->d, base);
	if (base && dw_tag(base) == DW_TAG_base_type)
		dw_udata(base, DW_AT_encoding, &enc);
	if (enc == DW_ATE_signed && bits < 64 && (v >> (bits - 1)) & 1)
		v |= ~0ull << bits;
	if (g->hex || (g->radix16 && enc != DW_ATE_boolean && !(base && dw_tag(base) == DW_TAG_enumeration_type)))
		fprintf(out, "0x%llx", (unsigned long long)(bits < 64 ? v & ((1ull << bits) - 1) : v));
	else if (base && (dw_tag(base) == DW_TAG_enumeration_type || enc == DW_ATE_boolean))
		scalar(g, base, v, 8, out);
	else if (enc == DW_ATE_signed)
		fprintf(out, "%lld", (long long)v);
	else
		fprintf(out, "%llu", (unsigned long long)v);
	if (base)
		dwarf_dealloc_die(base);
}
