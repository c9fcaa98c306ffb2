/* sched: a credit scheduler in the manner of Xen's credit1. There are as many physical-CPU
 * slots as host CPUs; a vCPU thread enters KVM_RUN only while it holds one. Every tick
 * (10 ms) the scheduler charges each vCPU the CPU time its thread really used (its
 * thread CPU clock), takes slots away from vCPUs idle in HLT (blocked: off the queues),
 * hands free slots to waiting vCPUs (UNDER before OVER, FIFO within), and preempts a
 * vCPU whose 30 ms slice is over when others wait, by kicking it out of KVM_RUN.
 * Every 3 ticks credits are shared out by domain weight; a domain over its cap is
 * parked until the next period. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <time.h>

static uint64_t thread_cpu_ns(struct vcpu *v)
{
	clockid_t cid;
	struct timespec ts;
	if (!v->thread_started || pthread_getcpuclockid(v->thread, &cid) || clock_gettime(cid, &ts))
		return v->sched.last_cpu_ns;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static unsigned domain_slots_used(struct sched *s, struct domain *d)
{
	unsigned n = 0;
	for (unsigned i = 0; i < s->nslots; i++)
		if (s->slots[i] && s->slots[i]->dom == d)
			n++;
	return n;
}

static bool may_run(struct sched *s, struct vcpu *v)
{
	if (v->sched.capped || atomic_load(&v->dom->stopping) || atomic_load(&v->hold_requests))
		return false; /* capped, stopping, or held (paused): no slot */
	if (v->dom->id == 0 && s->dom0_slots && domain_slots_used(s, v->dom) >= s->dom0_slots)
		return false;
	return true;
}

static void slot_take(struct sched *s, struct vcpu *v, unsigned i)
{
	s->slots[i] = v;
	v->sched.slot = (int)i;
	v->sched.queued = false;
	v->sched.preempt = false;
	v->sched.slice_start_ns = time_ns();
	v->sched.slot_cpu_ns = thread_cpu_ns(v);
	s->switches++;
}

/* A waiter found no free slot: a holder that has sat idle (halted inside KVM) for at
 * least a millisecond gives its slot up now rather than at the next tick. */
static void reclaim_idle(struct sched *s)
{
	uint64_t now = time_ns();
	for (unsigned i = 0; i < s->nslots; i++) {
		struct vcpu *v = s->slots[i];
		uint64_t held, used;
		if (!v || !v->sched.in_guest)
			continue;
		/* the window: since it took the slot, or since the last tick, whichever is later */
		if (v->sched.slice_start_ns > s->last_tick_ns) {
			held = now - v->sched.slice_start_ns;
			used = thread_cpu_ns(v) - v->sched.slot_cpu_ns;
		} else {
			held = now - s->last_tick_ns;
			used = thread_cpu_ns(v) - v->sched.last_cpu_ns;
		}
		if (held >= 1000000 && used * 20 < held) {
			v->sched.blocked = true;
			v->sched.last_cpu_ns = thread_cpu_ns(v);
			s->slots[i] = NULL;
			v->sched.slot = -1;
		}
	}
}

static void slot_drop(struct sched *s, struct vcpu *v)
{
	if (v->sched.slot >= 0)
		s->slots[v->sched.slot] = NULL;
	v->sched.slot = -1;
}

/* The best waiting vCPU: UNDER (credit > 0) before OVER; within UNDER the longest
 * waiting; within OVER the least in debt (so debts, which weights set, decide who runs). */
static bool better(const struct vcpu *a, const struct vcpu *b)
{
	bool ua = a->sched.credit_us > 0, ub = b->sched.credit_us > 0;
	if (ua != ub)
		return ua;
	if (!ua && a->sched.credit_us != b->sched.credit_us)
		return a->sched.credit_us > b->sched.credit_us;
	return a->sched.enqueue_seq < b->sched.enqueue_seq;
}

static struct vcpu *best_waiter(struct sched *s)
{
	struct vcpu *best = NULL;
	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct vcpu *v = s->vcpus[i];
		if (!v->sched.queued || !may_run(s, v))
			continue;
		if (!best || better(v, best))
			best = v;
	}
	return best;
}

static void fill_slots(struct sched *s)
{
	bool granted = false, free_slot = false;
	for (unsigned i = 0; i < s->nslots; i++)
		free_slot |= !s->slots[i];
	if (!free_slot && best_waiter(s))
		reclaim_idle(s);
	for (unsigned i = 0; i < s->nslots; i++) {
		struct vcpu *v;
		if (s->slots[i])
			continue;
		v = best_waiter(s);
		if (!v)
			break;
		slot_take(s, v, i);
		granted = true;
	}
	if (granted)
		pthread_cond_broadcast(&s->cond);
}

int sched_init(struct sched *s, unsigned nslots, unsigned dom0_slots)
{
	pthread_condattr_t ca;
	memset(s, 0, sizeof(*s));
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->tick_cond, &ca);
	pthread_condattr_destroy(&ca);
	s->nslots = nslots < 1 ? 1 : nslots > SCHED_MAX_SLOTS ? SCHED_MAX_SLOTS : nslots;
	s->dom0_slots = dom0_slots;
	s->start_ns = time_ns();
	return 0;
}

void sched_add(struct sched *s, struct vcpu *v)
{
	pthread_mutex_lock(&s->lock);
	memset(&v->sched, 0, sizeof(v->sched));
	v->sched.slot = -1;
	v->sched.credit_us = SCHED_TSLICE_MS * 1000;
	if (s->nvcpus < SCHED_MAX_VCPUS) {
		s->vcpus[s->nvcpus++] = v;
		v->sched.registered = true;
	}
	pthread_mutex_unlock(&s->lock);
}

void sched_remove(struct sched *s, struct vcpu *v)
{
	pthread_mutex_lock(&s->lock);
	slot_drop(s, v);
	v->sched.queued = false;
	for (unsigned i = 0; i < s->nvcpus; i++) {
		if (s->vcpus[i] == v) {
			s->vcpus[i] = s->vcpus[--s->nvcpus];
			break;
		}
	}
	v->sched.registered = false;
	fill_slots(s);
	pthread_mutex_unlock(&s->lock);
}

bool sched_acquire(struct sched *s, struct vcpu *v)
{
	bool ok;
	if (!v->sched.registered)
		return !atomic_load(&v->dom->stopping); /* more vCPUs than the table holds: unscheduled */
	pthread_mutex_lock(&s->lock);
	if (v->sched.slot < 0 && !v->sched.queued) {
		v->sched.queued = true;
		v->sched.enqueue_seq = ++s->seq;
		fill_slots(s);
	}
	while (v->sched.slot < 0 && !atomic_load(&v->dom->stopping) && !s->stop) {
		if (atomic_load(&v->hold_requests))
			break; /* let the holder in (lock order: hold_lock is never taken here) */
		pthread_cond_wait(&s->cond, &s->lock);
	}
	ok = v->sched.slot >= 0;
	v->sched.in_guest = ok;
	if (ok)
		v->sched.blocked = false;
	pthread_mutex_unlock(&s->lock);
	return ok;
}

void sched_after_kick(struct sched *s, struct vcpu *v)
{
	pthread_mutex_lock(&s->lock);
	v->sched.in_guest = false;
	if (v->sched.preempt || v->sched.capped || atomic_load(&v->dom->stopping) || v->sched.slot < 0) {
		bool requeue = v->sched.preempt && !v->sched.capped && !atomic_load(&v->dom->stopping);
		if (v->sched.preempt)
			s->preemptions++;
		slot_drop(s, v);
		v->sched.preempt = false;
		if (requeue) {
			/* it competes for the slot it just gave up: still UNDER against OVER waiters, it wins */
			v->sched.queued = true;
			v->sched.enqueue_seq = ++s->seq;
		}
		fill_slots(s);
	}
	pthread_mutex_unlock(&s->lock);
}

void sched_wake_all(struct sched *s)
{
	pthread_mutex_lock(&s->lock);
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* Shares out one period's credit (slots x period) by weight among domains with active
 * vCPUs, evenly among each domain's active vCPUs; credit is capped at one slice. */
static void account(struct sched *s)
{
	const int64_t period_us = SCHED_TICK_MS * 3 * 1000;
	/* Share out what the vCPUs really got this period (the host takes its part of the
	 * CPUs too); shares then follow weights in CPU actually used. */
	int64_t total = s->period_used_us ? (int64_t)s->period_used_us : period_us * (int64_t)s->nslots;
	uint64_t weight_sum = 0;
	struct domain *doms[HV_MAX_DOMAINS];
	unsigned active[HV_MAX_DOMAINS] = { 0 }, nd = 0;

	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct vcpu *v = s->vcpus[i];
		unsigned k;
		if (v->sched.blocked && v->sched.slot < 0 && !v->sched.queued)
			continue;
		for (k = 0; k < nd && doms[k] != v->dom; k++)
			;
		if (k == nd) {
			if (nd == HV_MAX_DOMAINS)
				continue;
			doms[nd++] = v->dom;
			weight_sum += v->dom->cfg.weight ? v->dom->cfg.weight : SCHED_DEFAULT_WEIGHT;
		}
		active[k]++;
	}
	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct domain *d = s->vcpus[i]->dom;
		int64_t grant = (int64_t)d->cfg.cap * period_us / 100;
		if (d->cfg.cap && d->sched_budget_period != s->accountings) {
			d->sched_budget_period = s->accountings; /* once per domain */
			d->sched_budget_us += grant;
			if (d->sched_budget_us > grant)
				d->sched_budget_us = grant;
		}
	}
	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct vcpu *v = s->vcpus[i];
		unsigned k;
		int64_t share;
		v->sched.period_us = 0;
		for (k = 0; k < nd && doms[k] != v->dom; k++)
			;
		if (k == nd || !weight_sum)
			continue;
		share = total * (int64_t)(v->dom->cfg.weight ? v->dom->cfg.weight : SCHED_DEFAULT_WEIGHT) /
			(int64_t)weight_sum / (int64_t)active[k];
		v->sched.credit_us += share;
		/* bounded: no hoarding above one slice, no endless debt below ten */
		if (v->sched.credit_us > SCHED_TSLICE_MS * 1000)
			v->sched.credit_us = SCHED_TSLICE_MS * 1000;
		if (v->sched.credit_us < -SCHED_TSLICE_MS * 1000 * 10)
			v->sched.credit_us = -SCHED_TSLICE_MS * 1000 * 10;
	}
	s->accountings++;
	s->period_used_us = 0;
}

static void tick(struct sched *s)
{
	uint64_t now = time_ns();
	unsigned under_waiting = 0, over_waiting = 0;
	struct vcpu *best;

	s->ticks++;
	s->last_tick_ns = now;
	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct vcpu *v = s->vcpus[i];
		uint64_t cpu = thread_cpu_ns(v), used = cpu - v->sched.last_cpu_ns;
		v->sched.last_cpu_ns = cpu;
		if (!v->sched.in_guest) {
			if (v->sched.slot >= 0 && atomic_load(&v->hold_requests))
				slot_drop(s, v); /* parked by a holder: give the CPU to someone else */
			continue;
		}
		v->sched.cpu_ns += used;
		s->period_used_us += used / 1000;
		v->sched.credit_us -= (int64_t)(used / 1000);
		v->sched.period_us += used / 1000;
		if (v->dom->cfg.cap)
			v->dom->sched_budget_us -= (int64_t)(used / 1000);
		if (v->sched.slot >= 0 && used < SCHED_TICK_MS * 50000ull &&
		    now - v->sched.slice_start_ns > SCHED_TICK_MS * 1000000ull) {
			/* under 5% of the tick: idle in HLT inside KVM, off the queues */
			v->sched.blocked = true;
			slot_drop(s, v);
		} else if (v->sched.slot < 0 && used >= SCHED_TICK_MS * 50000ull) {
			v->sched.blocked = false; /* woke up in the kernel: needs a slot again */
			v->sched.queued = true;
			v->sched.enqueue_seq = ++s->seq;
		}
	}
	/* caps: a domain's budget gains cap% of one CPU each period and pays for what its
	 * vCPUs used; while it is spent, the domain's vCPUs are parked */
	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct vcpu *v = s->vcpus[i];
		v->sched.capped = v->dom->cfg.cap && v->dom->sched_budget_us <= 0;
	}
	if (s->ticks % 3 == 0)
		account(s);

	fill_slots(s);
	best = best_waiter(s);
	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct vcpu *v = s->vcpus[i];
		if (v->sched.queued && may_run(s, v)) {
			if (v->sched.credit_us > 0)
				under_waiting++;
			else
				over_waiting++;
		}
	}
	/* Preemption, as credit1: an OVER vCPU gives way to an UNDER waiter at once; at the end
	 * of its slice any vCPU gives way to a waiter of at least its priority. */
	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct vcpu *v = s->vcpus[i];
		bool slice_over = now - v->sched.slice_start_ns >= SCHED_TSLICE_MS * 1000000ull, go = false;
		if (v->sched.slot < 0) {
			if (v->sched.in_guest && !v->sched.blocked)
				vcpu_kick(v); /* running without a slot: to the queue */
			continue;
		}
		if (v->sched.preempt)
			continue;
		if (v->sched.capped) {
			go = true;
		} else if (v->sched.credit_us <= 0 && under_waiting) {
			under_waiting--;
			go = true;
		} else if (slice_over && under_waiting) {
			under_waiting--;
			go = true;
		} else if (slice_over && v->sched.credit_us <= 0 && over_waiting && best &&
			   best->sched.credit_us > v->sched.credit_us) {
			over_waiting--;
			go = true;
		}
		if (go) {
			v->sched.preempt = true;
			vcpu_kick(v);
		}
	}
}

static void *sched_thread(void *arg)
{
	struct sched *s = arg;
	struct timespec next, cpu;
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	clock_gettime(CLOCK_MONOTONIC, &next);
	for (;;) {
		next.tv_nsec += SCHED_TICK_MS * 1000000L;
		if (next.tv_nsec >= 1000000000L) {
			next.tv_nsec -= 1000000000L;
			next.tv_sec++;
		}
		s->next_tick_ns = (uint64_t)next.tv_sec * 1000000000ull + (uint64_t)next.tv_nsec;
		/* sleep until the tick, or until sched_fini says stop */
		pthread_mutex_lock(&s->lock);
		while (!s->stop && pthread_cond_timedwait(&s->tick_cond, &s->lock, &next) != ETIMEDOUT)
			;
		if (s->stop) {
			pthread_mutex_unlock(&s->lock);
			break;
		}
		tick(s);
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cpu);
		s->thread_cpu_ns = (uint64_t)cpu.tv_sec * 1000000000ull + (uint64_t)cpu.tv_nsec;
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int sched_start(struct sched *s, struct err *e)
{
	int r = pthread_create(&s->thread, NULL, sched_thread, s);
	if (r) {
		errno = r;
		return err_errno(e, "cannot start the scheduler thread");
	}
	s->started = true;
	return 0;
}

void sched_fini(struct sched *s)
{
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_broadcast(&s->cond);
	pthread_cond_broadcast(&s->tick_cond);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thread, NULL);
	s->started = false;
}

void hv_sched_info(struct hv *hv, struct sched_info *out)
{
	struct sched *s = &hv->sched;
	pthread_mutex_lock(&s->lock);
	out->nslots = s->nslots;
	out->dom0_slots = s->dom0_slots;
	out->tick_ms = SCHED_TICK_MS;
	out->tslice_ms = SCHED_TSLICE_MS;
	out->default_weight = SCHED_DEFAULT_WEIGHT;
	out->ticks = s->ticks;
	out->switches = s->switches;
	out->preemptions = s->preemptions;
	out->accountings = s->accountings;
	out->sched_cpu_ns = s->thread_cpu_ns;
	out->uptime_ns = time_ns() - s->start_ns;
	out->next_tick_ns = s->next_tick_ns > time_ns() ? s->next_tick_ns - time_ns() : 0;
	out->nvcpus = 0;
	for (unsigned i = 0; i < s->nvcpus && i < sizeof(out->v) / sizeof(out->v[0]); i++) {
		struct vcpu *v = s->vcpus[i];
		struct sched_vcpu_info *o = &out->v[out->nvcpus++];
		o->dom = v->dom->id;
		o->vcpu = v->index;
		o->slot = v->sched.slot;
		o->state = v->sched.slot >= 0 ? "running" : v->sched.capped ? "capped" : v->sched.queued ? "runnable"
			   : v->sched.blocked ? "blocked" : "idle";
		o->under = v->sched.credit_us > 0;
		o->credit = v->sched.credit_us;
		o->weight = v->dom->cfg.weight;
		o->cap = v->dom->cfg.cap;
		o->cpu_ns = v->sched.cpu_ns;
	}
	pthread_mutex_unlock(&s->lock);
}

bool sched_domain_busy(struct sched *s, struct domain *d)
{
	bool busy = false;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->nvcpus; i++) {
		struct vcpu *v = s->vcpus[i];
		if (v->dom == d && atomic_load(&v->online) && (!v->sched.blocked || v->sched.slot >= 0 || v->sched.queued))
			busy = true;
	}
	pthread_mutex_unlock(&s->lock);
	return busy;
}
