/* vmstate: taking a held domain's machine state from KVM and putting it into a new VM, in
 * the order the KVM API needs (QEMU's kvm_arch_put_registers is the reference): CPUID
 * before anything runs, special registers before the general ones, MSRs after the FPU,
 * the LAPIC after the APIC base (in sregs), events last; the VM's irqchips and PIT before
 * the vCPUs, the clock at the end. */
#include "internal.h"
#include "vmstate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

/* KVM_GET_MSR_INDEX_LIST, read once per hv. */
static struct kvm_msr_list *msr_index_list(struct kvm *k)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct kvm_msr_list *list;
	pthread_mutex_lock(&lock);
	if (!list) {
		struct kvm_msr_list probe = { .nmsrs = 0 };
		if (ioctl(k->fd, KVM_GET_MSR_INDEX_LIST, &probe) < 0 && errno == E2BIG && probe.nmsrs < 4096) {
			struct kvm_msr_list *l = xcalloc(1, sizeof(*l) + probe.nmsrs * sizeof(uint32_t));
			l->nmsrs = probe.nmsrs;
			if (ioctl(k->fd, KVM_GET_MSR_INDEX_LIST, l) == 0)
				list = l;
			else
				free(l);
		}
	}
	pthread_mutex_unlock(&lock);
	return list;
}

static struct kvm_msrs *msrs_alloc(uint32_t n)
{
	struct kvm_msrs *m = xcalloc(1, sizeof(*m) + n * sizeof(struct kvm_msr_entry));
	m->nmsrs = n;
	return m;
}

/* Every listed MSR the vCPU reads. KVM_GET_MSRS stops at the first it cannot read and
 * returns how many it did: skip that one and go on from the next. */
static int msrs_get(struct vcpu *v, struct vcpu_state *s, struct err *e)
{
	struct kvm_msr_list *l = msr_index_list(&v->dom->hv->kvm);
	if (!l)
		return err_set(e, "KVM_GET_MSR_INDEX_LIST failed: the MSRs cannot be saved");
	struct kvm_msrs *m = msrs_alloc(l->nmsrs);
	uint32_t done = 0, out = 0;
	s->msrs = xcalloc(l->nmsrs ? l->nmsrs : 1, sizeof(struct kvm_msr_entry));
	while (done < l->nmsrs) {
		m->nmsrs = l->nmsrs - done;
		for (uint32_t i = 0; i < m->nmsrs; i++)
			m->entries[i] = (struct kvm_msr_entry){ .index = l->indices[done + i] };
		int r = ioctl(v->fd, KVM_GET_MSRS, m);
		if (r < 0) {
			free(m);
			return err_errno(e, "KVM_GET_MSRS (vCPU %u)", v->index);
		}
		memcpy(s->msrs + out, m->entries, (size_t)r * sizeof(struct kvm_msr_entry));
		out += (uint32_t)r;
		done += (uint32_t)r + 1; /* the one at r could not be read */
	}
	s->nmsrs = out;
	free(m);
	return 0;
}

static int msrs_set(struct vcpu *v, const struct vcpu_state *s, struct err *e)
{
	struct kvm_msrs *m = msrs_alloc(s->nmsrs);
	uint32_t done = 0;
	(void)e;
	while (done < s->nmsrs) {
		m->nmsrs = s->nmsrs - done;
		memcpy(m->entries, s->msrs + done, m->nmsrs * sizeof(struct kvm_msr_entry));
		int r = ioctl(v->fd, KVM_SET_MSRS, m);
		if (r < 0)
			r = 0;
		done += (uint32_t)r;
		if (done < s->nmsrs) {
			hv_log(v->dom->hv, "%s: vCPU %u: KVM refused MSR 0x%x = 0x%llx; left as it was", v->dom->name,
			       v->index, s->msrs[done].index, (unsigned long long)s->msrs[done].data);
			done++;
		}
	}
	free(m);
	return 0;
}

static struct kvm_cpuid2 *cpuid_copy(const struct kvm_cpuid2 *c)
{
	size_t n = sizeof(*c) + c->nent * sizeof(c->entries[0]);
	struct kvm_cpuid2 *o = xcalloc(1, n);
	memcpy(o, c, n);
	return o;
}

/* A port or MMIO read the thread handled is completed by the next KVM_RUN: do it now,
 * returning at once (immediate_exit), so the registers hold its result. */
static void complete_pending_io(struct vcpu *v)
{
	if (!v->run)
		return;
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	ioctl(v->fd, KVM_RUN, 0); /* EINTR: nothing ran */
	__atomic_store_n(&v->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

static int vcpu_get(struct vcpu *v, struct vcpu_state *s, struct err *e)
{
	struct kvm *k = &v->dom->hv->kvm;
	complete_pending_io(v);
	if (ioctl(v->fd, KVM_GET_REGS, &s->regs) < 0)
		return err_errno(e, "KVM_GET_REGS (vCPU %u)", v->index);
	if (ioctl(v->fd, KVM_GET_SREGS, &s->sregs) < 0)
		return err_errno(e, "KVM_GET_SREGS (vCPU %u)", v->index);
	s->has_xsave = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) > 0 &&
		       ioctl(v->fd, KVM_GET_XSAVE, s->xsave) == 0;
	if (!s->has_xsave && ioctl(v->fd, KVM_GET_FPU, &s->fpu) < 0)
		return err_errno(e, "KVM_GET_FPU (vCPU %u)", v->index);
	s->has_xcrs = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_XCRS) > 0 && ioctl(v->fd, KVM_GET_XCRS, &s->xcrs) == 0;
	if (ioctl(v->fd, KVM_GET_LAPIC, &s->lapic) < 0)
		return err_errno(e, "KVM_GET_LAPIC (vCPU %u)", v->index);
	if (ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events) < 0)
		return err_errno(e, "KVM_GET_VCPU_EVENTS (vCPU %u)", v->index);
	if (ioctl(v->fd, KVM_GET_MP_STATE, &s->mp) < 0)
		return err_errno(e, "KVM_GET_MP_STATE (vCPU %u)", v->index);
	if (ioctl(v->fd, KVM_GET_DEBUGREGS, &s->dregs) < 0)
		return err_errno(e, "KVM_GET_DEBUGREGS (vCPU %u)", v->index);
	if (msrs_get(v, s, e) < 0)
		return -1;
	if (!v->cpuid)
		return err_set(e, "vCPU %u has no CPUID", v->index);
	s->cpuid = cpuid_copy(v->cpuid);
	s->hv = (struct vcpu_hvstate){
		.online = atomic_load(&v->online), .boot_pending = atomic_load(&v->boot_pending),
		.port_status = v->port_status, .boot_entry = v->boot_entry, .boot_ebx = v->boot_ebx,
	};
	memcpy(s->hv.port_arg, v->port_arg, sizeof(s->hv.port_arg));
	return 0;
}

int vmstate_get(struct domain *d, struct vm_state *s, struct err *e)
{
	memset(s, 0, sizeof(*s));
	s->nr_vcpus = d->nr_vcpus;
	s->vcpus = xcalloc(d->nr_vcpus, sizeof(*s->vcpus));
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		if (vcpu_get(&d->vcpus[i], &s->vcpus[i], e) < 0)
			goto fail;
	for (unsigned i = 0; i < 3; i++) {
		s->chip[i].chip_id = i;
		if (ioctl(d->vm_fd, KVM_GET_IRQCHIP, &s->chip[i]) < 0) {
			err_errno(e, "KVM_GET_IRQCHIP %u", i);
			goto fail;
		}
	}
	if (ioctl(d->vm_fd, KVM_GET_PIT2, &s->pit) < 0) {
		err_errno(e, "KVM_GET_PIT2");
		goto fail;
	}
	if (ioctl(d->vm_fd, KVM_GET_CLOCK, &s->clock) < 0) {
		err_errno(e, "KVM_GET_CLOCK");
		goto fail;
	}
	uart_get_state(&d->uart, &s->uart);
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		s->realtime_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	s->state = domain_state_now(d);
	s->uptime_ns = time_ns() - d->start_ns;
	pthread_mutex_lock(&d->lock);
	s->hv = (struct dom_hvstate){ .event_vector = d->event_vector, .event_apic = d->event_apic, .request = d->request };
	pthread_mutex_unlock(&d->lock);
	return 0;
fail:
	vmstate_free(s);
	return -1;
}

static int vcpu_set(struct vcpu *v, const struct vcpu_state *s, bool fresh, struct err *e)
{
	if (fresh && s->cpuid && vcpu_set_cpuid(v, cpuid_copy(s->cpuid), e) < 0)
		return err_prefix(e, "vCPU %u", v->index);
	if (ioctl(v->fd, KVM_SET_SREGS, &s->sregs) < 0)
		return err_errno(e, "KVM_SET_SREGS (vCPU %u)", v->index);
	if (ioctl(v->fd, KVM_SET_REGS, &s->regs) < 0)
		return err_errno(e, "KVM_SET_REGS (vCPU %u)", v->index);
	if (s->has_xsave ? ioctl(v->fd, KVM_SET_XSAVE, s->xsave) < 0 : ioctl(v->fd, KVM_SET_FPU, &s->fpu) < 0)
		return err_errno(e, "%s (vCPU %u)", s->has_xsave ? "KVM_SET_XSAVE" : "KVM_SET_FPU", v->index);
	if (s->has_xcrs && ioctl(v->fd, KVM_SET_XCRS, &s->xcrs) < 0)
		return err_errno(e, "KVM_SET_XCRS (vCPU %u)", v->index);
	if (msrs_set(v, s, e) < 0)
		return -1;
	if (ioctl(v->fd, KVM_SET_MP_STATE, &s->mp) < 0)
		return err_errno(e, "KVM_SET_MP_STATE (vCPU %u)", v->index);
	if (ioctl(v->fd, KVM_SET_LAPIC, &s->lapic) < 0)
		return err_errno(e, "KVM_SET_LAPIC (vCPU %u)", v->index);
	struct kvm_vcpu_events ev = s->events;
	ev.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW |
		    KVM_VCPUEVENT_VALID_SMM | KVM_VCPUEVENT_VALID_PAYLOAD;
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW;
	if (ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0)
		return err_errno(e, "KVM_SET_VCPU_EVENTS (vCPU %u)", v->index);
	if (ioctl(v->fd, KVM_SET_DEBUGREGS, &s->dregs) < 0)
		return err_errno(e, "KVM_SET_DEBUGREGS (vCPU %u)", v->index);
	atomic_store(&v->online, s->hv.online != 0);
	atomic_store(&v->boot_pending, s->hv.boot_pending != 0);
	memcpy(v->port_arg, s->hv.port_arg, sizeof(v->port_arg));
	v->port_status = s->hv.port_status;
	v->boot_entry = s->hv.boot_entry;
	v->boot_ebx = s->hv.boot_ebx;
	return 0;
}

int vmstate_set(struct domain *d, const struct vm_state *s, bool fresh, struct err *e)
{
	if (s->nr_vcpus != d->nr_vcpus)
		return err_set(e, "the state has %u vCPUs, the domain %u", s->nr_vcpus, d->nr_vcpus);
	for (unsigned i = 0; i < 3; i++)
		if (ioctl(d->vm_fd, KVM_SET_IRQCHIP, &s->chip[i]) < 0)
			return err_errno(e, "KVM_SET_IRQCHIP %u", i);
	if (ioctl(d->vm_fd, KVM_SET_PIT2, &s->pit) < 0)
		return err_errno(e, "KVM_SET_PIT2");
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		if (vcpu_set(&d->vcpus[i], &s->vcpus[i], fresh, e) < 0)
			return -1;
	struct kvm_clock_data c = { .clock = s->clock.clock };
	if (ioctl(d->vm_fd, KVM_SET_CLOCK, &c) < 0)
		return err_errno(e, "KVM_SET_CLOCK");
	if (uart_set_state(&d->uart, &s->uart) < 0)
		return err_set(e, "the serial port's state is not valid (%u bytes queued)", s->uart.rx_count);
	pthread_mutex_lock(&d->lock);
	d->event_vector = s->hv.event_vector;
	d->event_apic = s->hv.event_apic;
	d->request = s->hv.request;
	pthread_mutex_unlock(&d->lock);
	return 0;
}

void vmstate_free(struct vm_state *s)
{
	for (unsigned i = 0; s->vcpus && i < s->nr_vcpus; i++) {
		free(s->vcpus[i].msrs);
		free(s->vcpus[i].cpuid);
	}
	free(s->vcpus);
	s->vcpus = NULL;
	s->nr_vcpus = 0;
}
