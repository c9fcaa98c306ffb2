/* spinlock: test-and-set spinlocks that record their owner CPU (for debuggers) and keep
 * the holder from being preempted. */
#include "kernel.h"

void spin_init(spinlock_t *l, const char *name)
{
	l->locked = 0;
	l->owner_cpu = -1;
	l->name = name;
}

void spin_lock(spinlock_t *l)
{
	preempt_disable();
	while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE))
		while (l->locked)
			cpu_relax();
	l->owner_cpu = this_cpu()->id;
}

void spin_unlock(spinlock_t *l)
{
	l->owner_cpu = -1;
	__atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
	preempt_enable();
}

uint64_t spin_lock_irqsave(spinlock_t *l)
{
	uint64_t f = irq_save();
	spin_lock(l);
	return f;
}

void spin_unlock_irqrestore(spinlock_t *l, uint64_t flags)
{
	spin_unlock(l);
	irq_restore(flags);
}
