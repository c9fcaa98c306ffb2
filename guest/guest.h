/* guest: the built-in guest kernel's public face: the structures a debugger reads
 * (threads, CPUs, the log ring, the panic record, trap frames). Layout documented in
 * docs/guest.md; hv's debugger (hvmdb) reads them through DWARF. */
#ifndef HVKIT_GUEST_H
#define HVKIT_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_VERSION "0.1"
#define HZ 100
#define MAX_CPUS 64
#define KERNEL_BASE 0xffffffff80000000ul  /* kernel image: virtual = KERNEL_BASE + physical */
#define DIRECT_MAP 0xffff888000000000ul   /* all RAM (first 4 GiB): virtual = DIRECT_MAP + physical */
#define THREAD_STACK_SIZE 16384

/* Registers saved on entry to every interrupt or exception. */
struct trapframe {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error_code;
	uint64_t rip, cs, rflags, rsp, ss; /* pushed by the CPU */
};

enum thread_state { THREAD_RUNNING, THREAD_RUNNABLE, THREAD_SLEEPING, THREAD_BLOCKED, THREAD_DEAD };

/* Saved context of a thread that is not running: its stack pointer; the callee-saved
 * registers (rbx, rbp, r12-r15) and the return address sit on that stack, so a debugger
 * unwinds a sleeping thread from ctx.rsp (frame pointers throughout). */
struct context {
	uint64_t rsp;
};

struct thread {
	int tid;
	char name[16];
	enum thread_state state;
	int cpu;
	struct context ctx;
	uint8_t *stack;            /* base (lowest address) */
	uint64_t stack_size;
	uint64_t wake_tick;        /* when sleeping */
	uint64_t runtime_ticks;
	void (*entry)(void *);
	void *arg;
	struct thread *next;       /* all threads: thread_list */
	struct thread *rq_next;    /* this CPU's run queue */
};

struct cpu {
	int id;
	uint32_t apic_id;
	bool online;
	struct thread *current;
	struct thread *idle;
	struct thread *rq_head, *rq_tail;
	uint64_t ticks;
	uint64_t irqs, nmis;
	int preempt_count;
	bool need_resched;
	uint64_t slice_start;
};

typedef struct {
	volatile uint32_t locked;
	int owner_cpu;             /* -1 when free */
	const char *name;
} spinlock_t;

#define LOG_RECORDS 256
#define LOG_TEXT 120
struct log_record {
	uint64_t seq;
	uint64_t ticks;            /* jiffies at the time of printk */
	uint32_t cpu;
	uint32_t len;
	char text[LOG_TEXT];
};
struct logbuf {
	uint64_t head;             /* records ever written; record i is at i % LOG_RECORDS */
	struct log_record rec[LOG_RECORDS];
};

#define PANIC_MSG 256
#define PANIC_FRAMES 16
struct panic_info {
	bool active;
	int cpu;
	char msg[PANIC_MSG];
	bool has_frame;
	struct trapframe frame;    /* when the panic came from an exception (oops) */
	uint64_t backtrace[PANIC_FRAMES];
	int nframes;
};

extern struct cpu cpus[MAX_CPUS];
extern int ncpus;
extern struct thread *thread_list;
extern struct logbuf log_ring;
extern struct panic_info panic_info;
extern volatile uint64_t jiffies;

#endif
