/* autockpt: checkpoints on a schedule (config/checkpoint-interval seconds, 0 = off),
 * keeping config/checkpoint-keep of them per domain. hv's loop looks once a second; a
 * domain that is due gets a thread that takes the checkpoint (tag auto-TIME) while the
 * domain runs. Incremental checkpoints need their chain, so a chain is only ever deleted
 * whole: the first automatic checkpoint is full, and so is the next one after
 * checkpoint-keep of them, and the
 * older chains of automatic checkpoints go once the newer ones hold at least
 * checkpoint-keep. Checkpoints taken by hand are never deleted here. */
#include "internal.h"
#include "contain.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AUTO_PREFIX "auto-"

struct autojob {
	struct hv *hv;
	struct domain *d;
	unsigned keep;
	bool full;
};

static bool is_auto(const struct hv_ckpt_info *c)
{
	return !strncmp(c->tag, AUTO_PREFIX, strlen(AUTO_PREFIX));
}

/* The index of c's full root in v, or -1. */
static int root_of(const struct hv_ckpt_info *v, int n, int c)
{
	for (int hops = 0; c >= 0 && hops < n; hops++) {
		int p = -1;
		if (!v[c].incremental)
			return c;
		for (int i = 0; i < n; i++)
			if (!strcmp(v[i].tag, v[c].parent))
				p = i;
		c = p;
	}
	return -1;
}

/* Deletes the oldest chains made only of automatic checkpoints while the rest still
 * hold keep automatic ones; never the chain the newest checkpoint is in. */
static void prune(struct hv *hv, const char *name, unsigned keep)
{
	struct hv_ckpt_info *v;
	struct err e;
	int n = hv_checkpoint_list(hv, name, &v, &e), autos = 0;
	if (n <= 0) {
		free(v);
		return;
	}
	int *root = xcalloc((size_t)n, sizeof(int));
	for (int i = 0; i < n; i++) {
		root[i] = root_of(v, n, i);
		autos += is_auto(&v[i]);
	}
	for (int r = 0; r < n; r++) { /* oldest roots first (the list is oldest first) */
		int size = 0;
		bool all_auto = true;
		if (root[r] != r || root[n - 1] == r)
			continue;
		for (int i = 0; i < n; i++)
			if (root[i] == r) {
				size++;
				all_auto &= is_auto(&v[i]);
			}
		if (!all_auto)
			continue; /* a chain with a checkpoint taken by hand stays */
		if (autos - size < (int)keep)
			break;
		for (int i = n - 1; i >= 0; i--) /* children before their parents */
			if (root[i] == r && hv_checkpoint_delete(hv, name, v[i].tag, &e) < 0)
				hv_log(hv, "%s: old checkpoint %s not deleted: %s", name, v[i].tag, e.msg);
		autos -= size;
	}
	free(root);
	free(v);
}

static void *auto_run(void *arg)
{
	struct autojob *j = arg;
	struct domain *d = j->d;
	struct hv_save_opts o = { 0 };
	struct hv_ckpt_stats st;
	struct err e;
	char tag[64];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(tag, sizeof(tag), AUTO_PREFIX "%Y%m%d-%H%M%S", &tm);
	if (j->full) { /* a new chain: the next one builds on this one */
		pthread_mutex_lock(&d->ckpt.lock);
		d->ckpt.valid = false;
		pthread_mutex_unlock(&d->ckpt.lock);
	}
	atomic_fetch_add(&d->ckpt.busy, 1);
	if (hv_domain_checkpoint(j->hv, d, tag, &o, &st, &e) < 0) {
		hv_log(j->hv, "%s: scheduled checkpoint failed: %s", d->name, e.msg);
	} else {
		d->ckpt.auto_count = st.incremental ? d->ckpt.auto_count + 1 : 1;
		if (!j->hv->opt.quiet)
			hv_log(j->hv, "%s: checkpoint %s taken (%s, %llu pages, paused %.3f ms)", d->name, st.tag,
			       st.incremental ? "incremental" : "full", (unsigned long long)st.pages, st.pause_ns / 1e6);
		prune(j->hv, d->name, j->keep);
	}
	atomic_fetch_sub(&d->ckpt.busy, 1);
	if (atomic_fetch_sub(&d->dump_active, 1) == 1)
		hv_wake(j->hv);
	free(j);
	return NULL;
}

int autockpt_tick(struct hv *hv)
{
	int64_t interval = hv_property_int(hv, "config/checkpoint-interval", 0);
	int64_t keep = hv_property_int(hv, "config/checkpoint-keep", 8);
	uint64_t now = time_ns();
	if (interval <= 0)
		return -1;
	for (int i = 0; i < HV_MAX_DOMAINS; i++) {
		struct domain *d = hv->domains[i];
		enum domain_state st;
		pthread_attr_t a;
		pthread_t th;
		struct autojob *j;
		if (!d || atomic_load(&d->dump_active) || !d->vcpus || d->vm_fd < 0)
			continue;
		st = domain_state_now(d);
		if (st != DOMAIN_RUNNING && st != DOMAIN_BLOCKED)
			continue;
		if (!d->ckpt.auto_next) { /* the first one interval from now (or from the start) */
			d->ckpt.auto_next = now + (uint64_t)interval * 1000000000ull;
			continue;
		}
		if (now < d->ckpt.auto_next)
			continue;
		d->ckpt.auto_next = now + (uint64_t)interval * 1000000000ull;
		j = xcalloc(1, sizeof(*j));
		*j = (struct autojob){ .hv = hv, .d = d, .keep = keep > 0 ? (unsigned)keep : 1,
				       .full = !d->ckpt.auto_count || d->ckpt.auto_count >= (keep > 0 ? (unsigned)keep : 1) };
		atomic_fetch_add(&d->dump_active, 1); /* taken here, in hv's loop: no teardown slips in */
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &a, auto_run, j)) {
			atomic_fetch_sub(&d->dump_active, 1);
			free(j);
		}
		pthread_attr_destroy(&a);
	}
	return 1000; /* look again in a second */
}
