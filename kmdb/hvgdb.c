/* hvgdb: the gdb remote stub on a live domain of this hv. The ops vector of gdbstub.c
 * over a debug session (hv_dbg_*), a one-shot server (`hvctl gdbserver`, the '%' key: a
 * listening socket; on a Unix socket one client at a time, on TCP locked sessions until
 * one gives the token and attaches) and a session on an already connected socket
 * (`hvmdb -d`, through the control socket). */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "hv/hv.h"
#include "internal.h"

struct hvgdb {
	struct hv *hv;
	int domid;
	struct hv_dbg *g;
	uint64_t sw_bp[4]; /* addresses gdb asked for as Z0: reported back as swbreak */
	unsigned nsw;
	char names[8][32];
	unsigned name_i;
	bool writable;
	volatile bool *attached; /* a locked session's: set once it attached */
};

static unsigned op_nr_threads(void *o)
{
	return hv_dbg_nr_vcpus(((struct hvgdb *)o)->g);
}

static int op_get_regs(void *o, unsigned cpu, struct x86_regs *r)
{
	struct kvm_regs k;
	struct kvm_sregs s;
	if (hv_dbg_get_regs(((struct hvgdb *)o)->g, cpu, &k, &s) < 0)
		return -1;
	hv_regs_from_kvm(&k, &s, r);
	return 0;
}

static int op_set_regs(void *o, unsigned cpu, const struct x86_regs *r)
{
	struct kvm_regs k;
	struct err e;
	hv_regs_to_kvm(r, &k);
	return hv_dbg_set_regs(((struct hvgdb *)o)->g, cpu, &k, &e);
}

static size_t op_read_mem(void *o, unsigned cpu, uint64_t va, void *buf, size_t len)
{
	return hv_dbg_read_virt(((struct hvgdb *)o)->g, cpu, va, buf, len);
}

static size_t op_read_phys(void *o, uint64_t pa, void *buf, size_t len)
{
	return hv_dbg_read_phys(((struct hvgdb *)o)->g, pa, buf, len);
}

static size_t op_write_mem(void *o, unsigned cpu, uint64_t va, const void *buf, size_t len)
{
	struct err e;
	return hv_dbg_write_virt(((struct hvgdb *)o)->g, cpu, va, buf, len, &e);
}

static int op_set_bp(void *o, enum gdbstub_bp kind, uint64_t addr, uint64_t len, bool insert, struct err *e)
{
	struct hvgdb *h = o;
	enum hv_dbg_kind k = kind == GDBSTUB_BP_SW || kind == GDBSTUB_BP_HW ? HV_DBG_EXEC
			     : kind == GDBSTUB_WP_WRITE			 ? HV_DBG_WRITE
									 : HV_DBG_ACCESS;
	if (kind == GDBSTUB_WP_READ) /* x86 has no read-only watchpoint: access is the nearest */
		k = HV_DBG_ACCESS;
	if (hv_dbg_set_bp(h->g, k, addr, (unsigned)(len > 8 ? 8 : len), insert, e) < 0)
		return -1;
	if (kind == GDBSTUB_BP_SW) { /* remember how gdb asked, to report it the same way */
		for (unsigned i = 0; i < h->nsw; i++)
			if (h->sw_bp[i] == addr) {
				if (!insert)
					h->sw_bp[i] = h->sw_bp[--h->nsw];
				return 0;
			}
		if (insert && h->nsw < 4)
			h->sw_bp[h->nsw++] = addr;
	}
	return 0;
}

static int op_resume(void *o, int step_cpu)
{
	struct err e;
	return hv_dbg_resume(((struct hvgdb *)o)->g, step_cpu, &e);
}

static int op_interrupt(void *o)
{
	return hv_dbg_interrupt(((struct hvgdb *)o)->g);
}

static int op_stop_fd(void *o)
{
	return hv_dbg_stop_fd(((struct hvgdb *)o)->g);
}

static int op_wait_stop(void *o, struct gdbstub_stop *s)
{
	struct hvgdb *h = o;
	struct hv_dbg_stop st;
	if (hv_dbg_wait_stop(h->g, &st) < 0)
		return -1;
	memset(s, 0, sizeof(*s));
	s->cpu = st.cpu;
	if (st.exited) {
		s->exited = true;
		return 0;
	}
	switch (st.kind) {
	case HV_DBG_STOP_INTERRUPT:
		s->signal = 2;
		break;
	case HV_DBG_STOP_STEP:
		s->signal = 5;
		break;
	case HV_DBG_STOP_BP:
		s->signal = 5;
		s->bp = true;
		s->kind = GDBSTUB_BP_HW;
		for (unsigned i = 0; i < h->nsw; i++)
			if (h->sw_bp[i] == st.bp.addr)
				s->kind = GDBSTUB_BP_SW;
		break;
	case HV_DBG_STOP_WATCH:
		s->signal = 5;
		s->bp = true;
		s->kind = st.bp.kind == HV_DBG_WRITE ? GDBSTUB_WP_WRITE : GDBSTUB_WP_ACCESS;
		s->addr = st.bp.addr;
		break;
	}
	return 0;
}

static const char *op_thread_name(void *o, unsigned cpu)
{
	struct hvgdb *h = o;
	char *n = h->names[h->name_i++ % 8];
	snprintf(n, sizeof(h->names[0]), "%s vCPU %u%s", hv_dbg_domain_name(h->g), cpu,
		 hv_dbg_online(h->g, cpu) ? "" : " (offline)");
	return n;
}

/* A locked session's attach: the token was given, gdb attaches (the domain stops). */
static int op_attach(void *o, struct err *e)
{
	struct hvgdb *h = o;
	if (h->g)
		return 0;
	h->g = hv_dbg_attach(h->hv, h->domid, e);
	if (!h->g)
		return -1;
	hv_dbg_set_writable(h->g, h->writable);
	if (h->attached)
		*h->attached = true;
	return 0;
}

static const struct gdbstub_ops hv_ops = {
	.nr_threads = op_nr_threads, .get_regs = op_get_regs, .set_regs = op_set_regs, .read_mem = op_read_mem,
	.read_phys = op_read_phys,
	.write_mem = op_write_mem, .set_bp = op_set_bp, .resume = op_resume, .interrupt = op_interrupt,
	.stop_fd = op_stop_fd, .wait_stop = op_wait_stop, .thread_name = op_thread_name, .attach = op_attach,
};

int kmdb_gdb_session(struct hv *hv, int domid, int fd, bool writable, bool nopause, struct err *e)
{
	struct hvgdb h = { .hv = hv, .domid = domid };
	int end;
	h.g = nopause ? hv_dbg_attach_running(hv, domid, e) : hv_dbg_attach(hv, domid, e);
	if (!h.g)
		return -1;
	hv_dbg_set_writable(h.g, writable);
	end = gdbstub_serve(fd, &hv_ops, &h, e);
	/* a detach lets the domain run; anything else leaves it paused for a look */
	hv_dbg_detach(h.g, end == GDBSTUB_END_DETACH || end == GDBSTUB_END_EOF);
	hv_log(hv, "gdb session on domain %d ended: %s", domid, gdbstub_end_name(end));
	return end < 0 ? -1 : 0;
}

/* ---- the one-shot server. A Unix socket serves one client at a time (only root and hv's
 * uid get in). On TCP, anyone may connect: each client gets a locked session of its own
 * (SLOTS at a time), so one that never gives the token cannot keep the owner out; the
 * first that gives it and attaches is the debugger. The server ends with the first
 * session that reached the domain; the locked ones still open are then closed. */

#define SLOTS 4

struct server;

struct slot {
	struct server *s;
	pthread_t th;
	int fd;               /* -1: free */
	volatile bool done;   /* the session ended (the server joins it and closes fd) */
	volatile bool attached; /* it reached the domain */
};

struct server {
	struct hv *hv;
	int domid, lfd;
	bool writable;
	struct access_sock sock; /* a Unix socket's; fd -1 on TCP */
	char token[33];          /* TCP: what the client must give; "" on a Unix socket */
	unsigned nslots;         /* 1 on a Unix socket */
	struct slot slots[SLOTS];
	char where[160];
};

/* A session on a client nobody vouched for (TCP): the domain is attached only once it
 * gave the token and asked (gdbstub_serve_locked). */
static int gdb_session_locked(struct slot *sl, struct err *e)
{
	struct server *s = sl->s;
	struct hvgdb h = { .hv = s->hv, .domid = s->domid, .writable = s->writable, .attached = &sl->attached };
	int end = gdbstub_serve_locked(sl->fd, &hv_ops, &h, s->token, e);
	if (h.g)
		hv_dbg_detach(h.g, end == GDBSTUB_END_DETACH || end == GDBSTUB_END_EOF);
	hv_log(s->hv, "gdb session on domain %d ended: %s%s", s->domid, gdbstub_end_name(end),
	       h.g ? "" : " (never attached: the server waits on)");
	return end < 0 ? -1 : 0;
}

static void *session_thread(void *arg)
{
	struct slot *sl = arg;
	struct server *s = sl->s;
	struct err e;
	int r;
	if (s->token[0]) {
		r = gdb_session_locked(sl, &e);
	} else {
		sl->attached = true;
		r = kmdb_gdb_session(s->hv, s->domid, sl->fd, s->writable, false, &e);
	}
	if (r < 0)
		hv_log(s->hv, "gdbserver %s: %s", s->where, e.msg);
	sl->done = true; /* before the client sees the end, so its next connect finds it done */
	shutdown(sl->fd, SHUT_RDWR);
	return NULL;
}

/* Joins the sessions that ended; true when one of them had reached the domain. */
static bool reap(struct server *s)
{
	bool end = false;
	for (unsigned i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		if (sl->fd < 0 || !sl->done)
			continue;
		pthread_join(sl->th, NULL);
		close(sl->fd);
		sl->fd = -1;
		end |= sl->attached;
	}
	return end;
}

/* The slot for a new client, or NULL (all taken, or one is the attached debugger). */
static struct slot *free_slot(struct server *s)
{
	struct slot *free_one = NULL;
	for (unsigned i = 0; i < s->nslots; i++) {
		if (s->slots[i].fd >= 0 && s->slots[i].attached)
			return NULL;
		if (s->slots[i].fd < 0 && !free_one)
			free_one = &s->slots[i];
	}
	return free_one;
}

static void *server_thread(void *arg)
{
	struct server *s = arg;
	struct err e;
	for (;;) {
		struct pollfd p = { .fd = s->lfd, .events = POLLIN };
		struct slot *sl;
		int fd;
		if (reap(s))
			break;
		if (poll(&p, 1, 200) <= 0)
			continue;
		fd = gdbstub_accept(s->lfd, &e);
		if (fd < 0) {
			hv_log(s->hv, "gdbserver %s: %s", s->where, e.msg);
			continue;
		}
		if (reap(s)) { /* it ended just now: this client came too late */
			gdbstub_refuse(fd, "this gdbserver has ended");
			break;
		}
		if (!(sl = free_slot(s))) {
			gdbstub_refuse(fd, NULL);
			continue;
		}
		*sl = (struct slot){ .s = s, .fd = fd };
		if (pthread_create(&sl->th, NULL, session_thread, sl)) {
			sl->fd = -1;
			gdbstub_refuse(fd, NULL);
		}
	}
	for (unsigned i = 0; i < s->nslots; i++) /* the locked sessions still open end too */
		if (s->slots[i].fd >= 0)
			shutdown(s->slots[i].fd, SHUT_RDWR);
	for (unsigned i = 0; i < s->nslots; i++)
		if (s->slots[i].fd >= 0) {
			pthread_join(s->slots[i].th, NULL);
			close(s->slots[i].fd);
		}
	if (s->sock.fd >= 0)
		access_sock_close(&s->sock); /* its path goes only while it is still ours */
	else
		close(s->lfd);
	free(s);
	return NULL;
}

int kmdb_gdbserver_start(struct hv *hv, int domid, struct hv_gdb_server *srv, struct err *e)
{
	struct server *s = calloc(1, sizeof(*s));
	pthread_attr_t a;
	pthread_t th;
	uint16_t bound = 0;
	char path[160];
	if (!s)
		return err_set(e, "out of memory");
	s->hv = hv;
	s->domid = domid;
	s->writable = srv->writable;
	s->sock.fd = -1;
	s->nslots = srv->port >= 0 ? SLOTS : 1;
	for (unsigned i = 0; i < SLOTS; i++)
		s->slots[i].fd = -1;
	srv->token[0] = 0;
	if (srv->port >= 0) {
		if (access_token(s->token, 16, e) < 0 ||
		    (s->lfd = gdbstub_listen_tcp((uint16_t)srv->port, &bound, e)) < 0) {
			free(s);
			return -1;
		}
		snprintf(s->where, sizeof(s->where), "127.0.0.1:%u", bound);
		snprintf(srv->token, sizeof(srv->token), "%s", s->token);
	} else {
		/* hv's own name in hv's own directory: an earlier hv's dead socket may go */
		bool ours = !srv->unix_path;
		if (ours && hv_gdb_default_socket(hv, domid, path, sizeof(path), e) < 0) {
			free(s);
			return -1;
		}
		if ((s->lfd = gdbstub_listen_unix(&s->sock, ours ? path : srv->unix_path, ours, e)) < 0) {
			free(s);
			return -1;
		}
		snprintf(s->where, sizeof(s->where), "%s", s->sock.path);
	}
	snprintf(srv->where, sizeof(srv->where), "%s", s->where);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &a, server_thread, s)) {
		pthread_attr_destroy(&a);
		if (s->sock.fd >= 0)
			access_sock_close(&s->sock);
		else
			close(s->lfd);
		free(s);
		return err_set(e, "cannot start the gdbserver thread");
	}
	pthread_attr_destroy(&a);
	return 0;
}

int kmdb_register(void)
{
	static const struct hv_gdb_ops ops = { .session = kmdb_gdb_session, .server_start = kmdb_gdbserver_start };
	return hv_set_gdb_ops(&ops);
}
