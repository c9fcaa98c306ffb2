/* hvdump: the dump file tool. `hvdump info FILE` prints what a dump holds: format,
 * domain, each vCPU's registers, memory segments, notes, VMCOREINFO; `hvdump verify` checks
 * its RAM against our integrity note; `hvdump convert` rewrites a dump (ours, QEMU's,
 * makedumpfile's) as ELF or kdump-compressed. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dump/dump.h"
#include "util/util.h"

static int usage(FILE *f)
{
	fputs("usage: hvdump info FILE\n"
	      "       hvdump verify FILE            its RAM against its integrity note (a hash per range)\n"
	      "       hvdump read FILE PADDR LEN    hex dump of guest-physical memory\n"
	      "       hvdump convert IN OUT [--format elf|kdump-zstd|kdump-lz4|kdump-zlib|kdump] [-q]\n"
	      "                                     (default kdump-zstd; OUT must not exist)\n"
	      "       hvdump --version              hvdump hvkit VERSION\n",
	      f);
	return f == stdout ? 0 : 2;
}

/* The commands, with their usage lines and how many words they take: a mistake is one
 * "hvdump: ..." line naming the word and the usage, exit 1 (as hv, hvctl and hvmdb). */
static const struct sub {
	const char *name, *usage;
	int words;
} subs[] = {
	{ "info", "hvdump info FILE", 1 },
	{ "verify", "hvdump verify FILE", 1 },
	{ "read", "hvdump read FILE PADDR LEN", 3 },
	{ "convert", "hvdump convert IN OUT [--format elf|kdump-zstd|kdump-lz4|kdump-zlib|kdump] [-q]", 2 },
};

static int mistake(const char *what, const char *word, const struct sub *c)
{
	if (*word)
		fprintf(stderr, "hvdump: %s: %s'%s' (usage: %s)\n", c->name, what, word, c->usage);
	else
		fprintf(stderr, "hvdump: %s: %s (usage: %s)\n", c->name, what, c->usage);
	return 1;
}

static int cmd_info(const char *path)
{
	struct err e;
	struct dump_file *f = dump_open(path, &e);
	const struct dump_domain *d;
	uint64_t ram = 0;
	if (!f) {
		fprintf(stderr, "hvdump: %s\n", e.msg);
		return 1;
	}
	printf("file:      %s\nformat:    %s\n", path, dump_format(f));
	if ((d = dump_domain_info(f))) {
		printf("domain:    %d (%s), %s%s%s\n", d->id, d->name, d->state, d->reason[0] ? ": " : "", d->reason);
		printf("memory:    %llu MiB\n", (unsigned long long)(d->mem_bytes >> 20));
	}
	printf("vCPUs:     %u\n", dump_nr_cpus(f));
	for (unsigned i = 0; i < dump_nr_cpus(f); i++) {
		const struct dump_cpu *c = dump_cpu(f, i);
		uint64_t rip, rsp, rbp;
		if (c)
			printf("  vCPU %u: %s rip %016llx rsp %016llx rbp %016llx cr3 %016llx rflags %08llx\n", i,
			       c->online ? "online " : "offline", (unsigned long long)c->rip, (unsigned long long)c->rsp,
			       (unsigned long long)c->rbp, (unsigned long long)c->cr3, (unsigned long long)c->rflags);
		else if (dump_prstatus_regs(f, i, &rip, &rsp, &rbp) == 0)
			printf("  vCPU %u: rip %016llx rsp %016llx rbp %016llx (NT_PRSTATUS)\n", i, (unsigned long long)rip,
			       (unsigned long long)rsp, (unsigned long long)rbp);
	}
	printf("segments:  %u\n", dump_nr_loads(f));
	for (unsigned i = 0; i < dump_nr_loads(f); i++) {
		const struct dump_load *l = dump_loadseg(f, i);
		printf("  %s paddr %016llx-%016llx vaddr %016llx (%llu KiB)\n", dump_load_is_physical(l) ? "RAM  " : "alias",
		       (unsigned long long)l->paddr, (unsigned long long)(l->paddr + l->memsz), (unsigned long long)l->vaddr,
		       (unsigned long long)(l->memsz >> 10));
		if (dump_load_is_physical(l))
			ram += l->memsz;
	}
	printf("RAM:       %llu MiB in physical segments\n", (unsigned long long)(ram >> 20));
	{
		unsigned nh;
		if (dump_hashes(f, &nh))
			printf("integrity: XXH3-64 of %u RAM range%s (hvdump verify checks it)\n", nh, nh == 1 ? "" : "s");
	}
	if (dump_vmcoreinfo(f))
		printf("VMCOREINFO:\n%s", dump_vmcoreinfo(f));
	dump_close(f);
	return 0;
}

static int cmd_read(const char *path, const char *paddr, const char *len)
{
	struct err e;
	struct dump_file *f = dump_open(path, &e);
	char *end1, *end2;
	uint64_t a = strtoull(paddr, &end1, 0), n = strtoull(len, &end2, 0);
	uint8_t buf[4096];
	size_t got;
	if (!f) {
		fprintf(stderr, "hvdump: %s\n", e.msg);
		return 1;
	}
	if (*end1 || *end2 || n == 0 || n > sizeof(buf)) {
		fprintf(stderr, "hvdump: read: PADDR and LEN (1-4096) are numbers\n");
		dump_close(f);
		return 2;
	}
	got = dump_read_phys(f, a, buf, (size_t)n);
	if (got < n) {
		fprintf(stderr, "hvdump: 0x%llx: not in the dump\n", (unsigned long long)(a + got));
		dump_close(f);
		return 1;
	}
	for (size_t i = 0; i < got; i += 16) {
		printf("%016llx:", (unsigned long long)(a + i));
		for (size_t j = i; j < i + 16 && j < got; j++)
			printf(" %02x", buf[j]);
		printf("\n");
	}
	dump_close(f);
	return 0;
}

struct progress {
	uint64_t t0, last;
	bool tty;
};

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static int show_progress(void *o, uint64_t done, uint64_t total)
{
	struct progress *p = o;
	uint64_t now = time_ns();
	if (p->tty && (now - p->last > 200000000ull || done == total)) {
		progress_print(stderr, done, total, now - p->t0);
		p->last = now;
	}
	return interrupted;
}

static int cmd_convert(int argc, char **argv)
{
	const char *in = NULL, *out = NULL;
	int fmt = DUMP_FMT_KDUMP_ZSTD, ret = 1;
	struct progress prog = { .t0 = time_ns(), .tty = isatty(2) };
	struct dump_range ranges[256];
	struct dump_source src = { 0 };
	struct dump_file *f;
	struct dump_out o = { .fd = -1 };
	struct err e;

	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--format") && i + 1 < argc) {
			fmt = dump_fmt_parse(argv[++i]);
			if (fmt < 0) {
				fprintf(stderr, "hvdump: --format: %s is not elf, kdump-zstd, kdump-lz4, kdump-zlib or kdump\n", argv[i]);
				return 1;
			}
		} else if (!strcmp(argv[i], "-q")) {
			prog.tty = false;
		} else if (!strcmp(argv[i], "--format")) {
			return mistake("--format needs a value", "", &subs[3]);
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return mistake("unknown option ", argv[i], &subs[3]);
		} else if (!in) {
			in = argv[i];
		} else if (!out) {
			out = argv[i];
		} else {
			return mistake("unexpected argument ", argv[i], &subs[3]);
		}
	}
	if (!in || !out)
		return mistake(!in ? "no IN and no OUT" : "no OUT", "", &subs[3]);
	f = dump_open(in, &e);
	if (!f) {
		fprintf(stderr, "hvdump: %s\n", e.msg);
		return 1;
	}
	if (dump_source_from_file(f, &src, ranges, sizeof(ranges) / sizeof(ranges[0]), &e) < 0) {
		fprintf(stderr, "hvdump: %s: %s\n", in, e.msg);
		dump_close(f);
		return 1;
	}
	if (dump_out_create(&o, out, &e) < 0) {
		fprintf(stderr, "hvdump: %s\n", e.msg);
		goto done;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (dump_write(o.fd, &src, (enum dump_fmt)fmt, show_progress, &prog, &e) < 0) {
		if (prog.tty)
			fputc('\n', stderr);
		fprintf(stderr, "hvdump: %s: %s\n", out, e.msg);
		goto done;
	}
	if (dump_out_commit(&o, &e) < 0) {
		fprintf(stderr, "hvdump: %s\n", e.msg);
		goto done;
	}
	ret = 0;
done:
	dump_out_abort(&o);
	free((void *)src.cpus);
	dump_close(f);
	return ret;
}

static int cmd_verify(const char *path)
{
	struct err e;
	struct dump_file *f = dump_open(path, &e);
	unsigned n;
	int bad;
	if (!f) {
		fprintf(stderr, "hvdump: %s\n", e.msg);
		return 1;
	}
	bad = dump_verify(f, stdout, &n, &e);
	dump_close(f);
	if (bad < 0)
		fprintf(stderr, "hvdump: %s: %s\n", path, e.msg);
	else if (bad)
		fprintf(stderr, "hvdump: %s: %d of %u RAM ranges differ from the integrity note: the file is damaged\n", path,
			bad, n);
	else
		printf("%s: %u RAM range%s match the integrity note\n", path, n, n == 1 ? "" : "s");
	return bad ? 1 : 0;
}

int main(int argc, char **argv)
{
	const struct sub *c = NULL;
	const char *names[sizeof(subs) / sizeof(subs[0])], *near;
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "--version"))
		return util_print_version("hvdump");
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return usage(stdout);
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		names[i] = subs[i].name;
		if (!strcmp(argv[1], subs[i].name))
			c = &subs[i];
	}
	if (!c && argv[1][0] == '-') {
		fprintf(stderr, "hvdump: unknown option '%s' (see hvdump --help)\n", argv[1]);
		return 1;
	}
	if (!c) {
		near = word_closest(argv[1], names, sizeof(names) / sizeof(names[0]));
		fprintf(stderr, "hvdump: unknown command '%s'%s%s%s (see hvdump --help)\n", argv[1], near ? ": did you mean '" : "",
			near ? near : "", near ? "'?" : "");
		return 1;
	}
	if (c == &subs[3])
		return cmd_convert(argc, argv);
	for (int i = 2; i < argc; i++) /* the others take no options ("-" is no option either) */
		if (argv[i][0] == '-' && argv[i][1] && !(c == &subs[2] && i > 2 && argv[i][1] >= '0' && argv[i][1] <= '9'))
			return mistake("unknown option ", argv[i], c);
	if (argc - 2 > c->words)
		return mistake("unexpected argument ", argv[c->words + 2], c);
	if (argc - 2 < c->words)
		return mistake(c == &subs[2] ? "needs FILE, PADDR and LEN" : "needs FILE", "", c);
	if (c == &subs[0])
		return cmd_info(argv[2]);
	if (c == &subs[1])
		return cmd_verify(argv[2]);
	return cmd_read(argv[2], argv[3], argv[4]);
}
