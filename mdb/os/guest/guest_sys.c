/* guest_sys: crash's sys on our guest kernel, in crash's layout, with what our guest has:
 * the symbol file and the dump (KERNEL, DUMPFILE), CPUs (ncpus, those not online in cpus[]),
 * the dump's instant (DATE), uptime from jiffies (HZ 100), the threads (TASKS), the release
 * (the dump's OSRELEASE), the version from the boot banner in the log, the memory the kernel
 * found (mm.c's total_ram) and the panic message of panic_info. Nothing is guessed: what a
 * dump or the kernel does not say is "(unknown)". */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest_os.h"
#include "guest_priv.h"

#define GUEST_HZ 100 /* guest/guest.h: a #define, not in the DWARF */
#define BANNER "hvkit guest kernel "

struct guest_sys {
	struct target_status st;
	bool have_st;
	int ncpus, offline;         /* -1: unknown */
	int64_t date;               /* seconds since 1970, -1 unknown */
	bool uptime_known, tasks_known;
	uint64_t uptime, memory;    /* memory 0: unknown */
	size_t tasks;
	char version[128], panic[256];
	int panic_cpu;
};

static bool read_sym(struct target *t, const char *name, void *buf, size_t len)
{
	const struct symbol *s = symtab_by_name(&t->syms, name);
	return s && target_read_virt(t, t->cpu, s->addr, buf, len) == len;
}

/* The version from the boot banner: "hvkit guest kernel 0.1 (gcc 12.2.0) booting ..." */
static void banner_version(struct target *t, char *buf, size_t len)
{
	const struct mdb_dcmd *log = mdb_dcmd_find(t, "::msgbuf");
	char *text = NULL, *p, *end;
	size_t n = 0;
	FILE *m = open_memstream(&text, &n);
	struct mdb_args a = { .line = "::msgbuf" };
	bool json = t->json;
	buf[0] = 0;
	if (!m)
		return;
	t->json = false;
	if (log)
		log->fn(t, &a, m);
	t->json = json;
	fclose(m);
	if (text && (p = strstr(text, BANNER)) != NULL) {
		p += strlen(BANNER);
		end = strstr(p, " booting");
		snprintf(buf, len, "%.*s", (int)(end ? end - p : (long)strcspn(p, "\n")), p);
	}
	free(text);
}

static void sys_read(struct target *t, struct guest_sys *s)
{
	uint64_t j, ram, threads[4096];
	int32_t n;
	FILE *quiet = fopen("/dev/null", "w");
	memset(s, 0, sizeof(*s));
	s->ncpus = s->offline = -1;
	s->date = -1;
	s->panic_cpu = -1;
	s->have_st = t->ops->status_info && t->ops->status_info(t, &s->st) == 0;
	if (read_sym(t, "ncpus", &n, 4) && n > 0 && n <= 4096) {
		struct dwarf_field f[2] = { { .type = "cpu" }, { .type = "cpu", .member = "online" } };
		const struct symbol *cpus = symtab_by_name(&t->syms, "cpus");
		s->ncpus = n;
		if (cpus && dwarf_fields(t, NULL, f, 2) == 0 && f[0].size && f[1].off >= 0) {
			s->offline = 0;
			for (int i = 0; i < n; i++) {
				uint8_t on = 0;
				if (target_read_virt(t, t->cpu, cpus->addr + (uint64_t)i * f[0].size + (uint64_t)f[1].off, &on, 1) != 1) {
					s->offline = -1;
					break;
				}
				s->offline += !on;
			}
		}
	}
	if (s->have_st && s->st.time_ns)
		s->date = (int64_t)(s->st.time_ns / 1000000000ull);
	else if (!t->path) /* live: now */
		s->date = (int64_t)time(NULL);
	if ((s->uptime_known = read_sym(t, "jiffies", &j, 8)))
		s->uptime = j / GUEST_HZ;
	if (read_sym(t, "total_ram", &ram, 8))
		s->memory = ram;
	else if (s->have_st)
		s->memory = s->st.mem_bytes;
	if (quiet) {
		s->tasks_known = mdb_walk(t, "thread", threads, sizeof(threads) / sizeof(threads[0]), &s->tasks, quiet) == 0;
		fclose(quiet);
	}
	banner_version(t, s->version, sizeof(s->version));
	if (t->os && t->os->panic && !t->os->panic(t, s->panic, sizeof(s->panic), &s->panic_cpu))
		s->panic[0] = 0, s->panic_cpu = -1;
}

static void sys_json(struct target *t, const struct guest_sys *s, FILE *out)
{
	fputs("{\"kernel\": ", out);
	json_write_str(out, t->symfile);
	fputs(", \"dumpfile\": ", out);
	json_write_str(out, t->path);
	if (s->date >= 0)
		fprintf(out, ", \"date\": %" PRId64, s->date);
	else
		fputs(", \"date\": null", out);
	fprintf(out, ", \"cpus\": %d, \"offline_cpus\": %d, \"uptime_s\": ", s->ncpus, s->offline);
	if (s->uptime_known)
		fprintf(out, "%" PRIu64, s->uptime);
	else
		fputs("null", out);
	if (s->tasks_known)
		fprintf(out, ", \"tasks\": %zu", s->tasks);
	else
		fputs(", \"tasks\": null", out);
	fputs(", \"domain\": ", out);
	if (s->have_st && s->st.domain_id >= 0)
		json_write_str(out, s->st.domain);
	else
		fputs("null", out);
	fputs(", \"release\": ", out);
	json_write_str(out, s->have_st ? s->st.os_release : "");
	fputs(", \"version\": ", out);
	json_write_str(out, s->version);
	fprintf(out, ", \"machine\": \"x86_64\", \"memory_bytes\": %" PRIu64 ", \"panic\": ", s->memory);
	json_write_str(out, s->panic);
	fprintf(out, ", \"panic_cpu\": %d}\n", s->panic_cpu);
}

int guest_cmd_sys(struct target *t, FILE *out)
{
	struct guest_sys s;
	char date[64] = "(unknown)";
	if (!symtab_by_name(&t->syms, "thread_list"))
		return mdb_fail(out, "sys: no symbol thread_list: sys is for our guest kernel (hvmdb -s build/guest.elf) and "
			       "for Linux kernels (hvmdb -s vmlinux)");
	sys_read(t, &s);
	if (t->json) {
		sys_json(t, &s, out);
		return 0;
	}
	fprintf(out, "      KERNEL: %s\n", t->symfile ? t->symfile : "(no symbol file)");
	if (t->path)
		fprintf(out, "    DUMPFILE: %s\n", t->path);
	if (s.ncpus >= 0)
		fprintf(out, "        CPUS: %d", s.ncpus);
	else
		fprintf(out, "        CPUS: (unknown)");
	if (s.offline > 0)
		fprintf(out, " [OFFLINE: %d]", s.offline);
	if (s.date >= 0) {
		time_t tt = (time_t)s.date;
		struct tm tm;
		if (gmtime_r(&tt, &tm))
			strftime(date, sizeof(date), "%a %b %e %H:%M:%S UTC %Y", &tm);
	}
	fprintf(out, "\n        DATE: %s\n", date);
	if (s.uptime_known)
		fprintf(out, "      UPTIME: %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64 "\n", s.uptime / 3600, s.uptime % 3600 / 60,
			s.uptime % 60);
	else
		fprintf(out, "      UPTIME: (unknown)\n");
	if (s.tasks_known)
		fprintf(out, "       TASKS: %zu\n", s.tasks);
	else
		fprintf(out, "       TASKS: (unknown)\n");
	if (s.have_st && s.st.domain_id >= 0)
		fprintf(out, "      DOMAIN: %d (%s)\n", s.st.domain_id, s.st.domain);
	fprintf(out, "     RELEASE: %s\n", s.have_st && s.st.os_release[0] ? s.st.os_release : "(unknown)");
	fprintf(out, "     VERSION: %s\n", s.version[0] ? s.version : "(unknown)");
	fprintf(out, "     MACHINE: x86_64\n");
	fprintf(out, "      MEMORY: ");
	if (s.memory)
		mdb_print_size(s.memory, out);
	else
		fprintf(out, "(unknown)\n");
	fprintf(out, "       PANIC: \"%s\"\n", s.panic);
	return 0;
}
