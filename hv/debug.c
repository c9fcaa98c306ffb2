/* debug: live debug sessions on a domain (the hypervisor side of the kmdb bridge). A
 * session stops every vCPU (each is held), reads and writes registers and guest memory
 * of the held vCPUs, and runs the domain on under control: continue, or single-step one
 * vCPU (KVM_GUESTDBG_SINGLESTEP); breakpoints and watchpoints are the x86 debug
 * registers, set on every vCPU with KVM_SET_GUEST_DEBUG (so they work under any guest
 * and need no int3, which kvm_pvm cannot run). A debug exit parks its vCPU (a hold the
 * vCPU takes on itself) and wakes the debugger, which then holds the others: the domain
 * stops as one. Guest events (crash, shutdown) while a session is attached are reported
 * to it as "exited" and handled by hv once the session ends. */
#include "internal.h"
#include "x86/x86.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct hv_dbg {
	struct hv *hv;
	struct domain *d;
	int efd;
	pthread_mutex_t lock;
	bool running;       /* resumed, no stop collected yet */
	bool interrupted;   /* hv_dbg_interrupt asked for a stop */
	bool have_stop;     /* a vCPU reported a debug exit */
	unsigned stop_cpu;
	uint64_t stop_dr6, stop_pc;
	int step_cpu;       /* -1 or the vCPU being stepped */
	struct hv_dbg_bp bp[4];
	bool writable;
	int blockirq; /* KVM_GUESTDBG_BLOCKIRQ supported: 1, no: 0, not asked yet: -1 */
	struct hv_dbg_stop pending; /* reported by the next wait_stop */
	bool has_pending;
	bool held[HV_MAX_VCPUS]; /* the session holds this vCPU */
	bool observe; /* --no-pause: the domain runs; each register read holds its vCPU briefly */
};

static void efd_signal(struct hv_dbg *g)
{
	uint64_t one = 1;
	(void)!write(g->efd, &one, sizeof(one));
}

/* From a vCPU thread on KVM_EXIT_DEBUG; false when no session wants it. */
bool debug_exit(struct vcpu *v)
{
	struct hv_dbg *g = __atomic_load_n(&v->dom->dbg, __ATOMIC_ACQUIRE);
	bool mine = false;
	if (!g)
		return false;
	pthread_mutex_lock(&g->lock);
	if (g->running) {
		mine = true;
		vcpu_hold(v); /* on itself: parks at the loop's hold point */
		atomic_store(&v->dbg_selfheld, true);
		if (!g->have_stop) {
			g->have_stop = true;
			g->stop_cpu = v->index;
			g->stop_dr6 = v->run->debug.arch.dr6;
			g->stop_pc = v->run->debug.arch.pc;
		}
	}
	pthread_mutex_unlock(&g->lock);
	if (mine)
		efd_signal(g);
	return mine;
}

/* hv's loop: a guest event came while a session is attached. */
void debug_notify_event(struct domain *d)
{
	struct hv_dbg *g = __atomic_load_n(&d->dbg, __ATOMIC_ACQUIRE);
	if (g)
		efd_signal(g);
}

static void hold_all(struct hv_dbg *g)
{
	for (unsigned i = 0; i < g->d->nr_vcpus; i++) {
		if (g->d->vcpus[i].fd >= 0 && !g->held[i]) {
			vcpu_hold(&g->d->vcpus[i]);
			g->held[i] = true;
		}
	}
	/* the holds the vCPUs took on themselves at their debug exits are ours now: drop them */
	for (unsigned i = 0; i < g->d->nr_vcpus; i++)
		if (atomic_exchange(&g->d->vcpus[i].dbg_selfheld, false))
			vcpu_release(&g->d->vcpus[i]);
}

struct hv_dbg *hv_dbg_attach_running(struct hv *hv, int id, struct err *e)
{
	struct hv_dbg *g = hv_dbg_attach(hv, id, e);
	if (!g)
		return NULL;
	g->observe = true;
	atomic_store(&g->d->dbg_stopped, false);
	for (unsigned i = 0; i < g->d->nr_vcpus; i++) { /* let it run: each read holds briefly */
		if (g->held[i]) {
			g->held[i] = false;
			vcpu_release(&g->d->vcpus[i]);
		}
	}
	return g;
}

struct hv_dbg *hv_dbg_attach(struct hv *hv, int id, struct err *e)
{
	struct domain *d = hv_domain_by_id(hv, id);
	struct hv_dbg *g;
	enum domain_state st;
	if (!d) {
		err_set(e, "no domain with id %d", id);
		return NULL;
	}
	st = domain_state_now(d);
	if (!d->vcpus || d->vm_fd < 0 || st == DOMAIN_CRASHED || st == DOMAIN_SHUTOFF) {
		err_set(e, "%s is %s: nothing to debug live (take a dump)", d->name, domain_state_name(st));
		return NULL;
	}
	if (__atomic_load_n(&d->dbg, __ATOMIC_ACQUIRE)) {
		err_set(e, "a debugger is already attached to %s", d->name);
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g) {
		err_set(e, "out of memory");
		return NULL;
	}
	g->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (g->efd < 0) {
		free(g);
		err_errno(e, "eventfd");
		return NULL;
	}
	g->hv = hv;
	g->d = d;
	g->step_cpu = -1;
	g->blockirq = -1;
	pthread_mutex_init(&g->lock, NULL);
	__atomic_store_n(&d->dbg, g, __ATOMIC_RELEASE);
	hold_all(g);
	atomic_store(&d->dbg_stopped, true);
	return g;
}

/* The debug registers on every vCPU, but for the breakpoints in skip (a bit per slot);
 * step_cpu single-steps. */
static int apply_debug(struct hv_dbg *g, int step_cpu, unsigned skip, struct err *e)
{
	struct kvm_guest_debug dbg;
	uint64_t dr7 = 0;
	bool any = false;
	memset(&dbg, 0, sizeof(dbg));
	if (g->blockirq < 0) { /* no interrupt delivered in the middle of a step (KVM 5.16+) */
		int caps = ioctl(g->d->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SET_GUEST_DEBUG2);
		g->blockirq = caps > 0 && (caps & KVM_GUESTDBG_BLOCKIRQ) ? 1 : 0;
	}
	for (int i = 0; i < 4; i++) {
		static const unsigned lenbits[9] = { 0, 0, 1, 0, 3, 0, 0, 0, 2 };
		const struct hv_dbg_bp *b = &g->bp[i];
		if (!b->used || (skip >> i & 1))
			continue;
		any = true;
		dbg.arch.debugreg[i] = b->addr;
		dr7 |= 1ull << (2 * i); /* L0..L3 */
		dr7 |= (uint64_t)(b->kind == HV_DBG_EXEC ? 0 : b->kind == HV_DBG_WRITE ? 1 : 3) << (16 + 4 * i);
		dr7 |= (uint64_t)(b->kind == HV_DBG_EXEC ? 0 : lenbits[b->len]) << (18 + 4 * i);
	}
	dbg.arch.debugreg[7] = dr7 | 0x400;
	for (unsigned i = 0; i < g->d->nr_vcpus; i++) {
		struct vcpu *v = &g->d->vcpus[i];
		if (v->fd < 0)
			continue;
		dbg.control = 0;
		if (any || (int)i == step_cpu)
			dbg.control = KVM_GUESTDBG_ENABLE | (any ? KVM_GUESTDBG_USE_HW_BP : 0) |
				      ((int)i == step_cpu ? KVM_GUESTDBG_SINGLESTEP | (g->blockirq ? KVM_GUESTDBG_BLOCKIRQ : 0) : 0);
		if (g->hv->opt.count_insns)
			dbg.control |= KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_SINGLESTEP;
		if (ioctl(v->fd, KVM_SET_GUEST_DEBUG, &dbg) < 0)
			return err_errno(e, "KVM_SET_GUEST_DEBUG on vCPU %u", i);
	}
	return 0;
}

void hv_dbg_detach(struct hv_dbg *g, bool resume)
{
	struct err e;
	struct domain *d;
	if (!g)
		return;
	d = g->d;
	if (g->running) /* stop it first: nothing may be left in flight */
		hv_dbg_interrupt(g), hv_dbg_wait_stop(g, &(struct hv_dbg_stop){ 0 });
	memset(g->bp, 0, sizeof(g->bp));
	if (!g->observe) /* (vCPU ioctls wait for a running vCPU to leave the guest) */
		apply_debug(g, -1, 0, &e);
	__atomic_store_n(&d->dbg, NULL, __ATOMIC_RELEASE);
	atomic_store(&d->dbg_stopped, false); /* not resumed: a plain pause from here (pause_count) */
	/* resume: let the vCPUs go; otherwise they stay held under a plain pause */
	if (g->observe) {
		; /* it never stopped */
	} else if (!resume && d->pause_count == 0) {
		d->pause_count++;
	} else {
		for (unsigned i = 0; i < d->nr_vcpus; i++)
			if (g->held[i])
				vcpu_release(&d->vcpus[i]);
	}
	close(g->efd);
	pthread_mutex_destroy(&g->lock);
	free(g);
	hv_wake(d->hv); /* guest events deferred during the session */
}

unsigned hv_dbg_nr_vcpus(struct hv_dbg *g)
{
	return g->d->nr_vcpus;
}

const char *hv_dbg_domain_name(struct hv_dbg *g)
{
	return g->d->name;
}

int hv_dbg_domain_id(struct hv_dbg *g)
{
	return g->d->id;
}

static struct vcpu *held_vcpu(struct hv_dbg *g, unsigned cpu)
{
	if (g->running || cpu >= g->d->nr_vcpus || g->d->vcpus[cpu].fd < 0)
		return NULL;
	return &g->d->vcpus[cpu];
}

int hv_dbg_get_regs(struct hv_dbg *g, unsigned cpu, struct kvm_regs *r, struct kvm_sregs *s)
{
	struct vcpu *v = held_vcpu(g, cpu);
	int ret = 0;
	if (!v)
		return -1;
	if (g->observe) /* a moment's hold: the registers of one instant */
		vcpu_hold(v);
	if ((r && ioctl(v->fd, KVM_GET_REGS, r) < 0) || (s && ioctl(v->fd, KVM_GET_SREGS, s) < 0))
		ret = -1;
	if (g->observe)
		vcpu_release(v);
	return ret;
}

int hv_dbg_set_regs(struct hv_dbg *g, unsigned cpu, const struct kvm_regs *r, struct err *e)
{
	struct vcpu *v = held_vcpu(g, cpu);
	if (!g->writable)
		return err_set(e, "the target is read-only: writes need -w (::set -w) first");
	if (g->observe)
		return err_set(e, "attached with --no-pause: the domain runs, no writes");
	if (!v)
		return err_set(e, "no stopped vCPU %u", cpu);
	if (ioctl(v->fd, KVM_SET_REGS, r) < 0)
		return err_errno(e, "KVM_SET_REGS");
	return 0;
}

bool hv_dbg_online(struct hv_dbg *g, unsigned cpu)
{
	return cpu < g->d->nr_vcpus && atomic_load(&g->d->vcpus[cpu].online);
}

static int read_ram(void *opaque, uint64_t pa, void *buf, size_t len)
{
	const void *p = mem_ptr(opaque, pa, len);
	if (!p)
		return -1;
	memcpy(buf, p, len);
	return 0;
}

/* Long mode's walk (4 or 5 levels) in software, on hv's mapping of guest RAM (an ioctl
 * per page is slow on hosts that emulate); NULL when not mapped. Paging off: physical.
 * 32-bit and PAE paging: KVM_TRANSLATE, which needs the vCPU stopped. */
static uint8_t *walk(struct hv_dbg *g, struct vcpu *v, const struct kvm_sregs *sr, uint64_t va, uint64_t n)
{
	struct pagewalk w = { .top = sr->cr3, .levels = pagewalk_levels(sr->cr0, sr->cr4, sr->efer), .read = read_ram,
			      .opaque = &g->d->mem };
	uint64_t pa, size;
	if (w.levels == 0)
		return mem_ptr(&g->d->mem, va, n);
	if (w.levels < 0)
		return g->observe ? NULL : domain_gva_ptr(v, va, n);
	if (pagewalk_translate(&w, va, &pa, &size, NULL) < 0)
		return NULL;
	return mem_ptr(&g->d->mem, pa, n);
}

static size_t virt_rw(struct hv_dbg *g, unsigned cpu, uint64_t va, void *buf, size_t len, bool write)
{
	struct vcpu *v = held_vcpu(g, cpu);
	struct kvm_sregs sr;
	size_t done = 0;
	if (!v || hv_dbg_get_regs(g, cpu, NULL, &sr) < 0 || (write && g->observe))
		return 0;
	while (done < len) {
		uint64_t a = va + done, n = 4096 - (a & 4095);
		uint8_t *p;
		if (n > len - done)
			n = len - done;
		p = walk(g, v, &sr, a, n);
		if (!p)
			break;
		if (write) {
			memcpy(p, (const uint8_t *)buf + done, n);
			mem_mark_dirty(&g->d->mem, p, n);
		} else
			memcpy((uint8_t *)buf + done, p, n);
		done += n;
	}
	return done;
}

size_t hv_dbg_read_virt(struct hv_dbg *g, unsigned cpu, uint64_t va, void *buf, size_t len)
{
	return virt_rw(g, cpu, va, buf, len, false);
}

size_t hv_dbg_write_virt(struct hv_dbg *g, unsigned cpu, uint64_t va, const void *buf, size_t len, struct err *e)
{
	size_t n;
	if (!g->writable) {
		err_set(e, "the target is read-only: writes need -w (::set -w) first");
		return 0;
	}
	n = virt_rw(g, cpu, va, (void *)(uintptr_t)buf, len, true);
	if (n < len)
		err_set(e, "0x%llx: not mapped", (unsigned long long)(va + n));
	return n;
}

size_t hv_dbg_read_phys(struct hv_dbg *g, uint64_t pa, void *buf, size_t len)
{
	size_t done = 0;
	while (done < len) {
		uint64_t a = pa + done, n = 4096 - (a & 4095);
		uint8_t *p;
		if (n > len - done)
			n = len - done;
		p = mem_ptr(&g->d->mem, a, n);
		if (!p)
			break;
		memcpy((uint8_t *)buf + done, p, n);
		done += n;
	}
	return done;
}

void hv_dbg_set_writable(struct hv_dbg *g, bool w)
{
	g->writable = w;
}

bool hv_dbg_writable(struct hv_dbg *g)
{
	return g->writable;
}

int hv_dbg_set_bp(struct hv_dbg *g, enum hv_dbg_kind kind, uint64_t addr, unsigned len, bool insert, struct err *e)
{
	if (g->observe)
		return err_set(e, "attached with --no-pause: no breakpoints");
	if (kind != HV_DBG_EXEC && len != 1 && len != 2 && len != 4 && len != 8)
		return err_set(e, "a watchpoint covers 1, 2, 4 or 8 bytes, not %u", len);
	if (kind != HV_DBG_EXEC && (addr & (len - 1)))
		return err_set(e, "a %u-byte watchpoint must be %u-byte aligned", len, len);
	if (kind != HV_DBG_EXEC && insert && g->hv->kvm.pvm) /* accepted, it would never fire */
		return err_set(e, "this host's KVM (kvm_pvm) cannot do hardware watchpoints: its instruction emulator "
				  "checks no data breakpoints; breakpoints and single steps work");
	for (int i = 0; i < 4; i++) {
		struct hv_dbg_bp *b = &g->bp[i];
		if (b->used && b->addr == addr && b->kind == kind) {
			if (insert)
				return 0;
			memset(b, 0, sizeof(*b));
			return 0;
		}
	}
	if (!insert)
		return err_set(e, "no breakpoint at 0x%llx", (unsigned long long)addr);
	for (int i = 0; i < 4; i++) {
		if (!g->bp[i].used) {
			g->bp[i] = (struct hv_dbg_bp){ .used = true, .kind = kind, .addr = addr, .len = kind == HV_DBG_EXEC ? 1 : len };
			return 0;
		}
	}
	return err_set(e, "all 4 debug registers are in use (breakpoints and watchpoints share them)");
}

int hv_dbg_list_bp(struct hv_dbg *g, struct hv_dbg_bp out[4])
{
	int n = 0;
	for (int i = 0; i < 4; i++)
		if (g->bp[i].used)
			out[n++] = g->bp[i];
	return n;
}

/* The breakpoint slots at vCPU i's rip: such a vCPU would hit them again at once. */
static unsigned bps_at_rip(struct hv_dbg *g, unsigned i)
{
	struct kvm_regs r;
	unsigned mask = 0;
	if (ioctl(g->d->vcpus[i].fd, KVM_GET_REGS, &r) < 0)
		return 0;
	for (int b = 0; b < 4; b++)
		if (g->bp[b].used && g->bp[b].kind == HV_DBG_EXEC && g->bp[b].addr == r.rip)
			mask |= 1u << b;
	return mask;
}

static int start(struct hv_dbg *g, int step_cpu, unsigned skip, struct err *e);

int hv_dbg_resume(struct hv_dbg *g, int step_cpu, struct err *e)
{
	if (g->observe)
		return err_set(e, "attached with --no-pause: the domain runs already (no run control)");
	if (g->running)
		return err_set(e, "the domain is already running");
	if (step_cpu >= (int)g->d->nr_vcpus || (step_cpu >= 0 && g->d->vcpus[step_cpu].fd < 0))
		return err_set(e, "no vCPU %d", step_cpu);
	if (step_cpu >= 0)
		return start(g, step_cpu, bps_at_rip(g, (unsigned)step_cpu), e);
	/* continuing: each vCPU sitting on a breakpoint first steps over it alone */
	for (unsigned i = 0; i < g->d->nr_vcpus; i++) {
		struct hv_dbg_stop st;
		unsigned skip = g->d->vcpus[i].fd >= 0 ? bps_at_rip(g, i) : 0;
		if (!skip)
			continue;
		if (start(g, (int)i, skip, e) < 0 || hv_dbg_wait_stop(g, &st) < 0)
			return -1;
		if (st.exited || st.kind != HV_DBG_STOP_STEP) { /* stopped for another reason: report that */
			g->pending = st;
			g->has_pending = true;
			efd_signal(g); /* whoever polls the stop fd sees it */
			return 0;
		}
	}
	return start(g, -1, 0, e);
}

static int start(struct hv_dbg *g, int step_cpu, unsigned skip, struct err *e)
{
	uint64_t v;
	if (apply_debug(g, step_cpu, skip, e) < 0)
		return -1;
	while (read(g->efd, &v, sizeof(v)) > 0) /* stale wake-ups */
		;
	pthread_mutex_lock(&g->lock);
	g->running = true;
	atomic_store(&g->d->dbg_stopped, false);
	g->have_stop = false;
	g->interrupted = false;
	g->step_cpu = step_cpu;
	pthread_mutex_unlock(&g->lock);
	for (unsigned i = 0; i < g->d->nr_vcpus; i++) {
		if (g->held[i] && (step_cpu < 0 || (int)i == step_cpu)) {
			g->held[i] = false;
			vcpu_release(&g->d->vcpus[i]);
		}
	}
	return 0;
}

int hv_dbg_interrupt(struct hv_dbg *g)
{
	pthread_mutex_lock(&g->lock);
	g->interrupted = true;
	pthread_mutex_unlock(&g->lock);
	efd_signal(g);
	return 0;
}

int hv_dbg_stop_fd(struct hv_dbg *g)
{
	return g->efd;
}

int hv_dbg_wait_stop(struct hv_dbg *g, struct hv_dbg_stop *s)
{
	uint64_t v;
	bool event;
	memset(s, 0, sizeof(*s));
	if (g->has_pending) { /* a stop that came while stepping over a breakpoint */
		*s = g->pending;
		g->has_pending = false;
		return 0;
	}
	if (!g->running)
		return 0;
	for (;;) {
		struct pollfd p = { .fd = g->efd, .events = POLLIN };
		pthread_mutex_lock(&g->lock);
		event = g->d->event != EVENT_NONE;
		if (g->have_stop || g->interrupted || event) {
			pthread_mutex_unlock(&g->lock);
			break;
		}
		pthread_mutex_unlock(&g->lock);
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return -1;
		while (read(g->efd, &v, sizeof(v)) > 0)
			;
	}
	hold_all(g); /* the rest stop; a step that did not finish is stopped too */
	pthread_mutex_lock(&g->lock);
	g->running = false;
	atomic_store(&g->d->dbg_stopped, true);
	if (g->d->event != EVENT_NONE) {
		s->exited = true;
		snprintf(s->why, sizeof(s->why), "%.255s", g->d->crash_reason);
	} else if (g->have_stop) {
		s->cpu = g->stop_cpu;
		s->pc = g->stop_pc;
		if (g->stop_dr6 & 0x4000) {
			s->kind = HV_DBG_STOP_STEP;
		} else {
			s->kind = HV_DBG_STOP_BP;
			for (int i = 0; i < 4; i++)
				if ((g->stop_dr6 >> i & 1) && g->bp[i].used) {
					s->bp = g->bp[i];
					s->kind = g->bp[i].kind == HV_DBG_EXEC ? HV_DBG_STOP_BP : HV_DBG_STOP_WATCH;
				}
		}
	} else {
		s->kind = HV_DBG_STOP_INTERRUPT;
		s->cpu = g->step_cpu >= 0 ? (unsigned)g->step_cpu : 0;
	}
	pthread_mutex_unlock(&g->lock);
	return 0;
}
