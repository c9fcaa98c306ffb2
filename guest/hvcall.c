/* hvcall: the hvkit paravirtual port block (include/hvkit/abi.h), used only when CPUID
 * shows the hvkit signature; elsewhere (QEMU, hardware) the PC ways are used instead. */
#include "hvkit/abi.h"
#include "kernel.h"

static int present = -1;

bool hv_present(void)
{
	uint32_t a, b, c, d;
	if (present < 0) {
		cpuid(HVKIT_CPUID_BASE, 0, &a, &b, &c, &d);
		present = b == HVKIT_CPUID_SIG_EBX && c == HVKIT_CPUID_SIG_ECX && d == HVKIT_CPUID_SIG_EDX;
	}
	return present;
}

uint32_t hv_lapic_khz(void)
{
	uint32_t a, b, c, d;
	if (!hv_present())
		return 0;
	cpuid(HVKIT_CPUID_BASE, 0, &a, &b, &c, &d);
	if (a < HVKIT_CPUID_TIMING)
		return 0;
	cpuid(HVKIT_CPUID_TIMING, 0, &a, &b, &c, &d);
	return b;
}

void hv_cpu_up(uint32_t vcpu, uint32_t entry32, uint32_t ebx)
{
	outl(HVKIT_PORT_ARG0, vcpu);
	outl(HVKIT_PORT_ARG1, entry32);
	outl(HVKIT_PORT_ARG2, ebx);
	outl(HVKIT_PORT_CMD, HVKIT_CMD_CPU_UP);
}

void hv_panic(const char *msg)
{
	if (!hv_present())
		return;
	outl(HVKIT_PORT_ARG0, (uint32_t)V2P(msg));
	outl(HVKIT_PORT_CMD, HVKIT_CMD_PANIC);
}

void hv_poweroff(void)
{
	if (hv_present())
		outl(HVKIT_PORT_CMD, HVKIT_CMD_POWEROFF);
	outb(0xf4, 0);            /* QEMU isa-debug-exit, when present */
	__asm__ volatile("outw %0, %1" : : "a"((uint16_t)0x2000), "Nd"((uint16_t)0x604)); /* QEMU PIIX4/ICH9 ACPI */
}

void hv_reboot(void)
{
	if (hv_present())
		outl(HVKIT_PORT_CMD, HVKIT_CMD_REBOOT);
	outb(0x64, 0xfe);         /* keyboard controller reset */
}

void hv_set_event(uint8_t vector, uint32_t apic)
{
	if (!hv_present())
		return;
	outl(HVKIT_PORT_ARG0, vector);
	outl(HVKIT_PORT_ARG1, apic);
	outl(HVKIT_PORT_CMD, HVKIT_CMD_SET_EVENT);
}

uint32_t hv_get_request(void)
{
	if (!hv_present())
		return HVKIT_REQ_NONE;
	outl(HVKIT_PORT_CMD, HVKIT_CMD_GET_REQUEST);
	return inl(HVKIT_PORT_ARG0);
}
