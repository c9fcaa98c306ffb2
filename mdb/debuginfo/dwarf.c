/* dwarf: DWARF types from the symbol file (libdwarf), opened lazily on the first command
 * that needs them: type lookup by name, sizes, member offsets, and printing a value of
 * any type (structs, unions, arrays, pointers, enums, bitfields) from target memory. */
#include <stdlib.h>
#include <string.h>

#include "dwarf_priv.h"

struct dw *dw_get(struct target *t, FILE *out)
{
	struct dw *d = t->dwarf;
	void *dbg;
	if (d)
		return d;
	if (!t->symfile) {
		if (out)
			fprintf(out, "mdb: no symbol file (hvmdb -s FILE) for types\n");
		return NULL;
	}
	d = xcalloc(1, sizeof(*d));
	d->obj = dwarf_obj_open(t->symfile, &dbg);
	if (!d->obj) {
		if (out)
			fprintf(out, "mdb: %s has no DWARF debugging information\n", t->symfile);
		free(d);
		return NULL;
	}
	d->dbg = dbg;
	t->dwarf = d;
	return d;
}

void *dwarf_debug_handle(struct target *t)
{
	struct dw *d = dw_get(t, NULL);
	return d ? d->dbg : NULL;
}

void dwarf_close_target(struct target *t)
{
	struct dw *d = t->dwarf;
	cfi_close_target(t); /* its lists belong to the handle */
	if (!d)
		return;
	dwarf_obj_close(d->obj);
	for (size_t i = 0; i < DW_GLOBALS; i++)
		free(d->globals[i].name);
	free(d);
	t->dwarf = NULL;
}

Dwarf_Half dw_tag(Dwarf_Die die)
{
	Dwarf_Half tag = 0;
	dwarf_tag(die, &tag, NULL);
	return tag;
}

Dwarf_Die dw_next(struct dw *d, Dwarf_Die die)
{
	Dwarf_Die sib = NULL;
	if (dwarf_siblingof_b(d->dbg, die, 1, &sib, NULL) != DW_DLV_OK)
		sib = NULL;
	dwarf_dealloc_die(die);
	return sib;
}

bool dw_name_is(Dwarf_Die die, const char *name)
{
	char *n = NULL;
	return dwarf_diename(die, &n, NULL) == DW_DLV_OK && !strcmp(n, name);
}

bool dw_has_attr(Dwarf_Die die, Dwarf_Half at)
{
	Dwarf_Bool b = 0;
	return dwarf_hasattr(die, at, &b, NULL) == DW_DLV_OK && b;
}

int dw_udata(Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *v)
{
	Dwarf_Attribute a;
	int r;
	if (dwarf_attr(die, at, &a, NULL) != DW_DLV_OK)
		return -1;
	r = dwarf_formudata(a, v, NULL) == DW_DLV_OK ? 0 : -1;
	if (r < 0) {
		Dwarf_Signed s;
		if (dwarf_formsdata(a, &s, NULL) == DW_DLV_OK) {
			*v = (Dwarf_Unsigned)s;
			r = 0;
		}
	}
	dwarf_dealloc_attribute(a);
	return r;
}

Dwarf_Die dw_type_of(struct dw *d, Dwarf_Die die)
{
	Dwarf_Off off;
	Dwarf_Die t = NULL;
	if (dwarf_dietype_offset(die, &off, NULL) != DW_DLV_OK)
		return NULL;
	if (dwarf_offdie_b(d->dbg, off, 1, &t, NULL) != DW_DLV_OK)
		return NULL;
	return t;
}

/* The DIE at off if it is a definition of that type (an offset from the type cache is
 * untrusted); NULL otherwise. */
static Dwarf_Die die_if_type(struct dw *d, uint64_t off, enum type_kind kind, const char *name)
{
	static const Dwarf_Half tags[] = { 0, DW_TAG_structure_type, DW_TAG_union_type, DW_TAG_enumeration_type };
	Dwarf_Die die = NULL;
	Dwarf_Half tag;
	if (dwarf_offdie_b(d->dbg, off, 1, &die, NULL) != DW_DLV_OK)
		return NULL;
	tag = dw_tag(die);
	if ((kind ? tag == tags[kind] : tag == DW_TAG_typedef || tag == DW_TAG_base_type) && dw_name_is(die, name) &&
	    !dw_has_attr(die, DW_AT_declaration))
		return die;
	dwarf_dealloc_die(die);
	return NULL;
}

/* The offset of the first defining DIE of a type, through the index (dwarf_names.c); 0 when
 * there is none. */
static uint64_t find_off(struct target *t, struct dw *d, enum type_kind kind, const char *name)
{
	for (int tries = 0; tries < 2; tries++) {
		uint64_t off;
		Dwarf_Die die;
		if (dwarf_names_find(t, kind, name, &off) != 1)
			return 0;
		if ((die = die_if_type(d, off, kind, name)) != NULL) {
			dwarf_dealloc_die(die);
			return off;
		}
		dwarf_names_distrust(t); /* the cache lied: scan, and ask again */
	}
	return 0;
}

/* Finds a complete type DIE by name: kind TYPE_STRUCT, _UNION, _ENUM or TYPE_OTHER
 * (typedefs and base types). The caller deallocates it. */
Dwarf_Die dw_find_type(struct target *t, struct dw *d, enum type_kind kind, const char *name)
{
	uint64_t off = find_off(t, d, kind, name);
	return off ? die_if_type(d, off, kind, name) : NULL;
}

/* depth: through typedefs and arrays, at most 16 (the DWARF is untrusted: a loop ends) */
static uint64_t type_size(struct dw *d, Dwarf_Die t, int depth)
{
	Dwarf_Unsigned sz;
	Dwarf_Half tag = dw_tag(t);
	if (depth > 16)
		return 0;
	if (dwarf_bytesize(t, &sz, NULL) == DW_DLV_OK)
		return sz;
	if (tag == DW_TAG_pointer_type)
		return 8;
	if (tag == DW_TAG_typedef || tag == DW_TAG_const_type || tag == DW_TAG_volatile_type) {
		Dwarf_Die u = dw_type_of(d, t);
		uint64_t s = u ? type_size(d, u, depth + 1) : 0;
		if (u)
			dwarf_dealloc_die(u);
		return s;
	}
	if (tag == DW_TAG_array_type) {
		Dwarf_Die el = dw_type_of(d, t), sub = NULL;
		uint64_t n = 1, es = el ? type_size(d, el, depth + 1) : 0;
		if (dwarf_child(t, &sub, NULL) == DW_DLV_OK) {
			Dwarf_Unsigned ub, cnt;
			if (dw_udata(sub, DW_AT_count, &cnt) == 0)
				n = cnt;
			else if (dw_udata(sub, DW_AT_upper_bound, &ub) == 0)
				n = ub + 1;
			dwarf_dealloc_die(sub);
		}
		if (el)
			dwarf_dealloc_die(el);
		return n * es;
	}
	return 0;
}

uint64_t dw_type_size(struct dw *d, Dwarf_Die t)
{
	return type_size(d, t, 0);
}

static void indent(FILE *out, int n)
{
	for (int i = 0; i < n; i++)
		fputs("    ", out);
}

static void print_value(struct target *t, struct dw *d, Dwarf_Die ty, const uint8_t *p, size_t avail, int depth, FILE *out);

/* The value of member m of the struct at p (a bitfield's bits, or its type's value). */
static void print_member_value(struct target *t, struct dw *d, Dwarf_Die m, const uint8_t *p, size_t avail, int depth,
			       FILE *out)
{
	Dwarf_Unsigned off = 0;
	uint64_t boff;
	unsigned bitoff, bits;
	Dwarf_Die mt = dw_type_of(d, m);
	dw_udata(m, DW_AT_data_member_location, &off);
	if (dw_bitfield(m, &boff, &bitoff, &bits)) {
		uint64_t word = 0, sz = mt ? dw_type_size(d, mt) : 4;
		if (boff + sz <= avail && sz <= 8)
			memcpy(&word, p + boff, sz);
		fprintf(out, "0x%llx\n", (unsigned long long)((word >> bitoff) & (bits < 64 ? (1ull << bits) - 1 : ~0ull)));
	} else if (mt && off <= avail) {
		print_value(t, d, mt, p + off, avail - off, depth, out);
	} else {
		fputs("?\n", out);
	}
	if (mt)
		dwarf_dealloc_die(mt);
}

/* "name = ", or with ::print -t mdb's "type name = " (no space after a pointer's '*';
 * a bitfield's width after its name: "unsigned int flag :1"). */
static void print_member_head(struct dw *d, Dwarf_Die m, const char *name, FILE *out)
{
	char tn[256];
	uint64_t off;
	unsigned bitoff, bits;
	Dwarf_Die mt;
	size_t n;
	if (!d->show_types) {
		fprintf(out, "%s = ", name);
		return;
	}
	mt = dw_type_of(d, m);
	dw_type_name(d, mt, tn, sizeof(tn));
	if (mt)
		dwarf_dealloc_die(mt);
	n = strlen(tn);
	fprintf(out, "%s%s%s", tn, n && tn[n - 1] == '*' ? "" : " ", name);
	if (dw_bitfield(m, &off, &bitoff, &bits))
		fprintf(out, " :%u", bits);
	fputs(" = ", out);
}

static void print_struct(struct target *t, struct dw *d, Dwarf_Die ty, const uint8_t *p, size_t avail, int depth, FILE *out)
{
	Dwarf_Die m = NULL;
	fputs("{\n", out);
	if (dwarf_child(ty, &m, NULL) == DW_DLV_OK) {
		while (m) {
			char *name = NULL;
			if (dw_tag(m) == DW_TAG_member) {
				dwarf_diename(m, &name, NULL);
				indent(out, depth + 1);
				print_member_head(d, m, name ? name : "<anon>", out);
				print_member_value(t, d, m, p, avail, depth + 1, out);
			}
			m = dw_next(d, m);
		}
	}
	indent(out, depth);
	fputs("}\n", out);
}

static void print_value(struct target *t, struct dw *d, Dwarf_Die ty, const uint8_t *p, size_t avail, int depth, FILE *out)
{
	Dwarf_Half tag = dw_tag(ty);
	uint64_t sz = dw_type_size(d, ty), v = 0;
	char sym[128];
	if (depth > 8) {
		fputs("...\n", out);
		return;
	}
	switch (tag) {
	case DW_TAG_typedef:
	case DW_TAG_const_type:
	case DW_TAG_volatile_type: {
		Dwarf_Die u = dw_strip(d, dw_type_of(d, ty)); /* bounded: a typedef loop ends */
		Dwarf_Half ut = u ? dw_tag(u) : 0;
		if (ut == DW_TAG_typedef || ut == DW_TAG_const_type || ut == DW_TAG_volatile_type) {
			fputs("...\n", out);
			dwarf_dealloc_die(u);
		} else if (u) {
			print_value(t, d, u, p, avail, depth, out);
			dwarf_dealloc_die(u);
		} else
			fputs("void\n", out);
		return;
	}
	case DW_TAG_structure_type:
	case DW_TAG_union_type:
		print_struct(t, d, ty, p, avail, depth, out);
		return;
	case DW_TAG_array_type: {
		Dwarf_Die el = dw_type_of(d, ty);
		uint64_t es = el ? dw_type_size(d, el) : 0, n = es ? sz / es : 0;
		char *en = NULL;
		if (el && es == 1 && dw_tag(el) == DW_TAG_base_type && dwarf_diename(el, &en, NULL) == DW_DLV_OK && strstr(en, "char")) {
			fprintf(out, "\"%.*s\"\n", (int)strnlen((const char *)p, sz < avail ? sz : avail), (const char *)p);
		} else if (el) {
			fputs("[\n", out);
			for (uint64_t i = 0; i < n && i < 64 && (i + 1) * es <= avail; i++) {
				indent(out, depth + 1);
				fprintf(out, "[%llu] = ", (unsigned long long)i);
				print_value(t, d, el, p + i * es, avail - i * es, depth + 1, out);
			}
			if (n > 64) {
				indent(out, depth + 1);
				fprintf(out, "... (%llu elements)\n", (unsigned long long)n);
			}
			indent(out, depth);
			fputs("]\n", out);
		}
		if (el)
			dwarf_dealloc_die(el);
		return;
	}
	default:
		break;
	}
	if (sz > 8 || sz > avail) {
		fputs("?\n", out);
		return;
	}
	memcpy(&v, p, sz);
	if (tag == DW_TAG_pointer_type) {
		if (v && d->mem && d->mem->symbolize(d->mem->arg, v, sym, sizeof(sym)))
			fprintf(out, "0x%llx (%s)\n", (unsigned long long)v, sym);
		else
			fprintf(out, "0x%llx\n", (unsigned long long)v);
	} else if (tag == DW_TAG_enumeration_type) {
		Dwarf_Die e = NULL;
		const char *found = NULL;
		if (dwarf_child(ty, &e, NULL) == DW_DLV_OK) {
			while (e) {
				Dwarf_Unsigned ev;
				char *en = NULL;
				if (!found && dw_udata(e, DW_AT_const_value, &ev) == 0 && ev == v && dwarf_diename(e, &en, NULL) == DW_DLV_OK)
					found = en;
				e = dw_next(d, e);
			}
		}
		if (found)
			fprintf(out, "%s (%llu)\n", found, (unsigned long long)v);
		else
			fprintf(out, "%llu\n", (unsigned long long)v);
	} else {
		Dwarf_Unsigned enc = 0;
		dw_udata(ty, DW_AT_encoding, &enc);
		if (enc == DW_ATE_boolean)
			fprintf(out, "%s\n", v ? "true" : "false");
		else if (enc == DW_ATE_signed || enc == DW_ATE_signed_char) {
			int64_t s = sz == 1 ? (int8_t)v : sz == 2 ? (int16_t)v : sz == 4 ? (int32_t)v : (int64_t)v;
			fprintf(out, "%lld\n", (long long)s);
		} else
			fprintf(out, "0x%llx\n", (unsigned long long)v);
	}
}

/* "struct thread", "thread" (struct, union or typedef), "uint64_t" */
Dwarf_Die dw_lookup(struct target *t, struct dw *d, const char *spec)
{
	char kind[16] = "", name[128];
	Dwarf_Die ty;
	dwarf_names_wanted(t); /* a type command: the cache is worth its writing */
	if (sscanf(spec, "%15s %127s", kind, name) == 2 &&
	    (!strcmp(kind, "struct") || !strcmp(kind, "union") || !strcmp(kind, "enum")))
		return dw_find_type(t, d, !strcmp(kind, "struct") ? TYPE_STRUCT : !strcmp(kind, "union") ? TYPE_UNION : TYPE_ENUM,
				 name);
	if (sscanf(spec, "%127s", name) != 1)
		return NULL;
	ty = dw_find_type(t, d, TYPE_OTHER, name);
	if (!ty)
		ty = dw_find_type(t, d, TYPE_STRUCT, name);
	if (!ty)
		ty = dw_find_type(t, d, TYPE_UNION, name);
	return ty;
}

int dwarf_cmd_sizeof(struct target *t, const char *spec, FILE *out)
{
	struct dw *d = dw_get(t, out);
	Dwarf_Die ty;
	if (!d)
		return -1;
	ty = dw_lookup(t, d, spec);
	if (!ty) {
		fprintf(out, "mdb: no type '%s' in the symbol file's DWARF\n", spec);
		return -1;
	}
	fprintf(out, "sizeof (%s) = 0x%llx (%llu)\n", spec, (unsigned long long)dw_type_size(d, ty),
		(unsigned long long)dw_type_size(d, ty));
	dwarf_dealloc_die(ty);
	return 0;
}

/* The member named name of struct or union ty (not inside an anonymous one), or NULL. */
static Dwarf_Die direct_member(struct dw *d, Dwarf_Die ty, const char *name)
{
	Dwarf_Die m = NULL;
	if (dwarf_child(ty, &m, NULL) != DW_DLV_OK)
		return NULL;
	for (int i = 0; m && i < 100000; i++) {
		if (dw_tag(m) == DW_TAG_member && dw_name_is(m, name))
			return m;
		m = dw_next(d, m);
	}
	if (m)
		dwarf_dealloc_die(m);
	return NULL;
}

int dwarf_cmd_offsetof(struct target *t, const char *spec, const char *member, FILE *out)
{
	struct dw *d = dw_get(t, out);
	Dwarf_Die ty, m;
	Dwarf_Unsigned off;
	int ret = -1;
	if (!d)
		return -1;
	ty = dw_lookup(t, d, spec);
	if (!ty) {
		fprintf(out, "mdb: no type '%s' in the symbol file's DWARF\n", spec);
		return -1;
	}
	if ((m = direct_member(d, ty, member)) != NULL) {
		if (dw_udata(m, DW_AT_data_member_location, &off) == 0) {
			fprintf(out, "offsetof (%s, %s) = 0x%llx\n", spec, member, (unsigned long long)off);
			ret = 0;
		}
		dwarf_dealloc_die(m);
	}
	if (ret < 0)
		fprintf(out, "mdb: %s has no member %s\n", spec, member);
	dwarf_dealloc_die(ty);
	return ret;
}

/* mdb's `::print TYPE [member...]`: the words of TYPE ("struct thread", "spinlock_t") into
 * type; returns where the members start ("" when none). */
static const char *split_members(const char *spec, char *type, size_t len)
{
	const char *p = spec + strspn(spec, " \t");
	size_t words = !strncmp(p, "struct ", 7) || !strncmp(p, "union ", 6) || !strncmp(p, "enum ", 5) ? 2 : 1;
	while (words--) {
		p += strcspn(p, " \t");
		if (words)
			p += strspn(p, " \t");
	}
	snprintf(type, len, "%.*s", (int)(p - spec), spec);
	return p + strspn(p, " \t");
}

/* One member path ("ctx.rsp"; "a->b" is not followed: members only) of the value at buf:
 * "path = value" (mdb's "type path = value" with -t). */
static int print_member(struct target *t, struct dw *d, Dwarf_Die ty, const char *path, const uint8_t *buf, uint64_t sz,
			FILE *out)
{
	char name[128];
	const char *p = path;
	uint64_t off = 0;
	Dwarf_Die cur = ty;
	int ret = -1;
	while (*p) {
		size_t n = strcspn(p, ".");
		Dwarf_Half tag = dw_tag(cur);
		Dwarf_Unsigned own = 0;
		Dwarf_Die m;
		if (!n || n >= sizeof(name) || (tag != DW_TAG_structure_type && tag != DW_TAG_union_type))
			break;
		snprintf(name, sizeof(name), "%.*s", (int)n, p);
		if (!(m = dw_member(d, cur, name, &off, 0)))
			break;
		p += n + (p[n] == '.');
		if (!*p) { /* the member itself: printed as in the whole struct (bitfields too) */
			dw_udata(m, DW_AT_data_member_location, &own);
			if (off - own < sz) {
				print_member_head(d, m, path, out);
				print_member_value(t, d, m, buf + (off - own), sz - (off - own), 0, out);
				ret = 0;
			}
			dwarf_dealloc_die(m);
			break;
		}
		if (cur != ty)
			dwarf_dealloc_die(cur);
		cur = dw_strip(d, dw_type_of(d, m));
		dwarf_dealloc_die(m);
		if (!cur)
			break;
	}
	if (cur && cur != ty)
		dwarf_dealloc_die(cur);
	if (ret < 0)
		fprintf(out, "mdb: no member %s in that type\n", path);
	return ret;
}

/* A value of type ty read from addr (NULL, said on out, when the type has no usable size
 * or the bytes cannot be read); *sz is its size. what names the value in the message. */
uint8_t *dw_read_typed(struct dw *d, Dwarf_Die ty, const char *what, uint64_t addr, const struct dwarf_mem *m,
			   uint64_t *sz, FILE *out)
{
	uint8_t *buf;
	*sz = dw_type_size(d, ty);
	if (!*sz || *sz > (16u << 20)) {
		fprintf(out, "mdb: %s has no usable size\n", what);
		return NULL;
	}
	buf = xcalloc(1, *sz);
	if (m->read(m->arg, addr, buf, *sz) < *sz) {
		fprintf(out, "mdb: cannot read %llu bytes at 0x%llx\n", (unsigned long long)*sz, (unsigned long long)addr);
		free(buf);
		return NULL;
	}
	return buf;
}

int dwarf_cmd_print(struct target *t, const char *spec, uint64_t addr, const struct dwarf_mem *m, FILE *out)
{
	struct dw *d = dw_get(t, out);
	Dwarf_Die ty;
	uint64_t sz;
	uint8_t *buf;
	char type[160], member[160];
	const char *members;
	bool types = false;
	int ret = 0;
	if (!d)
		return -1;
	spec += strspn(spec, " \t");
	while (spec[0] == '-') { /* mdb's options: -t (each member with its type) */
		size_t n = strcspn(spec, " \t");
		if (n != 2 || spec[1] != 't') {
			fprintf(out, "mdb: ::print: unknown option '%.*s' (-t: each member with its type)\n", (int)n, spec);
			return -1;
		}
		types = true;
		spec += n + strspn(spec + n, " \t");
	}
	members = split_members(spec, type, sizeof(type));
	if (!type[0]) {
		fprintf(out, "mdb: ::print needs a type\n");
		return -1;
	}
	ty = dw_lookup(t, d, type);
	if (!ty) {
		fprintf(out, "mdb: no type '%s' in the symbol file's DWARF\n", type);
		return -1;
	}
	if (!(buf = dw_read_typed(d, ty, type, addr, m, &sz, out))) {
		dwarf_dealloc_die(ty);
		return -1;
	}
	d->mem = m;
	d->show_types = types;
	if (!*members) {
		fprintf(out, "%s at 0x%llx = ", type, (unsigned long long)addr);
		print_value(t, d, ty, buf, sz, 0, out);
	}
	while (*members) { /* mdb: one "member = value" per member named */
		size_t n = strcspn(members, " \t");
		snprintf(member, sizeof(member), "%.*s", (int)(n < sizeof(member) ? n : sizeof(member) - 1), members);
		if (print_member(t, d, ty, member, buf, sz, out) < 0)
			ret = -1;
		members += n;
		members += strspn(members, " \t");
	}
	d->mem = NULL;
	d->show_types = false;
	free(buf);
	dwarf_dealloc_die(ty);
	return ret;
}

/* ---- member offsets for guest-awareness modules (dwarf_fields) */

/* Through typedefs and qualifiers to the type itself; consumes t. */
Dwarf_Die dw_strip(struct dw *d, Dwarf_Die t)
{
	for (int i = 0; t && i < 16; i++) {
		Dwarf_Half tag = dw_tag(t);
		Dwarf_Die u;
		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type && tag != DW_TAG_volatile_type)
			return t;
		u = dw_type_of(d, t);
		dwarf_dealloc_die(t);
		t = u;
	}
	return t;
}

Dwarf_Die dw_member(struct dw *d, Dwarf_Die ty, const char *name, uint64_t *off, int depth)
{
	Dwarf_Die m = NULL, found = NULL;
	if (depth > 8 || dwarf_child(ty, &m, NULL) != DW_DLV_OK)
		return NULL;
	while (m && !found) {
		Dwarf_Die sib = NULL;
		Dwarf_Unsigned moff = 0;
		char *n = NULL;
		if (dw_tag(m) == DW_TAG_member) {
			bool named = dwarf_diename(m, &n, NULL) == DW_DLV_OK;
			dw_udata(m, DW_AT_data_member_location, &moff);
			if (named && !strcmp(n, name)) {
				*off += moff;
				return m;
			} else if (!named) { /* an anonymous struct or union: its members are ours */
				Dwarf_Die mt = dw_strip(d, dw_type_of(d, m));
				uint64_t sub = moff;
				if (mt && (dw_tag(mt) == DW_TAG_structure_type || dw_tag(mt) == DW_TAG_union_type) &&
				    (found = dw_member(d, mt, name, &sub, depth + 1)) != NULL)
					*off += sub;
				if (mt)
					dwarf_dealloc_die(mt);
			}
		}
		if (!found && dwarf_siblingof_b(d->dbg, m, 1, &sib, NULL) != DW_DLV_OK)
			sib = NULL;
		dwarf_dealloc_die(m);
		m = sib;
	}
	if (m)
		dwarf_dealloc_die(m);
	return found;
}

/* The type of member name (dw_member), through typedefs; NULL when there is none. */
static Dwarf_Die dw_member_type(struct dw *d, Dwarf_Die ty, const char *name, uint64_t *off, int depth)
{
	Dwarf_Die m = dw_member(d, ty, name, off, depth), mt;
	if (!m)
		return NULL;
	mt = dw_strip(d, dw_type_of(d, m));
	dwarf_dealloc_die(m);
	return mt;
}

bool dw_bitfield(Dwarf_Die m, uint64_t *off, unsigned *bitoff, unsigned *bits)
{
	Dwarf_Unsigned o = 0, b = 0, bo = 0;
	if (dw_udata(m, DW_AT_bit_size, &b) != 0 || !b || b > 64)
		return false;
	dw_udata(m, DW_AT_data_member_location, &o);
	if (dw_udata(m, DW_AT_data_bit_offset, &bo) == 0)
		o = bo / 8, bo %= 8;
	*off = o;
	*bitoff = (unsigned)bo;
	*bits = (unsigned)b;
	return true;
}

/* Resolves the fields of struct type st that ask for it. */
static void resolve_fields(struct dw *d, Dwarf_Die st, const char *name, struct dwarf_field *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char path[128], *save = NULL;
		Dwarf_Die cur = NULL;
		uint64_t off = 0;
		if (f[i].found || strcmp(f[i].type, name))
			continue;
		f[i].found = true;
		if (!f[i].member) {
			f[i].off = 0;
			f[i].size = dw_type_size(d, st);
			continue;
		}
		snprintf(path, sizeof(path), "%s", f[i].member);
		for (char *c = strtok_r(path, ".", &save); c; c = strtok_r(NULL, ".", &save)) {
			Dwarf_Die next = dw_member_type(d, cur ? cur : st, c, &off, 0);
			if (cur)
				dwarf_dealloc_die(cur);
			cur = next;
			if (!cur)
				break;
		}
		if (cur) {
			f[i].off = (int64_t)off;
			f[i].size = dw_type_size(d, cur);
			dwarf_dealloc_die(cur);
		}
	}
}

static int fields_by_index(struct target *t, struct dwarf_field *f, size_t n)
{
	struct dw *d = dw_get(t, NULL);
	if (!d)
		return -1;
	for (size_t i = 0; i < n; i++) {
		enum type_kind kind = TYPE_STRUCT;
		uint64_t off;
		Dwarf_Die st;
		if (f[i].found)
			continue;
		if (!(off = find_off(t, d, kind, f[i].type)))
			off = find_off(t, d, kind = TYPE_UNION, f[i].type);
		if (off && (st = die_if_type(d, off, kind, f[i].type)) != NULL) {
			resolve_fields(d, st, f[i].type, f, n); /* every field of this type */
			dwarf_dealloc_die(st);
		}
	}
	return 0;
}

int dwarf_enum_value(struct target *t, const char *type, const char *name, int64_t *v)
{
	struct dw *d = dw_get(t, NULL);
	Dwarf_Die en, e = NULL;
	uint64_t off;
	int found = 0;
	if (!d)
		return -1;
	if (!(off = find_off(t, d, TYPE_ENUM, type)) || !(en = die_if_type(d, off, TYPE_ENUM, type)))
		return 0;
	if (dwarf_child(en, &e, NULL) != DW_DLV_OK)
		e = NULL;
	while (e) {
		Dwarf_Unsigned ev;
		if (!found && dw_tag(e) == DW_TAG_enumerator && dw_name_is(e, name) && dw_udata(e, DW_AT_const_value, &ev) == 0) {
			*v = (int64_t)ev;
			found = 1;
		}
		e = dw_next(d, e);
	}
	dwarf_dealloc_die(en);
	return found;
}

/* Each top-level DIE of every unit (whose name contains cu_hint, when given) of a private
 * handle, until visit returns true. */
static void dw_each_top_die(Dwarf_Debug dbg, const char *cu_hint, bool (*visit)(void *arg, Dwarf_Die die), void *arg)
{
	Dwarf_Unsigned next = 0;
	bool done = false;
	while (!done &&
	       dwarf_next_cu_header_d(dbg, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &next, NULL, NULL) == DW_DLV_OK) {
		Dwarf_Die cu = NULL, child = NULL;
		char *cuname = NULL;
		if (dwarf_siblingof_b(dbg, NULL, 1, &cu, NULL) != DW_DLV_OK)
			continue;
		if (cu_hint && (dwarf_diename(cu, &cuname, NULL) != DW_DLV_OK || !strstr(cuname, cu_hint))) {
			dwarf_dealloc_die(cu);
			continue;
		}
		if (dwarf_child(cu, &child, NULL) != DW_DLV_OK)
			child = NULL;
		while (child && !done) {
			Dwarf_Die sib = NULL;
			done = visit(arg, child);
			if (dwarf_siblingof_b(dbg, child, 1, &sib, NULL) != DW_DLV_OK)
				sib = NULL;
			dwarf_dealloc_die(child);
			child = sib;
		}
		if (child)
			dwarf_dealloc_die(child);
		dwarf_dealloc_die(cu);
	}
}

struct fields_scan {
	struct dw *d;
	struct dwarf_field *f;
	size_t n, pending;
};

static bool fields_visit(void *arg, Dwarf_Die child)
{
	struct fields_scan *fs = arg;
	Dwarf_Half tag = dw_tag(child);
	char *name = NULL;
	if ((tag == DW_TAG_structure_type || tag == DW_TAG_union_type) && dwarf_diename(child, &name, NULL) == DW_DLV_OK &&
	    !dw_has_attr(child, DW_AT_declaration)) {
		resolve_fields(fs->d, child, name, fs->f, fs->n);
		fs->pending = 0;
		for (size_t i = 0; i < fs->n; i++)
			fs->pending += !fs->f[i].found;
	}
	return fs->pending == 0;
}

int dwarf_fields(struct target *t, const char *cu_hint, struct dwarf_field *f, size_t n)
{
	struct dw d;
	void *dbg;
	size_t pending = n;
	for (size_t i = 0; i < n; i++) {
		f[i].off = -1;
		f[i].size = 0;
		f[i].found = false;
	}
	if (!cu_hint) /* through the index: struct first, then union, by that name */
		return fields_by_index(t, f, n);
	if (!t->symfile || !(d.obj = dwarf_obj_open(t->symfile, &dbg)))
		return -1;
	d.dbg = dbg;
	/* a private handle: the units are read from the first, and only until all are found */
	if (pending) {
		struct fields_scan fs = { &d, f, n, pending };
		dw_each_top_die(d.dbg, cu_hint, fields_visit, &fs);
	}
	dwarf_obj_close(d.obj);
	return 0;
}

/* ---- globals: crash's p NAME and whatis NAME */

struct var_scan {
	struct dw d;      /* the private handle's */
	const char *name;
	uint64_t off;     /* the DIE taken */
	bool func, done;
};

/* A declaration's type may lack what the definition has (extern char banner[]: no bound):
 * such a DIE is kept only until a definition comes. */
static bool incomplete(struct dw *d, Dwarf_Die die)
{
	Dwarf_Die ty = dw_strip(d, dw_type_of(d, die)), sub = NULL;
	bool r = false;
	if (ty && dw_tag(ty) == DW_TAG_array_type && dwarf_child(ty, &sub, NULL) == DW_DLV_OK) {
		r = !dw_has_attr(sub, DW_AT_count) && !dw_has_attr(sub, DW_AT_upper_bound);
		dwarf_dealloc_die(sub);
	}
	if (ty)
		dwarf_dealloc_die(ty);
	return r;
}

/* A definition whose DW_AT_specification is a declaration named name (it has no name of its own). */
static bool defines(struct dw *d, Dwarf_Die die, const char *name)
{
	Dwarf_Attribute a;
	Dwarf_Off spec;
	Dwarf_Die decl = NULL;
	bool r = false;
	if (dwarf_attr(die, DW_AT_specification, &a, NULL) != DW_DLV_OK)
		return false;
	if (dwarf_global_formref(a, &spec, NULL) == DW_DLV_OK && dwarf_offdie_b(d->dbg, spec, 1, &decl, NULL) == DW_DLV_OK) {
		r = dw_name_is(decl, name);
		dwarf_dealloc_die(decl);
	}
	dwarf_dealloc_attribute(a);
	return r;
}

static bool var_visit(void *arg, Dwarf_Die child)
{
	struct var_scan *vs = arg;
	Dwarf_Half tag = dw_tag(child);
	Dwarf_Off off;
	if (vs->off && tag == DW_TAG_variable && dw_has_attr(child, DW_AT_type) && defines(&vs->d, child, vs->name) &&
	    dwarf_dieoffset(child, &off, NULL) == DW_DLV_OK) { /* the definition of the incomplete declaration */
		vs->off = off;
		return vs->done = true;
	}
	if ((tag == DW_TAG_variable || tag == DW_TAG_subprogram) && dw_name_is(child, vs->name) &&
	    (tag == DW_TAG_subprogram || dw_has_attr(child, DW_AT_type)) && dwarf_dieoffset(child, &off, NULL) == DW_DLV_OK) {
		bool weak = tag == DW_TAG_variable && dw_has_attr(child, DW_AT_declaration) && incomplete(&vs->d, child);
		if (!vs->off || !weak)
			vs->off = off;
		vs->func = tag == DW_TAG_subprogram;
		vs->done = !weak;
	}
	return vs->done;
}

int dw_global(struct target *t, const char *name, uint64_t *off, bool *func)
{
	struct dw *d = t->dwarf;
	struct dwarf_obj *o;
	void *dbg;
	struct var_scan vs = { .name = name };
	for (size_t i = 0; d && i < DW_GLOBALS; i++) /* asked for before */
		if (d->globals[i].name && !strcmp(d->globals[i].name, name)) {
			*off = d->globals[i].off;
			*func = d->globals[i].func;
			return *off ? 1 : 0;
		}
	if (!t->symfile || !(o = dwarf_obj_open(t->symfile, &dbg)))
		return 0;
	vs.d.obj = o;
	vs.d.dbg = dbg;
	dw_each_top_die(dbg, NULL, var_visit, &vs);
	dwarf_obj_close(o);
	if (d) {
		size_t i = d->next_global++ % DW_GLOBALS;
		free(d->globals[i].name);
		d->globals[i].name = xstrdup(name);
		d->globals[i].off = vs.off;
		d->globals[i].func = vs.func;
	}
	*off = vs.off;
	*func = vs.func;
	return vs.off ? 1 : 0;
}
