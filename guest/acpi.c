/* acpi: finds the CPUs (their local APIC ids) and the IOAPIC in the ACPI MADT, and the FADT
 * for acpi_pm.c, from start_info's RSDP or the legacy search of 0xe0000-0xfffff. Every table
 * is length- and checksum-checked before use. */
#include "kernel.h"

uint32_t cpu_apic_ids[MAX_CPUS];

static bool sum_ok(const uint8_t *p, uint32_t n)
{
	uint8_t s = 0;
	for (uint32_t i = 0; i < n; i++)
		s = (uint8_t)(s + p[i]);
	return s == 0;
}

static uint64_t find_rsdp(void)
{
	for (uint64_t a = 0xe0000; a < 0x100000; a += 16)
		if (!memcmp(P2V(a), "RSD PTR ", 8) && sum_ok(P2V(a), 20))
			return a;
	return 0;
}

const uint8_t *acpi_table(uint64_t pa, const char *sig)
{
	const uint8_t *t = P2V(pa);
	uint32_t len;
	if (!pa || pa >= 0x100000000ull || memcmp(t, sig, 4))
		return NULL;
	memcpy(&len, t + 4, 4);
	if (len < 36 || len > 65536 || !sum_ok(t, len))
		return NULL;
	return t;
}

static void parse_madt(const uint8_t *m)
{
	uint32_t len;
	memcpy(&len, m + 4, 4);
	ncpus = 0;
	for (uint32_t off = 44; off + 2 <= len; off += m[off + 1]) {
		uint8_t type = m[off], l = m[off + 1];
		uint32_t flags;
		if (l < 2 || off + l > len)
			break;
		if (type == 0 && l >= 8) {
			memcpy(&flags, m + off + 4, 4);
			if ((flags & 1) && ncpus < MAX_CPUS)
				cpu_apic_ids[ncpus++] = m[off + 3];
		} else if (type == 1 && l >= 12) {
			uint32_t a;
			memcpy(&a, m + off + 4, 4);
			ioapic_phys = a;
		}
	}
	if (!ncpus) {
		ncpus = 1;
		cpu_apic_ids[0] = lapic_id();
	}
}

void acpi_init(uint64_t rsdp)
{
	const uint8_t *r, *sdt, *madt = NULL, *fadt = NULL;
	uint32_t len;
	bool x;

	ncpus = 1;
	cpu_apic_ids[0] = lapic_id();
	if (!rsdp)
		rsdp = find_rsdp();
	if (!rsdp)
		return;
	r = P2V(rsdp);
	if (memcmp(r, "RSD PTR ", 8) || !sum_ok(r, 20))
		return;
	x = r[15] >= 2;
	if (x) {
		uint64_t xa;
		memcpy(&xa, r + 24, 8);
		sdt = acpi_table(xa, "XSDT");
	} else {
		uint32_t ra;
		memcpy(&ra, r + 16, 4);
		sdt = acpi_table(ra, "RSDT");
	}
	if (!sdt) {
		uint32_t ra;
		memcpy(&ra, r + 16, 4);
		sdt = acpi_table(ra, "RSDT");
		x = false;
	}
	if (!sdt)
		return;
	memcpy(&len, sdt + 4, 4);
	for (uint32_t off = 36; off + (x ? 8 : 4) <= len; off += x ? 8 : 4) {
		uint64_t pa = 0;
		memcpy(&pa, sdt + off, x ? 8 : 4);
		if (!madt)
			madt = acpi_table(pa, "APIC");
		if (!fadt)
			fadt = acpi_table(pa, "FACP");
	}
	if (madt)
		parse_madt(madt);
	if (fadt)
		acpi_pm_init(fadt);
}
