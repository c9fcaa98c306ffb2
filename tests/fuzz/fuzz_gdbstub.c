/* fuzz_gdbstub: libFuzzer target for the gdb stub: the input is everything a client
 * sends (packets, acks, ^C, noise), served against the fake target over a socketpair; a
 * second thread feeds it and drains the replies. Any input must end the session cleanly.
 * An input that starts with 'L' is served locked (gdbstub_serve_locked, token
 * "0123456789abcdef"): the fake may be reached only after the token and the attach. */
#include <poll.h>
#include <pthread.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/gdbstub_fake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool attached;

static int fake_attach(void *o, struct err *e)
{
	(void)o;
	(void)e;
	attached = true;
	return 0;
}

struct feed {
	int fd;
	const uint8_t *data;
	size_t size;
};

/* Writes the input (then EOF) and reads whatever the stub answers until it closes. */
static void *client(void *arg)
{
	struct feed *f = arg;
	size_t off = 0;
	char buf[65536];
	for (;;) {
		struct pollfd p = { .fd = f->fd, .events = POLLIN | (off < f->size ? POLLOUT : 0) };
		if (poll(&p, 1, -1) < 0)
			break;
		if (p.revents & POLLOUT) {
			ssize_t n = send(f->fd, f->data + off, f->size - off, MSG_NOSIGNAL | MSG_DONTWAIT);
			if (n < 0)
				off = f->size;
			else
				off += (size_t)n;
			if (off == f->size)
				shutdown(f->fd, SHUT_WR);
		}
		if ((p.revents & (POLLIN | POLLHUP | POLLERR)) && read(f->fd, buf, sizeof(buf)) <= 0)
			break;
	}
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct fake fake;
	static bool ready;
	struct feed f = { .data = data, .size = size };
	struct err e;
	pthread_t t;
	int sv[2], end;
	if (!ready) {
		if (fake_init(&fake, 1000) < 0)
			__builtin_trap();
		ready = true;
	}
	fake_reset(&fake);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		__builtin_trap();
	f.fd = sv[0];
	if (!size)
		shutdown(sv[0], SHUT_WR);
	if (pthread_create(&t, NULL, client, &f))
		__builtin_trap();
	attached = false;
	if (size && data[0] == 'L') {
		struct gdbstub_ops ops = fake_ops;
		ops.attach = fake_attach;
		end = gdbstub_serve_locked(sv[1], &ops, &fake, "0123456789abcdef", &e);
	} else {
		end = gdbstub_serve(sv[1], &fake_ops, &fake, &e);
	}
	close(sv[1]);
	pthread_join(t, NULL);
	close(sv[0]);
	if (end < 0 || fake.running != (end == GDBSTUB_END_DETACH))
		__builtin_trap(); /* the fake never fails; stopped on return unless detached */
	if (size && data[0] == 'L' && !attached && (fake.running || fake.nbps))
		__builtin_trap(); /* locked: nothing reached the target before the attach */
	return 0;
}
