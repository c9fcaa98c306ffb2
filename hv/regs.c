/* regs: KVM's kvm_regs and kvm_sregs as x86/'s struct x86_regs and back: the one place
 * that knows both (the gdb stub, the q prompt's target and the debug keys read it). */
#include <linux/kvm.h>

#include "hv.h"
#include "x86/x86.h"

void hv_regs_from_kvm(const struct kvm_regs *k, const struct kvm_sregs *s, struct x86_regs *r)
{
	*r = (struct x86_regs){
		.rax = k->rax, .rbx = k->rbx, .rcx = k->rcx, .rdx = k->rdx, .rsi = k->rsi, .rdi = k->rdi,
		.rbp = k->rbp, .rsp = k->rsp, .r8 = k->r8, .r9 = k->r9, .r10 = k->r10, .r11 = k->r11,
		.r12 = k->r12, .r13 = k->r13, .r14 = k->r14, .r15 = k->r15, .rip = k->rip, .rflags = k->rflags,
		.cr0 = s->cr0, .cr2 = s->cr2, .cr3 = s->cr3, .cr4 = s->cr4, .cr8 = s->cr8, .efer = s->efer,
		.fs_base = s->fs.base, .gs_base = s->gs.base, .cs = s->cs.selector, .ss = s->ss.selector,
		.ds = s->ds.selector, .es = s->es.selector, .fs = s->fs.selector, .gs = s->gs.selector,
	};
}

void hv_regs_to_kvm(const struct x86_regs *r, struct kvm_regs *k)
{
	*k = (struct kvm_regs){
		.rax = r->rax, .rbx = r->rbx, .rcx = r->rcx, .rdx = r->rdx, .rsi = r->rsi, .rdi = r->rdi,
		.rsp = r->rsp, .rbp = r->rbp, .r8 = r->r8, .r9 = r->r9, .r10 = r->r10, .r11 = r->r11,
		.r12 = r->r12, .r13 = r->r13, .r14 = r->r14, .r15 = r->r15, .rip = r->rip, .rflags = r->rflags,
	};
}
