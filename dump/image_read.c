/* image_read: the domain image's streaming reader, over an fd (a file, pipe or socket) or
 * a mapped file. Every length is bounded before anything is allocated or read, every
 * record's checksum is checked, and the stream rules (docs/save-format.md) hold: LAYOUT
 * first, no state twice, pages inside the RAM ranges, END last. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zstd.h>

#include "internal.h"

#define PG IMAGE_PAGE_SIZE

struct image_reader {
	int fd; /* -1: reading map */
	const uint8_t *map;
	uint64_t size;
	uint64_t off; /* bytes consumed */
	uint8_t *buf;
	size_t cap;
	struct image_header h;
	bool have_layout, ended, failed;
	bool trust_pages; /* PAGE_DATA checksums left to the consumer (a lazy restore) */
	int timeout_ms;   /* a non-blocking fd: how long to wait for more (0: for ever) */
	struct err err; /* sticky: the first failure */
	uint32_t nr_vcpus;
	unsigned nr_ranges;
	struct image_range ranges[IMAGE_MAX_RANGES];
	uint8_t *seen; /* a bit per (rule, vCPU or instance) */
	ZSTD_DCtx *zd;
	uint8_t page[PG];
};

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

/* n more bytes after the keep bytes already taken, contiguous with them: *out points at
 * the first kept byte. 0; 1 at a clean end of input (nothing of the n read); -1. */
static int take(struct image_reader *r, size_t n, size_t keep, const uint8_t **out, struct err *e)
{
	size_t got = 0;
	if (r->fd < 0) {
		if (r->off > r->size || n > r->size - r->off) {
			if (r->off == r->size)
				return 1;
			return err_set(e, "truncated at offset %llu (%llu of %zu bytes there)", (unsigned long long)r->off,
				       (unsigned long long)(r->size - r->off), n);
		}
		*out = r->map + r->off - keep;
		r->off += n;
		return 0;
	}
	if (keep + n > r->cap) {
		size_t cap = keep + n;
		uint8_t *b = realloc(r->buf, cap);
		if (!b)
			return err_set(e, "out of memory");
		r->buf = b;
		r->cap = cap;
	}
	while (got < n) {
		ssize_t k = read(r->fd, r->buf + keep + got, n - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { /* a non-blocking socket: wait */
			struct pollfd pf = { .fd = r->fd, .events = POLLIN };
			int pr = poll(&pf, 1, r->timeout_ms > 0 ? r->timeout_ms : -1);
			if (pr == 0)
				return err_set(e, "no data for %d s at offset %llu", r->timeout_ms / 1000,
					       (unsigned long long)(r->off + got));
			if (pr > 0 || errno == EINTR)
				continue;
		}
		if (k < 0)
			return err_errno(e, "reading the domain image at offset %llu", (unsigned long long)(r->off + got));
		if (k == 0) {
			if (!got)
				return 1;
			return err_set(e, "truncated at offset %llu (%zu of %zu bytes there)",
				       (unsigned long long)(r->off + got), got, n);
		}
		got += (size_t)k;
	}
	r->off += n;
	*out = r->buf;
	return 0;
}

static struct image_reader *reader_new(int fd, const uint8_t *map, uint64_t size, int timeout_ms,
				       struct image_header *h, struct err *e)
{
	struct image_reader *r = calloc(1, sizeof(*r));
	const uint8_t *p;
	int rc;
	if (!r || !(r->seen = calloc(1, (image_nr_rules * IMAGE_MAX_VCPUS + 7) / 8)) || !(r->zd = ZSTD_createDCtx())) {
		err_set(e, "out of memory");
		goto fail;
	}
	r->fd = fd;
	r->map = map;
	r->size = size;
	r->timeout_ms = timeout_ms;
	rc = take(r, IMAGE_HEADER_SIZE, 0, &p, e);
	if (rc > 0)
		err_set(e, "empty: not a domain image");
	if (rc != 0)
		goto fail;
	if (image_header_decode(p, &r->h, e) < 0)
		goto fail;
	if (h)
		*h = r->h;
	return r;
fail:
	image_reader_close(r);
	return NULL;
}

struct image_reader *image_reader_open(int fd, struct image_header *h, struct err *e)
{
	return reader_new(fd, NULL, 0, 0, h, e);
}

struct image_reader *image_reader_open_timeout(int fd, int timeout_ms, struct image_header *h, struct err *e)
{
	return reader_new(fd, NULL, 0, timeout_ms, h, e);
}

struct image_reader *image_reader_open_map(const uint8_t *map, uint64_t size, struct image_header *h, struct err *e)
{
	return reader_new(-1, map, size, 0, h, e);
}

void image_reader_close(struct image_reader *r)
{
	if (!r)
		return;
	free(r->buf);
	free(r->seen);
	ZSTD_freeDCtx(r->zd);
	free(r);
}

uint64_t image_reader_offset(const struct image_reader *r)
{
	return r->off;
}

const struct image_range *image_reader_layout(const struct image_reader *r, uint32_t *nr_vcpus, unsigned *nr_ranges)
{
	if (!r->have_layout)
		return NULL;
	if (nr_vcpus)
		*nr_vcpus = r->nr_vcpus;
	if (nr_ranges)
		*nr_ranges = r->nr_ranges;
	return r->ranges;
}

static bool gfn_in_ram(const struct image_reader *r, uint64_t gfn)
{
	unsigned lo = 0, hi = r->nr_ranges;
	uint64_t gpa;
	if (gfn >= IMAGE_MAX_GPA / PG)
		return false;
	gpa = gfn * PG;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (gpa < r->ranges[mid].gpa)
			hi = mid;
		else if (gpa - r->ranges[mid].gpa >= r->ranges[mid].size)
			lo = mid + 1;
		else
			return true;
	}
	return false;
}

static int layout_parse(struct image_reader *r, const uint8_t *p, uint32_t len, struct err *e)
{
	uint32_t nv = get32(p), n = get32(p + 4);
	if (r->have_layout)
		return err_set(e, "a second LAYOUT record");
	if (!nv || nv > IMAGE_MAX_VCPUS)
		return err_set(e, "LAYOUT of %u vCPUs (1..%u)", nv, IMAGE_MAX_VCPUS);
	if (!n || n > IMAGE_MAX_RANGES || len != 8 + (uint64_t)n * 16)
		return err_set(e, "LAYOUT of %u RAM ranges in %u bytes (1..%u ranges)", n, len, IMAGE_MAX_RANGES);
	for (uint32_t i = 0; i < n; i++) {
		uint64_t gpa = get64(p + 8 + i * 16), size = get64(p + 16 + i * 16);
		if ((gpa | size) % PG || !size || gpa >= IMAGE_MAX_GPA || size > IMAGE_MAX_GPA - gpa ||
		    (i && gpa < r->ranges[i - 1].gpa + r->ranges[i - 1].size))
			return err_set(e, "LAYOUT RAM range %u (0x%llx+0x%llx) is unaligned, empty, too high or out of order",
				       i, (unsigned long long)gpa, (unsigned long long)size);
		r->ranges[i] = (struct image_range){ gpa, size };
	}
	r->nr_vcpus = nv;
	r->nr_ranges = n;
	r->have_layout = true;
	return 0;
}

/* A trusted PAGE_DATA payload: only its count bounded here (its descriptors are checked,
 * with its checksum, by the consumer when it first needs the batch). */
static int batch_bounds(const uint8_t *p, uint32_t len, struct err *e)
{
	uint32_t count = len < 8 ? 0 : get32(p);
	if (!count || count > IMAGE_BATCH_MAX || 8 + (uint64_t)count * 16 > len)
		return err_set(e, "PAGE_DATA of %u pages in %u bytes (1..%u pages)", count, len, IMAGE_BATCH_MAX);
	return 0;
}

/* Walks a PAGE_DATA payload, checking every descriptor; with fn, decodes each page into it. */
static int page_walk(struct image_reader *r, const uint8_t *p, uint32_t len, image_page_fn fn, void *opaque,
		     struct err *e)
{
	uint32_t count;
	uint64_t data, need = 0;
	if (len < 8)
		return err_set(e, "PAGE_DATA record of %u bytes", len);
	count = get32(p);
	if (!count || count > IMAGE_BATCH_MAX || 8 + (uint64_t)count * 16 > len)
		return err_set(e, "PAGE_DATA of %u pages in %u bytes (1..%u pages)", count, len, IMAGE_BATCH_MAX);
	data = 8 + (uint64_t)count * 16;
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *d = p + 8 + (size_t)i * 16;
		uint64_t gfn = get64(d);
		uint32_t kind = get32(d + 8), n = get32(d + 12);
		bool ok = kind == IMAGE_PAGE_ZERO ? n == 0 : kind == IMAGE_PAGE_RAW ? n == PG : kind == IMAGE_PAGE_ZSTD && n && n < PG;
		if (!ok)
			return err_set(e, "PAGE_DATA page %u (gfn 0x%llx): kind %u with %u bytes is not valid", i,
				       (unsigned long long)gfn, kind, n);
		if (!gfn_in_ram(r, gfn))
			return err_set(e, "PAGE_DATA page gfn 0x%llx lies outside the LAYOUT's RAM ranges",
				       (unsigned long long)gfn);
		if (n > len - data - need)
			return err_set(e, "PAGE_DATA page data runs past its record (gfn 0x%llx)", (unsigned long long)gfn);
		if (fn) {
			const uint8_t *src = p + data + need;
			if (kind == IMAGE_PAGE_ZSTD) {
				size_t z = ZSTD_decompressDCtx(r->zd, r->page, PG, src, n);
				if (ZSTD_isError(z) || z != PG)
					return err_set(e, "PAGE_DATA page gfn 0x%llx: its zstd data is corrupt",
						       (unsigned long long)gfn);
				src = r->page;
			}
			if (fn(opaque, gfn, kind == IMAGE_PAGE_ZERO ? NULL : src, e) < 0)
				return -1;
		}
		need += n;
	}
	if (need != len - data)
		return err_set(e, "PAGE_DATA of %u bytes holds %llu bytes of page data", len, (unsigned long long)need);
	return 0;
}

int image_pages(struct image_reader *r, const void *payload, uint32_t len, image_page_fn fn, void *opaque,
		struct err *e)
{
	if (!r->have_layout)
		return err_set(e, "PAGE_DATA before the LAYOUT record");
	return page_walk(r, payload, len, fn, opaque, e);
}

static int fail(struct image_reader *r, uint64_t at, struct err *e)
{
	err_prefix(e, "domain image record at offset %llu", (unsigned long long)at);
	r->err = *e;
	r->failed = true;
	return -1;
}

int image_next(struct image_reader *r, uint32_t *type, const void **payload, uint32_t *len, struct err *e)
{
	for (;;) {
		uint64_t at = r->off, body;
		const uint8_t *p;
		const struct image_rule *rule;
		uint32_t t, n, key;
		size_t bit;
		int rc;
		if (r->failed) {
			*e = r->err;
			return -1;
		}
		if (r->ended)
			return 0;
		rc = take(r, IMAGE_REC_HDR, 0, &p, e);
		if (rc > 0)
			err_set(e, "the stream ends without an END record (truncated)");
		if (rc != 0)
			return fail(r, at, e);
		t = get32(p);
		n = get32(p + 4);
		if (n > IMAGE_RECORD_MAX) {
			err_set(e, "length %u over the limit of %u (corrupt)", n, IMAGE_RECORD_MAX);
			return fail(r, at, e);
		}
		body = IMAGE_PAD8(n);
		rc = take(r, (size_t)body + IMAGE_REC_TAIL, IMAGE_REC_HDR, &p, e);
		if (rc > 0)
			err_set(e, "truncated after its header (no END record)");
		if (rc != 0)
			return fail(r, at, e);
		if ((!(r->trust_pages && t == IMAGE_PAGE_DATA) &&
		     get32(p + IMAGE_REC_HDR + body) != image_crc(p, IMAGE_REC_HDR + body)) ||
		    get32(p + IMAGE_REC_HDR + body + 4) != 0) {
			err_set(e, "checksum mismatch (corrupt)");
			return fail(r, at, e);
		}
		for (uint64_t i = n; i < body; i++) {
			if (p[IMAGE_REC_HDR + i]) {
				err_set(e, "non-zero padding (corrupt)");
				return fail(r, at, e);
			}
		}
		p += IMAGE_REC_HDR;
		rule = image_rule_of(t);
		if (!rule) {
			if (t & IMAGE_OPTIONAL)
				continue; /* not known here, and not needed */
			err_set(e, "type 0x%08x is unknown to this hv and mandatory: the image needs a newer hv", t);
			return fail(r, at, e);
		}
		if (!r->have_layout && t != IMAGE_LAYOUT) {
			err_set(e, "%s comes before the LAYOUT record (LAYOUT must be first)", rule->name);
			return fail(r, at, e);
		}
		if (t == IMAGE_END) {
			if (n) {
				err_set(e, "END record with %u bytes", n);
				return fail(r, at, e);
			}
			r->ended = true;
			return 0;
		}
		if (t == IMAGE_LAYOUT) {
			if (n < 8)
				err_set(e, "LAYOUT of %u bytes", n);
			if (n < 8 || layout_parse(r, p, n, e) < 0)
				return fail(r, at, e);
		} else if (image_rule_check(rule, p, n, r->nr_vcpus, &key, e) < 0 ||
			   (t == IMAGE_PAGE_DATA && (r->trust_pages ? batch_bounds(p, n, e) : page_walk(r, p, n, NULL, NULL, e)) < 0)) {
			return fail(r, at, e);
		} else if (rule->scope != IMAGE_SCOPE_ANY) {
			bit = (size_t)(rule - image_rules) * IMAGE_MAX_VCPUS + key;
			if (r->seen[bit / 8] >> (bit % 8) & 1) {
				if (rule->scope == IMAGE_SCOPE_DOMAIN)
					err_set(e, "a second %s record", rule->name);
				else
					err_set(e, "a second %s record for %s %u", rule->name,
						rule->scope == IMAGE_SCOPE_VCPU ? "vCPU" : "instance", key);
				return fail(r, at, e);
			}
			r->seen[bit / 8] |= (uint8_t)(1u << (bit % 8));
		}
		*type = t;
		*payload = p;
		*len = n;
		return 1;
	}
}

void image_reader_trust_pages(struct image_reader *r)
{
	if (r->map) /* only a mapped file can be checked again later */
		r->trust_pages = true;
}

bool image_record_intact(const void *payload)
{
	const uint8_t *p = (const uint8_t *)payload - IMAGE_REC_HDR;
	uint64_t body = IMAGE_PAD8(get32(p + 4));
	return get32(p + IMAGE_REC_HDR + body) == image_crc(p, IMAGE_REC_HDR + body);
}

