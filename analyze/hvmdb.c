/* hvmdb: the post-mortem debugger: opens a dump (ours, or any x86-64 ELF core) with the
 * kernel's symbols and runs mdb-style commands from -c, from standard input, or at an
 * interactive readline prompt with history and completion. */
#include <readline/history.h>
#include <readline/readline.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyze.h"
#include "kmdb-bridge/kmdb.h"

static struct target *tgt;

static char *complete_gen(const char *text, int state)
{
	static size_t ci, si;
	size_t len = strlen(text);
	if (!state)
		ci = si = 0;
	while (mdb_command_names[ci]) {
		const char *c = mdb_command_names[ci++];
		if (!strncmp(c, text, len))
			return strdup(c);
	}
	while (tgt && si < tgt->syms.n) {
		const char *s = tgt->syms.syms[si++].name;
		if (!strncmp(s, text, len))
			return strdup(s);
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)start;
	(void)end;
	rl_attempted_completion_over = 1;
	return rl_completion_matches(text, complete_gen);
}

static int usage(FILE *f)
{
	fputs("usage: hvmdb [-s SYMFILE] [--kaslr OFFSET] [--json] DUMP [-c 'CMD; CMD...']\n"
	      "       hvmdb [-s SYMFILE] [-w | --no-pause] [-S SOCKET] -d DOMAIN [-c 'CMD; CMD...']\n"
	      "Reads a crash dump with the kernel's symbols, or attaches to a live domain of a running\n"
	      "hv (-d: it stops while attached, :c runs it; -w allows writes); commands as in mdb (::help).\n",
	      f);
	return f == stdout ? 0 : 2;
}

int main(int argc, char **argv)
{
	const char *symfile = NULL, *cmds = NULL, *dump = NULL, *live = NULL, *sock = getenv("HVKIT_SOCKET"), *kaslr = NULL;
	bool writable = false, nopause = false;
	struct err e;
	int status = 0;
	bool json = false;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-s") && i + 1 < argc)
			symfile = argv[++i];
		else if (!strcmp(argv[i], "-c") && i + 1 < argc)
			cmds = argv[++i];
		else if (!strcmp(argv[i], "--kaslr") && i + 1 < argc)
			kaslr = argv[++i];
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-d") && i + 1 < argc)
			live = argv[++i];
		else if (!strcmp(argv[i], "-S") && i + 1 < argc)
			sock = argv[++i];
		else if (!strcmp(argv[i], "-w"))
			writable = true;
		else if (!strcmp(argv[i], "--no-pause"))
			nopause = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return usage(stdout);
		else if (argv[i][0] == '-' || dump)
			return usage(stderr);
		else
			dump = argv[i];
	}
	if (!dump == !live)
		return usage(stderr);
	if (live)
		tgt = kmdb_remote_open(sock && *sock ? sock : "/run/hvkit/ctl.sock", live, nopause, &e);
	else
		tgt = target_dump_open(dump, &e);
	if (!tgt) {
		fprintf(stderr, "hvmdb: %s\n", e.msg);
		return 1;
	}
	tgt->json = json;
	if (!symfile && !live) {
		static char found[4096];
		if (target_find_symfile(tgt, found, sizeof(found))) {
			symfile = found;
			fprintf(stderr, "hvmdb: symbols from %s (its build-id is the dumped kernel's)\n", found);
		}
	}
	tgt->writable = writable && live;
	if ((kaslr && !symfile && err_set(&e, "--kaslr needs the vmlinux (-s)") < 0) ||
	    (symfile && (target_add_symbols(tgt, symfile, &e) < 0 || target_check_build_id(tgt, symfile, &e) < 0 ||
			 linux_attach(tgt, kaslr, &e) < 0))) {
		fprintf(stderr, "hvmdb: %s\n", e.msg);
		target_close(tgt);
		return 1;
	}
	if (cmds) {
		status = mdb_exec(tgt, cmds, stdout) < 0;
	} else if (!isatty(STDIN_FILENO)) {
		char line[4096];
		while (fgets(line, sizeof(line), stdin)) {
			if (mdb_exec(tgt, line, stdout) < 0)
				status = 1;
			fflush(stdout); /* a script reading us waits for each answer */
		}
	} else {
		char *line;
		rl_attempted_completion_function = complete;
		if (!symfile)
			printf("(no symbol file: give the kernel with -s for names)\n");
		while ((line = readline("> ")) != NULL) {
			if (*line) {
				add_history(line);
				if (!strcmp(line, "::quit") || !strcmp(line, "$q"))
					break;
				mdb_exec(tgt, line, stdout);
				fflush(stdout);
			}
			free(line);
		}
	}
	target_close(tgt);
	return status;
}
