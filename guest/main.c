/* main: kmain, the boot CPU's path from the PVH entry to the shell: per-CPU tables, the
 * console, memory, ACPI, interrupts, timers, the other CPUs, the kernel threads. */
#include "hvkit/abi.h"
#include "kernel.h"

static char cmdline[256];

uint64_t kworker_rounds[MAX_CPUS];

static void kworker_main(void *arg)
{
	(void)arg;
	for (;;) {
		sleep_ms(1000);
		kworker_rounds[this_cpu()->id]++; /* a little periodic work, like a real kworker */
	}
}

/* The 8259s: the IOAPIC and LAPICs do the work, so they are masked, first re-initialized with
 * their vectors above the ones we use (firmware leaves them at 0x08-0x0f, the exceptions'; a
 * stray one just gets an EOI). Re-initializing also clears what they had latched.
 *
 * This must come before lapic_init masks LINT0. Firmware leaves LINT0 in ExtINT mode, so a
 * PIC line raised after the PVH entry (SeaBIOS's PIT tick, IRQ 0, 18.2 Hz) makes QEMU's TCG
 * mark CPU 0's interrupt pending while interrupts are off. Masking the PIC while LINT0 still
 * listens lowers that request again; masking LINT0 first left it standing, and the first sti
 * then took an interrupt with no vector: QEMU raises #GP with error code -14 (intno -1), an
 * oops "general protection fault" in kworker/0 at thread_trampoline, in about 1 boot of 12,
 * and in every boot with a 200 ms wait before lapic_init. */
static void pic_disable(void)
{
	outb(0x20, 0x11); /* ICW1: initialize, ICW4 follows */
	outb(0xa0, 0x11);
	outb(0x21, 0xf0); /* ICW2: vectors 0xf0-0xf7 and 0xf8-0xff (a stray one just gets an EOI) */
	outb(0xa1, 0xf8);
	outb(0x21, 0x04); /* ICW3: the slave on IRQ 2 */
	outb(0xa1, 0x02);
	outb(0x21, 0x01); /* ICW4: 8086 mode */
	outb(0xa1, 0x01);
	outb(0x21, 0xff); /* OCW1: every line masked */
	outb(0xa1, 0xff);
}

/* The decimal value of "NAME=" on the command line (at most 1000000), or -1. */
static long cmdline_value(const char *name)
{
	size_t n = strlen(name);

	for (const char *p = cmdline; *p;) {
		if ((p == cmdline || p[-1] == ' ') && strncmp(p, name, n) == 0 && p[n] == '=') {
			long v = 0;
			for (p += n + 1; *p >= '0' && *p <= '9'; p++)
				v = v < 1000000 ? v * 10 + (*p - '0') : v;
			return v;
		}
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	return -1;
}

/* earlywait=MS: wait MS ms (at most 10 s) on the PIT's channel 2, interrupts off, before the
 * interrupt controllers are set up, so that whatever firmware's devices raise meanwhile is
 * pending there: the boot must cope (a test for pic_disable's order). */
static void early_wait(void)
{
	long ms = cmdline_value("earlywait");

	if (ms <= 0)
		return;
	if (ms > 10000)
		ms = 10000;
	printk("earlywait: %ld ms with interrupts off\n", ms);
	while (ms--) {
		outb(0x61, (inb(0x61) & ~0x02) | 0x01); /* channel 2's gate on, the speaker off */
		outb(0x43, 0xb0);                         /* channel 2, both bytes, mode 0 */
		outb(0x42, 1193 & 0xff);                  /* 1 ms of 1.193182 MHz */
		outb(0x42, 1193 >> 8);
		while (!(inb(0x61) & 0x20))             /* OUT2 goes high at the count's end */
			;
	}
}

void kmain(uint32_t start_info_phys)
{
	const struct hvm_start_info *si = P2V(start_info_phys);
	char name[16];

	cpu_init_tables(0);
	trap_init();
	serial_init();
	if (si->magic != HVM_START_MAGIC_VALUE) {
		printk_raw("hvkit guest: bad PVH start_info magic\n");
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	if (si->cmdline_paddr)
		strncpy_z(cmdline, P2V(si->cmdline_paddr), sizeof(cmdline));
	mm_init(start_info_phys);
	early_wait();
	pic_disable();
	lapic_init();
	cpus[0].apic_id = lapic_id();
	acpi_init(si->rsdp_paddr);
	sched_init_cpu(0);
	cpus[0].online = true;
	printk("hvkit guest kernel %s (gcc %s) booting on %d CPU%s, %lu MiB RAM%s\n", GUEST_VERSION, __VERSION__, ncpus,
	       ncpus == 1 ? "" : "s", mm_total_bytes() >> 20, hv_present() ? ", under hv" : "");
	printk("Command line: %s\n", cmdline);
	acpi_pm_report();
	ioapic_route(4, VEC_SERIAL, cpus[0].apic_id);
	lapic_timer_start();
	smp_boot();
	/* the low identity map was only for the switch to long mode and the APs' start:
	 * drop it, so a NULL pointer faults */
	((uint64_t *)P2V(read_cr3()))[0] = 0;
	__asm__ volatile("mov %0, %%cr3" : : "r"(read_cr3()) : "memory");
	for (int i = 0; i < ncpus; i++) {
		if (!cpus[i].online)
			continue;
		snprintf(name, sizeof(name), "kworker/%d", i);
		thread_create(name, i, kworker_main, NULL);
	}
	shutdown_waiter = thread_create("kshutdown", 0, shutdown_thread, NULL);
	hv_set_event(VEC_HV_EVENT, cpus[0].apic_id);
	thread_create("shell", 0, shell_main, NULL);
	cpu_idle_loop();
}
