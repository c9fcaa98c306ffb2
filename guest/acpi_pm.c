/* acpi_pm: powering off through ACPI, as a PC kernel does: SLP_TYP from the DSDT's \_S5
 * package and either the hardware-reduced FADT's sleep control register (hv's tables) or
 * PM1a/PM1b control (QEMU's PIIX4 and ICH9, real PCs). Everything read from the tables is
 * bounds-checked; a DSDT whose \_S5 cannot be read leaves poweroff to hv's port. */
#include "kernel.h"

#define FADT_HW_REDUCED (1u << 20)
#define PM1_SLP_EN 0x2000
#define SLEEP_CTL_EN 0x20
#define SLEEP_STS_WAK 0x80

static struct {
	bool ok;
	bool reduced;          /* hardware-reduced: sleep control/status registers */
	uint16_t ctl, sts;     /* their I/O ports */
	uint16_t pm1a, pm1b;   /* else PM1 control blocks */
	uint8_t typ_a, typ_b;
} s5;

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* An I/O-space generic address structure's port, or 0. */
static uint16_t gas_port(const uint8_t *g)
{
	uint64_t a = get64(g + 4);
	return g[0] == 1 && a && a < 0x10000 ? (uint16_t)a : 0;
}

/* One AML integer (ZeroOp, OneOp, BytePrefix, WordPrefix, DWordPrefix) at p, below end: its
 * low byte into v; the bytes it took, or 0. */
static int aml_int(const uint8_t *p, const uint8_t *end, uint8_t *v)
{
	if (p >= end)
		return 0;
	switch (*p) {
	case 0x00: *v = 0; return 1;
	case 0x01: *v = 1; return 1;
	case 0x0a: if (end - p < 2) return 0; *v = p[1]; return 2;
	case 0x0b: if (end - p < 3) return 0; *v = p[1]; return 3;
	case 0x0c: if (end - p < 5) return 0; *v = p[1]; return 5;
	}
	return 0;
}

/* Name (_S5, Package () { SLP_TYPa, SLP_TYPb, ... }) somewhere in the DSDT's AML. */
static bool find_s5(const uint8_t *dsdt)
{
	uint32_t len = get32(dsdt + 4);
	const uint8_t *end = dsdt + len;

	for (const uint8_t *p = dsdt + 36; p + 4 <= end; p++) {
		const uint8_t *q = p + 4;
		int n;
		if (memcmp(p, "_S5_", 4) || p == dsdt + 36 || (p[-1] != 0x08 && !(p[-1] == '\\' && p[-2] == 0x08)))
			continue;
		if (q >= end || *q++ != 0x12)  /* PackageOp */
			continue;
		if (q >= end)
			return false;
		q += 1 + (*q >> 6);            /* PkgLength: its lead byte says how many follow */
		if (q >= end || *q++ < 1)      /* NumElements */
			return false;
		if (!(n = aml_int(q, end, &s5.typ_a)))
			return false;
		s5.typ_b = s5.typ_a;
		aml_int(q + n, end, &s5.typ_b);  /* one-element packages hold both (ACPI 1.0) */
		return true;
	}
	return false;
}

void acpi_pm_init(const uint8_t *fadt)
{
	uint32_t len = get32(fadt + 4);
	const uint8_t *dsdt = NULL;

	if (len >= 148 && get64(fadt + 140))
		dsdt = acpi_table(get64(fadt + 140), "DSDT");
	if (!dsdt && len >= 44)
		dsdt = acpi_table(get32(fadt + 40), "DSDT");
	if (!dsdt || !find_s5(dsdt))
		return;
	s5.reduced = len >= 116 && (get32(fadt + 112) & FADT_HW_REDUCED);
	if (s5.reduced) {
		if (len < 268 || !(s5.ctl = gas_port(fadt + 244)))
			return;
		s5.sts = gas_port(fadt + 256);
	} else {
		if (len >= 184)
			s5.pm1a = gas_port(fadt + 172);
		if (!s5.pm1a && len >= 68 && get32(fadt + 64) < 0x10000)
			s5.pm1a = (uint16_t)get32(fadt + 64);
		if (len >= 196)
			s5.pm1b = gas_port(fadt + 184);
		if (!s5.pm1b && len >= 72 && get32(fadt + 68) < 0x10000)
			s5.pm1b = (uint16_t)get32(fadt + 68);
		if (!s5.pm1a)
			return;
	}
	s5.ok = true;
}

void acpi_pm_report(void)
{
	if (!s5.ok)
		printk("ACPI: no S5 (poweroff goes through hv's port)\n");
	else if (s5.reduced)
		printk("ACPI: S5 through the sleep control register 0x%x, SLP_TYP %u\n", s5.ctl, s5.typ_a);
	else
		printk("ACPI: S5 through PM1a control 0x%x, SLP_TYP %u\n", s5.pm1a, s5.typ_a);
}

bool acpi_can_poweroff(void)
{
	return s5.ok;
}

void acpi_poweroff(void)
{
	if (!s5.ok)
		return;
	irq_disable();
	if (s5.reduced) {
		if (s5.sts)
			outb(s5.sts, SLEEP_STS_WAK); /* clear WAK_STS, as ACPICA does first */
		outb(s5.ctl, (uint8_t)(((s5.typ_a << 2) & 0x1c) | SLEEP_CTL_EN));
	} else {
		outw(s5.pm1a, (uint16_t)((inw(s5.pm1a) & ~0x3c00) | ((s5.typ_a & 7) << 10) | PM1_SLP_EN));
		if (s5.pm1b)
			outw(s5.pm1b, (uint16_t)((inw(s5.pm1b) & ~0x3c00) | ((s5.typ_b & 7) << 10) | PM1_SLP_EN));
	}
	for (int i = 0; i < 100000; i++) /* the write takes effect at once; give it a moment */
		cpu_relax();
}
