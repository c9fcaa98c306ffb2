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
	send_all(r->fd, buf, (size_t)n + 3);
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

const char *ctl_first_arg(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (strncmp(argv[i], "--", 2))
			return argv[i];
	return NULL;
}

int ctl_need_abs_path(struct reply *r, const char *verb, const char *path)
{
	if (path && path[0] == '/')
		return 0;
	return reply_error(r, "%s: %s is relative to hv's working directory: give an absolute path (hvctl does)", verb,
			   path ? path : "");
}

int ctl_parse(struct reply *r, int argc, char **argv, const struct ctl_opt *opts, int n, const char **vals,
	      const char **pos, int max, int *npos, const char *usage)
{
	*npos = 0;
	for (int k = 0; k < n; k++)
		vals[k] = NULL;
	for (int i = 1; i < argc; i++) {
		int k = 0;
		if (strncmp(argv[i], "--", 2)) {
			if (*npos == max)
				return reply_error(r, "%s: unexpected argument '%s' (usage: %s)", argv[0], argv[i], usage);
			pos[(*npos)++] = argv[i];
			continue;
		}
		while (k < n && strcmp(opts[k].name, argv[i]))
			k++;
		if (k == n)
			return reply_error(r, "%s: unknown option %s (usage: %s)", argv[0], argv[i], usage);
		if (opts[k].value) {
			if (i + 1 >= argc)
				return reply_error(r, "%s: %s needs a value (usage: %s)", argv[0], argv[i], usage);
			vals[k] = argv[++i];
		} else
			vals[k] = "";
	}
	return 0;
}

static void send_status(struct reply *r)
{
	char st[16];
	int n = snprintf(st, sizeof(st), "= %d\n", r->status);
	send_all(r->fd, st, (size_t)n);
}

int ctl_run(struct hv *hv, struct ctl_client *c, int argc, char **argv)
{
	struct reply r = { .fd = c->fd };
	struct ctl_req q = { .hv = hv, .client = c, .r = &r, .argc = argc, .argv = argv };
	int ret;

	q.verb = argc > 0 ? ctl_lookup(argv[0]) : NULL;
	if (!q.verb) {
		reply_error(&r, "unknown command '%s'", argc > 0 ? argv[0] : "");
		send_status(&r);
		return CTL_DONE;
	}
	if ((q.verb->flags & CTL_DOMAIN) && !(q.dom = ctl_need_domain(hv, &r, ctl_first_arg(argc, argv)))) {
		send_status(&r);
		return CTL_DONE;
	}
	ret = q.verb->run(&q);
	if (ret == CTL_STREAM || ret == CTL_HANDED)
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
	if (access_sock_listen(&c->sock, path, 16, SOCK_NONBLOCK, true, e) < 0) {
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
	for (unsigned i = 0; i < c->nclients && n < max; i++)
		p[n++] = (struct pollfd){ .fd = c->clients[i].fd, .events = POLLIN };
	return n;
}

static void accept_client(struct hv *hv)
{
	struct control *c = hv->ctl;
	struct timeval tv = { .tv_sec = 2 };
	unsigned uid;
	int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (!access_peer_owner(fd, &uid)) {
		struct reply r = { .fd = fd };
		reply_error(&r, "permission denied: uid %u may not control this hv", uid);
		send_all(fd, "= 1\n", 4);
		close(fd);
		return;
	}
	if (c->nclients == CONTROL_MAX_CLIENTS) {
		struct reply r = { .fd = fd };
		reply_error(&r, "too many clients");
		send_all(fd, "= 1\n", 4);
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)); /* a stuck client cannot wedge hv */
	c->clients[c->nclients++] = (struct ctl_client){ .fd = fd, .console_dom = -1 };
}

/* 0: keep the client; 1: done (reply sent or gone), drop it; 2: handed to a job thread. */
static int client_read(struct hv *hv, struct ctl_client *cl)
{
	char *nl, *argv[CONTROL_MAX_ARGS];
	int argc = 0;
	ssize_t n;

	if (cl->console_dom >= 0) {
		uint8_t buf[4096];
		struct domain *d = hv_domain_by_id(hv, cl->console_dom);
		n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n <= 0)
			return n == 0 || (errno != EAGAIN && errno != EINTR);
		if (!d)
			return true;
		uart_receive(&d->uart, buf, (size_t)n);
		return false;
	}
	n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - 1 - cl->len, MSG_DONTWAIT);
	if (n <= 0)
		return n == 0 || (errno != EAGAIN && errno != EINTR);
	cl->len += (size_t)n;
	cl->buf[cl->len] = 0;
	nl = memchr(cl->buf, '\n', cl->len);
	if (!nl) {
		if (cl->len == sizeof(cl->buf) - 1) {
			struct reply r = { .fd = cl->fd };
			reply_error(&r, "request too long");
			send_all(cl->fd, "= 1\n", 4);
			return true;
		}
		return false;
	}
	*nl = 0;
	for (char *p = cl->buf, *tab; p && argc < CONTROL_MAX_ARGS; p = tab ? tab + 1 : NULL) {
		tab = strchr(p, '\t');
		if (tab)
			*tab = 0;
		argv[argc++] = p;
	}
	switch (ctl_run(hv, cl, argc, argv)) {
	case CTL_DONE:
		return 1;
	case CTL_HANDED:
		return 2;
	default: /* CTL_STREAM */
		return 0;
	}
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
		if (p[i].revents & (POLLIN | POLLHUP | POLLERR)) {
			int r = client_read(hv, &c->clients[ci]);
			if (r == 1)
				client_drop(hv, ci);
			else if (r == 2) /* the job thread owns the fd now */
				c->clients[ci] = c->clients[--c->nclients];
		}
	}
	if (p[0].revents & POLLIN)
		accept_client(hv);
}
