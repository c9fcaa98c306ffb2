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

/* A verb's option: "--live" (a flag) or "--downtime" with a value (value true). */
struct ctl_opt {
	const char *name;
	bool value;
};

/* A row's .opts: CTL_OPTS({ "--all", false }, { "--format", true }) */
#define CTL_OPTS(...) ((const struct ctl_opt[]){ __VA_ARGS__, { NULL, false } })

#define CTL_MAX_POS 8
#define CTL_MAX_OPTS 12

/* One request, as its handler sees it. */
struct ctl_req {
	struct hv *hv;
	struct ctl_client *client; /* the connection (its fd is r->fd) */
	struct reply *r;
	const struct ctl_verb *verb; /* the row being run (its usage for "usage: ..." errors) */
	struct domain *dom;          /* CTL_DOMAIN: the running domain the first argument names */
	int argc;                    /* argv[0] is the verb */
	char **argv;
	/* What the dispatcher parsed from argv by the row's table (ctl_opt below): the
	 * positional words, and each option's value in the order of verb->opts ("" for a
	 * flag given, NULL for an option absent). */
	int npos;
	const char *pos[CTL_MAX_POS];
	const char *val[CTL_MAX_OPTS];
};

enum ctl_flags {
	/* The first positional word names a running domain (name or id): the dispatcher
	 * looks it up (and answers "which domain?" / "no running domain named ...") after
	 * parsing the options and before the handler runs, which finds it in q->dom. */
	CTL_DOMAIN = 1 << 0,
	/* The verb changes a domain, a definition or hv's settings (not only reports). */
	CTL_CHANGES = 1 << 1,
};

struct ctl_verb {
	const char *name;  /* what the client sends as argv[0] */
	int (*run)(struct ctl_req *q); /* enum ctl_result, or -1 after reply_error */
	unsigned flags;    /* enum ctl_flags */
	const char *usage; /* "dominfo NAME [--json]": docs/control.md's spelling */
	/* The verb's options ({ NULL }-ended; NULL: none) and how many positional words it
	 * takes: the dispatcher refuses an unknown option (suggesting the closest), a missing
	 * value, fewer than min_args or more than max_args words, each with the usage line,
	 * before the handler runs. A word is an option when it starts with '-' and a letter or
	 * a second '-' ("-5" and "-" are words); "--" ends the options; "--opt=VALUE" is
	 * "--opt VALUE". */
	const struct ctl_opt *opts;
	int min_args, max_args;
};

/* A record: one object's fields, kept once and replied either as "Label:  value" lines
 * (the label padded to 15) or as one JSON object on one line, so text and --json agree
 * (record.c). Every field with a text has a JSON key; some have a JSON value only. */
#define REC_MAX 32
struct rec_field {
	const char *label, *key;
	bool has_text;
	char text[1200];
	char json[1300];
};
struct rec {
	unsigned n;
	struct rec_field f[REC_MAX];
};
/* A field: its text from fmt (label or fmt NULL: none; the JSON value only) and its JSON
 * value json (NULL: the text as a JSON string, or null when there is no text). */
__attribute__((format(printf, 5, 6))) void rec_add(struct rec *r, const char *label, const char *key,
						    const char *json, const char *fmt, ...);
/* A string field; NULL or "" is no text and JSON null. */
void rec_add_str(struct rec *r, const char *label, const char *key, const char *s);
/* The record as text lines, or (json) one "{...}" line followed by after ("," or ""). */
void rec_reply(struct reply *out, const struct rec *r, bool json, const char *after);

/* Adds a verb (the row must outlive hv: a static const). A name registered already is
 * refused with -1 and a message, never overwritten. */
int ctl_register(const struct ctl_verb *v, struct err *e);
/* The row registered under name, or NULL. */
const struct ctl_verb *ctl_lookup(const char *name);
/* A file a client named must be absolute: hv's working directory is not the client's, and
 * hv never writes through a path relative to it. 0, or -1 with the error replied. */
int ctl_need_abs_path(struct reply *r, const char *verb, const char *path);
/* The value of the verb's option name ("" for a flag given), NULL when it was not given. */
const char *ctl_opt(const struct ctl_req *q, const char *name);
/* reply_error "usage: VERB ..." with the row's usage line; returns -1. */
int ctl_usage(struct ctl_req *q);
/* The running domain a verb's argument names (its name or its id); NULL after an error
 * reply ("which domain? ...", "no running domain named ..."). */
struct domain *ctl_need_domain(struct hv *hv, struct reply *r, const char *name);

#endif
