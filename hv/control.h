/* control: the control socket (private to hv/): a Unix stream socket, one request line
 * per connection; see docs/control.md for the protocol. */
#ifndef HVKIT_HV_CONTROL_H
#define HVKIT_HV_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"
#include "util/access.h"

#define CONTROL_MAX_CLIENTS 256
#define CONTROL_MAX_LINE 65536
#define CONTROL_MAX_ARGS 64

struct hv;
struct err;
struct domain;

/* A client's reply waits here when its socket is full: hv's loop never blocks on a
 * client. A reply past CONTROL_MAX_OUT (a client that does not read) drops the client. */
#define CONTROL_MAX_OUT (8u << 20)
/* A connection must send its whole request within this time, and a finished reply must
 * be read within it, or it is dropped (idle and half-sent connections hold no slot). */
#define CONTROL_REQ_MS 10000

struct ctl_client {
	int fd;
	size_t len, cap;
	char *buf;          /* the request so far, grown up to CONTROL_MAX_LINE */
	int console_dom;    /* attached to this domain's console, or -1 */
	uint64_t since_ns;  /* accepted, or (draining) the reply finished */
	bool draining;      /* the request is done: drop once out is sent */
	bool overflow;      /* out passed CONTROL_MAX_OUT: the client is dropped */
	bool gone;          /* a send failed: the client went away */
	char *out;          /* reply bytes the socket did not take yet */
	size_t out_len, out_cap;
};

struct control {
	int listen_fd;
	struct access_sock sock; /* listen_fd, and the path it removes only while it is ours */
	struct ctl_client clients[CONTROL_MAX_CLIENTS];
	unsigned nclients;
};

int control_open(struct hv *hv, const char *path, struct err *e);
void control_close(struct hv *hv);
/* Adds the listening socket and clients to p; returns how many. */
int control_pollfds(struct hv *hv, struct pollfd *p, int max);
void control_handle(struct hv *hv, const struct pollfd *p, int n);
/* Drops connections past CONTROL_REQ_MS; returns the poll timeout (ms) until the next
 * one is due, or -1 when none is waiting. */
int control_tick(struct hv *hv);
/* The domain dom_id is going away: its console clients get one line saying why (virsh and
 * xl console end too) and are closed. */
void control_console_end(struct hv *hv, int dom_id, const char *why);

/* Runs one request through the verb table (ctl.h): the verb's reply and status, or
 * "unknown command 'X'". Returns enum ctl_result: CTL_STREAM when the connection became a
 * console stream, CTL_HANDED when a thread took it over, else CTL_DONE. */
int ctl_run(struct hv *hv, struct ctl_client *c, int argc, char **argv);

/* toolstack.c: registers the built-in verbs (list, dominfo, ..., refresh) once; -1 with
 * the message when one of their names is taken. hv_create calls it. */
int toolstack_register(struct err *e);

/* job.c: a long request run by a thread of its own, which owns the client connection
 * (progress lines, then the reply and the status). fn runs in the thread and replies to r;
 * arg (malloc'd) is freed after it. job_start returns 2 when started, -1 after an error
 * reply; d (may be NULL) is kept from teardown until the job ends. */
struct job;
typedef void (*job_fn)(struct job *j, void *arg, struct reply *r);
int job_start(struct hv *hv, struct ctl_client *c, struct domain *d, job_fn fn, void *arg, struct reply *r);
/* (c NULL: no client; r then has .log set, and the job's reply goes to hv's log) */
/* Progress for the client ("p DONE TOTAL", at most 5 a second); non-zero: cancel (the
 * client went away, or hvctl dump-cancel). A dump_progress_fn's shape with j as opaque. */
int job_progress(struct job *j, uint64_t done, uint64_t total);
bool job_client_gone(const struct job *j);

/* contain_verbs.c: the rows of save, restore, checkpoint, checkpoint-list,
 * checkpoint-delete and rollback (toolstack_register adds them). */
int contain_register(struct err *e);
int migrate_register(struct err *e); /* migrate_verbs.c */

/* dumpjob.c: a dump written by its own thread, which owns the client connection: it sends
 * "p DONE TOTAL" progress lines, then the reply. Returns 2 when started, -1 after an error
 * reply. */
struct domain;
enum dumpjob_after { DUMPJOB_LIVE, DUMPJOB_CRASH, DUMPJOB_RESET };
int dumpjob_start(struct hv *hv, struct ctl_client *c, struct domain *d, const char *path, int format,
		  enum dumpjob_after after, struct reply *r);

#endif
