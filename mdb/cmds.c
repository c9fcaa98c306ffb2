/* cmds: hvmdb's commands in mdb's spelling (with crash's aliases): ::status ::cpus
 * ::switch $r $c ::nm ::sym ::vtop ::dis ADDR/FMT ADDR\FMT, and for our guest kernel
 * ::ps and ::msgbuf. Addresses are hexadecimal (mdb's default radix), symbols, symbol
 * offsets, or <reg. */
#include <capstone/capstone.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/os/linux/linux.h"
#include "guest/guest.h"

const char *const mdb_command_names[] = { "::status", "::cpus", "::switch", "::regs", "$r", "::stack", "$c", "bt",
					  "::nm", "::sym", "::whatis", "::vtop", "::dis", "::ps", "ps", "::msgbuf", "log", "sys", "mod", "::modinfo", "::print", "::sizeof", "::offsetof", "::walk", "::threads",
					  "::help", ":c", ":s", "::bp", "::wp", "::delete", "::events", "::set", NULL };

static int fail(FILE *out, const char *fmt, const char *arg)
{
	fprintf(out, "mdb: ");
	fprintf(out, fmt, arg);
	fputc('\n', out);
	return -1;
}

static uint64_t reg_value(const struct target_regs *r, const char *name, bool *ok)
{
	const struct x86_reg_desc *d = x86_reg_by_name(name);
	*ok = d && !(d->flags & X86_REG_ZERO);
	return *ok ? x86_reg_get(&r->x86, d) : 0;
}

/* term: hex number, 0t decimal, symbol, <reg */
static int parse_term(struct target *t, const char **pp, uint64_t *v, FILE *out)
{
	const char *p = *pp;
	char tok[128];
	size_t n = 0;
	while (*p && (isalnum((unsigned char)*p) || *p == '_' || *p == '.' || *p == '<' || *p == '$') && n < sizeof(tok) - 1)
		tok[n++] = *p++;
	tok[n] = 0;
	*pp = p;
	if (!n)
		return fail(out, "expected an address%s", "");
	if (tok[0] == '<') {
		struct target_regs r;
		bool ok;
		if (t->ops->regs(t, t->cpu, &r) < 0)
			return fail(out, "no registers for the current CPU%s", "");
		*v = reg_value(&r, tok + 1, &ok);
		return ok ? 0 : fail(out, "unknown register %s", tok);
	}
	if (!strncmp(tok, "0t", 2) && tok[2]) {
		char *end;
		*v = strtoull(tok + 2, &end, 10);
		return *end ? fail(out, "bad decimal number %s", tok) : 0;
	}
	{
		char *end;
		const char *h = strncmp(tok, "0x", 2) ? tok : tok + 2;
		*v = strtoull(h, &end, 16);
		if (!*end && *h)
			return 0;
	}
	{
		const struct symbol *s = symtab_by_name(&t->syms, tok);
		if (!s)
			return fail(out, "unknown symbol or bad number: %s", tok);
		*v = s->addr;
		return 0;
	}
}

int mdb_parse_addr(struct target *t, const char *s, uint64_t *v, FILE *out)
{
	const char *p = s;
	uint64_t a, b;
	while (isspace((unsigned char)*p))
		p++;
	if (parse_term(t, &p, &a, out) < 0)
		return -1;
	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '+' && *p != '-')
			break;
		char op = *p++;
		while (isspace((unsigned char)*p))
			p++;
		if (parse_term(t, &p, &b, out) < 0)
			return -1;
		a = op == '+' ? a + b : a - b;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (*p)
		return fail(out, "trailing characters in address: %s", p);
	*v = a;
	return 0;
}

/* $r --json: {"rax": "0x...", ...}; the control registers only when the dump has them */
static void regs_json(const struct target_regs *r, FILE *out)
{
	const char *sep = "";
	fputc('{', out);
	for (size_t i = 0; i < x86_reg_count; i++) {
		const struct x86_reg_desc *d = &x86_reg_table[i];
		if (!(d->flags & X86_REG_SHOWN) || (!r->full && (d->flags & X86_REG_FULL)))
			continue;
		fprintf(out, "%s\"%s\": \"0x%llx\"", sep, d->name, (unsigned long long)x86_reg_get(&r->x86, d));
		sep = ", ";
	}
	fputs("}\n", out);
}

static void print_regs(struct target *t, FILE *out)
{
	struct target_regs r;
	char sym[128];
	if (t->ops->regs(t, t->cpu, &r) < 0) {
		fail(out, "no registers for CPU %s", "");
		return;
	}
	if (t->json) {
		regs_json(&r, out);
		return;
	}
	fprintf(out, "%%rax = 0x%016llx       %%r9  = 0x%016llx\n", (unsigned long long)r.rax, (unsigned long long)r.r9);
	fprintf(out, "%%rbx = 0x%016llx       %%r10 = 0x%016llx\n", (unsigned long long)r.rbx, (unsigned long long)r.r10);
	fprintf(out, "%%rcx = 0x%016llx       %%r11 = 0x%016llx\n", (unsigned long long)r.rcx, (unsigned long long)r.r11);
	fprintf(out, "%%rdx = 0x%016llx       %%r12 = 0x%016llx\n", (unsigned long long)r.rdx, (unsigned long long)r.r12);
	fprintf(out, "%%rsi = 0x%016llx       %%r13 = 0x%016llx\n", (unsigned long long)r.rsi, (unsigned long long)r.r13);
	fprintf(out, "%%rdi = 0x%016llx       %%r14 = 0x%016llx\n", (unsigned long long)r.rdi, (unsigned long long)r.r14);
	fprintf(out, "%%r8  = 0x%016llx       %%r15 = 0x%016llx\n\n", (unsigned long long)r.r8, (unsigned long long)r.r15);
	if (!target_symbolize(t, r.rip, false, sym, sizeof(sym)))
		snprintf(sym, sizeof(sym), "?");
	fprintf(out, "%%rip = 0x%016llx %s\n", (unsigned long long)r.rip, sym);
	fprintf(out, "%%rbp = 0x%016llx\n%%rsp = 0x%016llx\n", (unsigned long long)r.rbp, (unsigned long long)r.rsp);
	fprintf(out, "%%rflags = 0x%08llx\n", (unsigned long long)r.rflags);
	if (r.full)
		fprintf(out, "%%cr0 = 0x%llx  %%cr2 = 0x%llx  %%cr3 = 0x%llx  %%cr4 = 0x%llx  efer = 0x%llx\n",
			(unsigned long long)r.cr0, (unsigned long long)r.cr2, (unsigned long long)r.cr3,
			(unsigned long long)r.cr4, (unsigned long long)r.efer);
}

/* The registers a CPU's stack unwinds from: every general register. */
static struct cfi_regs cpu_frame(const struct target_regs *r)
{
	return (struct cfi_regs){ .r = { r->rax, r->rdx, r->rcx, r->rbx, r->rsi, r->rdi, r->rbp, r->rsp, r->r8, r->r9,
					 r->r10, r->r11, r->r12, r->r13, r->r14, r->r15, r->rip },
				  .known = (1u << CFI_NREGS) - 1 };
}

static int cmd_stack(struct target *t, FILE *out)
{
	struct target_regs r;
	struct cfi_regs f;
	if (t->ops->regs(t, t->cpu, &r) < 0)
		return fail(out, "no registers for the current CPU%s", "");
	f = cpu_frame(&r);
	guest_stack_print(t, t->cpu, &f, true, out);
	return 0;
}

static int cmd_cpus(struct target *t, FILE *out)
{
	if (t->json) {
		fputs("[", out);
		for (unsigned i = 0; i < t->ops->nr_cpus(t); i++) {
			struct target_regs r;
			char sym[128] = "";
			if (t->ops->regs(t, i, &r) < 0)
				continue;
			target_symbolize(t, r.rip, false, sym, sizeof(sym));
			fprintf(out, "%s{\"cpu\": %u, \"online\": %s, \"rip\": \"0x%llx\", \"rsp\": \"0x%llx\", \"symbol\": ",
				i ? ", " : "", i, r.online ? "true" : "false", (unsigned long long)r.rip,
				(unsigned long long)r.rsp);
			json_write_str(out, sym);
			fputs("}", out);
		}
		fputs("]\n", out);
		return 0;
	}
	fprintf(out, " CPU             RIP              RSP SYMBOL\n");
	for (unsigned i = 0; i < t->ops->nr_cpus(t); i++) {
		struct target_regs r;
		char sym[128] = "?";
		if (t->ops->regs(t, i, &r) < 0)
			continue;
		target_symbolize(t, r.rip, false, sym, sizeof(sym));
		fprintf(out, "%c%3u %016llx %016llx %s%s\n", i == t->cpu ? '*' : ' ', i, (unsigned long long)r.rip,
			(unsigned long long)r.rsp, r.online ? sym : "(offline)", "");
	}
	return 0;
}

static int cmd_dis(struct target *t, uint64_t addr, unsigned count, FILE *out)
{
	csh h;
	cs_insn *insn;
	uint8_t code[1024];
	size_t n, got;
	const struct symbol *s = symtab_lookup_code(&t->syms, addr);
	if (!count)
		count = s && s->addr == addr && s->size ? 1000 : 16;
	n = s && s->addr == addr && s->size && s->size < sizeof(code) ? s->size : sizeof(code);
	got = target_read_virt(t, t->cpu, addr, code, n);
	if (!got)
		return fail(out, "cannot read memory at that address%s", "");
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return fail(out, "capstone is not available%s", "");
	n = cs_disasm(h, code, got, addr, count, &insn);
	for (size_t i = 0; i < n; i++) {
		char sym[128], target[160] = "";
		if (!target_symbolize(t, insn[i].address, false, sym, sizeof(sym)))
			snprintf(sym, sizeof(sym), "0x%llx", (unsigned long long)insn[i].address);
		if (!strncmp(insn[i].mnemonic, "call", 4) || insn[i].mnemonic[0] == 'j') {
			uint64_t dest = strtoull(insn[i].op_str, NULL, 0);
			char ds[128];
			if (dest && target_symbolize(t, dest, false, ds, sizeof(ds)))
				snprintf(target, sizeof(target), " <%s>", ds);
		}
		fprintf(out, "%s: %-7s %s%s\n", sym, insn[i].mnemonic, insn[i].op_str, target);
	}
	if (n)
		cs_free(insn, n);
	cs_close(&h);
	return n ? 0 : fail(out, "no instruction decodes there%s", "");
}

/* ADDR/FMT (virtual) and ADDR\FMT (physical): [count]{B,X,J,K,c,s,i} */
static int cmd_format(struct target *t, uint64_t addr, const char *fmt, bool phys, FILE *out)
{
	unsigned long count = 1;
	char f;
	if (isdigit((unsigned char)*fmt))
		count = strtoul(fmt, (char **)&fmt, 10);
	f = *fmt;
	if (!f || fmt[1] || count == 0 || count > 65536)
		return fail(out, "format: [count]B|X|J|K|c|s|i, not '%s'", fmt);
	if (f == 'i') {
		if (phys)
			return fail(out, "'i' needs a virtual address%s", "");
		return cmd_dis(t, addr, (unsigned)count, out);
	}
	if (f == 's') {
		char s[1024];
		size_t n = phys ? t->ops->read_phys(t, addr, s, sizeof(s) - 1) : target_read_virt(t, t->cpu, addr, s, sizeof(s) - 1);
		if (!n)
			return fail(out, "cannot read memory at that address%s", "");
		s[n] = 0;
		fprintf(out, "0x%llx:   %s\n", (unsigned long long)addr, s);
		return 0;
	}
	{
		unsigned w = f == 'B' || f == 'c' ? 1 : f == 'X' ? 4 : (f == 'J' || f == 'K') ? 8 : 0;
		if (!w)
			return fail(out, "unknown format '%s'", fmt);
		for (unsigned long i = 0; i < count; i++) {
			uint64_t v = 0, a = addr + i * w;
			size_t n = phys ? t->ops->read_phys(t, a, &v, w) : target_read_virt(t, t->cpu, a, &v, w);
			if (n != w)
				return fail(out, "cannot read memory at that address%s", "");
			if (i % (16 / w ? 16 / w : 1) == 0)
				fprintf(out, "%s0x%llx:", i ? "\n" : "", (unsigned long long)a);
			if (f == 'c')
				fprintf(out, " %c", isprint((int)v) ? (int)v : '.');
			else
				fprintf(out, " %0*llx", (int)w * 2, (unsigned long long)v);
		}
		fputc('\n', out);
	}
	return 0;
}

/* ---- our guest kernel (guest/guest.h gives the layouts until DWARF types arrive) */

static int guest_sym(struct target *t, const char *name, uint64_t *a, FILE *out)
{
	const struct symbol *s = symtab_by_name(&t->syms, name);
	if (!s)
		return fail(out, "no symbol %s: is the symbol file our guest kernel (hvmdb -s build/guest.elf)?", name);
	*a = s->addr;
	return 0;
}

/* A thread that is not running: context_switch left r15 r14 r13 r12 rbx rbp and the
 * return address on its stack, ctx.rsp pointing at r15 (guest/switch.S). */
static void thread_stack(struct target *t, const struct thread *th, FILE *out)
{
	struct cfi_regs f;
	uint64_t w[7];
	for (unsigned c = 0; th->state == THREAD_RUNNING && c < t->ops->nr_cpus(t); c++) {
		struct target_regs r;
		if (t->ops->regs(t, c, &r) == 0 && r.online && (int)c == th->cpu) {
			struct cfi_regs f = cpu_frame(&r);
			guest_stack_print(t, c, &f, true, out);
			return;
		}
	}
	if (target_read_virt(t, t->cpu, th->ctx.rsp, w, sizeof(w)) != sizeof(w)) {
		fprintf(out, "    (saved context unreadable)\n");
		return;
	}
	f = (struct cfi_regs){ .known = 1u << CFI_RBX | 1u << CFI_RBP | 1u << CFI_RSP | 1u << CFI_RIP | 0xfu << 12 };
	f.r[15] = w[0];
	f.r[14] = w[1];
	f.r[13] = w[2];
	f.r[12] = w[3];
	f.r[CFI_RBX] = w[4];
	f.r[CFI_RBP] = w[5];
	f.r[CFI_RIP] = w[6];
	f.r[CFI_RSP] = th->ctx.rsp + 56;
	guest_stack_print(t, t->cpu, &f, false, out);
}

static int cmd_ps(struct target *t, bool verbose, FILE *out)
{
	static const char *const st[] = { "RUN", "READY", "SLEEP", "BLOCK", "DEAD" };
	uint64_t head, p;
	int n = 0;
	if (guest_sym(t, "thread_list", &head, out) < 0)
		return -1;
	if (target_read_virt(t, t->cpu, head, &p, 8) != 8)
		return fail(out, "cannot read thread_list%s", "");
	if (t->json)
		fputs("[", out);
	else
		fprintf(out, "%16s %5s %-5s %3s %s\n", "THREAD", "TID", "STATE", "CPU", "NAME");
	while (p && n++ < 10000) {
		struct thread th;
		if (target_read_virt(t, t->cpu, p, &th, sizeof(th)) != sizeof(th))
			return fail(out, "cannot read a thread (the list is corrupt?)%s", "");
		th.name[sizeof(th.name) - 1] = 0;
		if (t->json) {
			fprintf(out, "%s{\"thread\": \"0x%llx\", \"tid\": %d, \"state\": \"%s\", \"cpu\": %d, \"name\": ",
				n > 1 ? ", " : "", (unsigned long long)p, th.tid, (unsigned)th.state < 5 ? st[th.state] : "?",
				th.cpu);
			json_write_str(out, th.name);
			fputs("}", out);
			p = (uint64_t)(uintptr_t)th.next;
			continue;
		}
		fprintf(out, "%016llx %5d %-5s %3d %s\n", (unsigned long long)p, th.tid,
			(unsigned)th.state < 5 ? st[th.state] : "?", th.cpu, th.name);
		if (verbose)
			thread_stack(t, &th, out);
		p = (uint64_t)(uintptr_t)th.next;
	}
	if (t->json)
		fputs("]\n", out);
	return 0;
}

static int cmd_msgbuf(struct target *t, FILE *out)
{
	uint64_t a, head, first;
	if (guest_sym(t, "log_ring", &a, out) < 0)
		return -1;
	if (target_read_virt(t, t->cpu, a, &head, 8) != 8)
		return fail(out, "cannot read log_ring%s", "");
	first = head > LOG_RECORDS ? head - LOG_RECORDS : 0;
	if (t->json)
		fputc('[', out);
	for (uint64_t i = first; i < head; i++) {
		struct log_record r;
		uint64_t ra = a + offsetof(struct logbuf, rec) + (i % LOG_RECORDS) * sizeof(r);
		if (target_read_virt(t, t->cpu, ra, &r, sizeof(r)) != sizeof(r))
			return fail(out, "cannot read a log record%s", "");
		r.text[LOG_TEXT - 1] = 0;
		if (t->json) {
			fprintf(out, "%s{\"timestamp\": %llu.%02llu, \"ticks\": %llu, \"text\": ", i != first ? ", " : "",
				(unsigned long long)(r.ticks / HZ), (unsigned long long)(r.ticks % HZ), (unsigned long long)r.ticks);
			json_write_str(out, r.text);
			fputc('}', out);
			continue;
		}
		fprintf(out, "[%5llu.%02llu] %s\n", (unsigned long long)(r.ticks / HZ), (unsigned long long)(r.ticks % HZ), r.text);
	}
	if (t->json)
		fputs("]\n", out);
	return 0;
}

static int cmd_nm(struct target *t, const char *pat, FILE *out)
{
	size_t shown = 0;
	if (t->json)
		fputc('[', out);
	else
		fprintf(out, "%-18s %-8s %s\n", "Value", "Size", "Name");
	for (size_t i = 0; i < t->syms.n; i++) {
		const struct symbol *s = &t->syms.syms[i];
		if (pat && *pat && !strstr(s->name, pat))
			continue;
		if (!t->json) {
			fprintf(out, "0x%016llx 0x%-6llx %s\n", (unsigned long long)s->addr, (unsigned long long)s->size, s->name);
			continue;
		}
		fprintf(out, "%s{\"name\": ", shown++ ? ", " : "");
		json_write_str(out, s->name);
		fprintf(out, ", \"value\": \"0x%llx\", \"size\": %llu, \"type\": \"%s\"}", (unsigned long long)s->addr,
			(unsigned long long)s->size, s->code ? "code" : "data");
	}
	if (t->json)
		fputs("]\n", out);
	return 0;
}

/* Strips a trailing " --json" (CMD --json: this one command as JSON) from cmd; true when it had one. */
static bool json_suffix(char *cmd)
{
	size_t n = strlen(cmd);
	if (n < 7 || strcmp(cmd + n - 6, "--json") || !isspace((unsigned char)cmd[n - 7]))
		return false;
	cmd[n - 7] = 0;
	for (char *e = cmd + n - 7; e > cmd && isspace((unsigned char)e[-1]);)
		*--e = 0;
	return true;
}

static int run_one(struct target *t, char *cmd, FILE *out)
{
	char *dcmd, *arg = NULL, *slash;
	uint64_t addr = 0;
	bool have_addr = false;

	while (isspace((unsigned char)*cmd))
		cmd++;
	for (char *e = cmd + strlen(cmd); e > cmd && isspace((unsigned char)e[-1]);)
		*--e = 0;
	if (!*cmd)
		return 0;
	if (json_suffix(cmd) && !t->json) { /* CMD --json: this command's listing as JSON */
		int r;
		t->json = true;
		r = run_one(t, cmd, out);
		t->json = false;
		return r;
	}
	if (!strcmp(cmd, "$r"))
		return print_regs(t, out), 0;
	if (!strcmp(cmd, "$c") || !strcmp(cmd, "bt") || !strncmp(cmd, "bt ", 3)) {
		if (linux_is(t))
			return linux_cmd_bt(t, cmd[0] == 'b' && cmd[2] ? cmd + 3 : NULL, out);
		return cmd[2] ? fail(out, "bt %s: the options are for Linux kernels", cmd + 3) : cmd_stack(t, out);
	}
	if (!strcmp(cmd, "ps"))
		return linux_is(t) ? linux_cmd_ps(t, NULL, out) : cmd_ps(t, false, out);
	if (!strcmp(cmd, "log"))
		return linux_is(t) ? linux_cmd_log(t, out) : cmd_msgbuf(t, out);
	/* crash's spellings of the memory commands: rd ADDR [COUNT] (64-bit words), dis ADDR
	 * [COUNT], sym ADDR|NAME */
	if (!strncmp(cmd, "rd ", 3) || !strncmp(cmd, "dis ", 4) || !strncmp(cmd, "sym ", 4)) {
		char a[128] = "", n[32] = "", line[200];
		bool rd = cmd[0] == 'r', dis = cmd[0] == 'd';
		if (sscanf(cmd + (rd ? 3 : 4), "%127s %31s", a, n) < 1)
			return fail(out, "%s ADDR [COUNT]", rd ? "rd" : dis ? "dis" : "sym");
		if (rd)
			snprintf(line, sizeof(line), "%s/%sJ", a, n);
		else if (dis)
			snprintf(line, sizeof(line), "%s::dis %s", a, n[0] ? n : "16");
		else
			snprintf(line, sizeof(line), "%s::sym", a);
		return run_one(t, line, out);
	}
	/* crash's struct NAME[.MEMBER[,MEMBER...]] [ADDR] (union likewise): ADDR::print of the
	 * type or its members; without ADDR, ::sizeof, or each member's ::offsetof */
	if (!strncmp(cmd, "struct ", 7) || !strncmp(cmd, "union ", 6)) {
		const char *kind = cmd[0] == 'u' ? "union" : "struct";
		char spec[160] = "", a[128] = "", line[512], *members = NULL;
		int r = 0;
		if (sscanf(cmd + strlen(kind) + 1, "%159s %127s", spec, a) < 1)
			return fail(out, "%s NAME[.MEMBER,...] [ADDR]", kind);
		if ((members = strchr(spec, '.')) != NULL) {
			*members++ = 0;
			for (char *c = members; *c; c++)
				if (*c == ',')
					*c = ' ';
		}
		if (a[0]) {
			snprintf(line, sizeof(line), "%s::print %s %s %s", a, kind, spec, members ? members : "");
			return run_one(t, line, out);
		}
		if (!members) {
			snprintf(line, sizeof(line), "::sizeof %s %s", kind, spec);
			return run_one(t, line, out);
		}
		for (char *save = NULL, *m = strtok_r(members, " ", &save); m; m = strtok_r(NULL, " ", &save)) {
			snprintf(line, sizeof(line), "::offsetof %s %s %s", kind, spec, m);
			if (run_one(t, line, out) < 0)
				r = -1;
		}
		return r;
	}
	if (!strcmp(cmd, "sys") || !strcmp(cmd, "mod"))
		return !linux_is(t) ? fail(out, "%s: for Linux kernels (hvmdb -s vmlinux)", cmd)
		       : cmd[0] == 's' ? linux_cmd_sys(t, out) : linux_cmd_mod(t, out);
	{
		int r = mdb_run_cmd(t, cmd, out);
		if (r != 1)
			return r;
	}
	/* ADDR/FMT and ADDR\FMT */
	slash = strpbrk(cmd, "/\\");
	if (slash && !strstr(cmd, "::")) {
		bool phys = *slash == '\\';
		*slash = 0;
		if (mdb_parse_addr(t, cmd, &addr, out) < 0)
			return -1;
		return cmd_format(t, addr, slash + 1, phys, out);
	}
	dcmd = strstr(cmd, "::");
	if (!dcmd)
		return fail(out, "unknown command: %s (::help lists them)", cmd);
	if (dcmd != cmd) {
		*dcmd = 0;
		if (mdb_parse_addr(t, cmd, &addr, out) < 0)
			return -1;
		have_addr = true;
	}
	dcmd += 2;
	arg = strchr(dcmd, ' ');
	if (arg) {
		*arg++ = 0;
		while (isspace((unsigned char)*arg))
			arg++;
	}
	if (!have_addr && arg && *arg && (!strcmp(dcmd, "sym") || !strcmp(dcmd, "whatis") || !strcmp(dcmd, "vtop") ||
					  !strcmp(dcmd, "dis") || !strcmp(dcmd, "switch"))) {
		char *rest = strchr(arg, ' ');
		if (rest)
			*rest++ = 0;
		if (mdb_parse_addr(t, arg, &addr, out) < 0)
			return -1;
		have_addr = true;
		arg = rest;
	}
	if (!strcmp(dcmd, "status"))
		return target_cmd_status(t, out);
	if (!strcmp(dcmd, "cpus"))
		return cmd_cpus(t, out);
	if (!strcmp(dcmd, "regs"))
		return print_regs(t, out), 0;
	if (!strcmp(dcmd, "stack"))
		return linux_is(t) ? linux_cmd_bt(t, arg, out) : cmd_stack(t, out);
	if ((!strcmp(dcmd, "ps") || !strcmp(dcmd, "threads")) && linux_is(t))
		return linux_cmd_ps(t, arg, out);
	if (!strcmp(dcmd, "ps") || !strcmp(dcmd, "threads"))
		return cmd_ps(t, arg && !strcmp(arg, "-v"), out);
	if (!strcmp(dcmd, "msgbuf"))
		return linux_is(t) ? linux_cmd_log(t, out) : cmd_msgbuf(t, out);
	if (!strcmp(dcmd, "modinfo") && linux_is(t))
		return linux_cmd_mod(t, out);
	if (!strcmp(dcmd, "nm"))
		return cmd_nm(t, arg, out);
	if (!strcmp(dcmd, "switch")) {
		if (!have_addr || addr >= t->ops->nr_cpus(t))
			return fail(out, "::switch CPU: there are %s", "CPUs 0 to nr-1");
		t->cpu = (unsigned)addr;
		fprintf(out, "current CPU: %u\n", t->cpu);
		return 0;
	}
	if (!strcmp(dcmd, "sym") || !strcmp(dcmd, "whatis")) {
		const struct symbol *s;
		const char *mod = NULL;
		if (!have_addr)
			return fail(out, "::%s needs an address", dcmd);
		s = symtab_lookup(&t->syms, addr);
		if (!s && linux_is(t)) /* a Linux module's: "name+0x1c [module]" as crash's sym */
			s = linux_module_sym(t, addr, false, &mod);
		if (!s)
			return fprintf(out, "0x%llx: no symbol\n", (unsigned long long)addr), 0;
		fprintf(out, "0x%llx is %s+0x%llx%s%s%s (%s, size 0x%llx)\n", (unsigned long long)addr, s->name,
			(unsigned long long)(addr - s->addr), mod ? " [" : "", mod ? mod : "", mod ? "]" : "",
			s->code ? "code" : "data", (unsigned long long)s->size);
		return 0;
	}
	if (!strcmp(dcmd, "vtop")) {
		uint64_t pa, psz;
		if (!have_addr)
			return fail(out, "::vtop needs an address%s", "");
		if (target_vtop(t, t->cpu, addr, &pa, &psz) < 0)
			return fail(out, "that address is not mapped by the current CPU's page tables%s", "");
		fprintf(out, "virtual 0x%llx mapped to physical 0x%llx (%llu KiB page)\n", (unsigned long long)addr,
			(unsigned long long)pa, (unsigned long long)(psz >> 10));
		return 0;
	}
	if (!strcmp(dcmd, "dis")) {
		if (!have_addr) {
			struct target_regs r;
			if (t->ops->regs(t, t->cpu, &r) < 0)
				return fail(out, "no registers%s", "");
			addr = r.rip;
		}
		return cmd_dis(t, addr, arg ? (unsigned)strtoul(arg, NULL, 0) : 0, out);
	}
	if (!strcmp(dcmd, "print") || !strcmp(dcmd, "offsetof")) {
		/* ADDR::print TYPE, or ::print TYPE ADDR; ::offsetof TYPE MEMBER */
		char *last;
		if (!arg || !*arg)
			return fail(out, "::%s needs a type", dcmd);
		last = strrchr(arg, ' ');
		if (!strcmp(dcmd, "offsetof")) {
			if (!last)
				return fail(out, "::offsetof TYPE MEMBER%s", "");
			*last = 0;
			return dwarf_cmd_offsetof(t, arg, last + 1, out);
		}
		if (!have_addr) {
			if (!last)
				return fail(out, "::print TYPE ADDR (or ADDR::print TYPE)%s", "");
			*last = 0;
			if (mdb_parse_addr(t, last + 1, &addr, out) < 0)
				return -1;
		}
		return dwarf_cmd_print(t, arg, addr, out);
	}
	if (!strcmp(dcmd, "sizeof")) {
		if (!arg || !*arg)
			return fail(out, "::sizeof needs a type%s", "");
		return dwarf_cmd_sizeof(t, arg, out);
	}
	if (!strcmp(dcmd, "help")) {
		fputs("::status ::cpus ::switch N ::regs ($r) ::stack ($c, bt) ::nm [PAT] ADDR::sym ADDR::vtop\n"
		      "ADDR::dis [N] ADDR/[N]{B,X,J,K,c,s,i} ADDR\\[N]{B,X,J,K,c,s} ::ps (ps) ::msgbuf (log)\n"
		      "  (our guest's, or a Linux kernel's with its vmlinux: hvmdb [--kaslr OFFSET] -s vmlinux)\n"
		      "Linux: bt [-a] [-l] [PID | TASK] (ORC stacks; -a every CPU's, -l file:line)\n"
		      "  sys (release, CPUs, uptime, memory, tasks, panic; also in ::status)  mod / ::modinfo (modules)\n"
		      "ADDR::print TYPE [MEMBER[.MEMBER]...]  ::sizeof TYPE  ::offsetof TYPE MEMBER   (DWARF types)\n"
		      "crash's spellings: rd ADDR [N]  dis ADDR [N]  sym ADDR|NAME  struct|union NAME[.M,M...] [ADDR]\n"
		      "::ps -v / ::threads -v (with stacks)  ::walk thread [| ADDR-taking command]\n"
		      "ADDR: hex number, 0tDECIMAL, symbol, <reg, and + - between them\n"
		      "CMD --json (or hvmdb --json): ::status ::cpus $r ::nm ::walk ::ps ::msgbuf/log,\n"
		      "  Linux bt sys mod, as one JSON document each (docs/hvmdb.md)\n"
		      "TAB completes commands, symbols, type names (::print ::sizeof ::offsetof struct ...)\n"
		      "  and ::offsetof TYPE's members\n"
		      "live (hvmdb -d, the q prompt): :c  :s  ADDR::bp  ADDR::wp [-a] [LEN]  ::delete N|all  ::events\n"
		      "  ::set -w (allow writes)  ADDR/[vwWZ] VALUE (1 2 4 8 bytes)  VALUE>REG\n",
		      out);
		return 0;
	}
	return fail(out, "unknown dcmd ::%s (::help lists them)", dcmd);
}

/* ::walk thread: the address of every thread of our guest */
static int walk_threads(struct target *t, uint64_t *v, size_t max, size_t *n, FILE *out)
{
	uint64_t head, p;
	*n = 0;
	if (guest_sym(t, "thread_list", &head, out) < 0 || target_read_virt(t, t->cpu, head, &p, 8) != 8)
		return -1;
	while (p && *n < max) {
		struct thread th;
		v[(*n)++] = p;
		if (target_read_virt(t, t->cpu, p, &th, sizeof(th)) != sizeof(th))
			return fail(out, "cannot read a thread (the list is corrupt?)%s", "");
		p = (uint64_t)(uintptr_t)th.next;
	}
	return 0;
}

/* "CMD | CMD": the walk's addresses become the address of each run of the next command */
static int run_pipeline(struct target *t, char *cmd, FILE *out)
{
	char *bar = strchr(cmd, '|'), *first = cmd, *rest;
	uint64_t addrs[4096];
	size_t n = 0;
	int ret = 0;
	if (!bar)
		return run_one(t, cmd, out);
	*bar = 0;
	rest = bar + 1;
	while (isspace((unsigned char)*first))
		first++;
	if (!strncmp(first, "::walk", 6)) {
		char what[32] = "";
		sscanf(first + 6, "%31s", what);
		if (strcmp(what, "thread"))
			return fail(out, "::walk: walkers: thread (not '%s')", what);
		if (walk_threads(t, addrs, 4096, &n, out) < 0)
			return -1;
	} else {
		return fail(out, "a pipeline starts with ::walk%s", "");
	}
	while (isspace((unsigned char)*rest))
		rest++;
	for (size_t i = 0; i < n; i++) {
		char c[512];
		snprintf(c, sizeof(c), "0x%llx%s", (unsigned long long)addrs[i], rest);
		if (run_pipeline(t, c, out) < 0)
			ret = -1;
	}
	return ret;
}

int mdb_exec(struct target *t, const char *line, FILE *out)
{
	char *copy = xstrdup(line), *save = NULL;
	int ret = 0;
	for (char *c = strtok_r(copy, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
		char *w = c;
		while (isspace((unsigned char)*w))
			w++;
		if (!strncmp(w, "::walk", 6) && !strchr(w, '|')) {
			uint64_t addrs[4096];
			size_t n;
			char what[32] = "";
			bool json = t->json || json_suffix(w);
			sscanf(w + 6, "%31s", what);
			if (strcmp(what, "thread") || walk_threads(t, addrs, 4096, &n, out) < 0) {
				if (strcmp(what, "thread"))
					fail(out, "::walk: walkers: thread (not '%s')", what);
				ret = -1;
				continue;
			}
			if (json)
				fputc('[', out);
			for (size_t i = 0; i < n; i++)
				fprintf(out, json ? "%s\"0x%llx\"" : "%s%llx\n", json && i ? ", " : "", (unsigned long long)addrs[i]);
			if (json)
				fputs("]\n", out);
			continue;
		}
		if (run_pipeline(t, c, out) < 0)
			ret = -1;
	}
	free(copy);
	return ret;
}
