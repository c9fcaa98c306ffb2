/* fallback: on an emulation-failure exit, the vCPU's instruction completed by x86/'s
 * fallback (int3, int N, fwait, ldmxcsr, stmxcsr: what kvm_pvm's emulator rejects) with
 * KVM's ioctls, so the guest runs on; anything else still crashes the domain. On hardware
 * KVM the exit never comes for these instructions. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "x86/x86.h"

/* The instruction's memory operand, page by page through the vCPU's own translation. */
static int fb_access(struct vcpu *v, uint64_t va, void *buf, size_t len, bool write)
{
	while (len) {
		size_t chunk = 4096 - (va & 0xfff);
		uint8_t *p;
		if (chunk > len)
			chunk = len;
		p = domain_gva_ptr(v, va, chunk);
		if (!p)
			return -1;
		if (write) {
			memcpy(p, buf, chunk);
			mem_mark_dirty(&v->dom->mem, p, chunk); /* KVM's dirty log does not see hv's writes */
		} else
			memcpy(buf, p, chunk);
		buf = (uint8_t *)buf + chunk;
		va += chunk;
		len -= chunk;
	}
	return 0;
}

static int fb_read(void *o, uint64_t va, void *buf, size_t len)
{
	return fb_access(o, va, buf, len, false);
}

static int fb_write(void *o, uint64_t va, const void *buf, size_t len)
{
	return fb_access(o, va, (void *)buf, len, true);
}

/* The first time a domain needs the fallback for an instruction, the log says so. */
static void fb_note(struct vcpu *v, const char *name, uint64_t rip)
{
	struct domain *d = v->dom;
	bool first = true;
	pthread_mutex_lock(&d->lock);
	for (unsigned i = 0; i < d->fallback_nnames; i++)
		if (!strcmp(d->fallback_names[i], name))
			first = false;
	if (first && d->fallback_nnames < sizeof(d->fallback_names) / sizeof(d->fallback_names[0]))
		snprintf(d->fallback_names[d->fallback_nnames++], sizeof(d->fallback_names[0]), "%s", name);
	pthread_mutex_unlock(&d->lock);
	atomic_fetch_add(&d->fallback_count, 1);
	if (first)
		hv_log(d->hv, "%s: vCPU %u: %s at 0x%llx completed by hv (this host's KVM emulator rejects it; logged once)",
		       d->name, v->index, name, (unsigned long long)rip);
}

static bool fb_inject(struct vcpu *v, const struct x86_fb_event *ev, struct kvm_sregs *s)
{
	struct kvm_vcpu_events evs;
	if (ev->has_cr2) {
		s->cr2 = ev->cr2;
		if (ioctl(v->fd, KVM_SET_SREGS, s) < 0)
			return false;
	}
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &evs) < 0)
		return false;
	if (ev->vector < 32) {
		evs.exception.injected = 1;
		evs.exception.nr = ev->vector;
		evs.exception.has_error_code = ev->has_error;
		evs.exception.error_code = ev->error;
	} else {
		evs.interrupt.injected = 1;
		evs.interrupt.nr = ev->vector;
		evs.interrupt.soft = 1;
	}
	evs.flags = 0;
	return ioctl(v->fd, KVM_SET_VCPU_EVENTS, &evs) == 0;
}

/* The x87/SSE control state through KVM_GET_XSAVE (its legacy area: FCW at 0, FSW at 2,
 * MXCSR at 24, MXCSR_MASK at 28; XSTATE_BV at 512), else KVM_GET_FPU: kvm_pvm returns
 * MXCSR as 0 from KVM_GET_FPU while the guest's is 0x1f80. */
struct fb_fpu {
	bool xsave;
	struct kvm_fpu fpu;
	struct kvm_xsave xs; /* last: its flexible tail */
};

static bool fpu_get(struct vcpu *v, struct fb_fpu *f, struct x86_fb_cpu *c)
{
	f->xsave = ioctl(v->fd, KVM_GET_XSAVE, &f->xs) == 0;
	if (f->xsave) {
		const uint8_t *b = (const uint8_t *)f->xs.region;
		memcpy(&c->fcw, b + 0, 2);
		memcpy(&c->fsw, b + 2, 2);
		memcpy(&c->mxcsr, b + 24, 4);
		memcpy(&c->mxcsr_mask, b + 28, 4);
		if (!c->mxcsr_mask)
			c->mxcsr_mask = 0xffff; /* every x86-64 CPU KVM runs on has DAZ */
		return true;
	}
	if (ioctl(v->fd, KVM_GET_FPU, &f->fpu) < 0)
		return false;
	c->mxcsr = f->fpu.mxcsr;
	c->mxcsr_mask = 0xffff;
	c->fsw = f->fpu.fsw;
	c->fcw = f->fpu.fcw;
	return true;
}

static bool fpu_set_mxcsr(struct vcpu *v, struct fb_fpu *f, uint32_t mxcsr)
{
	if (f->xsave) {
		uint8_t *b = (uint8_t *)f->xs.region;
		uint64_t bv;
		memcpy(b + 24, &mxcsr, 4);
		memcpy(&bv, b + 512, 8);
		bv |= 2; /* SSE state present: XRSTOR loads MXCSR from it */
		memcpy(b + 512, &bv, 8);
		return ioctl(v->fd, KVM_SET_XSAVE, &f->xs) == 0;
	}
	f->fpu.mxcsr = mxcsr;
	return ioctl(v->fd, KVM_SET_FPU, &f->fpu) == 0;
}

bool vcpu_fallback(struct vcpu *v, char *why, size_t whylen)
{
	struct kvm_regs kr;
	struct kvm_sregs s;
	static __thread struct fb_fpu fpu; /* 4 KiB: not on the stack */
	struct x86_fb_cpu c;
	struct x86_fb_event ev;
	struct x86_fb_mem m = { .opaque = v, .read = fb_read, .write = fb_write };
	uint8_t insn[15];
	size_t n;
	unsigned changed;
	char name[96];
	uint64_t rip;
	enum x86_fb_result res;

	snprintf(why, whylen, "its state unreadable");
	memset(&c, 0, sizeof(c));
	if (ioctl(v->fd, KVM_GET_REGS, &kr) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0 || !fpu_get(v, &fpu, &c))
		return false;
	hv_regs_from_kvm(&kr, &s, &c.r);
	c.idt_base = s.idt.base;
	c.idt_limit = s.idt.limit;
	c.cpl = s.cs.dpl;
	c.long64 = s.cs.l;
	rip = kr.rip;
	for (n = sizeof(insn); n > 0 && fb_read(v, rip, insn, n) < 0; n--)
		; /* up to the end of what is mapped */
	if (!n) {
		snprintf(why, whylen, "its bytes unreadable");
		return false;
	}
	res = x86_fallback(&c, insn, n, &m, &ev, &changed, name, sizeof(name));
	if (res == X86_FB_UNKNOWN) {
		snprintf(why, whylen, "%s", name);
		return false;
	}
	hv_regs_to_kvm(&c.r, &kr);
	snprintf(why, whylen, "completing %s failed", name);
	if (ioctl(v->fd, KVM_SET_REGS, &kr) < 0)
		return false;
	if ((changed & X86_FB_MXCSR_CHANGED) && !fpu_set_mxcsr(v, &fpu, c.mxcsr))
		return false;
	if (res == X86_FB_INJECT && !fb_inject(v, &ev, &s))
		return false;
	fb_note(v, name, rip);
	return true;
}
