/* instant: freezing the instant of a running domain, for dumps, checkpoints and saves,
 * with the domain paused only for an instant. RAM is write-protected with userfaultfd
 * (UFFDIO_WRITEPROTECT on the memfd mapping KVM uses) in two phases, because protecting
 * GiBs takes tens of milliseconds:
 *   1. armed, the domain running: all RAM is protected; a write faults to our handler,
 *      which just notes the page and lets the write go on (the instant is still to come);
 *   2. frozen, in the pause: the caller takes the vCPU state and only the pages noted in
 *      phase 1 are protected again; from then on a write to a page not yet read makes the
 *      handler save the page's old contents first.
 * So a reader sees the instant of the pause, and the pause costs the pages written during
 * phase 1, not the size of RAM. Without userfaultfd write-protection the domain stays
 * held until instant_end instead. */
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

struct instant {
	struct domain *d;
	int uffd;
	int stop_fd[2];
	pthread_t thread;
	pthread_mutex_t lock;
	uint8_t **saved; /* per page of the memfd: the old contents, once the guest wrote it */
	uint64_t npages, copied;
	bool cow;
	bool frozen;      /* phase 2: the instant is taken */
	uint64_t *dirty;  /* phase 1: pages written (and unprotected) since arming */
	size_t ndirty, dirty_cap;
	bool dirty_lost;  /* the list could not grow: protect everything again at the freeze */
	size_t rewritten; /* pages protected again at the freeze */
	bool held;        /* the vCPUs are held (no copy-on-write) */
	uint64_t pause_ns, hold_ns, state_ns;
	bool undo;        /* kept as an undo log (instant_keep) */
	bool undo_lost;   /* a page was written without its old contents saved */
	uint64_t undo_max;
	bool halted;      /* cow_halt: no handler, no protection, the kept pages still here */
	uint64_t *skip;   /* NULL, or the pages an undo log need not keep (kept elsewhere) */
	uint64_t *touched; /* with skip: those of them written since (so unprotected) */
};

static void cow_stop(struct instant *s);

static int protect(struct instant *s, uint64_t page, uint64_t npages, bool wp)
{
	struct uffdio_writeprotect w = {
		.range = { (uint64_t)(uintptr_t)s->d->mem.base + page * 4096, npages * 4096 },
		.mode = wp ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};
	return ioctl(s->uffd, UFFDIO_WRITEPROTECT, &w);
}

static uint64_t page_of(struct instant *s, uint64_t gpa, bool *ok)
{
	struct guest_mem *m = &s->d->mem;
	for (int i = 0; i < m->nr_ranges; i++) {
		if (gpa >= m->ranges[i].gpa && gpa - m->ranges[i].gpa < m->ranges[i].size) {
			*ok = true;
			return (uint64_t)(m->ranges[i].hva - m->base + (gpa - m->ranges[i].gpa)) / 4096;
		}
	}
	*ok = false;
	return 0;
}

static void *fault_thread(void *arg)
{
	struct instant *s = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd p[2] = { { .fd = s->uffd, .events = POLLIN }, { .fd = s->stop_fd[0], .events = POLLIN } };
		struct uffd_msg msg;
		uint64_t page;
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (read(s->uffd, &msg, sizeof(msg)) != sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		page = (msg.arg.pagefault.address - (uint64_t)(uintptr_t)s->d->mem.base) / 4096;
		if (page >= s->npages)
			continue;
		/* under the lock, unprotecting included: the freeze must not interleave */
		pthread_mutex_lock(&s->lock);
		if (!s->frozen) {
			if (s->ndirty == s->dirty_cap) {
				size_t cap = s->dirty_cap ? s->dirty_cap * 2 : 4096;
				uint64_t *n = realloc(s->dirty, cap * sizeof(*n));
				if (n) {
					s->dirty = n;
					s->dirty_cap = cap;
				}
			}
			if (s->ndirty < s->dirty_cap)
				s->dirty[s->ndirty++] = page;
			else
				s->dirty_lost = true;
		} else if (s->skip && !s->saved[page] && (s->skip[page / 64] >> (page % 64) & 1)) {
			s->touched[page / 64] |= 1ull << (page % 64); /* kept elsewhere: only unprotected */
		} else if (!s->saved[page]) {
			uint8_t *copy = s->undo && s->copied >= s->undo_max ? NULL : malloc(4096);
			if (copy) {
				memcpy(copy, s->d->mem.base + page * 4096, 4096);
				__atomic_store_n(&s->saved[page], copy, __ATOMIC_RELEASE); /* before the unprotect */
				s->copied++;
			} else {
				s->undo_lost = true;
			}
		}
		protect(s, page, 1, false); /* and wake the writer */
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int instant_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct instant *s = opaque;
	size_t done = 0;
	while (done < len) {
		bool ok;
		uint64_t a = gpa + done, page = page_of(s, a, &ok), in = a & 4095, n = 4096 - in;
		if (!ok)
			return -1;
		if (n > len - done)
			n = len - done;
		/* Without the lock: a page is saved (the pointer published) before it is
		 * unprotected, so a copy from RAM is the instant's unless the page was saved
		 * meanwhile, and then the saved copy is taken instead. */
		if (s->saved) {
			uint8_t *sv = __atomic_load_n(&s->saved[page], __ATOMIC_ACQUIRE);
			if (!sv) {
				memcpy((uint8_t *)buf + done, s->d->mem.base + page * 4096 + in, n);
				sv = __atomic_load_n(&s->saved[page], __ATOMIC_ACQUIRE);
			}
			if (sv)
				memcpy((uint8_t *)buf + done, sv + in, n);
		} else { /* no copy-on-write: the domain is held for the whole write */
			memcpy((uint8_t *)buf + done, s->d->mem.base + page * 4096 + in, n);
		}
		done += n;
	}
	return 0;
}

/* Phase 1, the domain running: every page protected, writes only noted. */
static int cow_arm(struct instant *s)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM };
	struct uffdio_register reg = { .range = { (uint64_t)(uintptr_t)s->d->mem.base, s->d->mem.size },
				       .mode = UFFDIO_REGISTER_MODE_WP };
	struct uffdio_writeprotect wp = { .range = reg.range, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
	/* KVM touches guest RAM from the kernel: the uffd must handle kernel-mode faults too */
	s->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (s->uffd < 0)
		return -1;
	if (ioctl(s->uffd, UFFDIO_API, &api) < 0 || !(api.features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM) ||
	    ioctl(s->uffd, UFFDIO_REGISTER, &reg) < 0) {
		close(s->uffd);
		s->uffd = -1;
		return -1;
	}
	s->saved = calloc(s->npages, sizeof(*s->saved));
	if (!s->saved || pipe(s->stop_fd) < 0 || pthread_create(&s->thread, NULL, fault_thread, s)) {
		close(s->uffd);
		s->uffd = -1;
		return -1;
	}
	if (ioctl(s->uffd, UFFDIO_WRITEPROTECT, &wp) < 0) {
		cow_stop(s);
		return -1;
	}
	return 0;
}

/* Phase 2, in the pause: protect again what was written since arming. */
static int cow_freeze(struct instant *s)
{
	int ret = 0;
	pthread_mutex_lock(&s->lock);
	s->frozen = true;
	if (s->dirty_lost) {
		ret = protect(s, 0, s->npages, true);
	} else {
		for (size_t i = 0; i < s->ndirty && ret == 0; i++) {
			size_t n = 1; /* runs of consecutive pages in one call */
			while (i + n < s->ndirty && s->dirty[i + n] == s->dirty[i] + n)
				n++;
			ret = protect(s, s->dirty[i], n, true);
			i += n - 1;
		}
	}
	s->rewritten = s->ndirty;
	pthread_mutex_unlock(&s->lock);
	return ret;
}

/* The handler stopped and the protection dropped; the kept pages stay. */
static void cow_halt(struct instant *s)
{
	struct uffdio_range r = { (uint64_t)(uintptr_t)s->d->mem.base, s->d->mem.size };
	if (s->uffd < 0 || s->halted)
		return;
	(void)!write(s->stop_fd[1], "x", 1);
	pthread_join(s->thread, NULL);
	ioctl(s->uffd, UFFDIO_UNREGISTER, &r); /* drops the write protection */
	close(s->uffd);
	close(s->stop_fd[0]);
	close(s->stop_fd[1]);
	s->halted = true;
}

static void cow_stop(struct instant *s)
{
	if (s->uffd < 0)
		return;
	cow_halt(s);
	for (uint64_t i = 0; i < s->npages; i++)
		free(s->saved[i]);
	free(s->saved);
	s->saved = NULL;
	free(s->dirty);
	s->dirty = NULL;
	free(s->skip);
	s->skip = NULL;
	free(s->touched);
	s->touched = NULL;
	s->uffd = -1;
}

struct instant *instant_freeze(struct domain *d, instant_fn in_pause, void *opaque, struct err *e)
{
	struct instant *s = xcalloc(1, sizeof(*s));
	bool armed;
	uint64_t t0;
	ckpt_undo_freeze(d); /* its registration of the RAM would refuse ours; its pages stay */
	s->d = d;
	s->uffd = -1;
	s->npages = d->mem.size / 4096;
	pthread_mutex_init(&s->lock, NULL);
	armed = cow_arm(s) == 0; /* the slow part, while the domain runs */
	t0 = time_ns();
	hv_domain_hold(d->hv, d->id);
	s->held = true;
	s->hold_ns = time_ns() - t0;
	if (in_pause && in_pause(d, opaque, e) < 0) {
		instant_end(s);
		return NULL;
	}
	s->state_ns = time_ns() - t0 - s->hold_ns;
	s->cow = armed && cow_freeze(s) == 0;
	s->pause_ns = time_ns() - t0;
	if (s->cow) {
		hv_domain_release(d->hv, d->id);
		s->held = false;
	}
	return s;
}

void instant_stats(const struct instant *s, struct instant_stats *st)
{
	*st = (struct instant_stats){ .cow = s->cow, .pause_ns = s->pause_ns, .hold_ns = s->hold_ns,
				      .state_ns = s->state_ns, .wp_ns = s->pause_ns - s->hold_ns - s->state_ns,
				      .pages_reprotected = s->rewritten, .pages_copied = s->copied };
}

void instant_keep(struct instant *s, uint64_t max_pages)
{
	pthread_mutex_lock(&s->lock);
	s->undo = true;
	s->undo_max = max_pages;
	pthread_mutex_unlock(&s->lock);
}

void instant_skip(struct instant *s, uint64_t *bm)
{
	pthread_mutex_lock(&s->lock);
	free(s->skip);
	free(s->touched);
	s->skip = bm;
	s->touched = bm ? xcalloc((s->npages + 63) / 64, sizeof(uint64_t)) : NULL;
	pthread_mutex_unlock(&s->lock);
}

void instant_lock(struct instant *s, bool lock)
{
	if (lock)
		pthread_mutex_lock(&s->lock);
	else
		pthread_mutex_unlock(&s->lock);
}

const uint8_t *instant_page(const struct instant *s, uint64_t page)
{
	return page < s->npages && s->saved ? s->saved[page] : NULL;
}

bool instant_lost(const struct instant *s)
{
	return !s->cow || s->undo_lost;
}

int instant_protect(struct instant *s, const uint64_t *bm, bool wp)
{
	int ret = 0;
	for (uint64_t p = 0; p < s->npages && ret == 0; p++) {
		uint64_t n = 0;
		while (p + n < s->npages && (bm[(p + n) / 64] >> ((p + n) % 64) & 1))
			n++;
		if (n) {
			ret = protect(s, p, n, wp);
			p += n - 1;
		}
	}
	return ret;
}

bool instant_writable(const struct instant *s, uint64_t page)
{
	return page < s->npages && ((s->saved && s->saved[page]) ||
				    (s->touched && (s->touched[page / 64] >> (page % 64) & 1)));
}

void instant_restart(struct instant *s, const uint64_t *bm)
{
	for (uint64_t w = 0; s->touched && w < (s->npages + 63) / 64; w++)
		s->touched[w] &= ~bm[w];
	for (uint64_t p = 0; p < s->npages; p++)
		if ((bm[p / 64] >> (p % 64) & 1) && s->saved[p]) {
			free(s->saved[p]);
			s->saved[p] = NULL;
			s->copied--;
		}
}

uint64_t instant_take(struct instant *s, const uint64_t *skip, uint64_t **pages, uint8_t ***data)
{
	uint64_t n = 0, cap = 0;
	*pages = NULL;
	*data = NULL;
	if (!s)
		return 0;
	if (s->uffd >= 0 && s->saved) {
		cow_halt(s); /* no page is kept any more from here on */
		for (uint64_t p = 0; p < s->npages; p++) {
			if (!s->saved[p] || (skip && (skip[p / 64] >> (p % 64) & 1)))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 256;
				*pages = xrealloc(*pages, cap * sizeof(**pages));
				*data = xrealloc(*data, cap * sizeof(**data));
			}
			(*pages)[n] = p;
			(*data)[n++] = s->saved[p];
			s->saved[p] = NULL;
		}
	}
	instant_end(s);
	return n;
}

struct instant *instant_log(struct domain *d, uint64_t max_pages)
{
	struct instant *s = xcalloc(1, sizeof(*s));
	s->d = d;
	s->uffd = -1;
	s->npages = d->mem.size / 4096;
	s->frozen = s->undo = true; /* from the first write on, the old contents are kept */
	s->undo_max = max_pages;
	pthread_mutex_init(&s->lock, NULL);
	if (cow_arm(s) < 0) {
		pthread_mutex_destroy(&s->lock);
		free(s);
		return NULL;
	}
	s->cow = true;
	return s;
}

void instant_end(struct instant *s)
{
	if (!s)
		return;
	cow_stop(s);
	if (s->held)
		hv_domain_release(s->d->hv, s->d->id);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
