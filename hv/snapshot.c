/* snapshot: consistent dumps of a running domain (hvctl dump, on_crash coredump, the
 * debug keys' dump): the instant is frozen by instant.c, the domain runs on while the
 * file is written from the instant's RAM. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dump/dump.h"
#include "dump/image.h"

static void cpu_from(struct dump_cpu *c, const struct vcpu_snapshot *v)
{
	image_cpu_from_kvm(c, v->index, &v->regs, &v->sregs, &v->events, &v->mp, &v->lapic, &v->dregs);
	c->online = v->online; /* hv knows: started by the guest */
	c->msr_star = v->msr_star; c->msr_lstar = v->msr_lstar; c->msr_kernel_gs_base = v->msr_kernel_gs_base;
	c->msr_sysenter_cs = v->msr_sysenter_cs; c->msr_sysenter_esp = v->msr_sysenter_esp;
	c->msr_sysenter_eip = v->msr_sysenter_eip; c->msr_pat = v->msr_pat; c->msr_tsc = v->msr_tsc;
}

/* VMCOREINFO for the kernel: what is known from its symbols. */
void domain_vmcoreinfo(struct domain *d, char *buf, size_t len)
{
	static const char *const syms[] = { "thread_list", "cpus", "ncpus", "log_ring", "panic_info", "jiffies", "pml4",
					    "_text", "swapper_pg_dir", "init_uts_ns", "phys_base", "_stext" };
	size_t n;
	ksyms_wait(d); /* a domain just restored: its kernel's symbols read first */
	if (d->kernel.is_linux && kernel_linux_vmcoreinfo(d, buf, len))
		return; /* the kernel's own, as its kdump writes it */
	n = (size_t)snprintf(buf, len, "OSRELEASE=%s\nPAGESIZE=4096\n", d->cfg.kernel ? "unknown" : "hvkit-guest");
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

struct dump_pause {
	struct vcpu_snapshot *vs;
	int n;
};

static int dump_in_pause(struct domain *d, void *opaque, struct err *e)
{
	struct dump_pause *p = opaque;
	p->n = hv_domain_snapshot(d->hv, d->id, p->vs, d->nr_vcpus, e);
	return p->n < 0 ? -1 : 0;
}

int hv_domain_dump(struct hv *hv, int id, const char *path, const struct hv_dump_opts *opts, struct hv_dump_stats *st,
		   struct err *e)
{
	struct domain *d = hv_domain_by_id(hv, id);
	struct instant *in = NULL;
	struct instant_stats is;
	struct dump_pause p = { 0 };
	struct dump_cpu *cpus = NULL;
	struct dump_range ranges[2];
	struct dump_source src;
	struct dump_out file;
	char info[HV_VMCOREINFO_MAX], state[16], note[PARTIAL_NOTE_MAX];
	uint64_t t0 = time_ns();
	int ret = -1;

	memset(st, 0, sizeof(*st));
	if (!d)
		return err_set(e, "no domain with id %d", id);
	if (!d->vcpus || d->vm_fd < 0)
		return err_set(e, "%s has no state to dump", d->name);
	if (dump_out_create(&file, path, e) < 0)
		return -1;
	partial_note(hv, &file, note, sizeof(note));
	atomic_fetch_add(&d->dump_active, 1); /* released at out: */
	p.vs = calloc(d->nr_vcpus, sizeof(*p.vs));
	cpus = calloc(d->nr_vcpus, sizeof(*cpus));
	if (!p.vs || !cpus) {
		err_set(e, "out of memory");
		goto out;
	}

	{
		enum domain_state ds = domain_state_now(d);
		snprintf(state, sizeof(state), "%s", domain_state_name(ds));
		/* a crashed, shut-off or paused domain does not run while it is written */
		st->ran = ds == DOMAIN_RUNNING || ds == DOMAIN_BLOCKED || ds == DOMAIN_SHUTDOWN;
	}
	/* the instant: every vCPU out of the guest, state taken, RAM write-protected */
	t0 = time_ns();
	in = instant_freeze(d, dump_in_pause, &p, e);
	if (!in)
		goto out;
	for (int i = 0; i < p.n; i++)
		cpu_from(&cpus[i], &p.vs[i]);
	instant_stats(in, &is);
	st->pages_reprotected = is.pages_reprotected;
	st->pause_ns = is.pause_ns;

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
	src.domain.nr_vcpus = (uint32_t)p.n;
	src.cpus = cpus;
	src.nr_cpus = (unsigned)p.n;
	for (int i = 0; i < d->mem.nr_ranges; i++)
		ranges[i] = (struct dump_range){ d->mem.ranges[i].gpa, d->mem.ranges[i].size };
	src.ranges = ranges;
	src.nr_ranges = (unsigned)d->mem.nr_ranges;
	src.read = instant_read;
	src.opaque = in;
	src.read_mt = true; /* instant_read is safe from several threads */
	domain_vmcoreinfo(d, info, sizeof(info));
	src.vmcoreinfo = info;
	if (dump_write(file.fd, &src, opts ? (enum dump_fmt)opts->format : DUMP_FMT_ELF, progress_cb,
		       &(struct progress){ d, opts }, e) < 0) {
		err_prefix(e, "%s", path); /* the user's name, not the partial file's */
		goto out;
	}
	if (dump_out_commit(&file, e) < 0)
		goto out;
	instant_stats(in, &is);
	st->cow = is.cow;
	st->ran = st->ran && is.cow;
	{
		struct stat sb;
		if (stat(path, &sb) == 0)
			st->file_bytes = (uint64_t)sb.st_blocks * 512;
	}
	st->pages_copied = is.pages_copied;
	st->bytes = d->mem.size;
	ret = 0;
out:
	instant_end(in);
	dump_out_abort(&file);
	partial_forget(note);
	free(p.vs);
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
	char buf[32] = "", name[64];
	unsigned long n = 0;
	struct stat st;
	ssize_t got;
	int dfd, fd;
	if (dir[0] != '/')
		return err_set(e, "dump directory %s: not an absolute path", dir);
	if ((dfd = access_dir_open(dir, true, "dump directory", e)) < 0)
		return -1;
	fd = openat(dfd, "bounds", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT) {
		if (errno == ELOOP)
			err_set(e, "dump directory %s: bounds is a symlink, and hv never follows one", dir);
		else
			err_errno(e, "%s/bounds", dir);
		close(dfd);
		return -1;
	}
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (got = read(fd, buf, sizeof(buf) - 1)) > 0) {
			buf[got] = 0;
			n = strtoul(buf, NULL, 10);
		}
		close(fd);
	}
	for (;; n++) { /* skip numbers already taken (whatever is there: a symlink too) */
		snprintf(name, sizeof(name), "vmcore.%lu", n);
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			break;
	}
	close(dfd);
	if (snprintf(path, len, "%s/%s", dir, name) >= (int)len)
		return err_set(e, "dump directory path too long");
	snprintf(buf, sizeof(buf), "%lu\n", n + 1);
	return access_write_file(dir, "bounds", buf, strlen(buf), false, e);
}
