/* fuzz_control: libFuzzer target for the control protocol: bytes as clients send them, to
 * a real hv (hv_create: the verb table, the debug keys, a property store in a directory of
 * its own; no domain), through control_feed, the control loop's own path. The first byte
 * says how the bytes arrive (in pieces of which size; the whole input repeated past the
 * line limit); the rest is one connection per line, the last one maybe cut short. Every
 * reply must be protocol lines ("o ", "e ", "p ") ending in one "= N", and a status other
 * than 0 must come with an "e" line saying why. */
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dbgkeys/dbgkeys.h"
#include "hv/control.h"
#include "hv/hv.h"
#include "hv/props.h"
#include "kmdb/kmdb.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLY_MAX (16u << 20)

static struct hv *hv;
static char dir[64];
static char *reply;

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

static void cleanup(void)
{
	if (hv)
		hv_destroy(hv);
	hv = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static char sock[128], state[128], prop[160];
	struct props *p = NULL;
	struct hv_options o = { .quiet = true, .daemon = true, .socket_path = sock, .state_dir = state };
	struct err e;
	sigset_t set;
	(void)argc;
	(void)argv;
	/* on tmpfs when there is one: the store's fsyncs cost nothing there */
	snprintf(dir, sizeof(dir), "%s/fuzz_control.XXXXXX", access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(dir)) {
		perror("fuzz_control: mkdtemp");
		exit(1);
	}
	snprintf(sock, sizeof(sock), "%s/ctl.sock", dir);
	snprintf(state, sizeof(state), "%s/state", dir);
	snprintf(prop, sizeof(prop), "%s/props.db", state);
	if (mkdir(state, 0700) < 0 || !(p = props_open(prop, &e)) ||
	    props_set(p, "config/xend-relocation-server", "false", &e) < 0 || props_refresh(p, NULL, 0, &e) < 0) {
		fprintf(stderr, "fuzz_control: %s\n", e.msg); /* (no relocation server: no port taken) */
		exit(1);
	}
	props_close(p);
	if (dbgkeys_register_all(&e) < 0 || kmdb_register() < 0 || !(hv = hv_create(&o, &e))) {
		fprintf(stderr, "fuzz_control: %s\n", e.msg);
		exit(1);
	}
	/* hv's threads keep the signals blocked; libFuzzer's own (Ctrl-C, timeouts) work here */
	sigfillset(&set);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	atexit(cleanup);
	reply = malloc(REPLY_MAX + 1);
	return 0;
}

/* Reads what the client's end has now (all of it once the other end is closed). */
static size_t drain(int fd, size_t len)
{
	ssize_t n;
	while (len < REPLY_MAX && (n = recv(fd, reply + len, REPLY_MAX - len, MSG_DONTWAIT)) > 0)
		len += (size_t)n;
	return len;
}

/* The reply's shape: protocol lines, the status line last, an error line for a failure. */
static void check_reply(const char *s, size_t len, int ret)
{
	const char *p = s, *end = s + len;
	bool status = false, error = false;
	if (len >= REPLY_MAX)
		return; /* (a reply this large is not read to its end) */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || status)
			__builtin_trap(); /* a line cut short, or anything after the status */
		if (p[0] == '=') {
			if (nl - p != 3 || p[1] != ' ' || (p[2] != '0' && p[2] != '1'))
				__builtin_trap();
			if (p[2] == '1' && !error)
				__builtin_trap(); /* a failure nobody is told the reason of */
			status = true;
		} else if ((p[0] == 'o' || p[0] == 'e' || p[0] == 'p') && nl - p >= 2 && p[1] == ' ') {
			error |= p[0] == 'e';
			if (memchr(p, 0, (size_t)(nl - p)))
				__builtin_trap();
		} else {
			__builtin_trap(); /* "c" and "g" start streams, which no domain here has */
		}
		p = nl + 1;
	}
	if ((ret == 1) != status)
		__builtin_trap(); /* done means a status was sent; a request still open sent none */
}

/* One connection: its bytes in pieces of step (0: at once), as a socket may deliver them. */
static void one_client(const uint8_t *data, size_t size, size_t step)
{
	struct ctl_client c;
	int sv[2], ret = 0, buf = 4 << 20;
	size_t len = 0;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return;
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	c = (struct ctl_client){ .fd = sv[0], .console_dom = -1 };
	for (size_t off = 0; off < size && ret == 0; off += step ? step : size) {
		size_t n = step && size - off > step ? step : size - off;
		ret = control_feed(hv, &c, data + off, n);
	}
	len = drain(sv[1], len);
	/* a thread took the connection, a console stream, an answer hv's loop gives later:
	 * each needs a domain, and this hv has none */
	if (ret == 2 || c.console_dom >= 0 || c.waiting)
		__builtin_trap();
	while (c.out_len && !c.gone && !c.overflow && len < REPLY_MAX) { /* the loop's POLLOUT */
		control_flush(&c);
		len = drain(sv[1], len);
	}
	close(sv[0]);
	len = drain(sv[1], len);
	close(sv[1]);
	free(c.out);
	free(c.buf);
	check_reply(reply, len, ret);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t steps[8] = { 0, 1, 2, 3, 7, 64, 4095, 16384 };
	uint8_t mode;
	int clients = 0;
	if (!size)
		return 0;
	mode = data[0];
	data++;
	size--;
	if (mode & 0x80) { /* one connection: the input repeated past the line limit */
		size_t n = CONTROL_MAX_LINE + 64, off = 0;
		uint8_t *big = malloc(n);
		if (!size)
			memset(big, 'x', n);
		for (; size && off < n; off += size < n - off ? size : n - off)
			memcpy(big + off, data, size < n - off ? size : n - off);
		one_client(big, n, steps[mode & 7] ? steps[mode & 7] : 65536);
		free(big);
		return 0;
	}
	while (size && clients++ < 64) {
		const uint8_t *nl = memchr(data, '\n', size);
		size_t n = nl ? (size_t)(nl - data) + 1 : size;
		one_client(data, n, steps[mode & 7]);
		data += n;
		size -= n;
	}
	return 0;
}
