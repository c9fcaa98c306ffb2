/* remote: hvmdb's live target (hvmdb -d NAME). It asks hv, over its control socket, to
 * turn the connection into a gdb remote-protocol session on the domain (the domain
 * stops), then speaks that protocol through gdb/'s client (gdbclient.c): threads are
 * vCPUs, 'g' registers, 'm'/'M' memory through the vCPU's page tables, Z1/Z2/Z4
 * debug-register breakpoints, vCont to continue or step, Ctrl-C as 0x03. Closing
 * detaches: the domain runs on. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "gdb/gdb.h"
#include "mdb/mdb.h"

#define MEM_CHUNK 4096

struct remote {
	struct gdbclient *c;
	char name[64];
	unsigned ncpus;
	int g_cpu; /* the thread selected by Hg, -1 unknown */
	bool nopause;
};

static volatile sig_atomic_t sigint_fd = -1;

static void on_sigint(int sig)
{
	(void)sig;
	if (sigint_fd >= 0)
		(void)!write(sigint_fd, "\x03", 1);
}

static int select_cpu(struct remote *r, unsigned cpu, struct err *e)
{
	char req[32];
	if (r->g_cpu == (int)cpu)
		return 0;
	snprintf(req, sizeof(req), "Hg%x", cpu + 1);
	if (!gdbclient_request(r->c, req, e))
		return -1;
	r->g_cpu = (int)cpu;
	return 0;
}

static unsigned r_nr_cpus(struct target *t)
{
	return ((struct remote *)t->priv)->ncpus;
}

static int r_regs(struct target *t, unsigned cpu, struct target_regs *out)
{
	struct remote *r = t->priv;
	struct err e;
	memset(out, 0, sizeof(*out));
	if (cpu >= r->ncpus || select_cpu(r, cpu, &e) < 0 || gdbclient_read_regs(r->c, &out->x86, &e) < 0)
		return -1;
	out->online = true;
	out->full = true;
	return 0;
}

static size_t r_read_virt(struct target *t, unsigned cpu, uint64_t va, void *buf, size_t len)
{
	struct remote *r = t->priv;
	struct err e;
	if (select_cpu(r, cpu, &e) < 0)
		return 0;
	return gdbclient_read_mem(r->c, va, buf, len);
}
/* Physical memory: QEMU's convention, Qqemu.PhyMemMode; 0 bytes where the stub has none. */
static size_t r_read_phys(struct target *t, uint64_t pa, void *buf, size_t len)
{
	struct remote *r = t->priv;
	struct err e;
	size_t n;
	const char *p = gdbclient_request(r->c, "Qqemu.PhyMemMode:1", &e);
	if (!p || strcmp(p, "OK"))
		return 0;
	n = r_read_virt(t, r->g_cpu >= 0 ? (unsigned)r->g_cpu : 0, pa, buf, len);
	gdbclient_request(r->c, "Qqemu.PhyMemMode:0", &e);
	return n;
}

static size_t r_write_virt(struct target *t, unsigned cpu, uint64_t va, const void *buf, size_t len, struct err *e)
{
	struct remote *r = t->priv;
	char req[64 + 2 * MEM_CHUNK];
	const char *p;
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
	gdb_hex_encode(buf, len, req + n);
	req[n + 2 * len] = 0;
	if (!(p = gdbclient_request(r->c, req, e)))
		return 0;
	if (strcmp(p, "OK")) {
		err_set(e, "hv refused the write (%s)", p[0] ? p : "not supported");
		return 0;
	}
	return len;
}

static int r_set_reg(struct target *t, unsigned cpu, const char *name, uint64_t v, struct err *e)
{
	const struct x86_reg_desc *d = x86_reg_by_name(name);
	struct remote *r = t->priv;
	/* what hv's stub sets (KVM's kvm_regs), but rflags */
	if (!d || !(d->flags & X86_REG_KVM) || !strcmp(d->name, "rflags"))
		return err_set(e, "%s: only the general registers and rip can be set", name);
	if (r->nopause)
		return err_set(e, "attached with --no-pause: the domain runs, no writes");
	if (select_cpu(r, cpu, e) < 0)
		return -1;
	return gdbclient_write_reg(r->c, d, v, e);
}

static int r_set_bp(struct target *t, enum target_bp_kind k, uint64_t addr, unsigned len, bool insert, struct err *e)
{
	struct remote *r = t->priv;
	char req[64];
	snprintf(req, sizeof(req), "%c%c,%llx,%x", insert ? 'Z' : 'z', k == TBP_EXEC ? '1' : k == TBP_WRITE ? '2' : '4',
		 (unsigned long long)addr, k == TBP_EXEC ? 1 : len);
	const char *p = gdbclient_request(r->c, req, e);
	if (!p)
		return -1;
	if (!strncmp(p, "E.", 2) && p[2]) /* the stub's reason, as text */
		return err_set(e, "%s", p + 2);
	return strcmp(p, "OK") ? err_set(e, "hv refused the breakpoint (%s)", p[0] ? p : "not supported") : 0;
}

static int r_run(struct target *t, int step_cpu, struct target_stop *s, struct err *e)
{
	struct remote *r = t->priv;
	struct sigaction sa = { .sa_handler = on_sigint }, old;
	char req[64];
	int pfd[2];
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
	p = gdbclient_send(r->c, req, e) < 0 ? NULL : gdbclient_recv(r->c, pfd[0], e);
	sigaction(SIGINT, &old, NULL);
	sigint_fd = -1;
	close(pfd[0]);
	close(pfd[1]);
	r->g_cpu = -1;
	if (!p)
		return -1;
	if (p[0] == 'W' || p[0] == 'X') {
		s->kind = TSTOP_EXITED;
		snprintf(s->why, sizeof(s->why), "the domain crashed or shut down");
		return 0;
	}
	if (p[0] != 'T' && p[0] != 'S')
		return err_set(e, "unexpected stop reply '%.32s'", p);
	s->kind = step_cpu >= 0 ? TSTOP_STEP : TSTOP_INTERRUPT;
	if (p[1] == '0' && p[2] == '2')
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
	if (gdbclient_send(r->c, "D", &e) == 0)
		gdbclient_recv(r->c, -1, &e);
	gdbclient_close(r->c);
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
	const char *p;
	int fd = -1;
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
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		err_errno(e, "cannot reach hv at %s", sock);
		goto fail_fd;
	}
	/* writes are gated by ::set -w here */
	snprintf(line, sizeof(line), "gdb\t%s\t-w%s\n", domain, nopause ? "\t--no-pause" : "");
	if (send(fd, line, strlen(line), MSG_NOSIGNAL) < 0) {
		err_errno(e, "hv at %s", sock);
		goto fail_fd;
	}
	/* "g" when the session started; else "e MESSAGE" lines and "= STATUS" */
	for (;;) {
		char c;
		ssize_t n = recv(fd, &c, 1, 0);
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
	r->c = gdbclient_open(fd);
	fd = -1;
	if (gdbclient_noack(r->c, e) < 0)
		goto fail_fd;
	/* threads: qfThreadInfo / qsThreadInfo, "m1,2,..." then "l" */
	for (const char *q = "qfThreadInfo";; q = "qsThreadInfo") {
		if (!(p = gdbclient_request(r->c, q, e)))
			goto fail_fd;
		if (p[0] != 'm')
			break;
		for (const char *c = p + 1; *c; c++)
			if (c == p + 1 || c[-1] == ',')
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
	if (fd >= 0)
		close(fd);
	gdbclient_close(r->c);
fail:
	free(r);
	return NULL;
}
