/* linux_sys: sys (and ::status on a Linux dump) in crash's layout: the release, version and
 * machine of init_uts_ns, CPUs (nr_cpu_ids, those not in cpu_online_mask offline), uptime
 * from jiffies_64 and HZ, the load average, memory (the nodes' present pages), the task
 * count and the panic message of the printk log. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

#define UTS_LEN 65
#define INITIAL_JIFFIES ((uint64_t)(uint32_t)(-300 * (int64_t)hz))
#define MAX_NODES 1024

/* init_uts_ns.name's field i (0 sysname, 1 nodename, 2 release, 3 version, 4 machine). */
static bool uts_field(struct target *t, int i, char *buf)
{
	struct dwarf_field f = { .type = "uts_namespace", .member = "name" };
	uint64_t a = linux_sym(t, "init_uts_ns");
	if (!a || linux_fields(t, NULL, &f, 1) < 0 || f.off < 0)
		return false;
	if (!linux_read(t, a + (uint64_t)f.off + (uint64_t)i * UTS_LEN, buf, UTS_LEN))
		return false;
	buf[UTS_LEN - 1] = 0;
	return true;
}

/* HZ from tick_nsec (NSEC_PER_SEC / HZ, rounded), else 1000 as crash assumes. */
static uint64_t kernel_hz(struct target *t)
{
	uint64_t a = linux_sym(t, "tick_nsec"), ns = 0;
	if (a && linux_read(t, a, &ns, 8) && ns >= 100000 && ns <= 100000000)
		return (1000000000ull + ns / 2) / ns;
	return 1000;
}

static void print_uptime(struct target *t, FILE *out)
{
	uint64_t a = linux_sym(t, "jiffies_64"), j, hz = kernel_hz(t), s;
	if (!a || !linux_read(t, a, &j, 8)) {
		fprintf(out, "      UPTIME: (unknown)\n");
		return;
	}
	s = (j - INITIAL_JIFFIES) / hz;
	fprintf(out, "      UPTIME: ");
	if (s >= 86400)
		fprintf(out, "%" PRIu64 " day%s, ", s / 86400, s / 86400 == 1 ? "" : "s");
	fprintf(out, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 "\n", s % 86400 / 3600, s % 3600 / 60, s % 60);
}

static void print_load(struct target *t, FILE *out)
{
	uint64_t a = linux_sym(t, "avenrun"), v[3];
	if (!a || !linux_read(t, a, v, sizeof(v)))
		return;
	fprintf(out, "LOAD AVERAGE: ");
	for (int i = 0; i < 3; i++) {
		uint64_t x = v[i] + 2048 / 200; /* FIXED_1/200: rounded as /proc/loadavg */
		fprintf(out, "%" PRIu64 ".%02" PRIu64 "%s", x >> 11, ((x & 2047) * 100) >> 11, i < 2 ? ", " : "\n");
	}
}

/* CPUs not in cpu_online_mask, of n. */
static unsigned offline_cpus(struct target *t, unsigned n)
{
	uint64_t a = linux_sym(t, "__cpu_online_mask"), w = 0;
	unsigned off = 0;
	if (!a)
		return 0;
	for (unsigned c = 0; c < n; c++) {
		if (c % 64 == 0 && !linux_read(t, a + c / 8, &w, 8))
			return 0;
		off += !(w >> (c % 64) & 1);
	}
	return off;
}

/* RAM the kernel has: the present pages of every node (node_data[], or contig_page_data). */
static uint64_t memory_bytes(struct target *t)
{
	struct dwarf_field f = { .type = "pglist_data", .member = "node_present_pages" };
	uint64_t nd = linux_sym(t, "node_data"), one = linux_sym(t, "contig_page_data"), pages = 0, v;
	if (linux_fields(t, NULL, &f, 1) >= 0 && f.off >= 0) {
		if (nd) {
			for (unsigned i = 0; i < MAX_NODES; i++) {
				uint64_t p;
				if (!linux_read(t, nd + 8ull * i, &p, 8))
					break;
				if (p && linux_read(t, p + (uint64_t)f.off, &v, 8))
					pages += v;
			}
		} else if (one && linux_read(t, one + (uint64_t)f.off, &v, 8)) {
			pages = v;
		}
	}
	if (!pages) { /* _totalram_pages: what the allocator has, without the reserved pages */
		uint64_t a = linux_sym(t, "_totalram_pages");
		if (a && linux_read(t, a, &v, 8))
			pages = v;
	}
	return pages * 4096;
}

static void print_size(uint64_t b, FILE *out)
{
	const char *unit[] = { "KB", "MB", "GB", "TB" };
	double v = (double)b / 1024;
	int u = 0;
	while (v >= 1024 && u < 3) {
		v /= 1024;
		u++;
	}
	if (v == (double)(uint64_t)v)
		fprintf(out, "%" PRIu64 " %s\n", (uint64_t)v, unit[u]);
	else
		fprintf(out, "%.1f %s\n", v, unit[u]);
}

/* The printk log's last "Kernel panic - not syncing: ..." line (without its timestamp), or "". */
static void panic_message(struct target *t, char *buf, size_t len)
{
	char *text = NULL, *p, *last = NULL;
	size_t n = 0;
	FILE *m = open_memstream(&text, &n);
	buf[0] = 0;
	if (!m)
		return;
	linux_cmd_log(t, m);
	fclose(m);
	for (p = text; p && (p = strstr(p, "Kernel panic - not syncing: ")) != NULL; p++)
		if (p - text < 9 || strncmp(p - 9, "---[ end ", 9)) /* not panic()'s closing line */
			last = p;
	if (last)
		snprintf(buf, len, "%.*s", (int)strcspn(last, "\n"), last);
	free(text);
}

int linux_cmd_sys(struct target *t, FILE *out)
{
	char rel[UTS_LEN] = "", ver[UTS_LEN] = "", mach[UTS_LEN] = "", node[UTS_LEN] = "", note[200], panic[256];
	unsigned ncpu = linux_nr_cpus(t), off = offline_cpus(t, ncpu);
	uint64_t khz_at = linux_sym(t, "cpu_khz");
	uint32_t khz = 0;
	size_t ntasks = 0;
	FILE *quiet = fopen("/dev/null", "w");
	struct linux_task *v = linux_tasks(t, &ntasks, note, sizeof(note), quiet ? quiet : out);
	if (quiet)
		fclose(quiet);
	free(v);
	uts_field(t, 1, node);
	uts_field(t, 2, rel);
	uts_field(t, 3, ver);
	uts_field(t, 4, mach);
	if (khz_at)
		linux_read(t, khz_at, &khz, 4);
	fprintf(out, "      KERNEL: %s\n", t->symfile);
	fprintf(out, "        CPUS: %u", ncpu);
	if (off)
		fprintf(out, " [OFFLINE: %u]", off);
	fprintf(out, "\n");
	print_uptime(t, out);
	print_load(t, out);
	if (v)
		fprintf(out, "       TASKS: %zu\n", ntasks);
	else
		fprintf(out, "       TASKS: (unknown)\n");
	fprintf(out, "    NODENAME: %s\n     RELEASE: %s\n     VERSION: %s\n", node, rel, ver);
	fprintf(out, "     MACHINE: %s", mach);
	if (khz)
		fprintf(out, "  (%u Mhz)", khz / 1000);
	fprintf(out, "\n      MEMORY: ");
	print_size(memory_bytes(t), out);
	panic_message(t, panic, sizeof(panic));
	fprintf(out, "       PANIC: \"%s\"\n", panic);
	return 0;
}
