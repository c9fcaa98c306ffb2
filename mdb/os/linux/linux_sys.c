/* linux_sys: sys (and ::status on a Linux dump) in crash's layout: the release, version and
 * machine of init_uts_ns, CPUs (nr_cpu_ids, those not in cpu_online_mask offline), uptime
 * from jiffies_64 and HZ, the load average, memory (the nodes' present pages), the task
 * count and the panic message of the printk log. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Seconds since boot from jiffies_64; false when unknown. */
static bool uptime(struct target *t, uint64_t *secs)
{
	uint64_t a = linux_sym(t, "jiffies_64"), j, hz = kernel_hz(t);
	if (!a || !linux_read(t, a, &j, 8))
		return false;
	*secs = (j - INITIAL_JIFFIES) / hz;
	return true;
}

/* The load averages in hundredths (rounded as /proc/loadavg); false when unknown. */
static bool load_avg(struct target *t, uint64_t hundredths[3])
{
	uint64_t a = linux_sym(t, "avenrun"), v[3];
	if (!a || !linux_read(t, a, v, sizeof(v)))
		return false;
	for (int i = 0; i < 3; i++) {
		uint64_t x = v[i] + 2048 / 200; /* FIXED_1/200 */
		hundredths[i] = (x >> 11) * 100 + (((x & 2047) * 100) >> 11);
	}
	return true;
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

/* What sys shows. */
struct sys_info {
	char rel[UTS_LEN], ver[UTS_LEN], mach[UTS_LEN], node[UTS_LEN], panic[256];
	unsigned ncpu, offline;
	uint32_t khz;
	bool tasks_known, uptime_known, load_known;
	size_t ntasks;
	uint64_t uptime, load[3], memory;
	int panic_cpu;
	int64_t date; /* the wall clock's seconds (the timekeeper's xtime_sec), -1 unknown */
};

/* The kernel's wall clock at the dump: shadow_timekeeper.xtime_sec (a copy of tk_core's
 * timekeeper, updated with it; tk_core's own type is anonymous); -1 when unknown. */
static int64_t wall_clock(struct target *t)
{
	struct dwarf_field f = { .type = "timekeeper", .member = "xtime_sec" };
	uint64_t a = linux_sym(t, "shadow_timekeeper");
	int64_t s = -1;
	if (!a || linux_fields(t, NULL, &f, 1) < 0 || f.off < 0 || f.size != 8 ||
	    !linux_read(t, a + (uint64_t)f.off, &s, 8) || s <= 0)
		return -1;
	return s;
}

/* crash's DATE: "Mon Dec  7 22:50:14 UTC 2026" (in UTC), or "(unknown)". */
static void date_text(int64_t secs, char *buf, size_t len)
{
	time_t tt = (time_t)secs;
	struct tm tm;
	if (secs < 0 || !gmtime_r(&tt, &tm) || !strftime(buf, len, "%a %b %e %H:%M:%S UTC %Y", &tm))
		snprintf(buf, len, "(unknown)");
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
	{ /* the text form, whatever the command's */
		bool json = t->json;
		t->json = false;
		linux_cmd_log(t, m);
		t->json = json;
	}
	fclose(m);
	for (p = text; p && (p = strstr(p, "Kernel panic - not syncing: ")) != NULL; p++)
		if (p - text < 9 || strncmp(p - 9, "---[ end ", 9)) /* not panic()'s closing line */
			last = p;
	if (last)
		snprintf(buf, len, "%.*s", (int)strcspn(last, "\n"), last);
	free(text);
}

bool linux_panic(struct target *t, char *msg, size_t len, int *cpu)
{
	uint64_t a = linux_sym(t, "panic_cpu");
	int32_t c = -1;
	panic_message(t, msg, len);
	if (!a || !linux_read(t, a, &c, 4))
		c = -1;
	*cpu = c;
	return msg[0] || c >= 0;
}

static void sys_read(struct target *t, struct sys_info *s)
{
	char note[200];
	uint64_t khz_at = linux_sym(t, "cpu_khz");
	FILE *quiet = fopen("/dev/null", "w");
	struct linux_task *v;
	memset(s, 0, sizeof(*s));
	v = linux_tasks(t, &s->ntasks, note, sizeof(note), quiet ? quiet : stderr);
	if (quiet)
		fclose(quiet);
	s->tasks_known = v != NULL;
	free(v);
	s->ncpu = linux_nr_cpus(t);
	s->offline = offline_cpus(t, s->ncpu);
	uts_field(t, 1, s->node);
	uts_field(t, 2, s->rel);
	uts_field(t, 3, s->ver);
	uts_field(t, 4, s->mach);
	if (khz_at)
		linux_read(t, khz_at, &s->khz, 4);
	s->uptime_known = uptime(t, &s->uptime);
	s->load_known = load_avg(t, s->load);
	s->memory = memory_bytes(t);
	linux_panic(t, s->panic, sizeof(s->panic), &s->panic_cpu);
	s->date = wall_clock(t);
}

void linux_sys_json(struct target *t, FILE *out)
{
	struct sys_info s;
	const char *names[] = { "nodename", "release", "version", "machine" };
	const char *vals[4];
	sys_read(t, &s);
	vals[0] = s.node, vals[1] = s.rel, vals[2] = s.ver, vals[3] = s.mach;
	fputs("{\"kernel\": ", out);
	json_write_str(out, t->symfile);
	fputs(", \"dumpfile\": ", out);
	json_write_str(out, t->path);
	if (s.date >= 0)
		fprintf(out, ", \"date\": %" PRId64, s.date);
	else
		fputs(", \"date\": null", out);
	fprintf(out, ", \"cpus\": %u, \"offline_cpus\": %u, \"uptime_s\": ", s.ncpu, s.offline);
	if (s.uptime_known)
		fprintf(out, "%" PRIu64, s.uptime);
	else
		fputs("null", out);
	fputs(", \"load_average\": ", out);
	if (s.load_known)
		fprintf(out, "[%" PRIu64 ".%02" PRIu64 ", %" PRIu64 ".%02" PRIu64 ", %" PRIu64 ".%02" PRIu64 "]", s.load[0] / 100,
			s.load[0] % 100, s.load[1] / 100, s.load[1] % 100, s.load[2] / 100, s.load[2] % 100);
	else
		fputs("null", out);
	if (s.tasks_known)
		fprintf(out, ", \"tasks\": %zu", s.ntasks);
	else
		fputs(", \"tasks\": null", out);
	for (int i = 0; i < 4; i++) {
		fprintf(out, ", \"%s\": ", names[i]);
		json_write_str(out, vals[i]);
	}
	fprintf(out, ", \"mhz\": %u, \"memory_bytes\": %" PRIu64 ", \"panic\": ", s.khz / 1000, s.memory);
	json_write_str(out, s.panic);
	fprintf(out, ", \"panic_cpu\": %d}", s.panic_cpu);
}

int linux_cmd_sys(struct target *t, FILE *out)
{
	struct sys_info s;
	char date[64];
	if (t->json) {
		linux_sys_json(t, out);
		fputc('\n', out);
		return 0;
	}
	sys_read(t, &s);
	fprintf(out, "      KERNEL: %s\n", t->symfile);
	if (t->path)
		fprintf(out, "    DUMPFILE: %s\n", t->path);
	fprintf(out, "        CPUS: %u", s.ncpu);
	if (s.offline)
		fprintf(out, " [OFFLINE: %u]", s.offline);
	date_text(s.date, date, sizeof(date));
	fprintf(out, "\n        DATE: %s\n", date);
	if (!s.uptime_known) {
		fprintf(out, "      UPTIME: (unknown)\n");
	} else {
		fprintf(out, "      UPTIME: ");
		if (s.uptime >= 86400)
			fprintf(out, "%" PRIu64 " day%s, ", s.uptime / 86400, s.uptime / 86400 == 1 ? "" : "s");
		fprintf(out, "%02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 "\n", s.uptime % 86400 / 3600, s.uptime % 3600 / 60, s.uptime % 60);
	}
	if (s.load_known)
		fprintf(out, "LOAD AVERAGE: %" PRIu64 ".%02" PRIu64 ", %" PRIu64 ".%02" PRIu64 ", %" PRIu64 ".%02" PRIu64 "\n",
			s.load[0] / 100, s.load[0] % 100, s.load[1] / 100, s.load[1] % 100, s.load[2] / 100, s.load[2] % 100);
	if (s.tasks_known)
		fprintf(out, "       TASKS: %zu\n", s.ntasks);
	else
		fprintf(out, "       TASKS: (unknown)\n");
	fprintf(out, "    NODENAME: %s\n     RELEASE: %s\n     VERSION: %s\n", s.node, s.rel, s.ver);
	fprintf(out, "     MACHINE: %s", s.mach);
	if (s.khz)
		fprintf(out, "  (%u Mhz)", s.khz / 1000);
	fprintf(out, "\n      MEMORY: ");
	mdb_print_size(s.memory, out);
	fprintf(out, "       PANIC: \"%s\"\n", s.panic);
	return 0;
}
