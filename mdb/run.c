/* run: mdb's run control and writes, for live targets (hvmdb -d, the q prompt):
 *   :c                 continue every CPU until a breakpoint, a watchpoint or Ctrl-C
 *   :s                 one instruction on the current CPU
 *   ADDR::bp           breakpoint (the debug registers: 4 breakpoints and watchpoints)
 *   ADDR::wp [-a] [N]  watchpoint on writes (-a: on any access) of N = 1, 2, 4, 8 bytes
 *   ::delete N | all   ::events (the list)
 *   ::set -w           allow writes; then ADDR/v|w|W|Z VALUE (1, 2, 4, 8 bytes) and
 *   VALUE>REG          register assignment, as in mdb */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mdb.h"

static int fail(FILE *out, const char *msg)
{
	fprintf(out, "mdb: %s\n", msg);
	return -1;
}

static void where(struct target *t, unsigned cpu, FILE *out)
{
	struct target_regs r;
	char sym[160], line[160];
	if (t->ops->regs(t, cpu, &r) < 0)
		return;
	if (!target_symbolize(t, r.rip, false, sym, sizeof(sym)))
		snprintf(sym, sizeof(sym), "0x%llx", (unsigned long long)r.rip);
	fprintf(out, "CPU %u: %016llx %s", cpu, (unsigned long long)r.rip, sym);
	if (target_addr_line(t, r.rip, line, sizeof(line)))
		fprintf(out, " (%s)", line);
	fputc('\n', out);
}

static int need_live(struct target *t, FILE *out)
{
	const char *lacks = target_lacks(t, TCAP_RUN);
	return lacks ? fail(out, lacks) : 0;
}

static int do_run(struct target *t, int step_cpu, FILE *out)
{
	struct target_stop s;
	struct err e;
	if (need_live(t, out) < 0)
		return -1;
	fflush(out);
	if (t->ops->run(t, step_cpu, &s, &e) < 0)
		return fail(out, e.msg);
	if (s.kind == TSTOP_EXITED) {
		fprintf(out, "the domain stopped running: %s\n", s.why[0] ? s.why : "it exited");
		return 0;
	}
	t->cpu = s.cpu;
	switch (s.kind) {
	case TSTOP_BREAK: {
		char sym[160];
		int n = -1;
		for (int i = 0; i < TARGET_MAX_BPS; i++)
			if (t->bps[i].used && t->bps[i].kind == TBP_EXEC && t->bps[i].addr == s.addr)
				n = i;
		if (!target_symbolize(t, s.addr, false, sym, sizeof(sym)))
			snprintf(sym, sizeof(sym), "0x%llx", (unsigned long long)s.addr);
		fprintf(out, "mdb: stop at %s (breakpoint %d)\n", sym, n);
		break;
	}
	case TSTOP_WATCH:
		fprintf(out, "mdb: stop on a watched access to 0x%llx\n", (unsigned long long)s.addr);
		break;
	case TSTOP_INTERRUPT:
		fprintf(out, "mdb: stopped (interrupted)\n");
		break;
	default:
		break;
	}
	where(t, t->cpu, out);
	return 0;
}

static int add_bp(struct target *t, enum target_bp_kind k, uint64_t addr, unsigned len, FILE *out)
{
	struct err e;
	char sym[160];
	int slot = -1;
	if (need_live(t, out) < 0)
		return -1;
	for (int i = 0; i < TARGET_MAX_BPS; i++)
		if (!t->bps[i].used) {
			slot = i;
			break;
		}
	if (slot < 0)
		return fail(out, "all 4 debug registers are in use (::events lists them, ::delete frees one)");
	const char *lacks = target_lacks(t, TCAP_BREAKPOINTS);
	if (lacks)
		return fail(out, lacks);
	if (t->ops->set_bp(t, k, addr, len, true, &e) < 0)
		return fail(out, e.msg);
	t->bps[slot] = (struct target_bp){ true, k, addr, len };
	if (!target_symbolize(t, addr, false, sym, sizeof(sym)))
		snprintf(sym, sizeof(sym), "0x%llx", (unsigned long long)addr);
	if (k == TBP_EXEC)
		fprintf(out, "breakpoint %d at %s\n", slot, sym);
	else
		fprintf(out, "watchpoint %d on %s of %u bytes at %s\n", slot, k == TBP_WRITE ? "writes" : "accesses", len, sym);
	return 0;
}

static int events(struct target *t, FILE *out)
{
	int n = 0;
	for (int i = 0; i < TARGET_MAX_BPS; i++) {
		const struct target_bp *b = &t->bps[i];
		char sym[160];
		if (!b->used)
			continue;
		if (!target_symbolize(t, b->addr, false, sym, sizeof(sym)))
			snprintf(sym, sizeof(sym), "0x%llx", (unsigned long long)b->addr);
		fprintf(out, "[%d] %s %016llx %s", i, b->kind == TBP_EXEC ? "bp   " : b->kind == TBP_WRITE ? "wp -w" : "wp -a",
			(unsigned long long)b->addr, sym);
		if (b->kind != TBP_EXEC)
			fprintf(out, " (%u bytes)", b->len);
		fputc('\n', out);
		n++;
	}
	if (!n)
		fprintf(out, "no breakpoints or watchpoints\n");
	return 0;
}

static int del(struct target *t, const char *arg, FILE *out)
{
	struct err e;
	bool all = arg && !strcmp(arg, "all");
	char *end;
	long n = arg ? strtol(arg, &end, 10) : -1;
	if (!all && (!arg || *end || n < 0 || n >= TARGET_MAX_BPS || !t->bps[n].used))
		return fail(out, "::delete N (from ::events) or ::delete all");
	for (int i = 0; i < TARGET_MAX_BPS; i++) {
		struct target_bp *b = &t->bps[i];
		if (!b->used || (!all && i != n))
			continue;
		if (t->ops->set_bp && t->ops->set_bp(t, b->kind, b->addr, b->len, false, &e) < 0)
			return fail(out, e.msg);
		b->used = false;
	}
	return 0;
}

/* The write policy, in one place: the target must support the write and writes must have
 * been allowed (::set -w or hvmdb -w). 0, or -1 after a message. */
static int may_write(struct target *t, enum target_cap c, FILE *out)
{
	const char *lacks = target_lacks(t, c);
	if (lacks)
		return fail(out, lacks);
	if (!t->writable)
		return fail(out, "the target is read-only: ::set -w (or -w) first");
	return 0;
}

static int write_mem(struct target *t, uint64_t addr, char fmt, const char *val, FILE *out)
{
	unsigned len = fmt == 'v' ? 1 : fmt == 'w' ? 2 : fmt == 'W' ? 4 : 8;
	uint64_t v;
	struct err e;
	uint8_t buf[8];
	if (may_write(t, TCAP_WRITE_MEM, out) < 0)
		return -1;
	if (mdb_parse_addr(t, val, &v, out) < 0)
		return -1;
	if (len < 8 && v >> (8 * len))
		return fail(out, "the value does not fit the format's size");
	memcpy(buf, &v, len); /* little-endian */
	if (t->ops->write_virt(t, t->cpu, addr, buf, len, &e) != len)
		return fail(out, e.msg);
	fprintf(out, "0x%llx: 0x%llx\n", (unsigned long long)addr, (unsigned long long)v);
	return 0;
}

int mdb_run_cmd(struct target *t, char *cmd, FILE *out)
{
	char *p;
	if (!strcmp(cmd, ":c"))
		return do_run(t, -1, out);
	if (!strcmp(cmd, ":s"))
		return do_run(t, (int)t->cpu, out);
	if (!strcmp(cmd, "::events"))
		return events(t, out);
	if (!strncmp(cmd, "::delete", 8) && (!cmd[8] || cmd[8] == ' ')) {
		const char *a = cmd + 8;
		while (*a == ' ')
			a++;
		return del(t, *a ? a : NULL, out);
	}
	if (!strncmp(cmd, "::set", 5) && (!cmd[5] || cmd[5] == ' ')) {
		const char *a = cmd + 5;
		while (*a == ' ')
			a++;
		if (!strcmp(a, "-w")) {
			const char *lacks = target_lacks(t, TCAP_WRITE_MEM);
			if (lacks)
				return fail(out, lacks);
			t->writable = true;
			fprintf(out, "writes allowed\n");
			return 0;
		}
		return fail(out, "::set -w (allow writes to memory and registers)");
	}
	/* ADDR::bp, ::bp ADDR, ADDR::wp [-a] [LEN], ::wp ADDR */
	p = strstr(cmd, "::bp");
	if (!p)
		p = strstr(cmd, "::wp");
	if (p && (!p[4] || p[4] == ' ')) {
		bool wp = p[2] == 'w', access = false;
		unsigned len = 8;
		uint64_t addr;
		char *args = p + 4, *tok, *save = NULL, *addr_s = NULL;
		*p = 0;
		if (*cmd)
			addr_s = cmd;
		for (tok = strtok_r(args, " ", &save); tok; tok = strtok_r(NULL, " ", &save)) {
			if (wp && !strcmp(tok, "-a"))
				access = true;
			else if (wp && !strcmp(tok, "-w"))
				access = false;
			else if (!addr_s)
				addr_s = tok;
			else if (wp)
				len = (unsigned)strtoul(tok, NULL, 0);
		}
		if (!addr_s)
			return fail(out, wp ? "ADDR::wp [-a] [LEN]" : "ADDR::bp");
		if (mdb_parse_addr(t, addr_s, &addr, out) < 0)
			return -1;
		return add_bp(t, wp ? (access ? TBP_ACCESS : TBP_WRITE) : TBP_EXEC, addr, wp ? len : 1, out);
	}
	/* ADDR/v VALUE (writes): v w W Z */
	p = strchr(cmd, '/');
	if (p && !strstr(cmd, "::") && strchr("vwWZ", p[1]) && p[1] && p[2] == ' ') {
		uint64_t addr;
		*p = 0;
		if (mdb_parse_addr(t, cmd, &addr, out) < 0)
			return -1;
		return write_mem(t, addr, p[1], p + 3, out);
	}
	/* VALUE>REG */
	p = strchr(cmd, '>');
	if (p && !strstr(cmd, "::") && isalpha((unsigned char)p[1])) {
		uint64_t v;
		struct err e;
		*p = 0;
		if (may_write(t, TCAP_WRITE_REGS, out) < 0)
			return -1;
		if (mdb_parse_addr(t, cmd, &v, out) < 0)
			return -1;
		if (t->ops->set_reg(t, t->cpu, p + 1, v, &e) < 0)
			return fail(out, e.msg);
		return 0;
	}
	return 1;
}
