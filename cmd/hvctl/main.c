/* hvctl: the toolstack's command-line client. It sends one request over hv's control
 * socket and prints the reply; `console` relays a domain's console until Ctrl-]. */
#include <errno.h>
#include <stdbool.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "hv/hv.h"
#include "util/words.h"

static const char usage_text[] =
	"usage: hvctl [-S SOCKET] COMMAND [ARGS]\n"
	"Domains:\n"
	"  list [--all] [--json]        domains and their states (--all: defined ones too)\n"
	"  dominfo NAME [--json]        one domain\n"
	"  vcpuinfo NAME [--json]       its vCPUs\n"
	"  define FILE                  persist a domain defined in xl.cfg syntax\n"
	"  undefine NAME                forget a definition\n"
	"  create FILE                  start a domain from a config file (not persisted)\n"
	"  start NAME                   start a defined domain\n"
	"  shutdown NAME                ask the guest to power off (it goes through 'in shutdown');\n"
	"                               a kernel without hvkit's request vector (Linux) gets the\n"
	"                               ACPI power button\n"
	"  reboot NAME                  ask the guest to reboot (reset it if it cannot be asked)\n"
	"  destroy NAME [--force]       stop it at once (dom0 only with --force; one being dumped:\n"
	"                               paused, destroyed when the dump is complete; at most 60 s)\n"
	"  suspend NAME                 pause it\n"
	"  resume NAME                  unpause it\n"
	"  pause NAME                   xl's name for suspend\n"
	"  unpause NAME                 xl's name for resume\n"
	"  vcpu-list NAME [--json]      xl's name for vcpuinfo\n"
	"  console NAME [--no-history]  attach to its console; Ctrl-] detaches\n"
	"  sysrq NAME KEY               a magic SysRq key, as xl sysrq: a break and KEY on its\n"
	"                               serial console (Linux: t tasks, w blocked, l CPUs, c crash)\n"
	"  dump NAME FILE [--format elf|kdump-zstd|kdump-lz4|kdump-zlib|kdump] [--live|--crash|--reset]\n"
	"                               consistent dump of a domain; it keeps running (--live), or\n"
	"                               crashes (--crash) or is reset (--reset) after it; progress is\n"
	"                               shown on a terminal, Ctrl-C cancels\n"
	"  dump-core NAME FILE [...]    xl's name for dump\n"
	"  dump-cancel NAME             cancel the dump being written\n"
	"  gdbserver NAME [--socket PATH | --port N] [-w]\n"
	"                               a one-shot gdb stub: a Unix socket only root and hv's uid reach\n"
	"                               (default: gdb-NAME.sock beside hv's socket), or with --port\n"
	"                               127.0.0.1:N (0: any) and a one-time token (docs/gdb.md); -w:\n"
	"                               memory and registers writable\n"
	"  gdb NAME [-w] [--no-pause]   this connection as a gdb remote session (what hvmdb -d uses)\n"
	"Containment:\n"
	"  save NAME FILE [--keep] [--paused]\n"
	"                               write the domain to FILE and destroy it (--keep: it runs on,\n"
	"                               as xl save -c; --paused: kept, paused)\n"
	"  restore FILE [--paused] [--name NEW]\n"
	"                               a domain from a save file (or a full checkpoint), running on\n"
	"  checkpoint NAME [TAG]        a live checkpoint (the first full, then only what changed)\n"
	"  checkpoint-list NAME [--json] its checkpoints\n"
	"  checkpoint-delete NAME TAG   delete one (not one an incremental sits on)\n"
	"  rollback NAME TAG            back to a checkpoint, copying back only what changed (from\n"
	"                               the undo logs in memory where they have it: at most\n"
	"                               config/checkpoint-undo-max MiB, 0 = a quarter of RAM)\n"
	"Migration:\n"
	"  migrate NAME HOST[:PORT] [--live] [--ssl] [--downtime MS] [--bandwidth MIB/S] [--json]\n"
	"                               send the domain to HOST's relocation server (port 8002);\n"
	"                               --live: pre-copy while it runs, paused only at the end\n"
	"  migrate-cancel NAME          cancel it; the domain runs on here\n"
	"Hypervisor:\n"
	"  debug-keys KEYS              run debug keys (output goes to the console ring)\n"
	"  dmesg [-c]                   the hypervisor's console ring (-c: clear it after)\n"
	"  setprop config/NAME = [TYPE:] VALUE\n"
	"                               set a property (pending until refresh); svccfg's spelling\n"
	"  listprop [PATTERN] [--json]  the properties, running value and pending one\n"
	"  delprop config/NAME          back to its default (at the next refresh)\n"
	"  refresh                      the pending values take effect\n"
	"  shutdown-hv [--force]        stop hv: every domain is destroyed and hv exits 0 (domUs\n"
	"                               still there need --force)\n"
	"  help [COMMAND]               this text, or one command's lines (also COMMAND --help)\n"
	"A command's unknown option or extra word is refused with its usage line (exit 1).\n"
	"hvctl --version prints hvctl hvkit VERSION.\n"
	"The socket is -S PATH, else $HVKIT_SOCKET, else " HV_DEFAULT_SOCKET ".\n";

/* help COMMAND: the lines of usage_text about it (its own line and those indented under it). */
static int help_command(const char *cmd)
{
	const char *p = usage_text;
	size_t len = strlen(cmd);
	bool in = false, found = false;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
		if (!strncmp(p, "  ", 2) && p[2] != ' ') {
			/* a command's line: "  NAME ..." */
			const char *gap = strstr(p + 2, "  "); /* the description starts after it */
			const char *end = gap && gap < p + n ? gap : p + n;
			in = false;
			for (const char *w = p + 2; w < end; w++)
				if ((w == p + 2 || w[-1] == ' ') && !strncmp(w, cmd, len) &&
				    (w[len] == ' ' || w[len] == '\n' || w[len] == ','))
					in = true;
		} else if (strncmp(p, "    ", 4))
			in = false;
		if (in) {
			fwrite(p, 1, n, stdout);
			found = true;
		}
		p += n;
	}
	if (!found) {
		fprintf(stderr, "hvctl: no command '%s' (hvctl --help lists the commands)\n", cmd);
		return 1;
	}
	return 0;
}

/* The commands usage_text lists (each "  NAME ..." line's first word), at most max. */
static size_t usage_verbs(const char **names, char (*buf)[32], size_t max)
{
	size_t n = 0;
	for (const char *p = usage_text; *p && n < max;) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p), w = 0;
		if (len > 2 && !strncmp(p, "  ", 2) && p[2] != ' ') {
			while (2 + w < len && p[2 + w] != ' ' && w < sizeof(buf[0]) - 1)
				w++;
			memcpy(buf[n], p + 2, w);
			buf[n][w] = 0;
			names[n] = buf[n];
			n++;
		}
		p += len + (nl ? 1 : 0);
	}
	return n;
}

static int die(const char *fmt, const char *arg);

/* Without hv to ask, a command usage_text does not list is still named a mistake, with the
 * closest one, as hv would answer; 0 when verb is listed. */
static int unknown_verb_offline(const char *verb)
{
	const char *names[128], *near;
	char buf[128][32];
	size_t n = usage_verbs(names, buf, 128);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], verb))
			return 0;
	near = word_closest(verb, names, n);
	fprintf(stderr, "hvctl: unknown command '%s'", verb);
	if (near)
		fprintf(stderr, ": did you mean '%s'?", near);
	fprintf(stderr, " (hvctl --help lists the commands)\n");
	return 1;
}

static int die(const char *fmt, const char *arg)
{
	fprintf(stderr, "hvctl: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 1;
}

static int connect_hv(const char *path, const char *verb)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		die("socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		char msg[300];
		if (unknown_verb_offline(verb)) {
			if (fd >= 0)
				close(fd);
			return -1;
		}
		snprintf(msg, sizeof(msg), "cannot reach hv at %s: %s (is hv running?)", path, strerror(errno));
		die("%s", msg);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static struct termios saved;
static bool raw_on;

static void raw_off(void)
{
	if (raw_on)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
	raw_on = false;
}

static int console_relay(int fd, const char *pending, size_t npending)
{
	struct termios t;
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		t = saved;
		cfmakeraw(&t);
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &t);
		raw_on = true;
		atexit(raw_off);
	}
	if (npending)
		(void)!write(STDOUT_FILENO, pending, npending);
	for (;;) {
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = STDIN_FILENO, .events = POLLIN } };
		char buf[4096];
		ssize_t n;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, buf, sizeof(buf), 0);
			if (n <= 0) {
				raw_off();
				fprintf(stderr, "\r\nhvctl: the console closed (domain gone or hv stopped)\n");
				return 1;
			}
			(void)!write(STDOUT_FILENO, buf, (size_t)n);
		}
		if (p[1].revents & (POLLIN | POLLHUP)) {
			n = read(STDIN_FILENO, buf, sizeof(buf));
			if (n <= 0)
				break; /* end of input: detach */
			for (ssize_t i = 0; i < n; i++) {
				if (buf[i] == 0x1d) { /* Ctrl-] */
					if (i)
						(void)!send(fd, buf, (size_t)i, MSG_NOSIGNAL);
					raw_off();
					fprintf(stderr, "\r\n");
					return 0;
				}
			}
			(void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL);
		}
	}
	raw_off();
	return 0;
}

/* "DONE TOTAL" from a dump job: a progress line on a terminal. */
static void show_progress(const char *s)
{
	static uint64_t t0;
	unsigned long long done, total;
	if (!isatty(STDERR_FILENO) || sscanf(s, "%llu %llu", &done, &total) != 2 || !total)
		return;
	if (!t0)
		t0 = time_ns();
	progress_print(stderr, done, total, time_ns() - t0);
}

int main(int argc, char **argv)
{
	const char *sock = getenv("HVKIT_SOCKET");
	char req[65536], resolved[PATH_MAX], buf[8192], line[8192];
	size_t len = 0, ll = 0;
	int fd, argi = 1, status = -1;

	if (!sock || !*sock)
		sock = HV_DEFAULT_SOCKET;
	while (argi < argc && argv[argi][0] == '-') {
		if (!strcmp(argv[argi], "-S") && argi + 1 < argc) {
			sock = argv[argi + 1];
			argi += 2;
		} else if (!strcmp(argv[argi], "-h") || !strcmp(argv[argi], "--help")) {
			fputs(usage_text, stdout);
			return 0;
		} else if (!strcmp(argv[argi], "--version")) {
			return util_print_version("hvctl");
		} else {
			return die("unknown option %s (see hvctl --help)", argv[argi]);
		}
	}
	if (argi >= argc) {
		fputs(usage_text, stderr);
		return 2;
	}
	for (int i = argi + 1; i < argc; i++) /* hvctl VERB --help, as virsh VERB --help */
		if (!strcmp(argv[i], "--help") && strcmp(argv[i - 1], "--"))
			return help_command(argv[argi]);
	if (!strcmp(argv[argi], "help")) {
		if (argi + 2 < argc)
			return die("usage: hvctl help [COMMAND] (one command, not '%s')", argv[argi + 2]);
		if (argi + 1 < argc)
			return help_command(argv[argi + 1]);
		fputs(usage_text, stdout);
		return 0;
	}
	for (int i = argi; i < argc; i++) {
		const char *a = argv[i];
		/* files are read by hv: send absolute paths */
		if (i == argi + 1 && a[0] != '-' && (!strcmp(argv[argi], "create") || !strcmp(argv[argi], "define") ||
				      !strcmp(argv[argi], "restore"))) {
			if (!realpath(a, resolved))
				return die("%s: no such file", a);
			a = resolved;
		}
		if (((i == argi + 2 && (!strcmp(argv[argi], "dump") || !strcmp(argv[argi], "dump-core") ||
			       !strcmp(argv[argi], "save"))) ||
		     (!strcmp(argv[argi], "gdbserver") && !strcmp(argv[i - 1], "--socket"))) &&
		    a[0] != '/') {
			/* a file hv creates, relative to here */
			char cwd[PATH_MAX];
			if (!getcwd(cwd, sizeof(cwd)) || snprintf(resolved, sizeof(resolved), "%s/%s", cwd, a) >= (int)sizeof(resolved))
				return die("%s: path too long", a);
			a = resolved;
		}
		if (strpbrk(a, "\t\n"))
			return die("argument has a tab or newline: %s", a);
		if (len + strlen(a) + 2 > sizeof(req))
			return die("%s", "request too long");
		len += (size_t)snprintf(req + len, sizeof(req) - len, "%s%s", i > argi ? "\t" : "", a);
	}
	req[len++] = '\n';
	signal(SIGPIPE, SIG_IGN);
	fd = connect_hv(sock, argv[argi]);
	if (fd < 0)
		return 1;
	/* hv may refuse us before reading: its answer is still there to read */
	bool sent = send(fd, req, len, MSG_NOSIGNAL) == (ssize_t)len;
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (ll < sizeof(line) - 1)
					line[ll++] = buf[i];
				continue;
			}
			line[ll] = 0;
			ll = 0;
			if (!strcmp(line, "c"))
				return console_relay(fd, buf + i + 1, (size_t)(n - i - 1));
			if (line[0] == 'o' && line[1] == ' ')
				printf("%s\n", line + 2);
			else if (line[0] == 'e' && line[1] == ' ')
				fprintf(stderr, "hvctl: %s\n", line + 2);
			else if (line[0] == '=' && line[1] == ' ')
				status = atoi(line + 2);
			else if (line[0] == 'p' && line[1] == ' ')
				show_progress(line + 2);
		}
		fflush(stdout); /* a line saying what hv waits for shows while it waits */
		if (status >= 0)
			break;
	}
	close(fd);
	if (status < 0)
		return die("%s", sent ? "hv closed the connection without an answer" : "cannot send the request");
	return status;
}
