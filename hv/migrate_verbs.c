/* migrate_verbs: hvctl migrate and migrate-cancel over hv/migrate.h. A migration runs as a
 * job (job.c): a line per pre-copy round while it goes, the figures at the end. */
#include "internal.h"
#include "control.h"
#include "migrate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mig_job {
	struct hv *hv;
	struct domain *d;
	struct hv_migrate_opts o;
	struct job *j;
	struct reply *r;
	bool json;
	char host[256];
};

static int progress(void *opaque, uint64_t done, uint64_t total)
{
	struct mig_job *m = opaque;
	return job_progress(m->j, done, total);
}

static void round_line(void *opaque, const struct hv_migrate_round *x)
{
	struct mig_job *m = opaque;
	char cap[48] = "";
	if (m->json)
		return;
	if (x->cap)
		snprintf(cap, sizeof(cap), ", throttled to %u%% of a CPU", x->cap);
	reply_line(m->r, "round %u: %llu pages, %.1f MiB (%.1f MiB in all); %llu written meanwhile (%llu pages/s)%s; "
			 "the rest needs %llu ms",
		   x->round, (unsigned long long)x->pages, x->bytes / 1048576.0, x->total_bytes / 1048576.0,
		   (unsigned long long)x->dirty_pages, (unsigned long long)x->dirty_rate, cap, (unsigned long long)x->eta_ms);
}

static void mig_run(struct job *j, void *arg, struct reply *r)
{
	struct mig_job *m = arg;
	struct hv_migrate_stats st;
	struct err e;
	m->j = j;
	m->r = r;
	m->o.progress = progress;
	m->o.round = round_line;
	m->o.opaque = m;
	atomic_fetch_add(&m->d->ckpt.busy, 1);
	if (hv_domain_migrate(m->hv, m->d, &m->o, &st, &e) < 0) {
		atomic_fetch_sub(&m->d->ckpt.busy, 1);
		if (st.unknown)
			reply_error(r, "%s", e.msg);
		else
			reply_error(r, "migration of %s failed: %s%s; it runs on here", m->d->name, e.msg,
				    job_client_gone(j) ? " (the client went away)" : "");
		return;
	}
	atomic_fetch_sub(&m->d->ckpt.busy, 1);
	if (m->json) {
		reply_line(r, "{\"domain\": \"%s\", \"host\": \"%s\", \"live\": %s, \"downtime_ms\": %.3f, \"total_ms\": %.1f, "
			      "\"bytes\": %llu, \"pages\": %llu, \"rounds\": %u, \"cap\": %u, \"postcopy\": %s, "
			      "\"post_pages\": %llu, \"post_faults\": %llu, \"post_ms\": %.1f}",
			   m->d->name, m->host, m->o.live ? "true" : "false", st.downtime_ns / 1e6, st.total_ns / 1e6,
			   (unsigned long long)st.bytes, (unsigned long long)st.pages, st.rounds, st.cap,
			   m->o.postcopy ? "true" : "false", (unsigned long long)st.post_pages,
			   (unsigned long long)st.post_faults, st.post_ns / 1e6);
		return;
	}
	reply_line(r, "Domain %s migrated to %s%s: downtime %.3f ms, total %.1f ms, %.1f MiB sent in %u round%s%s", m->d->name,
		   m->host, m->o.postcopy ? " (post-copy)" : m->o.live ? " (live)" : "", st.downtime_ns / 1e6, st.total_ns / 1e6, st.bytes / 1048576.0,
		   st.rounds, st.rounds == 1 ? "" : "s", st.cap ? " (auto-converge throttled it)" : "");
	reply_line(r, "Downtime: %.3f ms for the last %llu pages, %.3f ms the machine state, %.3f ms the receiver's "
		      "build, %.3f ms the commit",
		   st.stop_pages_ns / 1e6, (unsigned long long)st.last_pages, (st.stop_sent_ns - st.stop_pages_ns) / 1e6,
		   (st.stop_ready_ns - st.stop_sent_ns) / 1e6, (st.downtime_ns - st.stop_ready_ns) / 1e6);
	if (m->o.postcopy)
		reply_line(r, "Post-copy: %llu pages after the switch in %.1f ms, %llu asked for by the guest's first touch",
			   (unsigned long long)st.post_pages, st.post_ns / 1e6, (unsigned long long)st.post_faults);
}

/* "HOST", "HOST:PORT", "[V6]:PORT", "V6". */
static int host_port(const char *s, char *host, size_t len, unsigned *port, struct reply *r)
{
	const char *colon = strrchr(s, ':');
	char *end;
	*port = 0;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || (rb[1] && rb[1] != ':'))
			return reply_error(r, "migrate: bad host '%s' ([ADDRESS]:PORT)", s);
		snprintf(host, len, "%.*s", (int)(rb - s - 1), s + 1);
		colon = rb[1] ? rb + 1 : NULL;
	} else if (colon && strchr(s, ':') != colon) { /* a bare IPv6 address */
		snprintf(host, len, "%s", s);
		return 0;
	} else
		snprintf(host, len, "%.*s", colon ? (int)(colon - s) : (int)strlen(s), s);
	if (colon) {
		unsigned long p = strtoul(colon + 1, &end, 10);
		if (!colon[1] || *end || p < 1 || p > 65535)
			return reply_error(r, "migrate: bad port in '%s' (1 to 65535)", s);
		*port = (unsigned)p;
	}
	if (!host[0])
		return reply_error(r, "migrate: no host in '%s'", s);
	return 0;
}

static int number(const char *v, const char *what, unsigned max, unsigned *out, struct reply *r)
{
	char *end;
	unsigned long x;
	if (!v)
		return 0;
	x = strtoul(v, &end, 10);
	if (!*v || *end || x < 1 || x > max)
		return reply_error(r, "migrate: %s must be a number from 1 to %u, not '%s'", what, max, v);
	*out = (unsigned)x;
	return 0;
}

static int cmd_migrate(struct ctl_req *q)
{
	struct mig_job *m;
	struct domain *d = q->dom;
	if (atomic_load(&d->dump_active))
		return reply_error(q->r, "%s is being dumped, saved, checkpointed or migrated: wait for it", d->name);
	m = xcalloc(1, sizeof(*m));
	*m = (struct mig_job){ .hv = q->hv, .d = d, .json = ctl_opt(q, "--json") != NULL };
	m->o.live = ctl_opt(q, "--live") != NULL;
	m->o.ssl = ctl_opt(q, "--ssl") != NULL;
	m->o.postcopy = ctl_opt(q, "--postcopy") != NULL;
	if (host_port(q->pos[1], m->host, sizeof(m->host), &m->o.port, q->r) < 0 ||
	    number(ctl_opt(q, "--downtime"), "--downtime (ms)", 60000, &m->o.downtime_ms, q->r) < 0 ||
	    number(ctl_opt(q, "--bandwidth"), "--bandwidth (MiB/s)", 1u << 20, &m->o.bandwidth, q->r) < 0) {
		free(m);
		return -1;
	}
	if (m->o.postcopy && !m->o.live)
		m->o.live = true; /* post-copy starts as a live migration */
	m->o.host = m->host;
	return job_start(q->hv, q->client, d, mig_run, m, q->r);
}

static int cmd_migrate_cancel(struct ctl_req *q)
{
	struct err e;
	if (hv_migrate_cancel(q->dom, &e) < 0)
		return reply_error(q->r, "%s", e.msg);
	reply_line(q->r, "Migration of %s cancelled; it runs on here", q->dom->name);
	return 0;
}

static const struct ctl_verb migrate_verbs[] = {
	{ .name = "migrate", .run = cmd_migrate, .flags = CTL_DOMAIN | CTL_CHANGES,
	  .usage = "migrate NAME HOST[:PORT] [--live] [--ssl] [--downtime MS] [--bandwidth MIB/S] [--postcopy] [--json]",
	  .opts = CTL_OPTS({ "--live", false }, { "--ssl", false }, { "--postcopy", false }, { "--downtime", true },
			   { "--bandwidth", true }, { "--json", false }),
	  .min_args = 2, .max_args = 2 },
	{ .name = "migrate-cancel", .run = cmd_migrate_cancel, .flags = CTL_DOMAIN | CTL_CHANGES,
	  .usage = "migrate-cancel NAME", .min_args = 1, .max_args = 1 },
};

int migrate_register(struct err *e)
{
	for (size_t i = 0; i < sizeof(migrate_verbs) / sizeof(migrate_verbs[0]); i++)
		if (ctl_register(&migrate_verbs[i], e) < 0)
			return -1;
	return 0;
}
