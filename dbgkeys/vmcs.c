/* vmcs: 'v' prints the VMCS-equivalent guest-state area of every vCPU, rebuilt from KVM's
 * ioctls (there is no VMCS/VMCB to read from user space), with exit statistics. */
#include <stdio.h>

#include "internal.h"

static void segment(struct hv *hv, const char *name, const struct kvm_segment *g)
{
	out(hv, "  %-4s sel=%04x base=%016llx limit=%08x type=%x s=%u dpl=%u p=%u avl=%u l=%u db=%u g=%u%s", name,
	    g->selector, (unsigned long long)g->base, g->limit, g->type, g->s, g->dpl, g->present, g->avl, g->l,
	    g->db, g->g, g->unusable ? " unusable" : "");
}

static void dump_vcpu(struct hv *hv, const char *dname, const struct vcpu_snapshot *s)
{
	const struct kvm_sregs *sr = &s->sregs;
	const struct kvm_vcpu_events *ev = &s->events;
	char line[512];
	int n = 0;

	out(hv, "*** %s vCPU %u guest state (from KVM_GET_SREGS/REGS/MSRS/VCPU_EVENTS)", dname, s->index);
	if (!s->online) {
		out(hv, "  not started by the guest");
		return;
	}
	out(hv, "  RIP=%016llx RSP=%016llx RFLAGS=%016llx", (unsigned long long)s->regs.rip,
	    (unsigned long long)s->regs.rsp, (unsigned long long)s->regs.rflags);
	out(hv, "  CR0=%016llx CR3=%016llx CR4=%016llx CR8=%016llx", (unsigned long long)sr->cr0,
	    (unsigned long long)sr->cr3, (unsigned long long)sr->cr4, (unsigned long long)sr->cr8);
	out(hv, "  EFER=%016llx APIC_BASE=%016llx PAT=%016llx", (unsigned long long)sr->efer,
	    (unsigned long long)sr->apic_base, (unsigned long long)s->msr_pat);
	segment(hv, "CS", &sr->cs);
	segment(hv, "SS", &sr->ss);
	segment(hv, "DS", &sr->ds);
	segment(hv, "ES", &sr->es);
	segment(hv, "FS", &sr->fs);
	segment(hv, "GS", &sr->gs);
	segment(hv, "TR", &sr->tr);
	segment(hv, "LDTR", &sr->ldt);
	out(hv, "  GDTR base=%016llx limit=%04x   IDTR base=%016llx limit=%04x", (unsigned long long)sr->gdt.base,
	    sr->gdt.limit, (unsigned long long)sr->idt.base, sr->idt.limit);
	out(hv, "  SYSENTER_CS=%08llx SYSENTER_ESP=%016llx SYSENTER_EIP=%016llx",
	    (unsigned long long)s->msr_sysenter_cs, (unsigned long long)s->msr_sysenter_esp,
	    (unsigned long long)s->msr_sysenter_eip);
	out(hv, "  STAR=%016llx LSTAR=%016llx KERNEL_GS_BASE=%016llx", (unsigned long long)s->msr_star,
	    (unsigned long long)s->msr_lstar, (unsigned long long)s->msr_kernel_gs_base);
	out(hv, "  DR6=%016llx DR7=%016llx", (unsigned long long)s->dregs.dr6, (unsigned long long)s->dregs.dr7);
	out(hv, "  activity state: %s", dbgkeys_mp_state(s->mp.mp_state));
	out(hv, "  interruptibility: shadow=%u (sti/mov-ss blocking) nmi masked=%u", ev->interrupt.shadow,
	    ev->nmi.masked);
	out(hv, "  pending: exception %s (vector %u, error code %s%x), interrupt %s (vector %u), nmi %s, sipi vector %u",
	    ev->exception.injected ? "injected" : (ev->exception.pending ? "pending" : "none"), ev->exception.nr,
	    ev->exception.has_error_code ? "" : "none/", ev->exception.error_code,
	    ev->interrupt.injected ? "injected" : "none", ev->interrupt.nr,
	    ev->nmi.injected ? "injected" : (ev->nmi.pending ? "pending" : "none"), ev->sipi_vector);
	out(hv, "  last exit: %s (%u), %llu exits, %.3f s in KVM_RUN", dbgkeys_exit_name(s->last_exit), s->last_exit,
	    (unsigned long long)s->exits, s->run_ns / 1e9);
	for (unsigned r = 0; r < 40; r++)
		if (s->exit_counts[r])
			n += snprintf(line + n, sizeof(line) - (size_t)n, " %s=%llu", dbgkeys_exit_name(r),
				      (unsigned long long)s->exit_counts[r]);
	out(hv, "  exits by reason:%s", n ? line : " none");
}

static void vmcs_domain(struct hv *hv, const struct domain_info *di, struct vcpu_snapshot *s, unsigned n, void *arg)
{
	(void)arg;
	for (unsigned v = 0; v < n; v++)
		dump_vcpu(hv, di->name, &s[v]);
}

void dbgkeys_key_vmcs(struct hv *hv, unsigned char key)
{
	out(hv, "'%c' pressed -> dumping VMCS-equivalent guest state", key);
	out(hv, "(host-state and VM-execution control fields belong to KVM and are not visible to hv)");
	dbgkeys_each_domain(hv, true, vmcs_domain, NULL);
}
