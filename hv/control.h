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
	bool waiting;       /* CTL_WAIT: its answer comes from hv's loop (control_wait_end) */
	int wait_dom;       /* (waiting) the domain it is about */
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

/* What a client sent (the socket's bytes, as the loop reads them; a fuzz target's): a
 * console client's go to its domain's 16550; a request collects up to its newline (at most
 * CONTROL_MAX_LINE - 1 bytes; what follows it is never read), is split (ctl_split) and runs
 * (ctl_run). 0: keep the client (more to come, or it became a console stream); 1: done, the
 * reply queued or sent (drop the client once cl->out is sent); 2: a thread took the
 * connection over (forget it, do not close it). A bad request is answered "e ..." "= 1". */
int control_feed(struct hv *hv, struct ctl_client *cl, const void *buf, size_t n);
/* Sends what of cl->out the client's socket takes now, without waiting. */
void control_flush(struct ctl_client *cl);
/* Splits a request line of len bytes (line[len] is writable) at its TABs into argv; a NUL
 * byte in it, or more than CONTROL_MAX_ARGS arguments: -1 with the message. */
int ctl_split(char *line, size_t len, char **argv, int *argc, struct err *e);

/* The outcome for the clients waiting on domain dom_id (CTL_WAIT): one line ("o" for
 * status 0, else "e") and the status; they are then dropped once it is sent. */
__attribute__((format(printf, 4, 5))) void control_wait_end(struct hv *hv, int dom_id, int status, const char *fmt,
							    ...);

/* destroy.c: the destroy verb (a domain being dumped is destroyed when the dump ends: the
 * client waits, CTL_WAIT), and hv's loop's part: destroy_due does the destroys whose dumps
 * ended and gives up those that waited too long; returns the poll timeout (ms) until the
 * next is due, or -1. */
int destroy_run(struct ctl_req *q);
int destroy_due(struct hv *hv);

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
/* The job's status goes to the client only once the domain with this id has left hv's
 * table (a save that destroys it: the loop does that after the job's end), so the next
 * request finds it gone; at most 30 s. */
void job_wait_gone(struct job *j, int id);

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
