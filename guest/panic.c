/* panic: the oops report (exception, registers, backtrace with symbol names) and panic():
 * record struct panic_info for debuggers, stop the other CPUs, tell hv, halt. */
#include "kernel.h"

volatile bool panicking;
struct panic_info panic_info;

/* The kernel's own symbol table, generated at build time (guest/mksyms.sh), like kallsyms. */
struct ksym {
	uint64_t addr;
	const char *name;
};
extern const struct ksym ksyms[] __attribute__((weak));
extern const uint64_t ksyms_count __attribute__((weak));
extern char _text[], _etext[];

const char *ksym_lookup(uint64_t addr, uint64_t *offset)
{
	uint64_t lo = 0, hi;
	if (!&ksyms_count || !ksyms_count || addr < (uint64_t)_text || addr >= (uint64_t)_etext || addr < ksyms[0].addr)
		return NULL;
	hi = ksyms_count;
	while (hi - lo > 1) {
		uint64_t mid = (lo + hi) / 2;
		if (ksyms[mid].addr <= addr)
			lo = mid;
		else
			hi = mid;
	}
	*offset = addr - ksyms[lo].addr;
	return ksyms[lo].name;
}

static void print_addr(const char *prefix, uint64_t a)
{
	uint64_t off;
	const char *s = ksym_lookup(a, &off);
	if (s)
		printk("%s[<%016lx>] %s+0x%lx\n", prefix, a, s, off);
	else
		printk("%s[<%016lx>] ?\n", prefix, a);
}

static bool kernel_addr(uint64_t a)
{
	return a >= KERNEL_BASE || (a >= DIRECT_MAP && a < DIRECT_MAP + (4ull << 30));
}

void backtrace_print(uint64_t rbp, uint64_t rip)
{
	panic_info.nframes = 0;
	printk("Call Trace:\n");
	print_addr(" ", rip);
	panic_info.backtrace[panic_info.nframes++] = rip;
	for (int i = 0; i < PANIC_FRAMES - 1 && rbp && !(rbp & 7) && kernel_addr(rbp); i++) {
		uint64_t *f = (uint64_t *)rbp;
		if (!f[1])
			break;
		print_addr(" ", f[1]);
		panic_info.backtrace[panic_info.nframes++] = f[1];
		if (f[0] <= rbp)
			break;
		rbp = f[0];
	}
}

static const char *const exc_names[32] = {
	"divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
	"device not available", "double fault", "coprocessor overrun", "invalid TSS", "segment not present",
	"stack fault", "general protection fault", "page fault", "reserved", "x87 FPU error", "alignment check",
	"machine check", "SIMD exception", "virtualization exception", "control protection",
};

static void stop_others(void)
{
	panicking = true;
	if (ncpus > 1)
		lapic_send_nmi_all_but_self();
}

static noreturn void panic_finish(void)
{
	printk("---[ end Kernel panic - not syncing: %s ]---\n", panic_info.msg);
	hv_panic(panic_info.msg);
	for (;;)
		__asm__ volatile("cli; hlt");
}

noreturn void oops(struct trapframe *tf)
{
	const char *name = tf->vector < 32 && exc_names[tf->vector] ? exc_names[tf->vector] : "exception";
	irq_disable();
	if (panicking)
		for (;;)
			__asm__ volatile("cli; hlt");
	stop_others();
	panic_info.active = true;
	panic_info.cpu = this_cpu()->id;
	panic_info.has_frame = true;
	panic_info.frame = *tf;
	if (tf->vector == 14)
		printk("BUG: unable to handle page fault for address: %016lx\n", read_cr2());
	printk("Oops: %s (vector %lu, error code %lx) on CPU %d, thread %s\n", name, tf->vector, tf->error_code, this_cpu()->id,
	       this_cpu()->current ? this_cpu()->current->name : "?");
	print_addr("RIP: ", tf->rip);
	printk("RSP: %016lx EFLAGS: %08lx CS: %04lx SS: %04lx\n", tf->rsp, tf->rflags, tf->cs, tf->ss);
	printk("RAX: %016lx RBX: %016lx RCX: %016lx\n", tf->rax, tf->rbx, tf->rcx);
	printk("RDX: %016lx RSI: %016lx RDI: %016lx\n", tf->rdx, tf->rsi, tf->rdi);
	printk("RBP: %016lx R08: %016lx R09: %016lx\n", tf->rbp, tf->r8, tf->r9);
	printk("R10: %016lx R11: %016lx R12: %016lx\n", tf->r10, tf->r11, tf->r12);
	printk("R13: %016lx R14: %016lx R15: %016lx\n", tf->r13, tf->r14, tf->r15);
	printk("CR2: %016lx CR3: %016lx\n", read_cr2(), read_cr3());
	backtrace_print(tf->rbp, tf->rip);
	snprintf(panic_info.msg, sizeof(panic_info.msg), "Fatal exception (%s) in %s", name,
		 this_cpu()->current ? this_cpu()->current->name : "?");
	printk("Kernel panic - not syncing: %s\n", panic_info.msg);
	panic_finish();
}

noreturn void panic(const char *fmt, ...)
{
	va_list ap;
	uint64_t rbp;
	irq_disable();
	if (panicking)
		for (;;)
			__asm__ volatile("cli; hlt");
	stop_others();
	va_start(ap, fmt);
	vsnprintf(panic_info.msg, sizeof(panic_info.msg), fmt, ap);
	va_end(ap);
	panic_info.active = true;
	panic_info.cpu = this_cpu()->id;
	printk("Kernel panic - not syncing: %s\n", panic_info.msg);
	__asm__ volatile("mov %%rbp, %0" : "=r"(rbp));
	/* from our caller: its return address, then its frame's chain */
	backtrace_print(*(uint64_t *)rbp, (uint64_t)__builtin_return_address(0));
	panic_finish();
}
