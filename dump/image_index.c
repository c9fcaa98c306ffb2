/* image_index: random access to the pages of one image file, incremental ones too (a
 * checkpoint chain is read newest first, each page from the first image that has it):
 * the file is mapped, read once through the checking reader, and its page descriptors
 * kept sorted by gfn (the last one sent for a gfn wins, as in a migration stream). */
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
	ZSTD_DCtx *zd;
};

static int ent_cmp(const void *a, const void *b)
{
	const struct ix_ent *x = a, *y = b;
	if (x->gfn != y->gfn)
		return x->gfn < y->gfn ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static int add_batch(struct image_index *x, size_t *cap, const uint8_t *p, struct err *e)
{
	uint32_t count;
	uint64_t data;
	if (x->nbatches == x->batch_cap) {
		size_t ncap = x->batch_cap ? x->batch_cap * 2 : 64;
		struct ix_batch *n = realloc(x->batches, ncap * sizeof(*n));
		if (!n)
			return err_set(e, "out of memory");
		x->batches = n;
		x->batch_cap = ncap;
	}
	x->batches[x->nbatches++] = (struct ix_batch){ p, !x->lazy };
	memcpy(&count, p, 4);
	data = (uint64_t)(p - x->map) + 8 + (uint64_t)count * 16;
	for (uint32_t i = 0; i < count; i++) { /* the reader checked the descriptors and lengths */
		struct image_page d;
		memcpy(&d, p + 8 + (size_t)i * 16, sizeof(d));
		if (x->npages == *cap) {
			size_t ncap = *cap ? *cap * 2 : 1024;
			struct ix_ent *n = realloc(x->pages, ncap * sizeof(*n));
			if (!n)
				return err_set(e, "out of memory");
			x->pages = n;
			*cap = ncap;
		}
		x->pages[x->npages++] = (struct ix_ent){ d.gfn, data, d.len, d.kind, (uint32_t)(x->nbatches - 1) };
		data += d.len;
	}
	return 0;
}

/* Reads the mapped image through the checking reader: the page descriptors, sorted. */
static int index_build(struct image_index *x, struct err *e)
{
	struct image_reader *r = image_reader_open_map(x->map, x->size, &x->h, e);
	size_t cap = 0, m = 0;
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
		if (type == IMAGE_PAGE_DATA && add_batch(x, &cap, p, e) < 0) {
			rc = -1;
			break;
		}
	}
	image_reader_close(r);
	if (rc < 0)
		return -1;
	if (x->npages)
		qsort(x->pages, x->npages, sizeof(*x->pages), ent_cmp);
	for (size_t i = 0; i < x->npages; i++) { /* one per gfn: the last one sent */
		if (m && x->pages[m - 1].gfn == x->pages[i].gfn)
			m--;
		x->pages[m++] = x->pages[i];
	}
	x->npages = m;
	x->zd = ZSTD_createDCtx();
	return x->zd ? 0 : err_set(e, "out of memory");
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
	free(x->batches);
	if (x->map && x->owns_map)
		munmap((void *)x->map, x->size);
	ZSTD_freeDCtx(x->zd);
	free(x->pages);
	free(x);
}

size_t image_index_count(const struct image_index *x)
{
	return x->npages;
}

uint64_t image_index_gfn(const struct image_index *x, size_t i)
{
	return i < x->npages ? x->pages[i].gfn : UINT64_MAX;
}

/* The descriptor of gfn, or NULL. */
static const struct ix_ent *find(const struct image_index *x, uint64_t gfn)
{
	size_t lo = 0, hi = x->npages;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct ix_ent *p = &x->pages[mid];
		if (p->gfn < gfn)
			lo = mid + 1;
		else if (p->gfn > gfn)
			hi = mid;
		else
			return p;
	}
	return NULL;
}

int image_index_check_page(struct image_index *x, uint64_t gfn)
{
	const struct ix_ent *p = find(x, gfn);
	if (!p)
		return 0;
	if (!x->batches[p->batch].checked &&
	    !(x->batches[p->batch].checked = image_record_intact(x->batches[p->batch].payload)))
		return -1;
	return 1;
}

int image_index_page(struct image_index *x, uint64_t gfn, void *buf)
{
	const struct ix_ent *p = find(x, gfn);
	size_t z;
	if (!p)
		return 0;
	if (!x->batches[p->batch].checked &&
	    !(x->batches[p->batch].checked = image_record_intact(x->batches[p->batch].payload)))
		return -1; /* its batch is corrupt */
	if (p->kind == IMAGE_PAGE_ZERO) {
		memset(buf, 0, IMAGE_PAGE_SIZE);
		return 1;
	}
	if (p->kind == IMAGE_PAGE_RAW) {
		memcpy(buf, x->map + p->off, IMAGE_PAGE_SIZE);
		return 1;
	}
	z = ZSTD_decompressDCtx(x->zd, buf, IMAGE_PAGE_SIZE, x->map + p->off, p->len);
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
