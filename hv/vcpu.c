/* vcpu: creating vCPUs (CPUID with the hvkit leaves), the PVH entry state, and the
 * thread per vCPU that runs KVM_RUN and dispatches exits. */
#include "internal.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hvkit/abi.h"

#define SIG_KICK SIGUSR1

static void kick_handler(int sig)
{
	(void)sig;
}

void vcpu_signals_init(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = kick_handler; /* no SA_RESTART: KVM_RUN returns EINTR */
	sigaction(SIG_KICK, &sa, NULL);
}

/* The administrator's path wins over the guests' (docs/control.md): a vCPU thread is
 * SCHED_BATCH, so it never preempts hv's loop when that wakes for a request; its share of
 * CPU time against other threads is unchanged (same nice), only its wake-up preemption goes.
 * Needs no privilege. */
void vcpu_yield_to_control(void)
{
	struct sched_param sp = { 0 };
	(void)sched_setscheduler(0, SCHED_BATCH, &sp); /* 0: the calling thread */
}

static int setup_cpuid(struct vcpu *v, struct err *e)
{
	struct kvm *k = &v->dom->hv->kvm;
	uint32_t n = k->cpuid->nent, out = 0;
	struct kvm_cpuid2 *c = xcalloc(1, sizeof(*c) + (n + 2) * sizeof(struct kvm_cpuid_entry2));
	uint32_t tsc_khz;
	int r;

	for (uint32_t i = 0; i < n; i++) {
		struct kvm_cpuid_entry2 ent = k->cpuid->entries[i];
		if (ent.function >= HVKIT_CPUID_BASE && ent.function < HVKIT_CPUID_BASE + 0x100) {
			/* KVM's own paravirt leaves move up to 0x40000100, where Linux also looks. */
			ent.function += 0x100;
			if (ent.function == HVKIT_CPUID_BASE + 0x100)
				ent.eax = ent.eax < HVKIT_CPUID_BASE + 1 ? HVKIT_CPUID_BASE + 0x101 : ent.eax + 0x100;
		}
		switch (ent.function) {
		case 1:
			ent.ebx = (ent.ebx & 0x00ffffffu) | (v->index << 24);
			ent.ecx |= 1u << 31; /* hypervisor present */
			break;
		case 0xb:
		case 0x1f:
			ent.edx = v->index;
			break;
		}
		c->entries[out++] = ent;
	}
	r = ioctl(v->fd, KVM_GET_TSC_KHZ, 0);
	tsc_khz = r > 0 ? (uint32_t)r : 0;
	c->entries[out++] = (struct kvm_cpuid_entry2){
		.function = HVKIT_CPUID_BASE, .eax = HVKIT_CPUID_TIMING,
		.ebx = HVKIT_CPUID_SIG_EBX, .ecx = HVKIT_CPUID_SIG_ECX, .edx = HVKIT_CPUID_SIG_EDX,
	};
	/* KVM's in-kernel LAPIC timer counts at 1 GHz. */
	c->entries[out++] = (struct kvm_cpuid_entry2){
		.function = HVKIT_CPUID_TIMING, .eax = tsc_khz, .ebx = 1000000,
	};
	c->nent = out;
	if (k->pvm)
		cpumodel_apply_pvm(c);
	return vcpu_set_cpuid(v, c, e);
}

int vcpu_set_cpuid(struct vcpu *v, struct kvm_cpuid2 *c, struct err *e)
{
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		free(c);
		return err_errno(e, "KVM_SET_CPUID2");
	}
	free(v->cpuid);
	v->cpuid = c;
	return 0;
}

int vcpu_create(struct domain *d, unsigned index, struct err *e)
{
	struct vcpu *v = &d->vcpus[index];
	memset(v, 0, sizeof(*v));
	pthread_mutex_init(&v->hold_lock, NULL);
	pthread_cond_init(&v->hold_cond, NULL);
	v->dom = d;
	v->index = index;
	if (index == 0 && d->spare_vcpu0 >= 0) { /* made with the spare VM (spare.c) */
		v->fd = d->spare_vcpu0;
		d->spare_vcpu0 = -1;
	} else {
		v->fd = ioctl(d->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	}
	if (v->fd < 0)
		return err_errno(e, "KVM_CREATE_VCPU %u", index);
	v->run = mmap(NULL, (size_t)d->hv->kvm.vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		close(v->fd);
		v->fd = -1;
		return err_errno(e, "mmap vCPU %u", index);
	}
	if (d->hv->opt.count_insns) {
		struct kvm_guest_debug dbg = { .control = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP };
		if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
			return err_errno(e, "KVM_SET_GUEST_DEBUG (single-step)");
	}
	return setup_cpuid(v, e);
}

void vcpu_destroy(struct vcpu *v)
{
	free(v->cpuid);
	v->cpuid = NULL;
	pthread_mutex_destroy(&v->hold_lock);
	pthread_cond_destroy(&v->hold_cond);
	if (v->run)
		munmap(v->run, (size_t)v->dom->hv->kvm.vcpu_mmap_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

/* 32-bit protected mode, paging off, flat segments from hv's boot GDT (boot.c). */
static int set_entry_state(struct vcpu *v, uint32_t entry, uint16_t cs_sel, uint16_t ds_sel, uint16_t tss_sel,
			   uint32_t ebx, uint32_t esi, struct err *e)
{
	struct kvm_sregs s;
	struct kvm_regs r;
	struct kvm_mp_state mp = { .mp_state = KVM_MP_STATE_RUNNABLE };
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb,
		.present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
	};
	struct kvm_segment data = code;

	if (ioctl(v->fd, KVM_GET_SREGS, &s) < 0)
		return err_errno(e, "KVM_GET_SREGS");
	code.selector = cs_sel;
	data.type = 0x3;
	data.selector = ds_sel;
	s.cs = code;
	s.ds = s.es = s.fs = s.gs = s.ss = data;
	s.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = tss_sel, .type = 0xb, .present = 1 };
	s.ldt = (struct kvm_segment){ .selector = 0, .type = 0x2, .present = 1, .limit = 0xffff };
	s.gdt.base = BOOT_GDT_GPA;
	s.gdt.limit = BOOT_GDT_SIZE - 1;
	s.idt.base = 0;
	s.idt.limit = 0;
	s.cr0 = 0x11; /* PE | ET */
	s.cr2 = s.cr3 = 0;
	s.cr4 = 0;
	s.efer = 0;
	if (ioctl(v->fd, KVM_SET_SREGS, &s) < 0)
		return err_errno(e, "KVM_SET_SREGS");
	memset(&r, 0, sizeof(r));
	r.rip = entry;
	r.rbx = ebx;
	r.rsi = esi;
	r.rflags = 0x2;
	if (ioctl(v->fd, KVM_SET_REGS, &r) < 0)
		return err_errno(e, "KVM_SET_REGS");
	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0)
		return err_errno(e, "KVM_SET_MP_STATE");
	atomic_store(&v->online, true);
	return 0;
}

int vcpu_set_pvh_state(struct vcpu *v, uint32_t entry, uint32_t ebx, struct err *e)
{
	return set_entry_state(v, entry, 0x08, 0x10, 0x18, ebx, 0, e);
}

int vcpu_set_linux32_state(struct vcpu *v, uint32_t entry, uint32_t boot_params, struct err *e)
{
	return set_entry_state(v, entry, 0x10, 0x18, 0x20, 0, boot_params, e);
}

void vcpu_kick(struct vcpu *v)
{
	if (v->run)
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (v->thread_started)
		pthread_kill(v->thread, SIG_KICK);
}

static void emulation_failure(struct vcpu *v)
{
	struct kvm_regs r;
	char bytes[64] = "", why[128];
	uint8_t *p;
	size_t n = 0;

	if (vcpu_fallback(v, why, sizeof(why)))
		return;
	memset(&r, 0, sizeof(r));
	ioctl(v->fd, KVM_GET_REGS, &r);
	p = domain_gva_ptr(v, r.rip, 8);
	for (int i = 0; p && i < 8; i++)
		n += (size_t)snprintf(bytes + n, sizeof(bytes) - n, " %02x", p[i]);
	domain_post_event(v->dom, EVENT_CRASH, "vCPU %u: instruction emulation failed at rip 0x%llx (bytes:%s; %s)",
			  v->index, (unsigned long long)r.rip, p ? bytes : " unreadable", why);
}

static void handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct kvm_regs r;

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		io_handle_port(v);
		break;
	case KVM_EXIT_MMIO:
		io_handle_mmio(v);
		break;
	case KVM_EXIT_HLT:
		break; /* with the in-kernel irqchip HLT stays in KVM; harmless otherwise */
	case KVM_EXIT_INTR:
		break;
	case KVM_EXIT_DEBUG:
		if (!debug_exit(v))
			v->insns++;
		break;
	case KVM_EXIT_IRQ_WINDOW_OPEN:
		break;
	case KVM_EXIT_SHUTDOWN:
		memset(&r, 0, sizeof(r));
		ioctl(v->fd, KVM_GET_REGS, &r);
		domain_post_event(v->dom, EVENT_CRASH, "vCPU %u: triple fault (last rip 0x%llx)", v->index,
				  (unsigned long long)r.rip);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
			emulation_failure(v);
		else
			domain_post_event(v->dom, EVENT_CRASH, "vCPU %u: KVM internal error %u", v->index,
					  run->internal.suberror);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		domain_post_event(v->dom, EVENT_CRASH, "vCPU %u: VM entry failed (reason 0x%llx)", v->index,
				  (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (run->system_event.type == KVM_SYSTEM_EVENT_RESET)
			domain_post_event(v->dom, EVENT_REBOOT, "vCPU %u: reset", v->index);
		else if (run->system_event.type == KVM_SYSTEM_EVENT_CRASH)
			domain_post_event(v->dom, EVENT_CRASH, "vCPU %u: crash event", v->index);
		else
			domain_post_event(v->dom, EVENT_POWEROFF, "vCPU %u: shutdown", v->index);
		break;
	default:
		domain_post_event(v->dom, EVENT_CRASH, "vCPU %u: unexpected KVM exit %u", v->index, run->exit_reason);
		break;
	}
}

/* true when the caller must wait for the thread to park */
static bool hold_request(struct vcpu *v)
{
	bool wait;
	pthread_mutex_lock(&v->hold_lock);
	atomic_fetch_add(&v->hold_requests, 1);
	wait = v->thread_live && !pthread_equal(v->thread, pthread_self());
	pthread_mutex_unlock(&v->hold_lock);
	if (wait)
		vcpu_kick(v); /* lock order: never the scheduler's lock while holding hold_lock */
	return wait;
}

static void hold_wait(struct vcpu *v)
{
	pthread_mutex_lock(&v->hold_lock);
	while (v->thread_live && !v->held)
		pthread_cond_wait(&v->hold_cond, &v->hold_lock);
	pthread_mutex_unlock(&v->hold_lock);
}

void vcpu_hold(struct vcpu *v)
{
	if (!hold_request(v))
		return;
	sched_wake_all(&v->dom->hv->sched); /* it may be waiting for a slot */
	hold_wait(v);
}

void vcpu_hold_all(struct vcpu *vs, unsigned n)
{
	bool wait[n ? n : 1], any = false;
	for (unsigned i = 0; i < n; i++) /* every vCPU asked at once: they park in parallel */
		any |= wait[i] = vs[i].fd >= 0 && hold_request(&vs[i]);
	if (!any)
		return;
	sched_wake_all(&vs[0].dom->hv->sched);
	for (unsigned i = 0; i < n; i++)
		if (wait[i])
			hold_wait(&vs[i]);
}

void vcpu_release(struct vcpu *v)
{
	pthread_mutex_lock(&v->hold_lock);
	if (atomic_load(&v->hold_requests))
		atomic_fetch_sub(&v->hold_requests, 1);
	pthread_cond_broadcast(&v->hold_cond);
	pthread_mutex_unlock(&v->hold_lock);
}

/* Parks the thread while somebody holds the vCPU. */
static void hold_point(struct vcpu *v)
{
	pthread_mutex_lock(&v->hold_lock);
	if (atomic_load(&v->hold_requests)) {
		v->held = true;
		pthread_cond_broadcast(&v->hold_cond);
		while (atomic_load(&v->hold_requests) && !atomic_load(&v->dom->stopping))
			pthread_cond_wait(&v->hold_cond, &v->hold_lock);
		v->held = false;
	}
	pthread_mutex_unlock(&v->hold_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;
	struct err e;
	uint64_t t0;

	sigemptyset(&set);
	sigaddset(&set, SIG_KICK);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	v->tid = gettid();
	vcpu_yield_to_control();
	sched_add(&v->dom->hv->sched, v);

	while (!atomic_load(&v->dom->stopping)) {
		hold_point(v);
		if (atomic_load(&v->dom->stopping))
			break;
		if (!sched_acquire(&v->dom->hv->sched, v))
			continue;
		if (atomic_exchange(&v->boot_pending, false)) {
			if (vcpu_set_pvh_state(v, v->boot_entry, v->boot_ebx, &e) < 0) {
				domain_post_event(v->dom, EVENT_CRASH, "vCPU %u: cannot start: %s", v->index, e.msg);
				break;
			}
		}
		t0 = time_ns();
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			v->run_ns += time_ns() - t0;
			if (errno == EINTR || errno == EAGAIN) {
				__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				sched_after_kick(&v->dom->hv->sched, v);
				continue;
			}
			domain_post_event(v->dom, EVENT_CRASH, "vCPU %u: KVM_RUN failed: %s", v->index, strerror(errno));
			break;
		}
		v->run_ns += time_ns() - t0;
		v->exits++;
		v->last_exit = v->run->exit_reason;
		if (v->run->exit_reason < 40)
			v->exit_counts[v->run->exit_reason]++;
		handle_exit(v);
	}
	sched_remove(&v->dom->hv->sched, v);
	pthread_mutex_lock(&v->hold_lock);
	v->thread_live = false;
	pthread_cond_broadcast(&v->hold_cond);
	pthread_mutex_unlock(&v->hold_lock);
	return NULL;
}

int vcpu_start_thread(struct vcpu *v, struct err *e)
{
	int r;
	v->thread_live = true;
	r = pthread_create(&v->thread, NULL, vcpu_thread, v);
	if (r) {
		v->thread_live = false;
		errno = r;
		return err_errno(e, "cannot start the thread of vCPU %u", v->index);
	}
	v->thread_started = true;
	return 0;
}
