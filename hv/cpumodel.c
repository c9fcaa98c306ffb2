/* cpumodel: the CPU a guest sees on a kvm_pvm host, which runs every guest instruction
 * through KVM's instruction emulator: without the features whose instructions that
 * emulator cannot execute, so that a kernel (Linux first) takes its other paths. Each entry
 * was found by booting Debian's 6.1 kernel under hv here (docs/linux.md); on hardware KVM
 * the guest sees KVM's CPUID unchanged.
 *
 * Two ways, because kvm_pvm does not apply KVM_SET_CPUID2 to every leaf: the guest's
 * CPUID instruction returns leaf 1 as the host has it (seen: hv set ECX 0x81200000, the
 * guest read 0xf7f81203), while hv's own leaves 0x40000000+ do come through. So the bits
 * are cleared in the CPUID hv sets (effective where kvm_pvm honours it), and a Linux kernel
 * is also given the equivalent options (clearcpuid=..., noxsave) on its command line, which
 * Linux applies before it patches its alternatives: the user types none of them. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

enum reg { EAX, EBX, ECX, EDX };

static const struct hidden {
	uint32_t function;
	enum reg reg;
	uint8_t bit;
	const char *name;
	const char *why;
	bool linux_clear; /* also in Linux's clearcpuid= (else covered by another option) */
} hidden[] = {
	{ 1, ECX, 13, "cx16", "lock cmpxchg16b (SLUB's cmpxchg_double) fails emulation", true },
	{ 1, ECX, 23, "popcnt", "popcnt (hweight) is not emulated", true },
	{ 1, ECX, 26, "xsave", "xsave/xrstor (FPU set-up, context switch) are not emulated; Linux uses fxsave then", false },
	{ 1, ECX, 27, "osxsave", "follows xsave", false },
	{ 1, ECX, 28, "avx", "VEX-encoded instructions are not emulated (and AVX needs xsave)", false },
	{ 1, ECX, 12, "fma", "VEX-encoded", false },
	{ 1, ECX, 29, "f16c", "VEX-encoded", false },
	{ 1, ECX, 30, "rdrand", "rdrand (the random driver at boot) is not emulated", true },
	{ 7, EBX, 0, "fsgsbase", "rd/wrfsbase, rd/wrgsbase (context switch) are not emulated", true },
	{ 7, EBX, 3, "bmi1", "VEX-encoded", true },
	{ 7, EBX, 5, "avx2", "VEX-encoded", false },
	{ 7, EBX, 8, "bmi2", "VEX-encoded", true },
	{ 7, EBX, 16, "avx512f", "EVEX-encoded", false },
	{ 7, EBX, 18, "rdseed", "rdseed is not emulated", true },
	{ 7, EBX, 19, "adx", "adcx/adox are not emulated", true },
	{ 7, EBX, 20, "smap", "clac/stac (every user access) are not emulated", true },
	{ 7, ECX, 3, "pku", "rdpkru/wrpkru (context switch) are not emulated", true },
	{ 7, ECX, 4, "ospke", "follows pku", false },
	{ 0x80000001, ECX, 5, "abm", "lzcnt is not emulated", true },
	/* SSE beyond the SSE2 baseline: the kernel uses it inside kernel_fpu_begin (blake2s,
	 * chacha, crc32c, aes, sha), and the emulator has no SSE arithmetic at all (seen:
	 * "movd xmm15, ecx" in blake2s_compress_ssse3 at boot) */
	{ 1, ECX, 9, "ssse3", "SSE arithmetic is not emulated (blake2s_compress_ssse3 at boot)", true },
	{ 1, ECX, 19, "sse4_1", "SSE arithmetic is not emulated", true },
	{ 1, ECX, 20, "sse4_2", "crc32 and SSE arithmetic are not emulated", true },
	{ 1, ECX, 1, "pclmulqdq", "pclmulqdq is not emulated", true },
	{ 1, ECX, 25, "aes", "aesenc and friends are not emulated", true },
	{ 7, EBX, 29, "sha_ni", "sha1rnds4 and friends are not emulated", true },
	{ 7, ECX, 9, "vaes", "VEX-encoded", false },
	{ 7, ECX, 10, "vpclmulqdq", "VEX-encoded", false },
};

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, enum reg r)
{
	return r == EAX ? &e->eax : r == EBX ? &e->ebx : r == ECX ? &e->ecx : &e->edx;
}

void cpumodel_apply_pvm(struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		if (e->function == 0xd) { /* no xsave: no XSAVE state components either */
			e->eax = e->ebx = e->ecx = e->edx = 0;
			continue;
		}
		for (size_t j = 0; j < sizeof(hidden) / sizeof(hidden[0]); j++)
			if (hidden[j].function == e->function && (e->function != 7 || e->index == 0))
				*reg_of(e, hidden[j].reg) &= ~(1u << hidden[j].bit);
	}
}

void cpumodel_describe_pvm(char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = 0;
	for (size_t j = 0; j < sizeof(hidden) / sizeof(hidden[0]) && n < len; j++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", j ? " " : "", hidden[j].name);
}

/* The Linux command-line words that say the same: noxsave takes xsave and everything
 * built on it (avx, fma, f16c, avx2, avx512, osxsave); the rest go to one clearcpuid=. */
void cpumodel_linux_options(char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "noxsave clearcpuid=");
	bool first = true;
	for (size_t j = 0; j < sizeof(hidden) / sizeof(hidden[0]) && n < len; j++) {
		if (!hidden[j].linux_clear)
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", first ? "" : ",", hidden[j].name);
		first = false;
	}
}
