/* cmds: the engine's commands in mdb's spelling (with crash's aliases), as the rows of
 * mdb_engine_dcmds[] at the end: ::status ::cpus ::switch $r $c ::nm ::sym ::vtop ::dis
 * ADDR/FMT ADDR\FMT ::print ..., and the dispatch of a command line to the rows (the
 * active OS module's first: dcmd.c). Addresses are hexadecimal (mdb's default radix),
 * symbols, symbol offsets, or <reg. */
#include <capstone/capstone.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"

const char *const mdb_command_names[] = { "::status", "::cpus", "::switch", "::regs", "$r", "::stack", "$c", "bt",
					  "::nm", "::sym", "::whatis", "::vtop", "::dis", "::ps", "ps", "::msgbuf", "log", "sys", "mod", "::modinfo", "::print", "::sizeof", "::offsetof", "::walk", "::threads",
					  "::help", ":c", ":s", "::bp", "::wp", "::delete", "::events", "::set", "::verify", NULL };

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

/* term: hex number, 0t decimal, symbol, <reg; *TERM: the 64-bit word at TERM (mdb's *sym) */
static int parse_term(struct target *t, const char **pp, uint64_t *v, FILE *out)
{
	const char *p = *pp;
	char tok[128];
	size_t n = 0;
	if (*p == '*') {
		uint64_t a, w = 0;
		*pp = p + 1;
		if (parse_term(t, pp, &a, out) < 0)
			return -1;
		if (target_read_virt(t, t->cpu, a, &w, sizeof(w)) != sizeof(w))
			return mdb_fail(out, "*: cannot read memory at 0x%llx", (unsigned long long)a);
		*v = w;
		return 0;
	}
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

/* ADDR/FMT (virtual) and ADDR\FMT (physical): [count]{B,X,J,K,c,s,i}, and mdb's decimal
 * d/u (2 bytes), D/U (4), E (8): signed, unsigned */
static int cmd_format(struct target *t, uint64_t addr, const char *fmt, bool phys, FILE *out)
{
	unsigned long count = 1;
	char f;
	if (isdigit((unsigned char)*fmt))
		count = strtoul(fmt, (char **)&fmt, 10);
	f = *fmt;
	if (!f || fmt[1] || count == 0 || count > 65536)
		return fail(out, "format: [count]B|X|J|K|c|s|i|d|u|D|U|E, not '%s'", fmt);
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
		unsigned w = f == 'B' || f == 'c' ? 1 : f == 'd' || f == 'u' ? 2 : f == 'X' || f == 'D' || f == 'U' ? 4
			   : (f == 'J' || f == 'K' || f == 'E') ? 8 : 0;
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
			else if (f == 'd' || f == 'D' || f == 'E')
				fprintf(out, " %lld", (long long)(f == 'd' ? (int16_t)v : f == 'D' ? (int32_t)v : (int64_t)v));
			else if (f == 'u' || f == 'U')
				fprintf(out, " %llu", (unsigned long long)v);
			else
				fprintf(out, " %0*llx", (int)w * 2, (unsigned long long)v);
		}
		fputc('\n', out);
	}
	return 0;
}

/* EXPR=FMT: mdb's formatting of a value: X/x/J/K hex, D/d/E signed decimal, U/u unsigned,
 * O/o octal, c a character (0t10=X prints a) */
static int cmd_value(uint64_t v, const char *fmt, FILE *out)
{
	char f = fmt[0];
	if (!f || fmt[1] || !strchr("XxJKDdEUuOoc", f))
		return fail(out, "EXPR=FMT: FMT is X, D, U, O or c (and x, J, K, d, E, u, o), not '%s'", fmt);
	if (f == 'X' || f == 'x' || f == 'J' || f == 'K')
		fprintf(out, "%llx\n", (unsigned long long)(f == 'X' ? (uint32_t)v : f == 'x' ? (uint16_t)v : v));
	else if (f == 'D' || f == 'd' || f == 'E')
		fprintf(out, "%lld\n", (long long)(f == 'D' ? (int32_t)v : f == 'd' ? (int16_t)v : (int64_t)v));
	else if (f == 'U' || f == 'u')
		fprintf(out, "%llu\n", (unsigned long long)(f == 'U' ? (uint32_t)v : (uint16_t)v));
	else if (f == 'O' || f == 'o')
		fprintf(out, "%llo\n", (unsigned long long)v);
	else
		fprintf(out, "%c\n", isprint((int)(v & 0xff)) ? (int)(v & 0xff) : '.');
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


static int run_one(struct target *t, char *cmd, FILE *out);

/* ---- the rows' functions */

static int row_regs(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	print_regs(t, out);
	return 0;
}

/* $c, bt, ::stack: the OS module's unwinder */
static int row_stack(struct target *t, struct mdb_args *a, FILE *out)
{
	if (!t->os || !t->os->stack)
		return fail(out, "no OS module knows this kernel's stacks (is the symbol file its kernel?)%s", "");
	return t->os->stack(t, a->arg && *a->arg ? a->arg : NULL, out);
}

static int row_status(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	return target_cmd_status(t, out);
}

static int row_verify(struct target *t, struct mdb_args *a, FILE *out)
{
	struct err e;
	int bad;
	(void)a;
	if (!t->ops->verify)
		return fail(out, "::verify: %s", "a live domain has no integrity note: only dumps do");
	bad = t->ops->verify(t, out, &e);
	if (bad < 0)
		return fail(out, "::verify: %s", e.msg);
	if (bad) {
		fprintf(out, "mdb: ::verify: %d RAM range%s from the integrity note: the dump is damaged\n", bad,
			bad == 1 ? " differs" : "s differ");
		return -1;
	}
	fprintf(out, "every RAM range matches the integrity note\n");
	return 0;
}

static int row_cpus(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	return cmd_cpus(t, out);
}

static int row_nm(struct target *t, struct mdb_args *a, FILE *out)
{
	return cmd_nm(t, a->arg, out);
}

static int row_switch(struct target *t, struct mdb_args *a, FILE *out)
{
	if (!a->have_addr || a->addr >= t->ops->nr_cpus(t))
		return fail(out, "::switch CPU: there are %s", "CPUs 0 to nr-1");
	t->cpu = (unsigned)a->addr;
	fprintf(out, "current CPU: %u\n", t->cpu);
	return 0;
}

static int row_sym(struct target *t, struct mdb_args *a, FILE *out)
{
	const struct symbol *s;
	const char *mod = NULL;
	bool past_end;
	if (!a->have_addr)
		return fail(out, "%s needs an address", strstr(a->line, "::whatis") ? "::whatis" : "::sym");
	/* the one lookup $c uses: a return address one past a function's end is func+size */
	s = target_symbol(t, a->addr, false, false, &mod, &past_end);
	if (!s)
		return fprintf(out, "0x%llx: no symbol\n", (unsigned long long)a->addr), 0;
	fprintf(out, "0x%llx is %s+0x%llx%s%s%s (%s, size 0x%llx%s)\n", (unsigned long long)a->addr, s->name,
		(unsigned long long)(a->addr - s->addr), mod ? " [" : "", mod ? mod : "", mod ? "]" : "",
		s->code ? "code" : "data", (unsigned long long)s->size,
		past_end ? "; one past its end: the return address of a call that ends it" : "");
	return 0;
}

static int row_vtop(struct target *t, struct mdb_args *a, FILE *out)
{
	uint64_t pa, psz;
	if (!a->have_addr)
		return fail(out, "::vtop needs an address%s", "");
	if (target_vtop(t, t->cpu, a->addr, &pa, &psz) < 0)
		return fail(out, "that address is not mapped by the current CPU's page tables%s", "");
	fprintf(out, "virtual 0x%llx mapped to physical 0x%llx (%llu KiB page)\n", (unsigned long long)a->addr,
		(unsigned long long)pa, (unsigned long long)(psz >> 10));
	return 0;
}

static int row_dis(struct target *t, struct mdb_args *a, FILE *out)
{
	uint64_t addr = a->addr;
	if (!a->have_addr) {
		struct target_regs r;
		if (t->ops->regs(t, t->cpu, &r) < 0)
			return fail(out, "no registers%s", "");
		addr = r.rip;
	}
	return cmd_dis(t, addr, a->arg ? (unsigned)strtoul(a->arg, NULL, 0) : 0, out);
}

static size_t mem_read(void *arg, uint64_t va, void *buf, size_t len)
{
	struct target *t = arg;
	return target_read_virt(t, t->cpu, va, buf, len);
}

static bool mem_symbolize(void *arg, uint64_t addr, char *buf, size_t len)
{
	return target_symbolize(arg, addr, false, buf, len);
}

/* gdb's <sym+off> of a pointer: the symbol that holds addr (the one lookup; not one past
 * a function's end) */
static bool mem_symoff(void *arg, uint64_t addr, char *name, size_t len, uint64_t *off)
{
	bool past_end = false;
	const struct symbol *s = target_symbol(arg, addr, false, false, NULL, &past_end);
	if (!s || past_end || addr < s->addr || !s->size) /* gdb names no size-0 label */
		return false;
	snprintf(name, len, "%s", s->name);
	*off = addr - s->addr;
	return true;
}

/* ADDR::print TYPE [MEMBER...], or ::print TYPE ADDR */
static int row_print(struct target *t, struct mdb_args *a, FILE *out)
{
	struct dwarf_mem m = { .read = mem_read, .symbolize = mem_symbolize, .symoff = mem_symoff, .arg = t };
	uint64_t addr = a->addr;
	char *last;
	if (!a->arg || !*a->arg)
		return fail(out, "::%s needs a type", "print");
	last = strrchr(a->arg, ' ');
	if (!a->have_addr) {
		if (!last)
			return fail(out, "::print TYPE ADDR (or ADDR::print TYPE)%s", "");
		*last = 0;
		if (mdb_parse_addr(t, last + 1, &addr, out) < 0)
			return -1;
	}
	return dwarf_cmd_print(t, a->arg, addr, &m, out);
}

static int row_offsetof(struct target *t, struct mdb_args *a, FILE *out)
{
	char *last;
	if (!a->arg || !*a->arg)
		return fail(out, "::%s needs a type", "offsetof");
	last = strrchr(a->arg, ' ');
	if (!last)
		return fail(out, "::offsetof TYPE MEMBER%s", "");
	*last = 0;
	return dwarf_cmd_offsetof(t, a->arg, last + 1, out);
}

static int row_sizeof(struct target *t, struct mdb_args *a, FILE *out)
{
	if (!a->arg || !*a->arg)
		return fail(out, "::sizeof needs a type%s", "");
	return dwarf_cmd_sizeof(t, a->arg, out);
}

/* run.c's commands parse the line themselves */
static int row_run(struct target *t, struct mdb_args *a, FILE *out)
{
	char *c = xstrdup(a->line);
	int r = mdb_run_cmd(t, c, out);
	free(c);
	return r == 1 ? fail(out, "unknown command: %s (::help lists them)", a->line) : r;
}

/* ::stacks, ::findstack: the OS module's ::ps -v */
static int row_stacks(struct target *t, struct mdb_args *a, FILE *out)
{
	char line[] = "::ps -v";
	(void)a;
	return run_one(t, line, out);
}

void mdb_dwarf_mem(struct target *t, struct dwarf_mem *m)
{
	*m = (struct dwarf_mem){ .read = mem_read, .symbolize = mem_symbolize, .symoff = mem_symoff, .arg = t };
}

/* crash's p EXPR (p/x, p -x, px: hex; p/d, p -d, pd: decimal), by the DWARF types */
static int row_crash_p(struct target *t, struct mdb_args *a, FILE *out)
{
	struct dwarf_mem m;
	const char *w = a->line, *arg = a->arg ? a->arg : "";
	size_t n = strcspn(w, " \t");
	enum dwarf_p_fmt fmt = DWARF_P_DEC;
	bool gdb_fmt = false;
	if (n == 2 && w[1] != '/') { /* px, pd */
		fmt = w[1] == 'x' ? DWARF_P_RADIX16 : DWARF_P_DEC;
	} else if (n > 1) { /* p/x, p/d: gdb's own format, no "NAME = " */
		if (n != 3 || (w[2] != 'x' && w[2] != 'd'))
			return mdb_fail(out, "p: p/x (hex) or p/d (decimal), not '%.*s'", (int)n, w);
		fmt = w[2] == 'x' ? DWARF_P_X : DWARF_P_D;
		gdb_fmt = true;
	}
	while (arg[0] == '-' && (arg[1] == 'x' || arg[1] == 'd' || arg[1] == 'u') && (arg[2] == ' ' || arg[2] == '\t')) {
		if (arg[1] != 'u')
			fmt = arg[1] == 'x' ? DWARF_P_RADIX16 : DWARF_P_DEC;
		arg += 2 + strspn(arg + 2, " \t");
	}
	if (!*arg || *arg == '-')
		return mdb_fail(out, "p [-x|-d] EXPR (also p/x, px, pd): an expression%s%s", *arg ? ", not " : "", arg);
	mdb_dwarf_mem(t, &m);
	return dwarf_cmd_p(t, arg, fmt, !gdb_fmt, &m, out);
}

/* crash's whatis [-o] struct|union|enum NAME, TYPEDEF, SYMBOL */
static int row_crash_whatis(struct target *t, struct mdb_args *a, FILE *out)
{
	struct dwarf_mem m;
	mdb_dwarf_mem(t, &m);
	return dwarf_cmd_whatis(t, a->arg, &m, out);
}

/* crash's spellings of the memory commands: rd ADDR [COUNT] (64-bit words), dis ADDR
 * [COUNT], sym ADDR|NAME */
static int row_crash_mem(struct target *t, struct mdb_args *a, FILE *out)
{
	char x[128] = "", n[32] = "", line[200];
	bool rd = a->line[0] == 'r', dis = a->line[0] == 'd';
	if (sscanf(a->arg, "%127s %31s", x, n) < 1)
		return fail(out, "%s ADDR [COUNT]", rd ? "rd" : dis ? "dis" : "sym");
	if (rd)
		snprintf(line, sizeof(line), "%s/%sJ", x, n);
	else if (dis)
		snprintf(line, sizeof(line), "%s::dis %s", x, n[0] ? n : "16");
	else
		snprintf(line, sizeof(line), "%s::sym", x);
	return run_one(t, line, out);
}

/* crash's struct NAME[.MEMBER[,MEMBER...]] [ADDR] (union likewise): ADDR::print of the
 * type or its members; without ADDR, ::sizeof, or each member's ::offsetof */
static int row_crash_struct(struct target *t, struct mdb_args *a, FILE *out)
{
	const char *kind = a->line[0] == 'u' ? "union" : "struct";
	char spec[160] = "", x[128] = "", line[512], *members = NULL;
	int r = 0;
	if (sscanf(a->arg, "%159s %127s", spec, x) < 1)
		return fail(out, "%s NAME[.MEMBER,...] [ADDR]", kind);
	if ((members = strchr(spec, '.')) != NULL) {
		*members++ = 0;
		for (char *c = members; *c; c++)
			if (*c == ',')
				*c = ' ';
	}
	if (x[0]) {
		snprintf(line, sizeof(line), "%s::print %s %s %s", x, kind, spec, members ? members : "");
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

const struct mdb_dcmd mdb_engine_dcmds[] = {
	{ "::status", "", "the target, the kernel (from its OS module) and the CPUs", row_status, 0 },
	{ "::cpus", "", "each CPU's rip, rsp and symbol", row_cpus, 0 },
	{ "::verify", "", "the dump's RAM against its integrity note (a hash per RAM range)", row_verify, 0 },
	{ "::switch", "CPU", "make CPU the current one (also CPU::switch)", row_switch, MDB_ADDR_ARG },
	{ "::regs", "", "the current CPU's registers", row_regs, 0 },
	{ "$r", "", "the current CPU's registers (::regs)", row_regs, MDB_NOARGS },
	{ "::stack", "[ARGS]", "the current CPU's stack, unwound by the OS module", row_stack, MDB_STACK },
	{ "$c", "", "the current CPU's stack (::stack)", row_stack, MDB_NOARGS | MDB_STACK },
	{ "bt", "[ARGS]", "crash's bt: the stack (ARGS: the OS module's, e.g. -a -l PID)", row_stack, MDB_STACK },
	{ "::nm", "[PATTERN]", "the symbols (whose name contains PATTERN)", row_nm, 0 },
	{ "::sym", "ADDR", "the symbol at ADDR (ADDR::sym)", row_sym, MDB_ADDR_ARG },
	{ "::whatis", "ADDR", "the symbol at ADDR (ADDR::whatis)", row_sym, MDB_ADDR_ARG },
	{ "::vtop", "ADDR", "ADDR's physical address through the current CPU's page tables", row_vtop, MDB_ADDR_ARG },
	{ "::dis", "[ADDR] [N]", "disassemble N instructions at ADDR (ADDR::dis N; default rip)", row_dis, MDB_ADDR_ARG },
	{ "::print", "TYPE [MEMBER[.MEMBER]...]", "ADDR::print: the DWARF type's value at ADDR (or ::print TYPE ADDR)",
	  row_print, 0 },
	{ "::sizeof", "TYPE", "the size of a DWARF type", row_sizeof, 0 },
	{ "::offsetof", "TYPE MEMBER", "a member's offset in a DWARF type", row_offsetof, 0 },
	{ "rd", "ADDR [N]", "crash's rd: N 64-bit words at ADDR (ADDR/NJ)", row_crash_mem, MDB_NEEDARGS },
	{ "dis", "ADDR [N]", "crash's dis: N instructions at ADDR (ADDR::dis N)", row_crash_mem, MDB_NEEDARGS },
	{ "sym", "ADDR|NAME", "crash's sym: the symbol at ADDR (ADDR::sym)", row_crash_mem, MDB_NEEDARGS },
	{ "p", "[-x|-d] EXPR", "crash's p (also p/x px pd): an expression's value, as crash prints it ($N = ...)",
	  row_crash_p, MDB_NEEDARGS | MDB_SLASH },
	{ "px", "EXPR", "crash's px: p -x, in hex", row_crash_p, MDB_NEEDARGS },
	{ "pd", "EXPR", "crash's pd: p -d, in decimal", row_crash_p, MDB_NEEDARGS },
	{ "whatis", "[-o] TYPE|NAME", "crash's whatis: a struct/union/enum/typedef's definition (-o: offsets), a global's type",
	  row_crash_whatis, MDB_NEEDARGS },
	{ "struct", "NAME[.M,M...] [ADDR]", "crash's struct: ADDR::print, ::sizeof or each ::offsetof", row_crash_struct,
	  MDB_NEEDARGS },
	{ "union", "NAME[.M,M...] [ADDR]", "crash's union, as struct", row_crash_struct, MDB_NEEDARGS },
	{ "::stacks", "", "every thread with its stack (::ps -v)", row_stacks, MDB_NOARGS },
	{ "::findstack", "", "every thread with its stack (::ps -v)", row_stacks, MDB_NOARGS },
	{ "foreach", "[PID|TASK|NAME|kernel|user|active|STATE]... bt|ps|task",
	  "crash's foreach: each task's stack (bt), ps row (ps) or task struct (task)", mdb_cmd_foreach, MDB_NEEDARGS },
	{ "::walk", "WALKER [| CMD]", "the addresses the walker visits (each the address of CMD)", mdb_cmd_walk, 0 },
	{ "::walkers", "", "the walkers, with what each visits", mdb_cmd_walkers, 0 },
	{ "::dcmds", "", "the commands, with what each does", mdb_cmd_dcmds, 0 },
	{ "::help", "[CMD]", "the syntax and the commands; ::help CMD: that one's usage", mdb_cmd_help, 0 },
	{ ":c", "", "live: continue every CPU until a breakpoint, watchpoint or Ctrl-C", row_run, MDB_NOARGS | MDB_LINE },
	{ ":s", "", "live: single-step the current CPU", row_run, MDB_NOARGS | MDB_LINE },
	{ "::bp", "ADDR", "live: a breakpoint at ADDR (ADDR::bp; a debug register)", row_run, MDB_LINE },
	{ "::wp", "ADDR [-a] [LEN]", "live: a watchpoint (write, -a access) of LEN bytes at ADDR", row_run, MDB_LINE },
	{ "::delete", "N|all", "live: delete a breakpoint or watchpoint", row_run, MDB_LINE },
	{ "::events", "", "live: the breakpoints and watchpoints", row_run, MDB_LINE },
	{ "::set", "-w", "live: allow writes to memory and registers", row_run, MDB_LINE },
};
const size_t mdb_engine_nr_dcmds = sizeof(mdb_engine_dcmds) / sizeof(mdb_engine_dcmds[0]);

/* ---- dispatch */

/* "::name" of a spelling found nowhere: -1 after a message */
static int unknown(struct target *t, const char *name, const char *shown, FILE *out)
{
	int r = mdb_dcmd_elsewhere(t, name, out);
	if (r <= 0)
		return r;
	return shown ? fail(out, "unknown dcmd ::%s (::help lists them)", shown)
		     : fail(out, "unknown command: %s (::help lists them)", name);
}

/* A bare word's row ("ps", "rd ADDR", ":c"): 1 when cmd is none. */
static int run_bare(struct target *t, char *cmd, FILE *out)
{
	char word[32];
	size_t n = strcspn(cmd, " \t");
	const struct mdb_dcmd *d;
	char *rest = cmd + n;
	struct mdb_args a = { .line = cmd };
	if (n >= sizeof(word) || !strncmp(cmd, "::", 2))
		return 1;
	memcpy(word, cmd, n);
	word[n] = 0;
	while (isspace((unsigned char)*rest))
		rest++;
	if (strchr(word, '/') && (d = mdb_dcmd_find(t, (word[strcspn(word, "/")] = 0, word))) && (d->flags & MDB_SLASH)) {
		a.arg = *rest ? rest : NULL; /* crash's p/x: the row reads the format from the line */
		return *rest ? d->fn(t, &a, out) : 1;
	}
	memcpy(word, cmd, n);
	word[n] = 0;
	if (!(d = mdb_dcmd_find(t, word)) || ((d->flags & MDB_NOARGS) && *rest) || ((d->flags & MDB_NEEDARGS) && !*rest))
		return 1;
	a.arg = *rest ? rest : NULL;
	return d->fn(t, &a, out);
}

static int run_one(struct target *t, char *cmd, FILE *out)
{
	char *dcmd, *arg = NULL, *slash, name[64];
	const struct mdb_dcmd *d;
	struct mdb_args a = { 0 };
	char *line;
	int r;

	while (isspace((unsigned char)*cmd))
		cmd++;
	for (char *e = cmd + strlen(cmd); e > cmd && isspace((unsigned char)e[-1]);)
		*--e = 0;
	if (!*cmd)
		return 0;
	if (json_suffix(cmd) && !t->json) { /* CMD --json: this command's listing as JSON */
		t->json = true;
		r = run_one(t, cmd, out);
		t->json = false;
		return r;
	}
	if ((r = run_bare(t, cmd, out)) != 1)
		return r;
	dcmd = strstr(cmd, "::");
	if (!dcmd && strchr(cmd, '=') && !strpbrk(cmd, "/\\>")) { /* EXPR=FMT: the value itself */
		char *eq = strchr(cmd, '=');
		*eq = 0;
		if (mdb_parse_addr(t, cmd, &a.addr, out) < 0)
			return -1;
		return cmd_value(a.addr, eq + 1, out);
	}
	if (!dcmd) { /* ADDR/[vwWZ] VALUE, VALUE>REG; ADDR/FMT and ADDR\FMT */
		if ((r = mdb_run_cmd(t, cmd, out)) != 1)
			return r;
		slash = strpbrk(cmd, "/\\");
		if (!slash)
			return unknown(t, cmd, NULL, out);
		bool phys = *slash == '\\';
		*slash = 0;
		if (mdb_parse_addr(t, cmd, &a.addr, out) < 0)
			return -1;
		return cmd_format(t, a.addr, slash + 1, phys, out);
	}
	snprintf(name, sizeof(name), "::%.*s", (int)strcspn(dcmd + 2, " \t"), dcmd + 2);
	d = mdb_dcmd_find(t, name);
	if (d && (d->flags & MDB_LINE)) {
		a.line = cmd;
		return d->fn(t, &a, out);
	}
	line = xstrdup(cmd);
	a.line = line;
	if (dcmd != cmd) {
		*dcmd = 0;
		if (mdb_parse_addr(t, cmd, &a.addr, out) < 0)
			goto fail;
		a.have_addr = true;
	}
	dcmd += 2;
	arg = strchr(dcmd, ' ');
	if (arg) {
		*arg++ = 0;
		while (isspace((unsigned char)*arg))
			arg++;
	}
	if (!d) {
		r = unknown(t, name, dcmd, out);
		free(line);
		return r;
	}
	if (!a.have_addr && arg && *arg && (d->flags & MDB_ADDR_ARG)) {
		char *rest = strchr(arg, ' ');
		if (rest)
			*rest++ = 0;
		if (mdb_parse_addr(t, arg, &a.addr, out) < 0)
			goto fail;
		a.have_addr = true;
		arg = rest;
	}
	a.arg = arg;
	r = d->fn(t, &a, out);
	free(line);
	return r;
fail:
	free(line);
	return -1;
}

/* "CMD | CMD": the walk's addresses become the address of each run of the next command */
static int run_pipeline(struct target *t, char *cmd, FILE *out)
{
	char *bar = strchr(cmd, '|'), *first = cmd, *rest;
	uint64_t *addrs;
	size_t n = 0;
	int ret = 0;
	if (!bar)
		return run_one(t, cmd, out);
	*bar = 0;
	rest = bar + 1;
	while (isspace((unsigned char)*first))
		first++;
	if (strncmp(first, "::walk", 6))
		return fail(out, "a pipeline starts with ::walk%s", "");
	{
		char what[32] = "";
		sscanf(first + 6, "%31s", what);
		addrs = xcalloc(4096, sizeof(*addrs));
		if (mdb_walk(t, what, addrs, 4096, &n, out) < 0) {
			free(addrs);
			return -1;
		}
	}
	while (isspace((unsigned char)*rest))
		rest++;
	for (size_t i = 0; i < n; i++) {
		char c[512];
		snprintf(c, sizeof(c), "0x%llx%s", (unsigned long long)addrs[i], rest);
		if (run_pipeline(t, c, out) < 0)
			ret = -1;
	}
	free(addrs);
	return ret;
}

volatile int mdb_interrupt;

bool mdb_is_quit(const char *cmd)
{
	static const char *const words[] = { "$q", "::quit", "::q", "q", "quit", "exit" };
	size_t n;
	while (isspace((unsigned char)*cmd))
		cmd++;
	n = strlen(cmd);
	while (n && isspace((unsigned char)cmd[n - 1]))
		n--;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strlen(words[i]) == n && !strncmp(cmd, words[i], n))
			return true;
	return false;
}

int mdb_exec(struct target *t, const char *line, FILE *out)
{
	char *copy = xstrdup(line), *save = NULL;
	int ret = 0;
	for (char *c = strtok_r(copy, ";", &save); c; c = strtok_r(NULL, ";", &save)) {
		if (mdb_is_quit(c))
			break; /* $q, ::quit, q, exit: the rest of the commands are not run */
		if (mdb_interrupt) {
			fprintf(out, "mdb: interrupted: the rest of the line not run\n");
			ret = -1;
			break;
		}
		if (run_pipeline(t, c, out) < 0)
			ret = -1;
	}
	free(copy);
	return ret;
}
