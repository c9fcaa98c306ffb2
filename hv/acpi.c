/* acpi: the ACPI tables a domain finds through start_info's RSDP: the XSDT, the MADT (the
 * vCPUs' LAPICs and the IOAPIC), and a hardware-reduced FADT (ACPI 6.0) with the DSDT iasl
 * compiled from hv/dsdt.asl (\_S5, the power button and its generic event device): a kernel
 * powers off by writing SLP_TYP 5 and SLP_EN to the FADT's sleep control register (port
 * HVKIT_ACPI_SLEEP_CONTROL) and resets through its reset register (0xcf9 <- 6), as
 * Firecracker's and Cloud Hypervisor's guests do; acpi_press_power_button is hvctl
 * shutdown's way to ask a kernel that has no hvkit request vector (Linux). Without them Linux
 * had no way to power off (its poweroff ended in "System halted"). */
#include "internal.h"

#include <string.h>
#include <sys/ioctl.h>

#include "hvkit/abi.h"

#define FADT_LEN 276        /* ACPI 6.0: through the hypervisor vendor identity */
#define FADT_WBINVD (1u << 0)
#define FADT_PWR_BUTTON (1u << 4)  /* no fixed-feature power button */
#define FADT_SLP_BUTTON (1u << 5)  /* no fixed-feature sleep button */
#define FADT_RESET_REG_SUP (1u << 10)
#define FADT_HW_REDUCED (1u << 20)
#define BOOT_ARCH_VGA_ABSENT (1u << 2)
#define BOOT_ARCH_NO_CMOS_RTC (1u << 5)

/* hv/dsdt.asl, compiled (hv/builtin.S) */
extern const uint8_t hv_dsdt[], hv_dsdt_end[];

static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static uint8_t checksum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return (uint8_t)-s;
}

static void acpi_header(uint8_t *h, const char *sig, uint32_t len, uint8_t rev)
{
	memcpy(h, sig, 4);
	put32(h + 4, len);
	h[8] = rev;
	memcpy(h + 10, "HVKIT ", 6);
	memcpy(h + 16, "HVKITVM ", 8);
	put32(h + 24, 1);
	memcpy(h + 28, "HVKT", 4);
	put32(h + 32, 1);
	h[9] = checksum(h, len);
}

/* A generic address structure for one byte in I/O space. */
static void gas_io8(uint8_t *g, uint16_t port)
{
	g[0] = 1; /* SystemIO */
	g[1] = 8; /* bit width */
	g[2] = 0; /* bit offset */
	g[3] = 1; /* access size: byte */
	put64(g + 4, port);
}

static void acpi_fadt(uint8_t *f, uint64_t dsdt)
{
	put32(f + 40, (uint32_t)dsdt);                 /* DSDT */
	put16(f + 109, BOOT_ARCH_VGA_ABSENT | BOOT_ARCH_NO_CMOS_RTC); /* IAPC_BOOT_ARCH */
	put32(f + 112, FADT_WBINVD | FADT_PWR_BUTTON | FADT_SLP_BUTTON | FADT_RESET_REG_SUP | FADT_HW_REDUCED);
	gas_io8(f + 116, 0xcf9);                       /* RESET_REG */
	f[128] = 0x06;                                 /* RESET_VALUE: a full reset, as io.c takes it */
	f[131] = 0;                                    /* FADT minor version: 6.0 */
	put64(f + 140, dsdt);                          /* X_DSDT */
	gas_io8(f + 244, HVKIT_ACPI_SLEEP_CONTROL);
	gas_io8(f + 256, HVKIT_ACPI_SLEEP_STATUS);
	memcpy(f + 268, "hvkit\0\0\0", 8);             /* hypervisor vendor identity */
	acpi_header(f, "FACP", FADT_LEN, 6);
}

size_t acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, unsigned vcpus)
{
	const size_t rsdp_len = 36, xsdt_off = 48, xsdt_len = 36 + 2 * 8;
	const size_t fadt_off = 104, dsdt_off = fadt_off + FADT_LEN + 4, dsdt_len = (size_t)(hv_dsdt_end - hv_dsdt);
	const size_t madt_off = (dsdt_off + dsdt_len + 7) & ~(size_t)7;
	size_t madt_len = 36 + 8 + vcpus * 8 + 12, off;
	size_t total = madt_off + madt_len;
	uint8_t *r = buf, *x, *m;

	if (total > cap)
		return 0;
	memset(buf, 0, total);
	/* RSDP, ACPI 2.0 */
	memcpy(r, "RSD PTR ", 8);
	memcpy(r + 9, "HVKIT ", 6);
	r[15] = 2;
	put32(r + 20, (uint32_t)rsdp_len);
	put64(r + 24, gpa + xsdt_off);
	r[8] = checksum(r, 20);
	r[32] = checksum(r, rsdp_len);
	/* XSDT -> MADT, FADT */
	x = buf + xsdt_off;
	put64(x + 36, gpa + madt_off);
	put64(x + 44, gpa + fadt_off);
	acpi_header(x, "XSDT", (uint32_t)xsdt_len, 1);
	/* the DSDT as iasl wrote it (header and checksum included), then the FADT */
	memcpy(buf + dsdt_off, hv_dsdt, dsdt_len);
	acpi_fadt(buf + fadt_off, gpa + dsdt_off);
	/* MADT */
	m = buf + madt_off;
	put32(m + 36, 0xfee00000u); /* local APIC address */
	put32(m + 40, 1);           /* PCAT_COMPAT: there is an 8259 pair */
	off = 44;
	for (unsigned i = 0; i < vcpus; i++, off += 8) {
		m[off] = 0;             /* processor local APIC */
		m[off + 1] = 8;
		m[off + 2] = (uint8_t)i; /* ACPI processor id */
		m[off + 3] = (uint8_t)i; /* APIC id = vCPU index */
		put32(m + off + 4, 1);  /* enabled */
	}
	m[off] = 1; /* I/O APIC */
	m[off + 1] = 12;
	m[off + 2] = (uint8_t)vcpus; /* id after the LAPICs' */
	put32(m + off + 4, 0xfec00000u);
	put32(m + off + 8, 0);
	acpi_header(m, "APIC", (uint32_t)madt_len, 4);
	return total;
}

int acpi_press_power_button(struct domain *d)
{
	struct kvm_irq_level irq = { .irq = HVKIT_ACPI_GED_GSI, .level = 1 };

	if (d->vm_fd < 0 || ioctl(d->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -1;
	irq.level = 0; /* an edge: the GED's interrupt is edge-triggered */
	return ioctl(d->vm_fd, KVM_IRQ_LINE, &irq);
}

bool acpi_ged_ack(struct vcpu *v)
{
	struct domain *d = v->dom;
	bool pressed;

	pthread_mutex_lock(&d->lock);
	pressed = d->acpi_button_pressed;
	d->acpi_button_pressed = false;
	if (pressed && !d->shutdown_requested) {
		d->shutdown_requested = true; /* in shutdown: the kernel took it */
		d->shutdown_ns = time_ns();
	}
	pthread_mutex_unlock(&d->lock);
	if (pressed)
		hv_log(d->hv, "%s: vCPU %u: the kernel's ACPI took the power button press (GED _EVT): in shutdown",
		       d->name, v->index);
	return pressed;
}
