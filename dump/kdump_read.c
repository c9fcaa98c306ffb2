/* kdump_read: opens makedumpfile's kdump-compressed files (makedumpfile's, QEMU's
 * dump-guest-memory kdump-*, ours). Every offset and size is checked against the file;
 * pages are decompressed on demand into a small cache. Layout in kdump.h. */
#include <lz4.h>
#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "internal.h"
#include "kdump.h"

#define CACHE 64
#define MAX_RUNS 65536

struct kdump_map {
	uint32_t block, status;
	uint64_t max_mapnr;
	const uint8_t *bm1, *bm2; /* max_mapnr bits each */
	uint64_t *rank;           /* set bits of bm2 before each 64-bit word */
	uint64_t desc_off, ndesc;
	uint8_t *page; /* CACHE pages */
	uint64_t tag[CACHE];
	ZSTD_DCtx *zd;
	char desc[96];
};

static uint32_t get32(const uint8_t *p, size_t off)
{
	uint32_t v;
	memcpy(&v, p + off, 4);
	return v;
}

static uint64_t get64(const uint8_t *p, size_t off)
{
	uint64_t v;
	memcpy(&v, p + off, 8);
	return v;
}

static bool bit(const uint8_t *bm, uint64_t pfn)
{
	return bm[pfn / 8] >> (pfn % 8) & 1;
}

void kdump_free(struct dump_file *f)
{
	if (!f->kdump)
		return;
	free(f->kdump->rank);
	free(f->kdump->page);
	ZSTD_freeDCtx(f->kdump->zd);
	free(f->kdump);
	f->kdump = NULL;
}

static int load_runs(struct dump_file *f, struct err *e)
{
	struct kdump_map *k = f->kdump;
	uint64_t pfn = 0;
	unsigned cap = 16;
	f->loads = calloc(cap, sizeof(*f->loads));
	if (!f->loads)
		return err_set(e, "out of memory");
	while (pfn < k->max_mapnr) {
		uint64_t start;
		if (!k->bm1[pfn / 8] && pfn % 8 == 0) {
			pfn += 8;
			continue;
		}
		if (!bit(k->bm1, pfn)) {
			pfn++;
			continue;
		}
		start = pfn;
		while (pfn < k->max_mapnr && bit(k->bm1, pfn))
			pfn++;
		if (f->nloads == cap) {
			struct dump_load *n;
			if (cap >= MAX_RUNS)
				return err_set(e, "kdump bitmap too fragmented (over %u RAM ranges)", MAX_RUNS);
			n = realloc(f->loads, cap * 2 * sizeof(*n));
			if (!n)
				return err_set(e, "out of memory");
			f->loads = n;
			cap *= 2;
		}
		f->loads[f->nloads++] = (struct dump_load){ 0, start * k->block, (pfn - start) * k->block,
							    (pfn - start) * k->block, 0 };
	}
	return 0;
}

/* Every page descriptor's data within the file: a file cut inside its page data is
 * refused at open, not found out page by page later (one makedumpfile flagged incomplete,
 * its disk full, opens as "INCOMPLETE": its missing pages read short). */
static int check_descs(struct dump_file *f, const char *path, struct err *e)
{
	struct kdump_map *k = f->kdump;
	for (uint64_t i = 0; i < k->ndesc; i++) {
		const uint8_t *d = f->map + k->desc_off + i * KPD_BYTES;
		uint64_t off = get64(d, KPD_OFFSET);
		uint32_t size = get32(d, KPD_SIZE);
		if (off > f->size || size > f->size - off)
			return err_set(e, "%s: truncated: the data of dumped page %llu of %llu (bytes %llu-%llu) lies beyond "
					  "the end of the file (%llu bytes)", path, (unsigned long long)i,
				       (unsigned long long)k->ndesc, (unsigned long long)off,
				       (unsigned long long)off + size, (unsigned long long)f->size);
		if (size > 2 * k->block + 1024)
			return err_set(e, "%s: corrupt: dumped page %llu of %llu claims %u bytes of data", path,
				       (unsigned long long)i, (unsigned long long)k->ndesc, size);
	}
	return 0;
}

bool kdump_probe(const uint8_t *map, uint64_t size)
{
	return size >= 8 && !memcmp(map, "KDUMP   ", 8);
}

int kdump_open(struct dump_file *f, const char *path, struct err *e)
{
	struct kdump_map *k;
	uint32_t version, sub_blocks, bm_blocks;
	uint64_t bm_off, half, words, ones = 0;
	const uint8_t *h = f->map, *sub;

	if (f->size < KDH_SIZE)
		return err_set(e, "%s: kdump header truncated", path);
	k = f->kdump = calloc(1, sizeof(*k));
	if (!k)
		return err_set(e, "out of memory");
	version = get32(h, KDH_VERSION);
	k->block = get32(h, KDH_BLOCK_SIZE);
	k->status = get32(h, KDH_STATUS);
	sub_blocks = get32(h, KDH_SUB_HDR_SIZE);
	bm_blocks = get32(h, KDH_BITMAP_BLOCKS);
	if (k->block < 512 || k->block > (1u << 20) || (k->block & (k->block - 1)))
		return err_set(e, "%s: kdump block size %u is not a power of two in 512..1M", path, k->block);
	if (version < 1 || version > 64)
		return err_set(e, "%s: kdump header version %u unknown", path, version);
	if ((uint64_t)k->block * 2 > f->size || sub_blocks == 0 || (uint64_t)sub_blocks * k->block > f->size - k->block)
		return err_set(e, "%s: kdump sub-header lies outside the file (truncated?)", path);
	sub = f->map + k->block;
	k->max_mapnr = get32(h, KDH_MAX_MAPNR);
	if (version >= 6 && KSH_MAX_MAPNR_64 + 8 <= (uint64_t)sub_blocks * k->block) {
		uint64_t m32 = k->max_mapnr;
		k->max_mapnr = get64(sub, KSH_MAX_MAPNR_64);
		if (m32 && m32 != (k->max_mapnr < UINT32_MAX ? k->max_mapnr : UINT32_MAX))
			return err_set(e, "%s: inconsistent dump: the kdump header says %llu pages, its sub-header %llu (a "
					  "damaged file?)", path, (unsigned long long)m32, (unsigned long long)k->max_mapnr);
	}
	bm_off = (1ull + sub_blocks) * k->block;
	if (bm_blocks == 0 || bm_blocks % 2 || bm_off > f->size || (uint64_t)bm_blocks * k->block > f->size - bm_off)
		return err_set(e, "%s: kdump bitmaps lie outside the file (truncated?)", path);
	half = (uint64_t)bm_blocks / 2 * k->block;
	if (k->max_mapnr > half * 8)
		return err_set(e, "%s: kdump bitmaps too small for %llu pages", path, (unsigned long long)k->max_mapnr);
	k->bm1 = f->map + bm_off;
	k->bm2 = k->bm1 + half;
	k->desc_off = bm_off + (uint64_t)bm_blocks * k->block;
	/* notes and VMCOREINFO from the sub-header */
	if (version >= 4) {
		uint64_t off = get64(sub, KSH_OFFSET_NOTE), len = get64(sub, KSH_SIZE_NOTE);
		if (len && (off > f->size || len > f->size - off))
			return err_set(e, "%s: kdump notes lie outside the file", path);
		if (len && dump_parse_notes(f, off, len, e) < 0)
			return err_prefix(e, "%s", path);
	}
	if (f->domain && get32(h, KDH_NR_CPUS) != (f->ncpus ? f->ncpus : 1)) /* ours: the header's count is the notes' */
		return err_set(e, "%s: inconsistent dump: the kdump header says %u CPUs, the notes hold %u vCPUs (a damaged "
				  "file?)", path, get32(h, KDH_NR_CPUS), f->ncpus);
	if (version >= 3 && !f->vmcoreinfo) {
		uint64_t off = get64(sub, KSH_OFFSET_VMCOREINFO), len = get64(sub, KSH_SIZE_VMCOREINFO);
		if (len && (off > f->size || len > f->size - off || len > (1u << 20)))
			return err_set(e, "%s: kdump VMCOREINFO lies outside the file", path);
		if (len) {
			f->vmcoreinfo = calloc(1, len + 1);
			if (!f->vmcoreinfo)
				return err_set(e, "out of memory");
			memcpy(f->vmcoreinfo, f->map + off, len);
		}
	}
	/* rank index of the 2nd bitmap: descriptor i belongs to its i-th set bit */
	words = (k->max_mapnr + 63) / 64;
	k->rank = calloc(words + 1, sizeof(uint64_t));
	k->page = malloc((size_t)CACHE * k->block);
	k->zd = ZSTD_createDCtx();
	if (!k->rank || !k->page || !k->zd)
		return err_set(e, "out of memory");
	for (uint64_t i = 0; i < words; i++) {
		uint64_t wv = 0;
		size_t n = (size_t)(half - i * 8 < 8 ? half - i * 8 : 8);
		memcpy(&wv, k->bm2 + i * 8, n);
		if (i == words - 1 && k->max_mapnr % 64)
			wv &= (1ull << (k->max_mapnr % 64)) - 1;
		k->rank[i] = ones;
		ones += (uint64_t)__builtin_popcountll(wv);
	}
	k->rank[words] = ones;
	k->ndesc = ones;
	if (k->desc_off > f->size || ones > (f->size - k->desc_off) / KPD_BYTES)
		return err_set(e, "%s: kdump page descriptors lie outside the file (truncated?)", path);
	if (f->domain && (k->status & KDUMP_INCOMPLETE)) /* ours are complete or have no magic */
		return err_set(e, "%s: inconsistent dump: one of ours flagged incomplete (a damaged file?)", path);
	if (!(k->status & KDUMP_INCOMPLETE) && check_descs(f, path, e) < 0) /* makedumpfile's own flag: said below */
		return -1;
	for (unsigned i = 0; i < CACHE; i++)
		k->tag[i] = UINT64_MAX;
	snprintf(k->desc, sizeof(k->desc), "kdump-compressed v%u%s, %s pages%s%s", version,
		 f->flattened ? " (from a flattened stream)" : "",
		 k->status & KDUMP_ZSTD ? "zstd" : k->status & KDUMP_ZLIB ? "zlib" : k->status & KDUMP_LZ4_HVKIT ? "lz4"
			: k->status & KDUMP_LZO ? "lzo" : k->status & KDUMP_SNAPPY ? "snappy" : "uncompressed",
		 f->domain ? " (hvkit)" : "", k->status & KDUMP_INCOMPLETE ? ", INCOMPLETE" : "");
	return load_runs(f, e);
}

/* The page pfn decompressed into the cache; NULL when it cannot be read. */
static const uint8_t *page_get(struct dump_file *f, uint64_t pfn, bool *zero)
{
	struct kdump_map *k = f->kdump;
	uint64_t wv = 0, idx, off;
	uint32_t size, flags;
	const uint8_t *d, *data;
	uint8_t *out = k->page + (size_t)(pfn % CACHE) * k->block;
	size_t n;

	*zero = false;
	if (!bit(k->bm2, pfn)) { /* excluded from the dump (makedumpfile -d): reads as zeros */
		*zero = true;
		return NULL;
	}
	if (k->tag[pfn % CACHE] == pfn)
		return out;
	memcpy(&wv, k->bm2 + pfn / 64 * 8, 8);
	idx = k->rank[pfn / 64] + (uint64_t)__builtin_popcountll(wv & ((1ull << (pfn % 64)) - 1));
	if (idx >= k->ndesc)
		return NULL;
	d = f->map + k->desc_off + idx * KPD_BYTES;
	off = get64(d, KPD_OFFSET);
	size = get32(d, KPD_SIZE);
	flags = get32(d, KPD_FLAGS);
	if (off > f->size || size > f->size - off || size > 2 * k->block + 1024)
		return NULL;
	data = f->map + off;
	k->tag[pfn % CACHE] = UINT64_MAX;
	if (flags & KDUMP_ZLIB) {
		uLongf len = k->block;
		if (uncompress(out, &len, data, size) != Z_OK || len != k->block)
			return NULL;
	} else if (flags & KDUMP_ZSTD) {
		n = ZSTD_decompressDCtx(k->zd, out, k->block, data, size);
		if (ZSTD_isError(n) || n != k->block)
			return NULL;
	} else if (flags & KDUMP_LZ4_HVKIT) {
		if (LZ4_decompress_safe((const char *)data, (char *)out, (int)size, (int)k->block) != (int)k->block)
			return NULL;
	} else if (flags & KDUMP_LZO) {
		lzo_uint len = k->block;
		if (lzo1x_decompress_safe(data, size, out, &len, NULL) != LZO_E_OK || len != k->block)
			return NULL;
	} else if (flags & KDUMP_SNAPPY) {
		size_t len = k->block;
		if (snappy_uncompressed_length((const char *)data, size, &len) != SNAPPY_OK || len != k->block ||
		    snappy_uncompress((const char *)data, size, (char *)out, &len) != SNAPPY_OK || len != k->block)
			return NULL;
	} else {
		if (size != k->block)
			return NULL;
		memcpy(out, data, size);
	}
	k->tag[pfn % CACHE] = pfn;
	return out;
}

size_t kdump_read_phys(struct dump_file *f, uint64_t gpa, void *buf, size_t len)
{
	struct kdump_map *k = f->kdump;
	size_t done = 0;
	while (done < len) {
		uint64_t a = gpa + done, pfn = a / k->block, in = a % k->block, n = k->block - in;
		const uint8_t *p;
		bool zero;
		if (a < gpa || pfn >= k->max_mapnr || !bit(k->bm1, pfn))
			break;
		if (n > len - done)
			n = len - done;
		p = page_get(f, pfn, &zero);
		if (zero)
			memset((uint8_t *)buf + done, 0, n);
		else if (p)
			memcpy((uint8_t *)buf + done, p + in, n);
		else
			break;
		done += n;
	}
	return done;
}

const char *kdump_describe(const struct dump_file *f)
{
	return f->kdump ? f->kdump->desc : "";
}
