/* domcons: a domain's console ring and its attached clients. Writes to clients never
 * block a vCPU: a client that cannot keep up loses bytes, the ring keeps them. */
#include "domcons.h"

#include <string.h>
#include <sys/socket.h>

void domcons_init(struct domcons *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
}

void domcons_fini(struct domcons *c)
{
	pthread_mutex_destroy(&c->lock);
}

void domcons_out(struct domcons *c, const uint8_t *buf, size_t n)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < n; i++)
		c->ring[(c->head + i) % DOMCONS_RING] = buf[i];
	c->head += n;
	for (unsigned i = 0; i < c->nclients; i++)
		(void)!send(c->clients[i], buf, n, MSG_DONTWAIT | MSG_NOSIGNAL);
	pthread_mutex_unlock(&c->lock);
}

static size_t tail_locked(struct domcons *c, uint8_t *buf, size_t len)
{
	size_t n = c->head < DOMCONS_RING ? (size_t)c->head : DOMCONS_RING;
	if (n > len)
		n = len;
	for (size_t i = 0; i < n; i++)
		buf[i] = c->ring[(c->head - n + i) % DOMCONS_RING];
	return n;
}

int domcons_attach(struct domcons *c, int fd, const char *hello, size_t history)
{
	uint8_t tail[4096];
	size_t n;
	int r = -1;
	pthread_mutex_lock(&c->lock); /* no output slips in between: hello, history, then live */
	if (c->nclients < DOMCONS_MAX_CLIENTS) {
		if (hello)
			(void)!send(fd, hello, strlen(hello), MSG_DONTWAIT | MSG_NOSIGNAL);
		n = tail_locked(c, tail, history < sizeof(tail) ? history : sizeof(tail));
		if (n)
			(void)!send(fd, tail, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		c->clients[c->nclients++] = fd;
		r = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

void domcons_detach(struct domcons *c, int fd)
{
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nclients; i++) {
		if (c->clients[i] == fd) {
			c->clients[i] = c->clients[--c->nclients];
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

size_t domcons_tail(struct domcons *c, uint8_t *buf, size_t len)
{
	pthread_mutex_lock(&c->lock);
	size_t n = tail_locked(c, buf, len);
	pthread_mutex_unlock(&c->lock);
	return n;
}
