/* cpufeat: may a guest that saw one CPUID run on this host? Every feature bit the guest
 * saw in the feature leaves must be one this host's KVM supports; the first that is not
 * is named (from the table below, or as "CPUID.7.0:EBX bit 5"). */
#include "internal.h"
#include "vmstate.h"

#include <stdio.h>

enum reg { EAX, EBX, ECX, EDX };

/* The leaves compared, with the bits that are not features: they depend on the vCPU or
 * on guest state (APIC id, OSXSAVE follows CR4, hv sets "hypervisor present"). */
static const struct leaf {
	uint32_t function, index;
	enum reg reg;
	uint32_t ignore;
	const char *regname;
} leaves[] = {
	{ 1, 0, ECX, (1u << 27) | (1u << 31), "ECX" },
	{ 1, 0, EDX, 0, "EDX" },
	{ 7, 0, EBX, 0, "EBX" },
	{ 7, 0, ECX, 0, "ECX" },
	{ 7, 0, EDX, 0, "EDX" },
	{ 0xd, 1, EAX, 0, "EAX" },
	{ 0x80000001, 0, ECX, 0, "ECX" },
	{ 0x80000001, 0, EDX, 0, "EDX" },
};

static const struct feature {
	uint32_t function;
	enum reg reg;
	uint8_t bit;
	const char *name;
} features[] = {
	{ 1, ECX, 0, "sse3" }, { 1, ECX, 1, "pclmulqdq" }, { 1, ECX, 9, "ssse3" }, { 1, ECX, 12, "fma" },
	{ 1, ECX, 13, "cx16" }, { 1, ECX, 19, "sse4.1" }, { 1, ECX, 20, "sse4.2" }, { 1, ECX, 21, "x2apic" },
	{ 1, ECX, 22, "movbe" }, { 1, ECX, 23, "popcnt" }, { 1, ECX, 24, "tsc-deadline" }, { 1, ECX, 25, "aes" },
	{ 1, ECX, 26, "xsave" }, { 1, ECX, 28, "avx" }, { 1, ECX, 29, "f16c" }, { 1, ECX, 30, "rdrand" },
	{ 1, EDX, 0, "fpu" }, { 1, EDX, 4, "tsc" }, { 1, EDX, 5, "msr" }, { 1, EDX, 6, "pae" },
	{ 1, EDX, 8, "cx8" }, { 1, EDX, 9, "apic" }, { 1, EDX, 11, "sep" }, { 1, EDX, 13, "pge" },
	{ 1, EDX, 15, "cmov" }, { 1, EDX, 16, "pat" }, { 1, EDX, 19, "clflush" }, { 1, EDX, 23, "mmx" },
	{ 1, EDX, 24, "fxsr" }, { 1, EDX, 25, "sse" }, { 1, EDX, 26, "sse2" }, { 1, EDX, 28, "ht" },
	{ 7, EBX, 0, "fsgsbase" }, { 7, EBX, 3, "bmi1" }, { 7, EBX, 5, "avx2" }, { 7, EBX, 7, "smep" },
	{ 7, EBX, 8, "bmi2" }, { 7, EBX, 9, "erms" }, { 7, EBX, 10, "invpcid" }, { 7, EBX, 16, "avx512f" },
	{ 7, EBX, 18, "rdseed" }, { 7, EBX, 19, "adx" }, { 7, EBX, 20, "smap" }, { 7, EBX, 23, "clflushopt" },
	{ 7, EBX, 24, "clwb" }, { 7, EBX, 29, "sha" }, { 7, ECX, 2, "umip" }, { 7, ECX, 3, "pku" },
	{ 7, ECX, 9, "vaes" }, { 7, ECX, 10, "vpclmulqdq" }, { 7, ECX, 22, "rdpid" }, { 7, EDX, 4, "fsrm" },
	{ 7, EDX, 10, "md-clear" }, { 7, EDX, 26, "ibrs" }, { 7, EDX, 27, "stibp" }, { 7, EDX, 29, "arch-capabilities" },
	{ 7, EDX, 31, "ssbd" }, { 0xd, EAX, 0, "xsaveopt" }, { 0xd, EAX, 1, "xsavec" }, { 0xd, EAX, 3, "xsaves" },
	{ 0x80000001, ECX, 0, "lahf-lm" }, { 0x80000001, ECX, 5, "abm" }, { 0x80000001, ECX, 6, "sse4a" },
	{ 0x80000001, ECX, 8, "prefetchw" }, { 0x80000001, EDX, 11, "syscall" }, { 0x80000001, EDX, 20, "nx" },
	{ 0x80000001, EDX, 26, "pdpe1gb" }, { 0x80000001, EDX, 27, "rdtscp" }, { 0x80000001, EDX, 29, "lm" },
};

static const struct kvm_cpuid_entry2 *find(const struct kvm_cpuid2 *c, uint32_t function, uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == function &&
		    (!(c->entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) || c->entries[i].index == index))
			return &c->entries[i];
	return NULL;
}

static uint32_t reg_of(const struct kvm_cpuid_entry2 *e, enum reg r)
{
	if (!e)
		return 0;
	return r == EAX ? e->eax : r == EBX ? e->ebx : r == ECX ? e->ecx : e->edx;
}

int vmstate_cpuid_check(const struct kvm_cpuid2 *host, const struct kvm_cpuid2 *guest, struct err *e)
{
	for (size_t l = 0; l < sizeof(leaves) / sizeof(leaves[0]); l++) {
		const struct leaf *lf = &leaves[l];
		uint32_t saw = reg_of(find(guest, lf->function, lf->index), lf->reg) & ~lf->ignore;
		uint32_t has = reg_of(find(host, lf->function, lf->index), lf->reg);
		uint32_t missing = saw & ~has;
		if (!missing)
			continue;
		unsigned bit = (unsigned)__builtin_ctz(missing);
		for (size_t f = 0; f < sizeof(features) / sizeof(features[0]); f++)
			if (features[f].function == lf->function && features[f].reg == lf->reg && features[f].bit == bit)
				return err_set(e, "this host's CPU lacks %s (CPUID.0x%x.%u:%s bit %u), which the guest saw",
					       features[f].name, lf->function, lf->index, lf->regname, bit);
		return err_set(e, "this host's CPU lacks a feature the guest saw (CPUID.0x%x.%u:%s bit %u)", lf->function,
			       lf->index, lf->regname, bit);
	}
	return 0;
}
