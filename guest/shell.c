/* shell: the console shell (prompt "guest> ") and the commands that exercise the kernel
 * and the debugger: ps, dmesg, uptime, echo, panic, oops, hang, spin, deadlock, mem,
 * cpus, reboot, poweroff. Also the thread that obeys hv's shutdown/reboot requests. */
#include "hvkit/abi.h"
#include "kernel.h"

#define LINE 128
#define MEM_PATTERN 0x68766b6974000000ul /* "hvkit\0\0\0" | (offset / 8) */

struct thread *shutdown_waiter;
volatile uint32_t hv_request;
static spinlock_t dl_a = { 0, -1, "deadlock_a" }, dl_b = { 0, -1, "deadlock_b" };
static volatile uint64_t spin_counter;

static const char *const state_names[] = { "RUN", "READY", "SLEEP", "BLOCK", "DEAD" };

static void cmd_help(const char *arg)
{
	(void)arg;
	printk("commands: help ps dmesg uptime echo cpus mem N panic MSG oops hang [all] spin [all] flood churn N deadlock insns reboot poweroff [acpi|hv]\n");
}

static void cmd_ps(const char *arg)
{
	(void)arg;
	printk("  TID STATE CPU    TICKS NAME\n");
	for (struct thread *t = thread_list; t; t = t->next)
		printk("%5d %-5s %3d %8lu %s\n", t->tid, state_names[t->state], t->cpu, t->runtime_ticks, t->name);
}

static void cmd_uptime(const char *arg)
{
	(void)arg;
	printk("up %lu.%02lu s, %d CPUs, %lu MiB RAM, %lu MiB free\n", jiffies / HZ, jiffies % HZ, ncpus,
	       mm_total_bytes() >> 20, mm_free_bytes() >> 20);
}

static void cmd_cpus(const char *arg)
{
	(void)arg;
	printk("CPU APIC ONLINE    TICKS     IRQS NMIS CURRENT\n");
	for (int i = 0; i < ncpus; i++)
		printk("%3d %4u %6s %8lu %8lu %4lu %s\n", i, cpus[i].apic_id, cpus[i].online ? "yes" : "no", cpus[i].ticks,
		       cpus[i].irqs, cpus[i].nmis, cpus[i].current ? cpus[i].current->name : "-");
}

static void cmd_oops(const char *arg)
{
	volatile uint64_t *p = (volatile uint64_t *)(uint64_t)(arg ? 0 : 0);
	printk("oops: dereferencing a NULL pointer\n");
	*p = 0xdead;
}

static void __attribute__((noinline)) hang_forever(void)
{
	for (;;)
		__asm__ volatile("" ::: "memory");
}

static void hang_main(void *arg)
{
	(void)arg;
	irq_disable();
	hang_forever();
}

/* hang: this CPU; hang all: every CPU (a thread per other CPU goes first) */
static void cmd_hang(const char *arg)
{
	if (arg && !strcmp(arg, "all")) {
		char name[16];
		for (int i = 0; i < ncpus; i++) {
			if (i == this_cpu()->id || !cpus[i].online)
				continue;
			snprintf(name, sizeof(name), "hang/%d", i);
			thread_create(name, i, hang_main, NULL);
		}
		sleep_ms(50);
	}
	printk("hang: interrupts off, spinning forever on CPU %d\n", this_cpu()->id);
	irq_disable();
	hang_forever();
}

static void spin_main(void *arg)
{
	(void)arg;
	for (;;)
		spin_counter++;
}

static int least_loaded_cpu(void);

static void flood_main(void *arg)
{
	uint64_t n = 0;
	(void)arg;
	for (;;)
		printk("flood %lu: the quick brown fox jumps over the lazy dog\n", n++);
}

/* churn: a thread rewrites words of a buffer at random for ever, keeping
 * churn_state.xor == XOR of every word; an update in flight is described in
 * churn_state.pending first, so a dump taken at any instant can be checked exactly. */
struct churn_state {
	uint64_t *buf;
	uint64_t words;
	uint64_t xor;
	uint64_t updates;
	volatile uint64_t pending_valid, pending_index, pending_old, pending_new;
};
struct churn_state churn_state;

static void churn_main(void *arg)
{
	struct churn_state *c = arg;
	uint64_t x = 0x9e3779b97f4a7c15ul;
	for (;;) {
		uint64_t i, old, new;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		i = x % c->words;
		old = c->buf[i];
		new = x * 0x2545f4914f6cdd1dul;
		c->pending_index = i;
		c->pending_old = old;
		c->pending_new = new;
		__asm__ volatile("" ::: "memory");
		c->pending_valid = 1;
		__asm__ volatile("" ::: "memory");
		c->buf[i] = new;
		c->xor ^= old ^ new;
		c->updates++;
		__asm__ volatile("" ::: "memory");
		c->pending_valid = 0;
	}
}

static void cmd_churn(const char *arg)
{
	long mib = parse_long(arg ? arg : "1", NULL);
	if (churn_state.buf) {
		printk("churn: already running\n");
		return;
	}
	if (mib <= 0 || mib > 1024) {
		printk("usage: churn N (MiB, 1-1024)\n");
		return;
	}
	churn_state.words = ((uint64_t)mib << 20) / 8;
	churn_state.buf = page_alloc((uint64_t)mib << 20);
	if (!churn_state.buf) {
		printk("churn: out of memory\n");
		return;
	}
	/* fresh pages from the allocator are zero (RAM comes zeroed): XOR starts at 0 */
	thread_create("churn", least_loaded_cpu(), churn_main, &churn_state);
	printk("churn: rewriting %ld MiB at physical %lx at random; churn_state at %lx\n", mib, V2P(churn_state.buf),
	       V2P(&churn_state));
}

static void cmd_flood(const char *arg)
{
	(void)arg;
	thread_create("flood", ncpus > 1 ? ncpus - 1 : 0, flood_main, NULL);
}

static int least_loaded_cpu(void)
{
	return ncpus > 1 ? ncpus - 1 : 0;
}

/* spin: one busy thread on the last CPU; spin all: one on every CPU */
static void cmd_spin(const char *arg)
{
	bool all = arg && !strcmp(arg, "all");
	for (int i = all ? 0 : least_loaded_cpu(); i < ncpus; i++) {
		char name[16];
		struct thread *t;
		if (!cpus[i].online)
			continue;
		snprintf(name, sizeof(name), all ? "spin/%d" : "spin", i);
		t = thread_create(name, i, spin_main, NULL);
		printk("spin: thread %d busy-loops on CPU %d\n", t->tid, t->cpu);
		if (!all)
			break;
	}
}

static int dl_holding; /* threads that hold their first lock */

static void __attribute__((noinline)) deadlock_take(spinlock_t *first, spinlock_t *second)
{
	spin_lock(first);
	/* wait until the other thread holds its first lock too, however late it was scheduled:
	 * then neither can ever get its second */
	__atomic_add_fetch(&dl_holding, 1, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&dl_holding, __ATOMIC_SEQ_CST) < 2)
		cpu_relax();
	spin_lock(second);
	spin_unlock(second);
	spin_unlock(first);
}

static void dl_a_main(void *arg)
{
	(void)arg;
	deadlock_take(&dl_a, &dl_b);
}

static void dl_b_main(void *arg)
{
	(void)arg;
	deadlock_take(&dl_b, &dl_a);
}

static void cmd_deadlock(const char *arg)
{
	(void)arg;
	dl_holding = 0;
	thread_create("dl-a", ncpus > 1 ? 1 : 0, dl_a_main, NULL);
	thread_create("dl-b", ncpus > 2 ? 2 : 0, dl_b_main, NULL);
	printk("deadlock: dl-a takes deadlock_a then deadlock_b, dl-b the other way round\n");
}

static void cmd_mem(const char *arg)
{
	const char *end;
	long mib = parse_long(arg ? arg : "", &end);
	uint64_t *p, words;
	if (mib <= 0 || mib > 4096) {
		printk("usage: mem N (MiB, 1-4096)\n");
		return;
	}
	p = page_alloc((uint64_t)mib << 20);
	if (!p) {
		printk("mem: out of memory for %ld MiB\n", mib);
		return;
	}
	words = ((uint64_t)mib << 20) / 8;
	for (uint64_t i = 0; i < words; i++)
		p[i] = MEM_PATTERN | i;
	printk("mem: %ld MiB at physical %lx-%lx filled with %016lx | (offset / 8)\n", mib, V2P(p),
	       V2P(p) + ((uint64_t)mib << 20), MEM_PATTERN);
}

/* poweroff [acpi|hv]: through ACPI's S5 when the tables offer it, as PC kernels do, else
 * (or with "hv") through hv's port command. */
static void cmd_poweroff(const char *arg)
{
	bool hv_only = arg && strcmp(arg, "hv") == 0;

	if (arg && *arg && !hv_only && strcmp(arg, "acpi") != 0) {
		printk("usage: poweroff [acpi|hv]\n");
		return;
	}
	if (arg && strcmp(arg, "acpi") == 0 && !acpi_can_poweroff()) {
		printk("poweroff: the ACPI tables offer no S5\n");
		return;
	}
	printk("Power down.\n");
	if (!hv_only)
		acpi_poweroff();
	hv_poweroff();
	for (;;)
		__asm__ volatile("cli; hlt");
}

static void cmd_reboot(const char *arg)
{
	(void)arg;
	printk("Restarting system.\n");
	hv_reboot();
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* insns: the instructions a host's emulator may reject and hv completes (kvm_pvm: int3,
 * int N, fwait, ldmxcsr, stmxcsr), each run once with its result checked. */
static void cmd_insns(const char *arg)
{
	unsigned long bp = selftest_hits[0], sw = selftest_hits[1];
	uint64_t after_bp, after_sw;
	uint32_t in = 0x1fc0, out = 0, saved = 0;
	(void)arg;
	__asm__ volatile("lea 1f(%%rip), %0; int3; 1:" : "=r"(after_bp) : : "memory");
	printk("int3: %s (trap returned to %s)\n", selftest_hits[0] == bp + 1 ? "ok" : "FAILED",
	       selftest_rip[0] == after_bp ? "the next instruction" : "a wrong rip");
	__asm__ volatile("lea 1f(%%rip), %0; int $35; 1:" : "=r"(after_sw) : : "memory");
	printk("int $35: %s (trap returned to %s)\n", selftest_hits[1] == sw + 1 ? "ok" : "FAILED",
	       selftest_rip[1] == after_sw ? "the next instruction" : "a wrong rip");
	__asm__ volatile("fwait");
	printk("fwait: ok\n");
	__asm__ volatile("stmxcsr %0" : "=m"(saved));
	__asm__ volatile("ldmxcsr %1; stmxcsr %0" : "=m"(out) : "m"(in));
	__asm__ volatile("ldmxcsr %0" : : "m"(saved));
	printk("ldmxcsr/stmxcsr: wrote 0x%x, read 0x%x: %s (was 0x%x)\n", in, out, out == in ? "ok" : "FAILED", saved);
}

static void run(char *line)
{
	static const struct {
		const char *name;
		void (*fn)(const char *arg);
	} cmds[] = {
		{ "help", cmd_help }, { "ps", cmd_ps }, { "uptime", cmd_uptime }, { "cpus", cmd_cpus },
		{ "oops", cmd_oops }, { "hang", cmd_hang }, { "spin", cmd_spin }, { "deadlock", cmd_deadlock },
		{ "mem", cmd_mem }, { "poweroff", cmd_poweroff }, { "reboot", cmd_reboot }, { "flood", cmd_flood }, { "churn", cmd_churn },
		{ "insns", cmd_insns },
	};
	char *arg;
	while (*line == ' ')
		line++;
	if (!*line)
		return;
	for (arg = line; *arg && *arg != ' '; arg++)
		;
	if (*arg)
		*arg++ = 0;
	while (*arg == ' ')
		arg++;
	if (!strcmp(line, "echo")) {
		printk("%s\n", arg);
		return;
	}
	if (!strcmp(line, "dmesg")) {
		log_dump();
		return;
	}
	if (!strcmp(line, "panic")) {
		panic("%s", *arg ? arg : "requested from the shell");
	}
	for (unsigned i = 0; i < ARRAY_SIZE(cmds); i++) {
		if (!strcmp(line, cmds[i].name)) {
			cmds[i].fn(*arg ? arg : NULL);
			return;
		}
	}
	printk("unknown command: %s\n", line);
}

void shell_main(void *arg)
{
	char line[LINE];
	size_t n = 0;
	(void)arg;
	serial_write("guest> ", 7);
	for (;;) {
		int c = serial_getc();
		if (c == '\r' || c == '\n') {
			serial_write("\n", 1);
			line[n] = 0;
			run(line);
			n = 0;
			serial_write("guest> ", 7);
		} else if (c == 0x7f || c == 0x08) {
			if (n) {
				n--;
				serial_write("\b \b", 3);
			}
		} else if (c == 0x15) { /* Ctrl-U */
			while (n) {
				n--;
				serial_write("\b \b", 3);
			}
		} else if (c >= 0x20 && c < 0x7f && n < LINE - 1) {
			char ch = (char)c;
			line[n++] = ch;
			serial_write(&ch, 1);
		}
	}
}

void sysrq_handle(char key)
{
	switch (key) {
	case 'c':
		printk("sysrq: Trigger a crash\n");
		panic("sysrq triggered crash");
	case 'b':
		printk("sysrq: Resetting\n");
		cmd_reboot(NULL);
		break;
	case 'o':
		printk("sysrq: Power Off\n");
		cmd_poweroff(NULL);
		break;
	case 't':
		printk("sysrq: Show State\n");
		cmd_ps(NULL);
		break;
	case 'l':
		printk("sysrq: Show backtrace of all active CPUs\n");
		printk("NMI backtrace for cpu %d: in %s\n", this_cpu()->id,
		       this_cpu()->current ? this_cpu()->current->name : "-");
		lapic_send_nmi_all_but_self(); /* each says where it was */
		break;
	default:
		printk("sysrq: HELP : reboot(b) crash(c) show-backtrace-all-active-cpus(l) poweroff(o) "
		       "show-task-states(t)\n");
	}
}

void shutdown_thread(void *arg)
{
	(void)arg;
	for (;;) {
		uint32_t req;
		thread_block();
		req = hv_request;
		hv_request = 0;
		if (req == HVKIT_REQ_SHUTDOWN) {
			printk("\nhv asked for a shutdown: stopping\n");
			sleep_ms(200); /* what a real kernel spends stopping its services */
			cmd_poweroff(NULL);
		} else if (req == HVKIT_REQ_REBOOT) {
			printk("\nhv asked for a reboot\n");
			sleep_ms(200);
			cmd_reboot(NULL);
		}
	}
}
