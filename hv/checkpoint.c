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
#include <time.h>
#include <unistd.h>

#include "dump/dump.h"
#include "dump/image.h"

#define CKPT_SUFFIX ".hvimg"
#define CKPT_MAX 4096 /* checkpoints of one domain */
/* the undo log keeps at most this fraction of RAM (the pages written since the latest
 * checkpoint); a domain that writes more rolls back from the files */
#define UNDO_RAM_FRACTION 4

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
	if (d->ckpt.valid && d->mem.dirty_logging) {
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
	d->ckpt.count++;
	ret = 0;
	if (st->cow) { /* the instant goes on as the undo log of this checkpoint */
		pthread_mutex_lock(&d->ckpt.undo_lock);
		instant_keep(in, d->mem.size / 4096 / UNDO_RAM_FRACTION);
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

void ckpt_undo_drop(struct domain *d)
{
	pthread_mutex_lock(&d->ckpt.undo_lock);
	instant_end(d->ckpt.undo);
	d->ckpt.undo = NULL;
	if (d->ckpt.undo_vs) {
		vmstate_free(d->ckpt.undo_vs);
		free(d->ckpt.undo_vs);
		d->ckpt.undo_vs = NULL;
	}
	d->ckpt.undo_id = 0;
	free(d->ckpt.undo_taint);
	d->ckpt.undo_taint = NULL;
	pthread_mutex_unlock(&d->ckpt.undo_lock);
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
	struct image_index *ix[64];
	const struct ckpt_ent *ent[64];
	unsigned n;
};

static void chain_close(struct chain *c)
{
	c->n = 0; /* the indexes stay in the domain's cache */
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

/* The undo log for checkpoint id, started now (after a rollback to it, the domain
 * running again): the pages written while it was being armed are tainted (their kept
 * copy would not be the checkpoint's) and stay in the dirty set; vs is taken over. */
static void undo_start(struct domain *d, uint64_t id, struct vm_state *vs)
{
	uint64_t words = MEM_BITMAP_WORDS(&d->mem), t0 = time_ns();
	struct instant *in;
	ckpt_undo_drop(d);
	if (!d->mem.dirty_logging || !d->ckpt.valid)
		return;
	in = instant_log(d, d->mem.size / 4096 / UNDO_RAM_FRACTION);
	if (!in)
		return;
	pthread_mutex_lock(&d->ckpt.undo_lock);
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
	pthread_mutex_unlock(&d->ckpt.undo_lock);
	hv_log(d->hv, "%s: undo log of its checkpoint armed in %.1f ms", d->name, (time_ns() - t0) / 1e6);
}

/* After undo_pages, the domain running again: the pages it copied back protected again,
 * and those written before that tainted (their first write was not seen by the log). */
static void undo_rearm(struct domain *d, const uint64_t *set)
{
	uint64_t words = MEM_BITMAP_WORDS(&d->mem);
	struct instant *u = d->ckpt.undo;
	int rc;
	instant_lock(u, true);
	rc = instant_protect(u, set, true);
	instant_restart(u, set);
	instant_lock(u, false);
	d->ckpt.undo_taint = xcalloc(words, sizeof(uint64_t));
	if (rc < 0 || mem_dirty_fetch(&d->mem, d->vm_fd, d->ckpt.undo_taint, &(struct err){ 0 }) < 0)
		memset(d->ckpt.undo_taint, 0xff, words * sizeof(uint64_t));
	for (uint64_t w = 0; w < words; w++)
		d->ckpt.dirty[w] |= d->ckpt.undo_taint[w];
}

/* Back to a checkpoint with the latest's undo log on, the domain held, set (memfd pages)
 * what changed since it: each page from the log in memory when it kept the page and the
 * checkpoint is the log's (same), else from the files (the chain c); then the log is
 * the target's (the caller rearms it). 0; -1 (nothing copied) when a page the files must give is corrupt. */
static int undo_pages(struct domain *d, struct chain *c, uint64_t *set, bool same, uint64_t *pages,
		      uint64_t *from_log, struct err *e)
{
	uint64_t words = MEM_BITMAP_WORDS(&d->mem);
	uint64_t *files = xcalloc(words, sizeof(uint64_t));
	struct instant *u = d->ckpt.undo;
	int ret = -1;
	instant_lock(u, true);
	for (uint64_t p = 0; p < d->mem.size / 4096; p++) {
		if (instant_page(u, p)) /* written since (by anyone), whatever the dirty log says */
			set[p / 64] |= 1ull << (p % 64);
		if ((set[p / 64] >> (p % 64) & 1) &&
		    (!same || !instant_page(u, p) || (d->ckpt.undo_taint && (d->ckpt.undo_taint[p / 64] >> (p % 64) & 1))))
			files[p / 64] |= 1ull << (p % 64);
	}
	if (chain_pages(d, c, files, false, pages, e) < 0)
		goto out;
	/* the pages from the files writable while they are copied (a protected one would
	 * fault to the thread that waits for this lock; the kept ones are writable already);
	 * all of set protected again once the domain runs (undo_rearm) */
	if (instant_protect(u, files, false) < 0) {
		err_set(e, "%s: the undo log cannot unprotect its pages", d->name);
		goto out;
	}
	for (uint64_t p = 0; p < d->mem.size / 4096; p++)
		if (!set[p / 64] && p % 64 == 0)
			p += 63;
		else if ((set[p / 64] >> (p % 64) & 1) && !(files[p / 64] >> (p % 64) & 1)) {
			memcpy(d->mem.base + p * 4096, instant_page(u, p), 4096);
			(*from_log)++;
		}
	*pages = 0;
	if (chain_pages(d, c, files, true, pages, e) < 0)
		goto out;
	*pages += *from_log;
	free(d->ckpt.undo_taint);
	d->ckpt.undo_taint = NULL;
	ret = 0;
out:
	instant_lock(u, false);
	free(files);
	return ret;
}

static int rollback_locked(struct hv *hv, struct domain *d, const char *tag, struct hv_rollback_stats *st,
			      struct err *e)
{
	char dir[4200];
	struct ckpt_ent *v = NULL;
	const struct ckpt_ent *target, *latest = NULL;
	struct chain c = { 0 };
	struct vm_state vs = { 0 }, *vs_p = &vs;
	uint64_t *rearm = NULL, *set = NULL, words = MEM_BITMAP_WORDS(&d->mem), t0 = time_ns(), pages = 0, from_log = 0;
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
	if (ckpt_dir(hv, d->name, dir, sizeof(dir), false, e) < 0 || chain_open(&d->ckpt, &c, dir, v, n, target, e) < 0)
		goto out;
	/* the latest checkpoint's undo log: back to that checkpoint, its state and the pages
	 * it kept come from memory; to an older one, it goes on as that one's log */
	pthread_mutex_lock(&d->ckpt.undo_lock);
	use_log = d->ckpt.undo && d->ckpt.valid && d->ckpt.id == d->ckpt.undo_id && d->mem.dirty_logging &&
		  !instant_lost(d->ckpt.undo);
	same = use_log && d->ckpt.undo_id == target->h.image_id;
	if (!use_log) {
		pthread_mutex_unlock(&d->ckpt.undo_lock);
		ckpt_undo_drop(d); /* what follows writes RAM from the files: a log would no longer hold */
	}
	if (same)
		vs_p = d->ckpt.undo_vs;
	else if (image_read_state(c.ix[0], &vs, e) < 0)
		goto out;
	if (vs_p->nr_vcpus != d->nr_vcpus) {
		err_set(e, "checkpoint %s has %u vCPUs, %s has %u", tag, vs_p->nr_vcpus, d->name, d->nr_vcpus);
		goto out;
	}
	set = xcalloc(words, sizeof(uint64_t));
	/* what changed since TAG: since the latest checkpoint, and the checkpoints between */
	if (d->ckpt.valid && d->mem.dirty_logging && (latest = by_id(v, n, d->ckpt.id))) {
		const struct ckpt_ent *cur = latest;
		unsigned hops = 0;
		while (cur && cur != target && (cur->h.flags & IMAGE_F_INCREMENTAL) && hops++ < CKPT_MAX) {
			char path[4600];
			struct image_index *ix;
			snprintf(path, sizeof(path), "%s/%s%s", dir, cur->tag, CKPT_SUFFIX);
			ix = cache_get(&d->ckpt, path, cur->h.image_id, e);
			if (!ix)
				goto out;
			mark_image_pages(d, ix, set);
			cur = by_id(v, n, cur->h.parent_id);
		}
		full = cur != target; /* TAG is not behind the latest: everything */
	}
	if (use_log && full) { /* every page from the files: no log survives that */
		pthread_mutex_unlock(&d->ckpt.undo_lock);
		use_log = same = false;
		ckpt_undo_drop(d);
	}
	hv_domain_hold(hv, d->id);
	if (!full) {
		if (mem_dirty_fetch(&d->mem, d->vm_fd, set, e) < 0) {
			hv_domain_release(hv, d->id);
			goto out;
		}
		for (uint64_t w = 0; w < words; w++)
			set[w] |= d->ckpt.dirty[w];
	} else {
		memset(set, 0xff, words * sizeof(uint64_t));
	}
	/* every page needed is there and intact before any is copied: a corrupt checkpoint
	 * leaves the domain as it was (the indexes check a batch when first needed); then the
	 * pages, each from the newest image of TAG's chain that has it */
	if (use_log) {
		if (undo_pages(d, &c, set, same, &pages, &from_log, e) < 0) {
			hv_domain_release(hv, d->id);
			goto out;
		}
	} else if (chain_pages(d, &c, set, false, &pages, e) < 0 || chain_pages(d, &c, set, true, &pages, e) < 0) {
		hv_domain_release(hv, d->id);
		goto out;
	}
	if (vmstate_set(d, vs_p, false, e) < 0) {
		hv_domain_release(hv, d->id);
		goto out;
	}
	/* the domain is TAG now: the log starts again from it */
	if (d->mem.dirty_logging) {
		if (use_log) {
			rearm = set; /* undo_rearm protects these again */
			set = xcalloc(words, sizeof(uint64_t));
		}
		memset(set, 0, words * sizeof(uint64_t));
		mem_dirty_fetch(&d->mem, d->vm_fd, set, &(struct err){ 0 });
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
	hv_domain_release(hv, d->id);
	st->pages = pages;
	st->from_log = from_log;
	st->full = full;
	st->chain = c.n;
	st->undo = same;
	ret = 0;
out:
	st->total_ns = time_ns() - t0; /* the domain runs on from the checkpoint here */
	if (use_log && ret == 0 && rearm) {
		undo_rearm(d, rearm);
		if (!same) { /* the log is the target's now */
			vmstate_free(d->ckpt.undo_vs);
			*d->ckpt.undo_vs = vs;
			memset(&vs, 0, sizeof(vs));
			d->ckpt.undo_id = target->h.image_id;
		}
	}
	bool broken = use_log && (ret < 0 || !rearm);
	free(rearm);
	if (use_log) {
		pthread_mutex_unlock(&d->ckpt.undo_lock);
		if (broken)
			ckpt_undo_drop(d);
	} else if (ret == 0) {
		undo_start(d, target->h.image_id, &vs); /* the next rollback to it from memory */
	}
	chain_close(&c);
	vmstate_free(&vs);
	free(set);
	free(v);
	return ret;
}

int hv_domain_rollback(struct hv *hv, struct domain *d, const char *tag, struct hv_rollback_stats *st, struct err *e)
{
	int ret;
	pthread_mutex_lock(&d->ckpt.lock);
	ret = rollback_locked(hv, d, tag, st, e);
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
