/* migwire: the migration hello, reply lines and deadline-bounded socket I/O shared by the
 * sender and the relocation server (layout: docs/migration.md). Everything read from the
 * peer is bounded before use. */
#include "migwire.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util/util.h"

enum { H_MAGIC = 0, H_VERSION = 8, H_FLAGS = 12, H_IMAGE = 16, H_VCPUS = 20, H_MEM = 24, H_NAME = 32,
       H_SOURCE = 96, H_NCPUID = 160 };

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

size_t migr_hello_encode(const struct migr_hello *h, const struct kvm_cpuid_entry2 *ent, uint8_t *buf, size_t len)
{
	size_t need = MIGR_HELLO_SIZE + (size_t)h->ncpuid * sizeof(*ent);
	if (len < need || h->ncpuid > MIGR_MAX_CPUID)
		return 0;
	memset(buf, 0, MIGR_HELLO_SIZE);
	memcpy(buf + H_MAGIC, MIGR_MAGIC, 8);
	put32(buf + H_VERSION, h->version);
	put32(buf + H_FLAGS, h->flags);
	put32(buf + H_IMAGE, h->image_version);
	put32(buf + H_VCPUS, h->nr_vcpus);
	put64(buf + H_MEM, h->mem_bytes);
	memcpy(buf + H_NAME, h->name, strnlen(h->name, 63));
	memcpy(buf + H_SOURCE, h->source, strnlen(h->source, 63));
	put32(buf + H_NCPUID, h->ncpuid);
	if (h->ncpuid)
		memcpy(buf + MIGR_HELLO_SIZE, ent, (size_t)h->ncpuid * sizeof(*ent));
	return need;
}

/* A NUL-terminated, printable field of n bytes (a name from the peer). */
static bool field_ok(const uint8_t *p, size_t n, bool need)
{
	size_t l = strnlen((const char *)p, n);
	if (l == n || (need && !l))
		return false;
	for (size_t i = 0; i < l; i++)
		if (p[i] < 0x21 || p[i] > 0x7e)
			return false;
	return true;
}

int migr_hello_read(int fd, int timeout_ms, struct migr_hello *h, struct kvm_cpuid_entry2 **ent, struct err *e)
{
	uint8_t b[MIGR_HELLO_SIZE];
	*ent = NULL;
	if (migr_read_all(fd, b, sizeof(b), timeout_ms, e) < 0)
		return err_prefix(e, "reading the migration hello");
	if (memcmp(b + H_MAGIC, MIGR_MAGIC, 8))
		return err_set(e, "not a migration stream (no hvkit hello)");
	memset(h, 0, sizeof(*h));
	h->version = get32(b + H_VERSION);
	if (h->version != MIGR_VERSION)
		return err_set(e, "migration stream version %u (this hv reads version %u)", h->version, MIGR_VERSION);
	h->flags = get32(b + H_FLAGS);
	h->image_version = get32(b + H_IMAGE);
	h->nr_vcpus = get32(b + H_VCPUS);
	h->mem_bytes = get64(b + H_MEM);
	h->ncpuid = get32(b + H_NCPUID);
	if (h->flags & ~(MIGR_F_LIVE | MIGR_F_POSTCOPY))
		return err_set(e, "unknown migration flags 0x%x", h->flags);
	if (!field_ok(b + H_NAME, 64, true) || !field_ok(b + H_SOURCE, 64, false))
		return err_set(e, "a bad domain or host name in the hello");
	memcpy(h->name, b + H_NAME, 64);
	memcpy(h->source, b + H_SOURCE, 64);
	if (!h->nr_vcpus || h->nr_vcpus > 1024)
		return err_set(e, "a domain of %u vCPUs", h->nr_vcpus);
	if (!h->mem_bytes || h->mem_bytes % 4096 || h->mem_bytes > (1ull << 46))
		return err_set(e, "a domain of %llu bytes of RAM", (unsigned long long)h->mem_bytes);
	if (!h->ncpuid || h->ncpuid > MIGR_MAX_CPUID)
		return err_set(e, "a hello with %u CPUID entries", h->ncpuid);
	*ent = xcalloc(h->ncpuid, sizeof(**ent));
	if (migr_read_all(fd, *ent, (size_t)h->ncpuid * sizeof(**ent), timeout_ms, e) < 0) {
		free(*ent);
		*ent = NULL;
		return err_prefix(e, "reading the migration hello");
	}
	return 0;
}

static int64_t now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits for fd to be ready for events until the deadline; 0, or -1 with a message. */
static int wait_fd(int fd, short events, int64_t deadline, const char *what, struct err *e)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int r;
		if (left <= 0)
			return err_set(e, "%s: timed out", what);
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return err_errno(e, "%s", what);
		if (r > 0)
			return 0;
	}
}

int migr_write_all(int fd, const void *p, size_t n, int timeout_ms, struct err *e)
{
	const uint8_t *q = p;
	int64_t deadline = now_ms() + timeout_ms;
	while (n) {
		ssize_t r = send(fd, q, n, MSG_NOSIGNAL);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLOUT, deadline, "sending", e) < 0)
				return -1;
			continue;
		}
		if (r < 0)
			return err_errno(e, "sending");
		q += r;
		n -= (size_t)r;
	}
	return 0;
}

int migr_read_all(int fd, void *p, size_t n, int timeout_ms, struct err *e)
{
	uint8_t *q = p;
	int64_t deadline = now_ms() + timeout_ms;
	while (n) {
		ssize_t r = recv(fd, q, n, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLIN, deadline, "receiving", e) < 0)
				return -1;
			continue;
		}
		if (r < 0)
			return err_errno(e, "receiving");
		if (r == 0)
			return err_set(e, "the peer closed the connection");
		q += r;
		n -= (size_t)r;
	}
	return 0;
}

int migr_read_line(int fd, char *buf, size_t len, int timeout_ms, struct err *e)
{
	size_t n = 0;
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		char c;
		ssize_t r = recv(fd, &c, 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLIN, deadline, "waiting for the peer's answer", e) < 0)
				return -1;
			continue;
		}
		if (r < 0)
			return err_errno(e, "waiting for the peer's answer");
		if (r == 0)
			return err_set(e, "the peer closed the connection");
		if (c == '\n')
			break;
		if (n + 1 >= len || n + 1 >= MIGR_LINE_MAX)
			return err_set(e, "the peer's answer is too long");
		buf[n++] = (unsigned char)c >= 0x20 && c != 0x7f ? c : '?';
	}
	buf[n] = 0;
	return 0;
}

int migr_send_line(int fd, int timeout_ms, struct err *e, const char *fmt, ...)
{
	char line[MIGR_LINE_MAX];
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return err_set(e, "formatting a reply");
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	return migr_write_all(fd, line, (size_t)n, timeout_ms, e);
}

void migr_addr_str(const void *sa, unsigned salen, char *buf, size_t len)
{
	if (getnameinfo(sa, salen, buf, (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
	/* an IPv4 peer of a dual-stack listener: its plain address */
	if (!strncmp(buf, "::ffff:", 7) && strchr(buf + 7, '.'))
		memmove(buf, buf + 7, strlen(buf + 7) + 1);
}

int migr_connect(const char *host, unsigned port, int timeout_ms, struct err *e)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *res = NULL;
	char ps[16];
	int rc, fd = -1;
	int64_t deadline = now_ms() + timeout_ms;
	snprintf(ps, sizeof(ps), "%u", port);
	rc = getaddrinfo(host, ps, &hints, &res);
	if (rc)
		return err_set(e, "%s: %s", host, gai_strerror(rc));
	err_set(e, "%s: no address", host);
	for (struct addrinfo *a = res; a; a = a->ai_next) {
		int one = 1, soerr = 0;
		socklen_t sl = sizeof(soerr);
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
		if (fd < 0) {
			err_errno(e, "socket");
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		migr_tcp_deadline(fd);
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS && wait_fd(fd, POLLOUT, deadline, "connecting", e) == 0 &&
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0)
			break;
		if (soerr)
			err_set(e, "%s port %u: %s", host, port, strerror(soerr));
		else if (errno != EINPROGRESS)
			err_errno(e, "%s port %u", host, port);
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

void migr_tcp_deadline(int fd)
{
	int ms = MIGR_LINK_MS, one = 1, idle = 10, intvl = 5, cnt = 4;
	setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ms, sizeof(ms));
	setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
}
