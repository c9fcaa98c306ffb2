/* dumpjob: `hvctl dump` as a job (job.c): the domain's dump is written by a thread of its
 * own while hv goes on; a client that goes away or `hvctl dump-cancel` cancels it and the
 * partial file is removed. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "dump/dump.h"

struct dumpjob {
	struct domain *d;
	struct hv *hv;
	int format;
	enum dumpjob_after after;
	int by; /* -1: hvctl dump (its client); else enum hv_dump_by (the log) */
	struct job *job;
	char path[4096];
};

static int job_progress_cb(void *o, uint64_t done, uint64_t total)
{
	struct dumpjob *dj = o;
	return job_progress(dj->job, done, total);
}

static void dump_run(struct job *job, void *arg, struct reply *r)
{
	struct dumpjob *j = arg;
	struct domain *d = j->d;
	struct hv_dump_opts o = { .format = j->format, .progress = job_progress_cb, .opaque = j };
	struct hv_dump_stats st;
	struct err e;

	j->job = job;
	int rc = hv_domain_dump(j->hv, d->id, j->path, &o, &st, &e);
	if (j->by >= 0) { /* no client: one line in hv's log */
		char sz[32];
		if (rc < 0)
			reply_error(r, "%s: %sdump failed: %s", d->name, j->by == HV_DUMP_ON_CRASH ? "crash " : "", e.msg);
		else if (j->by == HV_DUMP_ON_CRASH)
			reply_line(r, "%s: crash dump written to %s (%s of RAM, %.1f ms)", d->name, j->path,
				   size_format(sz, sizeof(sz), st.bytes), st.total_ns / 1e6);
		else
			reply_line(r, "%s dumped to %s (%s of RAM, paused %.3f ms, %.1f ms in all)", d->name, j->path,
				   size_format(sz, sizeof(sz), st.bytes), st.pause_ns / 1e6, st.total_ns / 1e6);
		return;
	}
	if (rc < 0) {
		reply_error(r, "%s%s", e.msg, job_client_gone(job) ? " (the client went away)"
				: atomic_load(&j->hv->exiting) ? " (hv is exiting: the domain is destroyed)" : "");
		if (job_client_gone(job))
			hv_log(j->hv, "%s: dump to %s cancelled: the client went away", d->name, j->path);
		return;
	}
	{
		char ram[32], file[32];
		reply_line(r,
			   "Domain %s dumped to %s (%s): %s of RAM in %s of file, %s, paused %.3f ms, total %.1f ms, "
			   "%llu pages saved during the write, %llu protected again in the pause",
			   d->name, j->path, dump_fmt_name((enum dump_fmt)j->format), size_format(ram, sizeof(ram), st.bytes),
			   size_format(file, sizeof(file), st.file_bytes),
			   st.ran  ? "copy-on-write (the domain ran meanwhile)"
			   : st.cow ? "copy-on-write (the domain did not run: it is stopped)"
				    : "the domain paused throughout",
			   st.pause_ns / 1e6, st.total_ns / 1e6, (unsigned long long)st.pages_copied,
			   (unsigned long long)st.pages_reprotected);
	}
	if (j->after == DUMPJOB_CRASH) {
		domain_post_event(d, EVENT_CRASH, "crashed after a dump by hvctl dump --crash");
		reply_line(r, "Domain %s crashed (its on_crash action follows)", d->name);
	} else if (j->after == DUMPJOB_RESET) {
		domain_post_event(d, EVENT_REBOOT, "reset after a dump by hvctl dump --reset");
		reply_line(r, "Domain %s is being reset", d->name);
	}
}

int dumpjob_start(struct hv *hv, struct ctl_client *c, struct domain *d, const char *path, int format,
		  enum dumpjob_after after, struct reply *r)
{
	struct dumpjob *j = calloc(1, sizeof(*j));
	if (!j)
		return reply_error(r, "out of memory");
	if (snprintf(j->path, sizeof(j->path), "%s", path) >= (int)sizeof(j->path)) {
		free(j);
		return reply_error(r, "dump: path too long");
	}
	j->hv = hv;
	j->d = d;
	j->format = format;
	j->after = after;
	j->by = -1;
	return job_start(hv, c, d, dump_run, j, r);
}

int hv_domain_dump_background(struct hv *hv, int id, const char *path, int format, enum hv_dump_by who,
			      struct err *e)
{
	struct domain *d = hv_domain_by_id(hv, id);
	struct reply r = { .fd = -1, .log = hv };
	struct dumpjob *j;
	if (!d)
		return err_set(e, "no domain %d", id);
	/* an ended job's reference goes in its thread: a crashed domain's own dump is the only
	 * one that may start while its event waits, and nothing else holds it then */
	if (atomic_load(&d->dump_active))
		return err_set(e, "%s is being dumped, saved or checkpointed: this dump waits for no other", d->name);
	j = calloc(1, sizeof(*j));
	if (!j)
		return err_set(e, "out of memory");
	*j = (struct dumpjob){ .hv = hv, .d = d, .format = format, .after = DUMPJOB_LIVE, .by = (int)who };
	if (snprintf(j->path, sizeof(j->path), "%s", path) >= (int)sizeof(j->path)) {
		free(j);
		return err_set(e, "dump: path too long");
	}
	if (job_start(hv, NULL, d, dump_run, j, &r) < 0)
		return err_set(e, "cannot start the dump's thread");
	return 0;
}
