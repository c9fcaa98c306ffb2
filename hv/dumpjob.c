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
	if (hv_domain_dump(j->hv, d->id, j->path, &o, &st, &e) < 0) {
		reply_error(r, "%s%s", e.msg, job_client_gone(job) ? " (the client went away)"
				: atomic_load(&j->hv->exiting) ? " (hv is exiting: the domain is destroyed)" : "");
		if (job_client_gone(job))
			hv_log(j->hv, "%s: dump to %s cancelled: the client went away", d->name, j->path);
		return;
	}
	reply_line(r,
		   "Domain %s dumped to %s (%s): %llu MiB of RAM in %llu MiB of file, %s, paused %.3f ms, total %.1f ms, "
		   "%llu pages saved during the write, %llu protected again in the pause",
		   d->name, j->path, dump_fmt_name((enum dump_fmt)j->format), (unsigned long long)(st.bytes >> 20),
		   (unsigned long long)(st.file_bytes >> 20),
		   st.cow ? "copy-on-write (the domain ran meanwhile)" : "the domain paused throughout", st.pause_ns / 1e6,
		   st.total_ns / 1e6, (unsigned long long)st.pages_copied, (unsigned long long)st.pages_reprotected);
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
	return job_start(hv, c, d, dump_run, j, r);
}
