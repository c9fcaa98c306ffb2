/* irq: 'z' prints each domain's IOAPIC (Xen's columns) and PIC state from KVM; 'i' the
 * interrupt bindings: GSI routing, the emulated device on each line, injection counts. */
#include <stdio.h>

#include "internal.h"

static void dump_ioapic(struct hv *hv, int id, const char *dname)
{
	struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
	struct kvm_ioapic_state *io = &chip.chip.ioapic;
	struct err e;

	if (hv_irqchip(hv, id, &chip, &e) < 0) {
		out(hv, "%s: %s", dname, e.msg);
		return;
	}
	out(hv, "%s: IO APIC #0 at %08llx: ID %02x, version 11, %d redirection entries, IOREGSEL %02x, IRR %08x",
	    dname, (unsigned long long)io->base_address, io->id, KVM_IOAPIC_NUM_PINS, io->ioregsel, io->irr);
	out(hv, " NR Dst Msk Trg IRR Pol Stat DstM DelM Vec");
	for (int i = 0; i < KVM_IOAPIC_NUM_PINS; i++) {
		typeof(io->redirtbl[0].fields) *f = &io->redirtbl[i].fields;
		out(hv, " %02x %03x  %u   %u   %u   %u   %u    %u    %u   %02x", i, f->dest_id, f->mask, f->trig_mode,
		    f->remote_irr, f->polarity, f->delivery_status, f->dest_mode, f->delivery_mode, f->vector);
	}
	for (int c = 0; c < 2; c++) {
		struct kvm_irqchip pic = { .chip_id = c == 0 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE };
		struct kvm_pic_state *p = &pic.chip.pic;
		if (hv_irqchip(hv, id, &pic, &e) < 0)
			continue;
		out(hv, "%s: 8259 %s: IRR %02x ISR %02x IMR %02x base %02x%s", dname, c == 0 ? "master" : "slave ",
		    p->irr, p->isr, p->imr, p->irq_base, p->imr == 0xff ? " (all masked)" : "");
	}
}

void dbgkeys_key_ioapic(struct hv *hv, unsigned char key)
{
	int ids[64];
	unsigned n = dbgkeys_domains(hv, ids, 64);
	out(hv, "'%c' pressed -> printing IOAPIC info", key);
	for (unsigned i = 0; i < n; i++) {
		struct domain_info di;
		if (hv_domain_info(hv, ids[i], &di, NULL) == 0)
			dump_ioapic(hv, ids[i], di.name);
	}
}

static const char *device_on(unsigned gsi)
{
	switch (gsi) {
	case 0: return "PIT channel 0 (in-kernel)";
	case 4: return "COM1 16550A (hv, the console)";
	case 8: return "RTC (absent)";
	}
	return "-";
}

void dbgkeys_key_irqs(struct hv *hv, unsigned char key)
{
	int ids[64];
	unsigned n = dbgkeys_domains(hv, ids, 64);
	out(hv, "'%c' pressed -> dumping interrupt bindings", key);
	for (unsigned i = 0; i < n; i++) {
		struct domain_info di;
		struct kvm_irqchip chip = { .chip_id = KVM_IRQCHIP_IOAPIC };
		if (hv_domain_info(hv, ids[i], &di, NULL) < 0 || hv_irqchip(hv, ids[i], &chip, NULL) < 0)
			continue;
		out(hv, "%s: GSI routing (KVM default: GSI n -> IOAPIC pin n, and 8259 pin n for n < 16):", di.name);
		out(hv, " GSI  IOAPIC pin  8259 pin  Vec  Dst  Masked  Device                          Raised");
		for (unsigned g = 0; g < KVM_IOAPIC_NUM_PINS; g++) {
			typeof(chip.chip.ioapic.redirtbl[0].fields) *f = &chip.chip.ioapic.redirtbl[g].fields;
			char pic[16] = "-";
			if (f->mask && g != 0 && g != 4)
				continue; /* only lines in use, plus the two with devices */
			if (g < 16)
				snprintf(pic, sizeof(pic), "%s %u", g < 8 ? "master" : "slave", g & 7);
			out(hv, " %3u  %10u  %8s  %3u  %3u  %6s  %-30s  %llu", g, g, pic,
			    f->vector, f->dest_id, f->mask ? "yes" : "no", device_on(g),
			    (unsigned long long)hv_domain_irq_count(hv, ids[i], g));
		}
		out(hv, "%s: no MSI routes (no PCI devices)", di.name);
	}
}
