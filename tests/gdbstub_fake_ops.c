/* gdbstub_fake_ops: the fake target's ops vector (see gdbstub_fake.h), shared by the
 * unit test, the fake target program and the fuzz target. */
#include "gdbstub_fake.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

uint8_t fake_mem_byte(size_t off)
{
	return (uint8_t)(off * 31 + 7);
}

uint64_t fake_gpr(unsigned cpu, unsigned k)
{
	if (k == 6 || k == 7) /* rbp, rsp: inside the memory, so gdb can read the stack */
		return FAKE_MEM_BASE + 0x8000 + 0x1000 * cpu + (k == 6 ? 0x100 : 0);
	return (uint64_t)(k + 1) << 56 | 0xc0ffee00u | cpu;
}

void fake_reset(struct fake *f)
{
	for (unsigned c = 0; c < FAKE_CPUS; c++) {
		struct x86_regs *r = &f->regs[c];
		_Static_assert(offsetof(struct x86_regs, r15) == 15 * 8, "rax..r15 in a row");
		for (unsigned k = 0; k < 16; k++) {
			uint64_t v = fake_gpr(c, k);
			memcpy((char *)r + 8 * k, &v, 8);
		}
		r->rip = FAKE_MEM_BASE + 0x1000 * (c + 1);
		r->rflags = 0x246;
		r->cs = 0x10;
		r->ss = 0x18;
		r->ds = 0x20 + c;
		r->es = 0x28;
		r->fs = 0x30;
		r->gs = 0x38;
		r->fs_base = 0x7f0000001000ull + c;
		r->gs_base = 0xffff888000010000ull + 0x1000 * c;
		r->cr0 = 0x80050033;
		r->cr2 = 0xdead0000 + c;
		r->cr3 = 0x1000000 + 0x2000 * c;
		r->cr4 = 0x3406e0;
		r->cr8 = c;
		r->efer = 0xd01;
	}
	for (size_t i = 0; i < FAKE_MEM_SIZE; i++)
		f->mem[i] = fake_mem_byte(i);
	f->nbps = 0;
	f->running = f->interrupted = f->exit_on_stop = false;
	f->stepping = -1;
	f->resumes = f->interrupts = f->steps = 0;
	if (f->timer >= 0)
		timerfd_settime(f->timer, 0, &(struct itimerspec){ { 0, 0 }, { 0, 0 } }, NULL);
}

int fake_init(struct fake *f, long delay_ns)
{
	memset(f, 0, sizeof(*f));
	f->delay_ns = delay_ns;
	f->timer = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	fake_reset(f);
	return f->timer < 0 ? -1 : 0;
}

void fake_destroy(struct fake *f)
{
	if (f->timer >= 0)
		close(f->timer);
	f->timer = -1;
}

static void arm(struct fake *f, long ns)
{
	struct itimerspec t = { { 0, 0 }, { ns / 1000000000, ns % 1000000000 } };
	if (!t.it_value.tv_sec && !t.it_value.tv_nsec)
		t.it_value.tv_nsec = 1;
	timerfd_settime(f->timer, 0, &t, NULL);
}

static unsigned nr_threads(void *o)
{
	(void)o;
	return FAKE_CPUS;
}

static int get_regs(void *o, unsigned cpu, struct x86_regs *r)
{
	struct fake *f = o;
	if (cpu >= FAKE_CPUS)
		return -1;
	*r = f->regs[cpu];
	return 0;
}

static int set_regs(void *o, unsigned cpu, const struct x86_regs *r)
{
	struct fake *f = o;
	if (cpu >= FAKE_CPUS)
		return -1;
	f->regs[cpu] = *r;
	return 0;
}

/* The part of [va, va+len) inside the memory: its offset, and the length (0 if none). */
static size_t mem_span(uint64_t va, size_t len, size_t *off)
{
	if (va < FAKE_MEM_BASE || va - FAKE_MEM_BASE >= FAKE_MEM_SIZE)
		return 0;
	*off = va - FAKE_MEM_BASE;
	return len < FAKE_MEM_SIZE - *off ? len : FAKE_MEM_SIZE - *off;
}

static size_t read_mem(void *o, unsigned cpu, uint64_t va, void *buf, size_t len)
{
	struct fake *f = o;
	size_t off = 0, n = cpu < FAKE_CPUS ? mem_span(va, len, &off) : 0;
	memcpy(buf, f->mem + off, n);
	return n;
}

/* The same memory seen physically at FAKE_PHYS_BASE (QEMU's Qqemu.PhyMemMode). */
static size_t read_phys(void *o, uint64_t pa, void *buf, size_t len)
{
	struct fake *f = o;
	size_t off = 0, n = pa >= FAKE_PHYS_BASE ? mem_span(pa - FAKE_PHYS_BASE + FAKE_MEM_BASE, len, &off) : 0;
	memcpy(buf, f->mem + off, n);
	return n;
}

static size_t write_mem(void *o, unsigned cpu, uint64_t va, const void *buf, size_t len)
{
	struct fake *f = o;
	size_t off = 0, n = cpu < FAKE_CPUS ? mem_span(va, len, &off) : 0;
	memcpy(f->mem + off, buf, n);
	return n;
}

static int set_bp(void *o, enum gdbstub_bp kind, uint64_t addr, uint64_t len, bool insert, struct err *e)
{
	struct fake *f = o;
	for (unsigned i = 0; i < f->nbps; i++) {
		if (f->bps[i].kind != kind || f->bps[i].addr != addr)
			continue;
		if (insert)
			return 0; /* already there */
		memmove(&f->bps[i], &f->bps[i + 1], (f->nbps - i - 1) * sizeof(f->bps[0]));
		f->nbps--;
		return 0;
	}
	if (!insert)
		return err_set(e, "no breakpoint at %#llx", (unsigned long long)addr);
	if (f->nbps == FAKE_MAX_BPS)
		return err_set(e, "too many breakpoints");
	f->bps[f->nbps++] = (struct fake_bp){ kind, addr, len };
	return 0;
}

static int resume(void *o, int step_cpu)
{
	struct fake *f = o;
	if (f->running || step_cpu >= FAKE_CPUS)
		return -1;
	f->running = true;
	f->interrupted = false;
	f->stepping = step_cpu;
	f->resumes++;
	if (step_cpu >= 0)
		arm(f, 1000);
	else if (f->nbps || f->exit_on_stop)
		arm(f, f->delay_ns);
	return 0; /* no breakpoint: runs until interrupted */
}

static int interrupt(void *o)
{
	struct fake *f = o;
	f->interrupts++;
	if (!f->running)
		return -1;
	f->interrupted = true;
	arm(f, 1000);
	return 0;
}

static int stop_fd(void *o)
{
	return ((struct fake *)o)->timer;
}

static int wait_stop(void *o, struct gdbstub_stop *s)
{
	struct fake *f = o;
	uint64_t ticks;
	if (read(f->timer, &ticks, sizeof(ticks)) != sizeof(ticks))
		return errno == EAGAIN ? 1 : -1;
	f->running = false;
	if (f->exit_on_stop) {
		s->exited = true;
	} else if (f->stepping >= 0) {
		s->cpu = (unsigned)f->stepping;
		s->signal = 5;
		f->regs[f->stepping].rip++;
		f->steps++;
	} else if (f->interrupted) {
		s->cpu = 0;
		s->signal = 0; /* the stub says SIGINT */
	} else if (f->nbps) {
		s->cpu = 1;
		s->signal = 5;
		s->bp = true;
		s->kind = f->bps[0].kind;
		s->addr = f->bps[0].addr;
		if (s->kind <= GDBSTUB_BP_HW)
			f->regs[1].rip = s->addr;
	} else {
		s->signal = 5;
	}
	return 0;
}

static const char *thread_name(void *o, unsigned cpu)
{
	struct fake *f = o;
	snprintf(f->name, sizeof(f->name), "fake vCPU %u", cpu);
	return f->name;
}

const struct gdbstub_ops fake_ops = {
	.nr_threads = nr_threads,
	.get_regs = get_regs,
	.set_regs = set_regs,
	.read_mem = read_mem,
	.read_phys = read_phys,
	.write_mem = write_mem,
	.set_bp = set_bp,
	.resume = resume,
	.interrupt = interrupt,
	.stop_fd = stop_fd,
	.wait_stop = wait_stop,
	.thread_name = thread_name,
};
