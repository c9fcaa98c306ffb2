/* checkpoint: live checkpoints of a running domain and rollback to them (hvctl
 * checkpoint, checkpoint-list, checkpoint-delete, rollback; on_crash = "rollback").
 *
 * A checkpoint is a domain image in STATE_DIR/checkpoints/NAME/TAG.hvimg. Taking one
 * pauses the domain only for the instant (instant.c) and writes while it runs. The first
 * is a full image and turns KVM's dirty log on; each later one holds only the pages
 * written since the one before (IMAGE_F_INCREMENTAL, its parent's image id), so a chain
 * of them restores exactly.
 *
 * A rollback to TAG copies back only what changed: the pages written since the latest
 * checkpoint (the dirty log), plus, when TAG is older, the pages the checkpoints after it
 * hold; each page is read from the newest image of TAG's chain that has it. So its cost
 * follows the dirty set, not the RAM size. Without that history (after hv restarted, or
 * TAG on another branch) every page is read back from the chain.
 *
 * The undo log: a checkpoint's instant (instant.c) is not ended when its file is written
 * but goes on keeping the old contents of each page first written since (up to a quarter
 * of RAM), so a rollback to the latest checkpoint copies those back from memory, with no
 * file read or decompression; pages it does not have come from the files. A rollback
 * from the files starts a new log for its checkpoint, so the next one to it is from
 * memory too. Another instant (a dump, a live save, the next checkpoint), a teardown or
 * deleting the latest checkpoint ends the log. */
#include "internal.h"
#include "contain.h"
#include "vmstate.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dump/dump.h"
#include "dump/image.h"

#define CKPT_SUFFIX ".hvimg"
#define CKPT_MAX 4096 /* checkpoints of one domain */

static int ckpt_dir(struct hv *hv, const char *name, char *dir, size_t len, bool create, struct err *e)
{
	char top[4096];
	const char *sd = hv->opt.state_dir ? hv->opt.state_dir : HV_DEFAULT_STATE_DIR;
	if (snprintf(top, sizeof(top), "%s/checkpoints", sd) >= (int)sizeof(top) ||
	    snprintf(dir, len, "%s/%s", top, name) >= (int)len)
		return err_set(e, "%s: checkpoint directory path too long", name);
	if (create) {
		if (mkdir(sd, 0700) < 0 && errno != EEXIST)
			return err_errno(e, "%s", sd);
		if (mkdir(top, 0700) < 0 && errno != EEXIST)
			return err_errno(e, "%s", top);
		if (mkdir(dir, 0700) < 0 && errno != EEXIST)
			return err_errno(e, "%s", dir);
	}
	return 0;
}

static bool ckpt_tag_ok(const char *tag)
{
	size_t n = strlen(tag);
	if (n < 1 || n > 63 || tag[0] == '.' || tag[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(tag[i] >= 'a' && tag[i] <= 'z') && !(tag[i] >= 'A' && tag[i] <= 'Z') &&
		    !(tag[i] >= '0' && tag[i] <= '9') && tag[i] != '.' && tag[i] != '_' && tag[i] != '-')
			return false;
	return true;
}

/* One checkpoint file's header and tag. */
struct ckpt_ent {
	char tag[64];
	struct image_header h;
	uint64_t bytes;
};

static int read_header(const char *path, struct image_header *h, struct err *e)
{
	struct image_reader *r;
	struct stat st;
	int fd = file_open_regular(path, "", &st, e);
	if (fd < 0)
		return -1;
	r = image_reader_open(fd, h, e);
	close(fd);
	if (!r)
		return err_prefix(e, "%s", path);
	image_reader_close(r);
	return 0;
}

/* The domain's checkpoints, oldest first. Unreadable files are skipped. */
static int ckpt_scan(struct hv *hv, const char *name, struct ckpt_ent **out, struct err *e)
{
	char dir[4200], path[4600];
	struct ckpt_ent *v = NULL;
	struct dirent *de;
	size_t n = 0;
	DIR *dp;
	*out = NULL;
	if (ckpt_dir(hv, name, dir, sizeof(dir), false, e) < 0)
		return -1;
	dp = opendir(dir);
	if (!dp)
		return errno == ENOENT ? 0 : err_errno(e, "%s", dir);
	while ((de = readdir(dp)) && n < CKPT_MAX) {
		size_t l = strlen(de->d_name);
		struct err ie;
		struct stat sb;
		if (l <= strlen(CKPT_SUFFIX) || strcmp(de->d_name + l - strlen(CKPT_SUFFIX), CKPT_SUFFIX) ||
		    l - strlen(CKPT_SUFFIX) > 63)
			continue;
		v = xrealloc(v, (n + 1) * sizeof(*v));
		snprintf(v[n].tag, sizeof(v[n].tag), "%.*s", (int)(l - strlen(CKPT_SUFFIX)), de->d_name);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (!ckpt_tag_ok(v[n].tag) || read_header(path, &v[n].h, &ie) < 0 || stat(path, &sb) < 0)
			continue;
		v[n].bytes = (uint64_t)sb.st_size;
		n++;
	}
	closedir(dp);
	for (size_t i = 1; i < n; i++) /* oldest first: insertion sort by creation time */
		for (size_t j = i; j > 0 && v[j - 1].h.created_ns > v[j].h.created_ns; j--) {
			struct ckpt_ent t = v[j];
			v[j] = v[j - 1];
			v[j - 1] = t;
		}
	*out = v;
	return (int)n;
}

static void cache_drop(struct ckpt_state *c, uint64_t id);

static const struct ckpt_ent *by_id(const struct ckpt_ent *v, int n, uint64_t id)
{
	for (int i = 0; i < n; i++)
		if (v[i].h.image_id == id)
			return &v[i];
	return NULL;
}

static const struct ckpt_ent *by_tag(const struct ckpt_ent *v, int n, const char *tag)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v[i].tag, tag))
			return &v[i];
	return NULL;
}

/* ---- taking one */

struct ckpt_pause {
	struct vm_state vs;
	uint64_t *changed; /* incremental: the pages written since the parent */
	bool incremental;
};

static int ckpt_in_pause(struct domain *d, void *opaque, struct err *e)
{
	struct ckpt_pause *p = opaque;
	if (vmstate_get(d, &p->vs, e) < 0)
		return -1;
	if (d->ckpt.valid && d->mem.dirty_logging && d->ckpt.chain < CKPT_CHAIN_MAX) {
		p->changed = xcalloc(MEM_BITMAP_WORDS(&d->mem), sizeof(uint64_t));
		if (mem_dirty_fetch(&d->mem, d->vm_fd, p->changed, e) < 0)
			return -1;
		for (uint64_t w = 0; w < MEM_BITMAP_WORDS(&d->mem); w++) {
			p->changed[w] |= d->ckpt.dirty[w];
			d->ckpt.dirty[w] = 0;
		}
		p->incremental = true;
		return 0;
	}
	/* the first: a full image, and the log (on since before the pause) starts now: what
	 * it holds was written before the instant, and the image has it */
	{
		uint64_t *before = xcalloc(MEM_BITMAP_WORDS(&d->mem), sizeof(uint64_t));
		int rc = mem_dirty_fetch(&d->mem, d->vm_fd, before, e);
		free(before);
		if (rc < 0)
			return -1;
	}
	free(d->ckpt.dirty);
	d->ckpt.dirty = xcalloc(MEM_BITMAP_WORDS(&d->mem), sizeof(uint64_t));
	return 0;
}

/* The gfns of the memfd pages set in a bitmap (the RAM ranges' gpas). */
static uint64_t *gfns_of(struct domain *d, const uint64_t *bm, size_t *n)
{
	uint64_t *g = NULL;
	size_t cap = 0;
	*n = 0;
	for (int r = 0; r < d->mem.nr_ranges; r++) {
		uint64_t first = (uint64_t)(d->mem.ranges[r].hva - d->mem.base) / 4096, pages = d->mem.ranges[r].size / 4096;
		for (uint64_t p = 0; p < pages; p++) {
			uint64_t page = first + p;
			if (!(bm[page / 64] >> (page % 64) & 1))
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 1024;
				g = xrealloc(g, cap * sizeof(*g));
			}
			g[(*n)++] = d->mem.ranges[r].gpa / 4096 + p;
		}
	}
	return g;
}

int hv_domain_checkpoint(struct hv *hv, struct domain *d, const char *tag_in, const struct hv_save_opts *o,
			 struct hv_ckpt_stats *st, struct err *e)
{
	char dir[4200], path[4600], tag[64];
	struct ckpt_pause p = { 0 };
	struct image_header h;
	struct instant *in = NULL;
	struct image_src src = { .vs = &p.vs, .read = instant_read, .read_mt = true, .progress = o->progress,
				 .popaque = o->opaque };
	struct dump_out file = { .fd = -1 };
	char note[PARTIAL_NOTE_MAX] = "";
	uint64_t *gfns = NULL, t0 = time_ns();
	size_t ngfns = 0;
	enum domain_state was = domain_state_now(d);
	int ret = -1;

	memset(st, 0, sizeof(*st));
	if (image_save_check(d, "checkpointed", e) < 0)
		return -1;
	if (tag_in && !ckpt_tag_ok(tag_in))
		return err_set(e, "'%.80s' is not a checkpoint name (1 to 63 of A-Z a-z 0-9 . _ -, not starting with . or -)",
			       tag_in);
	pthread_mutex_lock(&d->ckpt.lock);
	if (ckpt_dir(hv, d->name, dir, sizeof(dir), true, e) < 0)
		goto unlock;
	if (tag_in) {
		snprintf(tag, sizeof(tag), "%s", tag_in);
	} else { /* as virsh: the time; a counter when two come in one second */
		time_t now = time(NULL);
		struct tm tm;
		localtime_r(&now, &tm);
		strftime(tag, sizeof(tag), "%Y%m%d-%H%M%S", &tm);
		for (int i = 2; i < 1000; i++) {
			snprintf(path, sizeof(path), "%s/%s%s", dir, tag, CKPT_SUFFIX);
			if (access(path, F_OK) < 0)
				break;
			strftime(tag, sizeof(tag), "%Y%m%d-%H%M%S", &tm);
			snprintf(tag + strlen(tag), sizeof(tag) - strlen(tag), "-%d", i);
		}
	}
	snprintf(path, sizeof(path), "%s/%s%s", dir, tag, CKPT_SUFFIX);
	if (access(path, F_OK) == 0) {
		err_set(e, "%s already has a checkpoint named %s", d->name, tag);
		goto unlock;
	}
	if (dump_out_create(&file, path, e) < 0)
		goto unlock;
	partial_note(hv, &file, note, sizeof(note));
	atomic_fetch_add(&d->dump_active, 1);
	/* a full one turns KVM's dirty log on while the domain runs: in the pause that costs
	 * an SRCU grace period and write-protecting all RAM in KVM's page tables */
	if (!(d->ckpt.valid && d->mem.dirty_logging) && !d->mem.dirty_logging &&
	    mem_dirty_log(&d->mem, d->vm_fd, true, e) < 0)
		goto out;
	in = instant_freeze(d, ckpt_in_pause, &p, e);
	if (!in)
		goto out;
	image_header_init(&h, HV_VERSION);
	h.flags |= IMAGE_F_CHECKPOINT;
	if (p.incremental) {
		h.flags |= IMAGE_F_INCREMENTAL;
		h.parent_id = d->ckpt.id;
		gfns = gfns_of(d, p.changed, &ngfns);
		src.gfns = gfns ? gfns : (uint64_t[1]){ 0 };
		src.ngfns = ngfns;
	}
	src.opaque = in;
	p.vs.state = was;
	{
		struct instant_stats is;
		instant_stats(in, &is);
		st->pause_ns = is.pause_ns;
		st->cow = is.cow;
		hv_log(hv, "%s: checkpoint %s paused %.3f ms: vCPUs out of KVM %.3f, state%s %.3f, %llu pages written "
			   "while arming protected again %.3f", d->name, tag, is.pause_ns / 1e6, is.hold_ns / 1e6,
		       p.incremental ? " and dirty log" : "", is.state_ns / 1e6, (unsigned long long)is.pages_reprotected,
		       is.wp_ns / 1e6);
	}
	if (image_write_file(d, &file, path, &h, &src, &st->file_bytes, e) < 0)
		goto out;
	st->incremental = p.incremental;
	st->pages = p.incremental ? ngfns : d->mem.size / 4096;
	snprintf(st->tag, sizeof(st->tag), "%s", tag);
	snprintf(d->ckpt.tag, sizeof(d->ckpt.tag), "%s", tag);
	d->ckpt.id = h.image_id;
	d->ckpt.valid = true;
	d->ckpt.chain = p.incremental ? d->ckpt.chain + 1 : 1;
	d->ckpt.count++;
	ret = 0;
	if (st->cow) { /* the instant goes on as the undo log of this checkpoint */
		pthread_mutex_lock(&d->ckpt.undo_lock);
		instant_keep(in, ckpt_undo_room(d, ckpt_undo_cap(d)));
		d->ckpt.undo = in;
		d->ckpt.undo_vs = xcalloc(1, sizeof(*d->ckpt.undo_vs));
		*d->ckpt.undo_vs = p.vs;
		memset(&p.vs, 0, sizeof(p.vs));
		d->ckpt.undo_id = h.image_id;
		in = NULL;
		pthread_mutex_unlock(&d->ckpt.undo_lock);
	}
out:
	instant_end(in);
	if (ret < 0 && p.changed) /* not taken: those pages still differ from the latest checkpoint */
		for (uint64_t w = 0; w < MEM_BITMAP_WORDS(&d->mem); w++)
			d->ckpt.dirty[w] |= p.changed[w];
	if (ret < 0 && !p.incremental && !d->ckpt.valid && d->mem.dirty_logging)
		mem_dirty_log(&d->mem, d->vm_fd, false, &(struct err){ 0 });
	dump_out_abort(&file);
	partial_forget(note);
	vmstate_free(&p.vs);
	free(p.changed);
	free(gfns);
	st->total_ns = time_ns() - t0;
	if (atomic_fetch_sub(&d->dump_active, 1) == 1)
		hv_wake(hv);
unlock:
	pthread_mutex_unlock(&d->ckpt.lock);
	return ret;
}

/* ---- listing and deleting */

int hv_checkpoint_list(struct hv *hv, const char *name, struct hv_ckpt_info **out, struct err *e)
{
	struct ckpt_ent *v;
	int n = ckpt_scan(hv, name, &v, e);
	struct hv_ckpt_info *o;
	*out = NULL;
	if (n <= 0) {
		free(v);
		return n;
	}
	o = xcalloc((size_t)n, sizeof(*o));
	for (int i = 0; i < n; i++) {
		const struct ckpt_ent *parent = v[i].h.parent_id ? by_id(v, n, v[i].h.parent_id) : NULL;
		snprintf(o[i].tag, sizeof(o[i].tag), "%s", v[i].tag);
		snprintf(o[i].parent, sizeof(o[i].parent), "%s",
			 parent ? parent->tag : v[i].h.parent_id ? "(missing)" : "");
		o[i].created_ns = v[i].h.created_ns;
		o[i].bytes = v[i].bytes;
		o[i].incremental = (v[i].h.flags & IMAGE_F_INCREMENTAL) != 0;
	}
	free(v);
	*out = o;
	return n;
}

int hv_checkpoint_delete(struct hv *hv, const char *name, const char *tag, struct err *e)
{
	struct ckpt_ent *v;
	const struct ckpt_ent *c;
	char dir[4200], path[4600];
	int n, children = 0;
	struct domain *d = hv_domain_by_name(hv, name);
	if (!ckpt_tag_ok(tag))
		return err_set(e, "'%.80s' is not a checkpoint name", tag);
	n = ckpt_scan(hv, name, &v, e);
	if (n < 0)
		return -1;
	c = by_tag(v, n, tag);
	if (!c) {
		free(v);
		return err_set(e, "%s has no checkpoint named %s", name, tag);
	}
	for (int i = 0; i < n; i++)
		children += v[i].h.parent_id == c->h.image_id;
	uint64_t c_id = c->h.image_id;
	free(v);
	if (children)
		return err_set(e, "%s's checkpoint %s has %d incremental checkpoint%s on top of it: delete %s first", name,
			       tag, children, children == 1 ? "" : "s", children == 1 ? "it" : "them");
	if (ckpt_dir(hv, name, dir, sizeof(dir), false, e) < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/%s%s", dir, tag, CKPT_SUFFIX);
	if (d) {
		pthread_mutex_lock(&d->ckpt.lock);
		cache_drop(&d->ckpt, c_id);
		ckpt_undo_forget(d, c_id); /* its contents in memory: no rollback can want them */
	}
	if (unlink(path) < 0) {
		if (d)
			pthread_mutex_unlock(&d->ckpt.lock);
		return err_errno(e, "%s", path);
	}
	if (d && d->ckpt.valid && !strcmp(d->ckpt.tag, tag)) {
		/* the latest is gone: the next checkpoint is a full one */
		ckpt_undo_drop(d);
		d->ckpt.valid = false;
		mem_dirty_log(&d->mem, d->vm_fd, false, &(struct err){ 0 });
	}
	if (d) {
		d->ckpt.count = d->ckpt.count ? d->ckpt.count - 1 : 0;
		pthread_mutex_unlock(&d->ckpt.lock);
	}
	return 0;
}

/* ---- the index cache: a rollback opens the same files again and again; reading a file
 * once (checksums, page descriptors) is what costs, not the pages it copies */

void ckpt_cache_free(struct ckpt_state *c)
{
	for (size_t i = 0; i < sizeof(c->cache) / sizeof(c->cache[0]); i++) {
		image_index_close(c->cache[i].ix);
		c->cache[i] = (struct ckpt_cached){ 0 };
	}
}

static void cache_drop(struct ckpt_state *c, uint64_t id)
{
	for (size_t i = 0; i < sizeof(c->cache) / sizeof(c->cache[0]); i++)
		if (c->cache[i].ix && c->cache[i].id == id) {
			image_index_close(c->cache[i].ix);
			c->cache[i] = (struct ckpt_cached){ 0 };
		}
}

/* The index of checkpoint file path, whose header said image id (the domain's lock held). */
static struct image_index *cache_get(struct ckpt_state *c, const char *path, uint64_t id, struct err *e)
{
	size_t n = sizeof(c->cache) / sizeof(c->cache[0]), victim = 0;
	struct image_header h;
	struct image_index *ix;
	for (size_t i = 0; i < n; i++) {
		if (c->cache[i].ix && c->cache[i].id == id) {
			c->cache[i].used = ++c->tick;
			return c->cache[i].ix;
		}
		if (!c->cache[i].ix || c->cache[i].used < c->cache[victim].used)
			victim = c->cache[i].ix ? (c->cache[victim].ix ? victim : i) : i;
	}
	for (size_t i = 0; i < n; i++) /* a free slot first, else the least recently used */
		if (!c->cache[i].ix) {
			victim = i;
			break;
		}
	ix = image_index_open_lazy(path, &h, e); /* a batch is checked when a page of it is first needed */
	if (!ix)
		return NULL;
	if (h.image_id != id) {
		image_index_close(ix);
		err_set(e, "%s changed while it was read", path);
		return NULL;
	}
	image_index_close(c->cache[victim].ix);
	c->cache[victim] = (struct ckpt_cached){ .id = id, .used = ++c->tick, .ix = ix };
	return ix;
}

/* ---- rollback */

/* TAG's chain, newest first: TAG, its parent, ..., the full image. */
struct chain {
	struct image_index *ix[CKPT_CHAIN_MAX]; /* in the domain's cache, which has room for all */
	const struct ckpt_ent *ent[CKPT_CHAIN_MAX];
	unsigned n;
};

static void chain_close(struct chain *c)
{
	c->n = 0; /* the indexes stay in the domain's cache */
}

/* How many images TAG's chain has (TAG and its parents to the full one). */
static unsigned chain_length(const struct ckpt_ent *v, int n, const struct ckpt_ent *tag)
{
	unsigned len = 0;
	for (const struct ckpt_ent *cur = tag; cur && len <= CKPT_CHAIN_MAX; len++)
		cur = (cur->h.flags & IMAGE_F_INCREMENTAL) ? by_id(v, n, cur->h.parent_id) : NULL;
	return len;
}

static int chain_open(struct ckpt_state *cs, struct chain *c, const char *dir, const struct ckpt_ent *v, int n,
		      const struct ckpt_ent *tag, struct err *e)
{
	const struct ckpt_ent *cur = tag;
	char path[4600];
	c->n = 0;
	while (cur) {
		if (c->n == sizeof(c->ix) / sizeof(c->ix[0])) {
			chain_close(c);
			return err_set(e, "checkpoint %s: its chain is longer than %zu", tag->tag, sizeof(c->ix) / sizeof(c->ix[0]));
		}
		snprintf(path, sizeof(path), "%s/%s%s", dir, cur->tag, CKPT_SUFFIX);
		c->ix[c->n] = cache_get(cs, path, cur->h.image_id, e);
		if (!c->ix[c->n]) {
			chain_close(c);
			return -1;
		}
		c->ent[c->n++] = cur;
		if (!(cur->h.flags & IMAGE_F_INCREMENTAL))
			return 0;
		const struct ckpt_ent *parent = by_id(v, n, cur->h.parent_id);
		if (!parent) {
			chain_close(c);
			return err_set(e, "checkpoint %s: its parent image %016llx is missing", cur->tag,
				       (unsigned long long)cur->h.parent_id);
		}
		cur = parent;
	}
	return 0;
}

/* Marks in bm (memfd pages) the pages an image holds. */
static void mark_image_pages(struct domain *d, struct image_index *ix, uint64_t *bm)
{
	size_t n = image_index_count(ix);
	for (size_t i = 0; i < n; i++) {
		uint64_t page;
		if (mem_page_of(&d->mem, image_index_gfn(ix, i) * 4096, &page))
			bm[page / 64] |= 1ull << (page % 64);
	}
}

/* The pages of set (memfd pages) from TAG's chain: checked only (copy false), or copied
 * into the domain's RAM (zeros where no image of the chain has one), counted in *pages. */
static int chain_pages(struct domain *d, struct chain *c, const uint64_t *set, bool copy, uint64_t *pages,
		       struct err *e)
{
	uint8_t buf[4096];
	for (int r = 0; r < d->mem.nr_ranges; r++) {
		uint64_t first = (uint64_t)(d->mem.ranges[r].hva - d->mem.base) / 4096, np = d->mem.ranges[r].size / 4096;
		for (uint64_t p = 0; p < np; p++) {
			uint64_t page = first + p, gfn = d->mem.ranges[r].gpa / 4096 + p;
			int got = 0;
			if (!set[page / 64] && page % 64 == 0 && p + 64 <= np) { /* 64 pages not in set */
				p += 63;
				continue;
			}
			if (!(set[page / 64] >> (page % 64) & 1))
				continue;
			for (unsigned k = 0; k < c->n && !got; k++)
				if ((got = copy ? image_index_page(c->ix[k], gfn, buf) : image_index_check_page(c->ix[k], gfn)) < 0)
					return err_set(e, "checkpoint %s: page 0x%llx is corrupt; %s is left as it was",
						       c->ent[k]->tag, (unsigned long long)gfn, d->name);
			if (!copy)
				continue;
			if (got)
				memcpy(d->mem.base + page * 4096, buf, 4096);
			else
				memset(d->mem.base + page * 4096, 0, 4096);
			(*pages)++;
		}
	}
	return 0;
}

/* The undo log for checkpoint id, started now (after a rollback to it from the files, the
 * domain running again; undo_lock held): the pages written while it was being armed are
 * tainted (their kept copy would not be the checkpoint's) and stay in the dirty set; vs is
 * taken over. */
static void undo_start(struct domain *d, uint64_t id, struct vm_state *vs)
{
	uint64_t words = MEM_BITMAP_WORDS(&d->mem), t0 = time_ns();
	struct instant *in;
	ckpt_undo_end_locked(d, false);
	if (!d->mem.dirty_logging || !d->ckpt.valid)
		return;
	in = instant_log(d, ckpt_undo_room(d, ckpt_undo_cap(d)));
	if (!in)
		return;
	instant_skip(in, ckpt_undo_kept(d, id)); /* what its stores have already */
	d->ckpt.undo = in;
	d->ckpt.undo_taint = xcalloc(words, sizeof(uint64_t));
	if (mem_dirty_fetch(&d->mem, d->vm_fd, d->ckpt.undo_taint, &(struct err){ 0 }) < 0)
		memset(d->ckpt.undo_taint, 0xff, words * sizeof(uint64_t));
	for (uint64_t w = 0; w < words; w++)
		d->ckpt.dirty[w] |= d->ckpt.undo_taint[w];
	d->ckpt.undo_vs = xcalloc(1, sizeof(*d->ckpt.undo_vs));
	*d->ckpt.undo_vs = *vs;
	memset(vs, 0, sizeof(*vs));
	d->ckpt.undo_id = id;
	hv_log(d->hv, "%s: undo log of its checkpoint armed in %.1f ms", d->name, (time_ns() - t0) / 1e6);
}

/* After copy_back, the domain running again: the pages it copied back protected again,
 * and those written before that tainted (their first write was not seen by the log).
 * Only forgetting the old copies holds the log's lock; the protection (the ioctls, the
 * milliseconds) does not, so a vCPU that writes a page of the log meanwhile does not wait
 * for it: a page of set written before its protection is unprotected and not kept, or
 * kept with what was written, and either way in the dirty log fetched after, so tainted. */
static void undo_rearm(struct domain *d, const uint64_t *set)
{
	uint64_t words = MEM_BITMAP_WORDS(&d->mem), t0 = time_ns(), t1;
	struct instant *u = d->ckpt.undo;
	int rc;
	instant_lock(u, true);
	instant_restart(u, set);
	instant_lock(u, false);
	t1 = time_ns();
	rc = instant_protect(u, set, true);
	d->ckpt.undo_taint = xcalloc(words, sizeof(uint64_t));
	if (rc < 0 || mem_dirty_fetch(&d->mem, d->vm_fd, d->ckpt.undo_taint, &(struct err){ 0 }) < 0)
		memset(d->ckpt.undo_taint, 0xff, words * sizeof(uint64_t));
	for (uint64_t w = 0; w < words; w++)
		d->ckpt.dirty[w] |= d->ckpt.undo_taint[w];
	hv_log(d->hv, "%s: undo log re-armed in %.2f ms, the domain running (its lock held %.2f ms)", d->name,
	       (time_ns() - t0) / 1e6, (t1 - t0) / 1e6);
}

#define BIT(bm, p) ((bm)[(p) / 64] >> ((p) % 64) & 1)
#define SETBIT(bm, p) ((bm)[(p) / 64] |= 1ull << ((p) % 64))

/* What a rollback copies back, and from where. */
struct rb_plan {
	uint64_t *set;   /* memfd pages to copy back */
	uint64_t *block; /* written after the target on the way to the latest (the live log's pages not counted) */
	struct rb_src {
		uint64_t page;
		const uint8_t *data;
	} *src;          /* from the frozen logs */
	size_t nsrc, cap;
	unsigned stores; /* frozen logs that gave pages */
};

/* The way from the latest (path[0]) back to the target (path[m]), newest first, undo_lock
 * held: into p->set the pages the images after the target hold (written since it) and
 * the pages the stores on the way kept (written after their checkpoint); into p->src,
 * for each page a store of path[k] kept that no image from the target to path[k] holds
 * and no store of a checkpoint before path[k] on the way kept (so the page did not change
 * from the target to path[k]: its copy is the target's), the first such copy. */
static int plan_path(struct domain *d, const char *dir, const struct ckpt_ent **path, unsigned m, struct rb_plan *p,
		     struct err *e)
{
	uint64_t words = MEM_BITMAP_WORDS(&d->mem);
	uint64_t *seen = xcalloc(words, sizeof(uint64_t));
	for (unsigned k = m + 1; k-- > 0;) {
		bool gave = false;
		if (k < m) { /* what changed from path[k + 1] to path[k] */
			char fp[4600];
			struct image_index *ix;
			snprintf(fp, sizeof(fp), "%s/%s%s", dir, path[k]->tag, CKPT_SUFFIX);
			ix = cache_get(&d->ckpt, fp, path[k]->h.image_id, e);
			if (!ix) {
				free(seen);
				return -1;
			}
			mark_image_pages(d, ix, p->set);
			mark_image_pages(d, ix, p->block);
		}
		for (struct undo_store *s = d->ckpt.frozen; s; s = s->next) {
			if (s->id != path[k]->h.image_id)
				continue;
			for (uint64_t i = 0; i < s->n; i++) {
				uint64_t pg = s->pages[i];
				if (BIT(p->block, pg) || BIT(seen, pg))
					continue;
				SETBIT(seen, pg);
				if (p->nsrc == p->cap) {
					p->cap = p->cap ? p->cap * 2 : 1024;
					p->src = xrealloc(p->src, p->cap * sizeof(*p->src));
				}
				p->src[p->nsrc++] = (struct rb_src){ pg, s->data[i] };
				gave = true;
			}
		}
		p->stores += gave;
		for (struct undo_store *s = d->ckpt.frozen; s; s = s->next)
			if (s->id == path[k]->h.image_id)
				for (uint64_t i = 0; i < s->n; i++) {
					SETBIT(p->set, s->pages[i]);
					if (k) /* the live log is of path[0]: the same checkpoint */
						SETBIT(p->block, s->pages[i]);
				}
	}
	free(seen);
	return 0;
}

struct rb_count {
	uint64_t pages, from_log, from_frozen;
};

/* The domain held: the pages of p->set copied back, from the frozen logs (p->src), the
 * live log u (NULL: none; when it is the latest's, a page it kept that p->block does not
 * hold and that is not tainted) and, for the rest, the newest image of the target's chain
 * that has it (zeros when none). Every page the files give is checked first: -1 with
 * nothing copied when one is corrupt. The live log's lock is held throughout. */
struct chain_of {
	const char *dir;
	const struct ckpt_ent *v, *target;
	int n;
};

static int copy_back(struct domain *d, struct chain *c, const struct chain_of *co, struct rb_plan *p,
		     struct instant *u, struct rb_count *n, struct err *e)
{
	bool any = false;
	uint64_t words = MEM_BITMAP_WORDS(&d->mem);
	uint64_t *files = xcalloc(words, sizeof(uint64_t)), *mine = xcalloc(words, sizeof(uint64_t));
	uint64_t *unprot = xcalloc(words, sizeof(uint64_t)), *live = u ? xcalloc(words, sizeof(uint64_t)) : NULL;
	const uint64_t *taint = d->ckpt.undo_taint;
	int ret = -1;
	memset(n, 0, sizeof(*n));
	if (u)
		instant_lock(u, true);
	for (size_t i = 0; i < p->nsrc; i++)
		SETBIT(mine, p->src[i].page);
	for (uint64_t pg = 0; pg < d->mem.size / 4096; pg++) {
		const uint8_t *kept = u ? instant_page(u, pg) : NULL;
		if (kept) /* written since (by anyone), whatever the dirty log says */
			SETBIT(p->set, pg);
		if (!BIT(p->set, pg))
			continue;
		if (BIT(mine, pg))
			continue;
		if (kept && !BIT(p->block, pg) && !(taint && BIT(taint, pg)))
			SETBIT(live, pg);
		else {
			SETBIT(files, pg);
			any = true;
			if (u && !kept) /* a page the live log protects: writable while it is copied */
				SETBIT(unprot, pg);
		}
	}
	/* the files only when some page must come from them */
	if (any && !c->n && chain_open(&d->ckpt, c, co->dir, co->v, co->n, co->target, e) < 0)
		goto out;
	if (any && chain_pages(d, c, files, false, &n->pages, e) < 0)
		goto out;
	if (u && instant_protect(u, unprot, false) < 0) {
		err_set(e, "%s: the undo log cannot unprotect its pages", d->name);
		goto out;
	}
	/* the frozen logs' pages: one the live log does not protect (it kept it, or a page it
	 * skips was written since) copied through the mapping; the others written through the memfd, so that a page the
	 * live log protects stays protected (no unprotect, no write fault per page: 6 us each
	 * on this host), in runs of consecutive pages, a call each */
	for (size_t i = 0, run; i < p->nsrc; i += run) {
		struct iovec iov[256];
		ssize_t w;
		if (u && instant_writable(u, p->src[i].page)) {
			memcpy(d->mem.base + p->src[i].page * 4096, p->src[i].data, 4096);
			run = 1;
			continue;
		}
		for (run = 0; run < 256 && i + run < p->nsrc && p->src[i + run].page == p->src[i].page + run &&
			      !(u && instant_writable(u, p->src[i + run].page));
		     run++)
			iov[run] = (struct iovec){ (void *)p->src[i + run].data, 4096 };
		w = pwritev(d->mem.memfd, iov, (int)run, (off_t)(p->src[i].page * 4096));
		for (size_t k = w > 0 ? (size_t)w / 4096 : 0; k < run; k++) { /* memory short: through the mapping */
			uint64_t pg = p->src[i + k].page;
			memset(unprot, 0, words * sizeof(uint64_t));
			SETBIT(unprot, pg);
			if (u && instant_protect(u, unprot, false) < 0) {
				err_set(e, "%s: the undo log cannot unprotect its pages (some are copied back already)", d->name);
				goto out;
			}
			memcpy(d->mem.base + pg * 4096, p->src[i + k].data, 4096);
		}
	}
	n->from_frozen = p->nsrc;
	for (uint64_t pg = 0; u && pg < d->mem.size / 4096; pg++)
		if (!live[pg / 64] && pg % 64 == 0)
			pg += 63;
		else if (BIT(live, pg)) {
			memcpy(d->mem.base + pg * 4096, instant_page(u, pg), 4096);
			n->from_log++;
		}
	n->pages = 0;
	if (any && chain_pages(d, c, files, true, &n->pages, e) < 0)
		goto out;
	n->pages += n->from_log + n->from_frozen;
	ret = 0;
out:
	if (u)
		instant_lock(u, false);
	free(files);
	free(mine);
	free(unprot);
	free(live);
	return ret;
}

/* With the domain's lock and its undo logs' lock held. */
static int rollback_locked(struct hv *hv, struct domain *d, const char *tag, struct hv_rollback_stats *st,
			   struct err *e)
{
	char dir[4200];
	struct ckpt_ent *v = NULL;
	const struct ckpt_ent *target, *latest = NULL, **path = NULL;
	struct chain c = { 0 };
	struct vm_state vs = { 0 }, *vs_p = &vs;
	struct rb_plan plan = { 0 };
	struct rb_count cnt = { 0 };
	uint64_t *rearm = NULL, words = MEM_BITMAP_WORDS(&d->mem), t0 = time_ns(), t_plan = 0, t_hold = 0, t_rel = 0;
	unsigned m = 0;
	int n, ret = -1;
	bool full = true, use_log = false, same = false;

	memset(st, 0, sizeof(*st));
	if (!tag || !ckpt_tag_ok(tag))
		return err_set(e, "'%.80s' is not a checkpoint name", tag ? tag : "");
	n = ckpt_scan(hv, d->name, &v, e);
	if (n < 0)
		return -1;
	target = by_tag(v, n, tag);
	if (!target) {
		err_set(e, "%s has no checkpoint named %s", d->name, tag);
		goto out;
	}
	if (ckpt_dir(hv, d->name, dir, sizeof(dir), false, e) < 0)
		goto out;
	/* the latest checkpoint's undo log goes on as the target's; without it (or lost) its
	 * pages are frozen into a store like the older ones' */
	use_log = d->ckpt.undo && d->ckpt.valid && d->ckpt.id == d->ckpt.undo_id && d->mem.dirty_logging &&
		  !instant_lost(d->ckpt.undo);
	same = use_log && d->ckpt.undo_id == target->h.image_id;
	if (!use_log)
		ckpt_undo_end_locked(d, true);
	plan.set = xcalloc(words, sizeof(uint64_t));
	plan.block = xcalloc(words, sizeof(uint64_t));
	/* what changed since TAG: since the latest checkpoint, and the checkpoints between */
	if (d->ckpt.valid && d->mem.dirty_logging && (latest = by_id(v, n, d->ckpt.id))) {
		const struct ckpt_ent *cur = latest;
		path = xcalloc(CKPT_MAX + 1, sizeof(*path));
		while (cur && cur != target && (cur->h.flags & IMAGE_F_INCREMENTAL) && m < CKPT_MAX) {
			path[m++] = cur;
			cur = by_id(v, n, cur->h.parent_id);
		}
		full = cur != target; /* TAG is not behind the latest: everything */
		path[m] = target;
		if (!full && plan_path(d, dir, path, m, &plan, e) < 0)
			goto out;
	}
	if (use_log && full) { /* every page from the files: the live log ends */
		ckpt_undo_end_locked(d, true);
		use_log = same = false;
	}
	/* the target's machine state: its live log's, a store's, else its file's (the chain
	 * opened after plan_path: the images that read may leave the cache) */
	if (same)
		vs_p = d->ckpt.undo_vs;
	else if (!(vs_p = ckpt_undo_state(d, target->h.image_id))) {
		vs_p = &vs;
		if (chain_open(&d->ckpt, &c, dir, v, n, target, e) < 0 || image_read_state(c.ix[0], &vs, e) < 0)
			goto out;
	}
	if (vs_p->nr_vcpus != d->nr_vcpus) {
		err_set(e, "checkpoint %s has %u vCPUs, %s has %u", tag, vs_p->nr_vcpus, d->name, d->nr_vcpus);
		goto out;
	}
	t_plan = time_ns();
	hv_domain_hold(hv, d->id);
	t_hold = time_ns();
	if (!full) {
		if (mem_dirty_fetch(&d->mem, d->vm_fd, plan.set, e) < 0) {
			hv_domain_release(hv, d->id);
			goto out;
		}
		for (uint64_t w = 0; w < words; w++)
			plan.set[w] |= d->ckpt.dirty[w];
	} else {
		memset(plan.set, 0xff, words * sizeof(uint64_t));
		plan.nsrc = 0;
	}
	/* every page needed is there and intact before any is copied: a corrupt checkpoint
	 * leaves the domain as it was (the indexes check a batch when first needed) */
	if (copy_back(d, &c, &(struct chain_of){ dir, v, target, n }, &plan, use_log ? d->ckpt.undo : NULL, &cnt, e) < 0 ||
	    vmstate_set(d, vs_p, false, e) < 0) {
		hv_domain_release(hv, d->id);
		goto out;
	}
	/* the domain is TAG now: the log starts again from it */
	if (d->mem.dirty_logging) {
		if (use_log) {
			rearm = plan.set; /* undo_rearm protects these again */
			plan.set = xcalloc(words, sizeof(uint64_t));
		}
		memset(plan.set, 0, words * sizeof(uint64_t));
		mem_dirty_fetch(&d->mem, d->vm_fd, plan.set, &(struct err){ 0 });
		memset(d->ckpt.dirty, 0, words * sizeof(uint64_t));
		d->ckpt.valid = true;
	} else {
		d->ckpt.valid = mem_dirty_log(&d->mem, d->vm_fd, true, &(struct err){ 0 }) == 0;
		free(d->ckpt.dirty);
		d->ckpt.dirty = xcalloc(words, sizeof(uint64_t));
	}
	snprintf(d->ckpt.tag, sizeof(d->ckpt.tag), "%s", tag);
	d->ckpt.id = target->h.image_id;
	d->start_ns = time_ns() - vs_p->uptime_ns;
	t_rel = time_ns();
	hv_domain_release(hv, d->id);
	st->pages = cnt.pages;
	st->from_log = cnt.from_log;
	st->from_frozen = cnt.from_frozen;
	st->frozen_logs = plan.stores;
	st->full = full;
	st->chain = c.n;
	d->ckpt.chain = chain_length(v, n, target);
	st->undo = same;
	ret = 0;
out:
	st->total_ns = time_ns() - t0; /* the domain runs on from the checkpoint here */
	if (ret == 0)
		hv_log(hv, "%s: rollback to %s: %llu pages copied back in %.3f ms (planned %.3f, vCPUs out of KVM %.3f, held "
			   "%.3f): %llu from the latest's undo log, %llu from %u frozen undo log%s (%llu pages kept in all), "
			   "%llu from the files (%u image%s)%s",
		       d->name, tag, (unsigned long long)st->pages, st->total_ns / 1e6, (t_plan - t0) / 1e6,
		       (t_hold - t_plan) / 1e6, (t_rel - t_plan) / 1e6, (unsigned long long)st->from_log,
		       (unsigned long long)st->from_frozen, st->frozen_logs, st->frozen_logs == 1 ? "" : "s",
		       (unsigned long long)d->ckpt.frozen_pages,
		       (unsigned long long)(st->pages - st->from_log - st->from_frozen), st->chain,
		       st->chain == 1 ? "" : "s", full ? ", every page" : "");
	if (use_log && ret == 0 && rearm) {
		undo_rearm(d, rearm);
		if (!same) { /* the log is the target's now, with its state (taken from a store or the file) */
			vmstate_free(d->ckpt.undo_vs);
			*d->ckpt.undo_vs = *vs_p;
			memset(vs_p, 0, sizeof(*vs_p));
			d->ckpt.undo_id = target->h.image_id;
		}
		/* a page the target's stores have need not be kept again (they give it back) */
		instant_skip(d->ckpt.undo, ckpt_undo_kept(d, target->h.image_id));
	}
	if (use_log && (ret < 0 || !rearm))
		ckpt_undo_end_locked(d, false); /* RAM may differ from what the log assumes */
	else if (!use_log && ret == 0)
		undo_start(d, target->h.image_id, vs_p); /* the next rollback to it from memory */
	free(rearm);
	chain_close(&c);
	vmstate_free(&vs);
	free(plan.set);
	free(plan.block);
	free(plan.src);
	free(path);
	free(v);
	return ret;
}

int hv_domain_rollback(struct hv *hv, struct domain *d, const char *tag, struct hv_rollback_stats *st, struct err *e)
{
	int ret;
	pthread_mutex_lock(&d->ckpt.lock);
	pthread_mutex_lock(&d->ckpt.undo_lock);
	ret = rollback_locked(hv, d, tag, st, e);
	pthread_mutex_unlock(&d->ckpt.undo_lock);
	pthread_mutex_unlock(&d->ckpt.lock);
	return ret;
}

const char *hv_domain_latest_checkpoint(struct domain *d, char *buf, size_t len)
{
	const char *ret = NULL;
	pthread_mutex_lock(&d->ckpt.lock);
	if (d->ckpt.valid) {
		snprintf(buf, len, "%s", d->ckpt.tag);
		ret = buf;
	}
	pthread_mutex_unlock(&d->ckpt.lock);
	return ret;
}
