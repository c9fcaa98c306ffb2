/* linux_tasks: the tasks of a Linux kernel for ps / ::ps: every process on init_task.tasks
 * and each one's threads, the idle task of every CPU, and each CPU's current task, with
 * task_struct's offsets from the vmlinux's DWARF; printed in crash's columns and state
 * letters. Every list walk is capped and stops at a loop or an unreadable entry. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

#define MAX_TASKS (1u << 20)
#define PF_KTHREAD 0x00200000u

struct task_layout {
	int64_t tasks, pid, tgid, comm, state, exit_state, real_parent, cpu, thread_group, signal, thread_node, mm;
	int64_t thread_head;       /* in signal_struct */
	int64_t thread_sp;         /* thread.sp: where a task that is not running saved its stack */
	uint64_t state_size, cpu_size, comm_size;
	uint64_t span;             /* the bytes of task_struct read at once */
	uint64_t current_task;     /* per-CPU variable holding each CPU's current task */
	char why[160];             /* why tasks cannot be listed, when they cannot */
};

struct task_set {
	struct linux_task *v;
	size_t n, cap;
	uint64_t *seen; /* an open-addressing set of the task addresses */
	size_t seen_cap;
	char note[200]; /* why a walk stopped early */
};

static struct task_layout *layout(struct target *t)
{
	struct linux_kernel *l = t->os_priv;
	struct task_layout *y;
	enum { TASKS, PID, TGID, COMM, STATE_NEW, STATE_OLD, EXIT_STATE, PARENT, TI_CPU, CPU, THREAD_GROUP, SIGNAL,
	       THREAD_NODE, MM, THREAD_HEAD, THREAD_SP, HOT_CURRENT, NF };
	struct dwarf_field f[NF] = {
		[TASKS] = { .type = "task_struct", .member = "tasks" },
		[PID] = { .type = "task_struct", .member = "pid" },
		[TGID] = { .type = "task_struct", .member = "tgid" },
		[COMM] = { .type = "task_struct", .member = "comm" },
		[STATE_NEW] = { .type = "task_struct", .member = "__state" },
		[STATE_OLD] = { .type = "task_struct", .member = "state" },
		[EXIT_STATE] = { .type = "task_struct", .member = "exit_state" },
		[PARENT] = { .type = "task_struct", .member = "real_parent" },
		[TI_CPU] = { .type = "task_struct", .member = "thread_info.cpu" },
		[CPU] = { .type = "task_struct", .member = "cpu" },
		[THREAD_GROUP] = { .type = "task_struct", .member = "thread_group" },
		[SIGNAL] = { .type = "task_struct", .member = "signal" },
		[THREAD_NODE] = { .type = "task_struct", .member = "thread_node" },
		[MM] = { .type = "task_struct", .member = "mm" },
		[THREAD_HEAD] = { .type = "signal_struct", .member = "thread_head" },
		[THREAD_SP] = { .type = "task_struct", .member = "thread.sp" },
		[HOT_CURRENT] = { .type = "pcpu_hot", .member = "current_task" },
	};
	uint64_t hot = linux_sym(t, "pcpu_hot");
	size_t nf = hot ? NF : NF - 1; /* ask only for types the kernel has: a missing one costs a full pass */
	if (l->tasks)
		return l->tasks;
	y = xcalloc(1, sizeof(*y));
	l->tasks = y;
	if (linux_fields(t, NULL, f, nf) < 0) {
		snprintf(y->why, sizeof(y->why), "the symbol file has no DWARF types (task_struct's layout)");
		return y;
	}
	y->tasks = f[TASKS].off;
	y->pid = f[PID].off;
	y->tgid = f[TGID].off;
	y->comm = f[COMM].off;
	y->comm_size = f[COMM].size;
	y->state = f[STATE_NEW].off >= 0 ? f[STATE_NEW].off : f[STATE_OLD].off;
	y->state_size = f[STATE_NEW].off >= 0 ? f[STATE_NEW].size : f[STATE_OLD].size;
	y->exit_state = f[EXIT_STATE].off;
	y->real_parent = f[PARENT].off;
	y->cpu = f[TI_CPU].off >= 0 ? f[TI_CPU].off : f[CPU].off;
	y->cpu_size = f[TI_CPU].off >= 0 ? f[TI_CPU].size : f[CPU].size;
	y->thread_group = f[THREAD_GROUP].off;
	y->signal = f[SIGNAL].off;
	y->thread_node = f[THREAD_NODE].off;
	y->mm = f[MM].off;
	y->thread_head = f[THREAD_HEAD].off;
	y->thread_sp = f[THREAD_SP].off;
	y->current_task = hot ? (f[HOT_CURRENT].off >= 0 ? hot + (uint64_t)f[HOT_CURRENT].off : 0) : linux_sym(t, "current_task");
	if (y->tasks < 0 || y->pid < 0 || y->tgid < 0 || y->comm < 0 || y->state < 0 || y->real_parent < 0) {
		snprintf(y->why, sizeof(y->why), "task_struct in the symbol file's DWARF lacks tasks, pid, tgid, comm, __state or real_parent");
		return y;
	}
	if (y->comm_size == 0 || y->comm_size > 16)
		y->comm_size = 16;
	if (y->state_size != 4 && y->state_size != 8)
		y->state_size = 4;
	if (y->cpu_size != 4)
		y->cpu_size = 4;
	{ /* one read per task: from the start (thread_info.cpu, __state) to the last field */
		const int64_t ends[] = { y->tasks + 16, y->pid + 4, y->tgid + 4, y->comm + (int64_t)y->comm_size,
					 y->state + (int64_t)y->state_size, y->exit_state + 4, y->real_parent + 8, y->cpu + 4,
					 y->thread_group + 16, y->signal + 8, y->thread_node + 16, y->mm + 8 };
		for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
			if (ends[i] > (int64_t)y->span)
				y->span = (uint64_t)ends[i];
	}
	if (y->span > (1u << 16))
		snprintf(y->why, sizeof(y->why), "task_struct's fields reach past 64 KiB in the symbol file's DWARF");
	return y;
}

/* The kernel's __task_state_index (TASK_REPORT bits, TASK_IDLE as its own), in crash's spelling. */
static const char *state_name(uint64_t state, uint32_t exit_state)
{
	static const char *const names[] = { "RU", "IN", "UN", "ST", "TR", "DE", "ZO", "PA", "ID" };
	uint64_t s = (state | exit_state) & 0x7f;
	int idx = 0;
	if ((state & 0xfff) == 0x402) /* TASK_IDLE: TASK_UNINTERRUPTIBLE | TASK_NOLOAD */
		return names[8];
	if (state & 0x1000) /* TASK_RTLOCK_WAIT counts as uninterruptible */
		s |= 2;
	while (s) {
		idx++;
		s >>= 1;
	}
	return names[idx];
}

static uint64_t get(const uint8_t *buf, int64_t off, uint64_t size)
{
	uint64_t v = 0;
	memcpy(&v, buf + off, size);
	return v;
}

/* Adds the task at addr; false when it was there already (a loop) or cannot be read. */
static bool add_task(struct target *t, const struct task_layout *y, struct task_set *s, uint64_t addr)
{
	uint8_t *buf;
	size_t h;
	struct linux_task *k;
	uint64_t parent;
	int32_t ppid = 0;
	if (!addr || s->n >= MAX_TASKS)
		return false;
	if (s->n * 2 >= s->seen_cap) { /* grow the set */
		uint64_t *old = s->seen;
		size_t oc = s->seen_cap;
		s->seen_cap = oc ? oc * 2 : 1024;
		s->seen = xcalloc(s->seen_cap, sizeof(*s->seen));
		for (size_t i = 0; i < oc; i++)
			if (old[i]) {
				for (h = (old[i] >> 6) % s->seen_cap; s->seen[h]; h = (h + 1) % s->seen_cap)
					;
				s->seen[h] = old[i];
			}
		free(old);
	}
	for (h = (addr >> 6) % s->seen_cap; s->seen[h]; h = (h + 1) % s->seen_cap)
		if (s->seen[h] == addr)
			return false;
	buf = xcalloc(1, y->span);
	if (!linux_read(t, addr, buf, y->span)) {
		snprintf(s->note, sizeof(s->note), "cannot read the task_struct at 0x%" PRIx64 " (a corrupt list?): stopped there", addr);
		free(buf);
		return false;
	}
	s->seen[h] = addr;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 256;
		s->v = realloc(s->v, s->cap * sizeof(*s->v));
		if (!s->v)
			abort();
	}
	k = &s->v[s->n++];
	memset(k, 0, sizeof(*k));
	k->addr = addr;
	k->pid = (int32_t)get(buf, y->pid, 4);
	parent = get(buf, y->real_parent, 8);
	if (k->pid && parent && linux_read(t, parent + (uint64_t)y->pid, &ppid, 4)) /* idle tasks: 0, as crash */
		k->ppid = ppid;
	k->cpu = y->cpu >= 0 ? (int32_t)get(buf, y->cpu, 4) : 0;
	memcpy(k->comm, buf + y->comm, y->comm_size);
	for (char *c = k->comm; *c; c++)
		if (*c < 0x20 || *c > 0x7e)
			*c = '?';
	snprintf(k->st, sizeof(k->st), "%s",
		 state_name(get(buf, y->state, y->state_size), y->exit_state >= 0 ? (uint32_t)get(buf, y->exit_state, 4) : 0));
	k->kernel = y->mm >= 0 && !get(buf, y->mm, 8);
	free(buf);
	return true;
}

/* A circular list from the list_head at head: each entry's containing object (entry - off)
 * to fn; stops at a loop, an unreadable entry, or MAX_TASKS. */
static void walk_list(struct target *t, const struct task_layout *y, struct task_set *s, uint64_t head, int64_t off,
		      uint64_t skip, const char *what)
{
	uint64_t p = 0;
	size_t steps = 0;
	if (!linux_read(t, head, &p, 8)) {
		snprintf(s->note, sizeof(s->note), "cannot read %s at 0x%" PRIx64 ": not walked", what, head);
		return;
	}
	while (p != head) {
		uint64_t task = p - (uint64_t)off;
		if (++steps > MAX_TASKS) {
			snprintf(s->note, sizeof(s->note), "%s does not close after %u entries (corrupt?): stopped", what, MAX_TASKS);
			return;
		}
		if (task != skip && !add_task(t, y, s, task)) {
			if (!s->note[0])
				snprintf(s->note, sizeof(s->note), "%s loops back to task 0x%" PRIx64 " (corrupt?): stopped there", what, task);
			return;
		}
		if (!linux_read(t, p, &p, 8)) {
			snprintf(s->note, sizeof(s->note), "cannot read %s entry at 0x%" PRIx64 ": stopped", what, p);
			return;
		}
	}
}

/* The other threads of the process whose leader is at leader. */
static void walk_threads(struct target *t, const struct task_layout *y, struct task_set *s, uint64_t leader)
{
	uint64_t sig = 0;
	if (y->thread_group >= 0) {
		walk_list(t, y, s, leader + (uint64_t)y->thread_group, y->thread_group, leader, "a thread group");
		return;
	}
	if (y->signal >= 0 && y->thread_node >= 0 && y->thread_head >= 0 && linux_read(t, leader + (uint64_t)y->signal, &sig, 8) && sig)
		walk_list(t, y, s, sig + (uint64_t)y->thread_head, y->thread_node, leader, "a thread list");
}

static int by_pid(const void *a, const void *b)
{
	const struct linux_task *x = a, *z = b;
	if (x->pid != z->pid)
		return x->pid < z->pid ? -1 : 1;
	return x->cpu != z->cpu ? (x->cpu < z->cpu ? -1 : 1) : (x->addr > z->addr) - (x->addr < z->addr);
}

static void print_json(const struct linux_task *v, size_t n, FILE *out)
{
	fputs("[", out);
	for (size_t i = 0; i < n; i++) {
		const struct linux_task *k = &v[i];
		fprintf(out, "%s{\"pid\": %d, \"ppid\": %d, \"cpu\": %d, \"task\": \"0x%" PRIx64 "\", \"state\": \"%s\", \"comm\": ",
			i ? ", " : "", k->pid, k->ppid, k->cpu, k->addr, k->st);
		json_write_str(out, k->comm);
		fprintf(out, ", \"kernel\": %s, \"current\": %s}", k->kernel ? "true" : "false", k->current ? "true" : "false");
	}
	fputs("]\n", out);
}

struct linux_task *linux_tasks(struct target *t, size_t *n, char *note, size_t note_len, FILE *out)
{
	struct task_layout *y = layout(t);
	struct task_set s = { 0 };
	uint64_t init = linux_sym(t, "init_task"), idle = linux_sym(t, "idle_threads");
	unsigned ncpu = linux_nr_cpus(t);
	if (y->why[0] || !init) {
		fprintf(out, "mdb: cannot list Linux tasks: %s\n", y->why[0] ? y->why : "the vmlinux has no init_task");
		return NULL;
	}
	/* the idle task of each CPU (pid 0; init_task is CPU 0's), then every process */
	add_task(t, y, &s, init);
	for (unsigned c = 0; idle && c < ncpu; c++) {
		uint64_t a, task = 0;
		if (linux_percpu(t, c, idle, &a) && linux_read(t, a, &task, 8) && task)
			add_task(t, y, &s, task);
	}
	walk_list(t, y, &s, init + (uint64_t)y->tasks, y->tasks, init, "init_task.tasks");
	for (size_t i = 0, m = s.n; i < m && i < s.n; i++)
		if (s.v[i].pid != 0)
			walk_threads(t, y, &s, s.v[i].addr);
	for (unsigned c = 0; y->current_task && c < ncpu; c++) {
		uint64_t a, cur = 0;
		if (!linux_percpu(t, c, y->current_task, &a) || !linux_read(t, a, &cur, 8))
			continue;
		for (size_t i = 0; i < s.n; i++)
			if (s.v[i].addr == cur)
				s.v[i].current = true;
	}
	qsort(s.v, s.n, sizeof(*s.v), by_pid);
	free(s.seen);
	snprintf(note, note_len, "%s", s.note);
	*n = s.n;
	return s.v ? s.v : xcalloc(1, sizeof(*s.v));
}

bool linux_task_saved_sp(struct target *t, uint64_t task, uint64_t *sp)
{
	struct task_layout *y = layout(t);
	return !y->why[0] && y->thread_sp >= 0 && linux_read(t, task + (uint64_t)y->thread_sp, sp, 8);
}

static void ps_row(const struct linux_task *k, FILE *out)
{
	fprintf(out, "%c%8d%8d%4d  %016" PRIx64 "  %s  %s%s%s\n", k->current ? '>' : ' ', k->pid, k->ppid, k->cpu, k->addr,
		k->st, k->kernel ? "[" : "", k->comm, k->kernel ? "]" : "");
}

#define PS_HEADER "      PID    PPID  CPU       TASK        ST  COMM\n"

int linux_foreach(struct target *t, const char *verb, char *const *sel, size_t nsel, const char *args, FILE *out)
{
	char note[200];
	size_t n, shown = 0;
	struct linux_task *v = linux_tasks(t, &n, note, sizeof(note), out);
	struct dwarf_mem m;
	struct dwarf_field ti = { .type = "task_struct", .member = "thread_info" };
	int ret = 0;
	if (!v)
		return -1;
	if (!strcmp(verb, "task") && (linux_fields(t, NULL, &ti, 1) < 0 || ti.size == 0))
		ti.off = -1;
	if (args && (strcmp(verb, "bt") || strcmp(args, "-l")))
		ret = mdb_fail(out, "foreach %s: %s, not '%s'", verb, strcmp(verb, "bt") ? "no flags" : "the one flag is -l", args);
	mdb_dwarf_mem(t, &m);
	for (size_t i = 0; !ret && i < n; i++) {
		const struct linux_task *k = &v[i];
		struct mdb_task mt = { k->addr, k->pid, k->comm, k->st, k->kernel, k->current };
		if (!mdb_foreach_match(sel, nsel, &mt))
			continue;
		if (!strcmp(verb, "ps")) {
			fputs(shown ? "" : PS_HEADER, out); /* once, before the first row: none without a row */
			ps_row(k, out);
		} else if (!strcmp(verb, "bt")) {
			fputs(shown ? "\n" : "", out);
			linux_bt_task(t, k, args != NULL, out);
		} else { /* task: crash's header, then the task_struct */
			fprintf(out, "%sPID: %-8d TASK: %016" PRIx64 "  CPU: %-4d COMMAND: \"%s\"\n", shown ? "\n" : "", k->pid,
				k->addr, k->cpu, k->comm);
			if (dwarf_cmd_object(t, "struct task_struct", k->addr, &m, out) < 0)
				ret = -1;
			else if (ti.off >= 0 && dwarf_cmd_object(t, "struct thread_info", k->addr + (uint64_t)ti.off, &m, out) < 0)
				ret = -1; /* crash's task shows it too (here inside the task: THREAD_INFO_IN_TASK) */
		}
		shown++;
	}
	if (!ret && !shown)
		ret = mdb_fail(out, "foreach: no task is %s (ps lists them)", nsel ? "one of those asked for" : "there");
	if (note[0])
		fprintf(out, "note: %s\n", note);
	free(v);
	return ret;
}

int linux_cmd_ps(struct target *t, const char *args, FILE *out)
{
	char note[200];
	size_t n;
	struct linux_task *v = linux_tasks(t, &n, note, sizeof(note), out);
	if (!v)
		return -1;
	if (t->json) {
		print_json(v, n, out);
	} else {
		bool stacks = args && strstr(args, "-v");
		fputs(PS_HEADER, out);
		for (size_t i = 0; i < n; i++) {
			const struct linux_task *k = &v[i];
			ps_row(k, out);
			if (stacks) /* ::ps -v: each task's stack under it */
				linux_bt_task(t, k, false, out);
		}
	}
	if (note[0])
		fprintf(out, "note: %s\n", note);
	free(v);
	return 0;
}
