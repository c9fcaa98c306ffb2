/* image_index: random access to the pages of one image file, incremental ones too (a
 * checkpoint chain is read newest first, each page from the first image that has it):
 * the file is mapped, read once through the checking reader, and its page descriptors
 * kept sorted by gfn (the last one sent for a gfn wins, as in a migration stream).
 *
 * A lazy index (a restore, a rollback) reads at open only each batch's first and last
 * gfn: when the batches come in ascending, disjoint gfn order (hv's writer sends RAM in
 * gfn order), a page is found by its batch, whose descriptors are checked (with its
 * checksum) and their data offsets summed when the batch is first needed; so opening
 * costs the record headers, not a descriptor per page. A file whose batches are not in
 * that order (a migration stream resends pages), or a batch whose gfns turn out not to
 * ascend, gets the full sorted table instead. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "internal.h"

struct ix_ent {
	uint64_t gfn, off; /* off: the page's data in the file */
	uint32_t len, kind;
	uint32_t batch; /* its PAGE_DATA record, in batches[] */
};

struct ix_batch {
	const uint8_t *payload;
	bool checked; /* its checksum held (always, unless the index is lazy) */
	bool bad;     /* lazy: its checksum or descriptors failed */
	uint32_t count;
	uint64_t first, last; /* lazy: its first and last descriptor's gfn */
	uint32_t *offs;       /* by batch: each page's data offset in the payload, once needed */
};

struct image_index {
	const uint8_t *map;
	uint64_t size;
	struct image_header h;
	struct ix_ent *pages;
	size_t npages;
	struct ix_batch *batches;
	size_t nbatches, batch_cap;
	bool lazy, owns_map;
	bool by_batch; /* lazy and in order: pages found by batch, no pages[] */
	struct image_range ranges[IMAGE_MAX_RANGES];
	unsigned nr_ranges;
	ZSTD_DCtx *zd;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct ix_ent *x = a, *y = b;
	if (x->gfn != y->gfn)
		return x->gfn < y->gfn ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static uint64_t desc_gfn(const uint8_t *payload, uint32_t i)
{
	uint64_t g;
	memcpy(&g, payload + 8 + (size_t)i * 16, 8);
	return g;
}

static int add_batch(struct image_index *x, const uint8_t *p, struct err *e)
{
	uint32_t count;
	if (x->nbatches == x->batch_cap) {
		size_t ncap = x->batch_cap ? x->batch_cap * 2 : 64;
		struct ix_batch *n = realloc(x->batches, ncap * sizeof(*n));
		if (!n)
			return err_set(e, "out of memory");
		x->batches = n;
		x->batch_cap = ncap;
	}
	memcpy(&count, p, 4); /* the reader bounded it */
	x->batches[x->nbatches++] = (struct ix_batch){ .payload = p, .checked = !x->lazy, .count = count,
						       .first = desc_gfn(p, 0), .last = desc_gfn(p, count - 1) };
	return 0;
}

/* Every batch's descriptors into pages[] (unchecked ones too: a page's batch is checked
 * before its data is used), sorted by gfn, the last one sent for a gfn kept. */
static int index_full(struct image_index *x, struct err *e)
{
	size_t cap = 0, m = 0;
	bool sorted = true;
	for (size_t b = 0; b < x->nbatches; b++) {
		const uint8_t *p = x->batches[b].payload;
		uint32_t count = x->batches[b].count;
		uint64_t data = (uint64_t)(p - x->map) + 8 + (uint64_t)count * 16;
		for (uint32_t i = 0; i < count; i++) {
			struct image_page d;
			memcpy(&d, p + 8 + (size_t)i * 16, sizeof(d));
			if (x->npages == cap) {
				size_t ncap = cap ? cap * 2 : 1024;
				struct ix_ent *n = realloc(x->pages, ncap * sizeof(*n));
				if (!n)
					return err_set(e, "out of memory");
				x->pages = n;
				cap = ncap;
			}
			if (x->npages && x->pages[x->npages - 1].gfn > d.gfn)
				sorted = false;
			x->pages[x->npages++] = (struct ix_ent){ d.gfn, data, d.len, d.kind, (uint32_t)b };
			data += d.len;
		}
	}
	if (x->npages && !sorted) /* hv's own files come sorted: no sort for them */
		qsort(x->pages, x->npages, sizeof(*x->pages), ent_cmp);
	for (size_t i = 0; i < x->npages; i++) { /* one per gfn: the last one sent */
		if (m && x->pages[m - 1].gfn == x->pages[i].gfn)
			m--;
		x->pages[m++] = x->pages[i];
	}
	x->npages = m;
	x->by_batch = false;
	return 0;
}

/* Reads the mapped image through the checking reader: the page descriptors, sorted
 * (lazy and in gfn order: only the batches). */
static int index_build(struct image_index *x, struct err *e)
{
	struct image_reader *r = image_reader_open_map(x->map, x->size, &x->h, e);
	const struct image_range *rg;
	uint32_t nv;
	int rc;
	if (!r)
		return -1;
	if (x->lazy)
		image_reader_trust_pages(r);
	for (;;) {
		uint32_t type, len;
		const void *p;
		rc = image_next(r, &type, &p, &len, e);
		if (rc <= 0)
			break;
		if (type == IMAGE_PAGE_DATA && add_batch(x, p, e) < 0) {
			rc = -1;
			break;
		}
	}
	rg = image_reader_layout(r, &nv, &x->nr_ranges);
	if (rg)
		memcpy(x->ranges, rg, x->nr_ranges * sizeof(*rg));
	image_reader_close(r);
	if (rc < 0)
		return -1;
	x->zd = ZSTD_createDCtx();
	if (!x->zd)
		return err_set(e, "out of memory");
	if (x->lazy) {
		bool ordered = true;
		for (size_t b = 0; b < x->nbatches && ordered; b++)
			ordered = x->batches[b].first <= x->batches[b].last &&
				  (b == 0 || x->batches[b - 1].last < x->batches[b].first);
		if (ordered) {
			x->by_batch = true;
			return 0;
		}
	}
	return index_full(x, e);
}

static struct image_index *index_open(const char *path, struct image_header *h, bool lazy, struct err *e)
{
	struct image_index *x = calloc(1, sizeof(*x));
	struct stat st;
	int fd;
	if (!x) {
		err_set(e, "out of memory");
		return NULL;
	}
	x->lazy = lazy;
	x->owns_map = true;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not hang the reader */
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < IMAGE_HEADER_SIZE) {
		if (fd < 0)
			err_errno(e, "%s", path);
		else
			err_set(e, "%s: not a domain image", path);
		goto fail;
	}
	x->size = (uint64_t)st.st_size;
	x->map = mmap(NULL, x->size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (x->map == MAP_FAILED) {
		x->map = NULL;
		err_errno(e, "%s: mmap", path);
		goto fail;
	}
	close(fd);
	fd = -1;
	if (index_build(x, e) < 0) {
		err_prefix(e, "%s", path);
		goto fail;
	}
	if (h)
		*h = x->h;
	return x;
fail:
	if (fd >= 0)
		close(fd);
	image_index_close(x);
	return NULL;
}

struct image_index *image_index_from_map(const uint8_t *map, uint64_t size, struct err *e)
{
	struct image_index *x = calloc(1, sizeof(*x));
	if (!x) {
		err_set(e, "out of memory");
		return NULL;
	}
	x->map = map;
	x->size = size;
	if (index_build(x, e) < 0) {
		image_index_close(x);
		return NULL;
	}
	return x;
}

struct image_index *image_index_open(const char *path, struct image_header *h, struct err *e)
{
	return index_open(path, h, false, e);
}

struct image_index *image_index_open_lazy(const char *path, struct image_header *h, struct err *e)
{
	return index_open(path, h, true, e);
}

void image_index_close(struct image_index *x)
{
	if (!x)
		return;
	for (size_t b = 0; b < x->nbatches; b++)
		free(x->batches[b].offs);
	free(x->batches);
	if (x->map && x->owns_map)
		munmap((void *)x->map, x->size);
	ZSTD_freeDCtx(x->zd);
	free(x->pages);
	free(x);
}

size_t image_index_count(struct image_index *x)
{
	if (x->by_batch && index_full(x, &(struct err){ 0 }) < 0)
		return 0; /* out of memory */
	return x->npages;
}

uint64_t image_index_gfn(const struct image_index *x, size_t i)
{
	return !x->by_batch && i < x->npages ? x->pages[i].gfn : UINT64_MAX;
}

static bool gfn_in_ram(const struct image_index *x, uint64_t gfn)
{
	for (unsigned i = 0; i < x->nr_ranges; i++)
		if (gfn * IMAGE_PAGE_SIZE >= x->ranges[i].gpa && gfn * IMAGE_PAGE_SIZE - x->ranges[i].gpa < x->ranges[i].size)
			return true;
	return false;
}

/* A lazy batch's checksum, then its descriptors as the reader would have checked them
 * (kinds and lengths, gfns in RAM, the data adding up), and whether its gfns ascend
 * strictly inside [first, last] (*ordered). 0, or -1: corrupt. */
static int batch_check(struct image_index *x, struct ix_batch *b, bool *ordered)
{
	const uint8_t *p = b->payload;
	uint32_t len, count = b->count;
	uint64_t need = 0, data = 8 + (uint64_t)count * 16, prev = 0;
	*ordered = true;
	if (b->bad || !(b->checked || image_record_intact(p)))
		goto bad;
	memcpy(&len, p - IMAGE_REC_HDR + 4, 4);
	for (uint32_t i = 0; i < count; i++) {
		struct image_page d;
		bool ok;
		memcpy(&d, p + 8 + (size_t)i * 16, sizeof(d));
		ok = d.kind == IMAGE_PAGE_ZERO	 ? d.len == 0
		     : d.kind == IMAGE_PAGE_RAW ? d.len == IMAGE_PAGE_SIZE
						 : d.kind == IMAGE_PAGE_ZSTD && d.len && d.len < IMAGE_PAGE_SIZE;
		if (!ok || !gfn_in_ram(x, d.gfn) || d.len > len - data - need)
			goto bad;
		if ((i && d.gfn <= prev) || d.gfn < b->first || d.gfn > b->last)
			*ordered = false;
		prev = d.gfn;
		need += d.len;
	}
	if (need != len - data)
		goto bad;
	b->checked = true;
	return 0;
bad:
	b->bad = true;
	return -1;
}

/* By batch: the batch holding gfn (-1 none), its descriptor's index in *i; -1 in *corrupt
 * when that batch is corrupt. May switch x to the full table (then *fallback). */
static long batch_find(struct image_index *x, uint64_t gfn, uint32_t *i, bool *corrupt, bool *fallback)
{
	size_t lo = 0, hi = x->nbatches;
	struct ix_batch *b = NULL;
	*corrupt = *fallback = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (x->batches[mid].last < gfn)
			lo = mid + 1;
		else if (x->batches[mid].first > gfn)
			hi = mid;
		else {
			b = &x->batches[mid];
			break;
		}
	}
	if (!b)
		return -1;
	if (!b->offs) {
		bool ordered;
		uint64_t off = 8 + (uint64_t)b->count * 16;
		if (batch_check(x, b, &ordered) < 0) {
			*corrupt = true;
			return (long)(b - x->batches);
		}
		if (!ordered) { /* not hv's order after all: the full table */
			*fallback = true;
			if (index_full(x, &(struct err){ 0 }) < 0)
				*corrupt = true;
			return -1;
		}
		b->offs = malloc(b->count * sizeof(*b->offs));
		if (!b->offs) {
			*corrupt = true;
			return (long)(b - x->batches);
		}
		for (uint32_t k = 0; k < b->count; k++) {
			uint32_t l;
			b->offs[k] = (uint32_t)off;
			memcpy(&l, b->payload + 8 + (size_t)k * 16 + 12, 4);
			off += l;
		}
	}
	lo = 0;
	hi = b->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t g = desc_gfn(b->payload, (uint32_t)mid);
		if (g < gfn)
			lo = mid + 1;
		else if (g > gfn)
			hi = mid;
		else {
			*i = (uint32_t)mid;
			return (long)(b - x->batches);
		}
	}
	return -1;
}

/* The descriptor of gfn into *out: 1, 0 none, -1 its batch is corrupt. */
static int lookup(struct image_index *x, uint64_t gfn, struct ix_ent *out)
{
	size_t lo = 0, hi;
	if (x->by_batch) {
		uint32_t i = 0;
		bool corrupt, fallback;
		long b = batch_find(x, gfn, &i, &corrupt, &fallback);
		if (corrupt)
			return -1;
		if (!fallback) {
			struct image_page d;
			if (b < 0)
				return 0;
			memcpy(&d, x->batches[b].payload + 8 + (size_t)i * 16, sizeof(d));
			*out = (struct ix_ent){ gfn, (uint64_t)(x->batches[b].payload - x->map) + x->batches[b].offs[i], d.len,
						d.kind, (uint32_t)b };
			return 1;
		}
	}
	hi = x->npages;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ix_ent *p = &x->pages[mid];
		if (p->gfn < gfn)
			lo = mid + 1;
		else if (p->gfn > gfn)
			hi = mid;
		else {
			struct ix_batch *b = &x->batches[p->batch];
			bool ordered;
			if (!b->checked && batch_check(x, b, &ordered) < 0)
				return -1; /* its batch is corrupt */
			*out = *p;
			return 1;
		}
	}
	return 0;
}

int image_index_check_page(struct image_index *x, uint64_t gfn)
{
	struct ix_ent p;
	return lookup(x, gfn, &p);
}

int image_index_page(struct image_index *x, uint64_t gfn, void *buf)
{
	struct ix_ent p;
	int got = lookup(x, gfn, &p);
	size_t z;
	if (got <= 0)
		return got;
	if (p.kind == IMAGE_PAGE_ZERO) {
		memset(buf, 0, IMAGE_PAGE_SIZE);
		return 1;
	}
	if (p.kind == IMAGE_PAGE_RAW) {
		memcpy(buf, x->map + p.off, IMAGE_PAGE_SIZE);
		return 1;
	}
	z = ZSTD_decompressDCtx(x->zd, buf, IMAGE_PAGE_SIZE, x->map + p.off, p.len);
	return ZSTD_isError(z) || z != IMAGE_PAGE_SIZE ? -1 : 1;
}

const struct image_header *image_index_header(const struct image_index *x)
{
	return &x->h;
}

struct image_reader *image_index_reader(const struct image_index *x, struct err *e)
{
	struct image_reader *r = image_reader_open_map(x->map, x->size, NULL, e);
	if (r && x->lazy)
		image_reader_trust_pages(r);
	return r;
}
