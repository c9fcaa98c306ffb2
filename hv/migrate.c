/* migrate: a domain sent to another hv's relocation server (hvctl migrate). Without
 * --live the domain is paused, sent and, once the receiver runs it, destroyed here (xl
 * migrate without -l). With --live, pre-copy: KVM's dirty log is on, all RAM goes while
 * the domain runs, then the pages written meanwhile, round after round, until what is left
 * fits in the downtime target; a guest that writes faster than the link is throttled
 * through its scheduler cap (auto-converge). Then it is paused, the rest and the machine
 * state go, and the receiver builds it ("ready"); our "commit" makes it run there
 * ("running"), and only then is it destroyed here. Any failure before the commit leaves it
 * running here as before. */
#include "internal.h"
#include "contain.h"
#include "migrate.h"
#include "migwire.h"
#include "vmstate.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dump/image.h"

#define CONNECT_MS 10000
#define ANSWER_MS 30000
#define MAX_ROUNDS 30

struct mig {
	struct hv *hv;
	struct domain *d;
	const struct hv_migrate_opts *o;
	int fd;
	struct image_writer *w;
	uint64_t *bm; /* pages still to send (a bit per page of the memfd) */
	uint64_t start_ns, send_ns, send_bytes; /* time and bytes spent sending (the link's speed) */
	uint64_t bw;  /* bytes per second; 0: unlimited */
	char peer_msg[MIGR_LINE_MAX]; /* what the receiver said while we sent */
	unsigned cap, saved_cap;
	bool capped;
};

/* After each batch of pages: cancel, an early word from the receiver (a refusal), the
 * bandwidth limit. */
static int batch_done(void *opaque, uint64_t done, uint64_t total)
{
	struct mig *m = opaque;
	struct pollfd p = { .fd = m->fd, .events = POLLIN };
	if (atomic_load(&m->d->dump_cancel))
		return 1;
	if (poll(&p, 1, 0) > 0) {
		struct err e;
		if (migr_read_line(m->fd, m->peer_msg, sizeof(m->peer_msg), 1000, &e) < 0)
			snprintf(m->peer_msg, sizeof(m->peer_msg), "%s", e.msg);
		return 1;
	}
	/* the bandwidth limit: wait until the bytes sent are due, in slices, so that a cancel
	 * or a client that went away is seen within 20 ms */
	while (m->bw) {
		uint64_t due = image_writer_bytes(m->w) * 1000000000ull / m->bw, el = time_ns() - m->start_ns;
		struct timespec ts = { 0, 20000000 };
		if (due <= el + 1000000)
			break;
		if (due - el < 20000000ull)
			ts.tv_nsec = (long)(due - el);
		nanosleep(&ts, NULL);
		if (atomic_load(&m->d->dump_cancel) || (m->o->progress && m->o->progress(m->o->opaque, done, total)))
			return 1;
	}
	return m->o->progress ? m->o->progress(m->o->opaque, done, total) : 0;
}

/* The pages written since the last fetch, into m->bm (and into the checkpoints' record of
 * them: an incremental checkpoint after a failed migration still sees every write). */
static int fetch(struct mig *m, struct err *e)
{
	struct domain *d = m->d;
	uint64_t words = MEM_BITMAP_WORDS(&d->mem), *got = xcalloc(words, sizeof(uint64_t));
	if (mem_dirty_fetch(&d->mem, d->vm_fd, got, e) < 0) {
		free(got);
		return -1;
	}
	for (uint64_t w = 0; w < words; w++) {
		m->bm[w] |= got[w];
		if (d->ckpt.valid && d->ckpt.dirty)
			d->ckpt.dirty[w] |= got[w];
	}
	free(got);
	return 0;
}

/* The pages in m->bm, sent; m->bm emptied. *n: how many. */
static int send_dirty(struct mig *m, uint64_t *n, struct err *e)
{
	size_t k;
	uint64_t *g = mem_gfns_of(&m->d->mem, m->bm, &k), t = time_ns(), b = image_writer_bytes(m->w);
	int rc = 0;
	*n = k;
	if (k)
		rc = image_put_pages(m->w, g, k, domain_ram_read, m->d, true, e);
	free(g);
	memset(m->bm, 0, MEM_BITMAP_WORDS(&m->d->mem) * sizeof(uint64_t));
	m->send_ns += time_ns() - t;
	m->send_bytes += image_writer_bytes(m->w) - b;
	return rc;
}

static uint64_t count_bits(const uint64_t *bm, uint64_t words)
{
	uint64_t n = 0;
	for (uint64_t w = 0; w < words; w++)
		n += (uint64_t)__builtin_popcountll(bm[w]);
	return n;
}

static void set_cap(struct mig *m, unsigned cap)
{
	pthread_mutex_lock(&m->hv->sched.lock);
	if (!m->capped) {
		m->saved_cap = m->d->cfg.cap;
		m->capped = true;
	}
	m->d->cfg.cap = cap;
	pthread_mutex_unlock(&m->hv->sched.lock);
	m->cap = cap;
}

static void unset_cap(struct mig *m)
{
	if (!m->capped)
		return;
	pthread_mutex_lock(&m->hv->sched.lock);
	m->d->cfg.cap = m->saved_cap;
	pthread_mutex_unlock(&m->hv->sched.lock);
	m->capped = false;
}

/* The receiver's answer: want, or its "refused: ..."/"failed: ..." as the error. */
static int expect(struct mig *m, const char *want, struct err *e)
{
	char line[MIGR_LINE_MAX];
	if (migr_read_line(m->fd, line, sizeof(line), ANSWER_MS, e) < 0)
		return err_prefix(e, "%s", m->o->host);
	if (strcmp(line, want))
		return err_set(e, "%s: %s", m->o->host, line);
	return 0;
}

static int sync_receiver(struct mig *m, unsigned seq, struct err *e)
{
	uint64_t v = seq;
	char want[32];
	snprintf(want, sizeof(want), "synced %u", seq);
	if (image_put(m->w, IMAGE_SYNC, &v, sizeof(v), e) < 0)
		return -1;
	return expect(m, want, e);
}

/* Pre-copy rounds while the domain runs; returns with the last dirty set in m->bm. */
static int precopy(struct mig *m, struct hv_migrate_stats *st, unsigned downtime_ms, struct err *e)
{
	struct domain *d = m->d;
	uint64_t words = MEM_BITMAP_WORDS(&d->mem), prev = UINT64_MAX;
	unsigned stuck = 0;
	for (unsigned round = 1;; round++) {
		uint64_t t = time_ns(), sent = 0, b = image_writer_bytes(m->w), left, speed, eta_ms;
		struct hv_migrate_round r;
		if (round == 1) {
			struct image_range rg[2];
			for (int i = 0; i < d->mem.nr_ranges; i++)
				rg[i] = (struct image_range){ d->mem.ranges[i].gpa, d->mem.ranges[i].size };
			if (image_put_ram(m->w, rg, (unsigned)d->mem.nr_ranges, domain_ram_read, d, true, e) < 0)
				return -1;
			sent = d->mem.size / 4096;
			m->send_ns += time_ns() - t;
			m->send_bytes += image_writer_bytes(m->w) - b;
			image_writer_zero_pages(m->w, true); /* a page zeroed since must go as ZERO */
		} else if (send_dirty(m, &sent, e) < 0)
			return -1;
		st->pages += sent;
		if (fetch(m, e) < 0)
			return -1;
		left = count_bits(m->bm, words);
		speed = m->send_ns ? m->send_bytes * 1000000000ull / m->send_ns : 0; /* the link, compressed */
		if (m->bw && (!speed || speed > m->bw))
			speed = m->bw;
		/* what is left at raw page size over the link's speed: an upper bound */
		eta_ms = speed ? left * 4096 * 1000 / speed : 0;
		r = (struct hv_migrate_round){
			.round = round, .pages = sent, .bytes = image_writer_bytes(m->w) - b, .dirty_pages = left,
			.dirty_rate = left * 1000000000ull / (time_ns() - t + 1), .total_bytes = image_writer_bytes(m->w),
			.eta_ms = eta_ms, .cap = m->cap,
		};
		if (m->o->round)
			m->o->round(m->o->opaque, &r);
		st->rounds = round;
		if (m->o->postcopy) /* the rest goes after the switch, once the receiver has all this */
			return sync_receiver(m, round, e);
		if (round >= MAX_ROUNDS)
			return 0;
		if (eta_ms <= downtime_ms) {
			/* the receiver may still be taking in what the socket buffers hold: the
			 * downtime would include that. Wait until it has read it all, then look at
			 * what the guest wrote meanwhile. */
			if (sync_receiver(m, round, e) < 0 || fetch(m, e) < 0)
				return -1;
			left = count_bits(m->bm, words);
			eta_ms = speed ? left * 4096 * 1000 / speed : 0;
			if (eta_ms <= downtime_ms)
				return 0;
		}
		/* auto-converge: rounds that stop shrinking throttle the guest, harder each time */
		if (left * 10 >= prev * 9) {
			if (++stuck >= 2) {
				set_cap(m, m->cap ? (m->cap / 2 > 5 ? m->cap / 2 : 5) : 50);
				if (m->cap > st->cap || !st->cap)
					st->cap = m->cap;
				stuck = 0;
			}
		} else
			stuck = 0;
		prev = left < prev ? left : prev;
	}
}

/* Post-copy: the pages in m->bm are stale on the receiver (PENDING records; they go after
 * the switch). m->bm is kept. */
static int send_pending(struct mig *m, struct err *e)
{
	size_t k;
	uint64_t *g = mem_gfns_of(&m->d->mem, m->bm, &k);
	const size_t per = IMAGE_RECORD_MAX / 8;
	int rc = 0;
	for (size_t i = 0; i < k && rc == 0; i += per)
		rc = image_put(m->w, IMAGE_PENDING, g + i, (uint32_t)((k - i < per ? k - i : per) * 8), e);
	free(g);
	return rc;
}

static void hello_of(struct domain *d, const struct hv_migrate_opts *o, struct migr_hello *h)
{
	memset(h, 0, sizeof(*h));
	h->version = MIGR_VERSION;
	h->flags = (o->live ? MIGR_F_LIVE : 0) | (o->postcopy ? MIGR_F_POSTCOPY : 0);
	h->image_version = IMAGE_VERSION;
	h->nr_vcpus = d->nr_vcpus;
	h->mem_bytes = d->mem.size;
	snprintf(h->name, sizeof(h->name), "%s", d->name);
	if (gethostname(h->source, sizeof(h->source) - 1) < 0)
		snprintf(h->source, sizeof(h->source), "?");
	for (char *c = h->source; *c; c++)
		if (*c < 0x21 || *c > 0x7e)
			*c = '?';
	h->ncpuid = d->vcpus[0].cpuid ? d->vcpus[0].cpuid->nent : 0;
	if (h->ncpuid > MIGR_MAX_CPUID)
		h->ncpuid = MIGR_MAX_CPUID;
}

int hv_migrate_cancel(struct domain *d, struct err *e)
{
	int fd = atomic_load(&d->mig_fd) - 1;
	if (fd < 0)
		return err_set(e, "%s is not being migrated", d->name);
	if (atomic_load(&d->mig_post))
		return err_set(e, "%s runs at the receiver already and its last pages are on their way (post-copy): a "
			      "cancel now would lose it", d->name);
	atomic_store(&d->dump_cancel, 1);
	shutdown(fd, SHUT_RDWR); /* the writer and the waits see it at once */
	return 0;
}

int hv_domain_migrate(struct hv *hv, struct domain *d, const struct hv_migrate_opts *o, struct hv_migrate_stats *st,
		      struct err *e)
{
	struct mig m = { .hv = hv, .d = d, .o = o, .fd = -1, .bw = (uint64_t)o->bandwidth << 20 };
	struct migr_hello hello;
	struct image_header h;
	struct vm_state vs = { 0 };
	uint8_t hbuf[MIGR_HELLO_SIZE + MIGR_MAX_CPUID * sizeof(struct kvm_cpuid_entry2)];
	size_t hlen;
	unsigned downtime_ms = o->downtime_ms ? o->downtime_ms
					      : (unsigned)hv_property_int(hv, "config/migration-downtime", 30);
	bool log_here = false, paused = false, committed = false;
	struct migr_tls *tls = NULL;
	int net;
	uint64_t t_pause = 0;
	int ret = -1;

	memset(st, 0, sizeof(*st));
	m.start_ns = time_ns();
	if (image_save_check(d, "migrated", e) < 0)
		return -1;
	if (d->id == 0)
		return err_set(e, "dom0 cannot be migrated: it is this host's own domain (as in Xen)");
	if (atomic_load(&d->mig_fd))
		return err_set(e, "%s is being migrated already", d->name);
	atomic_store(&d->dump_cancel, 0);
	net = migr_connect(o->host, o->port ? o->port : HV_RELOC_PORT, CONNECT_MS, e);
	if (net < 0)
		return err_prefix(e, "cannot reach the relocation server");
	m.fd = net;
	if (o->ssl) {
		struct migr_tls_cfg c;
		migr_tls_props(hv, &c);
		tls = migr_tls_client(net, &c, o->host, &m.fd, e);
		if (!tls) {
			close(net);
			return err_prefix(e, "%s", o->host);
		}
	}
	atomic_store(&d->mig_fd, m.fd + 1);
	m.bm = xcalloc(MEM_BITMAP_WORDS(&d->mem), sizeof(uint64_t));

	hello_of(d, o, &hello);
	hlen = migr_hello_encode(&hello, d->vcpus[0].cpuid ? d->vcpus[0].cpuid->entries : NULL, hbuf, sizeof(hbuf));
	if (!hlen || migr_write_all(m.fd, hbuf, hlen, ANSWER_MS, e) < 0 || expect(&m, "ok", e) < 0)
		goto out;

	image_header_init(&h, HV_VERSION);
	if (o->live)
		h.flags |= IMAGE_F_LIVE;
	m.w = image_writer_open(m.fd, &h, e);
	if (!m.w)
		goto out;
	image_writer_progress(m.w, batch_done, &m);
	{
		struct image_range rg[2];
		struct vm_state info = { .nr_vcpus = d->nr_vcpus, .state = domain_state_now(d) };
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		info.realtime_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
		for (int i = 0; i < d->mem.nr_ranges; i++)
			rg[i] = (struct image_range){ d->mem.ranges[i].gpa, d->mem.ranges[i].size };
		if (image_put_layout(m.w, d->nr_vcpus, rg, (unsigned)d->mem.nr_ranges, e) < 0 ||
		    image_put_config(m.w, d, &info, e) < 0)
			goto out;
	}
	if (o->live) {
		if (!d->mem.dirty_logging) {
			if (mem_dirty_log(&d->mem, d->vm_fd, true, e) < 0)
				goto out;
			log_here = true;
		} else if (fetch(&m, e) < 0) /* a checkpoint's log: start our interval from now */
			goto out;
		memset(m.bm, 0, MEM_BITMAP_WORDS(&d->mem) * sizeof(uint64_t));
		if (precopy(&m, st, downtime_ms, e) < 0)
			goto out;
	}
	/* stop and copy */
	if (!d->pause_count) {
		if (domain_pause(d, e) < 0)
			goto out;
		paused = true;
	}
	t_pause = time_ns();
	m.bw = 0; /* the last pages go at the link's speed: the guest is stopped (QEMU does so too) */
	if (o->postcopy) {
		if (fetch(&m, e) < 0 || send_pending(&m, e) < 0)
			goto out;
	} else if (o->live) {
		uint64_t n;
		if (fetch(&m, e) < 0 || send_dirty(&m, &n, e) < 0)
			goto out;
		st->pages += n;
		st->last_pages = n;
	} else {
		struct image_range rg[2];
		for (int i = 0; i < d->mem.nr_ranges; i++)
			rg[i] = (struct image_range){ d->mem.ranges[i].gpa, d->mem.ranges[i].size };
		if (image_put_ram(m.w, rg, (unsigned)d->mem.nr_ranges, domain_ram_read, d, true, e) < 0)
			goto out;
		st->pages = d->mem.size / 4096;
		st->rounds = 1;
	}
	st->stop_pages_ns = time_ns() - t_pause;
	if (vmstate_get(d, &vs, e) < 0)
		goto out;
	vs.state = DOMAIN_RUNNING;
	if (image_put_state(m.w, d, &vs, e) < 0)
		goto out;
	st->bytes = image_writer_bytes(m.w);
	{
		struct image_writer *w = m.w;
		m.w = NULL;
		if (image_writer_close(w, e) < 0)
			goto out;
	}
	st->stop_sent_ns = time_ns() - t_pause;
	if (expect(&m, "ready", e) < 0)
		goto out;
	st->stop_ready_ns = time_ns() - t_pause;
	if (migr_send_line(m.fd, ANSWER_MS, e, "commit") < 0)
		goto out;
	committed = true;
	if (expect(&m, "running", e) < 0)
		goto out;
	st->downtime_ns = time_ns() - t_pause;
	if (o->postcopy) {
		struct postcopy_stats ps;
		int rc;
		atomic_store(&d->mig_post, true);
		rc = postcopy_send(d, m.fd, m.bm, (uint64_t)o->bandwidth << 20, &ps, e);
		atomic_store(&d->mig_post, false);
		st->post_pages = ps.pages;
		st->post_faults = ps.faults;
		st->post_ns = ps.ns;
		st->pages += ps.pages;
		st->bytes += ps.bytes;
		if (rc < 0)
			goto out;
	}
	ret = 0;
out:
	if (m.w) {
		if (m.peer_msg[0])
			err_set(e, "%s: %s", o->host, m.peer_msg);
		else if (atomic_load(&d->dump_cancel))
			err_set(e, "cancelled");
		image_writer_abort(m.w);
	}
	atomic_store(&d->mig_fd, 0);
	atomic_store(&d->dump_cancel, 0); /* a cancel was for this migration only */
	close(m.fd);
	migr_tls_close(tls);
	if (tls)
		close(net);
	free(m.bm);
	vmstate_free(&vs);
	unset_cap(&m);
	st->total_ns = time_ns() - m.start_ns;
	if (ret == 0) {
		domain_post_event(d, EVENT_SAVED, "migrated to %s", o->host);
		return 0;
	}
	if (committed && o->postcopy && st->downtime_ns) {
		/* it ran there, and some of its RAM is still only here: neither copy can go on */
		st->unknown = true;
		err_prefix(e, "post-copy broke off: %s ran on %s without all its RAM and is crashed there; the copy of "
			      "the moment of the switch is kept paused here (hvctl resume %s runs it from then)",
			   d->name, o->host, d->name);
		return -1;
	}
	if (committed) {
		/* the receiver may run it: never two copies; the administrator decides */
		st->unknown = true;
		err_prefix(e, "the link failed after the commit: %s may run on %s; it is kept paused here (hvctl "
			      "resume %s if it does not run there)", d->name, o->host, d->name);
		return -1;
	}
	if (log_here && !(d->ckpt.valid))
		mem_dirty_log(&d->mem, d->vm_fd, false, &(struct err){ 0 });
	if (paused)
		domain_unpause(d, &(struct err){ 0 });
	return -1;
}
