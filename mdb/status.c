/* status: ::status: what the target is (the dump's domain and state, or the live domain),
 * the kernel (its OS module's status op), the CPUs; with --json one object that also says why
 * it stopped: the panic message and the CPU that panicked (the OS module's panic op). */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"

void mdb_print_size(uint64_t b, FILE *out)
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

static void status_json(struct target *t, FILE *out)
{
	struct target_status s;
	char *text = NULL, msg[256] = "";
	size_t n = 0;
	int cpu = -1;
	bool panicked;
	FILE *m = open_memstream(&text, &n);
	fprintf(out, "{\"target\": ");
	json_write_str(out, t->ops->kind);
	fputs(", \"description\": [", out);
	if (m) { /* the target's own lines, as ::status prints them */
		t->ops->status(t, m);
		fclose(m);
		for (char *l = text, *e; l && *l; l = *e ? e + 1 : e) {
			e = l + strcspn(l, "\n");
			fputs(l == text ? "" : ", ", out);
			json_write_strn(out, l, (size_t)(e - l));
		}
		free(text);
	}
	fputc(']', out);
	if (t->ops->status_info && t->ops->status_info(t, &s) == 0) {
		fputs(", \"format\": ", out);
		json_write_str(out, s.format);
		if (s.domain_id >= 0) {
			fprintf(out, ", \"domain\": {\"id\": %d, \"name\": ", s.domain_id);
			json_write_str(out, s.domain);
			fprintf(out, ", \"vcpus\": %u, \"memory_bytes\": %llu}, \"state\": ", s.nr_vcpus, (unsigned long long)s.mem_bytes);
			json_write_str(out, s.state);
			fputs(", \"reason\": ", out);
			json_write_str(out, s.reason);
		}
		if (s.os_release[0]) {
			fputs(", \"os_release\": ", out);
			json_write_str(out, s.os_release);
		}
	}
	panicked = t->os && t->os->panic && t->os->panic(t, msg, sizeof(msg), &cpu);
	fputs(", \"panic\": ", out);
	if (panicked) {
		fputs("{\"message\": ", out);
		json_write_str(out, msg);
		if (cpu >= 0)
			fprintf(out, ", \"cpu\": %d}", cpu);
		else
			fputs(", \"cpu\": null}", out);
	} else {
		fputs("null", out);
	}
	fprintf(out, ", \"cpus\": %u, \"current_cpu\": %u", t->ops->nr_cpus(t), t->cpu);
	if (t->os && t->os->status)
		t->os->status(t, out);
	fputs("}\n", out);
}

int target_cmd_status(struct target *t, FILE *out)
{
	if (t->json) {
		status_json(t, out);
		return 0;
	}
	t->ops->status(t, out);
	if (t->os && t->os->status)
		t->os->status(t, out);
	fprintf(out, "CPUs: %u, current %u\n", t->ops->nr_cpus(t), t->cpu);
	return t->os && t->os->status_more ? t->os->status_more(t, out) : 0;
}
