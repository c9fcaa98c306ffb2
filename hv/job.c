/* job: a long request (a dump, a save, a checkpoint, a rollback) runs in a thread of its
 * own, so hv's loop, the consoles and the other clients go on meanwhile. The thread owns
 * the client's connection: it streams "p DONE TOTAL" progress lines (hvctl draws them on a
 * terminal), then the reply and the status. A client that goes away (hvctl interrupted)
 * cancels the job, as `hvctl dump-cancel` does. While a job runs, the domain holds a
 * dump_active reference: it is not torn down, and its events wait for the job's end. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "control.h"

struct job {
	struct hv *hv;
	struct domain *d;
	int fd;
	uint64_t last;
	bool gone;
	int wait_gone; /* a domain id whose removal the status waits for, or -1 */
	job_fn fn;
	void *arg;
};

int job_progress(struct job *j, uint64_t done, uint64_t total)
{
	uint64_t now = time_ns();
	char line[64];
	int n;
	if (j->d && atomic_load(&j->d->dump_cancel))
		return 1;
	if (j->fd < 0 || (now - j->last < 200000000ull && done != total))
		return 0; /* no client (a job of hv's own), or not yet */
	j->last = now;
	n = snprintf(line, sizeof(line), "p %llu %llu\n", (unsigned long long)done, (unsigned long long)total);
	if (send(j->fd, line, (size_t)n, MSG_NOSIGNAL) < 0 && errno != EAGAIN && errno != EINTR) {
		j->gone = true; /* hvctl went away: nobody wants the result any more */
		return 1;
	}
	return 0;
}

bool job_client_gone(const struct job *j)
{
	return j->gone;
}

void job_wait_gone(struct job *j, int id)
{
	j->wait_gone = id;
}

static void *job_run(void *arg)
{
	struct job *j = arg;
	struct reply r = { .fd = j->fd, .log = j->fd < 0 ? j->hv : NULL };
	char st_line[16];
	int n;

	j->last = time_ns();
	j->fn(j, j->arg, &r);
	/* the reference taken by job_start: the domain may be torn down from here on. Given
	 * back before the status goes, so the client's next request (a rollback after a
	 * rollback) does not find the domain still busy. */
	if (j->d && atomic_fetch_sub(&j->d->dump_active, 1) == 1)
		hv_wake(j->hv);
	for (int i = 0; j->wait_gone >= 0 && i < 30000 && hv_id_in_use(j->hv, j->wait_gone); i++)
		usleep(1000);
	if (j->fd >= 0) {
		n = snprintf(st_line, sizeof(st_line), "= %d\n", r.status);
		(void)!send(j->fd, st_line, (size_t)n, MSG_NOSIGNAL);
		close(j->fd);
	}
	free(j->arg);
	free(j);
	return NULL;
}

int job_start(struct hv *hv, struct ctl_client *c, struct domain *d, job_fn fn, void *arg, struct reply *r)
{
	struct job *j = calloc(1, sizeof(*j));
	pthread_attr_t a;
	pthread_t th;
	int rc;
	if (d && d->destroy_by_ns) { /* hvctl destroy waits for the RAM readers: no new one */
		free(arg);
		free(j);
		return reply_error(r, "%s is being destroyed (when the dump, save or checkpoint reading it ends)", d->name);
	}
	if (!j) {
		free(arg);
		return reply_error(r, "out of memory");
	}
	*j = (struct job){ .hv = hv, .d = d, .fd = c ? c->fd : -1, .wait_gone = -1, .fn = fn, .arg = arg };
	if (d)
		atomic_fetch_add(&d->dump_active, 1); /* taken here, in hv's loop: no teardown can slip in */
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	rc = pthread_create(&th, &a, job_run, j);
	pthread_attr_destroy(&a);
	if (rc) {
		if (d)
			atomic_fetch_sub(&d->dump_active, 1);
		free(arg);
		free(j);
		return reply_error(r, "cannot start a thread for the request: %s", strerror(rc));
	}
	return 2;
}
