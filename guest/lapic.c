/* lapic: the local APIC (timer, EOI, IPIs) and the IOAPIC's redirection table, both
 * through the direct map. The timer's frequency comes from hv's CPUID timing leaf, or is
 * taken as 1 GHz (KVM's and QEMU's emulated LAPIC): no calibration loop. */
#include "kernel.h"

#define LAPIC_BASE 0xfee00000ull
#define LAPIC_ID 0x20
#define LAPIC_EOI 0xb0
#define LAPIC_SVR 0xf0
#define LAPIC_ICR_LO 0x300
#define LAPIC_ICR_HI 0x310
#define LAPIC_LVT_TIMER 0x320
#define LAPIC_LVT_LINT0 0x350
#define LAPIC_LVT_LINT1 0x360
#define LAPIC_TIMER_INIT 0x380
#define LAPIC_TIMER_DIV 0x3e0

uint64_t ioapic_phys = 0xfec00000ull;

static inline volatile uint32_t *reg(unsigned off)
{
	return (volatile uint32_t *)P2V(LAPIC_BASE + off);
}

void lapic_eoi(void)
{
	*reg(LAPIC_EOI) = 0;
}

uint32_t lapic_id(void)
{
	return *reg(LAPIC_ID) >> 24;
}

void lapic_init(void)
{
	*reg(LAPIC_SVR) = 0x100 | VEC_SPURIOUS;       /* enable */
	*reg(LAPIC_LVT_LINT0) = 0x10000;               /* masked */
	*reg(LAPIC_LVT_LINT1) = 0x400;                 /* NMI */
}

void lapic_timer_start(void)
{
	uint32_t khz = hv_lapic_khz();
	uint64_t hz = khz ? (uint64_t)khz * 1000 : 1000000000ull;
	*reg(LAPIC_TIMER_DIV) = 0x3;                   /* divide by 16 */
	*reg(LAPIC_LVT_TIMER) = 0x20000 | VEC_TIMER;   /* periodic */
	*reg(LAPIC_TIMER_INIT) = (uint32_t)(hz / 16 / HZ);
}

static void icr(uint32_t dest, uint32_t lo)
{
	*reg(LAPIC_ICR_HI) = dest << 24;
	*reg(LAPIC_ICR_LO) = lo;
	for (int i = 0; i < 100000 && (*reg(LAPIC_ICR_LO) & 0x1000); i++)
		cpu_relax();
}

void lapic_send_init_sipi(uint32_t apic, uint32_t vector_page)
{
	icr(apic, 0x4500);                  /* INIT */
	for (volatile int i = 0; i < 1000; i++)
		;
	icr(apic, 0x4600 | vector_page);    /* SIPI */
	icr(apic, 0x4600 | vector_page);
}

void lapic_send_nmi_all_but_self(void)
{
	*reg(LAPIC_ICR_HI) = 0;
	*reg(LAPIC_ICR_LO) = 0xc0000 | 0x400; /* all excluding self, NMI */
}

void ioapic_route(unsigned irq, uint8_t vector, uint32_t dest_apic)
{
	volatile uint32_t *sel = P2V(ioapic_phys), *win = P2V(ioapic_phys + 0x10);
	*sel = 0x10 + irq * 2 + 1;
	*win = dest_apic << 24;
	*sel = 0x10 + irq * 2;
	*win = vector; /* fixed, physical, active high, edge, unmasked */
}
