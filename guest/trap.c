/* trap: the C side of interrupts and exceptions: exceptions become an oops report and a
 * panic; NMIs are logged; the timer, serial and hv-event interrupts are dispatched. */
#include "kernel.h"

static void nmi(struct trapframe *tf)
{
	char line[96];
	struct cpu *c = this_cpu();
	c->nmis++;
	if (panicking) {
		for (;;)
			__asm__ volatile("cli; hlt");
	}
	/* no locks in NMI context: straight to the UART */
	snprintf(line, sizeof(line), "NMI received on CPU %d at rip %lx (count %lu)\r\n", c->id, tf->rip, c->nmis);
	printk_raw(line);
}

/* The shell's insns test: breakpoints and its software interrupt come here and return. */
volatile unsigned long selftest_hits[2];
volatile uint64_t selftest_rip[2];

void trap_dispatch(struct trapframe *tf)
{
	struct cpu *c = this_cpu();
	switch (tf->vector) {
	case 2:
		nmi(tf);
		return;
	case 3:
	case VEC_SELFTEST:
		selftest_rip[tf->vector == 3 ? 0 : 1] = tf->rip;
		selftest_hits[tf->vector == 3 ? 0 : 1]++;
		return;
	case VEC_TIMER:
		c->irqs++;
		lapic_eoi();
		if (panicking) {
			for (;;)
				__asm__ volatile("cli; hlt");
		}
		sched_tick();
		return;
	case VEC_SERIAL:
		c->irqs++;
		serial_irq();
		lapic_eoi();
		return;
	case VEC_HV_EVENT:
		c->irqs++;
		hv_request = hv_get_request();
		lapic_eoi();
		if (shutdown_waiter)
			thread_wake(shutdown_waiter);
		return;
	case VEC_SPURIOUS:
		return;
	}
	if (tf->vector < 32)
		oops(tf);
	lapic_eoi();
}
