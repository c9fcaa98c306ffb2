/* kernel: the guest kernel's private declarations: port I/O, spinlocks, and each
 * subsystem's functions (subsystem_verb). */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include <stdarg.h>

#include "guest.h"

#define P2V(pa) ((void *)((uint64_t)(pa) + DIRECT_MAP))
#define V2P(va) ((uint64_t)(va) >= KERNEL_BASE ? (uint64_t)(va) - KERNEL_BASE : (uint64_t)(va) - DIRECT_MAP)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define noreturn __attribute__((noreturn))

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint16_t inw(uint16_t port)
{
	uint16_t v;
	__asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint32_t inl(uint16_t port)
{
	uint32_t v;
	__asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}
static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
static inline uint64_t irq_save(void)
{
	uint64_t f;
	__asm__ volatile("pushfq; popq %0; cli" : "=r"(f) : : "memory");
	return f;
}
static inline void irq_restore(uint64_t f)
{
	if (f & 0x200)
		irq_enable();
}
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}
static inline uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline uint64_t read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}
static inline uint64_t read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

/* lib.c */
void *memset(void *d, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
void *memmove(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);
char *strncpy_z(char *d, const char *s, size_t n); /* always terminated */
int vsnprintf(char *buf, size_t len, const char *fmt, va_list ap);
int snprintf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
long parse_long(const char *s, const char **end);

/* cpu.c: per-CPU state */
struct cpu *this_cpu(void);
void cpu_init_tables(int id);      /* GDT, TSS, IDT, GS base */

/* spinlock.c */
void spin_init(spinlock_t *l, const char *name);
void spin_lock(spinlock_t *l);
void spin_unlock(spinlock_t *l);
uint64_t spin_lock_irqsave(spinlock_t *l);
void spin_unlock_irqrestore(spinlock_t *l, uint64_t flags);

/* serial.c */
void serial_init(void);
void serial_putc(char c);           /* polled; safe with interrupts off */
void serial_write(const char *s, size_t n);
void serial_irq(void);
/* shell.c: a magic SysRq key (a serial break, then the key), run in interrupt context. */
void sysrq_handle(char key);
int serial_getc(void);              /* blocks the calling thread */

/* printk.c */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);
void printk_raw(const char *s);     /* console only, no lock: panics and NMIs */
void log_dump(void);

/* lapic.c */
void lapic_init(void);
void lapic_eoi(void);
uint32_t lapic_id(void);
void lapic_timer_start(void);
void lapic_send_init_sipi(uint32_t apic, uint32_t vector_page);
void lapic_send_nmi_all_but_self(void);
void ioapic_route(unsigned irq, uint8_t vector, uint32_t dest_apic);
extern uint64_t ioapic_phys;

/* acpi.c */
void acpi_init(uint64_t rsdp_phys);
/* An ACPI table at physical pa with signature sig, length- and checksum-checked; or NULL. */
const uint8_t *acpi_table(uint64_t pa, const char *sig);
/* acpi_pm.c: S5 from the FADT and the DSDT's \_S5 package. */
void acpi_pm_init(const uint8_t *fadt);
void acpi_pm_report(void); /* one log line: how poweroff will go (after the banner) */
bool acpi_can_poweroff(void);
void acpi_poweroff(void); /* returns only if the machine did not go off */
extern uint32_t cpu_apic_ids[MAX_CPUS];

/* mm.c */
void mm_init(uint64_t start_info_phys);
void *page_alloc(uint64_t bytes);   /* zeroed? no: callers fill; 4 KiB aligned */
uint64_t mm_total_bytes(void);
uint64_t mm_free_bytes(void);

/* trap.c */
void trap_init(void);
void trap_dispatch(struct trapframe *tf);
extern const uint64_t trap_stubs[];

/* sched.c */
void sched_init_cpu(int cpu);
struct thread *thread_create(const char *name, int cpu, void (*fn)(void *), void *arg);
void thread_trampoline(void *arg, void (*fn)(void *));
void schedule(void);
void sched_yield(void);
void sched_tick(void);
void sleep_ms(uint64_t ms);
void thread_block(void);            /* current thread: BLOCKED, until thread_wake */
void thread_wake(struct thread *t);
void preempt_disable(void);
void preempt_enable(void);
noreturn void cpu_idle_loop(void);

/* hvcall.c: the hvkit port block (abi.h), when running under hv */
bool hv_present(void);
void hv_cpu_up(uint32_t vcpu, uint32_t entry32, uint32_t ebx);
void hv_panic(const char *msg);
void hv_poweroff(void);
void hv_reboot(void);
void hv_set_event(uint8_t vector, uint32_t apic);
uint32_t hv_get_request(void);
uint32_t hv_lapic_khz(void);

/* smp.c */
void smp_boot(void);

/* panic.c */
noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
noreturn void oops(struct trapframe *tf);
void backtrace_print(uint64_t rbp, uint64_t rip);
const char *ksym_lookup(uint64_t addr, uint64_t *offset);
extern volatile bool panicking;

/* shell.c */
void shell_main(void *arg);
void shutdown_thread(void *arg);
extern struct thread *shutdown_waiter;
extern volatile uint32_t hv_request;

#define VEC_TIMER 32
#define VEC_SERIAL 33
#define VEC_HV_EVENT 34
#define VEC_SELFTEST 35 /* int $35: the shell's insns test */
#define VEC_SPURIOUS 255
extern volatile unsigned long selftest_hits[2]; /* trap.c: int3, int $35 taken */
extern volatile uint64_t selftest_rip[2];        /* the rip each returned to */

#endif
