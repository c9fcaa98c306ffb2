/* postcopy: both ends of a post-copy migration's last phase (hvctl migrate --postcopy).
 * After the first pre-copy round the sender pauses the domain and sends the machine state
 * with a PENDING record: the pages written since the round, whose data the receiver holds
 * is stale. The receiver punches those pages out of the new domain's memfd, registers its
 * RAM with userfaultfd (missing mode) and starts the domain. The sender then pushes the
 * pending pages as a second domain image (LAYOUT, PAGE_DATA..., END); a page the guest (or
 * KVM, or hv) touches before it came is asked for at once ("want GFN"), and the sender
 * sends it, with its next few pending neighbours, before it goes on pushing. Holes that
 * were never pending (pages all zeros at the first round) are zero-filled on touch. When
 * every page is in, the receiver says "done", the registration goes and the RAM is an
 * ordinary one. If the link fails meanwhile the domain cannot run on: the receiver crashes
 * it (naming the pages that never came) and fills them with zeros so nothing waits
 * forever; the sender keeps its paused copy of the moment of the switch. */
#include "internal.h"
#include "contain.h"
#include "migwire.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "dump/image.h"

#define POST_MS 30000     /* the sender's silence that ends it */
#define PUSH_BATCH 64     /* pages pushed between looks at the requests */
#define FAULT_AHEAD 7     /* pending neighbours sent with a requested page */

struct postcopy {
	struct domain *d;
	int fd, uffd, stop[2];
	uint64_t *pending; /* a bit per memfd page: stale here, not come yet (atomic) */
	uint64_t npages, left;
	atomic_bool go;
	pthread_t thread;
	bool thread_on;
	atomic_uint_fast64_t faults, zero_fills;
	pthread_mutex_t send_lock; /* the fault thread's "want" lines and the final "done" */
	uint64_t t0;
};

static bool test_bit(const uint64_t *bm, uint64_t p)
{
	return (__atomic_load_n(&bm[p / 64], __ATOMIC_ACQUIRE) >> (p % 64)) & 1;
}

static void clear_bit(uint64_t *bm, uint64_t p)
{
	__atomic_fetch_and(&bm[p / 64], ~(1ull << (p % 64)), __ATOMIC_RELEASE);
}

/* The memfd page of gfn, or UINT64_MAX outside RAM. */
static uint64_t page_of(const struct guest_mem *m, uint64_t gfn)
{
	uint8_t *p = mem_ptr((struct guest_mem *)m, gfn * 4096, 4096);
	return p ? (uint64_t)(p - m->base) / 4096 : UINT64_MAX;
}

static uint64_t gfn_of(const struct guest_mem *m, uint64_t page)
{
	for (int i = 0; i < m->nr_ranges; i++) {
		uint64_t first = (uint64_t)(m->ranges[i].hva - m->base) / 4096;
		if (page >= first && page - first < m->ranges[i].size / 4096)
			return m->ranges[i].gpa / 4096 + (page - first);
	}
	return UINT64_MAX;
}

/* ---- the receiver */

static void zero_fill(struct postcopy *pc, uint64_t page)
{
	struct uffdio_zeropage z = { .range = { (uint64_t)(uintptr_t)pc->d->mem.base + page * 4096, 4096 } };
	if (ioctl(pc->uffd, UFFDIO_ZEROPAGE, &z) < 0) {
		struct uffdio_range r = z.range; /* there already: wake whoever waits */
		ioctl(pc->uffd, UFFDIO_WAKE, &r);
	}
}

static void serve_faults(struct postcopy *pc)
{
	struct uffd_msg msg;
	while (read(pc->uffd, &msg, sizeof(msg)) == sizeof(msg)) {
		uint64_t page;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		page = (msg.arg.pagefault.address - (uint64_t)(uintptr_t)pc->d->mem.base) / 4096;
		if (page >= pc->npages)
			continue;
		if (!test_bit(pc->pending, page)) {
			/* never pending (a zero page of the first round), or it came meanwhile */
			atomic_fetch_add(&pc->zero_fills, 1);
			zero_fill(pc, page);
			continue;
		}
		atomic_fetch_add(&pc->faults, 1);
		pthread_mutex_lock(&pc->send_lock);
		{
			struct err e;
			char line[40];
			int n = snprintf(line, sizeof(line), "want %" PRIx64 "\n", gfn_of(&pc->d->mem, page));
			if (migr_write_all(pc->fd, line, (size_t)n, 5000, &e) < 0)
				shutdown(pc->fd, SHUT_RDWR); /* the reader sees the link gone */
		}
		pthread_mutex_unlock(&pc->send_lock);
	}
}

static void *fault_thread(void *arg)
{
	struct postcopy *pc = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	for (;;) {
		struct pollfd p[2] = { { .fd = pc->uffd, .events = POLLIN }, { .fd = pc->stop[0], .events = POLLIN } };
		int n = poll(p, 2, 100);
		if (n > 0 && p[1].revents)
			return NULL;
		if (atomic_load(&pc->d->dump_cancel)) /* hv tears the domain down: end the transfer */
			shutdown(pc->fd, SHUT_RDWR);
		if (n > 0 && (p[0].revents & POLLIN)) {
			if (atomic_load(&pc->go))
				serve_faults(pc);
			else
				usleep(500); /* until the receiver said "running" the line is not ours */
		}
	}
}

struct postcopy *postcopy_recv_start(struct domain *d, uint64_t *pending, int fd, struct err *e)
{
	struct postcopy *pc = xcalloc(1, sizeof(*pc));
	pc->d = d;
	pc->fd = fd;
	pc->pending = pending;
	pc->npages = d->mem.size / 4096;
	pc->stop[0] = pc->stop[1] = -1;
	pc->t0 = time_ns();
	pthread_mutex_init(&pc->send_lock, NULL);
	for (uint64_t w = 0; w < MEM_BITMAP_WORDS(&d->mem); w++)
		pc->left += (uint64_t)__builtin_popcountll(pending[w]);
	/* the stale pages out: from now on a touch of one faults to us */
	for (uint64_t p = 0; p < pc->npages;) {
		uint64_t q = p;
		if (!test_bit(pending, p)) {
			p++;
			continue;
		}
		while (q < pc->npages && test_bit(pending, q))
			q++;
		if (fallocate(d->mem.memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)(p * 4096),
			      (off_t)((q - p) * 4096)) < 0) {
			err_errno(e, "post-copy: cannot drop the stale pages");
			goto fail;
		}
		p = q;
	}
	pc->uffd = mem_uffd_open(&d->mem, e);
	if (pc->uffd < 0) {
		err_prefix(e, "post-copy");
		goto fail;
	}
	if (pipe2(pc->stop, O_CLOEXEC) < 0 || pthread_create(&pc->thread, NULL, fault_thread, pc)) {
		err_errno(e, "post-copy: cannot start the fault thread");
		mem_uffd_close(&d->mem, pc->uffd);
		goto fail;
	}
	pc->thread_on = true;
	return pc;
fail:
	if (pc->stop[0] >= 0) {
		close(pc->stop[0]);
		close(pc->stop[1]);
	}
	pthread_mutex_destroy(&pc->send_lock);
	free(pc);
	return NULL;
}

uint64_t postcopy_left(const struct postcopy *pc)
{
	return pc->left;
}

void postcopy_go(struct postcopy *pc)
{
	atomic_store(&pc->go, true);
}

struct arrive {
	struct postcopy *pc;
	uint64_t got;
};

static int arrived(void *opaque, uint64_t gfn, const void *data, struct err *e)
{
	struct arrive *a = opaque;
	struct postcopy *pc = a->pc;
	uint64_t page = page_of(&pc->d->mem, gfn);
	uint64_t dst;
	if (page == UINT64_MAX)
		return err_set(e, "post-copy: page 0x%" PRIx64 " lies outside the domain's RAM", gfn);
	if (!test_bit(pc->pending, page))
		return 0; /* sent twice (asked for and pushed): the first one is in */
	dst = (uint64_t)(uintptr_t)pc->d->mem.base + page * 4096;
	if (data) {
		struct uffdio_copy c = { .dst = dst, .src = (uint64_t)(uintptr_t)data, .len = 4096 };
		if (ioctl(pc->uffd, UFFDIO_COPY, &c) < 0 && errno != EEXIST)
			return err_errno(e, "post-copy: putting page 0x%" PRIx64 " in", gfn);
	} else {
		struct uffdio_zeropage z = { .range = { dst, 4096 } };
		if (ioctl(pc->uffd, UFFDIO_ZEROPAGE, &z) < 0 && errno != EEXIST)
			return err_errno(e, "post-copy: putting page 0x%" PRIx64 " in", gfn);
	}
	clear_bit(pc->pending, page);
	pc->left--;
	a->got++;
	return 0;
}

int postcopy_recv_run(struct postcopy *pc, struct err *e)
{
	struct image_header h;
	struct image_reader *r = image_reader_open_timeout(pc->fd, POST_MS, &h, e);
	struct arrive a = { .pc = pc };
	uint32_t type, len;
	const void *p;
	int n;
	if (!r)
		return err_prefix(e, "post-copy");
	while ((n = image_next(r, &type, &p, &len, e)) > 0) {
		if (type == IMAGE_PAGE_DATA && image_pages(r, p, len, arrived, &a, e) < 0) {
			n = -1;
			break;
		}
		if (type != IMAGE_PAGE_DATA && type != IMAGE_LAYOUT && !(type & IMAGE_OPTIONAL)) {
			n = err_set(e, "post-copy: a %s record among the pages",
				    image_type_name(type) ? image_type_name(type) : "foreign");
			break;
		}
	}
	image_reader_close(r);
	if (n < 0)
		return err_prefix(e, "post-copy");
	if (pc->left)
		return err_set(e, "post-copy: the sender ended with %" PRIu64 " pages never sent", pc->left);
	pthread_mutex_lock(&pc->send_lock);
	n = migr_send_line(pc->fd, 5000, e, "done");
	pthread_mutex_unlock(&pc->send_lock);
	return n;
}

void postcopy_recv_end(struct postcopy *pc, struct postcopy_stats *st)
{
	uint64_t missing = pc->left;
	/* what never came reads as zeros: no vCPU and no reader of guest RAM waits forever */
	for (uint64_t page = 0; pc->left && page < pc->npages; page++)
		if (test_bit(pc->pending, page)) {
			zero_fill(pc, page);
			clear_bit(pc->pending, page);
			pc->left--;
		}
	if (pc->thread_on) {
		(void)!write(pc->stop[1], "x", 1);
		pthread_join(pc->thread, NULL);
	}
	serve_faults(pc); /* the last ones in flight */
	if (st) {
		st->ns = time_ns() - pc->t0;
		st->faults = atomic_load(&pc->faults);
		st->zero_fills = atomic_load(&pc->zero_fills);
		st->missing = missing;
	}
	mem_uffd_close(&pc->d->mem, pc->uffd);
	close(pc->stop[0]);
	close(pc->stop[1]);
	pthread_mutex_destroy(&pc->send_lock);
	free(pc->pending);
	free(pc);
}

/* ---- the sender */

struct push {
	struct domain *d;
	struct image_writer *w;
	uint64_t *left; /* a bit per memfd page: not sent yet */
	uint64_t nleft, next;
	struct postcopy_stats *st;
};

/* Sends up to n pages still pending from page on (asked: page itself was asked for, and
 * when it went already it is on its way: nothing to do). */
static int push_from(struct push *ps, uint64_t page, unsigned n, bool asked, struct err *e)
{
	uint64_t g[PUSH_BATCH];
	unsigned k = 0;
	uint64_t npages = ps->d->mem.size / 4096;
	if (asked && !test_bit(ps->left, page))
		return 0;
	for (uint64_t p = page; p < npages && k < n; p++)
		if (test_bit(ps->left, p)) {
			g[k++] = gfn_of(&ps->d->mem, p);
			clear_bit(ps->left, p);
		}
	if (!k)
		return 0;
	ps->nleft -= k;
	ps->st->pages += k;
	return image_put_pages(ps->w, g, k, domain_ram_read, ps->d, false, e);
}

static int requests(struct push *ps, int fd, struct err *e)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	while (poll(&p, 1, 0) > 0) {
		char line[MIGR_LINE_MAX], *end;
		uint64_t gfn, page;
		if (migr_read_line(fd, line, sizeof(line), 5000, e) < 0)
			return -1;
		if (strncmp(line, "want ", 5))
			return err_set(e, "the receiver said '%.100s' during post-copy", line);
		gfn = strtoull(line + 5, &end, 16);
		page = *end || end == line + 5 ? UINT64_MAX : page_of(&ps->d->mem, gfn);
		if (page == UINT64_MAX)
			return err_set(e, "the receiver asked for page '%.40s', which is not in the domain's RAM", line + 5);
		ps->st->faults++;
		if (push_from(ps, page, FAULT_AHEAD + 1, true, e) < 0)
			return -1;
	}
	return 0;
}

/* The push's bandwidth limit: until its bytes are due, the receiver's requests are served. */
static int pace(struct push *ps, int fd, uint64_t bw, uint64_t t0, struct err *e)
{
	for (;;) {
		uint64_t due = image_writer_bytes(ps->w) * 1000000000ull / bw, el = time_ns() - t0;
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (due <= el + 1000000)
			return 0;
		if (poll(&p, 1, (int)((due - el) / 1000000 > 20 ? 20 : (due - el) / 1000000)) > 0 &&
		    requests(ps, fd, e) < 0)
			return -1;
		if (!ps->nleft)
			return 0;
	}
}

int postcopy_send(struct domain *d, int fd, uint64_t *pending, uint64_t bw, struct postcopy_stats *st, struct err *e)
{
	struct image_header h;
	struct image_range rg[2];
	struct push ps = { .d = d, .left = pending, .st = st };
	uint64_t t0 = time_ns(), npages = d->mem.size / 4096;
	char line[MIGR_LINE_MAX];
	int rc = -1;
	memset(st, 0, sizeof(*st));
	for (uint64_t w = 0; w < MEM_BITMAP_WORDS(&d->mem); w++)
		ps.nleft += (uint64_t)__builtin_popcountll(pending[w]);
	st->missing = ps.nleft;
	image_header_init(&h, HV_VERSION);
	h.flags |= IMAGE_F_LIVE;
	ps.w = image_writer_open(fd, &h, e);
	if (!ps.w)
		return err_prefix(e, "post-copy");
	for (int i = 0; i < d->mem.nr_ranges; i++)
		rg[i] = (struct image_range){ d->mem.ranges[i].gpa, d->mem.ranges[i].size };
	if (image_put_layout(ps.w, d->nr_vcpus, rg, (unsigned)d->mem.nr_ranges, e) < 0)
		goto out;
	image_writer_zero_pages(ps.w, true); /* a zero page must go too: the receiver has a hole */
	while (ps.nleft) {
		if (requests(&ps, fd, e) < 0)
			goto out;
		while (ps.next < npages && !test_bit(ps.left, ps.next))
			ps.next++;
		if (ps.next < npages && push_from(&ps, ps.next, PUSH_BATCH, false, e) < 0)
			goto out;
		if (bw && pace(&ps, fd, bw, t0, e) < 0)
			goto out;
	}
	{
		struct image_writer *w = ps.w;
		ps.w = NULL;
		st->bytes = image_writer_bytes(w);
		if (image_writer_close(w, e) < 0)
			goto out;
	}
	/* "want" lines still in flight (for pages on their way), then "done" */
	for (;;) {
		if (migr_read_line(fd, line, sizeof(line), POST_MS, e) < 0)
			goto out;
		if (!strcmp(line, "done"))
			break;
		if (strncmp(line, "want ", 5)) {
			err_set(e, "the receiver said '%.100s' during post-copy", line);
			goto out;
		}
		st->faults++;
	}
	rc = 0;
out:
	if (ps.w)
		image_writer_abort(ps.w);
	st->ns = time_ns() - t0;
	return rc < 0 ? err_prefix(e, "post-copy") : 0;
}
