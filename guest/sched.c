/* sched: kernel threads and a preemptive round-robin scheduler with per-CPU run queues.
 * The timer tick preempts a thread after its time slice when another waits; threads
 * sleep (sleep_ms), block and wake. One lock guards every run queue. */
#include "kernel.h"

#define SLICE_TICKS 2

struct thread *thread_list;
volatile uint64_t jiffies;
static spinlock_t sched_lock = { 0, -1, "sched" };
static int next_tid;

void context_switch(uint64_t *old_rsp, uint64_t new_rsp);
extern char thread_start[];

static void rq_push(struct cpu *c, struct thread *t)
{
	t->rq_next = NULL;
	if (c->rq_tail)
		c->rq_tail->rq_next = t;
	else
		c->rq_head = t;
	c->rq_tail = t;
}

static struct thread *rq_pop(struct cpu *c)
{
	struct thread *t = c->rq_head;
	if (t) {
		c->rq_head = t->rq_next;
		if (!c->rq_head)
			c->rq_tail = NULL;
		t->rq_next = NULL;
	}
	return t;
}

void preempt_disable(void)
{
	this_cpu()->preempt_count++;
}

void preempt_enable(void)
{
	struct cpu *c = this_cpu();
	uint64_t f;
	c->preempt_count--;
	__asm__ volatile("pushfq; popq %0" : "=r"(f));
	if (!c->preempt_count && c->need_resched && (f & 0x200) && c->current) {
		irq_disable();
		schedule();
		irq_enable();
	}
}

static struct thread *thread_alloc(const char *name, int cpu)
{
	struct thread *t = page_alloc(sizeof(struct thread) + THREAD_STACK_SIZE);
	memset(t, 0, sizeof(*t));
	t->stack = (uint8_t *)t + 4096;
	t->stack_size = THREAD_STACK_SIZE;
	strncpy_z(t->name, name, sizeof(t->name));
	t->cpu = cpu;
	uint64_t f = spin_lock_irqsave(&sched_lock);
	t->tid = next_tid++;
	t->next = thread_list;
	thread_list = t;
	spin_unlock_irqrestore(&sched_lock, f);
	return t;
}

struct thread *thread_create(const char *name, int cpu, void (*fn)(void *), void *arg)
{
	struct thread *t = thread_alloc(name, cpu);
	uint64_t *sp = (uint64_t *)(t->stack + t->stack_size);
	uint64_t f;
	/* what context_switch pops: r15 r14 r13 r12 rbx rbp, then returns to thread_start */
	*--sp = 0;
	*--sp = (uint64_t)thread_start;
	*--sp = 0;               /* rbp */
	*--sp = 0;               /* rbx */
	*--sp = (uint64_t)fn;    /* r12 */
	*--sp = (uint64_t)arg;   /* r13 */
	*--sp = 0;               /* r14 */
	*--sp = 0;               /* r15 */
	t->ctx.rsp = (uint64_t)sp;
	t->entry = fn;
	t->arg = arg;
	f = spin_lock_irqsave(&sched_lock);
	t->state = THREAD_RUNNABLE;
	rq_push(&cpus[cpu], t);
	spin_unlock_irqrestore(&sched_lock, f);
	return t;
}

void thread_trampoline(void *arg, void (*fn)(void *))
{
	/* first run: we arrive from schedule() with the scheduler lock held, interrupts off */
	spin_unlock(&sched_lock);
	irq_enable();
	fn(arg);
	irq_disable();
	this_cpu()->current->state = THREAD_DEAD;
	schedule();
	for (;;)
		__asm__ volatile("hlt");
}

/* Called with interrupts off. */
void schedule(void)
{
	struct cpu *c = this_cpu();
	struct thread *prev = c->current, *next;

	spin_lock(&sched_lock);
	c->need_resched = false;
	if (prev->state == THREAD_RUNNING) {
		prev->state = THREAD_RUNNABLE;
		if (prev != c->idle)
			rq_push(c, prev);
	}
	next = rq_pop(c);
	if (!next)
		next = c->idle;
	next->state = THREAD_RUNNING;
	c->slice_start = c->ticks;
	if (next == prev) {
		spin_unlock(&sched_lock);
		return;
	}
	c->current = next;
	context_switch(&prev->ctx.rsp, next->ctx.rsp);
	/* back in prev, on its stack, maybe on after a long while */
	spin_unlock(&sched_lock);
}

void sched_yield(void)
{
	uint64_t f = irq_save();
	schedule();
	irq_restore(f);
}

void thread_wake(struct thread *t)
{
	uint64_t f = spin_lock_irqsave(&sched_lock);
	if (t->state == THREAD_BLOCKED || t->state == THREAD_SLEEPING) {
		t->state = THREAD_RUNNABLE;
		rq_push(&cpus[t->cpu], t);
		if (cpus[t->cpu].current == cpus[t->cpu].idle || &cpus[t->cpu] == this_cpu())
			cpus[t->cpu].need_resched = true;
	}
	spin_unlock_irqrestore(&sched_lock, f);
}

void thread_block(void)
{
	uint64_t f = irq_save();
	this_cpu()->current->state = THREAD_BLOCKED;
	schedule();
	irq_restore(f);
}

void sleep_ms(uint64_t ms)
{
	uint64_t f = irq_save();
	struct thread *t = this_cpu()->current;
	t->wake_tick = this_cpu()->ticks + (ms * HZ + 999) / 1000;
	t->state = THREAD_SLEEPING;
	schedule();
	irq_restore(f);
}

/* Timer interrupt, interrupts off. */
void sched_tick(void)
{
	struct cpu *c = this_cpu();
	c->ticks++;
	if (c->ticks > jiffies)
		jiffies = c->ticks; /* any CPU keeps time, so a hung CPU 0 does not stop it */
	if (c->current)
		c->current->runtime_ticks++;
	/* wake this CPU's sleepers */
	spin_lock(&sched_lock);
	for (struct thread *t = thread_list; t; t = t->next) {
		if (t->cpu == c->id && t->state == THREAD_SLEEPING && (int64_t)(c->ticks - t->wake_tick) >= 0) {
			t->state = THREAD_RUNNABLE;
			rq_push(c, t);
		}
	}
	if (c->rq_head && (c->current == c->idle || c->ticks - c->slice_start >= SLICE_TICKS))
		c->need_resched = true;
	spin_unlock(&sched_lock);
	if (c->need_resched && !c->preempt_count && c->current)
		schedule();
}

noreturn void cpu_idle_loop(void)
{
	struct cpu *c = this_cpu();
	for (;;) {
		irq_disable();
		if (c->rq_head || c->need_resched) {
			schedule();
			continue;
		}
		__asm__ volatile("sti; hlt" ::: "memory");
	}
}

void sched_init_cpu(int cpu)
{
	struct cpu *c = &cpus[cpu];
	char name[16];
	snprintf(name, sizeof(name), "idle/%d", cpu);
	c->idle = thread_alloc(name, cpu);
	c->idle->state = THREAD_RUNNING;
	c->current = c->idle;
}
