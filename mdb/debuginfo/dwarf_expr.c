/* dwarf_expr: crash's p EXPR: a C expression over the kernel's globals, evaluated with the
 * symbol file's DWARF types and printed as crash (gdb) prints it, "$N = value" ("NAME = $N
 * = value" for a bare global): globals, numbers, . -> [] & * unary -, + and - (pointers
 * scaled), casts to struct/union/enum/typedef/base types and their pointers, sizeof(TYPE)
 * and sizeof EXPR. Every error is one line. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dwarf_priv.h"

struct xv {
	Dwarf_Die ty;     /* owned; NULL with ptrs 0: a plain integer, or void (an untyped symbol) */
	unsigned ptrs;    /* pointer levels on ty (an address taken, a cast to TYPE *) */
	bool lval;        /* the object at addr */
	bool untyped;     /* a symbol the DWARF has no variable for */
	bool is_unsigned; /* a plain integer's sign (sizeof is unsigned long) */
	bool bitfield;
	unsigned bitoff, bits;
	uint64_t addr, v; /* v: an rvalue's value (with ptrs: the pointer) */
};

struct px {
	struct target *t;
	struct dw *d;
	const struct dwarf_mem *m;
	const char *s;
	struct err e;
	bool failed;
};

static int fail(struct px *x, const char *fmt, const char *arg)
{
	if (!x->failed)
		err_set(&x->e, fmt, arg);
	x->failed = true;
	return -1;
}

static void xv_free(struct xv *v)
{
	if (v->ty)
		dwarf_dealloc_die(v->ty);
	memset(v, 0, sizeof(*v));
}

static Dwarf_Die copy(struct dw *d, Dwarf_Die die)
{
	Dwarf_Off o;
	Dwarf_Die c = NULL;
	if (!die || dwarf_dieoffset(die, &o, NULL) != DW_DLV_OK || dwarf_offdie_b(d->dbg, o, 1, &c, NULL) != DW_DLV_OK)
		return NULL;
	return c;
}

/* ty through typedefs and qualifiers (a new DIE, or NULL for void). */
static Dwarf_Die stripped(struct dw *d, Dwarf_Die ty)
{
	return ty ? dw_strip(d, copy(d, ty)) : NULL;
}

static Dwarf_Half kind_of(struct px *x, const struct xv *v)
{
	Dwarf_Die s;
	Dwarf_Half tag;
	if (v->ptrs)
		return DW_TAG_pointer_type;
	if (!v->ty)
		return 0;
	s = stripped(x->d, v->ty);
	tag = s ? dw_tag(s) : 0;
	if (s)
		dwarf_dealloc_die(s);
	return tag;
}

static void skip(struct px *x)
{
	x->s += strspn(x->s, " \t");
}

static bool eat(struct px *x, const char *tok)
{
	size_t n = strlen(tok);
	skip(x);
	if (strncmp(x->s, tok, n))
		return false;
	x->s += n;
	return true;
}

static size_t ident_len(const char *s)
{
	size_t n = 0;
	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '_')
		n++;
	return n;
}

/* The scalar value of v (an integer, enum, pointer; an array or function: its address). */
static int value_of(struct px *x, const struct xv *v, uint64_t *out)
{
	Dwarf_Half k = kind_of(x, v);
	uint64_t w = 0, sz;
	if (v->untyped)
		return fail(x, "%s", "a symbol without a type in the DWARF: cast it (p *(TYPE *)NAME) or take its address");
	if (!v->lval) {
		*out = v->v;
		return 0;
	}
	if (k == DW_TAG_array_type || k == DW_TAG_subprogram) {
		*out = v->addr;
		return 0;
	}
	if (k == DW_TAG_structure_type || k == DW_TAG_union_type)
		return fail(x, "%s", "a struct or union is not a number");
	sz = k == DW_TAG_pointer_type ? 8 : dw_type_size(x->d, v->ty);
	if (v->bitfield)
		sz = (v->bitoff + v->bits + 7) / 8;
	if (!sz || sz > 8)
		return fail(x, "%s", "a value that is not a number");
	if (x->m->read(x->m->arg, v->addr, &w, sz) < sz) {
		char a[32];
		snprintf(a, sizeof(a), "0x%llx", (unsigned long long)v->addr);
		return fail(x, "cannot read memory at %s", a);
	}
	if (v->bitfield)
		w = (w >> v->bitoff) & (v->bits < 64 ? (1ull << v->bits) - 1 : ~0ull);
	*out = w;
	return 0;
}

/* What v points to (or its array's element): the type and the level of pointers left. */
static int target_of(struct px *x, const struct xv *v, Dwarf_Die *ty, unsigned *ptrs)
{
	Dwarf_Die s;
	if (v->ptrs) {
		*ty = copy(x->d, v->ty);
		*ptrs = v->ptrs - 1;
		return 0;
	}
	s = stripped(x->d, v->ty);
	if (!s || (dw_tag(s) != DW_TAG_pointer_type && dw_tag(s) != DW_TAG_array_type)) {
		if (s)
			dwarf_dealloc_die(s);
		return fail(x, "%s", "not a pointer or an array");
	}
	*ty = dw_type_of(x->d, s);
	*ptrs = 0;
	dwarf_dealloc_die(s);
	return 0;
}

/* *v (and v[i]: index i): the object v points at. */
static int deref(struct px *x, struct xv *v, int64_t index)
{
	Dwarf_Die ty;
	unsigned ptrs;
	uint64_t base, es;
	bool array = kind_of(x, v) == DW_TAG_array_type;
	if (target_of(x, v, &ty, &ptrs) < 0)
		return -1;
	if (!ty && !ptrs)
		return fail(x, "%s", "cannot dereference a void pointer (cast it)");
	if (array)
		base = v->addr;
	else if (value_of(x, v, &base) < 0) {
		if (ty)
			dwarf_dealloc_die(ty);
		return -1;
	}
	es = ptrs ? 8 : dw_type_size(x->d, ty);
	xv_free(v);
	v->ty = ty;
	v->ptrs = ptrs;
	if (ptrs) { /* (T **)p: the pointer stored there, which has no DIE: an rvalue read now */
		v->addr = base + (uint64_t)index * 8;
		if (x->m->read(x->m->arg, v->addr, &v->v, 8) < 8)
			return fail(x, "%s", "cannot read the pointer");
		return 0;
	}
	v->lval = true;
	v->addr = base + (uint64_t)index * es;
	return 0;
}

static int member(struct px *x, struct xv *v, const char *name)
{
	Dwarf_Die s, m;
	uint64_t off = 0, boff;
	Dwarf_Half k = kind_of(x, v);
	if (!v->lval || (k != DW_TAG_structure_type && k != DW_TAG_union_type))
		return fail(x, "there is no member named %s: not a struct or union", name);
	s = stripped(x->d, v->ty);
	m = s ? dw_member(x->d, s, name, &off, 0) : NULL;
	if (s)
		dwarf_dealloc_die(s);
	if (!m) {
		char tn[256], msg[512];
		dw_type_name(x->d, v->ty, tn, sizeof(tn));
		snprintf(msg, sizeof(msg), "%s has no member named %s", tn, name);
		return fail(x, "%s", msg);
	}
	{
		Dwarf_Unsigned own = 0;
		Dwarf_Die mt = dw_type_of(x->d, m);
		dw_udata(m, DW_AT_data_member_location, &own);
		v->bitfield = dw_bitfield(m, &boff, &v->bitoff, &v->bits);
		v->addr += v->bitfield ? off - own + boff : off;
		dwarf_dealloc_die(v->ty);
		v->ty = mt;
	}
	dwarf_dealloc_die(m);
	return 0;
}

/* A type in a cast or sizeof: struct/union/enum NAME, a typedef or base type (C's
 * spellings of the base types: "unsigned long" is DWARF's "long unsigned int"), then
 * '*'s. 1 with *ty and *ptrs, 0 when the text is no type (x->s untouched). */
static int parse_type(struct px *x, Dwarf_Die *ty, unsigned *ptrs)
{
	static const char *const words[] = { "unsigned", "signed", "long", "short", "int", "char" };
	const char *save = x->s;
	char name[160];
	size_t n;
	int longs = 0, uns = 0, sgn = 0, shrt = 0, chr = 0, base = 0;
	skip(x);
	n = ident_len(x->s);
	*ty = NULL;
	*ptrs = 0;
	if (!n)
		return 0;
	if ((n == 6 && !strncmp(x->s, "struct", 6)) || (n == 5 && !strncmp(x->s, "union", 5)) ||
	    (n == 4 && !strncmp(x->s, "enum", 4))) {
		enum type_kind k = x->s[0] == 's' ? TYPE_STRUCT : x->s[0] == 'u' ? TYPE_UNION : TYPE_ENUM;
		const char *kw = x->s;
		x->s += n;
		skip(x);
		if (!(n = ident_len(x->s)) || n >= sizeof(name))
			return fail(x, "%s", "a struct, union or enum needs a name");
		snprintf(name, sizeof(name), "%.*s", (int)n, x->s);
		x->s += n;
		if (!(*ty = dw_find_type(x->t, x->d, k, name))) {
			char msg[200];
			snprintf(msg, sizeof(msg), "no %.*s %s in the symbol file's DWARF", (int)strcspn(kw, " \t"), kw, name);
			return fail(x, "%s", msg);
		}
	} else {
		for (;;) { /* C's base type words */
			size_t i;
			skip(x);
			n = ident_len(x->s);
			for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
				if (strlen(words[i]) == n && !strncmp(x->s, words[i], n))
					break;
			if (!n || i == sizeof(words) / sizeof(words[0]))
				break;
			uns += i == 0, sgn += i == 1, longs += i == 2, shrt += i == 3, chr += i == 5;
			base++;
			x->s += n;
		}
		if (base) {
			if (chr)
				snprintf(name, sizeof(name), "%schar", uns ? "unsigned " : sgn ? "signed " : "");
			else
				snprintf(name, sizeof(name), "%s%sint", shrt ? "short " : longs >= 2 ? "long long " : longs ? "long " : "",
					 uns ? "unsigned " : "");
		} else if (n == 4 && !strncmp(x->s, "void", 4)) {
			x->s += 4;
			name[0] = 0;
		} else {
			if (n >= sizeof(name))
				return 0;
			snprintf(name, sizeof(name), "%.*s", (int)n, x->s);
			if (!(*ty = dw_find_type(x->t, x->d, TYPE_OTHER, name))) {
				x->s = save;
				return 0;
			}
			x->s += n;
		}
		if (name[0] && !*ty && !(*ty = dw_find_type(x->t, x->d, TYPE_OTHER, name)))
			return fail(x, "no base type %s in the symbol file's DWARF", name);
	}
	while (eat(x, "*"))
		(*ptrs)++;
	if (!*ty && !*ptrs)
		return fail(x, "%s", "void is no value's type");
	return 1;
}

static int expr(struct px *x, struct xv *v);
static int unary(struct px *x, struct xv *v);

static int primary(struct px *x, struct xv *v)
{
	size_t n;
	memset(v, 0, sizeof(*v));
	skip(x);
	if (eat(x, "(")) {
		if (expr(x, v) < 0)
			return -1;
		return eat(x, ")") ? 0 : fail(x, "a ')' is missing at '%s'", x->s);
	}
	if (isdigit((unsigned char)*x->s)) {
		char *end;
		v->v = strtoull(x->s, &end, 0);
		if (isalnum((unsigned char)*end) || *end == '_')
			return fail(x, "bad number at '%s'", x->s);
		x->s = end;
		return 0;
	}
	n = ident_len(x->s);
	if (n) {
		char name[128];
		const struct symbol *s;
		uint64_t off;
		bool func;
		Dwarf_Die die;
		if (n >= sizeof(name))
			return fail(x, "%s", "a name too long");
		snprintf(name, sizeof(name), "%.*s", (int)n, x->s);
		x->s += n;
		if (!(s = symtab_by_name(&x->t->syms, name)))
			return fail(x, "no symbol %s", name);
		v->lval = true;
		v->addr = s->addr;
		if (dw_global(x->t, name, &off, &func) != 1 || dwarf_offdie_b(x->d->dbg, off, 1, &die, NULL) != DW_DLV_OK) {
			v->untyped = true;
			return 0;
		}
		if (func) {
			v->ty = die; /* the subprogram: its type is itself */
		} else {
			v->ty = dw_type_of(x->d, die);
			dwarf_dealloc_die(die);
		}
		return 0;
	}
	if (*x->s)
		return fail(x, "an expression expected at '%s'", x->s);
	return fail(x, "%s", "an expression expected");
}

static int postfix(struct px *x, struct xv *v)
{
	if (primary(x, v) < 0)
		return -1;
	for (;;) {
		bool arrow;
		skip(x);
		if ((arrow = !strncmp(x->s, "->", 2)) || (*x->s == '.' && !isdigit((unsigned char)x->s[1]))) {
			char name[128];
			size_t n;
			x->s += arrow ? 2 : 1;
			skip(x);
			if (!(n = ident_len(x->s)) || n >= sizeof(name))
				return fail(x, "a member name expected at '%s'", x->s);
			snprintf(name, sizeof(name), "%.*s", (int)n, x->s);
			x->s += n;
			if ((arrow && deref(x, v, 0) < 0) || member(x, v, name) < 0)
				return -1;
		} else if (eat(x, "[")) {
			struct xv i;
			uint64_t iv;
			if (expr(x, &i) < 0)
				return -1;
			if (value_of(x, &i, &iv) < 0) {
				xv_free(&i);
				return -1;
			}
			xv_free(&i);
			if (!eat(x, "]"))
				return fail(x, "a ']' is missing at '%s'", x->s);
			if (deref(x, v, (int64_t)iv) < 0)
				return -1;
		} else {
			return 0;
		}
	}
}

static int unary(struct px *x, struct xv *v)
{
	skip(x);
	memset(v, 0, sizeof(*v));
	if (!strncmp(x->s, "sizeof", 6) && !isalnum((unsigned char)x->s[6]) && x->s[6] != '_') {
		Dwarf_Die ty;
		unsigned ptrs;
		const char *save;
		x->s += 6;
		save = x->s;
		if (eat(x, "(")) {
			int r = parse_type(x, &ty, &ptrs);
			if (r < 0)
				return -1;
			if (r == 1) {
				v->v = ptrs ? 8 : dw_type_size(x->d, ty);
				v->is_unsigned = true;
				if (ty)
					dwarf_dealloc_die(ty);
				return eat(x, ")") ? 0 : fail(x, "a ')' is missing at '%s'", x->s);
			}
			x->s = save;
		}
		if (unary(x, v) < 0)
			return -1;
		{
			uint64_t sz = v->ptrs || kind_of(x, v) == DW_TAG_pointer_type ? 8 : v->ty ? dw_type_size(x->d, v->ty) : 8;
			xv_free(v);
			v->v = sz;
			v->is_unsigned = true;
		}
		return 0;
	}
	if (eat(x, "&")) {
		if (unary(x, v) < 0)
			return -1;
		if (!v->lval || v->bitfield)
			return fail(x, "%s", "cannot take the address of a value that is not in memory");
		v->lval = false;
		v->untyped = false;
		v->v = v->addr;
		v->ptrs = 1;
		return 0;
	}
	if (eat(x, "*")) {
		if (unary(x, v) < 0)
			return -1;
		if (v->untyped)
			return fail(x, "%s", "a symbol without a type in the DWARF: cast it (p *(TYPE *)NAME)");
		return deref(x, v, 0);
	}
	if (eat(x, "-")) {
		uint64_t n;
		if (unary(x, v) < 0 || value_of(x, v, &n) < 0)
			return -1;
		xv_free(v);
		v->v = (uint64_t)-(int64_t)n;
		return 0;
	}
	if (*x->s == '(') { /* a cast? */
		const char *save = x->s;
		Dwarf_Die ty;
		unsigned ptrs;
		int r;
		x->s++;
		r = parse_type(x, &ty, &ptrs);
		if (r < 0)
			return -1;
		if (r == 1) {
			uint64_t n;
			struct xv in;
			if (!eat(x, ")")) {
				if (ty)
					dwarf_dealloc_die(ty);
				return fail(x, "a ')' is missing at '%s'", x->s);
			}
			if (unary(x, &in) < 0 || value_of(x, &in, &n) < 0) {
				xv_free(&in);
				if (ty)
					dwarf_dealloc_die(ty);
				return -1;
			}
			xv_free(&in);
			v->ty = ty;
			v->ptrs = ptrs;
			v->v = n;
			if (!ptrs && (kind_of(x, v) == DW_TAG_structure_type || kind_of(x, v) == DW_TAG_union_type))
				return fail(x, "%s", "a number cannot be cast to a struct or union (cast to a pointer, then *)");
			return 0;
		}
		x->s = save;
	}
	return postfix(x, v);
}

static int expr(struct px *x, struct xv *v)
{
	if (unary(x, v) < 0)
		return -1;
	for (;;) {
		struct xv r;
		uint64_t a, b, scale = 1;
		bool plus;
		skip(x);
		if (*x->s != '+' && *x->s != '-')
			return 0;
		plus = *x->s++ == '+';
		if (unary(x, &r) < 0 || value_of(x, &r, &b) < 0 || value_of(x, v, &a) < 0) {
			xv_free(&r);
			return -1;
		}
		xv_free(&r);
		if (kind_of(x, v) == DW_TAG_pointer_type) { /* pointer arithmetic: in elements */
			Dwarf_Die ty;
			unsigned ptrs;
			if (target_of(x, v, &ty, &ptrs) < 0)
				return -1;
			scale = ptrs ? 8 : ty ? dw_type_size(x->d, ty) : 1;
			if (ty)
				dwarf_dealloc_die(ty);
			if (!v->ptrs) { /* keep the pointer's type: as ty * */
				Dwarf_Die s = stripped(x->d, v->ty), tt = s ? dw_type_of(x->d, s) : NULL;
				if (s)
					dwarf_dealloc_die(s);
				xv_free(v);
				v->ty = tt;
				v->ptrs = 1;
			}
		} else {
			xv_free(v);
		}
		v->lval = false;
		v->v = plus ? a + b * scale : a - b * scale;
	}
}

/* The result's line after "$N = ". */
static void print_result(struct px *x, struct xv *v, enum dwarf_p_fmt fmt, FILE *out)
{
	bool hex = fmt == DWARF_P_X || fmt == DWARF_P_RADIX16;
	struct dw_gdb g = { x->d, fmt == DWARF_P_X, fmt == DWARF_P_RADIX16, fmt == DWARF_P_D, 0, NULL };
	Dwarf_Half k = kind_of(x, v);
	char tn[512];
	uint64_t val;
	if (!v->ty && !v->ptrs && !v->lval) { /* a plain number */
		fprintf(out, hex ? "0x%llx" : v->is_unsigned ? "%llu" : "%lld", (unsigned long long)v->v);
		return;
	}
	if (k == DW_TAG_subprogram) { /* gdb: {void (void)} 0x... <schedule> */
		dw_type_name(x->d, v->ty, tn, sizeof(tn));
		fprintf(out, "{%s} ", tn);
		dw_gdb_pointer(&g, NULL, v->addr, out);
		return;
	}
	if (k == DW_TAG_pointer_type) {
		Dwarf_Die target = NULL;
		unsigned ptrs = 0;
		if (value_of(x, v, &val) < 0)
			return;
		target_of(x, v, &target, &ptrs);
		if (v->ptrs)
			dw_decl(x->d, v->ty, v->ptrs, "", tn, sizeof(tn));
		else
			dw_type_name(x->d, v->ty, tn, sizeof(tn));
		if (!g.hex && !(ptrs == 0 && target && dw_gdb_char(x->d, target)))
			fprintf(out, "(%s) ", tn);
		dw_gdb_pointer(&g, ptrs ? NULL : target, val, out);
		if (target)
			dwarf_dealloc_die(target);
		return;
	}
	if (v->bitfield) {
		uint64_t w = 0;
		if (x->m->read(x->m->arg, v->addr, &w, 8) < (v->bitoff + v->bits + 7) / 8) {
			fail(x, "%s", "cannot read the bitfield");
			return;
		}
		dw_gdb_bits(&g, v->ty, (const uint8_t *)&w, 8, v->bitoff, v->bits, out);
		return;
	}
	if (!v->lval) { /* a cast's value */
		uint8_t b[8];
		memcpy(b, &v->v, 8);
		dw_gdb_value(&g, v->ty, b, 8, 0, out);
		return;
	}
	{
		uint64_t sz;
		char *text = NULL;
		size_t n = 0;
		FILE *msg = open_memstream(&text, &n);
		uint8_t *buf = msg ? dw_read_typed(x->d, v->ty, "the value", v->addr, x->m, &sz, msg) : NULL;
		if (msg)
			fclose(msg);
		if (!buf) {
			if (text && strchr(text, '\n'))
				*strchr(text, '\n') = 0;
			fail(x, "%s", text && !strncmp(text, "mdb: ", 5) ? text + 5 : "cannot read the value");
			free(text);
			return;
		}
		free(text);
		g.addr = v->addr;
		g.p0 = buf;
		dw_gdb_value(&g, v->ty, buf, sz, 0, out);
		free(buf);
	}
}

int dwarf_cmd_p(struct target *t, const char *text, enum dwarf_p_fmt fmt, bool name_prefix, const struct dwarf_mem *m,
		FILE *out)
{
	struct px x = { .t = t, .m = m, .s = text };
	struct xv v;
	char *res = NULL;
	size_t n = 0;
	FILE *o;
	const char *bare;
	if (!(x.d = dw_get(t, out)))
		return -1;
	dwarf_names_wanted(t);
	if (expr(&x, &v) == 0) {
		skip(&x);
		if (*x.s)
			fail(&x, "unexpected '%s'", x.s);
	}
	if (x.failed) {
		xv_free(&v);
		fprintf(out, "mdb: p: %s\n", x.e.msg);
		return -1;
	}
	if (v.untyped) {
		xv_free(&v);
		fprintf(out, "mdb: p: %s has no type in the symbol file's DWARF (cast it: p *(TYPE *)%s, or p &%s)\n", text,
			text, text);
		return -1;
	}
	o = open_memstream(&res, &n); /* the value first: an error in it prints no "$N = " */
	if (!o) {
		fprintf(out, "mdb: p: out of memory\n");
		return -1;
	}
	x.d->mem = m;
	print_result(&x, &v, fmt, o);
	x.d->mem = NULL;
	fclose(o);
	xv_free(&v);
	if (x.failed) {
		fprintf(out, "mdb: p: %s\n", x.e.msg);
		free(res);
		return -1;
	}
	bare = text + strspn(text, " \t");
	if (name_prefix && ident_len(bare) && !bare[ident_len(bare) + strspn(bare + ident_len(bare), " \t")])
		fprintf(out, "%.*s = ", (int)ident_len(bare), bare);
	fprintf(out, "$%u = %s\n", ++t->values, res);
	free(res);
	return 0;
}

int dwarf_cmd_object(struct target *t, const char *type, uint64_t addr, const struct dwarf_mem *m, FILE *out)
{
	struct dw *d = dw_get(t, out);
	struct dw_gdb g = { .d = d, .addr = addr };
	Dwarf_Die ty;
	uint64_t sz;
	uint8_t *buf;
	if (!d)
		return -1;
	if (!(ty = dw_lookup(t, d, type))) {
		fprintf(out, "mdb: no type '%s' in the symbol file's DWARF\n", type);
		return -1;
	}
	if ((buf = dw_read_typed(d, ty, type, addr, m, &sz, out)) != NULL) {
		d->mem = m;
		g.p0 = buf;
		fprintf(out, "%s ", type);
		dw_gdb_value(&g, ty, buf, sz, 0, out);
		fputc('\n', out);
		d->mem = NULL;
		free(buf);
	}
	dwarf_dealloc_die(ty);
	return buf ? 0 : -1;
}

int dw_expr_type(struct target *t, struct dw *d, const char *text, const struct dwarf_mem *m, char *buf, size_t len,
		 struct err *e)
{
	struct px x = { .t = t, .d = d, .m = m, .s = text };
	struct xv v;
	if (expr(&x, &v) == 0) {
		skip(&x);
		if (*x.s)
			fail(&x, "unexpected '%s'", x.s);
	}
	if (!x.failed && v.untyped)
		fail(&x, "%s", "a symbol without a type in the DWARF");
	if (x.failed) {
		xv_free(&v);
		*e = x.e;
		return -1;
	}
	if (v.ptrs)
		dw_decl(d, v.ty, v.ptrs, "", buf, len);
	else if (!v.ty)
		snprintf(buf, len, "%s", v.is_unsigned ? "unsigned long" : "long");
	else
		dw_type_name(d, v.ty, buf, len);
	xv_free(&v);
	return 0;
}
