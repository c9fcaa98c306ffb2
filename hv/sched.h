/* sched: hv's credit scheduler (private to hv/). vCPU threads enter KVM_RUN only while
 * they hold one of the physical-CPU slots; see sched.c. */
#ifndef HVKIT_HV_SCHED_H
#define HVKIT_HV_SCHED_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SCHED_MAX_SLOTS 256
#define SCHED_MAX_VCPUS 1024
#define SCHED_TICK_MS 10
#define SCHED_TSLICE_MS 30
#define SCHED_DEFAULT_WEIGHT 256

struct vcpu;

/* Per-vCPU scheduler state, inside struct vcpu. */
struct sched_vcpu {
	int slot;           /* physical-CPU slot held, or -1 */
	bool queued;        /* waiting for a slot */
	bool in_guest;      /* its thread is inside (or about to enter) KVM_RUN */
	bool blocked;       /* in KVM_RUN but idle (HLT): off the queues, no slot */
	bool preempt;       /* asked to give its slot back */
	bool registered;
	int64_t credit_us;
	uint64_t enqueue_seq;
	uint64_t slice_start_ns;
	uint64_t slot_cpu_ns; /* thread CPU time when it took its slot */
	uint64_t last_cpu_ns; /* thread CPU time at the last tick (schedstat) */
	uint64_t cpu_ns;      /* CPU time charged so far */
	uint64_t period_us;   /* CPU used in this accounting period (caps) */
	bool capped;
};

struct sched {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_cond_t tick_cond; /* CLOCK_MONOTONIC: the tick's sleep, cut short by sched_fini */
	unsigned nslots;
	unsigned dom0_slots;       /* most slots dom0 may hold at once (dom0-cpus); 0 = all */
	struct vcpu *slots[SCHED_MAX_SLOTS];
	struct vcpu *vcpus[SCHED_MAX_VCPUS];
	unsigned nvcpus;
	uint64_t seq;
	pthread_t thread;
	bool started, stop;
	uint64_t ticks, switches, preemptions, accountings;
	uint64_t period_used_us;   /* CPU the vCPUs used in this accounting period */
	uint64_t thread_cpu_ns;    /* the scheduler thread's own CPU time */
	uint64_t start_ns;
	uint64_t next_tick_ns;     /* CLOCK_MONOTONIC of the next tick */
	uint64_t last_tick_ns;
};

int sched_init(struct sched *s, unsigned nslots, unsigned dom0_slots);
struct err;
int sched_start(struct sched *s, struct err *e);
void sched_fini(struct sched *s);
void sched_add(struct sched *s, struct vcpu *v);
void sched_remove(struct sched *s, struct vcpu *v);
/* Called by a vCPU thread before KVM_RUN: returns once it holds a slot (or the domain
 * is stopping / the vCPU is held; then false). */
bool sched_acquire(struct sched *s, struct vcpu *v);
/* Called by a vCPU thread after KVM_RUN returned on a kick: gives the slot back if the
 * scheduler asked for it. */
void sched_after_kick(struct sched *s, struct vcpu *v);
void sched_wake_all(struct sched *s);

#endif
