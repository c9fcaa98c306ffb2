/* hvmdb: the post-mortem debugger: opens a dump (ours, or any x86-64 ELF core) with the
 * kernel's symbols and runs mdb-style commands from -c, from standard input, or at an
 * interactive readline prompt with history and completion. */
#include <readline/history.h>
#include <readline/readline.h>
#include <errno.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mdb/mdb.h"
#include "mdb/os/guest/guest_os.h"
#include "mdb/os/linux/linux_os.h"
#include "kmdb/kmdb.h"

static struct target *tgt;

static char *complete_gen(const char *text, int state)
{
	static size_t ci, si;
	size_t len = strlen(text);
	if (!state)
		ci = si = 0;
	for (const char *c; (c = mdb_dcmd_name(tgt, ci)) != NULL;) {
		ci++;
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

/* What the word being completed is, from the words before it (of the command after the last ';'). */
static enum { C_DEFAULT, C_TYPE, C_TAG, C_MEMBER, C_WALKER } ctype;
static char ctag[16];       /* C_TAG: "struct", "union", "enum" */
static char cmember_of[160]; /* C_MEMBER: the type */

static void complete_context(int start)
{
	char line[512], *words[8], *save = NULL, *cmd;
	int n = 0, first = 0;
	snprintf(line, sizeof(line), "%.*s", start, rl_line_buffer);
	cmd = strrchr(line, ';') ? strrchr(line, ';') + 1 : line;
	for (char *w = strtok_r(cmd, " \t", &save); w && n < 8; w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	ctype = C_DEFAULT;
	if (n == 1 && !strcmp(words[0], "::walk")) { /* "::walk thr": the walkers */
		ctype = C_WALKER;
		return;
	}
	if (n > 1 && ((strstr(words[0], "::print") && !strcmp(words[1], "-t")) ||
		      (!strcmp(words[0], "whatis") && !strcmp(words[1], "-o"))))
		memmove(&words[1], &words[2], (size_t)(--n - 1) * sizeof(words[0])); /* ::print -t TYPE, whatis -o TYPE */
	while (first < n && !strstr(words[first], "::print") && !strstr(words[first], "::sizeof") && strcmp(words[first], "whatis") &&
	       !strstr(words[first], "::offsetof") && strcmp(words[first], "struct") && strcmp(words[first], "union") &&
	       strcmp(words[first], "enum"))
		first++;
	if (first == n)
		return;
	if (!strcmp(words[n - 1], "struct") || !strcmp(words[n - 1], "union") || !strcmp(words[n - 1], "enum")) {
		ctype = C_TAG; /* "::sizeof struct thr", and crash's "struct thr" */
		snprintf(ctag, sizeof(ctag), "%s", words[n - 1]);
	} else if (n == first + 1) {
		ctype = C_TYPE; /* "::sizeof thr" */
	} else if (strstr(words[first], "::offsetof") || strstr(words[first], "::print")) {
		/* "::offsetof TYPE na", "ADDR::print TYPE na" (::print: every member after the type) */
		bool tagged = !strcmp(words[first + 1], "struct") || !strcmp(words[first + 1], "union");
		if (n == first + 2 + tagged || (n > first + 2 + tagged && strstr(words[first], "::print"))) {
			ctype = C_MEMBER;
			snprintf(cmember_of, sizeof(cmember_of), "%s%s%s", words[first + 1], tagged ? " " : "",
				 tagged ? words[first + 2] : "");
		}
	}
}

/* Type names (C_TYPE: also bare tags and the keywords; C_TAG: that kind's tags) and members. */
static char *complete_type(const char *text, int state)
{
	static const char *const *names;
	static const char *const keywords[] = { "struct", "union", "enum" };
	static char **members;
	static size_t i, n, k;
	size_t len = strlen(text), tl = strlen(ctag);
	if (!state) {
		i = k = 0;
		for (size_t j = 0; members && members[j]; j++)
			free(members[j]);
		free(members);
		members = NULL;
		if (ctype == C_MEMBER)
			members = dwarf_type_members(tgt, cmember_of, &n);
		else if (ctype != C_WALKER)
			names = dwarf_type_names(tgt, &n, NULL);
	}
	if (ctype == C_WALKER) {
		while (tgt->os && i < tgt->os->nr_walkers)
			if (!strncmp(tgt->os->walkers[i++].name, text, len))
				return strdup(tgt->os->walkers[i - 1].name);
		return NULL;
	}
	if (ctype == C_MEMBER) {
		while (members && i < n)
			if (!strncmp(members[i++], text, len))
				return strdup(members[i - 1]);
		return NULL;
	}
	while (ctype == C_TYPE && k < 3)
		if (!strncmp(keywords[k++], text, len))
			return strdup(keywords[k - 1]);
	while (i < n) {
		const char *nm = names[i++], *sp = strchr(nm, ' ');
		bool tag = sp && (!strncmp(nm, "struct ", 7) || !strncmp(nm, "union ", 6) || !strncmp(nm, "enum ", 5));
		if (ctype == C_TAG && tag && !strncmp(nm, ctag, tl) && nm[tl] == ' ' && !strncmp(nm + tl + 1, text, len))
			return strdup(nm + tl + 1);
		if (ctype == C_TYPE && !tag && !strchr(nm, ' ') && !strncmp(nm, text, len))
			return strdup(nm);
		if (ctype == C_TYPE && tag && strncmp(nm, "enum ", 5) && !strncmp(sp + 1, text, len))
			return strdup(sp + 1); /* ::sizeof thread: a struct or union by its tag alone */
	}
	return NULL;
}

static char **complete(const char *text, int start, int end)
{
	(void)end;
	rl_attempted_completion_over = 1;
	complete_context(start);
	return rl_completion_matches(text, ctype == C_DEFAULT ? complete_gen : complete_type);
}

/* Ctrl-C: at the prompt the line is discarded and the prompt comes again (as mdb, gdb's
 * "Quit"); during a command it stops the commands after it on the line (mdb_interrupt). */
static volatile sig_atomic_t at_prompt;

static void on_sigint(int sig)
{
	(void)sig;
	if (at_prompt) {
		rl_crlf();
		rl_on_new_line();
		rl_replace_line("", 0);
		rl_redisplay();
	} else {
		mdb_interrupt = 1;
	}
}

static int bad_args(const char *fmt, const char *word)
{
	fputs("hvmdb: ", stderr);
	fprintf(stderr, fmt, word);
	fputs(" (see hvmdb --help)\n", stderr);
	return 2;
}

/* An ELF executable or shared object (a kernel, a vmlinux): a symbol file, not a dump. */
static bool is_symfile(const char *path)
{
	unsigned char h[18];
	FILE *f = fopen(path, "rb");
	size_t n = f ? fread(h, 1, sizeof(h), f) : 0;
	if (f)
		fclose(f);
	return n == sizeof(h) && !memcmp(h, "\177ELF", 4) && h[5] == 1 && (h[16] == 2 || h[16] == 3) && !h[17];
}

static int usage(FILE *f)
{
	fputs("usage: hvmdb [-s SYMFILE] [--kaslr OFFSET] [--json] DUMP [-c 'CMD; CMD...']\n"
	      "       hvmdb [-s SYMFILE] [-w | --no-pause] [-S SOCKET] -d DOMAIN [-c 'CMD; CMD...']\n"
	      "Reads a crash dump with the kernel's symbols, or attaches to a live domain of a running\n"
	      "hv (-d: it stops while attached, :c runs it; -w allows writes); commands as in mdb (::help).\n"
	      "hvmdb --version prints hvmdb hvkit VERSION.\n",
	      f);
	return f == stdout ? 0 : 2;
}

/* Lines kept across sessions, as gdb and mdb keep theirs: $HVMDB_HISTFILE, else
 * ~/.hvmdb_history ("" for HVMDB_HISTFILE: none kept). */
#define HISTORY_MAX 1000
static bool history_path(char *buf, size_t len)
{
	const char *f = getenv("HVMDB_HISTFILE"), *home = getenv("HOME");
	if (f)
		return *f && snprintf(buf, len, "%s", f) < (int)len;
	if (!home || !*home) {
		struct passwd *pw = getpwuid(getuid());
		home = pw ? pw->pw_dir : NULL;
	}
	return home && snprintf(buf, len, "%s/.hvmdb_history", home) < (int)len;
}

int main(int argc, char **argv)
{
	const char *symfile = NULL, *cmds = NULL, *dump = NULL, *live = NULL, *sock = getenv("HVKIT_SOCKET"), *kaslr = NULL;
	bool writable = false, nopause = false;
	struct err e;
	int status = 0;
	bool json = false;

	/* the OS modules, in the order they are tried: the guest's takes what Linux's does not */
	if (mdb_os_register(&mdb_os_linux, &e) < 0 || mdb_os_register(&mdb_os_guest, &e) < 0) {
		fprintf(stderr, "hvmdb: %s\n", e.msg);
		return 1;
	}
	const char *files[2] = { NULL, NULL };
	static char *allcmds; /* every -c, joined (kept to the end: reachable, not leaked) */
	int nfiles = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool valued = !strcmp(a, "-s") || !strcmp(a, "-c") || !strcmp(a, "--kaslr") || !strcmp(a, "-d") ||
			      !strcmp(a, "-S");
		if (valued && i + 1 >= argc)
			return bad_args("%s needs a value", a);
		if (!strcmp(a, "-s"))
			symfile = argv[++i];
		else if (!strcmp(a, "-c")) { /* -c again: its commands follow the others' */
			const char *c = argv[++i];
			size_t n = (allcmds ? strlen(allcmds) + 2 : 0) + strlen(c) + 1;
			char *m = xcalloc(1, n);
			snprintf(m, n, "%s%s%s", allcmds ? allcmds : "", allcmds ? "; " : "", c);
			free(allcmds);
			cmds = allcmds = m;
		} else if (!strcmp(a, "--kaslr"))
			kaslr = argv[++i];
		else if (!strcmp(a, "--json"))
			json = true;
		else if (!strcmp(a, "-d"))
			live = argv[++i];
		else if (!strcmp(a, "-S"))
			sock = argv[++i];
		else if (!strcmp(a, "-w"))
			writable = true;
		else if (!strcmp(a, "--no-pause"))
			nopause = true;
		else if (!strcmp(a, "-h") || !strcmp(a, "--help"))
			return usage(stdout);
		else if (!strcmp(a, "--version"))
			return util_print_version("hvmdb");
		else if (a[0] == '-' && a[1])
			return bad_args("unknown option '%s'", a);
		else if (nfiles == 2)
			return bad_args("unexpected argument '%s': give a dump, and the kernel with -s", a);
		else
			files[nfiles++] = a;
	}
	/* crash's order, `hvmdb VMLINUX DUMP` (or the other way round): the files say which is which */
	if (nfiles == 2) {
		bool s0 = is_symfile(files[0]), s1 = is_symfile(files[1]);
		if (symfile)
			return bad_args("two files and -s: which is the dump? ('%s' is the second)", files[1]);
		if (s0 == s1)
			return bad_args(s0 ? "'%s' and the other file are both executables: one must be the dump"
					   : "'%s' and the other file: neither is an ELF executable to take symbols from",
					files[0]);
		symfile = files[s0 ? 0 : 1];
		files[0] = files[s0 ? 1 : 0];
	}
	dump = nfiles ? files[0] : NULL;
	if (dump && live)
		return bad_args("a dump ('%s') and -d DOMAIN: give one of them", dump);
	if (!dump && !live)
		return bad_args("%s", "no dump file and no -d DOMAIN: which one to debug?");
	if (dump && !symfile && is_symfile(dump))
		return bad_args("'%s' is an executable, not a dump: give it with -s, and the dump", dump);
	if (live)
		tgt = target_remote_open(sock && *sock ? sock : "/run/hvkit/ctl.sock", live, nopause, &e);
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
	    (symfile && (target_add_symbols(tgt, symfile, &e) < 0 || target_check_build_id(tgt, symfile, &e) < 0)) ||
	    mdb_os_attach(tgt, kaslr, &e) < 0) {
		fprintf(stderr, "hvmdb: %s\n", e.msg);
		target_close(tgt);
		return 1;
	}
	if (!symfile && (cmds || !isatty(STDIN_FILENO))) /* the shell says it at its first prompt */
		fprintf(stderr, "hvmdb: no symbols loaded (give the kernel with -s): addresses are shown raw\n");
	if (cmds) {
		status = mdb_exec(tgt, cmds, stdout) < 0;
	} else if (!isatty(STDIN_FILENO)) {
		char line[4096];
		while (fgets(line, sizeof(line), stdin) && !mdb_is_quit(line)) {
			if (mdb_exec(tgt, line, stdout) < 0)
				status = 1;
			fflush(stdout); /* a script reading us waits for each answer */
		}
	} else {
		char *line, hist[4096];
		struct sigaction sa = { .sa_handler = on_sigint };
		bool keep = history_path(hist, sizeof(hist));
		if (keep) {
			stifle_history(HISTORY_MAX);
			read_history(hist); /* none yet is no error */
		}
		rl_attempted_completion_function = complete;
		rl_catch_signals = 0; /* ours: discard the line, not end the session */
		sigaction(SIGINT, &sa, NULL);
		if (symfile)
			dwarf_names_prefetch(tgt); /* type names for completion, read while the user types */
		if (!symfile)
			printf("(no symbol file: give the kernel with -s for names)\n");
		for (;;) {
			at_prompt = 1;
			line = readline("> ");
			at_prompt = 0;
			mdb_interrupt = 0;
			if (!line)
				break;
			if (*line) {
				HIST_ENTRY *last = history_length ? history_get(history_base + history_length - 1) : NULL;
				if (!last || strcmp(last->line, line)) /* as gdb: a repeated line once */
					add_history(line);
				if (mdb_is_quit(line)) {
					free(line);
					break;
				}
				mdb_exec(tgt, line, stdout);
				fflush(stdout);
			}
			free(line);
		}
		if (keep && write_history(hist) != 0)
			fprintf(stderr, "hvmdb: history not saved to %s: %s\n", hist, strerror(errno));
		else if (keep)
			chmod(hist, 0600); /* addresses and names typed at a kernel's debugger: the user's only */
	}
	fflush(stdout); /* the answers first: closing may wait for the type scan to write its cache */
	target_close(tgt);
	return status;
}
