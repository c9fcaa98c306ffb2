/* dwarf_names: the index of the symbol file's types: the struct, union and enum tags
 * ("struct thread"), typedefs and base types of the top level of every compile unit, each
 * with its first defining DIE. From the type cache (type_cache.c) when it is valid, else
 * read once on a private libdwarf handle in a thread that publishes each unit's names as
 * it goes (lookups wait only until it has passed theirs) and writes the cache at the end.
 * Type lookups (dwarf.c) and the shell's completion (the sorted names, the members of one)
 * use it. */
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"

static const char *const kind_word[] = { NULL, "struct", "union", "enum" };

struct type_name {
	char *name;  /* "struct thread", "uint64_t" */
	enum type_kind kind;
	Dwarf_Off off; /* its DIE in .debug_info */
};

struct names {
	pthread_mutex_t lock; /* v, n, seen and done, while the thread scans */
	pthread_cond_t grew;  /* after each unit the scan added, and when it is done */
	pthread_cond_t demand; /* a lookup waits, types are wanted, or stop: the scan goes on */
	unsigned waiting;      /* lookups waiting for the scan */
	bool threaded;         /* the scan runs in its own thread (else it must never pause) */
	pthread_t thread;
	bool started, joined;
	bool wanted; /* the user asked for types: worth waiting at exit to write the cache */
	_Atomic bool stop; /* dwarf_names_free while the thread reads: it stops at the next unit */
	bool done;         /* v is complete and sorted, list made */
	const char *symfile;
	struct dwarf_obj *obj; /* the private handle, kept for the members */
	Dwarf_Debug dbg;
	struct type_name *v;
	size_t n, cap;
	uint32_t *seen; /* a hash set of the names (index + 1 into v): each unit repeats the common ones */
	size_t seen_cap;
	const char **list; /* the names alone, for dwarf_type_names */
	uint64_t build_ns;
	struct type_cache *cache; /* a valid cache answers lookups: no scan */
	struct type_cache_key key;
	char path[4096]; /* the cache file to write after the scan; "" for none */
	bool debug;      /* HVKIT_DEBUG_TYPES */
};

__attribute__((format(printf, 2, 3))) static void note(const struct names *s, const char *fmt, ...)
{
	va_list ap;
	char line[1200];
	if (!s->debug)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "hvmdb: types: %s\n", line); /* one call: the scan thread's lines do not interleave */
}

static int by_name(const void *a, const void *b)
{
	const struct type_name *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static size_t kind_len(enum type_kind kind)
{
	return kind_word[kind] ? strlen(kind_word[kind]) + 1 : 0;
}

static uint64_t hash(enum type_kind kind, const char *name)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)kind;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	return h;
}

static bool same(const struct type_name *x, enum type_kind kind, const char *name)
{
	return x->kind == kind && !strcmp(x->name + kind_len(kind), name);
}

static void grow_seen(struct names *s)
{
	free(s->seen);
	s->seen_cap = s->seen_cap ? s->seen_cap * 2 : 1 << 14;
	s->seen = xcalloc(s->seen_cap, sizeof(*s->seen));
	for (size_t i = 0; i < s->n; i++) {
		size_t h = hash(s->v[i].kind, s->v[i].name + kind_len(s->v[i].kind)) & (s->seen_cap - 1);
		while (s->seen[h])
			h = (h + 1) & (s->seen_cap - 1);
		s->seen[h] = (uint32_t)i + 1;
	}
}

/* The entry for the name in the hash set, or NULL; *slot: where it would go. */
static struct type_name *seen_find(const struct names *s, enum type_kind kind, const char *name, size_t *slot)
{
	size_t h;
	for (h = hash(kind, name) & (s->seen_cap - 1); s->seen[h]; h = (h + 1) & (s->seen_cap - 1))
		if (same(&s->v[s->seen[h] - 1], kind, name))
			return &s->v[s->seen[h] - 1];
	if (slot)
		*slot = h;
	return NULL;
}

static void push(struct names *s, enum type_kind kind, const char *name, Dwarf_Off off)
{
	size_t kl = kind_len(kind), nl = strlen(name);
	char *full;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	full = malloc(kl + nl + 1);
	if (!full)
		abort();
	if (kl) {
		memcpy(full, kind_word[kind], kl - 1);
		full[kl - 1] = ' ';
	}
	memcpy(full + kl, name, nl + 1);
	s->v[s->n].name = full;
	s->v[s->n].kind = kind;
	s->v[s->n++].off = off;
}

static void add(struct names *s, enum type_kind kind, const char *name, Dwarf_Off off)
{
	size_t h;
	if (s->n * 2 >= s->seen_cap)
		grow_seen(s);
	if (seen_find(s, kind, name, &h))
		return; /* the first of each name stays */
	s->seen[h] = (uint32_t)s->n + 1;
	push(s, kind, name, off);
}

/* Sorts v and makes the list; under the lock. */
static void finish(struct names *s)
{
	free(s->seen);
	s->seen = NULL;
	s->seen_cap = 0;
	if (s->n)
		qsort(s->v, s->n, sizeof(*s->v), by_name);
	s->list = xcalloc(s->n + 1, sizeof(*s->list));
	for (size_t i = 0; i < s->n; i++)
		s->list[i] = s->v[i].name;
	s->done = true;
}

static void write_cache(struct names *s)
{
	struct type_cache_entry *e = xcalloc(s->n ? s->n : 1, sizeof(*e));
	struct err err;
	uint64_t t0 = time_ns();
	for (size_t i = 0; i < s->n; i++) {
		e[i].kind = s->v[i].kind;
		e[i].name = s->v[i].name + kind_len(s->v[i].kind);
		e[i].off = s->v[i].off;
	}
	if (type_cache_write(s->path, &s->key, e, s->n, &err) < 0)
		note(s, "cache not written: %s", err.msg);
	else
		note(s, "cache written: %s (%zu names, %.3f s)", s->path, s->n, (double)(time_ns() - t0) / 1e9);
	free(e);
}

struct found { enum type_kind kind; const char *name; Dwarf_Off off; };

/* One pass over the top-level DIEs of every unit; each unit's names are published at its end. */
static void *build(void *arg)
{
	struct names *s = arg;
	Dwarf_Unsigned next = 0;
	uint64_t t0 = time_ns();
	struct found *batch = NULL;
	size_t nb = 0, capb = 0;
	while (!s->stop &&
	       dwarf_next_cu_header_d(s->dbg, 1, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, &next, NULL, NULL) == DW_DLV_OK) {
		Dwarf_Die cu = NULL, child = NULL;
		if (dwarf_siblingof_b(s->dbg, NULL, 1, &cu, NULL) != DW_DLV_OK)
			continue;
		if (dwarf_child(cu, &child, NULL) != DW_DLV_OK)
			child = NULL;
		nb = 0;
		while (child) {
			Dwarf_Die sib = NULL;
			Dwarf_Half tag = 0;
			Dwarf_Bool decl = 0;
			Dwarf_Off off = 0;
			char *name = NULL;
			dwarf_tag(child, &tag, NULL);
			enum type_kind kind = tag == DW_TAG_structure_type ? TYPE_STRUCT : tag == DW_TAG_union_type ? TYPE_UNION
					      : tag == DW_TAG_enumeration_type ? TYPE_ENUM : TYPE_OTHER;
			if ((kind || tag == DW_TAG_typedef || tag == DW_TAG_base_type) &&
			    dwarf_diename(child, &name, NULL) == DW_DLV_OK &&
			    !(kind && dwarf_hasattr(child, DW_AT_declaration, &decl, NULL) == DW_DLV_OK && decl) &&
			    dwarf_dieoffset(child, &off, NULL) == DW_DLV_OK) {
				if (nb == capb) {
					capb = capb ? capb * 2 : 256;
					batch = realloc(batch, capb * sizeof(*batch));
					if (!batch)
						abort();
				}
				/* the name points into the mapped file: it outlives the DIE */
				batch[nb++] = (struct found){ kind, name, off };
			}
			if (dwarf_siblingof_b(s->dbg, child, 1, &sib, NULL) != DW_DLV_OK)
				sib = NULL;
			dwarf_dealloc_die(child);
			child = sib;
		}
		dwarf_dealloc_die(cu);
		if (nb) {
			pthread_mutex_lock(&s->lock);
			for (size_t i = 0; i < nb; i++)
				add(s, batch[i].kind, batch[i].name, batch[i].off);
			pthread_mutex_unlock(&s->lock);
			pthread_cond_broadcast(&s->grew);
		}
		/* Only the Linux helpers' lookups started it (nobody asked for types): read no
		 * further than they need, as the walk it replaced did, until one waits again. */
		pthread_mutex_lock(&s->lock);
		while (s->threaded && !s->stop && !s->wanted && !s->waiting)
			pthread_cond_wait(&s->demand, &s->lock);
		pthread_mutex_unlock(&s->lock);
	}
	free(batch);
	pthread_mutex_lock(&s->lock);
	finish(s);
	s->build_ns = time_ns() - t0;
	pthread_mutex_unlock(&s->lock);
	pthread_cond_broadcast(&s->grew);
	if (s->stop)
		return NULL;
	note(s, "scanned .debug_info: %zu names in %.3f s", s->n, (double)s->build_ns / 1e9);
	if (s->path[0])
		write_cache(s);
	return NULL;
}

static bool obj_get(struct names *s)
{
	void *dbg;
	if (s->obj)
		return true;
	if (!s->symfile || !(s->obj = dwarf_obj_open(s->symfile, &dbg)))
		return false;
	s->dbg = dbg;
	return true;
}

static void scan_start(struct names *s)
{
	if (!obj_get(s)) {
		pthread_mutex_lock(&s->lock);
		finish(s);
		pthread_mutex_unlock(&s->lock);
		return;
	}
	note(s, "scanning .debug_info");
	s->threaded = true;
	s->started = pthread_create(&s->thread, NULL, build, s) == 0;
	if (!s->started) {
		s->threaded = false;
		build(s);
	}
	s->joined = !s->started;
}

/* Forgets what came from the cache and scans instead. */
static void drop_cache(struct names *s)
{
	type_cache_close(s->cache);
	s->cache = NULL;
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->list);
	s->list = NULL;
	s->n = 0;
	s->done = false;
	scan_start(s);
}

static struct names *names_get(struct target *t)
{
	struct names *s = t->type_names;
	struct err e;
	if (s)
		return s;
	s = xcalloc(1, sizeof(*s));
	t->type_names = s;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->grew, NULL);
	pthread_cond_init(&s->demand, NULL);
	s->debug = getenv("HVKIT_DEBUG_TYPES") && *getenv("HVKIT_DEBUG_TYPES");
	s->symfile = t->symfile;
	if (!s->symfile) {
		finish(s);
		return s;
	}
	if (type_cache_key(s->symfile, &s->key, &e) < 0 || type_cache_path(&s->key, s->path, sizeof(s->path), &e) < 0) {
		s->path[0] = 0;
		note(s, "no cache: %s", e.msg);
	} else if ((s->cache = type_cache_open(s->path, &s->key, &e)) != NULL) {
		note(s, "from the cache %s", s->path);
		return s;
	} else {
		note(s, "cache not used: %s", e.msg);
	}
	scan_start(s);
	return s;
}

static void cache_row(void *arg, enum type_kind kind, const char *name, uint64_t off)
{
	push(arg, kind, name, off);
}

/* The whole index: from the cache (read now), or when the scan is done. */
/* Types are wanted: the scan runs to its end (and the cache is written at exit). */
static void want(struct names *s)
{
	pthread_mutex_lock(&s->lock);
	s->wanted = true;
	pthread_mutex_unlock(&s->lock);
	pthread_cond_broadcast(&s->demand);
}

static struct names *names_all(struct target *t)
{
	struct names *s = names_get(t);
	struct err e;
	want(s);
	if (s->cache && !s->done) {
		if (type_cache_each(s->cache, cache_row, s, &e) < 0) {
			note(s, "cache dropped: %s", e.msg);
			drop_cache(s);
		} else {
			finish(s);
		}
	}
	pthread_mutex_lock(&s->lock);
	while (!s->done)
		pthread_cond_wait(&s->grew, &s->lock);
	pthread_mutex_unlock(&s->lock);
	return s;
}

int dwarf_names_find(struct target *t, enum type_kind kind, const char *name, uint64_t *off)
{
	struct names *s = names_get(t);
	struct type_name *hit = NULL;
	struct err e;
	char full[1100];
	if (s->cache) {
		int r = type_cache_lookup(s->cache, kind, name, off, &e);
		if (r >= 0)
			return r;
		note(s, "cache dropped: %s", e.msg);
		drop_cache(s);
	}
	if (!s->obj)
		return -1;
	snprintf(full, sizeof(full), "%s%s%s", kind_word[kind] ? kind_word[kind] : "", kind_word[kind] ? " " : "", name);
	pthread_mutex_lock(&s->lock);
	s->waiting++;
	pthread_cond_broadcast(&s->demand);
	for (;;) {
		if (s->done) {
			struct type_name key = { .name = full };
			hit = s->n ? bsearch(&key, s->v, s->n, sizeof(*s->v), by_name) : NULL;
			if (hit && hit->kind != kind)
				hit = NULL;
			break;
		}
		if (s->seen && (hit = seen_find(s, kind, name, NULL)) != NULL)
			break; /* the scan has passed the first definition */
		pthread_cond_wait(&s->grew, &s->lock);
	}
	s->waiting--;
	if (hit)
		*off = hit->off;
	pthread_mutex_unlock(&s->lock);
	return hit != NULL;
}

void dwarf_names_distrust(struct target *t)
{
	struct names *s = names_get(t);
	if (!s->cache)
		return;
	note(s, "cache dropped: it names a DIE that is not the type");
	drop_cache(s);
}

void dwarf_names_wanted(struct target *t)
{
	want(names_get(t));
}

void dwarf_names_prefetch(struct target *t)
{
	dwarf_names_wanted(t);
}

const char *const *dwarf_type_names(struct target *t, size_t *n, uint64_t *build_ns)
{
	struct names *s = names_all(t);
	static const char *const none[] = { NULL };
	*n = s->n;
	if (build_ns)
		*build_ns = s->build_ns;
	return s->list ? s->list : none;
}

char **dwarf_type_members(struct target *t, const char *type, size_t *n)
{
	struct names *s = names_all(t);
	struct type_name key = { .name = (char *)type }, *hit = NULL;
	Dwarf_Die ty = NULL, m = NULL;
	char **v = NULL, *dn = NULL;
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
	if (!hit || !obj_get(s) || dwarf_offdie_b(s->dbg, hit->off, 1, &ty, NULL) != DW_DLV_OK)
		return NULL;
	if (dwarf_diename(ty, &dn, NULL) != DW_DLV_OK || strcmp(dn, hit->name + kind_len(hit->kind))) {
		dwarf_dealloc_die(ty); /* a cache that lies */
		return NULL;
	}
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
	if (s->started && !s->joined) {
		pthread_mutex_lock(&s->lock);
		if (s->path[0] && s->wanted)
			note(s, "waiting for the scan, to write the cache");
		else
			s->stop = true;
		pthread_mutex_unlock(&s->lock);
		pthread_cond_broadcast(&s->demand); /* a paused scan wakes to stop or to finish */
		pthread_join(s->thread, NULL);
	}
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
	free(s->seen);
	free(s->list);
	type_cache_close(s->cache);
	if (s->obj)
		dwarf_obj_close(s->obj);
	pthread_cond_destroy(&s->grew);
	pthread_cond_destroy(&s->demand);
	pthread_mutex_destroy(&s->lock);
	free(s);
	t->type_names = NULL;
}
