/* image_write: the domain image writer. Records go out in order with write(2), so the
 * stream may be a file, a pipe or a socket; page batches are read and zstd-compressed by
 * a thread per CPU (up to 4, dump_pool_run) and written in order. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "internal.h"

#define MAX_WORKERS 4
#define PG IMAGE_PAGE_SIZE

struct image_writer {
	int fd;
	uint32_t flags;
	uint64_t bytes;
	uint32_t nr_vcpus; /* the layout's */
	bool layout, failed;
	bool zeros; /* all-zero pages go out as ZERO descriptors (an incremental image, a live round) */
	struct err err; /* the first failure */
	dump_progress_fn progress;
	void *popaque;
};

static int fd_write(struct image_writer *w, const void *p, size_t n, struct err *e)
{
	const uint8_t *q = p;
	while (n) {
		ssize_t r = write(w->fd, q, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { /* a non-blocking socket: wait */
			struct pollfd pf = { .fd = w->fd, .events = POLLOUT };
			if (poll(&pf, 1, -1) >= 0 || errno == EINTR)
				continue;
		}
		if (r <= 0) {
			err_errno(e, "writing the domain image");
			w->err = *e;
			w->failed = true;
			return -1;
		}
		q += r;
		n -= (size_t)r;
		w->bytes += (uint64_t)r;
	}
	return 0;
}

static int check_usable(struct image_writer *w, struct err *e)
{
	if (w->failed) {
		*e = w->err;
		return -1;
	}
	return 0;
}

struct image_writer *image_writer_open(int fd, const struct image_header *h, struct err *e)
{
	struct image_writer *w;
	uint8_t hdr[IMAGE_HEADER_SIZE];
	struct image_header c = *h;
	if (!c.page_size)
		c.page_size = IMAGE_PAGE_SIZE;
	if (c.page_size != IMAGE_PAGE_SIZE) {
		err_set(e, "domain image page size %u (only %u is written)", c.page_size, IMAGE_PAGE_SIZE);
		return NULL;
	}
	if (!c.image_id || !(c.flags & IMAGE_F_INCREMENTAL) != !c.parent_id) {
		err_set(e, "domain image header: %s", !c.image_id ? "no image id" : "an incremental image needs a parent id, "
										    "a full one none");
		return NULL;
	}
	w = calloc(1, sizeof(*w));
	if (!w) {
		err_set(e, "out of memory");
		return NULL;
	}
	w->fd = fd;
	w->flags = c.flags;
	image_header_encode(hdr, &c);
	if (fd_write(w, hdr, sizeof(hdr), e) < 0) {
		free(w);
		return NULL;
	}
	return w;
}

void image_writer_progress(struct image_writer *w, dump_progress_fn fn, void *opaque)
{
	w->progress = fn;
	w->popaque = opaque;
}

uint64_t image_writer_bytes(const struct image_writer *w)
{
	return w->bytes;
}

/* A record from pieces: the header, the parts, the padding and the checksum trailer. */
static int put_parts(struct image_writer *w, uint32_t type, const void *a, uint32_t alen, const void *b,
		     uint32_t blen, struct err *e)
{
	static const uint8_t zero[8];
	uint8_t hdr[IMAGE_REC_HDR], tail[IMAGE_REC_TAIL] = { 0 };
	const struct image_rule *rule;
	uint32_t len, crc, pad, key;
	if (check_usable(w, e) < 0)
		return -1;
	if ((uint64_t)alen + blen > IMAGE_RECORD_MAX)
		return err_set(e, "domain image record of %llu bytes (at most %u)", (unsigned long long)alen + blen,
			       IMAGE_RECORD_MAX);
	if (type == IMAGE_END)
		return err_set(e, "the END record is written by image_writer_close");
	if (!w->layout && type != IMAGE_LAYOUT)
		return err_set(e, "the first domain image record must be LAYOUT");
	len = alen + blen;
	/* what a reader would refuse by its size or vCPU id is refused here, at the cause */
	rule = image_rule_of(type);
	if (rule && type != IMAGE_LAYOUT && type != IMAGE_PAGE_DATA &&
	    image_rule_check(rule, a, len, w->nr_vcpus, &key, e) < 0)
		return -1;
	pad = (uint32_t)(IMAGE_PAD8(len) - len);
	memcpy(hdr, &type, 4);
	memcpy(hdr + 4, &len, 4);
	crc = image_crc(hdr, sizeof(hdr));
	if (alen) /* (crc32_z of a NULL buffer is its initial value, not the crc) */
		crc = (uint32_t)crc32_z(crc, a, alen);
	if (blen)
		crc = (uint32_t)crc32_z(crc, b, blen);
	if (pad)
		crc = (uint32_t)crc32_z(crc, zero, pad);
	memcpy(tail, &crc, 4);
	if (fd_write(w, hdr, sizeof(hdr), e) < 0 || fd_write(w, a, alen, e) < 0 || fd_write(w, b, blen, e) < 0 ||
	    fd_write(w, zero, pad, e) < 0 || fd_write(w, tail, sizeof(tail), e) < 0)
		return -1;
	if (type == IMAGE_LAYOUT)
		w->layout = true;
	return 0;
}

int image_put(struct image_writer *w, uint32_t type, const void *payload, uint32_t len, struct err *e)
{
	if (type == IMAGE_LAYOUT)
		return err_set(e, "the LAYOUT record is written by image_put_layout");
	return put_parts(w, type, payload, len, NULL, 0, e);
}

int image_put_vcpu(struct image_writer *w, uint32_t type, uint32_t vcpu, uint32_t count, const void *payload,
		   uint32_t len, struct err *e)
{
	struct image_vcpu_hdr h = { vcpu, count };
	return put_parts(w, type, &h, sizeof(h), payload, len, e);
}

int image_put_layout(struct image_writer *w, uint32_t nr_vcpus, const struct image_range *r, unsigned n,
		     struct err *e)
{
	uint32_t h[2] = { nr_vcpus, n };
	if (w->layout)
		return err_set(e, "the domain image LAYOUT record is written once");
	if (!n || n > IMAGE_MAX_RANGES || !nr_vcpus || nr_vcpus > IMAGE_MAX_VCPUS)
		return err_set(e, "domain image layout of %u vCPUs and %u RAM ranges (1..%u, 1..%u)", nr_vcpus, n,
			       IMAGE_MAX_VCPUS, IMAGE_MAX_RANGES);
	for (unsigned i = 0; i < n; i++)
		if ((r[i].gpa | r[i].size) % PG || !r[i].size || (i && r[i].gpa < r[i - 1].gpa + r[i - 1].size))
			return err_set(e, "RAM range 0x%llx+0x%llx is not page-aligned, empty or out of order",
				       (unsigned long long)r[i].gpa, (unsigned long long)r[i].size);
	w->layout = true; /* put_parts' check: this is the LAYOUT */
	w->nr_vcpus = nr_vcpus;
	if (put_parts(w, IMAGE_LAYOUT, h, sizeof(h), r, (uint32_t)(n * sizeof(*r)), e) < 0) {
		w->layout = false;
		return -1;
	}
	return 0;
}

/* ---- pages */
struct batch {
	const uint64_t *gfns; /* NULL: first, first + 1, ... */
	uint64_t first;
	unsigned n;
};

struct slot {
	ZSTD_CCtx *zc;
	uint8_t *in;  /* IMAGE_BATCH_MAX pages read */
	uint8_t *rec; /* the record being built */
	size_t len;   /* its bytes, 0 when the batch had nothing to send */
};

struct pages {
	struct image_writer *w;
	struct batch *batches;
	size_t nbatches;
	struct slot *slots;
	dump_read_fn read;
	void *opaque;
	bool read_mt;
	pthread_mutex_t read_lock;
	uint64_t done, total;
};

#define REC_BOUND (IMAGE_REC_HDR + sizeof(struct image_page_batch) + IMAGE_BATCH_MAX * (sizeof(struct image_page) + PG) + 8 + IMAGE_REC_TAIL)

static uint64_t gfn_at(const struct batch *b, unsigned k)
{
	return b->gfns ? b->gfns[k] : b->first + k;
}

static int read_run(struct pages *p, uint64_t gfn, unsigned n, uint8_t *to, struct err *e)
{
	int rc;
	if (!p->read_mt)
		pthread_mutex_lock(&p->read_lock);
	rc = p->read(p->opaque, gfn * PG, to, (size_t)n * PG);
	if (!p->read_mt)
		pthread_mutex_unlock(&p->read_lock);
	if (rc < 0)
		return err_set(e, "cannot read guest memory at 0x%llx", (unsigned long long)(gfn * PG));
	return 0;
}

static int pages_work(void *ctx, unsigned si, size_t bi, struct err *e)
{
	struct pages *p = ctx;
	struct slot *s = &p->slots[si];
	const struct batch *b = &p->batches[bi];
	bool incremental = (p->w->flags & IMAGE_F_INCREMENTAL) || p->w->zeros;
	struct image_page_batch bh = { 0 };
	struct image_page *desc = (struct image_page *)(s->rec + IMAGE_REC_HDR + sizeof(bh));
	uint8_t *data = (uint8_t *)(desc + b->n), *at = data;
	uint32_t type = IMAGE_PAGE_DATA, len, crc;

	for (unsigned k = 0; k < b->n;) { /* runs of consecutive gfns in one read */
		unsigned run = 1;
		while (k + run < b->n && gfn_at(b, k + run) == gfn_at(b, k) + run)
			run++;
		if (read_run(p, gfn_at(b, k), run, s->in + (size_t)k * PG, e) < 0)
			return -1;
		k += run;
	}
	for (unsigned k = 0; k < b->n; k++) {
		const uint8_t *in = s->in + (size_t)k * PG;
		struct image_page d = { .gfn = gfn_at(b, k) };
		if (dump_all_zero(in, PG)) {
			if (!incremental) /* a full image leaves zero pages out: absent reads as zero */
				continue;
		} else {
			size_t z = ZSTD_compressCCtx(s->zc, at, PG, in, PG, 1);
			if (!ZSTD_isError(z) && z > 0 && z < PG) {
				d.kind = IMAGE_PAGE_ZSTD;
				d.len = (uint32_t)z;
			} else { /* stored: compression did not pay */
				memcpy(at, in, PG);
				d.kind = IMAGE_PAGE_RAW;
				d.len = PG;
			}
		}
		desc[bh.count++] = d;
		at += d.len;
	}
	s->len = 0;
	if (!bh.count)
		return 0;
	/* the descriptors were written as if all n were sent: close the gap to the data */
	if (bh.count < b->n) {
		uint8_t *real = (uint8_t *)(desc + bh.count);
		memmove(real, data, (size_t)(at - data));
		at = real + (at - data);
	}
	len = (uint32_t)(at - s->rec - IMAGE_REC_HDR);
	memcpy(s->rec + IMAGE_REC_HDR, &bh, sizeof(bh));
	memcpy(s->rec, &type, 4);
	memcpy(s->rec + 4, &len, 4);
	memset(at, 0, IMAGE_PAD8(len) - len + IMAGE_REC_TAIL);
	at += IMAGE_PAD8(len) - len;
	crc = image_crc(s->rec, (size_t)(at - s->rec));
	memcpy(at, &crc, 4);
	s->len = (size_t)(at - s->rec) + IMAGE_REC_TAIL;
	return 0;
}

static int pages_emit(void *ctx, unsigned si, size_t bi, struct err *e)
{
	struct pages *p = ctx;
	struct slot *s = &p->slots[si];
	if (s->len && fd_write(p->w, s->rec, s->len, e) < 0)
		return -1;
	p->done += p->batches[bi].n;
	if (p->w->progress && p->w->progress(p->w->popaque, p->done * PG, p->total * PG))
		return err_set(e, "domain image cancelled");
	return 0;
}

static int pages_run(struct image_writer *w, struct batch *batches, size_t nb, uint64_t total, dump_read_fn read,
		     void *opaque, bool read_mt, struct err *e)
{
	struct pages p = { .w = w, .batches = batches, .nbatches = nb, .read = read, .opaque = opaque,
			   .read_mt = read_mt, .total = total };
	long ncpu = dump_threads();
	unsigned nw = ncpu > MAX_WORKERS ? MAX_WORKERS : (unsigned)ncpu;
	int rc = -1;
	if (check_usable(w, e) < 0)
		return -1;
	if (!w->layout)
		return err_set(e, "the first domain image record must be LAYOUT");
	if (nw > nb)
		nw = nb ? (unsigned)nb : 1;
	p.slots = calloc(nw, sizeof(*p.slots));
	if (!p.slots)
		return err_set(e, "out of memory");
	pthread_mutex_init(&p.read_lock, NULL);
	for (unsigned i = 0; i < nw; i++) {
		p.slots[i].zc = ZSTD_createCCtx();
		p.slots[i].in = malloc((size_t)IMAGE_BATCH_MAX * PG);
		p.slots[i].rec = malloc(REC_BOUND);
		if (!p.slots[i].zc || !p.slots[i].in || !p.slots[i].rec) {
			err_set(e, "out of memory");
			goto out;
		}
	}
	rc = dump_pool_run(nw, nb, pages_work, pages_emit, &p, e);
	if (rc < 0 && !w->failed) { /* a half-written record: the stream cannot go on */
		w->err = *e;
		w->failed = true;
	}
out:
	for (unsigned i = 0; i < nw; i++) {
		ZSTD_freeCCtx(p.slots[i].zc);
		free(p.slots[i].in);
		free(p.slots[i].rec);
	}
	free(p.slots);
	pthread_mutex_destroy(&p.read_lock);
	return rc;
}

int image_put_pages(struct image_writer *w, const uint64_t *gfns, size_t n, dump_read_fn read, void *opaque,
		    bool read_mt, struct err *e)
{
	size_t nb = (n + IMAGE_BATCH_MAX - 1) / IMAGE_BATCH_MAX;
	struct batch *b = calloc(nb ? nb : 1, sizeof(*b));
	int rc;
	if (!b)
		return err_set(e, "out of memory");
	for (size_t i = 0; i < nb; i++) {
		size_t left = n - i * IMAGE_BATCH_MAX;
		b[i] = (struct batch){ gfns + i * IMAGE_BATCH_MAX, 0, left < IMAGE_BATCH_MAX ? (unsigned)left : IMAGE_BATCH_MAX };
	}
	rc = pages_run(w, b, nb, n, read, opaque, read_mt, e);
	free(b);
	return rc;
}

int image_put_ram(struct image_writer *w, const struct image_range *r, unsigned n, dump_read_fn read, void *opaque,
		  bool read_mt, struct err *e)
{
	size_t nb = 0, i = 0;
	uint64_t total = 0;
	struct batch *b;
	int rc;
	for (unsigned k = 0; k < n; k++) {
		if ((r[k].gpa | r[k].size) % PG)
			return err_set(e, "RAM range 0x%llx+0x%llx is not page-aligned", (unsigned long long)r[k].gpa,
				       (unsigned long long)r[k].size);
		nb += (r[k].size / PG + IMAGE_BATCH_MAX - 1) / IMAGE_BATCH_MAX;
		total += r[k].size / PG;
	}
	b = calloc(nb ? nb : 1, sizeof(*b));
	if (!b)
		return err_set(e, "out of memory");
	for (unsigned k = 0; k < n; k++) {
		for (uint64_t pg = 0; pg < r[k].size / PG; pg += IMAGE_BATCH_MAX) {
			uint64_t left = r[k].size / PG - pg;
			b[i++] = (struct batch){ NULL, r[k].gpa / PG + pg, left < IMAGE_BATCH_MAX ? (unsigned)left : IMAGE_BATCH_MAX };
		}
	}
	rc = pages_run(w, b, nb, total, read, opaque, read_mt, e);
	free(b);
	return rc;
}

int image_writer_close(struct image_writer *w, struct err *e)
{
	static const uint8_t zero[8];
	uint8_t rec[IMAGE_REC_HDR + IMAGE_REC_TAIL] = { 0 };
	uint32_t crc;
	int rc = check_usable(w, e);
	if (!rc && !w->layout)
		rc = err_set(e, "a domain image needs its LAYOUT record before END");
	if (!rc) {
		crc = image_crc(zero, IMAGE_REC_HDR); /* type END (0), length 0 */
		memcpy(rec + IMAGE_REC_HDR, &crc, 4);
		rc = fd_write(w, rec, sizeof(rec), e);
	}
	free(w);
	return rc;
}

void image_writer_abort(struct image_writer *w)
{
	free(w);
}

void image_writer_zero_pages(struct image_writer *w, bool on)
{
	w->zeros = on;
}
