/* undo: a domain's undo logs in memory (checkpoint.c's rollbacks read them).
 *
 * The live log is the latest checkpoint's instant, kept after its file is written
 * (instant.c): the old contents of each page first written since. When another instant
 * registers the domain's RAM (the next checkpoint, a dump, a live save) or a rollback
 * reads the files, the live log is not thrown away but frozen: its kept pages become a
 * store of that checkpoint's contents (struct undo_store; the pages whose copy is tainted,
 * a log started late, left out). A rollback to an older checkpoint K takes each page from
 * a store of a checkpoint on the way from K to the latest that the page was not written
 * after (checkpoint.c), and only the pages no store has from the files.
 *
 * Memory: the stores and the live log hold at most ckpt_undo_cap pages together
 * (config/checkpoint-undo-max MiB, 0: a quarter of the domain's RAM). A store frozen for
 * a checkpoint that has one already is merged into it (the same page is the same bytes).
 * Each freeze drops the oldest stores (and trims the newest) until the stores hold at
 * most three quarters of the cap, and the next live log may keep what is left, so the
 * latest checkpoint's log always has at least a quarter; a live log skips the pages its
 * checkpoint's stores have (instant_skip: they give them back). A store keeps its checkpoint's
 * machine state too, so a rollback that finds every page in memory reads no file. Deleting
 * a checkpoint frees its stores; a teardown frees them all. */
#include "internal.h"
#include "vmstate.h"

#include <stdlib.h>

uint64_t ckpt_undo_cap(struct domain *d)
{
	int64_t mib = hv_property_int(d->hv, "config/checkpoint-undo-max", 0);
	uint64_t all = d->mem.size / 4096;
	if (mib <= 0)
		return all / 4;
	return (uint64_t)mib * 256 < all ? (uint64_t)mib * 256 : all;
}

uint64_t ckpt_undo_room(struct domain *d, uint64_t cap)
{
	return d->ckpt.frozen_pages < cap ? cap - d->ckpt.frozen_pages : 0;
}

static void vs_free(struct vm_state *vs)
{
	if (vs) {
		vmstate_free(vs);
		free(vs);
	}
}

static void store_free(struct undo_store *s)
{
	for (uint64_t i = 0; i < s->n; i++)
		free(s->data[i]);
	free(s->data);
	free(s->pages);
	vs_free(s->vs);
	free(s);
}

/* The stores within max pages: the oldest dropped first, the newest trimmed last. */
static void stores_trim(struct ckpt_state *c, uint64_t max)
{
	while (c->frozen && c->frozen_pages > max) {
		struct undo_store *s = c->frozen;
		if (!s->next) { /* the newest alone is over: it keeps its first max pages */
			for (uint64_t i = max; i < s->n; i++)
				free(s->data[i]);
			c->frozen_pages -= s->n - max;
			s->n = max;
			if (max)
				break;
		}
		c->frozen = s->next;
		c->frozen_pages -= s->n;
		store_free(s);
	}
}

/* s (not counted yet) into t, a store of the same checkpoint: both hold that checkpoint's
 * contents, so a page in both is the same 4096 bytes (one copy freed). */
static void store_merge(struct ckpt_state *c, struct undo_store *t, struct undo_store *s)
{
	uint64_t i = 0, j = 0, k = 0, *pages = xcalloc(t->n + s->n + 1, sizeof(*pages));
	uint8_t **data = xcalloc(t->n + s->n + 1, sizeof(*data));
	while (i < t->n || j < s->n) {
		if (j == s->n || (i < t->n && t->pages[i] < s->pages[j])) {
			pages[k] = t->pages[i];
			data[k++] = t->data[i++];
		} else if (i == t->n || s->pages[j] < t->pages[i]) {
			pages[k] = s->pages[j];
			data[k++] = s->data[j++];
		} else {
			pages[k] = t->pages[i];
			data[k++] = t->data[i++];
			free(s->data[j++]);
		}
	}
	c->frozen_pages += k - t->n;
	free(t->pages);
	free(t->data);
	t->pages = pages;
	t->data = data;
	t->n = k;
	if (!t->vs || !t->vs->nr_vcpus) {
		vs_free(t->vs);
		t->vs = s->vs;
		s->vs = NULL;
	}
	s->n = 0;
	store_free(s);
}

/* A new store of checkpoint s->id: merged into the one it has already, which becomes the
 * newest, or added as the newest; then the oldest go while the stores hold more than
 * three quarters of the cap (a quarter is always left to the live log). */
static void store_add(struct domain *d, struct undo_store *s)
{
	struct ckpt_state *c = &d->ckpt;
	struct undo_store **p, *t = NULL;
	uint64_t cap = ckpt_undo_cap(d);
	for (p = &c->frozen; *p; p = &(*p)->next)
		if ((*p)->id == s->id) {
			t = *p;
			*p = t->next;
			break;
		}
	if (t) {
		store_merge(c, t, s);
		s = t;
	} else {
		c->frozen_pages += s->n;
	}
	s->next = NULL;
	for (p = &c->frozen; *p; p = &(*p)->next)
		;
	*p = s;
	stores_trim(c, cap - cap / 4);
}

static void live_end(struct domain *d, bool keep)
{
	struct ckpt_state *c = &d->ckpt;
	uint64_t *pages, n;
	uint8_t **data;
	n = instant_take(keep && c->undo_id ? c->undo : NULL, c->undo_taint, &pages, &data);
	if (!keep || !c->undo_id)
		instant_end(c->undo);
	if (keep && c->undo_id && (n || c->undo_vs)) {
		struct undo_store *s = xcalloc(1, sizeof(*s));
		*s = (struct undo_store){ .id = c->undo_id, .n = n, .pages = pages, .data = data, .vs = c->undo_vs };
		c->undo_vs = NULL;
		store_add(d, s);
	}
	c->undo = NULL;
	vs_free(c->undo_vs);
	c->undo_vs = NULL;
	c->undo_id = 0;
	free(c->undo_taint);
	c->undo_taint = NULL;
}

void ckpt_undo_end_locked(struct domain *d, bool freeze)
{
	live_end(d, freeze);
}

static void undo_end(struct domain *d, bool freeze)
{
	pthread_mutex_lock(&d->ckpt.undo_lock);
	live_end(d, freeze);
	pthread_mutex_unlock(&d->ckpt.undo_lock);
}

void ckpt_undo_freeze(struct domain *d)
{
	undo_end(d, true);
}

void ckpt_undo_drop(struct domain *d)
{
	undo_end(d, false);
}

void ckpt_undo_forget(struct domain *d, uint64_t id)
{
	struct undo_store **p;
	pthread_mutex_lock(&d->ckpt.undo_lock);
	for (p = &d->ckpt.frozen; *p;) {
		struct undo_store *s = *p;
		if (s->id != id) {
			p = &s->next;
			continue;
		}
		*p = s->next;
		d->ckpt.frozen_pages -= s->n;
		store_free(s);
	}
	pthread_mutex_unlock(&d->ckpt.undo_lock);
}

void ckpt_undo_free(struct domain *d)
{
	pthread_mutex_lock(&d->ckpt.undo_lock);
	live_end(d, false);
	stores_trim(&d->ckpt, 0);
	pthread_mutex_unlock(&d->ckpt.undo_lock);
}

struct vm_state *ckpt_undo_state(struct domain *d, uint64_t id)
{
	for (struct undo_store *s = d->ckpt.frozen; s; s = s->next)
		if (s->id == id && s->vs && s->vs->nr_vcpus)
			return s->vs;
	return NULL;
}

uint64_t *ckpt_undo_kept(struct domain *d, uint64_t id)
{
	uint64_t *bm = NULL;
	for (struct undo_store *s = d->ckpt.frozen; s; s = s->next)
		if (s->id == id)
			for (uint64_t i = 0; i < s->n; i++) {
				if (!bm)
					bm = xcalloc(MEM_BITMAP_WORDS(&d->mem), sizeof(uint64_t));
				bm[s->pages[i] / 64] |= 1ull << (s->pages[i] % 64);
			}
	return bm;
}
