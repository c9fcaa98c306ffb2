/* dumpjob: `hvctl dump` runs in a thread of its own, so hv's loop, the consoles and the
 * other clients go on while a big domain is written. The thread owns the client's
 * connection: it streams "p DONE TOTAL" progress lines (hvctl draws them on a terminal),
 * then the reply and the status. A client that goes away (hvctl interrupted) or
 * `hvctl dump-cancel` cancels the dump: the partial file is removed. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"
#include "dump/dump.h"

struct dumpjob {
	struct hv *hv;
	struct domain *d;
	int fd, format;
	enum dumpjob_after after;
	uint64_t last;
	bool gone;
	char path[4096];
};

static int job_progress(void *o, uint64_t done, uint64_t total)
{
	struct dumpjob *j = o;
	uint64_t now = time_ns();
	char line[64];
	int n;
	if (now - j->last < 200000000ull && done != total)
		return 0;
	j->last = now;
	n = snprintf(line, sizeof(line), "p %llu %llu\n", (unsigned long long)done, (unsigned long long)total);
	if (send(j->fd, line, (size_t)n, MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EINTR) {
		j->gone = true; /* hvctl went away: nobody wants this dump any more */
		return 1;
	}
	return 0;
}

static void *job_run(void *arg)
{
	struct dumpjob *j = arg;
	struct domain *d = j->d;
	struct hv_dump_opts o = { .format = j->format, .progress = job_progress, .opaque = j };
	struct reply r = { .fd = j->fd };
	struct hv_dump_stats st;
	struct err e;
	char st_line[16];
	int n;

	j->last = time_ns();
	if (hv_domain_dump(j->hv, d->id, j->path, &o, &st, &e) < 0) {
		reply_error(&r, "%s%s", e.msg, j->gone ? " (the client went away)" : "");
		if (j->gone)
			hv_log(j->hv, "%s: dump to %s cancelled: the client went away", d->name, j->path);
	} else {
		reply_line(&r,
			   "Domain %s dumped to %s (%s): %llu MiB of RAM in %llu MiB of file, %s, paused %.3f ms, total %.1f ms, "
			   "%llu pages saved during the write, %llu protected again in the pause",
			   d->name, j->path, dump_fmt_name((enum dump_fmt)j->format), (unsigned long long)(st.bytes >> 20),
			   (unsigned long long)(st.file_bytes >> 20),
			   st.cow ? "copy-on-write (the domain ran meanwhile)" : "the domain paused throughout",
			   st.pause_ns / 1e6, st.total_ns / 1e6, (unsigned long long)st.pages_copied,
			   (unsigned long long)st.pages_reprotected);
		if (j->after == DUMPJOB_CRASH) {
			domain_post_event(d, EVENT_CRASH, "crashed after a dump by hvctl dump --crash");
			reply_line(&r, "Domain %s crashed (its on_crash action follows)", d->name);
		} else if (j->after == DUMPJOB_RESET) {
			domain_post_event(d, EVENT_REBOOT, "reset after a dump by hvctl dump --reset");
			reply_line(&r, "Domain %s is being reset", d->name);
		}
	}
	n = snprintf(st_line, sizeof(st_line), "= %d\n", r.status);
	(void)!send(j->fd, st_line, (size_t)n, MSG_NOSIGNAL);
	close(j->fd);
	/* the reference taken by dumpjob_start: the domain may be torn down from here on */
	if (atomic_fetch_sub(&d->dump_active, 1) == 1)
		hv_wake(j->hv);
	free(j);
	return NULL;
}

int dumpjob_start(struct hv *hv, struct ctl_client *c, struct domain *d, const char *path, int format,
		  enum dumpjob_after after, struct reply *r)
{
	struct dumpjob *j = calloc(1, sizeof(*j));
	pthread_attr_t a;
	pthread_t th;
	int rc;
	if (!j)
		return reply_error(r, "out of memory");
	if (snprintf(j->path, sizeof(j->path), "%s", path) >= (int)sizeof(j->path)) {
		free(j);
		return reply_error(r, "dump: path too long");
	}
	j->hv = hv;
	j->d = d;
	j->fd = c->fd;
	j->format = format;
	j->after = after;
	atomic_fetch_add(&d->dump_active, 1); /* taken here, in hv's loop: no teardown can slip in */
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &a, job_run, j);
	pthread_attr_destroy(&a);
	if (rc) {
		atomic_fetch_sub(&d->dump_active, 1);
		free(j);
		return reply_error(r, "cannot start the dump thread: %s", strerror(rc));
	}
	return 2;
}
