/* gdbstub_fake: serves one gdb client against the fake target (tests/gdbstub_fake.h) on
 * a Unix socket or a 127.0.0.1 port, turning away other clients meanwhile; for the
 * end-to-end tests with a real gdb.
 *   gdbstub_fake unix:PATH | tcp:PORT [DELAY_MS]      (tcp:0 picks a port)
 * Prints "listening on ..." once ready, "refused a client" per turned-away client and
 * "session ended: eof|detach|kill|exited" with the breakpoints left set. */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gdbstub_fake.h"

static struct fake fake;
static int client_fd, done_pipe[2], end;
static struct err serve_err;

static void *serve(void *arg)
{
	(void)arg;
	end = gdbstub_serve(client_fd, &fake_ops, &fake, &serve_err);
	close(client_fd);
	(void)!write(done_pipe[1], "x", 1);
	return NULL;
}

int main(int argc, char **argv)
{
	struct err e;
	pthread_t t;
	struct access_sock sock = { .fd = -1 };
	uint16_t port = 0;
	int lfd;
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: gdbstub_fake unix:PATH | tcp:PORT [DELAY_MS]\n");
		return 2;
	}
	if (fake_init(&fake, (argc == 3 ? atol(argv[2]) : 200) * 1000000L) < 0 || pipe(done_pipe) < 0) {
		perror("gdbstub_fake");
		return 1;
	}
	if (!strncmp(argv[1], "unix:", 5))
		lfd = gdbstub_listen_unix(&sock, argv[1] + 5, true, &e);
	else if (!strncmp(argv[1], "tcp:", 4))
		lfd = gdbstub_listen_tcp((uint16_t)atoi(argv[1] + 4), &port, &e);
	else
		lfd = err_set(&e, "%s: not unix:PATH or tcp:PORT", argv[1]);
	if (lfd < 0) {
		fprintf(stderr, "gdbstub_fake: %s\n", e.msg);
		return 1;
	}
	if (port)
		printf("listening on 127.0.0.1:%u\n", port);
	else
		printf("listening on %s\n", argv[1] + 5);
	fflush(stdout);
	if ((client_fd = gdbstub_accept(lfd, &e)) < 0 || pthread_create(&t, NULL, serve, NULL)) {
		fprintf(stderr, "gdbstub_fake: %s\n", e.msg);
		return 1;
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = lfd, .events = POLLIN }, { .fd = done_pipe[0], .events = POLLIN } };
		if (poll(p, 2, -1) < 0 || p[1].revents)
			break;
		if (p[0].revents) {
			int fd = gdbstub_accept(lfd, &e);
			if (fd >= 0) {
				gdbstub_refuse(fd, NULL);
				printf("refused a client\n");
				fflush(stdout);
			}
		}
	}
	pthread_join(t, NULL);
	if (sock.fd >= 0)
		access_sock_close(&sock);
	else
		close(lfd);
	if (end < 0)
		printf("session failed: %s\n", serve_err.msg);
	else
		printf("session ended: %s\n", gdbstub_end_name(end));
	for (unsigned i = 0; i < fake.nbps; i++)
		printf("breakpoint left: Z%d %#llx\n", fake.bps[i].kind, (unsigned long long)fake.bps[i].addr);
	fake_destroy(&fake);
	close(done_pipe[0]);
	close(done_pipe[1]);
	if (!strncmp(argv[1], "unix:", 5))
		unlink(argv[1] + 5);
	return end < 0;
}
