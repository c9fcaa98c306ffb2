/* smp: brings up the application processors listed in the MADT, one at a time: under hv
 * with its CPU_UP call (real mode, which INIT-SIPI needs, may be unavailable there),
 * elsewhere with INIT-SIPI-SIPI through the trampoline copied to 0x8000. */
#include "kernel.h"

uint64_t ap_stacks[MAX_CPUS];
extern uint32_t ap_boot_cpu;
extern char ap_start32[], trampoline_start[], trampoline_end[];

void ap_main(int id)
{
	cpu_init_tables(id);
	lapic_init();
	sched_init_cpu(id);
	cpus[id].apic_id = lapic_id();
	lapic_timer_start();
	__atomic_store_n(&cpus[id].online, true, __ATOMIC_RELEASE);
	cpu_idle_loop();
}

void smp_boot(void)
{
	bool hv = hv_present();
	if (!hv)
		memcpy(P2V(0x8000), trampoline_start, (size_t)(trampoline_end - trampoline_start));
	for (int id = 1; id < ncpus; id++) {
		uint8_t *stack = page_alloc(THREAD_STACK_SIZE);
		if (!stack)
			break;
		ap_stacks[id] = (uint64_t)(stack + THREAD_STACK_SIZE);
		ap_boot_cpu = (uint32_t)id;
		cpus[id].apic_id = cpu_apic_ids[id];
		if (hv)
			hv_cpu_up(cpu_apic_ids[id], (uint32_t)(uint64_t)ap_start32, (uint32_t)id);
		else
			lapic_send_init_sipi(cpu_apic_ids[id], 0x8000 >> 12);
		/* wait for it (bounded: a CPU that does not come is left out) */
		for (uint64_t spin = 0; spin < 20000000 && !__atomic_load_n(&cpus[id].online, __ATOMIC_ACQUIRE); spin++)
			cpu_relax();
		if (!cpus[id].online)
			printk("smp: CPU %d (APIC %u) did not come up\n", id, cpu_apic_ids[id]);
	}
}
