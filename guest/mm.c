/* mm: physical memory from the PVH memory map, handed out by a bump allocator over the
 * RAM above the kernel image (below 4 GiB, where the direct map reaches). Nothing is
 * cleared at boot: hv and QEMU give zeroed RAM. */
#include "hvkit/abi.h"
#include "kernel.h"

#define MAX_RANGES 16

struct range {
	uint64_t start, end;
};
static struct range ranges[MAX_RANGES];
static int nranges, cur;
static uint64_t next_free, total_ram, used;
static spinlock_t mm_lock = { 0, -1, "mm" };
extern char _kernel_end[];

void mm_init(uint64_t si_phys)
{
	const struct hvm_start_info *si = P2V(si_phys);
	uint64_t kend = V2P(_kernel_end);
	if (si->version >= 1 && si->memmap_paddr && si->memmap_entries) {
		const struct hvm_memmap_table_entry *m = P2V(si->memmap_paddr);
		for (uint32_t i = 0; i < si->memmap_entries && i < 64; i++) {
			uint64_t s = m[i].addr, e = m[i].addr + m[i].size;
			if (m[i].type != HVM_MEMMAP_TYPE_RAM)
				continue;
			total_ram += m[i].size;
			if (e > 0x100000000ull)
				e = 0x100000000ull;
			if (s < kend)
				s = kend;
			s = (s + 4095) & ~4095ull;
			if (s < e && nranges < MAX_RANGES)
				ranges[nranges++] = (struct range){ s, e & ~4095ull };
		}
	}
	if (!nranges) { /* no map: assume 64 MiB */
		total_ram = 64ull << 20;
		ranges[nranges++] = (struct range){ (kend + 4095) & ~4095ull, 64ull << 20 };
	}
	next_free = ranges[0].start;
}

void *page_alloc(uint64_t bytes)
{
	uint64_t f, pa = 0;
	bytes = (bytes + 4095) & ~4095ull;
	f = spin_lock_irqsave(&mm_lock);
	while (cur < nranges) {
		if (next_free + bytes <= ranges[cur].end) {
			pa = next_free;
			next_free += bytes;
			used += bytes;
			break;
		}
		if (++cur < nranges)
			next_free = ranges[cur].start;
	}
	spin_unlock_irqrestore(&mm_lock, f);
	return pa ? P2V(pa) : NULL;
}

uint64_t mm_total_bytes(void)
{
	return total_ram;
}

uint64_t mm_free_bytes(void)
{
	uint64_t free = 0;
	for (int i = cur; i < nranges; i++)
		free += ranges[i].end - (i == cur ? next_free : ranges[i].start);
	return free;
}
