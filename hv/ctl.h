/* ctl: the control-verb table (as kvmtool's IPC handlers): what a verb's handler is given,
 * how it answers, and ctl_register, by which any file adds a verb. See docs/control.md. */
#ifndef HVKIT_HV_CTL_H
#define HVKIT_HV_CTL_H

#include <stdbool.h>

struct hv;
struct err;
struct domain;
struct ctl_client;

/* A reply being written to one client: "o TEXT" and "e MESSAGE" lines, then "= status". */
struct ctl_client;
struct reply {
	int fd;
	int status;
	char *out;              /* captured output when fd < 0 (debug keys from a client) */
	struct ctl_client *cl;  /* hv's loop: lines queue on the client, never block */
	struct hv *log;         /* no client (a job of hv's own): lines go to hv's log */
};
__attribute__((format(printf, 2, 3))) void reply_line(struct reply *r, const char *fmt, ...);
/* An "e" line; sets the status to 1 and returns -1. */
__attribute__((format(printf, 2, 3))) int reply_error(struct reply *r, const char *fmt, ...);

/* What a handler returns: the dispatcher then sends "= status" and closes the connection
 * (CTL_DONE, or -1 after reply_error); or leaves the connection to what the verb made of
 * it: a console stream (CTL_STREAM, control keeps and feeds it) or a thread of its own that
 * now owns the fd (CTL_HANDED, control forgets it without closing it); or an answer that
 * hv's loop gives later (CTL_WAIT: the handler set client->waiting and wait_dom; what the
 * client sends meanwhile is ignored; control_wait_end sends the outcome). */
enum ctl_result { CTL_DONE = 0, CTL_STREAM = 1, CTL_HANDED = 2, CTL_WAIT = 3 };

struct ctl_verb;

/* One request, as its handler sees it. */
struct ctl_req {
	struct hv *hv;
	struct ctl_client *client; /* the connection (its fd is r->fd) */
	struct reply *r;
	const struct ctl_verb *verb; /* the row being run (its usage for "usage: ..." errors) */
	struct domain *dom;          /* CTL_DOMAIN: the running domain the first argument names */
	int argc;                    /* argv[0] is the verb */
	char **argv;
};

enum ctl_flags {
	/* The first argument that is not a --flag names a running domain (name or id): the
	 * dispatcher looks it up (and answers "which domain?" / "no running domain named ...")
	 * before the handler runs, which finds it in q->dom. Verbs that check their options
	 * first (dump, gdbserver) look it up themselves with ctl_need_domain. */
	CTL_DOMAIN = 1 << 0,
	/* The verb changes a domain, a definition or hv's settings (not only reports). */
	CTL_CHANGES = 1 << 1,
};

struct ctl_verb {
	const char *name;  /* what the client sends as argv[0] */
	int (*run)(struct ctl_req *q); /* enum ctl_result, or -1 after reply_error */
	unsigned flags;    /* enum ctl_flags */
	const char *usage; /* "dominfo NAME [--json]": docs/control.md's spelling */
};

/* Adds a verb (the row must outlive hv: a static const). A name registered already is
 * refused with -1 and a message, never overwritten. */
int ctl_register(const struct ctl_verb *v, struct err *e);
/* The row registered under name, or NULL. */
const struct ctl_verb *ctl_lookup(const char *name);
/* Whether flag is one of argv[1..]. */
bool ctl_has_flag(int argc, char **argv, const char *flag);
/* The first argument after the verb that is not a --flag (a verb's NAME or FILE), or NULL. */
const char *ctl_first_arg(int argc, char **argv);
/* A file a client named must be absolute: hv's working directory is not the client's, and
 * hv never writes through a path relative to it. 0, or -1 with the error replied. */
int ctl_need_abs_path(struct reply *r, const char *verb, const char *path);
/* A verb's options, as a table: "--live" (a flag) or "--downtime" with a value. */
struct ctl_opt {
	const char *name;
	bool value;
};
/* Splits argv[1..] into options of opts (n of them; vals[i]: the value, "" for a flag seen,
 * NULL when absent) and at most max positional arguments (pos, *npos). An unknown option,
 * a missing value or one argument too many: an error reply naming it and the usage, -1. */
int ctl_parse(struct reply *r, int argc, char **argv, const struct ctl_opt *opts, int n, const char **vals,
	      const char **pos, int max, int *npos, const char *usage);
/* The running domain a verb's argument names (its name or its id); NULL after an error
 * reply ("which domain? ...", "no running domain named ..."). */
struct domain *ctl_need_domain(struct hv *hv, struct reply *r, const char *name);

#endif
