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
#define INACTIVE_FRAME 56 /* struct inactive_task_frame: r15 r14 r13 r12 bx bp ret_addr */

static void frame_line(struct target *t, int n, uint64_t at, uint64_t ip, bool is_return, bool lines, FILE *out)
{
	char sym[160], fl[140] = "";
	if (!target_symbolize(t, ip, is_return, sym, sizeof(sym)))
		snprintf(sym, sizeof(sym), "0x%" PRIx64, ip);
	if (lines && target_addr_line(t, is_return ? ip - 1 : ip, fl + 2, sizeof(fl) - 2))
		memcpy(fl, "  ", 2);
	fprintf(out, "%s#%d [%016" PRIx64 "] %s at %016" PRIx64 "%s\n", n < 10 ? " " : "", n, at, sym, ip, fl);
}

static void unwind(struct target *t, struct linux_unwind *s, bool lines, FILE *out)
{
	char why[200];
	frame_line(t, 0, s->sp, s->ip, !s->signal, lines, out);
	for (int n = 1; n < MAX_FRAMES; n++) {
		uint64_t ip = s->ip, sp = s->sp;
		int r = linux_orc_step(t, s, why, sizeof(why));
		if (r < 0) {
			fprintf(out, "    (stopped: %s)\n", why);
			return;
		}
		if (s->regs_at && s->user) {
			fprintf(out, "    --- user mode: RIP %016" PRIx64 "  RSP %016" PRIx64 " ---\n", s->ip, s->sp);
			return;
		}
		if (r == 0)
			return;
		if (s->regs_at)
			fprintf(out, "    --- interrupted (pt_regs at %016" PRIx64 ") ---\n", s->regs_at);
		if (s->ip == ip && s->sp == sp) {
			fprintf(out, "    (stopped: the stack does not move at 0x%" PRIx64 ")\n", ip);
			return;
		}
		frame_line(t, n, s->signal ? s->sp : s->sp - 8, s->ip, !s->signal, lines, out);
	}
	fprintf(out, "    (stopped after %d frames)\n", MAX_FRAMES);
}

/* The task's stack: from its CPU's registers when it runs there, else from thread.sp. */
void linux_bt_task(struct target *t, const struct linux_task *k, bool lines, FILE *out)
{
	struct linux_unwind s = { 0 };
	struct target_regs r;
	uint64_t saved, w[INACTIVE_FRAME / 8];
	fprintf(out, "PID: %-8d TASK: %016" PRIx64 "  CPU: %-4d COMMAND: \"%s\"\n", k->pid, k->addr, k->cpu, k->comm);
	if (k->current && k->cpu >= 0 && (unsigned)k->cpu < t->ops->nr_cpus(t) && t->ops->regs(t, (unsigned)k->cpu, &r) == 0) {
		if (r.full && (r.cs & 3)) {
			fprintf(out, "    --- user mode: RIP %016" PRIx64 "  RSP %016" PRIx64 " ---\n", r.rip, r.rsp);
			return;
		}
		s = (struct linux_unwind){ .ip = r.rip, .sp = r.rsp, .bp = r.rbp, .signal = true, .regs_full = r.full,
					   .r10 = r.r10, .r13 = r.r13, .di = r.rdi, .dx = r.rdx, .reg_bp = r.rbp };
	} else if (!linux_task_saved_sp(t, k->addr, &saved) || !linux_read(t, saved, w, sizeof(w))) {
		fprintf(out, "    (cannot read the saved context of the task)\n");
		return;
	} else {
		uint64_t rff = linux_sym(t, "ret_from_fork");
		s = (struct linux_unwind){ .ip = w[6], .sp = saved + INACTIVE_FRAME, .bp = w[5] };
		s.signal = rff && s.ip == rff; /* a new task: ret_from_fork is where it starts, not a return address */
	}
	unwind(t, &s, lines, out);
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
	for (unsigned c = 0; c < t->ops->nr_cpus(t) && !which; c++) {
		size_t i = 0;
		if (!all && c != t->cpu)
			continue;
		while (i < n && !(v[i].current && v[i].cpu == (int32_t)c))
			i++;
		if (shown++)
			fputc('\n', out);
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
				fputc('\n', out);
			linux_bt_task(t, &v[i], lines, out);
		}
	free(v);
	if (!shown) {
		fprintf(out, "mdb: no task %.*s\n", which ? (int)strcspn(which, " \t") : 30, which ? which : "runs on the current CPU");
		return -1;
	}
	return 0;
}
