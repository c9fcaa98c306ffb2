/* remote: hvmdb's live target (hvmdb -d NAME). It asks hv, over its control socket, to
 * turn the connection into a gdb remote-protocol session on the domain (the domain
 * stops), then speaks that protocol as a client: threads are vCPUs, 'g' registers in the
 * layout of our stub (gdbregs.c), 'm'/'M' memory through the vCPU's page tables, Z1/Z2/
 * Z4 debug-register breakpoints, vCont to continue or step, Ctrl-C as 0x03. Closing
 * detaches: the domain runs on. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mdb/mdb.h"


#define PKT_MAX 16384
#define MEM_CHUNK 4096
/* offsets in our stub's 'g' reply (gdbregs.c's table): 16 GPRs, rip, eflags(4), six
 * selectors(4), st0-7 (10 each), 8 x87 control words (4), fs_base, gs_base, cr0 cr2 cr3
 * cr4 cr8 efer */
#define G_RIP 128
#define G_EFLAGS 136
#define G_CS 140
#define G_SS 144
#define G_FS_BASE 276
#define G_CR0 292
#define G_BYTES 340

struct remote {
	int fd;
	char name[64];
	unsigned ncpus;
	int g_cpu; /* the thread selected by Hg, -1 unknown */
	bool noack; /* QStartNoAckMode accepted */
	bool nopause;
	char buf[PKT_MAX + 1];
	size_t len; /* received, not yet consumed */
	char pkt[PKT_MAX + 1];
};

static volatile sig_atomic_t sigint_fd = -1;

static void on_sigint(int sig)
{
	(void)sig;
	if (sigint_fd >= 0)
		(void)!write(sigint_fd, "\x03", 1);
}

static int send_pkt(struct remote *r, const char *body, struct err *e)
{
	char frame[PKT_MAX + 8];
	unsigned sum = 0;
	size_t n = strlen(body);
	if (n > PKT_MAX)
		return err_set(e, "request too long");
	for (size_t i = 0; i < n; i++)
		sum += (unsigned char)body[i];
	frame[0] = '$';
	memcpy(frame + 1, body, n);
	snprintf(frame + 1 + n, 4, "#%02x", sum & 0xff);
	n += 4;
	for (size_t off = 0; off < n;) {
		ssize_t w = send(r->fd, frame + off, n - off, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return err_set(e, "the debug session with hv was lost");
		off += (size_t)w;
	}
	return 0;
}

/* The next packet's body into r->pkt (acks and notifications skipped). wait_ms < 0:
 * no timeout; interruptible by Ctrl-C when intr_fd >= 0. */
static int recv_pkt(struct remote *r, int intr_fd, struct err *e)
{
	for (;;) {
		char *start = memchr(r->buf, '$', r->len), *hash;
		if (start && (hash = memchr(start, '#', r->len - (size_t)(start - r->buf))) &&
		    (size_t)(hash - r->buf) + 3 <= r->len) {
			size_t body = (size_t)(hash - start - 1), used = (size_t)(hash - r->buf) + 3;
			if (body > PKT_MAX)
				return err_set(e, "an oversized reply from hv");
			memcpy(r->pkt, start + 1, body);
			r->pkt[body] = 0;
			memmove(r->buf, r->buf + used, r->len - used);
			r->len -= used;
			if (!r->noack)
				(void)!send(r->fd, "+", 1, MSG_NOSIGNAL);
			return 0;
		}
		if (!start)
			r->len = 0; /* acks and noise */
		if (r->len == PKT_MAX)
			return err_set(e, "an oversized reply from hv");
		{
			struct pollfd p[2] = { { .fd = r->fd, .events = POLLIN }, { .fd = intr_fd, .events = POLLIN } };
			ssize_t n;
			if (poll(p, intr_fd >= 0 ? 2 : 1, -1) < 0) {
				if (errno == EINTR)
					continue;
				return err_errno(e, "poll");
			}
			if (intr_fd >= 0 && (p[1].revents & POLLIN)) {
				char c;
				if (read(intr_fd, &c, 1) == 1)
					(void)!send(r->fd, "\x03", 1, MSG_NOSIGNAL);
			}
			if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			n = recv(r->fd, r->buf + r->len, PKT_MAX - r->len, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return err_set(e, "hv ended the debug session");
			r->len += (size_t)n;
		}
	}
}

static int request(struct remote *r, const char *body, struct err *e)
{
	if (send_pkt(r, body, e) < 0 || recv_pkt(r, -1, e) < 0)
		return -1;
	if (r->pkt[0] == 'E' && (r->pkt[1] == '.' || (r->pkt[1] && r->pkt[2] && !r->pkt[3])))
		return err_set(e, "%s", r->pkt[1] == '.' ? r->pkt + 2 : "the request failed");
	return 0;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static size_t unhex(const char *s, uint8_t *out, size_t max)
{
	size_t n = 0;
	while (n < max && hexval(s[0]) >= 0 && hexval(s[1]) >= 0) {
		out[n++] = (uint8_t)(hexval(s[0]) << 4 | hexval(s[1]));
		s += 2;
	}
	return n;
}

static int select_cpu(struct remote *r, unsigned cpu, struct err *e)
{
	char req[32];
	if (r->g_cpu == (int)cpu)
		return 0;
	snprintf(req, sizeof(req), "Hg%x", cpu + 1);
	if (request(r, req, e) < 0)
		return -1;
	r->g_cpu = (int)cpu;
	return 0;
}

static uint64_t le64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

static unsigned r_nr_cpus(struct target *t)
{
	return ((struct remote *)t->priv)->ncpus;
}

static int r_regs(struct target *t, unsigned cpu, struct target_regs *out)
{
	struct remote *r = t->priv;
	uint8_t g[G_BYTES];
	uint64_t *gpr[16];
	struct err e;
	if (cpu >= r->ncpus || select_cpu(r, cpu, &e) < 0 || request(r, "g", &e) < 0 || unhex(r->pkt, g, sizeof(g)) != sizeof(g))
		return -1;
	memset(out, 0, sizeof(*out));
	gpr[0] = &out->rax; gpr[1] = &out->rbx; gpr[2] = &out->rcx; gpr[3] = &out->rdx; gpr[4] = &out->rsi;
	gpr[5] = &out->rdi; gpr[6] = &out->rbp; gpr[7] = &out->rsp; gpr[8] = &out->r8; gpr[9] = &out->r9;
	gpr[10] = &out->r10; gpr[11] = &out->r11; gpr[12] = &out->r12; gpr[13] = &out->r13; gpr[14] = &out->r14;
	gpr[15] = &out->r15;
	for (int i = 0; i < 16; i++)
		*gpr[i] = le64(g + 8 * i);
	out->rip = le64(g + G_RIP);
	out->rflags = (uint32_t)le64(g + G_EFLAGS);
	out->cs = (uint16_t)le64(g + G_CS);
	out->ss = (uint16_t)le64(g + G_SS);
	out->fs_base = le64(g + G_FS_BASE);
	out->gs_base = le64(g + G_FS_BASE + 8);
	out->cr0 = le64(g + G_CR0);
	out->cr2 = le64(g + G_CR0 + 8);
	out->cr3 = le64(g + G_CR0 + 16);
	out->cr4 = le64(g + G_CR0 + 24);
	out->efer = le64(g + G_CR0 + 40);
	out->online = true;
	out->full = true;
	return 0;
}

static size_t r_read_virt(struct target *t, unsigned cpu, uint64_t va, void *buf, size_t len)
{
	struct remote *r = t->priv;
	struct err e;
	size_t done = 0;
	if (select_cpu(r, cpu, &e) < 0)
		return 0;
	while (done < len) {
		char req[64];
		size_t n = len - done > MEM_CHUNK ? MEM_CHUNK : len - done, got;
		snprintf(req, sizeof(req), "m%llx,%zx", (unsigned long long)(va + done), n);
		if (request(r, req, &e) < 0)
			break;
		got = unhex(r->pkt, (uint8_t *)buf + done, n);
		done += got;
		if (got < n)
			break;
	}
	return done;
}

/* Physical memory: QEMU's convention, Qqemu.PhyMemMode; 0 bytes where the stub has none. */
static size_t r_read_phys(struct target *t, uint64_t pa, void *buf, size_t len)
{
	struct remote *r = t->priv;
	struct err e;
	size_t n;
	if (request(r, "Qqemu.PhyMemMode:1", &e) < 0 || strcmp(r->pkt, "OK"))
		return 0;
	n = r_read_virt(t, r->g_cpu >= 0 ? (unsigned)r->g_cpu : 0, pa, buf, len);
	request(r, "Qqemu.PhyMemMode:0", &e);
	return n;
}

static size_t r_write_virt(struct target *t, unsigned cpu, uint64_t va, const void *buf, size_t len, struct err *e)
{
	struct remote *r = t->priv;
	char req[64 + 2 * MEM_CHUNK];
	size_t n;
	if (r->nopause) {
		err_set(e, "attached with --no-pause: the domain runs, no writes");
		return 0;
	}
	if (len > MEM_CHUNK) {
		err_set(e, "at most %u bytes at a time", MEM_CHUNK);
		return 0;
	}
	if (select_cpu(r, cpu, e) < 0)
		return 0;
	n = (size_t)snprintf(req, sizeof(req), "M%llx,%zx:", (unsigned long long)va, len);
	for (size_t i = 0; i < len; i++)
		n += (size_t)snprintf(req + n, sizeof(req) - n, "%02x", ((const uint8_t *)buf)[i]);
	if (request(r, req, e) < 0)
		return 0;
	if (strcmp(r->pkt, "OK")) {
		err_set(e, "hv refused the write (%s)", r->pkt[0] ? r->pkt : "not supported");
		return 0;
	}
	return len;
}

static int r_set_reg(struct target *t, unsigned cpu, const char *name, uint64_t v, struct err *e)
{
	static const char *const names[] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9",
					     "r10", "r11", "r12", "r13", "r14", "r15", "rip" };
	struct remote *r = t->priv;
	char req[64];
	int n = -1;
	for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
		if (!strcmp(name, names[i]))
			n = i;
	if (n < 0)
		return err_set(e, "%s: only the general registers and rip can be set", name);
	if (r->nopause)
		return err_set(e, "attached with --no-pause: the domain runs, no writes");
	if (select_cpu(r, cpu, e) < 0)
		return -1;
	snprintf(req, sizeof(req), "P%x=", n);
	for (int i = 0; i < 8; i++)
		snprintf(req + strlen(req), sizeof(req) - strlen(req), "%02x", (unsigned)(v >> (8 * i)) & 0xff);
	if (request(r, req, e) < 0)
		return -1;
	return strcmp(r->pkt, "OK") ? err_set(e, "hv refused the register write (%s)", r->pkt) : 0;
}

static int r_set_bp(struct target *t, enum target_bp_kind k, uint64_t addr, unsigned len, bool insert, struct err *e)
{
	struct remote *r = t->priv;
	char req[64];
	snprintf(req, sizeof(req), "%c%c,%llx,%x", insert ? 'Z' : 'z', k == TBP_EXEC ? '1' : k == TBP_WRITE ? '2' : '4',
		 (unsigned long long)addr, k == TBP_EXEC ? 1 : len);
	if (request(r, req, e) < 0)
		return -1;
	return strcmp(r->pkt, "OK") ? err_set(e, "hv refused the breakpoint (%s)", r->pkt[0] ? r->pkt : "not supported") : 0;
}

static int r_run(struct target *t, int step_cpu, struct target_stop *s, struct err *e)
{
	struct remote *r = t->priv;
	struct sigaction sa = { .sa_handler = on_sigint }, old;
	char req[64];
	int pfd[2], ret;
	const char *p;
	memset(s, 0, sizeof(*s));
	if (r->nopause)
		return err_set(e, "attached with --no-pause: the domain runs already (no run control)");
	if (step_cpu >= 0)
		snprintf(req, sizeof(req), "vCont;s:%x", step_cpu + 1);
	else
		snprintf(req, sizeof(req), "vCont;c");
	if (pipe(pfd) < 0)
		return err_errno(e, "pipe");
	sigint_fd = pfd[1];
	sigaction(SIGINT, &sa, &old);
	if (step_cpu < 0)
		fprintf(stderr, "running (Ctrl-C stops it)\n");
	ret = send_pkt(r, req, e) < 0 ? -1 : recv_pkt(r, pfd[0], e);
	sigaction(SIGINT, &old, NULL);
	sigint_fd = -1;
	close(pfd[0]);
	close(pfd[1]);
	r->g_cpu = -1;
	if (ret < 0)
		return -1;
	p = r->pkt;
	if (p[0] == 'W' || p[0] == 'X') {
		s->kind = TSTOP_EXITED;
		snprintf(s->why, sizeof(s->why), "the domain crashed or shut down");
		return 0;
	}
	if (p[0] != 'T' && p[0] != 'S')
		return err_set(e, "unexpected stop reply '%.32s'", p);
	s->kind = step_cpu >= 0 ? TSTOP_STEP : TSTOP_INTERRUPT;
	if (hexval(p[1]) * 16 + hexval(p[2]) == 2)
		s->kind = TSTOP_INTERRUPT;
	s->cpu = step_cpu >= 0 ? (unsigned)step_cpu : 0;
	for (const char *f = p + 3; *f;) {
		const char *semi = strchr(f, ';');
		size_t flen = semi ? (size_t)(semi - f) : strlen(f);
		if (!strncmp(f, "thread:", 7))
			s->cpu = (unsigned)strtoul(f + 7, NULL, 16) - 1;
		else if (!strncmp(f, "swbreak:", 8) || !strncmp(f, "hwbreak:", 8))
			s->kind = TSTOP_BREAK;
		else if (!strncmp(f, "watch:", 6) || !strncmp(f, "awatch:", 7) || !strncmp(f, "rwatch:", 7)) {
			s->kind = TSTOP_WATCH;
			s->addr = strtoull(strchr(f, ':') + 1, NULL, 16);
		}
		f += flen + (semi ? 1 : 0);
	}
	if (s->cpu >= r->ncpus)
		s->cpu = 0;
	if (s->kind == TSTOP_BREAK) {
		struct target_regs regs;
		if (r_regs(t, s->cpu, &regs) == 0)
			s->addr = regs.rip;
	}
	return 0;
}

static void r_status(struct target *t, FILE *out)
{
	struct remote *r = t->priv;
	if (r->nopause)
		fprintf(out, "observing live domain %s (it runs: registers are read at an instant; no run control)\n", r->name);
	else
		fprintf(out, "debugging live domain %s (stopped while attached; :c runs it, ::quit detaches)\n", r->name);
}

static void r_close(struct target *t)
{
	struct remote *r = t->priv;
	struct err e;
	if (send_pkt(r, "D", &e) == 0)
		recv_pkt(r, -1, &e);
	close(r->fd);
	free(r);
}

static const struct target_ops remote_ops = {
	.kind = "live", .nr_cpus = r_nr_cpus, .regs = r_regs, .read_phys = r_read_phys, .status = r_status,
	.close = r_close, .read_virt = r_read_virt, .write_virt = r_write_virt, .set_reg = r_set_reg,
	.set_bp = r_set_bp, .run = r_run,
};

struct target *target_remote_open(const char *sock, const char *domain, bool nopause, struct err *e)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct remote *r = calloc(1, sizeof(*r));
	struct target *t;
	char line[600];
	size_t ll = 0;
	if (!r) {
		err_set(e, "out of memory");
		return NULL;
	}
	r->g_cpu = -1;
	r->nopause = nopause;
	snprintf(r->name, sizeof(r->name), "%s", domain);
	if (strlen(sock) >= sizeof(a.sun_path) || strpbrk(domain, "\t\n")) {
		err_set(e, "bad socket path or domain name");
		goto fail;
	}
	strcpy(a.sun_path, sock);
	r->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (r->fd < 0 || connect(r->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err_errno(e, "cannot reach hv at %s", sock);
		goto fail_fd;
	}
	/* writes are gated by ::set -w here */
	snprintf(line, sizeof(line), "gdb\t%s\t-w%s\n", domain, nopause ? "\t--no-pause" : "");
	if (send(r->fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		err_errno(e, "hv at %s", sock);
		goto fail_fd;
	}
	/* "g" when the session started; else "e MESSAGE" lines and "= STATUS" */
	for (;;) {
		char c;
		ssize_t n = recv(r->fd, &c, 1, 0);
		if (n <= 0) {
			err_set(e, "hv closed the connection");
			goto fail_fd;
		}
		if (c != '\n') {
			if (ll < sizeof(line) - 1)
				line[ll++] = c;
			continue;
		}
		line[ll] = 0;
		ll = 0;
		if (!strcmp(line, "g"))
			break;
		if (line[0] == 'e' && line[1] == ' ') {
			err_set(e, "%s", line + 2);
			goto fail_fd;
		}
		if (line[0] == '=') {
			err_set(e, "hv refused the debug session");
			goto fail_fd;
		}
	}
	if (request(r, "QStartNoAckMode", e) < 0)
		goto fail_fd;
	r->noack = !strcmp(r->pkt, "OK");
	/* threads: qfThreadInfo / qsThreadInfo, "m1,2,..." then "l" */
	for (const char *q = "qfThreadInfo";; q = "qsThreadInfo") {
		if (request(r, q, e) < 0)
			goto fail_fd;
		if (r->pkt[0] != 'm')
			break;
		for (const char *p = r->pkt + 1; *p; p++)
			if (p == r->pkt + 1 || p[-1] == ',')
				r->ncpus++;
		if (r->ncpus > 4096)
			break;
	}
	if (!r->ncpus) {
		err_set(e, "%s: no vCPUs reported", domain);
		goto fail_fd;
	}
	t = xcalloc(1, sizeof(*t));
	t->ops = &remote_ops;
	t->priv = r;
	return t;
fail_fd:
	if (r->fd >= 0)
		close(r->fd);
fail:
	free(r);
	return NULL;
}
