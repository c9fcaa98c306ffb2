/* snapshot: consistent dumps of a running domain, with the domain paused only for an
 * instant. RAM is write-protected with userfaultfd (UFFDIO_WRITEPROTECT on the memfd
 * mapping KVM uses) in two phases, because protecting GiBs takes tens of milliseconds:
 *   1. armed, the domain running: all RAM is protected; a write faults to our handler,
 *      which just notes the page and lets the write go on (the instant is still to come);
 *   2. frozen, in the pause: vCPU states are taken and only the pages noted in phase 1
 *      are protected again; from then on a write to a page not yet dumped makes the
 *      handler save the page's old contents first.
 * So the file holds the instant of the pause, and the pause costs the pages written
 * during phase 1, not the size of RAM. Without userfaultfd write-protection the domain
 * stays paused for the whole write instead. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dump/dump.h"

struct snap {
	struct domain *d;
	int uffd;
	int stop_fd[2];
	pthread_t thread;
	pthread_mutex_t lock;
	uint8_t **saved; /* per page of the memfd: the old contents, once the guest wrote it */
	uint64_t npages, copied;
	bool cow;
	bool frozen;      /* phase 2: the instant is taken */
	uint64_t *dirty;  /* phase 1: pages written (and unprotected) since arming */
	size_t ndirty, dirty_cap;
	bool dirty_lost;  /* the list could not grow: protect everything again at the freeze */
	size_t rewritten; /* pages protected again at the freeze */
};

static void cow_stop(struct snap *s);

static int protect(struct snap *s, uint64_t page, uint64_t npages, bool wp)
{
	struct uffdio_writeprotect w = {
		.range = { (uint64_t)(uintptr_t)s->d->mem.base + page * 4096, npages * 4096 },
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	return ioctl(s->uffd, UFFDIO_WRITEPROTECT, &w);
}

static uint64_t page_of(struct snap *s, uint64_t gpa, bool *ok)
{
	struct guest_mem *m = &s->d->mem;
	for (int i = 0; i < m->nr_ranges; i++) {
		if (gpa >= m->ranges[i].gpa && gpa - m->ranges[i].gpa < m->ranges[i].size) {
			*ok = true;
			return (uint64_t)(m->ranges[i].hva - m->base + (gpa - m->ranges[i].gpa)) / 4096;
		}
	}
	*ok = false;
	return 0;
}

static void *fault_thread(void *arg)
{
	struct snap *s = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd p[2] = { { .fd = s->uffd, .events = POLLIN }, { .fd = s->stop_fd[0], .events = POLLIN } };
		struct uffd_msg msg;
		uint64_t page;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (read(s->uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		page = (msg.arg.pagefault.address - (uint64_t)(uintptr_t)s->d->mem.base) / 4096;
		if (page >= s->npages)
			continue;
		/* under the lock, unprotecting included: the freeze must not interleave */
		pthread_mutex_lock(&s->lock);
		if (!s->frozen) {
			if (s->ndirty == s->dirty_cap) {
				size_t cap = s->dirty_cap ? s->dirty_cap * 2 : 4096;
				uint64_t *n = realloc(s->dirty, cap * sizeof(*n));
				if (n) {
					s->dirty = n;
					s->dirty_cap = cap;
				}
			}
			if (s->ndirty < s->dirty_cap)
				s->dirty[s->ndirty++] = page;
			else
				s->dirty_lost = true;
		} else if (!s->saved[page]) {
			uint8_t *copy = malloc(4096);
			if (copy) {
				memcpy(copy, s->d->mem.base + page * 4096, 4096);
				__atomic_store_n(&s->saved[page], copy, __ATOMIC_RELEASE); /* before the unprotect */
				s->copied++;
			}
		}
		protect(s, page, 1, false); /* and wake the writer */
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

static int snap_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct snap *s = opaque;
	size_t done = 0;
	while (done < len) {
		bool ok;
		uint64_t a = gpa + done, page = page_of(s, a, &ok), in = a & 4095, n = 4096 - in;
		if (!ok)
			return -1;
		if (n > len - done)
			n = len - done;
		/* Without the lock: a page is saved (the pointer published) before it is
		 * unprotected, so a copy from RAM is the instant's unless the page was saved
		 * meanwhile, and then the saved copy is taken instead. */
		if (s->saved) {
			uint8_t *sv = __atomic_load_n(&s->saved[page], __ATOMIC_ACQUIRE);
			if (!sv) {
				memcpy((uint8_t *)buf + done, s->d->mem.base + page * 4096 + in, n);
				sv = __atomic_load_n(&s->saved[page], __ATOMIC_ACQUIRE);
			}
			if (sv)
				memcpy((uint8_t *)buf + done, sv + in, n);
		} else { /* no copy-on-write: the domain is held for the whole write */
			memcpy((uint8_t *)buf + done, s->d->mem.base + page * 4096 + in, n);
		}
		done += n;
	}
	return 0;
}

/* Phase 1, the domain running: every page protected, writes only noted. */
static int cow_arm(struct snap *s)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM };
	struct uffdio_register reg = { .range = { (uint64_t)(uintptr_t)s->d->mem.base, s->d->mem.size },
				       .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	/* KVM touches guest RAM from the kernel: the uffd must handle kernel-mode faults too */
	s->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (s->uffd < 0)
		return -1;
	if (ioctl(s->uffd, UFFDIO_API, &api) < 0 || !(api.features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM) ||
	    ioctl(s->uffd, UFFDIO_REGISTER, &reg) < 0) {
		close(s->uffd);
		s->uffd = -1;
		return -1;
	}
	s->saved = calloc(s->npages, sizeof(*s->saved));
	if (!s->saved || pipe(s->stop_fd) < 0 || pthread_create(&s->thread, NULL, fault_thread, s)) {
		close(s->uffd);
		s->uffd = -1;
		return -1;
	}
	if (ioctl(s->uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
		cow_stop(s);
		return -1;
	}
	return 0;
}

/* Phase 2, in the pause: protect again what was written since arming. */
static int cow_freeze(struct snap *s)
{
	int ret = 0;
	pthread_mutex_lock(&s->lock);
	s->frozen = true;
	if (s->dirty_lost) {
		ret = protect(s, 0, s->npages, true);
	} else {
		for (size_t i = 0; i < s->ndirty && ret == 0; i++) {
			size_t n = 1; /* runs of consecutive pages in one call */
			while (i + n < s->ndirty && s->dirty[i + n] == s->dirty[i] + n)
				n++;
			ret = protect(s, s->dirty[i], n, true);
			i += n - 1;
		}
	}
	s->rewritten = s->ndirty;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

static void cow_stop(struct snap *s)
{
	struct uffdio_range r = { (uint64_t)(uintptr_t)s->d->mem.base, s->d->mem.size };
	if (s->uffd < 0)
		return;
	(void)!write(s->stop_fd[1], "x", 1);
	pthread_join(s->thread, NULL);
	ioctl(s->uffd, UFFDIO_UNREGISTER, &r); /* drops the write protection */
	close(s->uffd);
	close(s->stop_fd[0]);
	close(s->stop_fd[1]);
	for (uint64_t i = 0; i < s->npages; i++)
		free(s->saved[i]);
	free(s->saved);
	s->saved = NULL;
	free(s->dirty);
	s->dirty = NULL;
	s->uffd = -1;
}

static void cpu_from(struct dump_cpu *c, const struct vcpu_snapshot *v)
{
	memset(c, 0, sizeof(*c));
	c->version = DUMP_VERSION;
	c->index = v->index;
	c->online = v->online;
	c->mp_state = v->mp.mp_state;
	dump_cpu_from_kvm(c, &v->regs, &v->sregs);
	c->msr_star = v->msr_star; c->msr_lstar = v->msr_lstar; c->msr_kernel_gs_base = v->msr_kernel_gs_base;
	c->msr_sysenter_cs = v->msr_sysenter_cs; c->msr_sysenter_esp = v->msr_sysenter_esp;
	c->msr_sysenter_eip = v->msr_sysenter_eip; c->msr_pat = v->msr_pat; c->msr_tsc = v->msr_tsc;
	c->dr6 = v->dregs.dr6; c->dr7 = v->dregs.dr7;
	c->nmi_pending = v->events.nmi.pending; c->nmi_masked = v->events.nmi.masked;
	c->irq_shadow = v->events.interrupt.shadow; c->exception_pending = v->events.exception.pending;
	c->exception_nr = v->events.exception.nr; c->exception_error = v->events.exception.error_code;
	memcpy(c->lapic, v->lapic.regs, sizeof(c->lapic));
}

/* VMCOREINFO for the kernel: what is known from its symbols. */
static void vmcoreinfo(struct domain *d, char *buf, size_t len)
{
	static const char *const syms[] = { "thread_list", "cpus", "ncpus", "log_ring", "panic_info", "jiffies", "pml4",
					    "_text", "swapper_pg_dir", "init_uts_ns", "phys_base", "_stext" };
	size_t n = (size_t)snprintf(buf, len, "OSRELEASE=%s\nPAGESIZE=4096\n", d->cfg.kernel ? "unknown" : "hvkit-guest");
	if (d->kernel.symtab.build_id[0] && n < len)
		n += (size_t)snprintf(buf + n, len - n, "BUILD-ID=%s\n", d->kernel.symtab.build_id);
	for (size_t i = 0; i < sizeof(syms) / sizeof(syms[0]) && n < len; i++) {
		for (size_t k = 0; k < d->kernel.symtab.n; k++) {
			if (!strcmp(d->kernel.symtab.syms[k].name, syms[i])) {
				n += (size_t)snprintf(buf + n, len - n, "SYMBOL(%s)=%llx\n", syms[i],
						      (unsigned long long)d->kernel.symtab.syms[k].addr);
				break;
			}
		}
	}
}

struct progress {
	struct domain *d;
	const struct hv_dump_opts *o;
};

static int progress_cb(void *opaque, uint64_t done, uint64_t total)
{
	struct progress *p = opaque;
	if (atomic_load(&p->d->dump_cancel))
		return 1;
	return p->o && p->o->progress ? p->o->progress(p->o->opaque, done, total) : 0;
}

int hv_domain_dump(struct hv *hv, int id, const char *path, const struct hv_dump_opts *opts, struct hv_dump_stats *st,
		   struct err *e)
{
	struct domain *d = hv_domain_by_id(hv, id);
	struct snap s = { .uffd = -1 };
	struct vcpu_snapshot *vs = NULL;
	struct dump_cpu *cpus = NULL;
	struct dump_range ranges[2];
	struct dump_source src;
	struct dump_out file;
	char info[2048], state[16];
	uint64_t t0 = time_ns(), t_paused;
	int n, ret = -1;
	bool held = false, armed;

	memset(st, 0, sizeof(*st));
	if (!d)
		return err_set(e, "no domain with id %d", id);
	if (!d->vcpus || d->vm_fd < 0)
		return err_set(e, "%s has no state to dump", d->name);
	if (dump_out_create(&file, path, e) < 0)
		return -1;
	atomic_fetch_add(&d->dump_active, 1); /* released at out: */
	vs = calloc(d->nr_vcpus, sizeof(*vs));
	cpus = calloc(d->nr_vcpus, sizeof(*cpus));
	if (!vs || !cpus) {
		err_set(e, "out of memory");
		goto out;
	}

	snprintf(state, sizeof(state), "%s", domain_state_name(domain_state_now(d)));
	/* the instant: every vCPU out of the guest, state taken, RAM write-protected */
	s.d = d;
	s.npages = d->mem.size / 4096;
	pthread_mutex_init(&s.lock, NULL);
	armed = cow_arm(&s) == 0; /* the slow part, while the domain runs */
	t0 = time_ns();
	hv_domain_hold(hv, id);
	held = true;
	n = hv_domain_snapshot(hv, id, vs, d->nr_vcpus, e);
	if (n < 0)
		goto out;
	for (int i = 0; i < n; i++)
		cpu_from(&cpus[i], &vs[i]);
	s.cow = armed && cow_freeze(&s) == 0;
	t_paused = time_ns();
	st->pages_reprotected = s.rewritten;
	if (s.cow) {
		hv_domain_release(hv, id);
		held = false;
	}
	st->pause_ns = t_paused - t0;

	memset(&src, 0, sizeof(src));
	src.domain.version = DUMP_VERSION;
	src.domain.id = d->id;
	snprintf(src.domain.name, sizeof(src.domain.name), "%s", d->name);
	snprintf(src.domain.state, sizeof(src.domain.state), "%s", state);
	snprintf(src.domain.reason, sizeof(src.domain.reason), "%.255s", d->crash_reason);
	src.domain.mem_bytes = d->mem.size;
	{
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		src.domain.time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	}
	src.domain.nr_vcpus = (uint32_t)n;
	src.cpus = cpus;
	src.nr_cpus = (unsigned)n;
	for (int i = 0; i < d->mem.nr_ranges; i++)
		ranges[i] = (struct dump_range){ d->mem.ranges[i].gpa, d->mem.ranges[i].size };
	src.ranges = ranges;
	src.nr_ranges = (unsigned)d->mem.nr_ranges;
	src.read = snap_read;
	src.opaque = &s;
	src.read_mt = true; /* snap_read takes the snapshot's lock */
	vmcoreinfo(d, info, sizeof(info));
	src.vmcoreinfo = info;
	if (dump_write(file.fd, &src, opts ? (enum dump_fmt)opts->format : DUMP_FMT_ELF, progress_cb,
		       &(struct progress){ d, opts }, e) < 0)
		goto out;
	if (dump_out_commit(&file, e) < 0)
		goto out;
	st->cow = s.cow;
	{
		struct stat sb;
		if (stat(path, &sb) == 0)
			st->file_bytes = (uint64_t)sb.st_blocks * 512;
	}
	st->pages_copied = s.copied;
	st->bytes = d->mem.size;
	ret = 0;
out:
	if (s.d) {
		cow_stop(&s);
		pthread_mutex_destroy(&s.lock);
	}
	if (held)
		hv_domain_release(hv, id);
	dump_out_abort(&file);
	free(vs);
	free(cpus);
	st->total_ns = time_ns() - t0;
	if (atomic_fetch_sub(&d->dump_active, 1) == 1)
		hv_wake(hv); /* events that came meanwhile are handled now */
	return ret;
}

int hv_dump_default_format(struct hv *hv)
{
	char v[32];
	int f;
	hv_property_str(hv, "config/dump-format", "kdump-zstd", v, sizeof(v));
	f = dump_fmt_parse(v);
	return f < 0 ? DUMP_FMT_KDUMP_ZSTD : f;
}

int hv_dump_next_path(const char *dir, char *path, size_t len, struct err *e)
{
	char bounds[4200], tmp[4300];
	unsigned long n = 0;
	FILE *f;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return err_errno(e, "dump directory %s", dir);
	snprintf(bounds, sizeof(bounds), "%s/bounds", dir);
	f = fopen(bounds, "r");
	if (f) {
		if (fscanf(f, "%lu", &n) != 1)
			n = 0;
		fclose(f);
	}
	for (;; n++) { /* skip numbers already taken */
		if (snprintf(path, len, "%s/vmcore.%lu", dir, n) >= (int)len)
			return err_set(e, "dump directory path too long");
		if (access(path, F_OK) < 0)
			break;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", bounds);
	f = fopen(tmp, "w");
	if (!f || fprintf(f, "%lu\n", n + 1) < 0 || fclose(f) != 0 || rename(tmp, bounds) < 0) {
		unlink(tmp);
		return err_errno(e, "%s", bounds);
	}
	return 0;
}
