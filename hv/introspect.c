/* introspect: what the debug keys (and later dumps and the debugger) ask of hv: domain
 * info, vCPU snapshots taken with every vCPU held at one instant, guest memory reads,
 * symbols, irqchip state, NMI injection, forced reboot. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

static struct domain *lookup(struct hv *hv, int id, struct err *e)
{
	struct domain *d = hv_domain_by_id(hv, id);
	if (!d)
		err_set(e, "no domain with id %d", id);
	return d;
}

unsigned hv_domain_ids(struct hv *hv, int *ids, unsigned max)
{
	unsigned n = 0;
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		if (hv->domains[i] && n < max)
			ids[n++] = hv->domains[i]->id;
	/* ascending ids: dom0 first */
	for (unsigned a = 1; a < n; a++)
		for (unsigned b = a; b > 0 && ids[b - 1] > ids[b]; b--) {
			int t = ids[b];
			ids[b] = ids[b - 1];
			ids[b - 1] = t;
		}
	return n;
}

int hv_domain_info(struct hv *hv, int id, struct domain_info *out, struct err *e)
{
	struct domain *d = lookup(hv, id, e);
	if (!d)
		return -1;
	memset(out, 0, sizeof(*out));
	out->id = id;
	snprintf(out->name, sizeof(out->name), "%s", d->name);
	out->state = domain_state_now(d);
	out->pause_count = d->pause_count;
	pthread_mutex_lock(&d->lock);
	memcpy(out->reason, d->crash_reason, sizeof(out->reason));
	pthread_mutex_unlock(&d->lock);
	out->vcpus = d->nr_vcpus;
	out->mem_bytes = d->mem.size;
	out->uptime_ns = time_ns() - d->start_ns;
	out->reboots = d->reboots;
	out->kernel = d->cfg.kernel ? d->cfg.kernel : "built-in guest";
	return 0;
}

static uint64_t get_msr(int fd, uint32_t index)
{
	/* struct kvm_msrs with room for one entry */
	union {
		struct kvm_msrs h;
		uint8_t raw[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
	} m;
	struct kvm_msr_entry *ent = (struct kvm_msr_entry *)(m.raw + sizeof(struct kvm_msrs));
	memset(&m, 0, sizeof(m));
	m.h.nmsrs = 1;
	ent->index = index;
	return ioctl(fd, KVM_GET_MSRS, &m) == 1 ? ent->data : 0;
}

static void snapshot_one(struct vcpu *v, struct vcpu_snapshot *s)
{
	memset(s, 0, sizeof(*s));
	s->index = v->index;
	s->online = atomic_load(&v->online);
	s->running = v->thread_live;
	s->exits = v->exits;
	memcpy(s->exit_counts, v->exit_counts, sizeof(s->exit_counts));
	s->last_exit = v->last_exit;
	s->nmis_injected = v->nmis_injected;
	s->run_ns = v->run_ns;
	s->host_tid = v->tid;
	if (v->fd < 0)
		return;
	ioctl(v->fd, KVM_GET_REGS, &s->regs);
	ioctl(v->fd, KVM_GET_SREGS, &s->sregs);
	ioctl(v->fd, KVM_GET_VCPU_EVENTS, &s->events);
	ioctl(v->fd, KVM_GET_MP_STATE, &s->mp);
	ioctl(v->fd, KVM_GET_LAPIC, &s->lapic);
	ioctl(v->fd, KVM_GET_DEBUGREGS, &s->dregs);
	s->msr_sysenter_cs = get_msr(v->fd, 0x174);
	s->msr_sysenter_esp = get_msr(v->fd, 0x175);
	s->msr_sysenter_eip = get_msr(v->fd, 0x176);
	s->msr_pat = get_msr(v->fd, 0x277);
	s->msr_tsc = get_msr(v->fd, 0x10);
	s->msr_star = get_msr(v->fd, 0xc0000081);
	s->msr_lstar = get_msr(v->fd, 0xc0000082);
	s->msr_fs_base = get_msr(v->fd, 0xc0000100);
	s->msr_gs_base = get_msr(v->fd, 0xc0000101);
	s->msr_kernel_gs_base = get_msr(v->fd, 0xc0000102);
	s->host_ns = time_ns();
}

int hv_domain_hold(struct hv *hv, int id)
{
	struct domain *d = lookup(hv, id, NULL);
	if (!d || !d->vcpus)
		return -1;
	vcpu_hold_all(d->vcpus, d->nr_vcpus);
	return 0;
}

void hv_domain_release(struct hv *hv, int id)
{
	struct domain *d = lookup(hv, id, NULL);
	if (!d || !d->vcpus)
		return;
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		if (d->vcpus[i].fd >= 0)
			vcpu_release(&d->vcpus[i]);
}

int hv_domain_snapshot(struct hv *hv, int id, struct vcpu_snapshot *out, unsigned max, struct err *e)
{
	struct domain *d = lookup(hv, id, e);
	unsigned n;
	if (!d)
		return -1;
	if (!d->vcpus || d->vm_fd < 0)
		return err_set(e, "%s has no vCPUs now", d->name);
	n = d->nr_vcpus < max ? d->nr_vcpus : max;
	struct kvm_clock_data clk;
	memset(&clk, 0, sizeof(clk));
	hv_domain_hold(hv, id);
	ioctl(d->vm_fd, KVM_GET_CLOCK, &clk);
	for (unsigned i = 0; i < n; i++) {
		snapshot_one(&d->vcpus[i], &out[i]);
		out[i].kvmclock_ns = clk.clock;
		if (d->vcpus[i].fd >= 0) {
			int k = ioctl(d->vcpus[i].fd, KVM_GET_TSC_KHZ, 0);
			out[i].tsc_khz = k > 0 ? (uint32_t)k : 0;
		}
	}
	hv_domain_release(hv, id);
	return (int)n;
}

size_t hv_read_virt(struct hv *hv, int id, unsigned vcpu, uint64_t gva, void *buf, size_t len)
{
	struct domain *d = lookup(hv, id, NULL);
	struct vcpu *v;
	size_t done = 0;
	if (!d || vcpu >= d->nr_vcpus || d->vcpus[vcpu].fd < 0)
		return 0;
	v = &d->vcpus[vcpu];
	vcpu_hold(v);
	while (done < len) {
		struct kvm_translation t = { .linear_address = gva + done };
		size_t chunk = 4096 - ((gva + done) & 0xfff);
		const void *p;
		if (chunk > len - done)
			chunk = len - done;
		if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
			break;
		p = mem_ptr(&d->mem, t.physical_address, chunk);
		if (!p)
			break;
		memcpy((char *)buf + done, p, chunk);
		done += chunk;
	}
	vcpu_release(v);
	return done;
}

size_t hv_read_phys(struct hv *hv, int id, uint64_t gpa, void *buf, size_t len)
{
	struct domain *d = lookup(hv, id, NULL);
	const void *p = d ? mem_ptr(&d->mem, gpa, len) : NULL;
	if (!p)
		return 0;
	memcpy(buf, p, len);
	return len;
}

bool hv_symbolize(struct hv *hv, int id, uint64_t addr, char *buf, size_t len)
{
	struct domain *d = lookup(hv, id, NULL);
	ksyms_wait(d);
	return symtab_format(d ? symtab_lookup(&d->kernel.symtab, addr) : NULL, addr, buf, len);
}

bool hv_symbolize_code(struct hv *hv, int id, uint64_t addr, bool is_return, char *buf, size_t len)
{
	struct domain *d = lookup(hv, id, NULL);
	ksyms_wait(d);
	return symtab_format(d && addr ? symtab_lookup_code(&d->kernel.symtab, is_return ? addr - 1 : addr) : NULL, addr,
			  buf, len);
}

int hv_irqchip(struct hv *hv, int id, struct kvm_irqchip *chip, struct err *e)
{
	struct domain *d = lookup(hv, id, e);
	if (!d)
		return -1;
	if (d->vm_fd < 0)
		return err_set(e, "%s has no VM now", d->name);
	if (ioctl(d->vm_fd, KVM_GET_IRQCHIP, chip) < 0)
		return err_errno(e, "KVM_GET_IRQCHIP");
	return 0;
}

int hv_inject_nmi(struct hv *hv, int id, unsigned vcpu, struct err *e)
{
	struct domain *d = lookup(hv, id, e);
	struct vcpu *v;
	int r;
	if (!d)
		return -1;
	if (vcpu >= d->nr_vcpus || d->vcpus[vcpu].fd < 0 || !d->vcpus[vcpu].thread_live)
		return err_set(e, "%s has no running vCPU %u", d->name, vcpu);
	v = &d->vcpus[vcpu];
	vcpu_hold(v);
	r = ioctl(v->fd, KVM_NMI, 0);
	if (r == 0)
		v->nmis_injected++;
	vcpu_release(v);
	return r < 0 ? err_errno(e, "KVM_NMI") : 0;
}

int hv_domain_reboot(struct hv *hv, int id, struct err *e)
{
	struct domain *d = lookup(hv, id, e);
	int rc;
	if (!d)
		return -1;
	rc = domain_reset(d, e);
	if (rc == 1)
		hv_log(hv, "%s: the reboot waits for the dump (save, checkpoint) reading its RAM to end", d->name);
	return rc;
}

size_t hv_console_ring(struct hv *hv, char *buf, size_t len)
{
	struct console *c = &hv->con;
	size_t n, start;
	pthread_mutex_lock(&c->lock);
	n = c->ring_head < c->ring_size ? c->ring_head : c->ring_size;
	if (n > len)
		n = len;
	start = c->ring_head - n;
	for (size_t i = 0; i < n; i++)
		buf[i] = c->ring[(start + i) % c->ring_size];
	pthread_mutex_unlock(&c->lock);
	return n;
}

uint64_t hv_domain_resident(struct hv *hv, int id)
{
	struct domain *d = lookup(hv, id, NULL);
	uint64_t pages = 0;
	unsigned char vec[4096];
	if (!d || !d->mem.base)
		return 0;
	for (uint64_t off = 0; off < d->mem.size; off += sizeof(vec) * 4096ull) {
		uint64_t len = d->mem.size - off;
		if (len > sizeof(vec) * 4096ull)
			len = sizeof(vec) * 4096ull;
		if (mincore(d->mem.base + off, len, vec) < 0)
			break;
		for (uint64_t i = 0; i < (len + 4095) / 4096; i++)
			pages += vec[i] & 1;
	}
	return pages * 4096;
}

void *hv_domain_ram(struct hv *hv, int id, uint64_t *size)
{
	struct domain *d = lookup(hv, id, NULL);
	if (!d)
		return NULL;
	*size = d->mem.size;
	return d->mem.base;
}

uint64_t hv_domain_irq_count(struct hv *hv, int id, unsigned gsi)
{
	struct domain *d = lookup(hv, id, NULL);
	return d && gsi == 4 ? d->uart_irqs : 0;
}

int hv_pit(struct hv *hv, int id, struct kvm_pit_state2 *pit, struct err *e)
{
	struct domain *d = lookup(hv, id, e);
	if (!d)
		return -1;
	if (d->vm_fd < 0 || ioctl(d->vm_fd, KVM_GET_PIT2, pit) < 0)
		return err_set(e, "%s: no PIT state", d->name);
	return 0;
}

unsigned hv_heap_info(struct hv *hv, struct heap_item *it, unsigned max)
{
	uint64_t doms = 0, vcpus = 0, syms = 0, sym_bytes = 0;
	unsigned n = 0;
	for (int i = 0; i < HV_MAX_DOMAINS; i++) {
		struct domain *d = hv->domains[i];
		if (!d)
			continue;
		doms++;
		vcpus += d->nr_vcpus;
		if (ksyms_loading(d))
			continue; /* not counted while a thread reads them */
		syms += d->kernel.symtab.n;
		sym_bytes += d->kernel.symtab.n * sizeof(struct symbol);
		for (size_t k = 0; k < d->kernel.symtab.n; k++)
			sym_bytes += strlen(d->kernel.symtab.syms[k].name) + 1;
	}
#define ITEM(k, c, b)                                                                                         \
	do {                                                                                                   \
		if (n < max) {                                                                                 \
			snprintf(it[n].kind, sizeof(it[n].kind), "%s", k);                                    \
			it[n].count = (c);                                                                     \
			it[n].bytes = (b);                                                                     \
			n++;                                                                                   \
		}                                                                                              \
	} while (0)
	/* a struct domain embeds its console ring and its UART: those are counted below */
	ITEM("domain structures", doms, doms * (sizeof(struct domain) - sizeof(struct domcons) - sizeof(struct uart)));
	ITEM("UART models and input queues", doms, doms * sizeof(struct uart));
	ITEM("vCPU structures", vcpus, vcpus * sizeof(struct vcpu));
	ITEM("vCPU kvm_run pages (KVM mmap)", vcpus, vcpus * (uint64_t)hv->kvm.vcpu_mmap_size);
	ITEM("kernel symbol tables (symbols)", syms, sym_bytes);
	ITEM("domain console rings", doms, doms * sizeof(struct domcons));
	ITEM("hypervisor console ring", 1, hv->con.ring_size);
	ITEM("supported-CPUID table", hv->kvm.cpuid ? hv->kvm.cpuid->nent : 0,
	     hv->kvm.cpuid ? sizeof(*hv->kvm.cpuid) + hv->kvm.cpuid->nent * sizeof(struct kvm_cpuid_entry2) : 0);
	ITEM("scheduler", 1, sizeof(struct sched));
#undef ITEM
	return n;
}
