/* destroy: hvctl destroy NAME, as xl destroy: the domain stops at once. One whose RAM a
 * dump, save or checkpoint is reading (dump_active) is not torn down under it, so that the
 * file is complete and right: it is paused, the client is told it waits, and hv's loop
 * destroys it when the last reader ends, or after DESTROY_WAIT_MS gives up and resumes it;
 * the client gets the outcome then (the loop never waits). */
#include "internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "control.h"

#define DESTROY_WAIT_MS 60000

/* What keeps d from being destroyed now (a debugger's session owns it): -1 after the
 * reply, else 0. */
static int refused(struct domain *d, struct reply *r)
{
	if (__atomic_load_n(&d->dbg, __ATOMIC_ACQUIRE))
		return reply_error(r, "a debugger is attached to %s: detach it first", d->name);
	return 0;
}

static void destroy_now(struct hv *hv, struct domain *d)
{
	char why[120];
	while (d->pause_count)
		domain_unpause(d, NULL);
	snprintf(why, sizeof(why), "%s was destroyed (hvctl destroy): console closed", d->name);
	hv_domain_remove(hv, d, why); /* its console clients and waiting destroyers are told */
}

int destroy_run(struct ctl_req *q)
{
	struct reply *r = q->r;
	struct domain *d = q->dom;
	char name[64];
	snprintf(name, sizeof(name), "%s", d->name);
	if (d->id == 0 && !ctl_opt(q, "--force"))
		return reply_error(r, "destroying dom0 ends hv; add --force to do it");
	if (refused(d, r) < 0)
		return -1;
	if (!atomic_load(&d->dump_active)) {
		bool dom0 = d->id == 0;
		destroy_now(q->hv, d);
		reply_line(r, "Domain %s destroyed", name);
		if (dom0) /* what dom0's end means (docs/control.md) */
			reply_line(r, "hv %s; hvctl shutdown-hv stops it",
				   q->hv->opt.daemon ? "(--daemon) goes on serving the domUs and the control socket"
						     : "runs on while a domU runs");
		return CTL_DONE;
	}
	if (!d->destroy_by_ns) {
		d->destroy_by_ns = time_ns() + DESTROY_WAIT_MS * 1000000ull;
		d->destroy_paused = d->pause_count == 0 && domain_pause(d, NULL) == 0; /* it runs no more */
		hv_log(q->hv, "%s: destroyed when its dump (save, checkpoint) ends: waiting, at most %d s", name,
		       DESTROY_WAIT_MS / 1000);
	}
	reply_line(r, "Domain %s is being dumped (or saved, checkpointed): paused, destroyed when the file is "
		      "complete (waiting, at most %d s)", name, DESTROY_WAIT_MS / 1000);
	q->client->waiting = true;
	q->client->wait_dom = d->id;
	return CTL_WAIT;
}

int destroy_due(struct hv *hv)
{
	uint64_t now = time_ns(), next = UINT64_MAX;
	for (int i = 0; i < HV_MAX_DOMAINS; i++) {
		struct domain *d = hv->domains[i];
		struct reply r = { .fd = -1, .log = hv };
		bool busy;
		if (!d || !d->destroy_by_ns)
			continue;
		busy = atomic_load(&d->dump_active) != 0;
		if (!busy && refused(d, &r) == 0) { /* the file is complete: now */
			hv_log(hv, "%s destroyed (hvctl destroy waited for its dump to end)", d->name);
			destroy_now(hv, d);
			continue;
		}
		if (busy && now < d->destroy_by_ns) {
			if (d->destroy_by_ns - now < next)
				next = d->destroy_by_ns - now;
			continue;
		}
		/* waited in vain (or a debugger attached meanwhile): left as it was, and said so */
		d->destroy_by_ns = 0;
		if (d->destroy_paused)
			domain_unpause(d, NULL);
		d->destroy_paused = false;
		if (busy) {
			hv_log(hv, "%s: not destroyed: its dump (save, checkpoint) did not end within %d s", d->name,
			       DESTROY_WAIT_MS / 1000);
			control_wait_end(hv, d->id, 1, "%s was not destroyed: its dump (save, checkpoint) did not end within "
				         "%d s (hvctl dump-cancel %s, then destroy it)", d->name, DESTROY_WAIT_MS / 1000, d->name);
		} else {
			control_wait_end(hv, d->id, 1, "%s was not destroyed: a debugger attached meanwhile (detach it first)",
					 d->name);
		}
	}
	return next == UINT64_MAX ? -1 : (int)(next / 1000000ull) + 1;
}
