/* dwarf_names: the names of the symbol file's types for the shell's completion: the
 * struct, union and enum tags ("struct thread"), typedefs and base types of the top level
 * of every compile unit, read once on a private libdwarf handle (in a thread started by
 * dwarf_names_prefetch, or on first use), sorted and without duplicates; and the members
 * of one of them. */
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

struct type_name {
	char *name;  /* "struct thread", "uint64_t" */
	const char *kind; /* "struct", "union", "enum" (these literals), or NULL */
	Dwarf_Off off; /* its DIE in .debug_info */
};

struct names {
	pthread_t thread;
	bool started, joined;
	_Atomic bool stop; /* dwarf_names_free while the thread reads: it stops at the next unit */
	struct dwarf_obj *obj; /* the private handle, kept for the members */
	Dwarf_Debug dbg;
	struct type_name *v;
	size_t n, cap;
	uint32_t *seen; /* a hash set of the names (index + 1 into v): each unit repeats the common ones */
	size_t seen_cap;
	const char **list; /* the names alone, for dwarf_type_names */
	uint64_t build_ns;
};

static int by_name(const void *a, const void *b)
{
	const struct type_name *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static uint64_t hash(const char *kind, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)(uintptr_t)kind; /* kind: one of three literals, or NULL */
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static bool same(const struct type_name *x, const char *kind, const char *name)
{
	return x->kind == kind && !strcmp(x->name + (kind ? strlen(kind) + 1 : 0), name);
}

static void grow_seen(struct names *s)
{
	free(s->seen);
	s->seen_cap = s->seen_cap ? s->seen_cap * 2 : 1 << 14;
	s->seen = xcalloc(s->seen_cap, sizeof(*s->seen));
	for (size_t i = 0; i < s->n; i++) {
		const char *kind = s->v[i].kind;
		size_t h = hash(kind, s->v[i].name + (kind ? strlen(kind) + 1 : 0)) & (s->seen_cap - 1);
		while (s->seen[h])
			h = (h + 1) & (s->seen_cap - 1);
		s->seen[h] = (uint32_t)i + 1;
	}
}

static void add(struct names *s, const char *kind, const char *name, Dwarf_Off off)
{
	size_t kl = kind ? strlen(kind) + 1 : 0, nl = strlen(name), h;
	char *full;
	if (s->n * 2 >= s->seen_cap)
		grow_seen(s);
	for (h = hash(kind, name) & (s->seen_cap - 1); s->seen[h]; h = (h + 1) & (s->seen_cap - 1))
		if (same(&s->v[s->seen[h] - 1], kind, name))
			return; /* the first of each name stays */
	s->seen[h] = (uint32_t)s->n + 1;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	full = malloc(kl + nl + 1);
	if (!full)
		abort();
	if (kind) {
		memcpy(full, kind, kl - 1);
		full[kl - 1] = ' ';
	}
	memcpy(full + kl, name, nl + 1);
	s->v[s->n].name = full;
	s->v[s->n].kind = kind;
	s->v[s->n++].off = off;
}

/* One pass over the top-level DIEs of every unit. */
static void *build(void *arg)
{
	struct names *s = arg;
	Dwarf_Unsigned next = 0;
	uint64_t t0 = time_ns();
	while (!s->stop &&
	       dwarf_next_cu_header_d(s->dbg, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &next, NULL, NULL) == DW_DLV_OK) {
		Dwarf_Die cu = NULL, child = NULL;
		if (dwarf_siblingof_b(s->dbg, NULL, 1, &cu, NULL) != DW_DLV_OK)
			continue;
		if (dwarf_child(cu, &child, NULL) != DW_DLV_OK)
			child = NULL;
		while (child) {
			Dwarf_Die sib = NULL;
			Dwarf_Half tag = 0;
			Dwarf_Bool decl = 0;
			Dwarf_Off off = 0;
			char *name = NULL;
			dwarf_tag(child, &tag, NULL);
			bool tagged = tag == DW_TAG_structure_type || tag == DW_TAG_union_type || tag == DW_TAG_enumeration_type;
			if ((tagged || tag == DW_TAG_typedef || tag == DW_TAG_base_type) &&
			    dwarf_diename(child, &name, NULL) == DW_DLV_OK &&
			    !(tagged && dwarf_hasattr(child, DW_AT_declaration, &decl, NULL) == DW_DLV_OK && decl) &&
			    dwarf_dieoffset(child, &off, NULL) == DW_DLV_OK)
				add(s, tag == DW_TAG_structure_type ? "struct" : tag == DW_TAG_union_type ? "union"
				       : tag == DW_TAG_enumeration_type ? "enum" : NULL, name, off);
			if (dwarf_siblingof_b(s->dbg, child, 1, &sib, NULL) != DW_DLV_OK)
				sib = NULL;
			dwarf_dealloc_die(child);
			child = sib;
		}
		dwarf_dealloc_die(cu);
	}
	free(s->seen);
	s->seen = NULL;
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), by_name);
	s->list = xcalloc(s->n + 1, sizeof(*s->list));
	for (size_t i = 0; i < s->n; i++)
		s->list[i] = s->v[i].name;
	s->build_ns = time_ns() - t0;
	return NULL;
}

static struct names *names_get(struct target *t, bool wait)
{
	struct names *s = t->type_names;
	void *dbg;
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		t->type_names = s;
		if (t->symfile && (s->obj = dwarf_obj_open(t->symfile, &dbg)) != NULL) {
			s->dbg = dbg;
			s->started = pthread_create(&s->thread, NULL, build, s) == 0;
			if (!s->started)
				build(s);
		}
		s->joined = !s->started;
	}
	if (wait && !s->joined) {
		pthread_join(s->thread, NULL);
		s->joined = true;
	}
	return s;
}

void dwarf_names_prefetch(struct target *t)
{
	names_get(t, false);
}

const char *const *dwarf_type_names(struct target *t, size_t *n, uint64_t *build_ns)
{
	struct names *s = names_get(t, true);
	static const char *const none[] = { NULL };
	*n = s->n;
	if (build_ns)
		*build_ns = s->build_ns;
	return s->list ? s->list : none;
}

char **dwarf_type_members(struct target *t, const char *type, size_t *n)
{
	struct names *s = names_get(t, true);
	struct type_name key = { .name = (char *)type }, *hit = NULL;
	Dwarf_Die ty = NULL, m = NULL;
	char **v = NULL;
	size_t cap = 0;
	*n = 0;
	if (s->n)
		hit = bsearch(&key, s->v, s->n, sizeof(*s->v), by_name);
	if (!hit && strncmp(type, "struct ", 7) && strncmp(type, "union ", 6)) { /* "thread" for "struct thread" */
		char full[160];
		snprintf(full, sizeof(full), "struct %s", type);
		key.name = full;
		hit = s->n ? bsearch(&key, s->v, s->n, sizeof(*s->v), by_name) : NULL;
	}
	if (!hit || dwarf_offdie_b(s->dbg, hit->off, 1, &ty, NULL) != DW_DLV_OK)
		return NULL;
	for (int i = 0; i < 8; i++) { /* through typedefs to the struct or union */
		Dwarf_Half tag = 0;
		Dwarf_Off off;
		Dwarf_Die next = NULL;
		dwarf_tag(ty, &tag, NULL);
		if (tag != DW_TAG_typedef)
			break;
		if (dwarf_dietype_offset(ty, &off, NULL) != DW_DLV_OK || dwarf_offdie_b(s->dbg, off, 1, &next, NULL) != DW_DLV_OK)
			break;
		dwarf_dealloc_die(ty);
		ty = next;
	}
	if (dwarf_child(ty, &m, NULL) != DW_DLV_OK)
		m = NULL;
	while (m) {
		Dwarf_Die sib = NULL;
		Dwarf_Half tag = 0;
		char *name = NULL;
		if (dwarf_tag(m, &tag, NULL) == DW_DLV_OK && tag == DW_TAG_member && dwarf_diename(m, &name, NULL) == DW_DLV_OK) {
			if (*n + 1 >= cap) {
				cap = cap ? cap * 2 : 32;
				v = realloc(v, cap * sizeof(*v));
				if (!v)
					abort();
			}
			v[(*n)++] = xstrdup(name);
			v[*n] = NULL;
		}
		if (dwarf_siblingof_b(s->dbg, m, 1, &sib, NULL) != DW_DLV_OK)
			sib = NULL;
		dwarf_dealloc_die(m);
		m = sib;
	}
	dwarf_dealloc_die(ty);
	return v;
}

void dwarf_names_free(struct target *t)
{
	struct names *s = t->type_names;
	if (!s)
		return;
	if (!s->joined) {
		s->stop = true;
		pthread_join(s->thread, NULL);
	}
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	free(s->list);
	if (s->obj)
		dwarf_obj_close(s->obj);
	free(s);
	t->type_names = NULL;
}
