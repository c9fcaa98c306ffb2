/* conout: what hv prints on its terminal (or stdout, in --daemon mode: journald, a pipe)
 * goes through a queue that a writer thread of its own drains. hv's loop and the vCPUs
 * never wait for the reader: when it stops reading (a terminal on Ctrl-S, a stalled
 * journald, a pipe nobody reads), the queue fills, later output is dropped and counted,
 * and once it reads again one line says how much was lost. The ring (`hvctl dmesg`) and
 * the domains' console rings keep everything regardless. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CONOUT_QUEUE (1u << 20)

static void write_fd(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return; /* terminal gone: the output is dropped, everything runs on */
		p += w;
		n -= (size_t)w;
	}
}

static void *writer(void *arg)
{
	struct console *c = arg;
	char note[128];
	pthread_mutex_lock(&c->lock);
	for (;;) {
		size_t n;
		while (c->oq_len == 0 && !c->oq_lost && !c->oq_stop)
			pthread_cond_wait(&c->oq_cond, &c->lock);
		if (c->oq_len == 0 && !c->oq_lost)
			break; /* stopping, and everything is out */
		if (c->oq_len == 0) { /* the reader is back: say what it missed */
			int k = snprintf(note, sizeof(note), "%s(hv) %llu bytes of output lost: the terminal did not keep up%s",
					 c->raw ? "\r\n" : "\n", (unsigned long long)c->oq_lost, c->raw ? "\r\n" : "\n");
			c->oq_lost = 0;
			c->oq_busy = true;
			pthread_mutex_unlock(&c->lock);
			write_fd(c->out_fd, note, (size_t)k);
			pthread_mutex_lock(&c->lock);
			c->oq_busy = false;
			pthread_cond_broadcast(&c->oq_cond);
			continue;
		}
		n = c->oq_len < CONOUT_QUEUE - c->oq_tail ? c->oq_len : CONOUT_QUEUE - c->oq_tail;
		c->oq_busy = true;
		pthread_mutex_unlock(&c->lock);
		write_fd(c->out_fd, c->oq + c->oq_tail, n); /* the only place that may block */
		pthread_mutex_lock(&c->lock);
		c->oq_busy = false;
		c->oq_tail = (c->oq_tail + n) % CONOUT_QUEUE;
		c->oq_len -= n;
		pthread_cond_broadcast(&c->oq_cond);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

void conout_start(struct console *c)
{
	sigset_t all, old;
	c->oq = xcalloc(1, CONOUT_QUEUE);
	pthread_cond_init(&c->oq_cond, NULL);
	/* the writer takes no signal: hv's signalfd gets SIGTERM and the rest, not this thread */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	c->oq_thread_on = pthread_create(&c->oq_thread, NULL, writer, c) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void conout_put(struct console *c, const void *buf, size_t n)
{
	const char *p = buf;
	if (!c->oq_thread_on) { /* no writer thread: written here, as before */
		write_fd(c->out_fd, p, n);
		return;
	}
	if (n > CONOUT_QUEUE - c->oq_len || c->oq_lost) {
		c->oq_lost += n; /* nothing is queued after a loss until the note about it is out */
		return;
	}
	for (size_t i = 0; i < n;) {
		size_t head = (c->oq_tail + c->oq_len) % CONOUT_QUEUE;
		size_t k = n - i < CONOUT_QUEUE - head ? n - i : CONOUT_QUEUE - head;
		memcpy(c->oq + head, p + i, k);
		c->oq_len += k;
		i += k;
	}
	pthread_cond_signal(&c->oq_cond);
}

/* Waits (c->lock held) until the queue is out or wait_ms passed; 0 when it is out. */
static int wait_out(struct console *c, unsigned wait_ms)
{
	struct timespec until;
	int rc = 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	while ((c->oq_len || c->oq_busy) && rc == 0)
		rc = pthread_cond_timedwait(&c->oq_cond, &c->lock, &until);
	return rc;
}

int conout_flush(struct console *c, unsigned wait_ms)
{
	int rc;
	if (!c->oq_thread_on)
		return 0;
	pthread_mutex_lock(&c->lock);
	rc = wait_out(c, wait_ms);
	pthread_mutex_unlock(&c->lock);
	return rc ? -1 : 0;
}

void conout_stop(struct console *c, unsigned wait_ms)
{
	int rc;
	if (!c->oq_thread_on)
		return;
	pthread_mutex_lock(&c->lock);
	c->oq_stop = true;
	pthread_cond_broadcast(&c->oq_cond);
	rc = wait_out(c, wait_ms);
	pthread_mutex_unlock(&c->lock);
	if (rc) /* the reader never came back: what is left is lost, the writer goes */
		pthread_cancel(c->oq_thread);
	pthread_join(c->oq_thread, NULL);
	c->oq_thread_on = false;
	pthread_cond_destroy(&c->oq_cond);
	free(c->oq);
	c->oq = NULL;
}
