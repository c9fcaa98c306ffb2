/* linux_bt: bt / $c for Linux: a task's kernel stack unwound with the kernel's ORC tables
 * (linux_orc.c), from its vCPU's registers when it is running on a CPU, else from the
 * inactive_task_frame its last context switch left at thread.sp; crash's frame lines
 * (" #N [where the return address is] function+offset at address"), the pt_regs frames
 * crossed, and where the unwinding stopped. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

#define MAX_FRAMES 96
#define BT_INLINE_MAX 8
#define INACTIVE_FRAME 56 /* struct inactive_task_frame: r15 r14 r13 r12 bx bp ret_addr */

/* Where the frames go: crash's lines, or the members of a JSON task object. */
struct bt_out {
	FILE *out;
	bool json, lines;
	uint64_t regs_at; /* JSON: the pt_regs crossed before the next frame */
};

/* The frame's inlined calls and lines (target_frame_lines); none for module code, which
 * the vmlinux's DWARF does not describe. */
static size_t frame_inlines(struct target *t, const struct linux_module *m, uint64_t ip, bool is_return,
			    struct target_inline *inl, char fl[][TARGET_LINE_LEN])
{
	if (m) {
		fl[0][0] = 0;
		return 0;
	}
	return target_frame_lines(t, is_return ? ip - 1 : ip, inl, BT_INLINE_MAX, fl);
}

/* m: the module whose code ip is in, or NULL */
static void frame_json(struct target *t, struct bt_out *o, const struct linux_module *m, int n, uint64_t at, uint64_t ip,
		       bool is_return)
{
	char sym[160], fl[BT_INLINE_MAX + 1][TARGET_LINE_LEN];
	struct target_inline inl[BT_INLINE_MAX];
	char *plus;
	FILE *out = o->out;
	size_t ni = frame_inlines(t, m, ip, is_return, inl, fl);
	fputs(n ? ", " : "", out);
	for (size_t i = 0; i < ni; i++) { /* each inlined call: an element of its own, before its frame */
		fprintf(out, "{\"level\": %d, \"sp\": \"0x%" PRIx64 "\", \"pc\": \"0x%" PRIx64 "\", \"function\": ", n, at, ip);
		json_write_str(out, inl[i].function);
		fputs(", \"offset\": null", out);
		target_json_file_line(out, fl[i]);
		fputs(", \"inlined\": true}, ", out);
	}
	fprintf(out, "{\"level\": %d, \"sp\": \"0x%" PRIx64 "\", \"pc\": \"0x%" PRIx64 "\", \"function\": ", n, at, ip);
	if (target_symbolize(t, ip, is_return, sym, sizeof(sym))) {
		plus = strrchr(sym, '+');
		if (plus)
			*plus++ = 0;
		json_write_str(out, sym);
		fprintf(out, ", \"offset\": \"%s\"", plus ? plus : "0x0");
	} else {
		fputs("null, \"offset\": null", out);
	}
	target_json_file_line(out, fl[ni]);
	if (m) { /* module code: its name, as crash's " [module]" */
		fputs(", \"module\": ", out);
		json_write_str(out, m->name);
	}
	if (o->regs_at)
		fprintf(out, ", \"pt_regs\": \"0x%" PRIx64 "\"", o->regs_at);
	o->regs_at = 0;
	fputc('}', out);
}

/* crash's frame line; with -l, the file:line after it, and the inlined calls the pc is in
 * on lines of their own above it ("    (inlined) context_switch  core.c:5257"), whose
 * innermost has the pc's line and the frame then the line of the call inlined. */
static void frame_line(struct target *t, struct bt_out *o, int n, uint64_t at, uint64_t ip, bool is_return)
{
	char sym[160], fl[BT_INLINE_MAX + 1][TARGET_LINE_LEN];
	struct target_inline inl[BT_INLINE_MAX];
	size_t ni = 0;
	const struct linux_module *m = linux_module_at(t, ip); /* crash's " [module]" after the address */
	if (o->json) {
		frame_json(t, o, m, n, at, ip, is_return);
		return;
	}
	if (!target_symbolize(t, ip, is_return, sym, sizeof(sym)))
		snprintf(sym, sizeof(sym), "0x%" PRIx64, ip);
	fl[0][0] = 0;
	if (o->lines) {
		ni = frame_inlines(t, m, ip, is_return, inl, fl);
		for (size_t i = 0; i < ni; i++)
			fprintf(o->out, "    (inlined) %s%s%s\n", inl[i].function, fl[i][0] ? "  " : "", fl[i]);
	}
	fprintf(o->out, "%s#%d [%016" PRIx64 "] %s at %016" PRIx64 "%s%s%s%s%s\n", n < 10 ? " " : "", n, at, sym, ip,
		m ? " [" : "", m ? m->name : "", m ? "]" : "", fl[ni][0] ? "  " : "", fl[ni]);
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

static void unwind(struct target *t, struct linux_unwind *s, struct bt_out *o)
{
	char why[200], msg[240];
	frame_line(t, o, 0, s->sp, s->ip, !s->signal);
	for (int n = 1; n < MAX_FRAMES; n++) {
		uint64_t ip = s->ip, sp = s->sp;
		int r = linux_orc_step(t, s, why, sizeof(why));
		if (r < 0) {
			snprintf(msg, sizeof(msg), "stopped: %s", why);
			stack_end(o, NULL, msg);
			return;
		}
		if (s->regs_at && s->user) {
			stack_end(o, s, NULL);
			return;
		}
		if (r == 0) {
			stack_end(o, NULL, NULL);
			return;
		}
		if (s->regs_at && o->json)
			o->regs_at = s->regs_at;
		else if (s->regs_at)
			fprintf(o->out, "    --- interrupted (pt_regs at %016" PRIx64 ") ---\n", s->regs_at);
		if (s->ip == ip && s->sp == sp) {
			snprintf(msg, sizeof(msg), "stopped: the stack does not move at 0x%" PRIx64, ip);
			stack_end(o, NULL, msg);
			return;
		}
		frame_line(t, o, n, s->signal ? s->sp : s->sp - 8, s->ip, !s->signal);
	}
	snprintf(msg, sizeof(msg), "stopped after %d frames", MAX_FRAMES);
	stack_end(o, NULL, msg);
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
	char note[200], words[256], *save = NULL, *end;
	const char *which = NULL;
	size_t n, shown = 0;
	struct linux_task *v;
	bool all = false, lines = false;
	unsigned long long want = 0;
	snprintf(words, sizeof(words), "%s", args ? args : "");
	for (char *w = strtok_r(words, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (!strcmp(w, "-a"))
			all = true;
		else if (!strcmp(w, "-l"))
			lines = true;
		else if (!which && (want = strtoull(w, &end, strncmp(w, "0x", 2) && strlen(w) < 12 ? 10 : 16), !*end))
			which = args + (w - words);
		else {
			fprintf(out, "mdb: bt [-a] [-l] [PID | TASK]: not '%s'\n", w);
			return -1;
		}
	}
	if (!(v = linux_tasks(t, &n, note, sizeof(note), out)))
		return -1;
	if (t->json)
		fputc('[', out);
	for (unsigned c = 0; c < t->ops->nr_cpus(t) && !which; c++) {
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
	for (size_t i = 0; which && i < n; i++)
		if ((want < (1ull << 32) && v[i].pid == (int32_t)want) || v[i].addr == want) {
			if (shown++)
				fputs(t->json ? ", " : "\n", out);
			linux_bt_task(t, &v[i], lines, out);
		}
	free(v);
	if (t->json)
		fputs("]\n", out);
	if (!shown) {
		fprintf(out, "mdb: no task %.*s\n", which ? (int)strcspn(which, " \t") : 30, which ? which : "runs on the current CPU");
		return -1;
	}
	return 0;
}
