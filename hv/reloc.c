/* reloc: the relocation server, xend's: a listener on config/xend-relocation-address and
 * -port (loopback only by default; "" = every address), rebound by refresh without
 * disturbing running domains. Each connection runs in a thread of its own: the peer is
 * checked against config/xend-relocation-hosts-allow (its address and its name from a
 * reverse lookup), its hello against what this host can run (stream version, name, memory,
 * CPU features) before any domain exists; then the domain image is read into a domain
 * that is built but not started, "ready" is answered, and on the sender's "commit" hv's
 * loop starts it ("running"). Anything else discards what came; hv runs on. */
#include "internal.h"
#include "migrate.h"
#include "migwire.h"
#include "vmstate.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dump/image.h"

#define MAX_RECEIVERS 4
#define HELLO_MS 10000
#define STREAM_MS 30000

/* A domain that arrived, waiting for hv's loop to start it. */
struct arrival {
	struct domain *d;
	bool done;
	int rc;
	struct err err;
	struct arrival *next;
};

struct reloc {
	int fd[RELOC_MAX_FDS];
	int nfd;
	bool on;
	char addr[256], allow[1024];
	unsigned port;
	char where[300]; /* "127.0.0.1:8002" */
	bool warned_plain, ssl;
	struct migr_tls_cfg tls;
	atomic_int receivers;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct arrival *arrivals;
	char names[MAX_RECEIVERS][64]; /* domains being received */
};

struct conn {
	struct hv *hv;
	struct reloc *rl;
	int fd;
	struct sockaddr_storage sa;
	socklen_t salen;
	char ip[INET6_ADDRSTRLEN + 8], host[NI_MAXHOST];
	char allow[1024];
	bool ssl;
	struct migr_tls_cfg tls;
	int name_slot;
};

static void close_listeners(struct reloc *rl)
{
	for (int i = 0; i < rl->nfd; i++)
		close(rl->fd[i]);
	rl->nfd = 0;
}

static bool loopback_only(const struct addrinfo *a)
{
	if (a->ai_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)a->ai_addr)->sin_addr.s_addr) >> 24) == 127;
	if (a->ai_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)a->ai_addr)->sin6_addr);
	return false;
}

/* Binds the listeners for addr:port ("" = every address, IPv6 and IPv4). */
static int listen_on(struct reloc *rl, const char *addr, unsigned port, bool *loopback, struct err *e)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE }, *res;
	char ps[16];
	int rc;
	snprintf(ps, sizeof(ps), "%u", port);
	rc = getaddrinfo(*addr ? addr : NULL, ps, &hints, &res);
	if (rc)
		return err_set(e, "config/xend-relocation-address '%s': %s", addr, gai_strerror(rc));
	*loopback = true;
	err_set(e, "no address to listen on");
	for (struct addrinfo *a = res; a && rl->nfd < RELOC_MAX_FDS; a = a->ai_next) {
		int one = 1, fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (a->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
		if (bind(fd, a->ai_addr, a->ai_addrlen) < 0 || listen(fd, 8) < 0) {
			char s[INET6_ADDRSTRLEN + 8];
			migr_addr_str(a->ai_addr, a->ai_addrlen, s, sizeof(s));
			err_errno(e, "cannot listen on %s port %u", s, port);
			close(fd);
			continue;
		}
		if (!loopback_only(a))
			*loopback = false;
		rl->fd[rl->nfd++] = fd;
	}
	freeaddrinfo(res);
	return rl->nfd ? 0 : -1;
}

void reloc_apply(struct hv *hv)
{
	struct reloc *rl = hv->reloc;
	char addr[256], allow[1024];
	bool on = hv_property_int(hv, "config/xend-relocation-server", 1) != 0, loopback = true;
	unsigned port = (unsigned)hv_property_int(hv, "config/xend-relocation-port", HV_RELOC_PORT);
	struct err e;

	hv_property_str(hv, "config/xend-relocation-address", "127.0.0.1", addr, sizeof(addr));
	hv_property_str(hv, "config/xend-relocation-hosts-allow", "^localhost$ ^127\\.0\\.0\\.1$ ^::1$", allow,
			sizeof(allow));
	if (!rl) {
		rl = hv->reloc = xcalloc(1, sizeof(*rl));
		pthread_mutex_init(&rl->lock, NULL);
		pthread_cond_init(&rl->cond, NULL);
		rl->on = !on; /* differs: applied below */
	}
	pthread_mutex_lock(&rl->lock);
	snprintf(rl->allow, sizeof(rl->allow), "%s", allow); /* new connections check the new list */
	rl->ssl = hv_property_int(hv, "config/xend-relocation-ssl", 0) != 0;
	migr_tls_props(hv, &rl->tls);
	pthread_mutex_unlock(&rl->lock);
	if (rl->on == on && (!on || (rl->port == port && !strcmp(rl->addr, addr) && rl->nfd)))
		return;
	close_listeners(rl);
	rl->on = on;
	rl->port = port;
	snprintf(rl->addr, sizeof(rl->addr), "%s", addr);
	if (!on) {
		snprintf(rl->where, sizeof(rl->where), "off");
		hv_log(hv, "relocation server off (config/xend-relocation-server)");
		return;
	}
	snprintf(rl->where, sizeof(rl->where), "%s:%u", *addr ? addr : "*", port);
	if (listen_on(rl, addr, port, &loopback, &e) < 0) {
		snprintf(rl->where, sizeof(rl->where), "off");
		hv_log(hv, "relocation server: %s; no migrations can come in", e.msg);
		return;
	}
	if (!hv->opt.quiet)
		hv_log(hv, "relocation server listening on %s%s", rl->where, loopback ? " (loopback only)" : "");
	if (!loopback && !rl->warned_plain && !hv_property_int(hv, "config/xend-relocation-ssl", 0)) {
		rl->warned_plain = true;
		hv_log(hv, "relocation server: listening on %s without TLS: migrations from the allowed hosts "
			   "(config/xend-relocation-hosts-allow) come in plain text, and anyone who can spoof them can "
			   "start domains here", rl->where);
	}
}

const char *reloc_describe(struct hv *hv, char *buf, size_t len)
{
	snprintf(buf, len, "%s", hv->reloc ? hv->reloc->where : "off");
	return buf;
}

int reloc_pollfds(struct hv *hv, struct pollfd *p, int max)
{
	int n = 0;
	for (int i = 0; hv->reloc && i < hv->reloc->nfd && n < max; i++)
		p[n++] = (struct pollfd){ .fd = hv->reloc->fd[i], .events = POLLIN };
	return n;
}

/* Whether the peer may migrate here: an empty list lets everyone in. */
static bool allowed(const struct conn *c, char *why, size_t len)
{
	char list[1024], *save = NULL;
	snprintf(list, sizeof(list), "%s", c->allow);
	if (!list[strspn(list, " \t")])
		return true;
	for (char *re = strtok_r(list, " \t", &save); re; re = strtok_r(NULL, " \t", &save)) {
		regex_t rx;
		bool hit;
		if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB))
			continue; /* props checked it; a bad one matches nothing */
		hit = !regexec(&rx, c->ip, 0, NULL, 0) || (c->host[0] && !regexec(&rx, c->host, 0, NULL, 0));
		regfree(&rx);
		if (hit)
			return true;
	}
	snprintf(why, len, "%s%s%.200s%s is not in config/xend-relocation-hosts-allow", c->ip, c->host[0] ? " (" : "",
		 c->host, c->host[0] ? ")" : "");
	return false;
}

static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long long kb = 0;
	if (!f)
		return UINT64_MAX;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	fclose(f);
	return kb ? kb * 1024 : UINT64_MAX;
}

/* Reserves the name for this connection (no two migrations of one name at once). */
static int take_name(struct conn *c, const char *name, struct err *e)
{
	struct reloc *rl = c->rl;
	int slot = -1;
	if (hv_name_in_use(c->hv, name))
		return err_set(e, "a domain named %s is already running here", name);
	pthread_mutex_lock(&rl->lock);
	for (int i = 0; i < MAX_RECEIVERS; i++) {
		if (!strcmp(rl->names[i], name)) {
			pthread_mutex_unlock(&rl->lock);
			return err_set(e, "a domain named %s is being migrated here already", name);
		}
		if (!rl->names[i][0] && slot < 0)
			slot = i;
	}
	if (slot >= 0)
		snprintf(rl->names[slot], sizeof(rl->names[slot]), "%s", name);
	pthread_mutex_unlock(&rl->lock);
	c->name_slot = slot;
	return slot < 0 ? err_set(e, "too many migrations at once") : 0;
}

static int check_hello(struct conn *c, const struct migr_hello *h, const struct kvm_cpuid_entry2 *ent, struct err *e)
{
	struct kvm_cpuid2 *g;
	uint64_t avail = mem_available();
	int rc;
	if (h->image_version > IMAGE_VERSION)
		return err_set(e, "domain image version %u (this hv reads up to %u)", h->image_version, IMAGE_VERSION);
	if (h->nr_vcpus > HV_MAX_VCPUS)
		return err_set(e, "%u vCPUs (this hv runs at most %d)", h->nr_vcpus, HV_MAX_VCPUS);
	if (avail != UINT64_MAX && h->mem_bytes + (64ull << 20) > avail)
		return err_set(e, "not enough memory: %s needs %llu MiB, %llu MiB available here", h->name,
			       (unsigned long long)(h->mem_bytes >> 20), (unsigned long long)(avail >> 20));
	g = xcalloc(1, sizeof(*g) + h->ncpuid * sizeof(*ent));
	g->nent = h->ncpuid;
	memcpy(g->entries, ent, h->ncpuid * sizeof(*ent));
	rc = vmstate_cpuid_check(c->hv->kvm.cpuid, g, e);
	free(g);
	if (rc < 0)
		return -1;
	return take_name(c, h->name, e);
}

/* The image's configuration must be the domain the hello announced. */
struct cfg_check {
	struct conn *c;
	const struct migr_hello *h;
	uint64_t *pending; /* post-copy: a bit per memfd page, stale here */
};

static int pending(void *opaque, struct domain *d, const uint64_t *gfns, size_t n, struct err *e)
{
	struct cfg_check *k = opaque;
	if (!(k->h->flags & MIGR_F_POSTCOPY))
		return err_set(e, "pending pages in a migration that the hello did not announce as post-copy");
	if (!k->pending)
		k->pending = xcalloc(MEM_BITMAP_WORDS(&d->mem), sizeof(uint64_t));
	for (size_t i = 0; i < n; i++) {
		uint8_t *p = gfns[i] < (1ull << 40) ? mem_ptr(&d->mem, gfns[i] * 4096, 4096) : NULL;
		uint64_t page;
		if (!p)
			return err_set(e, "pending page 0x%llx lies outside the domain's RAM", (unsigned long long)gfns[i]);
		page = (uint64_t)(p - d->mem.base) / 4096;
		k->pending[page / 64] |= 1ull << (page % 64);
	}
	return 0;
}

static int check_cfg(void *opaque, const struct domain_config *cfg, struct err *e)
{
	struct cfg_check *k = opaque;
	if (strcmp(cfg->name, k->h->name) || cfg->mem_bytes != k->h->mem_bytes)
		return err_set(e, "the image is of %s (%llu bytes), the hello said %s (%llu)", cfg->name,
			       (unsigned long long)cfg->mem_bytes, k->h->name, (unsigned long long)k->h->mem_bytes);
	return 0;
}

/* The sender waits for this before it pauses the domain: what it sent so far is in. */
static int synced(void *opaque, uint64_t seq, struct err *e)
{
	struct cfg_check *k = opaque;
	return migr_send_line(k->c->fd, STREAM_MS, e, "synced %llu", (unsigned long long)seq);
}

/* hv's loop starts it; 0 or -1 with its message. */
static int hand_over(struct conn *c, struct domain *d, struct err *e)
{
	struct reloc *rl = c->rl;
	struct arrival a = { .d = d };
	pthread_mutex_lock(&rl->lock);
	a.next = rl->arrivals;
	rl->arrivals = &a;
	pthread_mutex_unlock(&rl->lock);
	hv_wake(c->hv);
	pthread_mutex_lock(&rl->lock);
	while (!a.done)
		pthread_cond_wait(&rl->cond, &rl->lock);
	pthread_mutex_unlock(&rl->lock);
	if (a.rc < 0)
		*e = a.err;
	return a.rc;
}

void reloc_arrivals(struct hv *hv)
{
	struct reloc *rl = hv->reloc;
	struct arrival *a, *next;
	if (!rl)
		return;
	pthread_mutex_lock(&rl->lock);
	a = rl->arrivals;
	rl->arrivals = NULL;
	pthread_mutex_unlock(&rl->lock);
	for (; a; a = next) {
		next = a->next;
		a->rc = image_restore_attach(hv, a->d, false, &a->err);
		pthread_mutex_lock(&rl->lock);
		a->done = true;
		pthread_cond_broadcast(&rl->cond);
		pthread_mutex_unlock(&rl->lock);
	}
}

static void refuse(struct conn *c, const char *what, const char *why)
{
	struct err e;
	char junk[4096];
	hv_log(c->hv, "relocation: %s %s%s%s%s: %s", what, c->ip, c->host[0] ? " (" : "", c->host,
	       c->host[0] ? ")" : "", why);
	migr_send_line(c->fd, 2000, &e, "%s: %s", !strcmp(what, "refused") ? "refused" : "failed", why);
	/* let the answer reach the sender before the close (unread input would reset it) */
	shutdown(c->fd, SHUT_WR);
	for (int i = 0; i < 200; i++) {
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		if (poll(&p, 1, 10) > 0 && recv(c->fd, junk, sizeof(junk), 0) <= 0)
			break;
	}
}

static void *receive(void *arg)
{
	struct conn *c = arg;
	struct hv *hv = c->hv;
	struct migr_hello h;
	struct kvm_cpuid_entry2 *ent = NULL;
	struct image_header ih;
	struct image_reader *r = NULL;
	struct domain *d = NULL;
	struct err e;
	char why[512], line[MIGR_LINE_MAX];
	uint64_t t0 = time_ns();
	struct migr_tls *tls = NULL;
	struct postcopy *pc = NULL;
	struct domain *pd;
	int plain = -1, net = -1;

	/* the name for hosts-allow (a reverse lookup: /etc/hosts, DNS), here, not in hv's loop */
	if (getnameinfo((struct sockaddr *)&c->sa, c->salen, c->host, sizeof(c->host), NULL, 0, NI_NAMEREQD) != 0)
		c->host[0] = 0;
	if (c->ssl) { /* every byte from here on goes through TLS (a refusal too) */
		tls = migr_tls_server(c->fd, &c->tls, &plain, &e);
		if (!tls) {
			hv_log(hv, "relocation: refused %s%s%s%s: %s", c->ip, c->host[0] ? " (" : "", c->host,
			       c->host[0] ? ")" : "", e.msg);
			goto out;
		}
		net = c->fd;
		c->fd = plain;
	}
	if (!allowed(c, why, sizeof(why))) {
		refuse(c, "refused", why);
		goto out;
	}
	if (migr_hello_read(c->fd, HELLO_MS, &h, &ent, &e) < 0 || check_hello(c, &h, ent, &e) < 0) {
		refuse(c, "refused", e.msg);
		goto out;
	}
	if (migr_send_line(c->fd, HELLO_MS, &e, "ok") < 0)
		goto failed;
	r = image_reader_open_timeout(c->fd, STREAM_MS, &ih, &e);
	if (!r)
		goto failed;
	{
		struct cfg_check k = { c, &h, NULL };
		struct image_restore_opts o = { .detached = true, .check = check_cfg, .sync = synced, .pending = pending,
						.check_opaque = &k };
		d = image_restore(hv, r, NULL, &o, &ih, &e);
		if (d && (h.flags & MIGR_F_POSTCOPY)) {
			if (!k.pending)
				k.pending = xcalloc(MEM_BITMAP_WORDS(&d->mem), sizeof(uint64_t));
			pc = postcopy_recv_start(d, k.pending, c->fd, &e); /* takes k.pending */
			if (!pc)
				goto failed;
			atomic_fetch_add(&d->dump_active, 1); /* not torn down while its RAM comes */
		} else
			free(k.pending);
	}
	if (!d)
		goto failed;
	if (migr_send_line(c->fd, STREAM_MS, &e, "ready") < 0 || migr_read_line(c->fd, line, sizeof(line), STREAM_MS, &e) < 0)
		goto failed;
	if (strcmp(line, "commit")) {
		err_set(&e, "the sender said '%.100s', not commit", line);
		goto failed;
	}
	{
		time_t now = time(NULL);
		struct tm tm;
		char ts[32];
		strftime(ts, sizeof(ts), "%Y-%m-%d %H:%M:%S", localtime_r(&now, &tm));
		snprintf(d->origin, sizeof(d->origin), "%s (%s) at %s", h.source, c->ip, ts);
	}
	if (hand_over(c, d, &e) < 0)
		goto failed;
	hv_log(hv, "%s (domain %d) migrated in from %s (%s)%s: %u vCPU%s, %llu MiB, %.1f ms", d->name, d->id, h.source,
	       c->ip, h.flags & MIGR_F_LIVE ? ", live" : "", d->nr_vcpus, d->nr_vcpus == 1 ? "" : "s",
	       (unsigned long long)(d->mem.size >> 20), (time_ns() - t0) / 1e6);
	pd = d;
	d = NULL; /* hv's now */
	if (migr_send_line(c->fd, 5000, &e, "running") < 0)
		hv_log(hv, "relocation: %s runs here, but the sender did not hear it: %s", h.name, e.msg);
	if (pc) {
		struct postcopy_stats ps;
		int rc;
		postcopy_go(pc);
		rc = postcopy_recv_run(pc, &e);
		if (rc < 0)
			domain_post_event(pd, EVENT_CRASH, "%s (%llu pages of its RAM never came; they read as zeros)", e.msg,
					  (unsigned long long)postcopy_left(pc));
		postcopy_recv_end(pc, &ps);
		pc = NULL;
		if (rc == 0)
			hv_log(hv, "%s: post-copy done: the last pages all in after %.1f ms (%llu asked for on first touch)",
			       h.name, ps.ns / 1e6, (unsigned long long)ps.faults);
		if (atomic_fetch_sub(&pd->dump_active, 1) == 1)
			hv_wake(hv);
	}
	goto out;
failed:
	refuse(c, "failed", e.msg);
out:
	if (pc) { /* it never ran */
		postcopy_recv_end(pc, NULL);
		atomic_fetch_sub(&d->dump_active, 1);
	}
	if (d)
		domain_destroy(d);
	image_reader_close(r);
	free(ent);
	if (c->name_slot >= 0) {
		pthread_mutex_lock(&c->rl->lock);
		c->rl->names[c->name_slot][0] = 0;
		pthread_mutex_unlock(&c->rl->lock);
	}
	close(c->fd);
	migr_tls_close(tls);
	if (net >= 0)
		close(net);
	atomic_fetch_sub(&c->rl->receivers, 1);
	free(c);
	return NULL;
}

void reloc_handle(struct hv *hv, struct pollfd *p, int n)
{
	struct reloc *rl = hv->reloc;
	for (int i = 0; rl && i < n; i++) {
		struct sockaddr_storage sa;
		socklen_t sl = sizeof(sa);
		struct conn *c;
		pthread_attr_t at;
		pthread_t th;
		int fd, one = 1;
		if (!(p[i].revents & POLLIN))
			continue;
		fd = accept4(p[i].fd, (struct sockaddr *)&sa, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		c = xcalloc(1, sizeof(*c));
		*c = (struct conn){ .hv = hv, .rl = rl, .fd = fd, .name_slot = -1 };
		migr_addr_str(&sa, sl, c->ip, sizeof(c->ip));
		if (atomic_fetch_add(&rl->receivers, 1) >= MAX_RECEIVERS) {
			atomic_fetch_sub(&rl->receivers, 1);
			hv_log(hv, "relocation: refused %s: %d migrations are coming in already", c->ip, MAX_RECEIVERS);
			close(fd);
			free(c);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		migr_tcp_deadline(fd);
		pthread_mutex_lock(&rl->lock);
		snprintf(c->allow, sizeof(c->allow), "%s", rl->allow);
		c->ssl = rl->ssl;
		c->tls = rl->tls;
		pthread_mutex_unlock(&rl->lock);
		c->sa = sa;
		c->salen = sl;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&th, &at, receive, c)) {
			atomic_fetch_sub(&rl->receivers, 1);
			close(fd);
			free(c);
		}
		pthread_attr_destroy(&at);
	}
}

void reloc_close(struct hv *hv)
{
	if (!hv->reloc)
		return;
	close_listeners(hv->reloc);
	/* a receiver still running keeps the struct (it ends with the process); the
	 * decrement is each receiver's last touch of it */
	if (atomic_load(&hv->reloc->receivers) == 0) {
		pthread_mutex_destroy(&hv->reloc->lock);
		pthread_cond_destroy(&hv->reloc->cond);
		free(hv->reloc);
		hv->reloc = NULL;
	}
}

void migr_tls_props(struct hv *hv, struct migr_tls_cfg *c)
{
	hv_property_str(hv, "config/xend-relocation-ssl-key", "", c->key, sizeof(c->key));
	hv_property_str(hv, "config/xend-relocation-ssl-cert", "", c->cert, sizeof(c->cert));
	hv_property_str(hv, "config/xend-relocation-ssl-ca", "", c->ca, sizeof(c->ca));
	hv_property_str(hv, "config/xend-relocation-ssl-psk-file", "", c->psk_file, sizeof(c->psk_file));
}
