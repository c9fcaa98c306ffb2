/* domcons: a domain's console backend (private to hv/): a ring of everything the guest
 * printed, and the hvctl clients attached to it. */
#ifndef HVKIT_HV_DOMCONS_H
#define HVKIT_HV_DOMCONS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define DOMCONS_RING 65536
#define DOMCONS_MAX_CLIENTS 8

struct domcons {
	pthread_mutex_t lock;
	uint8_t ring[DOMCONS_RING];
	uint64_t head; /* bytes ever written */
	int clients[DOMCONS_MAX_CLIENTS];
	unsigned nclients;
};

void domcons_init(struct domcons *c);
void domcons_fini(struct domcons *c);
/* Guest output: into the ring and, without blocking, to every attached client. */
void domcons_out(struct domcons *c, const uint8_t *buf, size_t n);
/* A new client: sends it hello (may be NULL) and the last up-to-history bytes of the ring
 * (at most 4096), then adds it, all under the lock, so no output comes before or between
 * them; -1 when there are too many clients. */
int domcons_attach(struct domcons *c, int fd, const char *hello, size_t history);
void domcons_detach(struct domcons *c, int fd);
/* The last up-to-len bytes of the ring (the domain image's console tail). */
size_t domcons_tail(struct domcons *c, uint8_t *buf, size_t len);

#endif
