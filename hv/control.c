/* control: the control socket. A client connects, its peer credentials are checked
 * (hv's own uid or root), it sends one request line of tab-separated arguments and reads
 * reply lines ("o TEXT", "e MESSAGE") up to a status line ("= N"); `console` turns the
 * connection into a raw byte stream instead. The verb table: ctl_register adds a row,
 * ctl_run looks argv[0] up in it and runs the row's handler. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"

static void send_all(int fd, const char *buf, size_t n)
{
	while (n) {
		ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		buf += w;
		n -= (size_t)w;
	}
}

/* How much of buf the socket takes now, without waiting; a client gone takes it all
 * (nobody reads the rest) and is marked so. */
static size_t send_now(struct ctl_client *cl, const char *buf, size_t n)
{
	size_t off = 0;
	while (off < n) {
		ssize_t w = send(cl->fd, buf + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (w <= 0) {
			cl->gone = true;
			return n;
		}
		off += (size_t)w;
	}
	return off;
}

void control_flush(struct ctl_client *cl)
{
	size_t off = send_now(cl, cl->out, cl->out_len);
	memmove(cl->out, cl->out + off, cl->out_len - off);
	cl->out_len -= off;
}

static void client_queue(struct ctl_client *cl, const char *buf, size_t n)
{
	if (cl->overflow || cl->gone)
		return;
	if (!cl->out_len) { /* nothing waiting: straight to the socket, the rest queued */
		size_t w = send_now(cl, buf, n);
		buf += w;
		n -= w;
	}
	if (!n || cl->gone)
		return;
	if (cl->out_len + n > CONTROL_MAX_OUT) {
		cl->overflow = true; /* a client that does not read loses its reply, then its slot */
		cl->out_len = 0;
		return;
	}
	if (cl->out_len + n > cl->out_cap) {
		size_t cap = cl->out_cap ? cl->out_cap : 4096;
		while (cap < cl->out_len + n)
			cap *= 2;
		cl->out = xrealloc(cl->out, cap);
		cl->out_cap = cap;
	}
	memcpy(cl->out + cl->out_len, buf, n);
	cl->out_len += n;
	control_flush(cl);
}

static void reply_send(struct reply *r, const char *buf, size_t n)
{
	if (r->cl)
		client_queue(r->cl, buf, n);
	else
		send_all(r->fd, buf, n);
}

static void reply_vline(struct reply *r, char kind, const char *fmt, va_list ap)
{
	char buf[4096];
	int n = vsnprintf(buf + 2, sizeof(buf) - 3, fmt, ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 4)
		n = (int)sizeof(buf) - 4;
	buf[0] = kind;
	buf[1] = ' ';
	for (int i = 2; i < n + 2; i++)
		if (buf[i] == '\n')
			buf[i] = ' ';
	buf[n + 2] = '\n';
	if (r->log) {
		buf[n + 2] = 0;
		hv_log(r->log, "%s", buf + 2);
		return;
	}
	reply_send(r, buf, (size_t)n + 3);
}

void reply_line(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_vline(r, 'o', fmt, ap);
	va_end(ap);
}

int reply_error(struct reply *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	reply_vline(r, 'e', fmt, ap);
	va_end(ap);
	r->status = 1;
	return -1;
}

/* ---- the verb table */

#define CTL_MAX_VERBS 128

static const struct ctl_verb *verbs[CTL_MAX_VERBS];
static unsigned nverbs;

const struct ctl_verb *ctl_lookup(const char *name)
{
	for (unsigned i = 0; name && i < nverbs; i++)
		if (!strcmp(verbs[i]->name, name))
			return verbs[i];
	return NULL;
}

int ctl_register(const struct ctl_verb *v, struct err *e)
{
	if (!v || !v->name || !*v->name || !v->run)
		return err_set(e, "a control verb needs a name and a handler");
	if (ctl_lookup(v->name))
		return err_set(e, "control verb '%s' is registered twice", v->name);
	for (int k = 0; v->opts && v->opts[k].name; k++)
		if (k + 1 >= CTL_MAX_OPTS)
			return err_set(e, "control verb '%s' has more than %d options", v->name, CTL_MAX_OPTS - 1);
	if (v->max_args > CTL_MAX_POS || v->min_args > v->max_args)
		return err_set(e, "control verb '%s': %d to %d words (at most %d)", v->name, v->min_args, v->max_args,
			       CTL_MAX_POS);
	if (nverbs == CTL_MAX_VERBS)
		return err_set(e, "too many control verbs (at most %d): '%s' not registered", CTL_MAX_VERBS, v->name);
	verbs[nverbs++] = v;
	return 0;
}

struct domain *ctl_need_domain(struct hv *hv, struct reply *r, const char *name)
{
	struct domain *d;
	char *end;
	long id;
	if (!name) {
		reply_error(r, "which domain? (give its name or id)");
		return NULL;
	}
	d = hv_domain_by_name(hv, name);
	if (d)
		return d;
	id = strtol(name, &end, 10);
	if (!*end && end != name && (d = hv_domain_by_id(hv, (int)id)))
		return d;
	reply_error(r, "no running domain named '%s'", name);
	return NULL;
}

int ctl_need_abs_path(struct reply *r, const char *verb, const char *path)
{
	if (path && path[0] == '/')
		return 0;
	return reply_error(r, "%s: %s is relative to hv's working directory: give an absolute path (hvctl does)", verb,
			   path ? path : "");
}

static bool is_option(const char *w)
{
	return w[0] == '-' && (w[1] == '-' || (w[1] >= 'a' && w[1] <= 'z') || (w[1] >= 'A' && w[1] <= 'Z'));
}

/* The option of v that w names (w may be "--opt=VALUE": *eq then points at the value). */
static int opt_index(const struct ctl_verb *v, const char *w, const char **eq)
{
	size_t len = strcspn(w, "=");
	*eq = w[len] ? w + len + 1 : NULL;
	for (int k = 0; v->opts && v->opts[k].name; k++)
		if (strlen(v->opts[k].name) == len && !strncmp(v->opts[k].name, w, len))
			return k;
	return -1;
}

/* argv by the row's table into q->pos and q->val; -1 after an error reply. */
static int parse_args(struct ctl_req *q)
{
	const struct ctl_verb *v = q->verb;
	const char *verb = v->name, *usage = v->usage;
	bool words_only = false;
	for (int i = 1; i < q->argc; i++) {
		const char *w = q->argv[i], *eq;
		int k;
		if (words_only || !is_option(w)) {
			if (q->npos == v->max_args || q->npos == CTL_MAX_POS)
				return reply_error(q->r, "%s: unexpected argument '%s' (usage: %s)", verb, w, usage);
			q->pos[q->npos++] = w;
			continue;
		}
		if (!strcmp(w, "--")) {
			words_only = true;
			continue;
		}
		k = opt_index(v, w, &eq);
		if (k < 0) {
			const char *names[CTL_MAX_OPTS], *near;
			size_t n = 0;
			for (; v->opts && v->opts[n].name && n < CTL_MAX_OPTS; n++)
				names[n] = v->opts[n].name;
			near = word_closest(w, names, n);
			if (near)
				return reply_error(q->r, "%s: unknown option '%s'; did you mean '%s'? (usage: %s)", verb, w,
						   near, usage);
			return reply_error(q->r, "%s: unknown option '%s' (usage: %s)", verb, w, usage);
		}
		if (!v->opts[k].value) {
			if (eq)
				return reply_error(q->r, "%s: %s takes no value (usage: %s)", verb, v->opts[k].name, usage);
			q->val[k] = "";
		} else if (eq) {
			q->val[k] = eq;
		} else if (i + 1 < q->argc) {
			q->val[k] = q->argv[++i];
		} else {
			return reply_error(q->r, "%s: %s needs a value (usage: %s)", verb, w, usage);
		}
	}
	if (q->npos >= v->min_args)
		return 0;
	if ((v->flags & CTL_DOMAIN) && !q->npos)
		return reply_error(q->r, "which domain? (give its name or id)");
	return ctl_usage(q);
}

const char *ctl_opt(const struct ctl_req *q, const char *name)
{
	for (int k = 0; q->verb->opts && q->verb->opts[k].name && k < CTL_MAX_OPTS; k++)
		if (!strcmp(q->verb->opts[k].name, name))
			return q->val[k];
	return NULL;
}

int ctl_usage(struct ctl_req *q)
{
	return reply_error(q->r, "usage: %s", q->verb->usage);
}

/* "unknown command 'X'", with the closest verb when X looks like a typo of one. */
static void unknown_verb(struct reply *r, const char *w)
{
	const char *names[CTL_MAX_VERBS], *near;
	for (unsigned i = 0; i < nverbs; i++)
		names[i] = verbs[i]->name;
	near = *w ? word_closest(w, names, nverbs) : NULL;
	if (near)
		reply_error(r, "unknown command '%s': did you mean '%s'? (hvctl --help lists the commands)", w, near);
	else
		reply_error(r, "unknown command '%s' (hvctl --help lists the commands)", w);
}

static void send_status(struct reply *r)
{
	if (r->log)
		return;
	char st[16];
	int n = snprintf(st, sizeof(st), "= %d\n", r->status);
	reply_send(r, st, (size_t)n);
}

int ctl_run(struct hv *hv, struct ctl_client *c, int argc, char **argv)
{
	struct reply r = { .fd = c->fd, .cl = c };
	struct ctl_req q = { .hv = hv, .client = c, .r = &r, .argc = argc, .argv = argv };
	int ret;

	q.verb = argc > 0 ? ctl_lookup(argv[0]) : NULL;
	if (!q.verb) {
		unknown_verb(&r, argc > 0 ? argv[0] : "");
		send_status(&r);
		return CTL_DONE;
	}
	if (parse_args(&q) < 0 || ((q.verb->flags & CTL_DOMAIN) && !(q.dom = ctl_need_domain(hv, &r, q.pos[0])))) {
		send_status(&r);
		return CTL_DONE;
	}
	ret = q.verb->run(&q);
	if (ret == CTL_HANDED && c->out_len) {
		/* a thread owns the fd from here: what is queued goes first, as a thread would
		 * send it (the verbs that hand a connection over say a line or two before) */
		send_all(c->fd, c->out, c->out_len);
		c->out_len = 0;
	}
	if (ret == CTL_STREAM || ret == CTL_HANDED || ret == CTL_WAIT)
		return ret;
	send_status(&r);
	return CTL_DONE;
}

int control_open(struct hv *hv, const char *path, struct err *e)
{
	struct control *c = xcalloc(1, sizeof(*c));
	char dir[sizeof(c->sock.path)], *slash;

	if (strlen(path) >= sizeof(c->sock.path)) {
		free(c);
		return err_set(e, "control socket path too long: %s", path);
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash && slash != dir) {
		*slash = 0;
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			free(c);
			return err_errno(e, "control socket directory %s", dir);
		}
	}
	/* An earlier hv's socket that nobody answers on is taken over; a live hv keeps its
	 * own, and any other file there is refused, never removed. */
	if (access_sock_listen(&c->sock, path, SOMAXCONN, SOCK_NONBLOCK, true, e) < 0) {
		free(c);
		return err_prefix(e, "control socket");
	}
	c->listen_fd = c->sock.fd;
	hv->ctl = c;
	return 0;
}

int hv_gdb_default_socket(struct hv *hv, int domid, char *path, size_t len, struct err *e)
{
	struct domain *d = hv_domain_by_id(hv, domid);
	const char *slash = hv->ctl ? strrchr(hv->ctl->sock.path, '/') : NULL;
	int dlen = slash ? (int)(slash - hv->ctl->sock.path) : 0;
	if (!d)
		return err_set(e, "no domain %d", domid);
	if (!hv->ctl)
		return err_set(e, "hv serves no control socket to put a gdb socket beside");
	if (snprintf(path, len, "%.*s%sgdb-%s.sock", dlen, hv->ctl->sock.path, slash ? "/" : "", d->name) >= (int)len)
		return err_set(e, "gdb socket path too long");
	return 0;
}

static void client_drop(struct hv *hv, unsigned i)
{
	struct control *c = hv->ctl;
	struct ctl_client *cl = &c->clients[i];
	if (cl->console_dom >= 0) {
		struct domain *d = hv_domain_by_id(hv, cl->console_dom);
		if (d)
			domcons_detach(&d->cons, cl->fd);
	}
	close(cl->fd);
	free(cl->out);
	free(cl->buf);
	c->clients[i] = c->clients[--c->nclients];
}

/* The slot of a client whose fd a thread took over (CTL_HANDED): forgotten, not closed. */
static void client_forget(struct hv *hv, unsigned i)
{
	struct control *c = hv->ctl;
	free(c->clients[i].out);
	free(c->clients[i].buf);
	c->clients[i] = c->clients[--c->nclients];
}

void control_close(struct hv *hv)
{
	struct control *c = hv->ctl;
	if (!c)
		return;
	while (c->nclients)
		client_drop(hv, 0);
	access_sock_close(&c->sock); /* the path goes only while it is still ours */
	free(c);
	hv->ctl = NULL;
}

int control_pollfds(struct hv *hv, struct pollfd *p, int max)
{
	struct control *c = hv->ctl;
	int n = 0;
	if (!c || max < 1)
		return 0;
	p[n++] = (struct pollfd){ .fd = c->listen_fd, .events = POLLIN };
	for (unsigned i = 0; i < c->nclients && n < max; i++) {
		struct ctl_client *cl = &c->clients[i];
		short ev = cl->draining ? 0 : POLLIN;
		if (cl->out_len)
			ev |= POLLOUT;
		p[n++] = (struct pollfd){ .fd = cl->fd, .events = ev };
	}
	return n;
}

/* A client still waiting for its request after CONTROL_IDLE_MS (not a console, not
 * draining a reply, not one that just connected and is sending): the one a full table
 * gives up first, the oldest. -1 when every slot does real work. */
#define CONTROL_IDLE_MS 500
static int oldest_waiting(const struct control *c)
{
	uint64_t now = time_ns();
	int best = -1;
	for (unsigned i = 0; i < c->nclients; i++) {
		const struct ctl_client *cl = &c->clients[i];
		if (cl->console_dom >= 0 || cl->draining || cl->waiting || now - cl->since_ns < CONTROL_IDLE_MS * 1000000ull)
			continue;
		if (best < 0 || cl->since_ns < c->clients[best].since_ns)
			best = (int)i;
	}
	return best;
}

void control_console_end(struct hv *hv, int dom_id, const char *why)
{
	struct control *c = hv->ctl;
	char line[300];
	int n;
	if (!c)
		return;
	n = snprintf(line, sizeof(line), "\r\n(hv) %s\r\n", why);
	if (n < 0 || n >= (int)sizeof(line))
		n = (int)sizeof(line) - 1;
	for (unsigned i = c->nclients; i-- > 0;) {
		struct ctl_client *cl = &c->clients[i];
		if (cl->console_dom != dom_id)
			continue;
		(void)!send(cl->fd, line, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL);
		client_drop(hv, i); /* detaches it from the domain's console first */
	}
}

void control_wait_end(struct hv *hv, int dom_id, int status, const char *fmt, ...)
{
	struct control *c = hv->ctl;
	char line[1024];
	va_list ap;
	if (!c)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	for (unsigned i = c->nclients; i-- > 0;) {
		struct ctl_client *cl = &c->clients[i];
		struct reply r = { .fd = cl->fd, .cl = cl };
		if (!cl->waiting || cl->wait_dom != dom_id)
			continue;
		if (status)
			reply_error(&r, "%s", line);
		else
			reply_line(&r, "%s", line);
		r.status = status;
		send_status(&r);
		cl->waiting = false;
		cl->draining = true; /* dropped once its reply is out (control_handle, control_tick) */
		cl->since_ns = time_ns();
		if (!cl->out_len || cl->gone || cl->overflow)
			client_drop(hv, i);
	}
}

int control_tick(struct hv *hv)
{
	struct control *c = hv->ctl;
	uint64_t now = time_ns(), limit = (uint64_t)CONTROL_REQ_MS * 1000000ull, next = UINT64_MAX;
	if (!c)
		return -1;
	for (unsigned i = c->nclients; i-- > 0;) {
		struct ctl_client *cl = &c->clients[i];
		uint64_t age;
		if (cl->console_dom >= 0 || cl->waiting) /* (a wait has its own bound: destroy_due) */
			continue;
		age = now - cl->since_ns;
		if (age >= limit) {
			if (cl->draining)
				hv_log(hv, "control: a client left %zu bytes of its reply unread for %d s: dropped",
				       cl->out_len, CONTROL_REQ_MS / 1000);
			else {
				struct reply r = { .fd = cl->fd, .cl = cl };
				reply_error(&r, "no complete request within %d s: connection closed", CONTROL_REQ_MS / 1000);
				send_status(&r);
			}
			client_drop(hv, i);
			continue;
		}
		if (limit - age < next)
			next = limit - age;
	}
	return next == UINT64_MAX ? -1 : (int)(next / 1000000ull) + 1;
}

/* 1: accepted (or refused) one, look for more; 0: none waiting. */
static int accept_client(struct hv *hv)
{
	struct control *c = hv->ctl;
	struct timeval tv = { .tv_sec = 2 };
	unsigned uid;
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return 0;
	if (!access_peer_owner(fd, &uid)) {
		struct reply r = { .fd = fd };
		reply_error(&r, "permission denied: uid %u may not control this hv", uid);
		(void)!send(fd, "= 1\n", 4, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(fd);
		return 1;
	}
	if (c->nclients == CONTROL_MAX_CLIENTS) {
		/* the owner gets in: the oldest connection still waiting for its request makes room */
		int old = oldest_waiting(c);
		if (old < 0) {
			const char *msg = "e too many clients: every connection is busy (consoles, replies, new requests)\n= 1\n";
			(void)!send(fd, msg, strlen(msg), MSG_DONTWAIT | MSG_NOSIGNAL);
			close(fd);
			return 1;
		}
		hv_log(hv, "control: %d connections open, the oldest idle one closed for a new client",
		       CONTROL_MAX_CLIENTS);
		struct reply r = { .fd = c->clients[old].fd, .cl = &c->clients[old] };
		reply_error(&r, "closed to make room: %d connections open and this one sent no request",
			    CONTROL_MAX_CLIENTS);
		send_status(&r);
		client_drop(hv, (unsigned)old);
	}
	/* threads that take a connection over (jobs, gdb sessions) send with a timeout */
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->clients[c->nclients++] = (struct ctl_client){ .fd = fd, .console_dom = -1, .since_ns = time_ns() };
	return 1;
}

int ctl_split(char *line, size_t len, char **argv, int *argc, struct err *e)
{
	char *p = line, *end = line + len, *tab;
	if (memchr(line, 0, len))
		return err_set(e, "the request has a NUL byte at offset %zu (arguments are text, separated by TAB)",
			       (size_t)((char *)memchr(line, 0, len) - line));
	*argc = 0;
	for (;;) {
		if (*argc == CONTROL_MAX_ARGS)
			return err_set(e, "too many arguments (at most %d)", CONTROL_MAX_ARGS);
		tab = memchr(p, '\t', (size_t)(end - p));
		argv[(*argc)++] = p;
		if (!tab)
			break;
		*tab = 0;
		p = tab + 1;
	}
	*end = 0;
	return 0;
}

/* The request line so far: bytes up to its newline are kept (what follows is not read:
 * one request per connection), then it runs. As control_feed. */
static int request_feed(struct hv *hv, struct ctl_client *cl, const char *buf, size_t n)
{
	char *argv[CONTROL_MAX_ARGS];
	const char *nl;
	struct reply r = { .fd = cl->fd, .cl = cl };
	struct err e;
	size_t take;
	int argc;

	if (cl->len + n + 1 > cl->cap && cl->cap < CONTROL_MAX_LINE) { /* grows as a long request comes */
		size_t cap = cl->cap ? cl->cap : 1024;
		while (cap < cl->len + n + 1 && cap < CONTROL_MAX_LINE)
			cap *= 4;
		cl->cap = cap < CONTROL_MAX_LINE ? cap : CONTROL_MAX_LINE;
		cl->buf = xrealloc(cl->buf, cl->cap);
	}
	take = n < cl->cap - 1 - cl->len ? n : cl->cap - 1 - cl->len;
	nl = memchr(buf, '\n', take);
	if (nl)
		take = (size_t)(nl - buf);
	memcpy(cl->buf + cl->len, buf, take);
	cl->len += take;
	if (!nl) {
		if (cl->len < CONTROL_MAX_LINE - 1)
			return 0;
		reply_error(&r, "request too long (at most %d bytes)", CONTROL_MAX_LINE - 1);
		send_status(&r);
		return 1;
	}
	if (ctl_split(cl->buf, cl->len, argv, &argc, &e) < 0) {
		reply_error(&r, "%s", e.msg);
		send_status(&r);
		return 1;
	}
	switch (ctl_run(hv, cl, argc, argv)) {
	case CTL_DONE:
		return 1;
	case CTL_HANDED:
		return 2;
	default: /* CTL_STREAM, CTL_WAIT */
		return 0;
	}
}

int control_feed(struct hv *hv, struct ctl_client *cl, const void *buf, size_t n)
{
	if (cl->waiting || cl->draining)
		return 0; /* its request is in: what it sends now is not read as another one */
	if (cl->console_dom >= 0) {
		struct domain *d = hv_domain_by_id(hv, cl->console_dom);
		if (!d)
			return 1;
		uart_receive(&d->uart, buf, n);
		return 0;
	}
	return request_feed(hv, cl, buf, n);
}

/* What the socket has for a client, through control_feed. 0: keep the client; 1: done
 * (reply sent or gone), drop it; 2: handed to a job thread. */
static int client_read(struct hv *hv, struct ctl_client *cl)
{
	char buf[16384];
	ssize_t n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n <= 0)
		return n == 0 || (errno != EAGAIN && errno != EINTR);
	return control_feed(hv, cl, buf, (size_t)n);
}

void control_handle(struct hv *hv, const struct pollfd *p, int n)
{
	struct control *c = hv->ctl;
	if (!c || n < 1)
		return;
	/* clients first (their indexes are p[1..]), from the end so drops do not shift them */
	for (int i = n - 1; i >= 1; i--) {
		unsigned ci = (unsigned)(i - 1);
		if (ci >= c->nclients || c->clients[ci].fd != p[i].fd)
			continue;
		struct ctl_client *cl = &c->clients[ci];
		if (cl->draining) {
			if (p[i].revents & (POLLOUT | POLLHUP | POLLERR))
				control_flush(cl);
			if (!cl->out_len || cl->gone || (p[i].revents & (POLLHUP | POLLERR)))
				client_drop(hv, ci);
			continue;
		}
		if ((p[i].revents & POLLOUT) && cl->out_len)
			control_flush(cl); /* a console's hello, or output queued mid-request */
		if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			int r = client_read(hv, cl);
			if (cl->overflow)
				hv_log(hv, "control: a client did not read a reply of more than %u MiB: dropped",
				       CONTROL_MAX_OUT >> 20);
			if (cl->overflow && r == 0)
				r = 1;
			if (r == 1 && cl->out_len && !cl->overflow && !cl->gone) {
				cl->draining = true; /* the reply waits for the client to read it */
				cl->since_ns = time_ns();
			} else if (r == 1)
				client_drop(hv, ci);
			else if (r == 2) /* the job thread owns the fd now */
				client_forget(hv, ci);
		}
	}
	/* everyone waiting in the backlog, a bounded number per wake-up */
	for (int k = 0; (p[0].revents & POLLIN) && k < CONTROL_MAX_CLIENTS && accept_client(hv); k++)
		;
}
