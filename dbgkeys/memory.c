/* memory: 'm' host and per-domain memory, 'H' hv's own heap, 'u' NUMA: host nodes, CPU
 * to node, and where each domain's resident pages sit (asked of the kernel). */
#include <dirent.h>
#include <malloc.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

static unsigned long long meminfo(const char *path, const char *key)
{
	char line[256];
	unsigned long long v = 0;
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, key);
		if (p && p[strlen(key)] == ':') {
			sscanf(p + strlen(key) + 1, "%llu", &v);
			break;
		}
	}
	fclose(f);
	return v; /* kB */
}

void dbgkeys_key_memory(struct hv *hv, unsigned char key)
{
	int ids[64];
	unsigned nd = dbgkeys_domains(hv, ids, 64);
	unsigned long long guest_res = 0;
	out(hv, "'%c' pressed -> memory info", key);
	out(hv, "host: total %llu MiB, free %llu MiB, available %llu MiB", meminfo("/proc/meminfo", "MemTotal") >> 10,
	    meminfo("/proc/meminfo", "MemFree") >> 10, meminfo("/proc/meminfo", "MemAvailable") >> 10);
	for (unsigned i = 0; i < nd; i++) {
		struct domain_info di;
		uint64_t res;
		if (hv_domain_info(hv, ids[i], &di, NULL) < 0)
			continue;
		res = hv_domain_resident(hv, ids[i]);
		guest_res += res >> 10;
		out(hv, "%-16s RAM %8llu MiB, resident %8llu KiB (%.1f%%)", di.name, (unsigned long long)(di.mem_bytes >> 20),
		    (unsigned long long)(res >> 10), di.mem_bytes ? 100.0 * (double)res / (double)di.mem_bytes : 0.0);
	}
	out(hv, "all guests: %llu KiB resident", guest_res);
	out(hv, "hv itself: %llu KiB resident beyond guest RAM (anonymous %llu KiB, file %llu KiB)",
	    meminfo("/proc/self/status", "RssAnon") + meminfo("/proc/self/status", "RssFile"),
	    meminfo("/proc/self/status", "RssAnon"), meminfo("/proc/self/status", "RssFile"));
}

void dbgkeys_key_heap(struct hv *hv, unsigned char key)
{
	struct mallinfo2 m = mallinfo2();
	struct heap_item items[16];
	unsigned n = hv_heap_info(hv, items, 16);
	uint64_t total = 0;
	out(hv, "'%c' pressed -> dumping hv's heap", key);
	out(hv, "%-36s %8s %12s", "kind", "count", "bytes");
	for (unsigned i = 0; i < n; i++) {
		out(hv, "%-36s %8llu %12llu", items[i].kind, (unsigned long long)items[i].count,
		    (unsigned long long)items[i].bytes);
		total += items[i].bytes;
	}
	out(hv, "%-36s %8s %12llu", "total by kind", "", (unsigned long long)total);
	out(hv, "malloc arena: %zu KiB from the system (%zu KiB in mmap'd chunks), %zu KiB in use, %zu KiB free",
	    (m.arena + m.hblkhd) >> 10, m.hblkhd >> 10, m.uordblks >> 10, m.fordblks >> 10);
	out(hv, "free chunks: %zu, fastbin blocks: %zu, top-most releasable: %zu KiB", m.ordblks, m.smblks,
	    m.keepcost >> 10);
}

void dbgkeys_key_numa(struct hv *hv, unsigned char key)
{
	int ids[64];
	unsigned nd = dbgkeys_domains(hv, ids, 64), nodes = 0;
	char path[128], cpus[256];
	out(hv, "'%c' pressed -> dumping NUMA info", key);
	for (unsigned node = 0; node < 64; node++) {
		FILE *f;
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/meminfo", node);
		if (access(path, R_OK) < 0)
			continue;
		nodes++;
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/cpulist", node);
		f = fopen(path, "r");
		cpus[0] = 0;
		if (f) {
			if (!fgets(cpus, sizeof(cpus), f))
				cpus[0] = 0;
			fclose(f);
			cpus[strcspn(cpus, "\n")] = 0;
		}
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%u/meminfo", node);
		out(hv, "node %u: %llu MiB, %llu MiB free, CPUs %s", node, meminfo(path, "MemTotal") >> 10,
		    meminfo(path, "MemFree") >> 10, cpus);
	}
	if (!nodes)
		out(hv, "the host shows no NUMA nodes in sysfs");
	for (unsigned i = 0; i < nd; i++) {
		struct domain_info di;
		uint64_t size = 0, per_node[64] = { 0 }, sampled = 0;
		uint8_t *ram = hv_domain_ram(hv, ids[i], &size);
		unsigned char vec[1024];
		void *pages[1024];
		int status[1024];
		char line[512];
		int len = 0;
		if (!ram || hv_domain_info(hv, ids[i], &di, NULL) < 0)
			continue;
		/* move_pages with no target nodes reports where each resident page lives. */
		for (uint64_t off = 0; off < size; off += sizeof(vec) * 4096ull) {
			uint64_t len2 = size - off < sizeof(vec) * 4096ull ? size - off : sizeof(vec) * 4096ull;
			unsigned long cnt = 0;
			if (mincore(ram + off, len2, vec) < 0)
				break;
			for (uint64_t p = 0; p < len2 / 4096; p++)
				if (vec[p] & 1)
					pages[cnt++] = ram + off + p * 4096;
			if (cnt && syscall(SYS_move_pages, 0, cnt, pages, NULL, status, 0) == 0)
				for (unsigned long p = 0; p < cnt; p++)
					if (status[p] >= 0 && status[p] < 64) {
						per_node[status[p]]++;
						sampled++;
					}
		}
		for (unsigned n = 0; n < 64; n++)
			if (per_node[n])
				len += snprintf(line + len, sizeof(line) - (size_t)len, " node%u=%llu", n,
						(unsigned long long)per_node[n]);
		out(hv, "%s: resident pages by node:%s", di.name, sampled ? line : " none resident");
		{
			struct vcpu_snapshot *s;
			unsigned n;
			if (!(s = dbgkeys_snapshot(hv, ids[i], &n)))
				continue;
			for (unsigned v = 0; v < n; v++) {
				cpu_set_t set;
				char aff[256];
				int al = 0;
				CPU_ZERO(&set);
				if (!s[v].running || sched_getaffinity(s[v].host_tid, sizeof(set), &set) < 0) {
					out(hv, "%s vCPU %u: not running", di.name, v);
					continue;
				}
				for (int c = 0; c < CPU_SETSIZE && al < 200; c++)
					if (CPU_ISSET(c, &set))
						al += snprintf(aff + al, sizeof(aff) - (size_t)al, "%s%d", al ? "," : "", c);
				out(hv, "%s vCPU %u: affinity CPUs %s", di.name, v, aff);
			}
		}
	}
}
