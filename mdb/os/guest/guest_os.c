/* guest_os: the OS module of our guest kernel (guest/): ::ps (ps, ::threads), ::msgbuf (log),
 * the thread walker, $c through guest_stack.c, and the panic record for ::status. Every
 * structure is read with the member offsets and sizes of the symbol file's DWARF
 * (dwarf_fields), never with this compiler's layout of guest/guest.h, so a guest built with
 * other options is read as it was built. */
#include <stdlib.h>
#include <string.h>

#include "guest_os.h"
#include "guest_priv.h"

enum {
	T_SIZE, T_TID, T_NAME, T_STATE, T_CPU, T_RSP, T_NEXT,
	L_HEAD, L_REC, R_SIZE, R_TICKS, R_TEXT,
	P_SIZE, P_ACTIVE, P_CPU, P_MSG,
	NFIELDS
};

/* Not in the DWARF: HZ is a #define (the log's ticks are jiffies). */
#define GUEST_HZ 100

/* ps's word for each enumerator of enum thread_state, whose values come from the DWARF */
static const struct {
	const char *enumerator, *word;
} states[] = {
	{ "THREAD_RUNNING", "RUN" }, { "THREAD_RUNNABLE", "READY" }, { "THREAD_SLEEPING", "SLEEP" },
	{ "THREAD_BLOCKED", "BLOCK" }, { "THREAD_DEAD", "DEAD" },
};
#define NSTATES (sizeof(states) / sizeof(states[0]))

struct guest_layout {
	bool read;
	char why[200]; /* "" when every member was found */
	struct dwarf_field f[NFIELDS];
	int64_t state_value[NSTATES]; /* -1: the DWARF has no such enumerator */
};

/* The layout, read from the DWARF on first use: NULL with e when the symbol file lacks it. */
static const struct guest_layout *layout(struct target *t, struct err *e)
{
	struct guest_layout *y = t->os_priv;
	static const struct dwarf_field want[NFIELDS] = {
		[T_SIZE] = { .type = "thread" },
		[T_TID] = { .type = "thread", .member = "tid" },
		[T_NAME] = { .type = "thread", .member = "name" },
		[T_STATE] = { .type = "thread", .member = "state" },
		[T_CPU] = { .type = "thread", .member = "cpu" },
		[T_RSP] = { .type = "thread", .member = "ctx.rsp" },
		[T_NEXT] = { .type = "thread", .member = "next" },
		[L_HEAD] = { .type = "logbuf", .member = "head" },
		[L_REC] = { .type = "logbuf", .member = "rec" },
		[R_SIZE] = { .type = "log_record" },
		[R_TICKS] = { .type = "log_record", .member = "ticks" },
		[R_TEXT] = { .type = "log_record", .member = "text" },
		[P_SIZE] = { .type = "panic_info" },
		[P_ACTIVE] = { .type = "panic_info", .member = "active" },
		[P_CPU] = { .type = "panic_info", .member = "cpu" },
		[P_MSG] = { .type = "panic_info", .member = "msg" },
	};
	if (!y)
		return err_set(e, "the guest module is not attached"), NULL;
	if (!y->read) {
		y->read = true;
		memcpy(y->f, want, sizeof(want));
		/* one pass over the units ("": any), until every type is found */
		if (dwarf_fields(t, "", y->f, NFIELDS) < 0)
			snprintf(y->why, sizeof(y->why), "the symbol file has no DWARF: our guest's structures are unknown");
		for (size_t i = 0; i < NFIELDS && !y->why[0]; i++) {
			const struct dwarf_field *f = &y->f[i];
			if (f->off < 0 || f->size == 0 || f->size > 1u << 20)
				snprintf(y->why, sizeof(y->why), "no struct %s%s%s in the symbol file's DWARF (is it our guest kernel, with -g?)",
					 f->type, f->member ? "." : "", f->member ? f->member : "");
		}
		/* each member inside its struct (the reads below trust these bounds) */
		for (size_t i = 0; i < NFIELDS && !y->why[0]; i++) {
			size_t whole = i <= T_NEXT ? T_SIZE : i <= L_REC ? SIZE_MAX : i <= R_TEXT ? R_SIZE : P_SIZE;
			uint64_t lim = whole == SIZE_MAX ? 1u << 24 : y->f[whole].size;
			if (y->f[i].member && (uint64_t)y->f[i].off + y->f[i].size > lim)
				snprintf(y->why, sizeof(y->why), "%s.%s lies outside its struct in the DWARF", y->f[i].type, y->f[i].member);
		}
		for (size_t i = 0; i < NSTATES; i++)
			if (y->why[0] || dwarf_enum_value(t, "thread_state", states[i].enumerator, &y->state_value[i]) != 1)
				y->state_value[i] = -1;
		if (!y->why[0] && (y->f[T_SIZE].size > 65536 || y->f[R_SIZE].size > 65536 || y->f[P_SIZE].size > 65536 ||
				   y->f[L_REC].size % y->f[R_SIZE].size))
			snprintf(y->why, sizeof(y->why), "our guest's structures have sizes the debugger does not expect");
	}
	if (y->why[0])
		return err_set(e, "%s", y->why), NULL;
	return y;
}

/* A little-endian integer member of a struct read into buf (bounds checked by layout). */
static uint64_t get_u(const uint8_t *buf, const struct dwarf_field *f)
{
	uint64_t v = 0;
	memcpy(&v, buf + f->off, f->size < 8 ? f->size : 8);
	return v;
}

static int64_t get_i(const uint8_t *buf, const struct dwarf_field *f)
{
	uint64_t v = get_u(buf, f);
	unsigned bits = f->size < 8 ? (unsigned)f->size * 8 : 64;
	if (bits < 64 && (v >> (bits - 1)) & 1)
		v |= ~0ull << bits;
	return (int64_t)v;
}

static int guest_sym(struct target *t, const char *name, uint64_t *a, struct err *e)
{
	const struct symbol *s = symtab_by_name(&t->syms, name);
	if (!s)
		return err_set(e, "no symbol %s: is the symbol file our guest kernel (hvmdb -s build/guest.elf)?", name);
	*a = s->addr;
	return 0;
}

struct guest_thread {
	uint64_t addr, next, rsp;
	int tid, cpu;
	unsigned state;
	char name[64];
};

/* The thread at p (a struct thread). */
static int read_thread(struct target *t, const struct guest_layout *y, uint64_t p, struct guest_thread *th,
		       struct err *e)
{
	uint8_t buf[65536];
	size_t sz = (size_t)y->f[T_SIZE].size, nl = y->f[T_NAME].size < sizeof(th->name) ? y->f[T_NAME].size : sizeof(th->name) - 1;
	if (target_read_virt(t, t->cpu, p, buf, sz) != sz)
		return err_set(e, "cannot read a thread (the list is corrupt?)");
	th->addr = p;
	th->tid = (int)get_i(buf, &y->f[T_TID]);
	th->cpu = (int)get_i(buf, &y->f[T_CPU]);
	th->state = (unsigned)get_u(buf, &y->f[T_STATE]);
	th->rsp = get_u(buf, &y->f[T_RSP]);
	th->next = get_u(buf, &y->f[T_NEXT]);
	memcpy(th->name, buf + y->f[T_NAME].off, nl);
	th->name[nl] = 0;
	th->name[strnlen(th->name, nl)] = 0;
	return 0;
}

/* The first thread's address (thread_list). */
static int thread_head(struct target *t, const struct guest_layout **y, uint64_t *p, struct err *e)
{
	uint64_t head = 0;
	if (guest_sym(t, "thread_list", &head, e) < 0 || !(*y = layout(t, e)))
		return -1;
	if (target_read_virt(t, t->cpu, head, p, 8) != 8)
		return err_set(e, "cannot read thread_list");
	return 0;
}

/* walker thread: the address of every thread of our guest */
static int walk_threads(struct target *t, uint64_t *v, size_t max, size_t *n, struct err *e)
{
	const struct guest_layout *y;
	struct guest_thread th;
	uint64_t p;
	*n = 0;
	if (thread_head(t, &y, &p, e) < 0)
		return -1;
	while (p && *n < max) {
		v[(*n)++] = p;
		if (read_thread(t, y, p, &th, e) < 0)
			return -1;
		p = th.next;
	}
	return 0;
}

/* A thread that is not running: context_switch left r15 r14 r13 r12 rbx rbp and the
 * return address on its stack, ctx.rsp pointing at r15 (guest/switch.S: code, not DWARF). */
static const char *const switch_saved[] = { "r15", "r14", "r13", "r12", "rbx", "rbp", "rip", "rsp" };
static void thread_stack(struct target *t, const struct guest_layout *y, const struct guest_thread *th, FILE *out)
{
	struct cfi_regs f;
	uint64_t w[7];
	for (unsigned c = 0; y->state_value[0] >= 0 && th->state == (uint64_t)y->state_value[0] && c < t->ops->nr_cpus(t); c++) {
		struct target_regs r;
		if (t->ops->regs(t, c, &r) == 0 && r.online && (int)c == th->cpu) {
			struct cfi_regs f = unwind_regs_from_x86(&r.x86);
			guest_stack_print(t, c, &f, true, out);
			return;
		}
	}
	if (target_read_virt(t, t->cpu, th->rsp, w, sizeof(w)) != sizeof(w)) {
		fprintf(out, "    (saved context unreadable)\n");
		return;
	}
	f = unwind_regs_from_x86(&(struct x86_regs){ .r15 = w[0], .r14 = w[1], .r13 = w[2], .r12 = w[3], .rbx = w[4],
						     .rbp = w[5], .rip = w[6], .rsp = th->rsp + 56 });
	f.known = 0; /* only those the switch saved (and rsp) */
	for (size_t i = 0; i < sizeof(switch_saved) / sizeof(switch_saved[0]); i++)
		f.known |= 1u << x86_reg_by_name(switch_saved[i])->dwarf;
	guest_stack_print(t, t->cpu, &f, false, out);
}

static const char *state_name(const struct guest_layout *y, unsigned s)
{
	for (size_t i = 0; i < NSTATES; i++)
		if (y->state_value[i] == (int64_t)s)
			return states[i].word;
	return "?";
}

static void ps_row(const struct guest_layout *y, const struct guest_thread *th, FILE *out)
{
	fprintf(out, "%016llx %5d %-5s %3d %s\n", (unsigned long long)th->addr, th->tid, state_name(y, th->state), th->cpu,
		th->name);
}

#define PS_HEADER "          THREAD   TID STATE CPU NAME\n" /* "%16s %5s %-5s %3s %s" */

static void thread_header(const struct guest_layout *y, const struct guest_thread *th, FILE *out)
{
	fprintf(out, "TID: %-5d THREAD: %016llx  CPU: %-3d STATE: %-5s NAME: %s\n", th->tid, (unsigned long long)th->addr,
		th->cpu, state_name(y, th->state), th->name);
}

static int cmd_ps(struct target *t, bool verbose, FILE *out)
{
	const struct guest_layout *y;
	struct guest_thread th;
	struct err e;
	uint64_t p;
	int n = 0;
	if (thread_head(t, &y, &p, &e) < 0)
		return mdb_fail(out, "%s", e.msg);
	if (t->json)
		fputs("[", out);
	else
		fputs(PS_HEADER, out);
	while (p && n++ < 10000) {
		if (read_thread(t, y, p, &th, &e) < 0)
			return mdb_fail(out, "%s", e.msg);
		if (t->json) {
			fprintf(out, "%s{\"thread\": \"0x%llx\", \"tid\": %d, \"state\": \"%s\", \"cpu\": %d, \"name\": ",
				n > 1 ? ", " : "", (unsigned long long)p, th.tid, state_name(y, th.state), th.cpu);
			json_write_str(out, th.name);
			fputs("}", out);
			p = th.next;
			continue;
		}
		ps_row(y, &th, out);
		if (verbose)
			thread_stack(t, y, &th, out);
		p = th.next;
	}
	if (t->json)
		fputs("]\n", out);
	return 0;
}

/* ::msgbuf: the log ring's records; LOG_RECORDS and LOG_TEXT are the DWARF's array sizes */
static int cmd_msgbuf(struct target *t, FILE *out)
{
	const struct guest_layout *y;
	struct err e;
	uint64_t a = 0, head, first, nrec, rsz;
	uint8_t rec[65536];
	char text[4096];
	if (guest_sym(t, "log_ring", &a, &e) < 0 || !(y = layout(t, &e)))
		return mdb_fail(out, "%s", e.msg);
	if (target_read_virt(t, t->cpu, a + y->f[L_HEAD].off, &head, 8) != 8)
		return mdb_fail(out, "cannot read log_ring");
	rsz = (uint64_t)y->f[R_SIZE].size;
	nrec = y->f[L_REC].size / rsz;
	if (!nrec)
		return mdb_fail(out, "log_ring has no records in the DWARF");
	first = head > nrec ? head - nrec : 0;
	if (t->json)
		fputc('[', out);
	for (uint64_t i = first; i < head; i++) {
		uint64_t ra = a + y->f[L_REC].off + (i % nrec) * rsz, ticks;
		size_t tl = y->f[R_TEXT].size < sizeof(text) ? y->f[R_TEXT].size : sizeof(text);
		if (target_read_virt(t, t->cpu, ra, rec, rsz) != rsz)
			return mdb_fail(out, "cannot read a log record");
		ticks = get_u(rec, &y->f[R_TICKS]);
		memcpy(text, rec + y->f[R_TEXT].off, tl);
		text[tl - 1] = 0;
		if (t->json) {
			fprintf(out, "%s{\"timestamp\": %llu.%02llu, \"ticks\": %llu, \"text\": ", i != first ? ", " : "",
				(unsigned long long)(ticks / GUEST_HZ), (unsigned long long)(ticks % GUEST_HZ), (unsigned long long)ticks);
			json_write_str(out, text);
			fputc('}', out);
			continue;
		}
		fprintf(out, "[%5llu.%02llu] %s\n", (unsigned long long)(ticks / GUEST_HZ), (unsigned long long)(ticks % GUEST_HZ),
			text);
	}
	if (t->json)
		fputs("]\n", out);
	return 0;
}

/* panic_info: false when the kernel is not ours or did not panic. */
static bool guest_panic(struct target *t, char *msg, size_t len, int *cpu)
{
	const struct symbol *s = symtab_by_name(&t->syms, "panic_info");
	const struct guest_layout *y;
	uint8_t buf[65536];
	struct err e;
	size_t sz, ml;
	if (!s || !(y = layout(t, &e)))
		return false;
	sz = (size_t)y->f[P_SIZE].size;
	if (target_read_virt(t, t->cpu, s->addr, buf, sz) != sz || !get_u(buf, &y->f[P_ACTIVE]))
		return false;
	ml = (size_t)y->f[P_MSG].size;
	snprintf(msg, len, "%.*s", (int)strnlen((const char *)buf + y->f[P_MSG].off, ml), (const char *)buf + y->f[P_MSG].off);
	*cpu = (int)get_i(buf, &y->f[P_CPU]);
	return true;
}

/* bt TID...: each thread's stack under its ::ps line, as crash's bt PID... */
static int tid_stacks(struct target *t, const char *args, FILE *out)
{
	const struct guest_layout *y;
	struct guest_thread th;
	struct err e;
	uint64_t head, p;
	int ret = 0;
	if (thread_head(t, &y, &head, &e) < 0)
		return mdb_fail(out, "%s", e.msg);
	for (const char *a = args; *a;) {
		char *end;
		long tid = strtol(a, &end, 10);
		int n = 0;
		if (end == a || (*end && *end != ' '))
			return mdb_fail(out, "bt [-a] [TID...]: not '%.*s'", (int)strcspn(a, " "), a);
		for (p = head; p && n++ < 10000; p = th.next) {
			if (read_thread(t, y, p, &th, &e) < 0)
				return mdb_fail(out, "%s", e.msg);
			if (th.tid == tid)
				break;
		}
		if (!p || th.tid != tid) {
			ret = mdb_fail(out, "bt: no thread with TID %ld (ps lists them)", tid);
		} else {
			thread_header(y, &th, out);
			thread_stack(t, y, &th, out);
		}
		a = end + strspn(end, " ");
	}
	return ret;
}

/* $c, ::stack, bt: the current CPU's stack; bt -a every CPU's, bt TID... those threads' */
static int guest_stack(struct target *t, const char *args, FILE *out)
{
	struct target_regs r;
	struct cfi_regs f;
	if (args && !strcmp(args, "-a")) {
		for (unsigned c = 0; c < t->ops->nr_cpus(t); c++) {
			if (t->ops->regs(t, c, &r) < 0 || !r.online) {
				fprintf(out, "CPU %u: offline\n", c);
				continue;
			}
			fprintf(out, "CPU %u:\n", c);
			f = unwind_regs_from_x86(&r.x86);
			guest_stack_print(t, c, &f, true, out);
		}
		return 0;
	}
	if (args && *args)
		return tid_stacks(t, args, out);
	if (t->ops->regs(t, t->cpu, &r) < 0)
		return mdb_fail(out, "no registers for the current CPU");
	f = unwind_regs_from_x86(&r.x86);
	guest_stack_print(t, t->cpu, &f, true, out);
	return 0;
}

/* crash's foreach VERB: each picked thread's ps row, stack (bt) or struct thread (task) */
static int guest_foreach(struct target *t, const char *verb, char *const *sel, size_t nsel, const char *args, FILE *out)
{
	const struct guest_layout *y;
	struct guest_thread th;
	struct dwarf_mem m;
	struct err e;
	uint64_t p;
	int n = 0, shown = 0, ret = 0;
	if (args)
		return mdb_fail(out, "foreach %s: no flags on our guest, not '%s'", verb, args);
	if (thread_head(t, &y, &p, &e) < 0)
		return mdb_fail(out, "%s", e.msg);
	mdb_dwarf_mem(t, &m);
	for (; p && n++ < 10000 && !ret; p = th.next) {
		struct mdb_task k;
		if (read_thread(t, y, p, &th, &e) < 0)
			return mdb_fail(out, "%s", e.msg);
		k = (struct mdb_task){ p, th.tid, th.name, state_name(y, th.state), 1,
				       y->state_value[0] >= 0 && th.state == (uint64_t)y->state_value[0] };
		if (!mdb_foreach_match(sel, nsel, &k))
			continue;
		if (!strcmp(verb, "ps")) {
			fputs(shown ? "" : PS_HEADER, out); /* once, before the first row: none without a row */
			ps_row(y, &th, out);
		} else {
			fputs(shown ? "\n" : "", out);
			thread_header(y, &th, out);
			if (!strcmp(verb, "bt"))
				thread_stack(t, y, &th, out);
			else if (dwarf_cmd_object(t, "struct thread", p, &m, out) < 0)
				ret = -1;
		}
		shown++;
	}
	if (!ret && !shown)
		ret = mdb_fail(out, "foreach: no thread is %s (ps lists them)", nsel ? "one of those asked for" : "there");
	return ret;
}

static int row_ps(struct target *t, struct mdb_args *a, FILE *out)
{
	return cmd_ps(t, a->arg && !strcmp(a->arg, "-v"), out);
}

static int row_msgbuf(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	return cmd_msgbuf(t, out);
}

static int row_sys(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	return guest_cmd_sys(t, out);
}

static const struct mdb_dcmd dcmds[] = {
	{ "ps", "", "crash's ps: the threads (::ps)", row_ps, MDB_NOARGS },
	{ "::ps", "[-v]", "the threads: address, TID, state, CPU, name (-v: with their stacks)", row_ps, 0 },
	{ "::threads", "[-v]", "the threads (::ps)", row_ps, 0 },
	{ "log", "", "crash's log: the kernel's log ring (::msgbuf)", row_msgbuf, MDB_NOARGS },
	{ "::msgbuf", "", "the kernel's log ring, with timestamps", row_msgbuf, 0 },
	{ "sys", "", "crash's sys: CPUs, date, uptime, threads, release, version, memory, panic", row_sys, MDB_NOARGS },
};

static const struct mdb_walker walkers[] = {
	{ "thread", "every thread (thread_list): the address of its struct thread", walk_threads },
};

/* Registered last, it takes every kernel no module before it claimed: our guest, or a kernel
 * nothing knows (its commands then say the symbols are not our guest's), as hvmdb always did. */
static int guest_attach(struct target *t, const char *reloc, struct err *e)
{
	(void)reloc;
	(void)e;
	t->os_priv = xcalloc(1, sizeof(struct guest_layout));
	return 1;
}

static void guest_close(struct target *t)
{
	free(t->os_priv);
	t->os_priv = NULL;
}

const struct mdb_os mdb_os_guest = {
	.name = "guest",
	.hint = "for our guest kernel (hvmdb -s build/guest.elf)",
	.attach = guest_attach,
	.close = guest_close,
	.dcmds = dcmds,
	.nr_dcmds = sizeof(dcmds) / sizeof(dcmds[0]),
	.walkers = walkers,
	.nr_walkers = sizeof(walkers) / sizeof(walkers[0]),
	.stack = guest_stack,
	.stack_usage = "[-a] [TID...]: the current CPU's stack, every CPU's (-a), or those threads' (saved by their switch); DWARF CFI where the symbol file has it, else trap frames and frame pointers",
	.panic = guest_panic,
	.foreach = guest_foreach,
};
