/* lazy: a restored domain runs before its RAM is read. The new memfd mapping is registered
 * with userfaultfd in missing mode: a page the guest (through KVM) or hv touches first is
 * read from the image there and then (decompressed, its batch's checksum checked), and a
 * thread fills the others in order meanwhile, a few pages between looks at the faults.
 * When every page is in, the registration goes and the domain's RAM is an ordinary one. A
 * page whose data turns out corrupt crashes the domain (it cannot run on without it). */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dump/image.h"

#define FILL_STEP 32 /* pages filled between looks at the fault queue */

struct lazy {
	struct domain *d;
	struct image_index *ix;
	int uffd;
	int stop_fd[2];
	pthread_t thread;
	uint64_t npages, next, faults, filled;
	uint64_t t0, done_ns;
	bool corrupt_posted;
	uint8_t page[4096];
};

/* The guest-physical address of memfd page p. */
static uint64_t gpa_of(const struct guest_mem *m, uint64_t p)
{
	for (int i = 0; i < m->nr_ranges; i++) {
		uint64_t first = (uint64_t)(m->ranges[i].hva - m->base) / 4096;
		if (p >= first && p - first < m->ranges[i].size / 4096)
			return m->ranges[i].gpa + (p - first) * 4096;
	}
	return UINT64_MAX;
}

/* Puts memfd page p in from the image. 0, or -1 when it was there already. */
static int fill(struct lazy *l, uint64_t p)
{
	uint64_t gpa = gpa_of(&l->d->mem, p);
	int got = gpa == UINT64_MAX ? 0 : image_index_page(l->ix, gpa / 4096, l->page);
	struct uffdio_copy c = {
		.dst = (uint64_t)(uintptr_t)l->d->mem.base + p * 4096, .src = (uint64_t)(uintptr_t)l->page, .len = 4096,
	};
	if (got <= 0)
		memset(l->page, 0, sizeof(l->page)); /* not in the image: all zeros */
	if (got < 0 && !l->corrupt_posted) {
		l->corrupt_posted = true;
		domain_post_event(l->d, EVENT_CRASH, "restored RAM: the image's data for page 0x%llx is corrupt",
				  (unsigned long long)(gpa / 4096));
	}
	if (ioctl(l->uffd, UFFDIO_COPY, &c) < 0)
		return -1; /* EEXIST: a fault or an earlier step put it in */
	l->filled++;
	return 0;
}

static void faults(struct lazy *l)
{
	struct uffd_msg msg;
	while (read(l->uffd, &msg, sizeof(msg)) == sizeof(msg)) {
		uint64_t p;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		p = (msg.arg.pagefault.address - (uint64_t)(uintptr_t)l->d->mem.base) / 4096;
		if (p >= l->npages)
			continue;
		l->faults++;
		if (fill(l, p) < 0) {
			/* there already (the filler's): wake the faulting thread */
			struct uffdio_range r = { (uint64_t)(uintptr_t)l->d->mem.base + p * 4096, 4096 };
			ioctl(l->uffd, UFFDIO_WAKE, &r);
		}
	}
}

static void *lazy_thread(void *arg)
{
	struct lazy *l = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	while (l->next < l->npages) {
		struct pollfd p[2] = { { .fd = l->uffd, .events = POLLIN }, { .fd = l->stop_fd[0], .events = POLLIN } };
		if (poll(p, 2, 0) > 0) {
			if (p[1].revents)
				return NULL;
			if (p[0].revents)
				faults(l);
		}
		for (int i = 0; i < FILL_STEP && l->next < l->npages; i++)
			fill(l, l->next++);
	}
	l->done_ns = time_ns() - l->t0;
	{
		struct uffdio_range r = { (uint64_t)(uintptr_t)l->d->mem.base, l->d->mem.size };
		faults(l); /* the last ones in flight */
		ioctl(l->uffd, UFFDIO_UNREGISTER, &r);
	}
	hv_log(l->d->hv, "%s: restored RAM all in after %.1f ms (%llu pages on first touch)", l->d->name,
	       l->done_ns / 1e6, (unsigned long long)l->faults);
	return NULL;
}

int lazy_start(struct domain *d, struct image_index *ix, struct err *e)
{
	struct lazy *l = xcalloc(1, sizeof(*l));
	l->d = d;
	l->ix = ix;
	l->npages = d->mem.size / 4096;
	l->t0 = time_ns();
	l->stop_fd[0] = l->stop_fd[1] = -1;
	l->uffd = mem_uffd_open(&d->mem, e);
	if (l->uffd < 0)
		goto fail;
	if (pipe2(l->stop_fd, O_CLOEXEC) < 0 || pthread_create(&l->thread, NULL, lazy_thread, l)) {
		err_errno(e, "cannot start the restore thread");
		goto fail;
	}
	d->lazy = l;
	return 0;
fail:
	mem_uffd_close(&d->mem, l->uffd);
	if (l->stop_fd[0] >= 0) {
		close(l->stop_fd[0]);
		close(l->stop_fd[1]);
	}
	free(l);
	return -1;
}

void lazy_stop(struct domain *d)
{
	struct lazy *l = d->lazy;
	struct uffdio_range r;
	if (!l)
		return;
	(void)!write(l->stop_fd[1], "x", 1);
	pthread_join(l->thread, NULL);
	r = (struct uffdio_range){ (uint64_t)(uintptr_t)d->mem.base, d->mem.size };
	ioctl(l->uffd, UFFDIO_UNREGISTER, &r); /* pages not in stay holes: zeros */
	close(l->uffd);
	close(l->stop_fd[0]);
	close(l->stop_fd[1]);
	image_index_close(l->ix);
	free(l);
	d->lazy = NULL;
}

bool lazy_filling(const struct domain *d)
{
	return d->lazy && ((struct lazy *)d->lazy)->next < ((struct lazy *)d->lazy)->npages;
}
