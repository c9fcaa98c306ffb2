/* contain_verbs: hvctl's containment verbs (save, restore, checkpoint, checkpoint-list,
 * checkpoint-delete, rollback) over hv/contain.h. Saves, checkpoints and rollbacks run as
 * jobs (job.c): progress lines while they write, and hv's loop goes on. */
#include "internal.h"
#include "contain.h"
#include "control.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool busy(struct domain *d, struct reply *r)
{
	if (!atomic_load(&d->dump_active))
		return false;
	reply_error(r, "%s is being dumped, saved or checkpointed: wait for it (or hvctl dump-cancel %s)", d->name,
		    d->name);
	return true;
}

static int progress(void *opaque, uint64_t done, uint64_t total)
{
	return job_progress(opaque, done, total);
}

/* ---- save */

struct save_job {
	struct hv *hv;
	struct domain *d;
	struct hv_save_opts o;
	char path[4096];
};

static void save_run(struct job *j, void *arg, struct reply *r)
{
	struct save_job *s = arg;
	struct hv_save_stats st;
	struct err e;
	s->o.progress = progress;
	s->o.opaque = j;
	atomic_fetch_add(&s->d->ckpt.busy, 1);
	if (hv_domain_save(s->hv, s->d, s->path, &s->o, &st, &e) < 0) {
		atomic_fetch_sub(&s->d->ckpt.busy, 1);
		reply_error(r, "%s%s; %s runs on", e.msg, job_client_gone(j) ? " (the client went away)" : "", s->d->name);
		return;
	}
	atomic_fetch_sub(&s->d->ckpt.busy, 1);
	if (!s->o.keep) /* as xl save: back once the domain is gone (the loop destroys it) */
		job_wait_gone(j, s->d->id);
	char ram[32], file[32];
	reply_line(r, "Domain %s saved to %s: %s of RAM in %s of file, %s %.3f ms, total %.1f ms", s->d->name, s->path,
		   size_format(ram, sizeof(ram), st.ram_bytes), size_format(file, sizeof(file), st.file_bytes),
		   st.cow ? "paused (copy-on-write, it ran meanwhile)" : "paused", st.pause_ns / 1e6, st.total_ns / 1e6);
	reply_line(r, "%s", !s->o.keep ? "The domain is destroyed; hvctl restore FILE brings it back"
		   : s->o.paused ? "The domain is kept, paused"
				 : "The domain runs on");
}

static int cmd_save(struct ctl_req *q)
{
	struct hv *hv = q->hv;
	struct reply *r = q->r;
	const char *const *pos = q->pos;
	struct domain *d = q->dom;
	struct save_job *s;
	bool paused = ctl_opt(q, "--paused");
	if (busy(d, r) || ctl_need_abs_path(r, "save", pos[1]) < 0)
		return -1;
	s = xcalloc(1, sizeof(*s));
	s->hv = hv;
	s->d = d;
	s->o.paused = paused;
	s->o.keep = ctl_opt(q, "--keep") || paused;
	if (snprintf(s->path, sizeof(s->path), "%s", pos[1]) >= (int)sizeof(s->path)) {
		free(s);
		return reply_error(r, "save: path too long");
	}
	return job_start(hv, q->client, d, save_run, s, r);
}

/* ---- restore */

static int cmd_restore(struct ctl_req *q)
{
	struct hv *hv = q->hv;
	struct reply *r = q->r;
	const char *file = q->pos[0];
	bool paused = ctl_opt(q, "--paused");
	int id;
	struct err e;
	struct domain *d;
	uint64_t took = 0;
	if (ctl_need_abs_path(r, "restore", file) < 0)
		return -1;
	id = hv_domain_restore(hv, file, ctl_opt(q, "--name"), paused, &took, &e);
	if (id < 0)
		return reply_error(r, "%s", e.msg);
	d = hv_domain_by_id(hv, id);
	/* the time to the vCPU threads started: the guest's next instruction is theirs */
	reply_line(r, "Domain %s restored from %s (id %d)%s in %.1f ms", d ? d->name : "?", file, id,
		   paused ? ", paused" : "", took / 1e6);
	return 0;
}

/* ---- checkpoints */

struct ckpt_job {
	struct hv *hv;
	struct domain *d;
	bool rollback;
	char tag[64];
	bool has_tag;
};

static void ckpt_run(struct job *j, void *arg, struct reply *r)
{
	struct ckpt_job *k = arg;
	struct err e;
	if (k->rollback) {
		struct hv_rollback_stats st;
		if (hv_domain_rollback(k->hv, k->d, k->tag, &st, &e) < 0) {
			reply_error(r, "%s", e.msg);
			return;
		}
		if (st.full)
			reply_line(r, "Domain %s rolled back to checkpoint %s: %llu pages copied back (every page, %u image%s), "
				      "%.3f ms",
				   k->d->name, k->tag, (unsigned long long)st.pages, st.chain, st.chain == 1 ? "" : "s",
				   st.total_ns / 1e6);
		else
			reply_line(r, "Domain %s rolled back to checkpoint %s: %llu pages copied back (what changed since: "
				      "%llu from undo logs in memory, %llu from the files, %u image%s), %.3f ms",
				   k->d->name, k->tag, (unsigned long long)st.pages,
				   (unsigned long long)(st.from_log + st.from_frozen),
				   (unsigned long long)(st.pages - st.from_log - st.from_frozen), st.chain,
				   st.chain == 1 ? "" : "s", st.total_ns / 1e6);
		return;
	}
	struct hv_save_opts o = { .progress = progress, .opaque = j };
	struct hv_ckpt_stats st;
	atomic_fetch_add(&k->d->ckpt.busy, 1);
	int rc = hv_domain_checkpoint(k->hv, k->d, k->has_tag ? k->tag : NULL, &o, &st, &e);
	atomic_fetch_sub(&k->d->ckpt.busy, 1);
	if (rc < 0) {
		reply_error(r, "%s%s", e.msg, job_client_gone(j) ? " (the client went away)" : "");
		return;
	}
	char file[32];
	reply_line(r, "Domain %s checkpoint %s taken: %s, %llu pages in %s of file, paused %.3f ms, total %.1f ms",
		   k->d->name, st.tag, st.incremental ? "incremental (the pages written since the last one)" : "full",
		   (unsigned long long)st.pages, size_format(file, sizeof(file), st.file_bytes), st.pause_ns / 1e6,
		   st.total_ns / 1e6);
}

static int checkpoint_or_rollback(struct ctl_req *q, bool rollback)
{
	struct hv *hv = q->hv;
	struct reply *r = q->r;
	const char *const *pos = q->pos;
	struct domain *d = q->dom;
	struct ckpt_job *k;
	if (busy(d, r))
		return -1;
	k = xcalloc(1, sizeof(*k));
	k->hv = hv;
	k->d = d;
	k->rollback = rollback;
	if (q->npos > 1) {
		snprintf(k->tag, sizeof(k->tag), "%.63s", pos[1]);
		k->has_tag = true;
		if (strlen(pos[1]) > 63) {
			free(k);
			return reply_error(r, "'%.80s...' is not a checkpoint name (at most 63 characters)", pos[1]);
		}
	}
	return job_start(hv, q->client, d, ckpt_run, k, r);
}

static int cmd_checkpoint(struct ctl_req *q)
{
	return checkpoint_or_rollback(q, false);
}

static int cmd_rollback(struct ctl_req *q)
{
	return checkpoint_or_rollback(q, true);
}

static int cmd_checkpoint_list(struct ctl_req *q)
{
	struct hv *hv = q->hv;
	struct reply *r = q->r;
	bool json = ctl_opt(q, "--json");
	struct hv_ckpt_info *v;
	struct err e;
	char line[512];
	int k = hv_checkpoint_list(hv, q->pos[0], &v, &e);
	if (k < 0)
		return reply_error(r, "%s", e.msg);
	if (json)
		reply_line(r, "[");
	else
		reply_line(r, "%-24s %-20s %-12s %-24s %10s", "Tag", "Taken", "Kind", "Parent", "Size");
	for (int i = 0; i < k; i++) {
		time_t t = (time_t)(v[i].created_ns / 1000000000ull);
		struct tm tm;
		char when[32] = "?";
		if (localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		if (json) {
			char tag[160], parent[160];
			json_quote(tag, sizeof(tag), v[i].tag);
			json_quote(parent, sizeof(parent), v[i].parent);
			snprintf(line, sizeof(line),
				 "  {\"tag\": %s, \"created_ns\": %llu, \"incremental\": %s, \"parent\": %s, \"bytes\": %llu}%s",
				 tag, (unsigned long long)v[i].created_ns, v[i].incremental ? "true" : "false", parent,
				 (unsigned long long)v[i].bytes, i + 1 < k ? "," : "");
			reply_line(r, "%s", line);
		} else {
			reply_line(r, "%-24s %-20s %-12s %-24s %9.1fM", v[i].tag, when, v[i].incremental ? "incremental" : "full",
				   v[i].parent[0] ? v[i].parent : "-", v[i].bytes / 1048576.0);
		}
	}
	if (json)
		reply_line(r, "]");
	free(v);
	return 0;
}

static int cmd_checkpoint_delete(struct ctl_req *q)
{
	struct hv *hv = q->hv;
	struct reply *r = q->r;
	const char *const *pos = q->pos;
	struct err e;
	if (hv_checkpoint_delete(hv, pos[0], pos[1], &e) < 0)
		return reply_error(r, "%s", e.msg);
	reply_line(r, "Checkpoint %s of %s deleted", pos[1], pos[0]);
	return 0;
}

static const struct ctl_verb contain_verbs[] = {
	{ .name = "save", .run = cmd_save, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "save NAME FILE [--keep] [--paused]",
	  .opts = CTL_OPTS({ "--keep", false }, { "--paused", false }), .min_args = 2, .max_args = 2 },
	{ .name = "restore", .run = cmd_restore, .flags = CTL_CHANGES, .usage = "restore FILE [--paused] [--name NEW]",
	  .opts = CTL_OPTS({ "--paused", false }, { "--name", true }), .min_args = 1, .max_args = 1 },
	{ .name = "checkpoint", .run = cmd_checkpoint, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "checkpoint NAME [TAG]",
	  .min_args = 1, .max_args = 2 },
	{ .name = "checkpoint-list", .run = cmd_checkpoint_list, .usage = "checkpoint-list NAME [--json]",
	  .opts = CTL_OPTS({ "--json", false }), .min_args = 1, .max_args = 1 },
	{ .name = "checkpoint-delete", .run = cmd_checkpoint_delete, .flags = CTL_CHANGES,
	  .usage = "checkpoint-delete NAME TAG", .min_args = 2, .max_args = 2 },
	{ .name = "rollback", .run = cmd_rollback, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "rollback NAME TAG",
	  .min_args = 2, .max_args = 2 },
};

int contain_register(struct err *e)
{
	for (size_t i = 0; i < sizeof(contain_verbs) / sizeof(contain_verbs[0]); i++)
		if (ctl_register(&contain_verbs[i], e) < 0)
			return -1;
	return 0;
}
