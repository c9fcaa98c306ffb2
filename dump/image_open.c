/* image_open: a domain image file opened as a dump (a row of open.c's reader table), so
 * hvdump and hvmdb read save files and checkpoints: the stream is read once through the
 * checking reader, vCPU registers come from the VCPU_* records and RAM from an index
 * gfn -> file offset (pages the image leaves out read as zeros). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define PG IMAGE_PAGE_SIZE
#define CACHE 64

struct image_file {
	struct image_header h;
	struct image_index *ix; /* the pages (image_index.c) */
	struct image_range ranges[IMAGE_MAX_RANGES];
	unsigned nr_ranges;
	uint8_t *cache; /* CACHE pages read */
	uint64_t tag[CACHE];
	char desc[192];
};

/* What the stream said about each vCPU (pointers into the mapping). */
struct vcpu_recs {
	const uint8_t *regs, *sregs, *events, *mp, *lapic, *dregs, *msrs;
	uint32_t nmsrs;
};

bool image_probe(const uint8_t *map, uint64_t size)
{
	return size >= 8 && !memcmp(map, IMAGE_MAGIC, 8);
}

void image_free(struct dump_file *f)
{
	if (!f->image)
		return;
	image_index_close(f->image->ix);
	free(f->image->cache);
	free(f->image);
	f->image = NULL;
}

static void msr_value(const struct vcpu_recs *v, uint32_t index, uint64_t *out)
{
	for (uint32_t i = 0; i < v->nmsrs; i++) {
		struct kvm_msr_entry m;
		memcpy(&m, v->msrs + (size_t)i * sizeof(m), sizeof(m));
		if (m.index == index)
			*out = m.data;
	}
}

static int cpu_build(struct dump_file *f, unsigned i, const struct vcpu_recs *v, struct err *e)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_lapic_state lapic;
	struct kvm_debugregs dr;
	struct dump_cpu *c;
	if (!v->regs || !v->sregs)
		return err_set(e, "vCPU %u has no %s record", i, v->regs ? "VCPU_SREGS" : "VCPU_REGS");
	c = f->cpus[i] = calloc(1, sizeof(*c));
	if (!c)
		return err_set(e, "out of memory");
	f->ncpus = i + 1;
	memcpy(&r, v->regs, sizeof(r));
	memcpy(&s, v->sregs, sizeof(s));
	if (v->events)
		memcpy(&ev, v->events, sizeof(ev));
	if (v->mp)
		memcpy(&mp, v->mp, sizeof(mp));
	if (v->lapic)
		memcpy(&lapic, v->lapic, sizeof(lapic));
	if (v->dregs)
		memcpy(&dr, v->dregs, sizeof(dr));
	image_cpu_from_kvm(c, i, &r, &s, v->events ? &ev : NULL, v->mp ? &mp : NULL, v->lapic ? &lapic : NULL,
			   v->dregs ? &dr : NULL);
	msr_value(v, 0x10, &c->msr_tsc);
	msr_value(v, 0x174, &c->msr_sysenter_cs);
	msr_value(v, 0x175, &c->msr_sysenter_esp);
	msr_value(v, 0x176, &c->msr_sysenter_eip);
	msr_value(v, 0x277, &c->msr_pat);
	msr_value(v, 0xc0000081, &c->msr_star);
	msr_value(v, 0xc0000082, &c->msr_lstar);
	msr_value(v, 0xc0000102, &c->msr_kernel_gs_base);
	return 0;
}

static int domain_build(struct dump_file *f, const struct image_file *im, const uint8_t *info, uint32_t nr_vcpus,
			struct err *e)
{
	struct dump_domain *d = f->domain = calloc(1, sizeof(*d));
	if (!d)
		return err_set(e, "out of memory");
	d->version = DUMP_VERSION;
	d->id = -1;
	snprintf(d->state, sizeof(d->state), "%s", im->h.flags & IMAGE_F_CHECKPOINT ? "checkpoint" : "saved");
	if (info) {
		struct image_domain_info di;
		memcpy(&di, info, sizeof(di));
		d->id = di.id;
		snprintf(d->name, sizeof(d->name), "%.*s", (int)sizeof(di.name), di.name);
		if (di.state[0])
			snprintf(d->state, sizeof(d->state), "%.*s", (int)sizeof(di.state), di.state);
		snprintf(d->reason, sizeof(d->reason), "%.*s", (int)sizeof(di.reason), di.reason);
		d->time_ns = di.time_ns;
	}
	if (!d->time_ns)
		d->time_ns = im->h.created_ns;
	for (unsigned i = 0; i < im->nr_ranges; i++)
		d->mem_bytes += im->ranges[i].size;
	d->nr_vcpus = nr_vcpus;
	return 0;
}

static void describe(struct image_file *im)
{
	time_t t = (time_t)(im->h.created_ns / 1000000000ull);
	struct tm tm;
	char when[32] = "?";
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	snprintf(im->desc, sizeof(im->desc), "hvkit domain image v%u (%s), hv %s, taken %s", im->h.version,
		 im->h.flags & IMAGE_F_CHECKPOINT ? "checkpoint" : im->h.flags & IMAGE_F_LIVE ? "migration stream" : "save",
		 im->h.hv_version[0] ? im->h.hv_version : "?", when);
}

static int scan(struct dump_file *f, struct image_reader *r, struct vcpu_recs *v, const uint8_t **info,
		struct err *e)
{
	for (;;) {
		uint32_t type, len, vcpu = 0, count = 0;
		const void *pv;
		const uint8_t *p;
		int rc = image_next(r, &type, &pv, &len, e);
		if (rc <= 0)
			return rc;
		p = pv;
		if (type >= IMAGE_VCPU_REGS && type <= IMAGE_VCPU_CPUID) {
			memcpy(&vcpu, p, 4);
			memcpy(&count, p + 4, 4);
		}
		switch (type) {
		case IMAGE_VCPU_REGS: v[vcpu].regs = p + 8; break;
		case IMAGE_VCPU_SREGS: v[vcpu].sregs = p + 8; break;
		case IMAGE_VCPU_EVENTS: v[vcpu].events = p + 8; break;
		case IMAGE_VCPU_MP_STATE: v[vcpu].mp = p + 8; break;
		case IMAGE_VCPU_LAPIC: v[vcpu].lapic = p + 8; break;
		case IMAGE_VCPU_DEBUGREGS: v[vcpu].dregs = p + 8; break;
		case IMAGE_VCPU_MSRS:
			v[vcpu].msrs = p + 8;
			v[vcpu].nmsrs = count;
			break;
		case IMAGE_DOMAIN_INFO: *info = p; break;
		case IMAGE_VMCOREINFO:
			f->vmcoreinfo = calloc(1, (size_t)len + 1);
			if (!f->vmcoreinfo)
				return err_set(e, "out of memory");
			memcpy(f->vmcoreinfo, p, len);
			break;
		default:
			break;
		}
	}
}

int image_open(struct dump_file *f, const char *path, struct err *e)
{
	struct image_reader *r;
	struct image_file *im;
	struct vcpu_recs *v = NULL;
	const struct image_range *ranges;
	const uint8_t *info = NULL;
	uint32_t nr_vcpus = 0;
	int rc = -1;

	im = f->image = calloc(1, sizeof(*im));
	if (!im)
		return err_set(e, "out of memory");
	r = image_reader_open_map(f->map, f->size, &im->h, e);
	if (!r)
		return err_prefix(e, "%s", path);

	if (im->h.flags & IMAGE_F_INCREMENTAL) {
		err_set(e, "%s: an incremental image (parent %016llx): it holds only the pages written since its parent "
			   "and cannot be read on its own",
			path, (unsigned long long)im->h.parent_id);
		goto out;
	}
	/* every record checked once (checksums, rules, END) as the pages are indexed; the
	 * scan for the rest then need not check the page data again */
	im->ix = image_index_from_map(f->map, f->size, e);
	if (!im->ix) {
		err_prefix(e, "%s", path);
		goto out;
	}
	image_reader_trust_pages(r);
	v = calloc(IMAGE_MAX_VCPUS, sizeof(*v));
	if (!v) {
		err_set(e, "out of memory");
		goto out;
	}
	if (scan(f, r, v, &info, e) < 0) {
		err_prefix(e, "%s", path);
		goto out;
	}
	if (image_reader_offset(r) != f->size) {
		err_set(e, "%s: %llu bytes after the END record", path,
			(unsigned long long)(f->size - image_reader_offset(r)));
		goto out;
	}
	ranges = image_reader_layout(r, &nr_vcpus, &im->nr_ranges);
	memcpy(im->ranges, ranges, im->nr_ranges * sizeof(*ranges));
	f->loads = calloc(im->nr_ranges, sizeof(*f->loads));
	im->cache = malloc((size_t)CACHE * PG);
	if (!f->loads || !im->cache) {
		err_set(e, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < im->nr_ranges; i++)
		f->loads[f->nloads++] = (struct dump_load){ 0, im->ranges[i].gpa, im->ranges[i].size, im->ranges[i].size, 0 };
	for (unsigned i = 0; i < CACHE; i++)
		im->tag[i] = UINT64_MAX;
	for (unsigned i = 0; i < nr_vcpus; i++) {
		if (cpu_build(f, i, &v[i], e) < 0) {
			err_prefix(e, "%s", path);
			goto out;
		}
	}
	if (domain_build(f, im, info, nr_vcpus, e) < 0)
		goto out;
	describe(im);
	rc = 0;
out:
	free(v);
	image_reader_close(r);
	return rc;
}

static bool in_ram(const struct image_file *im, uint64_t gpa)
{
	for (unsigned i = 0; i < im->nr_ranges; i++)
		if (gpa >= im->ranges[i].gpa && gpa - im->ranges[i].gpa < im->ranges[i].size)
			return true;
	return false;
}

size_t image_read_phys(struct dump_file *f, uint64_t gpa, void *buf, size_t len)
{
	struct image_file *im = f->image;
	uint8_t *out = buf;
	size_t done = 0;
	while (done < len) {
		uint64_t a = gpa + done, gfn = a / PG, in = a % PG, n = PG - in;
		uint8_t *c = im->cache + (size_t)(gfn % CACHE) * PG;
		if (a < gpa || !in_ram(im, a))
			break;
		if (n > len - done)
			n = len - done;
		if (im->tag[gfn % CACHE] != gfn) {
			int got = image_index_page(im->ix, gfn, c);
			if (got < 0) {
				im->tag[gfn % CACHE] = UINT64_MAX;
				break;
			}
			if (!got) /* not in the image: it was all zeros */
				memset(c, 0, PG);
			im->tag[gfn % CACHE] = gfn;
		}
		memcpy(out + done, c + in, n);
		done += n;
	}
	return done;
}

const char *image_describe(const struct dump_file *f)
{
	return f->image ? f->image->desc : "";
}
