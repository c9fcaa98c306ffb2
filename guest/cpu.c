/* cpu: per-CPU tables: each CPU gets its GDT (64-bit code and data, a TSS) and loads the
 * shared IDT; GS points at its struct cpu, so this_cpu() is one GS-relative load. */
#include "kernel.h"

struct cpu cpus[MAX_CPUS];
int ncpus = 1;

struct tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3, iomap_base;
} __attribute__((packed));

static uint64_t gdts[MAX_CPUS][5];
static struct tss tsses[MAX_CPUS];
static uint64_t idt[256 * 2];

struct cpu *this_cpu(void)
{
	int id;
	__asm__ volatile("movl %%gs:0, %0" : "=r"(id));
	return &cpus[id];
}

static void idt_set(int vec, uint64_t handler)
{
	idt[vec * 2] = (handler & 0xffff) | (0x08ull << 16) | (0x8eull << 40) | ((handler >> 16) & 0xffff) << 48;
	idt[vec * 2 + 1] = handler >> 32;
}

void trap_init(void)
{
	for (int v = 0; v < 36; v++)
		idt_set(v, trap_stubs[v]);
	extern char trap_stub_255[];
	idt_set(255, (uint64_t)trap_stub_255);
}

void cpu_init_tables(int id)
{
	uint64_t *g = gdts[id];
	uint64_t tss = (uint64_t)&tsses[id];
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) gdtr = { sizeof(gdts[0]) - 1, (uint64_t)g }, idtr = { sizeof(idt) - 1, (uint64_t)idt };

	g[0] = 0;
	g[1] = 0x00af9a000000ffffull; /* 0x08: kernel code, 64-bit */
	g[2] = 0x00cf92000000ffffull; /* 0x10: kernel data */
	g[3] = (sizeof(struct tss) - 1) | ((tss & 0xffffff) << 16) | (0x89ull << 40) | ((tss >> 24) & 0xff) << 56;
	g[4] = tss >> 32;
	tsses[id].iomap_base = sizeof(struct tss);
	__asm__ volatile("lgdt %0" : : "m"(gdtr));
	__asm__ volatile("lidt %0" : : "m"(idtr));
	__asm__ volatile("ltr %w0" : : "r"(0x18));
	cpus[id].id = id;
	wrmsr(0xc0000101, (uint64_t)&cpus[id]); /* GS base */
}
