/* migrate: hv's migration contract (issue 14): a domain sent to another hv's relocation
 * server, stopped and sent or live (pre-copy over KVM's dirty log), and the server that
 * receives domains (config/xend-relocation-*, applied by refresh). The stream is the domain
 * image (dump/image.h) behind a short hello; the wire is docs/migration.md. */
#ifndef HVKIT_HV_MIGRATE_H
#define HVKIT_HV_MIGRATE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct hv;
struct domain;

#define HV_RELOC_PORT 8002
#define RELOC_MAX_FDS 2 /* listeners */

struct hv_migrate_round {
	unsigned round;
	uint64_t pages, bytes;      /* sent in this round */
	uint64_t dirty_pages;       /* written meanwhile: what the next round sends */
	uint64_t dirty_rate;        /* pages the guest wrote per second in this round */
	uint64_t total_bytes;       /* sent so far */
	uint64_t eta_ms;            /* the remaining rounds at this round's speed */
	unsigned cap;               /* the throttle put on the guest (per cent of a CPU; 0: none) */
};

struct hv_migrate_opts {
	const char *host;     /* a name or an address */
	unsigned port;        /* 0: HV_RELOC_PORT */
	bool live, ssl, postcopy;
	unsigned downtime_ms; /* 0: config/migration-downtime */
	unsigned bandwidth;   /* MiB/s; 0: unlimited */
	/* after each round (live), and as pages go (non-zero: cancel) */
	void (*round)(void *opaque, const struct hv_migrate_round *r);
	int (*progress)(void *opaque, uint64_t done, uint64_t total);
	void *opaque;
};

struct hv_migrate_stats {
	uint64_t downtime_ns; /* from the pause here to the receiver's "running" */
	uint64_t total_ns, bytes, pages;
	unsigned rounds, cap; /* cap: the strongest throttle used (0: none) */
	bool unknown;         /* the link failed after the commit: the domain is kept paused here */
	/* the downtime's parts, from the pause: the last pages sent, the machine state sent
	 * too, the receiver's "ready" (it built the domain); the rest is the commit */
	uint64_t stop_pages_ns, stop_sent_ns, stop_ready_ns, last_pages;
	/* --postcopy: the pages sent after the switch, how many the receiver asked for, the
	 * phase's time (from "running" to the receiver's "done") */
	uint64_t post_pages, post_faults, post_ns;
};

/* Sends d to o->host. On success the receiver runs it and hv's loop destroys it here. A
 * failure before the receiver took it leaves it running here as before (stats->unknown:
 * the link broke after the commit; it is kept paused here, and the message says so). */
int hv_domain_migrate(struct hv *hv, struct domain *d, const struct hv_migrate_opts *o,
		      struct hv_migrate_stats *st, struct err *e);
/* Cancels a running migration of d (hvctl migrate-cancel): its connection is shut. */
int hv_migrate_cancel(struct domain *d, struct err *e);

/* ---- the relocation server (reloc.c), in hv's loop */
/* (Re)binds the listener from the properties (after refresh); logs what it did. */
void reloc_apply(struct hv *hv);
/* Its pollfds (the listener), at most max; the count. */
int reloc_pollfds(struct hv *hv, struct pollfd *p, int max);
/* Accepts what the pollfds say, and starts domains that arrived (hv_wake'd). */
void reloc_handle(struct hv *hv, struct pollfd *p, int n);
void reloc_arrivals(struct hv *hv);
void reloc_close(struct hv *hv);
/* "ADDRESS:PORT" of the listener, or "off" (dominfo, the q key). */
const char *reloc_describe(struct hv *hv, char *buf, size_t len);

#endif
