/* linux_bt: bt / $c for Linux: a task's kernel stack unwound with the kernel's ORC tables
 * (linux_orc.c: the one step of the engine's loop, mdb/unwind.c), from its vCPU's registers
 * when it is running on a CPU, else from the inactive_task_frame its last context switch
 * left at thread.sp; crash's frame lines
 * (" #N [where the return address is] function+offset at address"), the pt_regs frames
 * crossed, and where the unwinding stopped. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"
#include "mdb/unwind.h"

#define INACTIVE_FRAME 56 /* struct inactive_task_frame: r15 r14 r13 r12 bx bp ret_addr */

/* Where the frames go: crash's lines, or the members of a JSON task object. */
struct bt_out {
	FILE *out;
	bool json, lines;
};

/* The frame's inlined calls and lines (target_frame_lines); none for module code, which
 * the vmlinux's DWARF does not describe. */
static size_t frame_inlines(struct target *t, const struct unwind_frame *f, struct target_inline *inl,
			    char fl[][TARGET_LINE_LEN])
{
	if (f->module) {
		fl[0][0] = 0;
		return 0;
	}
	return unwind_frame_lines(t, f, inl, fl);
}

static void frame_json(struct target *t, struct bt_out *o, int n, const struct unwind_frame *f)
{
	char sym[160], fl[UNWIND_INLINE_MAX + 1][TARGET_LINE_LEN];
	struct target_inline inl[UNWIND_INLINE_MAX];
	char *plus;
	FILE *out = o->out;
	uint64_t at = f->cfa, ip = f->pc;
	size_t ni = 0;
	fl[0][0] = 0;
	if (o->lines) /* as the text: file:line and the inlined calls with -l (the DWARF's cost) */
		ni = frame_inlines(t, f, inl, fl);
	fputs(n ? ", " : "", out);
	for (size_t i = 0; i < ni; i++) { /* each inlined call: an element of its own, before its frame */
		fprintf(out, "{\"level\": %d, \"sp\": \"0x%" PRIx64 "\", \"pc\": \"0x%" PRIx64 "\", \"function\": ", n, at, ip);
		json_write_str(out, inl[i].function);
		fputs(", \"offset\": null", out);
		target_json_file_line(out, fl[i]);
		fputs(", \"inlined\": true}, ", out);
	}
	fprintf(out, "{\"level\": %d, \"sp\": \"0x%" PRIx64 "\", \"pc\": \"0x%" PRIx64 "\", \"function\": ", n, at, ip);
	if (target_symbolize(t, ip, f->is_return, sym, sizeof(sym))) {
		plus = strrchr(sym, '+');
		if (plus)
			*plus++ = 0;
		json_write_str(out, sym);
		fprintf(out, ", \"offset\": \"%s\"", plus ? plus : "0x0");
	} else {
		fputs("null, \"offset\": null", out);
	}
	target_json_file_line(out, fl[ni]);
	if (f->module) { /* module code: its name, as crash's " [module]" */
		fputs(", \"module\": ", out);
		json_write_str(out, f->module);
	}
	if (f->regs_at && n) /* the pt_regs crossed to reach it */
		fprintf(out, ", \"pt_regs\": \"0x%" PRIx64 "\"", f->regs_at);
	fputc('}', out);
}

/* crash's frame line; with -l, the file:line after it, and the inlined calls the pc is in
 * on lines of their own above it ("    (inlined) context_switch  core.c:5257"), whose
 * innermost has the pc's line and the frame then the line of the call inlined. */
static void frame_line(struct target *t, struct bt_out *o, int n, const struct unwind_frame *f)
{
	char sym[160], fl[UNWIND_INLINE_MAX + 1][TARGET_LINE_LEN];
	struct target_inline inl[UNWIND_INLINE_MAX];
	size_t ni = 0;
	const char *m = f->module; /* crash's " [module]" after the address */
	uint64_t at = f->cfa, ip = f->pc;
	if (o->json) {
		frame_json(t, o, n, f);
		return;
	}
	if (!target_symbolize(t, ip, f->is_return, sym, sizeof(sym)))
		snprintf(sym, sizeof(sym), "0x%" PRIx64, ip);
	fl[0][0] = 0;
	if (o->lines) {
		ni = frame_inlines(t, f, inl, fl);
		for (size_t i = 0; i < ni; i++)
			fprintf(o->out, "    (inlined) %s%s%s\n", inl[i].function, fl[i][0] ? "  " : "", fl[i]);
	}
	fprintf(o->out, "%s#%d [%016" PRIx64 "] %s at %016" PRIx64 "%s%s%s%s%s\n", n < 10 ? " " : "", n, at, sym, ip,
		m ? " [" : "", m ? m : "", m ? "]" : "", fl[ni][0] ? "  " : "", fl[ni]);
}

/* How a stack ends: in JSON, closes the frames and adds "user" and "stopped". */
static void stack_end(struct bt_out *o, const struct linux_unwind *user, const char *stopped)
{
	FILE *out = o->out;
	if (!o->json) {
		if (user)
			fprintf(out, "    --- user mode: RIP %016" PRIx64 "  RSP %016" PRIx64 " ---\n", user->ip, user->sp);
		if (stopped)
			fprintf(out, "    (%s)\n", stopped);
		return;
	}
	fputs("], \"user\": ", out);
	if (user)
		fprintf(out, "{\"rip\": \"0x%" PRIx64 "\", \"rsp\": \"0x%" PRIx64 "\"}", user->ip, user->sp);
	else
		fputs("null", out);
	fputs(", \"stopped\": ", out);
	if (stopped)
		json_write_str(out, stopped);
	else
		fputs("null", out);
	fputc('}', out);
}

/* A frame row from the ORC state: at is where its return address is (the stack pointer
 * itself at the top and after a pt_regs frame, where ip is where the CPU was). */
static struct unwind_frame orc_frame(struct target *t, const struct linux_unwind *s, enum unwind_kind kind, uint64_t at)
{
	const struct linux_module *m = linux_module_at(t, s->ip);
	return (struct unwind_frame){ .kind = kind, .pc = s->ip, .cfa = at, .is_return = !s->signal, .how = "orc",
				      .module = m ? m->name : NULL, .regs_at = s->regs_at };
}

static void orc_sync(struct unwind_state *st, const struct linux_unwind *s)
{
	st->r.r[CFI_RIP] = s->ip;
	st->r.r[CFI_RSP] = s->sp;
	st->r.r[CFI_RBP] = s->bp;
	st->r.known = 1u << CFI_RIP | 1u << CFI_RSP | 1u << CFI_RBP;
	st->is_return = !s->signal;
}

/* The ORC step (the walk's only one on Linux): the caller from the kernel's or a module's
 * ORC table, across pt_regs frames; a return to user mode ends the stack. */
static enum unwind_rc step_orc(struct unwind_state *st, struct unwind_frame *f, struct err *e)
{
	struct linux_unwind *s = st->os;
	char why[200];
	int r = linux_orc_step(st->t, s, why, sizeof(why));
	if (r < 0) {
		err_set(e, "%s", why);
		return UNWIND_ERROR;
	}
	if (s->regs_at && s->user) {
		*f = (struct unwind_frame){ .kind = UNWIND_USER, .pc = s->ip, .cfa = s->sp, .how = "orc", .regs_at = s->regs_at };
		return UNWIND_END;
	}
	if (r == 0)
		return UNWIND_END;
	orc_sync(st, s);
	*f = orc_frame(st->t, s, UNWIND_CALLER, s->signal ? s->sp : s->sp - 8);
	return UNWIND_FOUND;
}

static const unwind_step_fn linux_steps[] = { step_orc };

/* The pt_regs line before a frame found across one (JSON: the frame's "pt_regs"). */
static void regs_line(const struct bt_out *o, const struct unwind_frame *f)
{
	if (f->regs_at && !o->json)
		fprintf(o->out, "    --- interrupted (pt_regs at %016" PRIx64 ") ---\n", f->regs_at);
}

static void unwind(struct target *t, struct linux_unwind *ls, struct bt_out *o)
{
	struct unwind_stack *s = xcalloc(1, sizeof(*s));
	struct unwind_state st = { .t = t, .top = true, .os = ls };
	struct unwind_frame top = orc_frame(t, ls, UNWIND_TOP, ls->sp);
	char msg[sizeof(s->stopped) + 16];
	orc_sync(&st, ls);
	unwind_add(s, &top);
	unwind_walk(&st, linux_steps, sizeof(linux_steps) / sizeof(linux_steps[0]), s);
	for (size_t n = 0; n < s->n; n++) {
		regs_line(o, &s->f[n]);
		frame_line(t, o, (int)n, &s->f[n]);
	}
	switch (s->why) {
	case UNWIND_STOP_END: {
		struct linux_unwind user = { .ip = s->stop.pc, .sp = s->stop.cfa };
		stack_end(o, s->stop.kind == UNWIND_USER ? &user : NULL, NULL);
		break;
	}
	case UNWIND_STOP_STILL:
		regs_line(o, &s->stop);
		/* fall through */
	case UNWIND_STOP_ERROR:
		snprintf(msg, sizeof(msg), "stopped: %s", s->stopped);
		stack_end(o, NULL, msg);
		break;
	case UNWIND_STOP_LIMIT:
		snprintf(msg, sizeof(msg), "stopped after %d frames", UNWIND_MAX);
		stack_end(o, NULL, msg);
		break;
	}
	free(s);
}

/* The task's stack: from its CPU's registers when it runs there, else from thread.sp. */
void linux_bt_task(struct target *t, const struct linux_task *k, bool lines, FILE *out)
{
	struct linux_unwind s = { 0 };
	struct target_regs r;
	struct bt_out o = { .out = out, .json = t->json, .lines = lines };
	uint64_t saved, w[INACTIVE_FRAME / 8];
	if (o.json) {
		fprintf(out, "{\"pid\": %d, \"task\": \"0x%" PRIx64 "\", \"cpu\": %d, \"comm\": ", k->pid, k->addr, k->cpu);
		json_write_str(out, k->comm);
		fputs(", \"frames\": [", out);
	} else {
		fprintf(out, "PID: %-8d TASK: %016" PRIx64 "  CPU: %-4d COMMAND: \"%s\"\n", k->pid, k->addr, k->cpu, k->comm);
	}
	if (k->current && k->cpu >= 0 && (unsigned)k->cpu < t->ops->nr_cpus(t) && t->ops->regs(t, (unsigned)k->cpu, &r) == 0) {
		if (r.full && (r.cs & 3)) {
			struct linux_unwind u = { .ip = r.rip, .sp = r.rsp };
			stack_end(&o, &u, NULL);
			return;
		}
		s = (struct linux_unwind){ .ip = r.rip, .sp = r.rsp, .bp = r.rbp, .signal = true, .regs_full = r.full,
					   .r10 = r.r10, .r13 = r.r13, .di = r.rdi, .dx = r.rdx, .reg_bp = r.rbp };
	} else if (!linux_task_saved_sp(t, k->addr, &saved) || !linux_read(t, saved, w, sizeof(w))) {
		stack_end(&o, NULL, "cannot read the saved context of the task");
		return;
	} else {
		uint64_t rff = linux_sym(t, "ret_from_fork");
		s = (struct linux_unwind){ .ip = w[6], .sp = saved + INACTIVE_FRAME, .bp = w[5] };
		s.signal = rff && s.ip == rff; /* a new task: ret_from_fork is where it starts, not a return address */
	}
	unwind(t, &s, &o);
}

int linux_cmd_bt(struct target *t, const char *args, FILE *out)
{
	char note[200], words[256], *save = NULL, *end, *which[64];
	size_t n, shown = 0, nwant = 0;
	struct linux_task *v;
	bool all = false, lines = false;
	unsigned long long want[64];
	int ret = 0;
	snprintf(words, sizeof(words), "%s", args ? args : "");
	for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(w, "-a"))
			all = true;
		else if (!strcmp(w, "-l"))
			lines = true;
		else if (nwant < 64 && (want[nwant] = strtoull(w, &end, strncmp(w, "0x", 2) && strlen(w) < 12 ? 10 : 16), !*end))
			which[nwant++] = w; /* crash's bt PID PID...: each in the order given */
		else {
			fprintf(out, "mdb: bt [-a] [-l] [PID | TASK]...: not '%s'\n", w);
			return -1;
		}
	}
	if (!(v = linux_tasks(t, &n, note, sizeof(note), out)))
		return -1;
	if (t->json)
		fputc('[', out);
	for (unsigned c = 0; c < t->ops->nr_cpus(t) && !nwant; c++) {
		size_t i = 0;
		if (!all && c != t->cpu)
			continue;
		while (i < n && !(v[i].current && v[i].cpu == (int32_t)c))
			i++;
		if (shown++)
			fputs(t->json ? ", " : "\n", out);
		if (i < n) {
			linux_bt_task(t, &v[i], lines, out);
		} else { /* no task known to run there: the CPU's registers alone */
			struct linux_task cpu = { .pid = -1, .cpu = (int32_t)c, .comm = "?", .current = true };
			linux_bt_task(t, &cpu, lines, out);
		}
	}
	for (size_t k = 0; k < nwant; k++) {
		size_t before = shown;
		for (size_t i = 0; i < n; i++)
			if ((want[k] < (1ull << 32) && v[i].pid == (int32_t)want[k]) || v[i].addr == want[k]) {
				if (shown++)
					fputs(t->json ? ", " : "\n", out);
				linux_bt_task(t, &v[i], lines, out);
			}
		if (shown == before && !t->json) {
			fprintf(out, "mdb: no task %s\n", which[k]);
			ret = -1;
		} else if (shown == before) {
			ret = -1;
		}
	}
	free(v);
	if (t->json)
		fputs("]\n", out);
	if (!shown && !nwant) {
		fprintf(out, "mdb: no task runs on the current CPU\n");
		return -1;
	}
	return ret;
}
