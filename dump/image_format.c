/* image_format: what the domain image's writer and readers share: the header's byte
 * layout, the table of record types with their size rules, the checksum, and the KVM
 * vCPU state as a dump_cpu. Layout: docs/save-format.md. */
#include <cpuid.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "internal.h"

_Static_assert(sizeof(struct kvm_regs) == 144, "kvm_regs is part of the image format");
_Static_assert(sizeof(struct kvm_sregs) == 312, "kvm_sregs is part of the image format");
_Static_assert(sizeof(struct kvm_fpu) == 416, "kvm_fpu is part of the image format");
_Static_assert(sizeof(struct kvm_xcrs) == 392, "kvm_xcrs is part of the image format");
_Static_assert(sizeof(struct kvm_msr_entry) == 16, "kvm_msr_entry is part of the image format");
_Static_assert(sizeof(struct kvm_lapic_state) == 1024, "kvm_lapic_state is part of the image format");
_Static_assert(sizeof(struct kvm_vcpu_events) == 64, "kvm_vcpu_events is part of the image format");
_Static_assert(sizeof(struct kvm_mp_state) == 4, "kvm_mp_state is part of the image format");
_Static_assert(sizeof(struct kvm_debugregs) == 128, "kvm_debugregs is part of the image format");
_Static_assert(sizeof(struct kvm_cpuid_entry2) == 40, "kvm_cpuid_entry2 is part of the image format");
_Static_assert(sizeof(struct kvm_irqchip) == 520, "kvm_irqchip is part of the image format");
_Static_assert(sizeof(struct kvm_pit_state2) == 112, "kvm_pit_state2 is part of the image format");
_Static_assert(sizeof(struct kvm_clock_data) == 48, "kvm_clock_data is part of the image format");
_Static_assert(sizeof(struct image_domain_info) == 360, "image_domain_info is part of the image format");
_Static_assert(sizeof(struct image_page) == 16 && sizeof(struct image_page_batch) == 8, "page batch layout");

#define VH 8u /* struct image_vcpu_hdr */

/* The record types this reader knows, with their size rules (image_rule_check). */
const struct image_rule image_rules[] = {
	{ IMAGE_END, "END", IMAGE_SCOPE_END, 0, 0, 0, 0 },
	{ IMAGE_LAYOUT, "LAYOUT", IMAGE_SCOPE_DOMAIN, 8 + sizeof(struct image_range), 8 + IMAGE_MAX_RANGES * 16, 0, 0 },
	{ IMAGE_DOMAIN_CONFIG, "DOMAIN_CONFIG", IMAGE_SCOPE_DOMAIN, 0, 1u << 20, 0, 0 },
	{ IMAGE_PAGE_DATA, "PAGE_DATA", IMAGE_SCOPE_ANY, 8 + 16, IMAGE_RECORD_MAX, 0, 0 },
	{ IMAGE_VCPU_REGS, "VCPU_REGS", IMAGE_SCOPE_VCPU, VH + sizeof(struct kvm_regs), VH + sizeof(struct kvm_regs), 0, 0 },
	{ IMAGE_VCPU_SREGS, "VCPU_SREGS", IMAGE_SCOPE_VCPU, VH + sizeof(struct kvm_sregs), VH + sizeof(struct kvm_sregs), 0,
	  0 },
	{ IMAGE_VCPU_FPU, "VCPU_FPU", IMAGE_SCOPE_VCPU, VH + sizeof(struct kvm_fpu), VH + sizeof(struct kvm_fpu), 0, 0 },
	{ IMAGE_VCPU_XSAVE, "VCPU_XSAVE", IMAGE_SCOPE_VCPU, VH + 4096, VH + (1u << 16), 0, 0 },
	{ IMAGE_VCPU_XCRS, "VCPU_XCRS", IMAGE_SCOPE_VCPU, VH + sizeof(struct kvm_xcrs), VH + sizeof(struct kvm_xcrs), 0, 0 },
	{ IMAGE_VCPU_MSRS, "VCPU_MSRS", IMAGE_SCOPE_VCPU, VH, VH + IMAGE_MAX_MSRS * 16, 16, IMAGE_MAX_MSRS },
	{ IMAGE_VCPU_LAPIC, "VCPU_LAPIC", IMAGE_SCOPE_VCPU, VH + sizeof(struct kvm_lapic_state),
	  VH + sizeof(struct kvm_lapic_state), 0, 0 },
	{ IMAGE_VCPU_EVENTS, "VCPU_EVENTS", IMAGE_SCOPE_VCPU, VH + sizeof(struct kvm_vcpu_events),
	  VH + sizeof(struct kvm_vcpu_events), 0, 0 },
	{ IMAGE_VCPU_MP_STATE, "VCPU_MP_STATE", IMAGE_SCOPE_VCPU, VH + sizeof(struct kvm_mp_state),
	  VH + sizeof(struct kvm_mp_state), 0, 0 },
	{ IMAGE_VCPU_DEBUGREGS, "VCPU_DEBUGREGS", IMAGE_SCOPE_VCPU, VH + sizeof(struct kvm_debugregs),
	  VH + sizeof(struct kvm_debugregs), 0, 0 },
	{ IMAGE_VCPU_CPUID, "VCPU_CPUID", IMAGE_SCOPE_VCPU, VH, VH + IMAGE_MAX_CPUID * 40, 40, IMAGE_MAX_CPUID },
	{ IMAGE_HV_VCPU, "HV_VCPU", IMAGE_SCOPE_VCPU, VH + 4, VH + 4096, 0, 0 },
	{ IMAGE_IRQCHIP, "IRQCHIP", IMAGE_SCOPE_KEYED, sizeof(struct kvm_irqchip), sizeof(struct kvm_irqchip), 0, 3 },
	{ IMAGE_PIT, "PIT", IMAGE_SCOPE_DOMAIN, sizeof(struct kvm_pit_state2), sizeof(struct kvm_pit_state2), 0, 0 },
	{ IMAGE_CLOCK, "CLOCK", IMAGE_SCOPE_DOMAIN, sizeof(struct kvm_clock_data), sizeof(struct kvm_clock_data), 0, 0 },
	{ IMAGE_UART, "UART", IMAGE_SCOPE_KEYED, 8, 1u << 16, 0, 4 },
	{ IMAGE_CONSOLE_TAIL, "CONSOLE_TAIL", IMAGE_SCOPE_DOMAIN, 0, 1u << 20, 0, 0 },
	{ IMAGE_HV_DOMAIN, "HV_DOMAIN", IMAGE_SCOPE_DOMAIN, 4, 4096, 0, 0 },
	{ IMAGE_DOMAIN_INFO, "DOMAIN_INFO", IMAGE_SCOPE_DOMAIN, sizeof(struct image_domain_info),
	  sizeof(struct image_domain_info), 0, 0 },
	{ IMAGE_VMCOREINFO, "VMCOREINFO", IMAGE_SCOPE_DOMAIN, 0, 1u << 20, 0, 0 },
	{ IMAGE_SYNC, "SYNC", IMAGE_SCOPE_ANY, 8, 8, 0, 0 },
	{ IMAGE_PENDING, "PENDING", IMAGE_SCOPE_ANY, 8, IMAGE_RECORD_MAX, 0, 0 },
};
const unsigned image_nr_rules = sizeof(image_rules) / sizeof(image_rules[0]);

const struct image_rule *image_rule_of(uint32_t type)
{
	for (unsigned i = 0; i < image_nr_rules; i++)
		if (image_rules[i].type == type)
			return &image_rules[i];
	return NULL;
}

const char *image_type_name(uint32_t type)
{
	const struct image_rule *r = image_rule_of(type);
	return r ? r->name : NULL;
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

int image_rule_check(const struct image_rule *rule, const uint8_t *p, uint32_t len, uint32_t nr_vcpus, uint32_t *key,
		     struct err *e)
{
	*key = 0;
	if (len < rule->min || len > rule->max)
		return err_set(e, "%s record of %u bytes (expected %u..%u)", rule->name, len, rule->min, rule->max);
	if (rule->scope == IMAGE_SCOPE_VCPU) {
		uint32_t vcpu = get32(p), count = get32(p + 4);
		if (vcpu >= nr_vcpus)
			return err_set(e, "%s record for vCPU %u, but the layout has %u vCPUs", rule->name, vcpu, nr_vcpus);
		if (rule->entry ? count > rule->max_count || len != VH + (uint64_t)count * rule->entry : count != 0)
			return err_set(e, "%s record for vCPU %u: count %u does not fit its %u bytes", rule->name, vcpu,
				       count, len);
		*key = vcpu;
	} else if (rule->scope == IMAGE_SCOPE_KEYED) {
		*key = get32(p); /* kvm_irqchip's chip_id, UART's index */
		if (*key >= rule->max_count)
			return err_set(e, "%s record for instance %u (at most %u)", rule->name, *key, rule->max_count);
	}
	return 0;
}

uint32_t image_crc(const void *p, size_t n)
{
	return (uint32_t)crc32_z(0, p, n);
}

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, 8);
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

void image_header_encode(uint8_t out[IMAGE_HEADER_SIZE], const struct image_header *h)
{
	memset(out, 0, IMAGE_HEADER_SIZE);
	memcpy(out + IH_MAGIC, IMAGE_MAGIC, 8);
	put32(out, IH_VERSION, IMAGE_VERSION);
	put32(out, IH_SIZE, IMAGE_HEADER_SIZE);
	put32(out, IH_FLAGS, h->flags);
	put32(out, IH_PAGE_SIZE, h->page_size);
	put64(out, IH_IMAGE_ID, h->image_id);
	put64(out, IH_PARENT_ID, h->parent_id);
	put64(out, IH_CREATED, h->created_ns);
	memcpy(out + IH_CPU_VENDOR, h->cpu_vendor, strnlen(h->cpu_vendor, sizeof(h->cpu_vendor) - 1));
	put32(out, IH_CPU_FAMILY, h->cpu_family);
	put32(out, IH_CPU_MODEL, h->cpu_model);
	put32(out, IH_CPU_STEPPING, h->cpu_stepping);
	memcpy(out + IH_HV_VERSION, h->hv_version, strnlen(h->hv_version, sizeof(h->hv_version) - 1));
	put32(out, IH_CRC, image_crc(out, IH_CRC));
}

int image_header_decode(const uint8_t in[IMAGE_HEADER_SIZE], struct image_header *h, struct err *e)
{
	uint32_t version = get32(in + IH_VERSION), size = get32(in + IH_SIZE), known = IMAGE_F_INCREMENTAL |
											  IMAGE_F_CHECKPOINT | IMAGE_F_LIVE;
	memset(h, 0, sizeof(*h));
	if (memcmp(in + IH_MAGIC, IMAGE_MAGIC, 8))
		return err_set(e, "not a domain image (no HVIMAGE magic)");
	if (version != IMAGE_VERSION)
		return err_set(e, "domain image format version %u: this hv reads version %u", version, IMAGE_VERSION);
	if (size != IMAGE_HEADER_SIZE)
		return err_set(e, "domain image header of %u bytes (version 1 has %u)", size, IMAGE_HEADER_SIZE);
	if (get32(in + IH_CRC) != image_crc(in, IH_CRC))
		return err_set(e, "domain image header checksum mismatch (corrupt header)");
	h->version = version;
	h->flags = get32(in + IH_FLAGS);
	h->page_size = get32(in + IH_PAGE_SIZE);
	h->image_id = get64(in + IH_IMAGE_ID);
	h->parent_id = get64(in + IH_PARENT_ID);
	h->created_ns = get64(in + IH_CREATED);
	memcpy(h->cpu_vendor, in + IH_CPU_VENDOR, sizeof(h->cpu_vendor) - 1);
	h->cpu_family = get32(in + IH_CPU_FAMILY);
	h->cpu_model = get32(in + IH_CPU_MODEL);
	h->cpu_stepping = get32(in + IH_CPU_STEPPING);
	memcpy(h->hv_version, in + IH_HV_VERSION, sizeof(h->hv_version) - 1);
	if (h->flags & ~known)
		return err_set(e, "domain image header flags 0x%x unknown to this hv", h->flags & ~known);
	if (h->page_size != IMAGE_PAGE_SIZE)
		return err_set(e, "domain image page size %u (this hv uses %u)", h->page_size, IMAGE_PAGE_SIZE);
	if (!h->image_id)
		return err_set(e, "domain image without an image id");
	if (!(h->flags & IMAGE_F_INCREMENTAL) != !h->parent_id)
		return err_set(e, "domain image: %s", h->parent_id ? "a parent id on a full image"
								    : "an incremental image without a parent id");
	return 0;
}

void image_header_init(struct image_header *h, const char *hv_version)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	struct timespec ts;
	memset(h, 0, sizeof(*h));
	h->version = IMAGE_VERSION;
	h->page_size = IMAGE_PAGE_SIZE;
	if (__get_cpuid(0, &a, &b, &c, &d)) {
		memcpy(h->cpu_vendor, &b, 4);
		memcpy(h->cpu_vendor + 4, &d, 4);
		memcpy(h->cpu_vendor + 8, &c, 4);
	}
	if (__get_cpuid(1, &a, &b, &c, &d)) {
		unsigned fam = (a >> 8) & 15, model = (a >> 4) & 15;
		if (fam == 15)
			fam += (a >> 20) & 0xff;
		if (fam >= 6)
			model |= ((a >> 16) & 15) << 4;
		h->cpu_family = fam;
		h->cpu_model = model;
		h->cpu_stepping = a & 15;
	}
	while (!h->image_id) {
		if (getrandom(&h->image_id, sizeof(h->image_id), 0) != (ssize_t)sizeof(h->image_id)) {
			clock_gettime(CLOCK_MONOTONIC, &ts);
			h->image_id = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
		}
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	h->created_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	snprintf(h->hv_version, sizeof(h->hv_version), "%s", hv_version ? hv_version : "");
}

int image_chain_check(const struct image_header *prev, const struct image_header *next, struct err *e)
{
	if (!(next->flags & IMAGE_F_INCREMENTAL))
		return err_set(e, "image %016llx is a full image, not an increment of %016llx",
			       (unsigned long long)next->image_id, (unsigned long long)prev->image_id);
	if (next->parent_id != prev->image_id)
		return err_set(e, "image %016llx is an increment of %016llx, not of %016llx",
			       (unsigned long long)next->image_id, (unsigned long long)next->parent_id,
			       (unsigned long long)prev->image_id);
	if (next->created_ns < prev->created_ns)
		return err_set(e, "image %016llx was taken before its parent %016llx", (unsigned long long)next->image_id,
			       (unsigned long long)prev->image_id);
	return 0;
}

void image_cpu_from_kvm(struct dump_cpu *c, unsigned index, const struct kvm_regs *r, const struct kvm_sregs *sr,
			const struct kvm_vcpu_events *ev, const struct kvm_mp_state *mp,
			const struct kvm_lapic_state *lapic, const struct kvm_debugregs *dr)
{
	memset(c, 0, sizeof(*c));
	c->version = DUMP_VERSION;
	c->index = index;
	/* a vCPU the guest never started waits for its INIT/SIPI */
	c->online = !mp || (mp->mp_state != KVM_MP_STATE_UNINITIALIZED && mp->mp_state != KVM_MP_STATE_INIT_RECEIVED);
	c->mp_state = mp ? mp->mp_state : 0;
	dump_cpu_from_kvm(c, r, sr);
	if (dr) {
		c->dr6 = dr->dr6;
		c->dr7 = dr->dr7;
	}
	if (ev) {
		c->nmi_pending = ev->nmi.pending; c->nmi_masked = ev->nmi.masked;
		c->irq_shadow = ev->interrupt.shadow; c->exception_pending = ev->exception.pending;
		c->exception_nr = ev->exception.nr; c->exception_error = ev->exception.error_code;
	}
	if (lapic)
		memcpy(c->lapic, lapic->regs, sizeof(c->lapic));
}
