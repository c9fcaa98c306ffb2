/* gdblisten: the sockets a gdb connects to: 127.0.0.1 TCP or a Unix socket (mode 0600,
 * only root and our uid let in), accepting one client, and turning away others. */
#include "internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#define REFUSE_WAIT_MS 500

int gdbstub_listen_tcp(uint16_t port, uint16_t *bound, struct err *e)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return err_errno(e, "gdbstub: socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &alen) < 0) {
		err_errno(e, "gdbstub: 127.0.0.1:%u", port);
		close(fd);
		return -1;
	}
	if (bound)
		*bound = ntohs(a.sin_port);
	return fd;
}

int gdbstub_listen_unix(struct access_sock *s, const char *path, bool take_stale, struct err *e)
{
	if (access_sock_listen(s, path, 1, 0, take_stale, e) < 0)
		return err_prefix(e, "gdbstub");
	return s->fd;
}

int gdbstub_accept(int lfd, struct err *e)
{
	struct sockaddr_storage a;
	socklen_t alen = sizeof(a);
	unsigned uid;
	int one = 1, fd;
	do
		fd = accept4(lfd, (struct sockaddr *)&a, &alen, SOCK_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0)
		return err_errno(e, "gdbstub: accept");
	if (a.ss_family == AF_UNIX && !access_peer_owner(fd, &uid)) {
		char why[96];
		snprintf(why, sizeof(why), "permission denied: uid %u may not debug this hv's domains", uid);
		gdbstub_refuse(fd, why);
		return err_set(e, "gdbstub: %s", why);
	}
	if (a.ss_family == AF_INET) /* gdb's packets are small and wait for each other */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* Waits (until deadline) for bytes from the client: for the end of its first packet when
 * first_packet, else for any byte (gdb's ack of the reply). */
static void refuse_wait(int fd, uint64_t deadline, bool first_packet)
{
	int after_hash = first_packet ? -1 : 0;
	char buf[256];
	while (after_hash < 2) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		uint64_t now = time_ns();
		ssize_t got;
		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000) + 1) <= 0)
			return;
		if ((got = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) <= 0)
			return;
		if (!first_packet)
			return;
		for (ssize_t i = 0; i < got && after_hash < 2; i++)
			if (after_hash >= 0 || buf[i] == '#')
				after_hash++;
	}
}

void gdbstub_refuse(int fd, const char *why)
{
	char msg[128], frame[sizeof(msg) + 5];
	int m = snprintf(msg, sizeof(msg), "E.%s", why ? why : "a debugger is already attached");
	if (m < 0 || m >= (int)sizeof(msg))
		m = m < 0 ? 0 : (int)sizeof(msg) - 1;
	int n = snprintf(frame, sizeof(frame), "+$%s#%02x", msg, pkt_checksum(msg, (size_t)m));
	/* gdb shows an error reply to its first request, if the socket stays open until it
	 * has acked that reply */
	refuse_wait(fd, time_ns() + REFUSE_WAIT_MS * 1000000ull, true);
	if (n > 0 && send(fd, frame, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT) == n)
		refuse_wait(fd, time_ns() + REFUSE_WAIT_MS * 1000000ull, false);
	close(fd);
}
