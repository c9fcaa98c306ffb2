/* gdbstub: one gdb remote-protocol session: the requests gdb makes of an all-stop
 * target (registers, memory, breakpoints, threads = vCPUs, continue/step, Ctrl-C),
 * answered through the target's ops vector. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGTRAP_ 5
#define SIGINT_ 2
#define THREADS_PER_REPLY 256
#define MAX_THREADS 4096 /* what we believe of nr_threads */

enum { GO_ON = -1, FAILED = -2 }; /* besides enum gdbstub_end, what a request leads to */

/* A request being answered: its text after the command letters. */
struct req {
	const char *p, *end;
};

static unsigned nr_threads(struct gdbstub *s)
{
	unsigned n = s->ops->nr_threads(s->o);
	return n > MAX_THREADS ? MAX_THREADS : n;
}

static bool eat(struct req *r, const char *prefix)
{
	size_t n = strlen(prefix);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, prefix, n))
		return false;
	r->p += n;
	return true;
}

static bool at_end(const struct req *r)
{
	return r->p == r->end;
}

static void reply_error(struct gdbstub *s, int code)
{
	reply_reset(s);
	reply_fmt(s, "E%02x", code);
}

/* A thread id of a live vCPU: 0 (any) is the current one. false when there is none. */
static bool thread_cpu(struct gdbstub *s, int64_t tid, unsigned *cpu)
{
	if (tid == 0) {
		*cpu = s->g_cpu;
		return true;
	}
	if (tid < 1 || (uint64_t)tid > nr_threads(s))
		return false;
	*cpu = (unsigned)(tid - 1);
	return true;
}

/* "ADDR,LEN" with LEN at most max. */
static bool parse_range(struct req *r, uint64_t *addr, uint64_t *len, uint64_t max)
{
	if (!hex_u64(&r->p, r->end, addr) || !eat(r, ",") || !hex_u64(&r->p, r->end, len))
		return false;
	return *len <= max && *addr + *len >= *addr;
}

static void stop_reply(struct gdbstub *s)
{
	static const char *const watch[] = { [GDBSTUB_WP_WRITE] = "watch", [GDBSTUB_WP_READ] = "rwatch",
					     [GDBSTUB_WP_ACCESS] = "awatch" };
	const struct gdbstub_stop *st = &s->last;
	reply_reset(s);
	if (st->exited) {
		reply_str(s, "W00");
		return;
	}
	reply_fmt(s, "T%02xthread:%x;", st->signal & 0xff, st->cpu + 1);
	if (!st->bp)
		return;
	if (st->kind == GDBSTUB_BP_SW)
		reply_str(s, "swbreak:;");
	else if (st->kind == GDBSTUB_BP_HW)
		reply_str(s, "hwbreak:;");
	else if ((unsigned)st->kind <= GDBSTUB_WP_ACCESS)
		reply_fmt(s, "%s:%llx;", watch[st->kind], (unsigned long long)st->addr);
}

static int get_regs(struct gdbstub *s, unsigned cpu, struct x86_regs *r)
{
	memset(r, 0, sizeof(*r));
	return s->ops->get_regs(s->o, cpu, r);
}

static void cmd_read_regs(struct gdbstub *s)
{
	uint8_t buf[1024];
	struct x86_regs r;
	if (get_regs(s, s->g_cpu, &r) < 0) {
		reply_error(s, 1);
		return;
	}
	regs_to_g(&r, buf);
	reply_hex(s, buf, regs_g_size());
}

static void cmd_write_regs(struct gdbstub *s, struct req *q)
{
	uint8_t buf[1024];
	struct x86_regs r;
	size_t n = (size_t)(q->end - q->p);
	if (!s->ops->set_regs)
		return;
	if (n != 2 * regs_g_size() || gdb_hex_decode(q->p, n, buf) < 0) {
		reply_error(s, 1);
		return;
	}
	if (get_regs(s, s->g_cpu, &r) < 0) { /* keeps what the layout does not carry */
		reply_error(s, 1);
		return;
	}
	regs_from_g(&r, buf);
	if (s->ops->set_regs(s->o, s->g_cpu, &r) < 0) {
		reply_error(s, 1);
		return;
	}
	reply_str(s, "OK");
}

/* p N and P N=VALUE */
static void cmd_reg(struct gdbstub *s, struct req *q, bool write)
{
	uint8_t buf[16];
	struct x86_regs r;
	uint64_t n;
	size_t size;
	if (!hex_u64(&q->p, q->end, &n) || !(size = regs_size(n < 0x10000 ? (unsigned)n : ~0u))) {
		reply_error(s, 0);
		return;
	}
	if (write && !s->ops->set_regs)
		return;
	if (write && (!eat(q, "=") || (size_t)(q->end - q->p) != 2 * size || gdb_hex_decode(q->p, 2 * size, buf) < 0)) {
		reply_error(s, 1);
		return;
	}
	if (!write && !at_end(q)) {
		reply_error(s, 1);
		return;
	}
	if (get_regs(s, s->g_cpu, &r) < 0) {
		reply_error(s, 1);
		return;
	}
	if (!write) {
		regs_get_one(&r, (unsigned)n, buf);
		reply_hex(s, buf, size);
		return;
	}
	regs_set_one(&r, (unsigned)n, buf);
	if (s->ops->set_regs(s->o, s->g_cpu, &r) < 0) {
		reply_error(s, 1);
		return;
	}
	reply_str(s, "OK");
}

static void cmd_read_mem(struct gdbstub *s, struct req *q)
{
	uint8_t buf[GDBSTUB_MAX_MEM];
	uint64_t addr, len;
	size_t got;
	if (!parse_range(q, &addr, &len, GDBSTUB_MAX_MEM) || !at_end(q)) {
		reply_error(s, 1);
		return;
	}
	if (!len)
		return;
	got = s->phys ? s->ops->read_phys(s->o, addr, buf, len) : s->ops->read_mem(s->o, s->g_cpu, addr, buf, len);
	if (!got || got > len) {
		reply_error(s, 0x0e); /* EFAULT, as gdbserver */
		return;
	}
	reply_hex(s, buf, got);
}

/* M ADDR,LEN:HEX and X ADDR,LEN:BINARY */
static void cmd_write_mem(struct gdbstub *s, struct req *q, bool binary)
{
	uint8_t buf[GDBSTUB_MAX_MEM];
	uint64_t addr, len;
	long n;
	if (!s->ops->write_mem || s->phys) {
		reply_error(s, 1);
		return;
	}
	if (!parse_range(q, &addr, &len, GDBSTUB_MAX_MEM) || !eat(q, ":")) {
		reply_error(s, 1);
		return;
	}
	if (binary) {
		n = bin_unescape((char *)q->p, (size_t)(q->end - q->p));
		if (n != (long)len) {
			reply_error(s, 1);
			return;
		}
		memcpy(buf, q->p, len);
	} else if ((size_t)(q->end - q->p) != 2 * len || gdb_hex_decode(q->p, 2 * len, buf) != (long)len) {
		reply_error(s, 1);
		return;
	}
	if (len && s->ops->write_mem(s->o, s->g_cpu, addr, buf, len) != len) {
		reply_error(s, 0x0e);
		return;
	}
	reply_str(s, "OK");
}

/* Z/z TYPE,ADDR,KIND[;conditions] */
static void cmd_breakpoint(struct gdbstub *s, struct req *q, bool insert)
{
	struct err e = { "" };
	uint64_t type, addr, kind;
	if (!s->ops->set_bp)
		return;
	if (!hex_u64(&q->p, q->end, &type) || type > GDBSTUB_WP_ACCESS || !eat(q, ",") ||
	    !hex_u64(&q->p, q->end, &addr) || !eat(q, ",") || !hex_u64(&q->p, q->end, &kind) ||
	    (!at_end(q) && *q->p != ';')) {
		reply_error(s, 1);
		return;
	}
	if (s->ops->set_bp(s->o, (enum gdbstub_bp)type, addr, kind, insert, &e) < 0) {
		reply_str(s, "E.");
		for (const char *c = e.msg; *c && reply_room(s) > 1; c++) /* keep the frame clean */
			reply_mem(s, strchr("$#*}", *c) || (unsigned char)*c < 0x20 ? "?" : c, 1);
		if (!e.msg[0])
			reply_str(s, "breakpoint refused");
		return;
	}
	reply_str(s, "OK");
}

/* Runs the target until it stops; a ^C from the client interrupts it. Returns 0 with
 * s->last set, or -1 (the session ends: the client left, or wait_stop failed). */
static int run_target(struct gdbstub *s, int fd)
{
	const struct gdbstub_ops *ops = s->ops;
	struct gdbstub_stop st;
	s->interrupted = false;
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = s->fd, .events = POLLIN } };
		while (conn_buffered(s)) /* in all-stop mode only ^C means something now */
			if (s->rbuf[s->rpos++] == 0x03 && !s->interrupted) {
				s->interrupted = true;
				ops->interrupt(s->o);
			}
		if (poll(p, s->eof ? 1 : 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return err_errno(s->e, "gdbstub: poll");
		}
		if (p[0].revents) {
			int r;
			memset(&st, 0, sizeof(st));
			r = ops->wait_stop(s->o, &st);
			if (r < 0)
				return err_set(s->e, "gdbstub: the target did not report its stop");
			if (r == 0)
				break;
		}
		if (!s->eof && p[1].revents && !conn_fill(s) && !s->interrupted) {
			s->interrupted = true; /* the client left: stop the target, then end */
			ops->interrupt(s->o);
		}
	}
	if (!st.signal)
		st.signal = s->interrupted ? SIGINT_ : SIGTRAP_;
	if (st.cpu >= nr_threads(s))
		st.cpu = 0;
	s->last = st;
	s->g_cpu = st.cpu;
	return s->eof ? -1 : 0;
}

/* Resumes (step_cpu -1: continue) and answers with the stop. */
static int resume(struct gdbstub *s, int step_cpu)
{
	int fd;
	if (!s->ops->resume || !s->ops->stop_fd || !s->ops->wait_stop || !s->ops->interrupt ||
	    (fd = s->ops->stop_fd(s->o)) < 0) {
		reply_str(s, "E.the target cannot run");
		return GO_ON;
	}
	if (s->ops->resume(s->o, step_cpu) < 0) {
		reply_error(s, 1);
		return GO_ON;
	}
	if (run_target(s, fd) < 0)
		return s->eof ? GDBSTUB_END_EOF : FAILED;
	stop_reply(s);
	return GO_ON;
}

/* c [ADDR] / s [ADDR] */
static int cmd_continue(struct gdbstub *s, struct req *q, bool step)
{
	unsigned cpu = step && s->c_cpu >= 0 ? (unsigned)s->c_cpu : s->g_cpu;
	if (!at_end(q)) {
		struct x86_regs r;
		uint64_t addr;
		if (!hex_u64(&q->p, q->end, &addr) || !at_end(q) || !s->ops->set_regs ||
		    get_regs(s, cpu, &r) < 0) {
			reply_error(s, 1);
			return GO_ON;
		}
		r.rip = addr;
		if (s->ops->set_regs(s->o, cpu, &r) < 0) {
			reply_error(s, 1);
			return GO_ON;
		}
	}
	return resume(s, step ? (int)cpu : -1);
}

/* vCont;ACTION[:TID];...: a step action steps that vCPU, else everything continues. */
static int cmd_vcont(struct gdbstub *s, struct req *q)
{
	int step = -1;
	bool any = false;
	while (eat(q, ";")) {
		char a = at_end(q) ? 0 : *q->p++;
		int64_t tid = 0;
		unsigned cpu;
		uint64_t sig;
		if ((a == 'C' || a == 'S') && !hex_u64(&q->p, q->end, &sig)) /* the signal is ignored */
			break;
		if ((a != 'c' && a != 's' && a != 'C' && a != 'S') ||
		    (eat(q, ":") && !parse_thread(&q->p, q->end, &tid)))
			break;
		if (tid == -1)
			tid = 0; /* all threads: step the current one */
		if (!thread_cpu(s, tid, &cpu))
			break;
		any = true;
		if ((a == 's' || a == 'S') && step < 0)
			step = (int)cpu;
	}
	if (!any || !at_end(q)) {
		reply_error(s, 1);
		return GO_ON;
	}
	return resume(s, step);
}

static void cmd_set_thread(struct gdbstub *s, struct req *q)
{
	char which = at_end(q) ? 0 : *q->p++;
	int64_t tid;
	unsigned cpu;
	if ((which != 'g' && which != 'c') || !parse_thread(&q->p, q->end, &tid) || !at_end(q)) {
		reply_error(s, 1);
		return;
	}
	if (tid == -1) {
		if (which == 'c')
			s->c_cpu = -1;
	} else if (!thread_cpu(s, tid, &cpu)) {
		reply_error(s, 1);
		return;
	} else if (which == 'g') {
		s->g_cpu = cpu;
	} else {
		s->c_cpu = tid ? (int)cpu : -1;
	}
	reply_str(s, "OK");
}

static void cmd_thread_alive(struct gdbstub *s, struct req *q)
{
	int64_t tid;
	unsigned cpu;
	if (parse_thread(&q->p, q->end, &tid) && at_end(q) && tid > 0 && thread_cpu(s, tid, &cpu))
		reply_str(s, "OK");
	else
		reply_error(s, 1);
}

static void thread_list(struct gdbstub *s, bool first)
{
	unsigned n = nr_threads(s), i;
	if (first)
		s->thread_iter = 0;
	if (s->thread_iter >= n) {
		reply_str(s, "l");
		return;
	}
	reply_str(s, "m");
	for (i = 0; i < THREADS_PER_REPLY && s->thread_iter < n; i++, s->thread_iter++)
		reply_fmt(s, i ? ",%x" : "%x", s->thread_iter + 1);
}

static void thread_extra_info(struct gdbstub *s, struct req *q)
{
	char name[128];
	const char *t = NULL;
	int64_t tid;
	unsigned cpu;
	if (!parse_thread(&q->p, q->end, &tid) || tid < 1 || !thread_cpu(s, tid, &cpu) || !at_end(q)) {
		reply_error(s, 1);
		return;
	}
	if (s->ops->thread_name)
		t = s->ops->thread_name(s->o, cpu);
	if (!t || !*t) {
		snprintf(name, sizeof(name), "vCPU %u", cpu);
		t = name;
	}
	reply_hex(s, t, strnlen(t, 1024));
}

/* qXfer:features:read:ANNEX:OFFSET,LENGTH */
static void xfer_features(struct gdbstub *s, struct req *q)
{
	size_t xml_len, used, n;
	const char *xml = regs_target_xml(&xml_len);
	uint64_t off, len;
	if (!eat(q, "target.xml:")) {
		reply_error(s, 0);
		return;
	}
	if (!parse_range(q, &off, &len, UINT64_MAX / 2) || !at_end(q)) {
		reply_error(s, 1);
		return;
	}
	if (off >= xml_len) {
		reply_str(s, "l");
		return;
	}
	n = xml_len - off < len ? xml_len - off : len;
	reply_str(s, "m");
	s->outlen += bin_escape((const uint8_t *)xml + off, n, s->out + 2, reply_room(s), &used);
	if (off + used == xml_len)
		s->out[1] = 'l';
}

/* q and Q packets (q->p at the 'q'); unknown ones get the empty reply. */
static void cmd_query(struct gdbstub *s, struct req *q)
{
	if (eat(q, "qSupported")) {
		reply_fmt(s, "PacketSize=%x;qXfer:features:read+;swbreak+;hwbreak+;vContSupported+;"
			  "QStartNoAckMode+", GDBSTUB_PACKET_SIZE);
	} else if (eat(q, "qXfer:features:read:")) {
		xfer_features(s, q);
	} else if (eat(q, "qfThreadInfo") || eat(q, "qsThreadInfo")) {
		thread_list(s, s->pkt[1] == 'f');
	} else if (eat(q, "qThreadExtraInfo,")) {
		thread_extra_info(s, q);
	} else if (eat(q, "qAttached")) {
		reply_str(s, "1");
	} else if (q->end - q->p == 2 && eat(q, "qC")) {
		reply_fmt(s, "QC%x", s->g_cpu + 1);
	} else if (s->ops->read_phys && q->end - q->p == 18 && eat(q, "Qqemu.PhyMemMode:")) {
		if (*q->p != '0' && *q->p != '1') {
			reply_error(s, 1);
			return;
		}
		s->phys = *q->p == '1';
		reply_str(s, "OK");
	} else if (s->ops->read_phys && q->end - q->p == 16 && eat(q, "qqemu.PhyMemMode")) {
		reply_str(s, s->phys ? "1" : "0");
	} else if (q->end - q->p == 15 && eat(q, "QStartNoAckMode")) {
		reply_str(s, "OK");
		if (pkt_send(s) == 0)
			s->noack = true;
		s->replied = true;
	}
}

static int cmd_v(struct gdbstub *s, struct req *q)
{
	if (q->end - q->p == 6 && eat(q, "vCont?")) {
		reply_str(s, "vCont;c;C;s;S");
	} else if (eat(q, "vCont") && !at_end(q) && *q->p == ';') {
		return cmd_vcont(s, q);
	} else if (eat(q, "vAttach;")) { /* attached already (a locked session's attach ends here) */
		stop_reply(s);
	} else if (eat(q, "vKill")) {
		reply_str(s, "OK");
		pkt_send(s);
		return GDBSTUB_END_KILL;
	}
	return GO_ON;
}

/* Answers one request; returns GO_ON, an enum gdbstub_end, or FAILED. */
static int dispatch(struct gdbstub *s)
{
	struct req q = { s->pkt + 1, s->pkt + s->pktlen };
	int end = GO_ON;
	reply_reset(s);
	s->replied = false;
	if (s->lock && auth_request(s, &end)) {
		if (!s->replied && pkt_send(s) < 0)
			return GDBSTUB_END_EOF;
		return end;
	}
	switch (s->pktlen ? s->pkt[0] : 0) {
	case '?': stop_reply(s); break;
	case 'g': if (at_end(&q)) cmd_read_regs(s); else reply_error(s, 1); break;
	case 'G': cmd_write_regs(s, &q); break;
	case 'p': cmd_reg(s, &q, false); break;
	case 'P': cmd_reg(s, &q, true); break;
	case 'm': cmd_read_mem(s, &q); break;
	case 'M': cmd_write_mem(s, &q, false); break;
	case 'X': cmd_write_mem(s, &q, true); break;
	case 'Z': cmd_breakpoint(s, &q, true); break;
	case 'z': cmd_breakpoint(s, &q, false); break;
	case 'c': end = cmd_continue(s, &q, false); break;
	case 's': end = cmd_continue(s, &q, true); break;
	case 'C': end = resume(s, -1); break; /* "Csig[;addr]": the signal and address ignored */
	case 'S': end = resume(s, s->c_cpu >= 0 ? s->c_cpu : (int)s->g_cpu); break;
	case 'H': cmd_set_thread(s, &q); break;
	case 'T': cmd_thread_alive(s, &q); break;
	case 'q': case 'Q': q.p--; cmd_query(s, &q); break;
	case 'v': q.p--; end = cmd_v(s, &q); break;
	case 'D':
		reply_str(s, "OK");
		pkt_send(s);
		if (s->ops->resume)
			s->ops->resume(s->o, -1);
		return GDBSTUB_END_DETACH;
	case 'k': return GDBSTUB_END_KILL;
	}
	if (end != GO_ON)
		return end;
	if (!s->replied && pkt_send(s) < 0)
		return GDBSTUB_END_EOF;
	return s->last.exited ? GDBSTUB_END_EXITED : GO_ON;
}

static int serve(int fd, const struct gdbstub_ops *ops, void *opaque, const char *token, struct err *e)
{
	struct gdbstub *s = xcalloc(1, sizeof(*s));
	int end = GO_ON;
	s->fd = fd;
	s->ops = ops;
	s->o = opaque;
	s->e = e;
	s->c_cpu = -1;
	s->intr_fd = -1;
	s->last.signal = SIGTRAP_;
	if (!ops->nr_threads || !ops->get_regs || !ops->read_mem) {
		free(s);
		return err_set(e, "gdbstub: the target lacks nr_threads, get_regs or read_mem");
	}
	if (token)
		auth_begin(s, token);
	while (end == GO_ON) {
		long n = pkt_recv(s);
		if (n == PKT_EOF) {
			end = GDBSTUB_END_EOF;
		} else if (n == PKT_TOOLONG) {
			reply_error(s, 1);
			if (pkt_send(s) < 0)
				end = GDBSTUB_END_EOF;
		} else {
			end = dispatch(s);
		}
	}
	free(s);
	return end == FAILED ? -1 : end;
}

int gdbstub_serve(int fd, const struct gdbstub_ops *ops, void *opaque, struct err *e)
{
	return serve(fd, ops, opaque, NULL, e);
}

int gdbstub_serve_locked(int fd, const struct gdbstub_ops *ops, void *opaque, const char *token, struct err *e)
{
	if (!ops->attach || !token || strlen(token) < 16 || strlen(token) > 64)
		return err_set(e, "gdbstub: a locked session needs the target's attach and a token of 16 to 64 chars");
	return serve(fd, ops, opaque, token, e);
}

const char *gdbstub_end_name(int end)
{
	static const char *const names[] = { "eof", "detach", "kill", "exited" };
	return end >= 0 && end <= GDBSTUB_END_EXITED ? names[end] : "error";
}
