/* image_pool: an ordered worker pool (dump_pool_run): items are prepared in parallel by a
 * thread each and emitted one at a time in item order, so an output stream stays
 * sequential. The image writer's page batches use it; written to serve any writer. */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

struct pool {
	size_t n, next, turn;
	dump_pool_fn work, emit;
	void *ctx;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool failed;
	struct err err;
};

struct pool_thread {
	struct pool *p;
	unsigned slot;
	pthread_t th;
	bool started;
};

static void pool_fail(struct pool *p, const struct err *e)
{
	if (!p->failed)
		p->err = *e;
	p->failed = true;
	pthread_cond_broadcast(&p->cond);
}

static void *pool_thread_run(void *arg)
{
	struct pool_thread *t = arg;
	struct pool *p = t->p;
	for (;;) {
		struct err e = { "" };
		size_t item;
		pthread_mutex_lock(&p->lock);
		if (p->failed || p->next == p->n) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		item = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (p->work(p->ctx, t->slot, item, &e) < 0) {
			pthread_mutex_lock(&p->lock);
			pool_fail(p, &e);
			pthread_mutex_unlock(&p->lock);
			break;
		}
		pthread_mutex_lock(&p->lock);
		while (p->turn != item && !p->failed)
			pthread_cond_wait(&p->cond, &p->lock);
		if (!p->failed) {
			if (p->emit(p->ctx, t->slot, item, &e) < 0)
				pool_fail(p, &e);
			p->turn++;
			pthread_cond_broadcast(&p->cond);
		}
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

int dump_pool_run(unsigned nthreads, size_t n, dump_pool_fn work, dump_pool_fn emit, void *ctx, struct err *e)
{
	struct pool p = { .n = n, .work = work, .emit = emit, .ctx = ctx };
	struct pool_thread *t;
	if (!n)
		return 0;
	if (nthreads < 1)
		nthreads = 1;
	if (nthreads > n)
		nthreads = (unsigned)n;
	t = calloc(nthreads, sizeof(*t));
	if (!t)
		return err_set(e, "out of memory");
	pthread_mutex_init(&p.lock, NULL);
	pthread_cond_init(&p.cond, NULL);
	for (unsigned i = 0; i < nthreads; i++) {
		t[i].p = &p;
		t[i].slot = i;
		if (i && pthread_create(&t[i].th, NULL, pool_thread_run, &t[i]) == 0)
			t[i].started = true;
	}
	pool_thread_run(&t[0]);
	for (unsigned i = 1; i < nthreads; i++)
		if (t[i].started)
			pthread_join(t[i].th, NULL);
	pthread_mutex_destroy(&p.lock);
	pthread_cond_destroy(&p.cond);
	free(t);
	if (p.failed) {
		*e = p.err;
		return -1;
	}
	return 0;
}
