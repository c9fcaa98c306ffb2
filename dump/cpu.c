/* cpu: our vCPU note (struct dump_cpu, an on-disk layout) as x86/'s register set and
 * back, and from KVM's register structs (hv's snapshots, the domain image's vCPU records):
 * the one conversion each. */
#include "dump.h"
#include "x86/x86.h"

#include <linux/kvm.h>
#include <string.h>

void dump_cpu_to_x86(const struct dump_cpu *c, struct x86_regs *r)
{
	*r = (struct x86_regs){
		.rax = c->rax, .rbx = c->rbx, .rcx = c->rcx, .rdx = c->rdx, .rsi = c->rsi, .rdi = c->rdi,
		.rbp = c->rbp, .rsp = c->rsp, .r8 = c->r8, .r9 = c->r9, .r10 = c->r10, .r11 = c->r11,
		.r12 = c->r12, .r13 = c->r13, .r14 = c->r14, .r15 = c->r15, .rip = c->rip, .rflags = c->rflags,
		.cr0 = c->cr0, .cr2 = c->cr2, .cr3 = c->cr3, .cr4 = c->cr4, .cr8 = c->cr8, .efer = c->efer,
		.fs_base = c->fs.base, .gs_base = c->gs.base, .cs = c->cs.selector, .ss = c->ss.selector,
		.ds = c->ds.selector, .es = c->es.selector, .fs = c->fs.selector, .gs = c->gs.selector,
	};
}

void dump_cpu_from_x86(struct dump_cpu *c, const struct x86_regs *r)
{
	c->rax = r->rax; c->rbx = r->rbx; c->rcx = r->rcx; c->rdx = r->rdx; c->rsi = r->rsi; c->rdi = r->rdi;
	c->rbp = r->rbp; c->rsp = r->rsp; c->r8 = r->r8; c->r9 = r->r9; c->r10 = r->r10; c->r11 = r->r11;
	c->r12 = r->r12; c->r13 = r->r13; c->r14 = r->r14; c->r15 = r->r15; c->rip = r->rip; c->rflags = r->rflags;
	c->cr0 = r->cr0; c->cr2 = r->cr2; c->cr3 = r->cr3; c->cr4 = r->cr4; c->cr8 = r->cr8; c->efer = r->efer;
	c->fs.base = r->fs_base; c->gs.base = r->gs_base; c->cs.selector = r->cs; c->ss.selector = r->ss;
	c->ds.selector = r->ds; c->es.selector = r->es; c->fs.selector = r->fs; c->gs.selector = r->gs;
}

static void seg_from_kvm(struct dump_seg *o, const struct kvm_segment *k)
{
	*o = (struct dump_seg){ k->selector, k->base, k->limit, k->type, k->present, k->dpl, k->db, k->s, k->l, k->g, k->avl };
}

void dump_cpu_from_kvm(struct dump_cpu *c, const struct kvm_regs *r, const struct kvm_sregs *sr)
{
	c->rax = r->rax; c->rbx = r->rbx; c->rcx = r->rcx; c->rdx = r->rdx; c->rsi = r->rsi; c->rdi = r->rdi;
	c->rsp = r->rsp; c->rbp = r->rbp; c->r8 = r->r8; c->r9 = r->r9; c->r10 = r->r10; c->r11 = r->r11;
	c->r12 = r->r12; c->r13 = r->r13; c->r14 = r->r14; c->r15 = r->r15; c->rip = r->rip; c->rflags = r->rflags;
	seg_from_kvm(&c->cs, &sr->cs); seg_from_kvm(&c->ds, &sr->ds); seg_from_kvm(&c->es, &sr->es);
	seg_from_kvm(&c->fs, &sr->fs); seg_from_kvm(&c->gs, &sr->gs); seg_from_kvm(&c->ss, &sr->ss);
	seg_from_kvm(&c->tr, &sr->tr); seg_from_kvm(&c->ldt, &sr->ldt);
	c->gdt_base = sr->gdt.base; c->gdt_limit = sr->gdt.limit; c->idt_base = sr->idt.base; c->idt_limit = sr->idt.limit;
	c->cr0 = sr->cr0; c->cr2 = sr->cr2; c->cr3 = sr->cr3; c->cr4 = sr->cr4; c->cr8 = sr->cr8; c->efer = sr->efer;
	c->apic_base = sr->apic_base;
}
