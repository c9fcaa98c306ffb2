/* gdbstub_fake: a fake target for the gdb stub's tests (unit, end-to-end, fuzz): two
 * vCPUs with distinctive registers, 64 KiB of memory at FAKE_MEM_BASE with known bytes,
 * breakpoints recorded. A continue with a breakpoint set stops after delay_ns on vCPU 1
 * (gdb's thread 2) as if the first breakpoint was hit; a continue without one runs until
 * interrupted; a step advances the vCPU's rip by 1. */
#ifndef HVKIT_TESTS_GDBSTUB_FAKE_H
#define HVKIT_TESTS_GDBSTUB_FAKE_H

#include "gdb/gdb.h"

#define FAKE_CPUS 2
#define FAKE_MEM_BASE 0xffffffff80100000ull
#define FAKE_MEM_SIZE 0x10000
#define FAKE_PHYS_BASE 0x100000ull /* where that memory is physically */
#define FAKE_MAX_BPS 16

struct fake_bp {
	enum gdbstub_bp kind;
	uint64_t addr, len;
};

struct fake {
	struct x86_regs regs[FAKE_CPUS];
	uint8_t mem[FAKE_MEM_SIZE];
	struct fake_bp bps[FAKE_MAX_BPS];
	unsigned nbps;
	int timer;          /* timerfd: the stop fd */
	long delay_ns;      /* how long a continue runs before its breakpoint hits */
	bool running, interrupted;
	int stepping;       /* the vCPU being stepped, -1 while continuing */
	bool exit_on_stop;  /* the next stop reports that the target exited */
	unsigned resumes, interrupts, steps;
	char name[32];
};

int fake_init(struct fake *f, long delay_ns); /* 0, or -1 when no timerfd */
void fake_reset(struct fake *f);               /* registers, memory, breakpoints as new */
void fake_destroy(struct fake *f);
uint8_t fake_mem_byte(size_t off);             /* the initial byte at FAKE_MEM_BASE + off */
uint64_t fake_gpr(unsigned cpu, unsigned k);   /* the initial value of GPR k (rax=0..r15=15) */

extern const struct gdbstub_ops fake_ops;

#endif
