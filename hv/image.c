/* image: a domain as a domain image (dump/image.h, docs/save-format.md) and back. The
 * writer takes a vm_state (taken in a pause) and a RAM reader (an instant's, or a held
 * domain's own RAM); the reader builds a new domain from a stream: its configuration, RAM
 * straight into the new memfd, and the machine state, put into KVM once END is read. */
#include "internal.h"
#include "contain.h"
#include "vmstate.h"
#include "xlcfg.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dump/image.h"

/* ---- writing */

static int put_vcpu(struct image_writer *w, uint32_t type, unsigned i, uint32_t count, const void *p, size_t len,
		    struct err *e)
{
	return image_put_vcpu(w, type, i, count, p, (uint32_t)len, e);
}

static int put_vcpus(struct image_writer *w, const struct vm_state *vs, struct err *e)
{
	for (unsigned i = 0; i < vs->nr_vcpus; i++) {
		const struct vcpu_state *s = &vs->vcpus[i];
		if (put_vcpu(w, IMAGE_VCPU_REGS, i, 0, &s->regs, sizeof(s->regs), e) < 0 ||
		    put_vcpu(w, IMAGE_VCPU_SREGS, i, 0, &s->sregs, sizeof(s->sregs), e) < 0 ||
		    (s->has_xsave ? put_vcpu(w, IMAGE_VCPU_XSAVE, i, 0, s->xsave, sizeof(s->xsave), e)
				  : put_vcpu(w, IMAGE_VCPU_FPU, i, 0, &s->fpu, sizeof(s->fpu), e)) < 0 ||
		    (s->has_xcrs && put_vcpu(w, IMAGE_VCPU_XCRS, i, 0, &s->xcrs, sizeof(s->xcrs), e) < 0) ||
		    put_vcpu(w, IMAGE_VCPU_MSRS, i, s->nmsrs, s->msrs, s->nmsrs * sizeof(*s->msrs), e) < 0 ||
		    put_vcpu(w, IMAGE_VCPU_LAPIC, i, 0, &s->lapic, sizeof(s->lapic), e) < 0 ||
		    put_vcpu(w, IMAGE_VCPU_EVENTS, i, 0, &s->events, sizeof(s->events), e) < 0 ||
		    put_vcpu(w, IMAGE_VCPU_MP_STATE, i, 0, &s->mp, sizeof(s->mp), e) < 0 ||
		    put_vcpu(w, IMAGE_VCPU_DEBUGREGS, i, 0, &s->dregs, sizeof(s->dregs), e) < 0 ||
		    put_vcpu(w, IMAGE_VCPU_CPUID, i, s->cpuid->nent, s->cpuid->entries,
			     s->cpuid->nent * sizeof(s->cpuid->entries[0]), e) < 0 ||
		    put_vcpu(w, IMAGE_HV_VCPU, i, 0, &s->hv, sizeof(s->hv), e) < 0)
			return -1;
	}
	return 0;
}

int image_put_config(struct image_writer *w, struct domain *d, const struct vm_state *vs, struct err *e)
{
	struct xlcfg x;
	char cfg[16384], vmci[HV_VMCOREINFO_MAX];
	struct image_domain_info info;
	int n;

	xlcfg_from_config(&d->cfg, &x);
	n = xlcfg_format(&x, cfg, sizeof(cfg));
	if (n < 0)
		return err_set(e, "%s: its configuration cannot be written as xl settings", d->name);
	memset(&info, 0, sizeof(info));
	info.id = d->id;
	info.nr_vcpus = vs->nr_vcpus;
	info.mem_bytes = d->mem.size;
	info.time_ns = vs->realtime_ns;
	snprintf(info.name, sizeof(info.name), "%s", d->name);
	snprintf(info.state, sizeof(info.state), "%s", domain_state_name(vs->state));
	snprintf(info.reason, sizeof(info.reason), "%.255s", d->crash_reason);
	domain_vmcoreinfo(d, vmci, sizeof(vmci));
	if (image_put(w, IMAGE_DOMAIN_CONFIG, cfg, (uint32_t)n, e) < 0 ||
	    image_put(w, IMAGE_DOMAIN_INFO, &info, sizeof(info), e) < 0 ||
	    image_put(w, IMAGE_VMCOREINFO, vmci, (uint32_t)strlen(vmci), e) < 0)
		return -1;
	return 0;
}

int image_put_state(struct image_writer *w, struct domain *d, const struct vm_state *vs, struct err *e)
{
	struct hv_domain_rec hr = {
		.layout = HV_IMAGE_LAYOUT, .event_vector = vs->hv.event_vector, .event_apic = vs->hv.event_apic,
		.request = vs->hv.request, .id = d->id, .flags = d->defined ? HV_DOM_DEFINED : 0,
		.mem_bytes = d->mem.size, .uptime_ns = vs->uptime_ns, .reboots = d->reboots,
	};
	struct {
		uint32_t index, layout;
		struct uart_state s;
	} uart = { 0, HV_IMAGE_LAYOUT, vs->uart };
	uint8_t tail[4096];
	size_t ntail = domcons_tail(&d->cons, tail, sizeof(tail));

	if (image_put(w, IMAGE_HV_DOMAIN, &hr, sizeof(hr), e) < 0 || put_vcpus(w, vs, e) < 0)
		return -1;
	for (unsigned i = 0; i < 3; i++)
		if (image_put(w, IMAGE_IRQCHIP, &vs->chip[i], sizeof(vs->chip[i]), e) < 0)
			return -1;
	if (image_put(w, IMAGE_PIT, &vs->pit, sizeof(vs->pit), e) < 0 ||
	    image_put(w, IMAGE_CLOCK, &vs->clock, sizeof(vs->clock), e) < 0 ||
	    image_put(w, IMAGE_UART, &uart, sizeof(uart), e) < 0 ||
	    image_put(w, IMAGE_CONSOLE_TAIL, tail, (uint32_t)ntail, e) < 0)
		return -1;
	return 0;
}

int image_write_domain(struct domain *d, int fd, struct image_header *h, const struct image_src *src, struct err *e)
{
	struct image_range ranges[2];
	struct image_writer *w;
	for (int i = 0; i < d->mem.nr_ranges; i++)
		ranges[i] = (struct image_range){ d->mem.ranges[i].gpa, d->mem.ranges[i].size };
	w = image_writer_open(fd, h, e);
	if (!w)
		return -1;
	if (src->progress)
		image_writer_progress(w, src->progress, src->popaque);
	if (image_put_layout(w, src->vs->nr_vcpus, ranges, (unsigned)d->mem.nr_ranges, e) < 0 ||
	    image_put_config(w, d, src->vs, e) < 0 || image_put_state(w, d, src->vs, e) < 0 ||
	    (src->gfns ? image_put_pages(w, src->gfns, src->ngfns, src->read, src->opaque, src->read_mt, e)
		       : image_put_ram(w, ranges, (unsigned)d->mem.nr_ranges, src->read, src->opaque, src->read_mt, e)) < 0) {
		image_writer_abort(w);
		return -1;
	}
	return image_writer_close(w, e);
}

/* ---- reading */

/* A vCPU's records a restore needs (XCRS is optional: not every host has it). */
enum { S_REGS, S_SREGS, S_FPU, S_LAPIC, S_EVENTS, S_MP, S_DREGS, S_MSRS, S_CPUID, S_HV, S_N };
static const char *const seen_names[S_N] = { "REGS", "SREGS", "FPU or XSAVE", "LAPIC", "EVENTS", "MP_STATE",
					     "DEBUGREGS", "MSRS", "CPUID", "HV_VCPU" };

struct restore {
	struct hv *hv;
	const struct image_restore_opts *o;
	struct domain *d;
	struct vm_state vs;
	struct hv_domain_rec hr;
	bool have_hr, have_uart, have_pit, have_clock, chips[3];
	bool (*seen)[S_N]; /* per vCPU: which of its records came */
	struct image_index *lazy; /* RAM comes from here on demand, not from PAGE_DATA now */
	uint8_t tail[4096];
	size_t ntail;
};

static int put_page(void *opaque, uint64_t gfn, const void *data, struct err *e)
{
	struct restore *rs = opaque;
	uint8_t *p = mem_ptr(&rs->d->mem, gfn * IMAGE_PAGE_SIZE, IMAGE_PAGE_SIZE);
	if (!p)
		return err_set(e, "page 0x%llx lies outside the domain's RAM", (unsigned long long)gfn);
	if (data)
		memcpy(p, data, IMAGE_PAGE_SIZE);
	else
		memset(p, 0, IMAGE_PAGE_SIZE); /* a new memfd reads as zeros: this is for a rollback */
	return 0;
}

static void step(const struct image_restore_opts *o, enum restore_step s)
{
	if (o && o->steps)
		o->steps[s] = time_ns();
}

static int got_config(struct restore *rs, struct image_reader *r, const void *p, uint32_t len, struct err *e)
{
	struct xlcfg x;
	struct domain_config cfg;
	uint32_t nv;
	unsigned nr;
	const struct image_range *rg = image_reader_layout(r, &nv, &nr);
	uint64_t mem = 0;
	int id;
	if (rs->d)
		return err_set(e, "the image has two configurations");
	if (xlcfg_parse(p, len, "the image's configuration", &x, e) < 0)
		return -1;
	if (rs->o->name) {
		if (snprintf(x.name, sizeof(x.name), "%s", rs->o->name) >= (int)sizeof(x.name))
			return err_set(e, "%s: name too long", rs->o->name);
	}
	xlcfg_to_config(&x, &cfg);
	for (unsigned i = 0; rg && i < nr; i++)
		mem += rg[i].size;
	if (!rg || nv != x.vcpus)
		return err_set(e, "the image's layout (%u vCPUs) does not match its configuration (%u)", nv, x.vcpus);
	cfg.mem_bytes = mem;
	if (rs->o->check && rs->o->check(rs->o->check_opaque, &cfg, e) < 0)
		return -1;
	id = rs->o->detached ? -1 : hv_domain_new_id(rs->hv, cfg.name, e);
	if (id < 0 && !rs->o->detached)
		return -1;
	rs->d = domain_create(rs->hv, id, &cfg, e);
	if (!rs->d)
		return -1;
	if (domain_vm_create(rs->d, true, e) < 0)
		return -1;
	step(rs->o, RS_DOMAIN);
	if ((unsigned)rs->d->mem.nr_ranges != nr)
		return err_set(e, "the image's RAM ranges do not match a %llu-byte domain", (unsigned long long)mem);
	for (unsigned i = 0; i < nr; i++)
		if (rs->d->mem.ranges[i].gpa != rg[i].gpa || rs->d->mem.ranges[i].size != rg[i].size)
			return err_set(e, "the image's RAM ranges do not match a %llu-byte domain", (unsigned long long)mem);
	return 0;
}

/* The state's vCPUs, once LAYOUT says how many (the reader puts it first). */
static int need_vcpus(struct restore *rs, struct image_reader *r, struct err *e)
{
	uint32_t nv = 0;
	unsigned nr;
	if (rs->vs.vcpus)
		return 0;
	if (!image_reader_layout(r, &nv, &nr) || nv == 0 || nv > HV_MAX_VCPUS)
		return err_set(e, "the image's layout has %u vCPUs", nv);
	rs->vs.nr_vcpus = nv;
	rs->vs.vcpus = xcalloc(nv, sizeof(*rs->vs.vcpus));
	rs->seen = xcalloc(nv, sizeof(*rs->seen));
	return 0;
}

/* A per-vCPU record into the state: its header checked, its size exact. */
static int got_vcpu(struct restore *rs, uint32_t type, const void *p, uint32_t len, struct err *e)
{
	const struct image_vcpu_hdr *h = p;
	const uint8_t *body = (const uint8_t *)p + sizeof(*h);
	uint32_t blen;
	struct vcpu_state *s;
	bool *seen;
	void *dst = NULL;
	int flag = -1;
	size_t want = 0;
	if (len < sizeof(*h))
		return err_set(e, "a %s record is too short", image_type_name(type));
	if (h->vcpu >= rs->vs.nr_vcpus)
		return err_set(e, "a %s record for vCPU %u of %u", image_type_name(type), h->vcpu, rs->vs.nr_vcpus);
	blen = len - (uint32_t)sizeof(*h);
	s = &rs->vs.vcpus[h->vcpu];
	seen = rs->seen[h->vcpu];
	switch (type) {
	case IMAGE_VCPU_REGS: dst = &s->regs; want = sizeof(s->regs); flag = S_REGS; break;
	case IMAGE_VCPU_SREGS: dst = &s->sregs; want = sizeof(s->sregs); flag = S_SREGS; break;
	case IMAGE_VCPU_FPU: dst = &s->fpu; want = sizeof(s->fpu); flag = S_FPU; break;
	case IMAGE_VCPU_XSAVE: dst = s->xsave; want = sizeof(s->xsave); flag = S_FPU; s->has_xsave = true; break;
	case IMAGE_VCPU_XCRS: dst = &s->xcrs; want = sizeof(s->xcrs); s->has_xcrs = true; break;
	case IMAGE_VCPU_LAPIC: dst = &s->lapic; want = sizeof(s->lapic); flag = S_LAPIC; break;
	case IMAGE_VCPU_EVENTS: dst = &s->events; want = sizeof(s->events); flag = S_EVENTS; break;
	case IMAGE_VCPU_MP_STATE: dst = &s->mp; want = sizeof(s->mp); flag = S_MP; break;
	case IMAGE_VCPU_DEBUGREGS: dst = &s->dregs; want = sizeof(s->dregs); flag = S_DREGS; break;
	case IMAGE_HV_VCPU: dst = &s->hv; want = sizeof(s->hv); flag = S_HV; break;
	case IMAGE_VCPU_MSRS:
		if (seen[S_MSRS] || h->count > IMAGE_MAX_MSRS || blen != h->count * sizeof(struct kvm_msr_entry))
			return err_set(e, "vCPU %u: a bad MSRS record", h->vcpu);
		s->msrs = xcalloc(h->count ? h->count : 1, sizeof(struct kvm_msr_entry));
		memcpy(s->msrs, body, blen);
		s->nmsrs = h->count;
		seen[S_MSRS] = true;
		return 0;
	case IMAGE_VCPU_CPUID:
		if (seen[S_CPUID] || h->count > IMAGE_MAX_CPUID || blen != h->count * sizeof(struct kvm_cpuid_entry2))
			return err_set(e, "vCPU %u: a bad CPUID record", h->vcpu);
		s->cpuid = xcalloc(1, sizeof(*s->cpuid) + blen);
		s->cpuid->nent = h->count;
		memcpy(s->cpuid->entries, body, blen);
		seen[S_CPUID] = true;
		return 0;
	default:
		return 0;
	}
	if (blen != want)
		return err_set(e, "vCPU %u: a %s record of %u bytes (%zu expected)", h->vcpu, image_type_name(type), blen, want);
	memcpy(dst, body, want);
	if (flag >= 0) {
		if (seen[flag])
			return err_set(e, "vCPU %u: two %s records", h->vcpu, image_type_name(type));
		seen[flag] = true;
	}
	return 0;
}

static int got_domain_rec(struct restore *rs, uint32_t type, const void *p, uint32_t len, struct err *e)
{
	switch (type) {
	case IMAGE_IRQCHIP: {
		struct kvm_irqchip c;
		if (len != sizeof(c))
			return err_set(e, "a bad IRQCHIP record");
		memcpy(&c, p, sizeof(c));
		if (c.chip_id > 2)
			return err_set(e, "an IRQCHIP record for chip %u", c.chip_id);
		rs->vs.chip[c.chip_id] = c;
		rs->chips[c.chip_id] = true;
		return 0;
	}
	case IMAGE_PIT:
		if (len != sizeof(rs->vs.pit))
			return err_set(e, "a bad PIT record");
		memcpy(&rs->vs.pit, p, len);
		rs->have_pit = true;
		return 0;
	case IMAGE_CLOCK:
		if (len != sizeof(rs->vs.clock))
			return err_set(e, "a bad CLOCK record");
		memcpy(&rs->vs.clock, p, len);
		rs->have_clock = true;
		return 0;
	case IMAGE_UART: {
		struct {
			uint32_t index, layout;
			struct uart_state s;
		} u;
		if (len != sizeof(u))
			return err_set(e, "a UART record of %u bytes (%zu expected)", len, sizeof(u));
		memcpy(&u, p, sizeof(u));
		if (u.layout != HV_IMAGE_LAYOUT || u.index != 0)
			return err_set(e, "a UART record of layout %u for port %u (this hv reads layout %u, port 0)", u.layout,
				       u.index, HV_IMAGE_LAYOUT);
		rs->vs.uart = u.s;
		rs->have_uart = true;
		return 0;
	}
	case IMAGE_CONSOLE_TAIL:
		rs->ntail = len < sizeof(rs->tail) ? len : sizeof(rs->tail);
		memcpy(rs->tail, (const uint8_t *)p + (len - rs->ntail), rs->ntail);
		return 0;
	case IMAGE_HV_DOMAIN:
		if (len != sizeof(rs->hr))
			return err_set(e, "a bad HV_DOMAIN record");
		memcpy(&rs->hr, p, len);
		if (rs->hr.layout != HV_IMAGE_LAYOUT)
			return err_set(e, "an HV_DOMAIN record of layout %u (this hv reads %u)", rs->hr.layout, HV_IMAGE_LAYOUT);
		rs->have_hr = true;
		return 0;
	default:
		return 0;
	}
}

/* At END: everything needed to run is there. */
static int complete(struct restore *rs, struct err *e)
{
	if (!rs->vs.vcpus)
		return err_set(e, "the image has no vCPUs");
	for (unsigned i = 0; i < rs->vs.nr_vcpus; i++)
		for (unsigned k = 0; k < S_N; k++)
			if (!rs->seen[i][k])
				return err_set(e, "the image lacks vCPU %u's %s", i, seen_names[k]);
	if (!rs->chips[0] || !rs->chips[1] || !rs->chips[2] || !rs->have_pit || !rs->have_clock || !rs->have_uart ||
	    !rs->have_hr)
		return err_set(e, "the image lacks the %s state",
			       !rs->have_pit ? "PIT" : !rs->have_clock ? "clock" : !rs->have_uart ? "serial port's"
			       : !rs->have_hr ? "hypervisor's" : "interrupt controllers'");
	rs->vs.hv = (struct dom_hvstate){ .event_vector = rs->hr.event_vector, .event_apic = rs->hr.event_apic,
					  .request = rs->hr.request };
	rs->vs.uptime_ns = rs->hr.uptime_ns;
	return 0;
}

/* One record of the stream into the restore (with_domain: a new domain is built and its
 * RAM filled, unless the RAM comes lazily; else only the machine state is taken, for a
 * rollback). */
static int got_record(struct restore *rs, struct image_reader *r, uint32_t type, const void *p, uint32_t len,
		      bool with_domain, struct err *e)
{
	if (need_vcpus(rs, r, e) < 0)
		return -1;
	if (type == IMAGE_DOMAIN_CONFIG)
		return with_domain ? got_config(rs, r, p, len, e) : 0;
	if (type == IMAGE_PAGE_DATA) {
		if (!with_domain || rs->lazy)
			return 0;
		return rs->d ? image_pages(r, p, len, put_page, rs, e) : err_set(e, "pages before the configuration");
	}
	if (type == IMAGE_SYNC) {
		uint64_t seq;
		memcpy(&seq, p, sizeof(seq)); /* the reader checked its size */
		return rs->o && rs->o->sync ? rs->o->sync(rs->o->check_opaque, seq, e) : 0;
	}
	if (type == IMAGE_PENDING) {
		if (!with_domain || !rs->o || !rs->o->pending)
			return err_set(e, "a post-copy migration's PENDING record: only a relocation server reads it");
		if (!rs->d)
			return err_set(e, "pending pages before the configuration");
		if (len % 8)
			return err_set(e, "a PENDING record of %u bytes (not whole gfns)", len);
		{
			uint64_t *g = xcalloc(len / 8, 8);
			int rc;
			memcpy(g, p, len); /* the payload may not be aligned for u64 */
			rc = rs->o->pending(rs->o->check_opaque, rs->d, g, len / 8, e);
			free(g);
			return rc;
		}
	}
	if ((type >= IMAGE_VCPU_REGS && type <= IMAGE_VCPU_CPUID) || type == IMAGE_HV_VCPU)
		return got_vcpu(rs, type, p, len, e);
	return got_domain_rec(rs, type, p, len, e);
}

static void restore_free(struct restore *rs)
{
	vmstate_free(&rs->vs);
	free(rs->seen);
	rs->seen = NULL;
}

int image_read_state(struct image_index *x, struct vm_state *vs, struct err *e)
{
	struct restore rs = { 0 };
	struct image_reader *r = image_index_reader(x, e);
	uint32_t type, len;
	const void *p;
	int n;
	if (!r)
		return -1;
	image_reader_trust_pages(r); /* the pages are not read here: the index checks those it gives */
	while ((n = image_next(r, &type, &p, &len, e)) > 0)
		if (got_record(&rs, r, type, p, len, false, e) < 0) {
			n = -1;
			break;
		}
	image_reader_close(r);
	if (n < 0 || complete(&rs, e) < 0) {
		restore_free(&rs);
		return -1;
	}
	*vs = rs.vs;
	free(rs.seen);
	return 0;
}

struct domain *image_restore(struct hv *hv, struct image_reader *r, struct image_index *lazy,
			     const struct image_restore_opts *o, const struct image_header *h, struct err *e)
{
	struct restore rs = { .hv = hv, .o = o, .lazy = lazy };
	struct domain *d = NULL;
	uint32_t type, len;
	const void *p;
	int n;

	if (h->flags & IMAGE_F_INCREMENTAL) {
		err_set(e, "an incremental image (its parent is image %016llx): only a rollback restores it",
			(unsigned long long)h->parent_id);
		goto fail;
	}
	while ((n = image_next(r, &type, &p, &len, e)) > 0)
		if (got_record(&rs, r, type, p, len, true, e) < 0)
			goto fail;
	if (n < 0 || complete(&rs, e) < 0)
		goto fail;
	step(o, RS_RECORDS);
	if (!rs.d) {
		err_set(e, "the image has no domain configuration");
		goto fail;
	}
	if (rs.vs.nr_vcpus != rs.d->nr_vcpus) {
		err_set(e, "the image's layout (%u vCPUs) does not match its configuration (%u)", rs.vs.nr_vcpus,
			rs.d->nr_vcpus);
		goto fail;
	}
	d = rs.d;
	if (vmstate_cpuid_check(hv->kvm.cpuid, rs.vs.vcpus[0].cpuid, e) < 0)
		goto fail;
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		if (vcpu_create(d, i, e) < 0)
			goto fail;
	step(o, RS_VCPUS);
	/* RAM on demand from here: KVM may touch it while the state goes in */
	if (lazy) {
		if (lazy_start(d, lazy, e) < 0)
			goto fail;
		rs.lazy = NULL; /* the domain owns it now */
	}
	step(o, RS_LAZY);
	if (vmstate_set(d, &rs.vs, true, e) < 0)
		goto fail;
	step(o, RS_STATE);
	d->start_ns = time_ns() - rs.hr.uptime_ns;
	d->reboots = rs.hr.reboots;
	if (rs.ntail)
		domcons_out(&d->cons, rs.tail, rs.ntail);
	pthread_mutex_lock(&d->lock);
	d->state = DOMAIN_RUNNING;
	pthread_mutex_unlock(&d->lock);
	if (!o->detached && image_restore_attach(hv, d, o->paused, e) < 0)
		goto fail;
	step(o, RS_START);
	ksyms_load_behind(d); /* the kernel's symbols once it runs (ksyms.c) */
	restore_free(&rs);
	return d;
fail:
	restore_free(&rs);
	image_index_close(rs.lazy); /* not taken by a domain yet */
	if (rs.d)
		domain_destroy(rs.d);
	return NULL;
}

int image_restore_attach(struct hv *hv, struct domain *d, bool paused, struct err *e)
{
	if (d->id < 0) {
		d->id = hv_domain_new_id(hv, d->name, e);
		if (d->id < 0)
			return -1;
	}
	if (paused && domain_pause(d, e) < 0)
		return -1;
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		if (vcpu_start_thread(&d->vcpus[i], e) < 0)
			return -1;
	return hv_domain_insert(hv, d, e);
}
