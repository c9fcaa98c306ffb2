/* kdump_write: makedumpfile's kdump-compressed format (layout in kdump.h). Every RAM page
 * is dumped; all-zero pages share one stored zero page (a 24-byte descriptor each), the
 * others are compressed with zstd, lz4 or zlib, or stored as they are when that does not
 * pay. Pages are compressed by a thread per CPU (up to 4), a batch at a time, and written
 * in pfn order, so the file is sequential. */
#include <lz4.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "internal.h"
#include "kdump.h"

#define BLOCK 4096u
#define BATCH 1024u /* pages per batch */
#define MAX_WORKERS 4

static void put32(uint8_t *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static void put64(uint8_t *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, 8);
}

struct worker {
	enum dump_fmt fmt;
	ZSTD_CCtx *zc;
	const uint8_t *in; /* pages [first, first + n) of the batch */
	unsigned first, n;
	uint8_t *out; /* n * BOUND bytes */
	uint32_t *size, *flags; /* per page of the batch; size 0 = zero page */
	pthread_t th;
};

#define BOUND (BLOCK + 1024u)

static uint32_t compress_page(struct worker *w, const uint8_t *in, uint8_t *out, uint32_t *flags)
{
	size_t n = 0;
	*flags = 0;
	switch (w->fmt) {
	case DUMP_FMT_KDUMP_ZSTD:
		n = ZSTD_compressCCtx(w->zc, out, BOUND, in, BLOCK, 1);
		if (ZSTD_isError(n))
			n = 0;
		*flags = KDUMP_ZSTD;
		break;
	case DUMP_FMT_KDUMP_LZ4: {
		int r = LZ4_compress_default((const char *)in, (char *)out, (int)BLOCK, (int)BOUND);
		n = r > 0 ? (size_t)r : 0;
		*flags = KDUMP_LZ4_HVKIT;
		break;
	}
	case DUMP_FMT_KDUMP_ZLIB: {
		uLongf len = BOUND;
		n = compress2(out, &len, in, BLOCK, 1) == Z_OK ? len : 0;
		*flags = KDUMP_ZLIB;
		break;
	}
	default:
		break;
	}
	if (n == 0 || n >= BLOCK) { /* stored */
		memcpy(out, in, BLOCK);
		*flags = 0;
		return BLOCK;
	}
	return (uint32_t)n;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	for (unsigned i = 0; i < w->n; i++) {
		unsigned p = w->first + i;
		const uint8_t *in = w->in + (size_t)p * BLOCK;
		if (dump_all_zero(in, BLOCK)) {
			w->size[p] = 0;
			continue;
		}
		w->size[p] = compress_page(w, in, w->out + (size_t)i * BOUND, &w->flags[p]);
	}
	return NULL;
}

static void set_bit(uint8_t *bm, uint64_t pfn)
{
	bm[pfn / 8] |= (uint8_t)(1u << (pfn % 8));
}

static void uts_field(uint8_t *h, int i, const char *s)
{
	size_t n = strlen(s);
	memcpy(h + KDH_UTSNAME + (size_t)i * KDH_UTS_FIELD, s, n < KDH_UTS_FIELD - 1 ? n : KDH_UTS_FIELD - 1);
}

static void vmcoreinfo_value(const char *info, const char *key, char *out, size_t len)
{
	const char *p = info;
	size_t k = strlen(key);
	out[0] = 0;
	while (p && *p) {
		if (!strncmp(p, key, k) && p[k] == '=') {
			size_t n = strcspn(p + k + 1, "\n");
			snprintf(out, len, "%.*s", (int)n, p + k + 1);
			return;
		}
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
}

static uint32_t status_flag(enum dump_fmt fmt)
{
	return fmt == DUMP_FMT_KDUMP_ZSTD ? KDUMP_ZSTD
	       : fmt == DUMP_FMT_KDUMP_LZ4 ? KDUMP_LZ4_HVKIT
	       : fmt == DUMP_FMT_KDUMP_ZLIB ? KDUMP_ZLIB
					   : 0;
}

int dump_kdump_write(int fd, const struct dump_source *src, enum dump_fmt fmt, dump_progress_fn progress, void *popaque,
		     struct err *e)
{
	struct dump_buf notes = { 0 };
	uint8_t hdr[BLOCK], *sub = NULL, *bitmap = NULL, *batch = NULL, *descs = NULL, *wbuf = NULL;
	uint32_t size[BATCH], flags[BATCH];
	struct worker w[MAX_WORKERS];
	unsigned nw = 1;
	uint64_t max_mapnr = 0, npages = 0, bm_len, sub_len, sub_blocks, desc_off, data_off, idx = 0, total = 0, done = 0;
	size_t vmci_len = src->vmcoreinfo ? strlen(src->vmcoreinfo) : 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char rel[65] = "", val[65];
	struct timeval tv;
	int ret = -1;

	if (fmt == DUMP_FMT_ELF)
		return err_set(e, "dump_kdump_write: not a kdump format");
	for (unsigned r = 0; r < src->nr_ranges; r++) {
		if ((src->ranges[r].gpa | src->ranges[r].size) & (BLOCK - 1))
			return err_set(e, "RAM range 0x%llx+0x%llx is not page-aligned", (unsigned long long)src->ranges[r].gpa,
				       (unsigned long long)src->ranges[r].size);
		if ((src->ranges[r].gpa + src->ranges[r].size) / BLOCK > max_mapnr)
			max_mapnr = (src->ranges[r].gpa + src->ranges[r].size) / BLOCK;
		npages += src->ranges[r].size / BLOCK;
		total += src->ranges[r].size;
	}
	if (max_mapnr > (1ull << 40) / BLOCK * 64)
		return err_set(e, "guest memory too large for this writer");
	dump_notes_build(&notes, src);
	bm_len = ((max_mapnr + 7) / 8 + BLOCK - 1) / BLOCK * BLOCK;
	if (!bm_len)
		bm_len = BLOCK;
	sub_len = KSH_SIZE + vmci_len + notes.len;
	sub_blocks = (sub_len + BLOCK - 1) / BLOCK;
	desc_off = (1 + sub_blocks) * BLOCK + 2 * bm_len;
	data_off = (desc_off + npages * KPD_BYTES + BLOCK - 1) / BLOCK * BLOCK;

	sub = calloc(1, sub_blocks * BLOCK);
	bitmap = calloc(1, bm_len);
	batch = malloc((size_t)BATCH * BLOCK);
	descs = malloc((size_t)BATCH * KPD_BYTES);
	wbuf = malloc((size_t)BATCH * BOUND);
	memset(w, 0, sizeof(w));
	if (ncpu > 1)
		nw = ncpu > MAX_WORKERS ? MAX_WORKERS : (unsigned)ncpu;
	if (!sub || !bitmap || !batch || !descs || !wbuf) {
		err_set(e, "out of memory");
		goto out;
	}
	for (unsigned i = 0; i < nw; i++) {
		w[i].fmt = fmt;
		w[i].out = malloc((size_t)BATCH * BOUND);
		w[i].zc = fmt == DUMP_FMT_KDUMP_ZSTD ? ZSTD_createCCtx() : NULL;
		if (!w[i].out || (fmt == DUMP_FMT_KDUMP_ZSTD && !w[i].zc)) {
			err_set(e, "out of memory");
			goto out;
		}
	}

	/* header */
	memset(hdr, 0, sizeof(hdr));
	memcpy(hdr, KDUMP_SIGNATURE, 8);
	put32(hdr, KDH_VERSION, KDUMP_HEADER_VERSION);
	vmcoreinfo_value(src->vmcoreinfo, "OSRELEASE", rel, sizeof(rel));
	uts_field(hdr, 0, "Linux");
	uts_field(hdr, 1, src->domain.name[0] ? src->domain.name : "hvkit");
	uts_field(hdr, 2, rel[0] ? rel : "unknown");
	uts_field(hdr, 3, "");
	uts_field(hdr, 4, "x86_64");
	if (src->domain.time_ns) {
		tv.tv_sec = (time_t)(src->domain.time_ns / 1000000000ull);
		tv.tv_usec = (suseconds_t)(src->domain.time_ns % 1000000000ull / 1000);
	} else {
		gettimeofday(&tv, NULL);
	}
	put64(hdr, KDH_TIMESTAMP, (uint64_t)tv.tv_sec);
	put64(hdr, KDH_TIMESTAMP + 8, (uint64_t)tv.tv_usec);
	put32(hdr, KDH_STATUS, status_flag(fmt));
	put32(hdr, KDH_BLOCK_SIZE, BLOCK);
	put32(hdr, KDH_SUB_HDR_SIZE, (uint32_t)sub_blocks);
	put32(hdr, KDH_BITMAP_BLOCKS, (uint32_t)(2 * bm_len / BLOCK));
	put32(hdr, KDH_MAX_MAPNR, max_mapnr > UINT32_MAX ? UINT32_MAX : (uint32_t)max_mapnr);
	put32(hdr, KDH_TOTAL_RAM_BLOCKS, npages > UINT32_MAX ? UINT32_MAX : (uint32_t)npages);
	put32(hdr, KDH_NR_CPUS, src->nr_cpus ? src->nr_cpus : 1);
	/* sub-header, VMCOREINFO, notes */
	vmcoreinfo_value(src->vmcoreinfo, "NUMBER(phys_base)", val, sizeof(val));
	put64(sub, KSH_PHYS_BASE, strtoull(val, NULL, 0));
	put32(sub, KSH_DUMP_LEVEL, 0);
	put64(sub, KSH_OFFSET_VMCOREINFO, vmci_len ? BLOCK + KSH_SIZE : 0);
	put64(sub, KSH_SIZE_VMCOREINFO, vmci_len);
	put64(sub, KSH_OFFSET_NOTE, notes.len ? BLOCK + KSH_SIZE + vmci_len : 0);
	put64(sub, KSH_SIZE_NOTE, notes.len);
	put64(sub, KSH_START_PFN_64, 0);
	put64(sub, KSH_END_PFN_64, max_mapnr);
	put64(sub, KSH_MAX_MAPNR_64, max_mapnr);
	if (vmci_len)
		memcpy(sub + KSH_SIZE, src->vmcoreinfo, vmci_len);
	if (notes.len)
		memcpy(sub + KSH_SIZE + vmci_len, notes.p, notes.len);
	for (unsigned r = 0; r < src->nr_ranges; r++)
		for (uint64_t p = src->ranges[r].gpa / BLOCK; p < (src->ranges[r].gpa + src->ranges[r].size) / BLOCK; p++)
			set_bit(bitmap, p);
	/* the file at its full known size: a short disk shows here first */
	if (ftruncate(fd, (off_t)(data_off + BLOCK)) < 0) {
		err_errno(e, "sizing the dump");
		goto out;
	}
	if (dump_write_all(fd, hdr, BLOCK, 0, e) < 0 || dump_write_all(fd, sub, sub_blocks * BLOCK, BLOCK, e) < 0 ||
	    dump_write_all(fd, bitmap, bm_len, (1 + sub_blocks) * BLOCK, e) < 0 ||
	    dump_write_all(fd, bitmap, bm_len, (1 + sub_blocks) * BLOCK + bm_len, e) < 0)
		goto out;
	/* the shared zero page: the file is already zero there */
	{
		uint64_t zero_off = data_off, pos = data_off + BLOCK;
		for (unsigned r = 0; r < src->nr_ranges; r++) {
			for (uint64_t off = 0; off < src->ranges[r].size; off += (uint64_t)BATCH * BLOCK) {
				unsigned n = (unsigned)((src->ranges[r].size - off) / BLOCK < BATCH ? (src->ranges[r].size - off) / BLOCK
												    : BATCH);
				size_t wlen = 0;
				if (src->read(src->opaque, src->ranges[r].gpa + off, batch, (size_t)n * BLOCK) < 0) {
					err_set(e, "cannot read guest memory at 0x%llx",
						(unsigned long long)(src->ranges[r].gpa + off));
					goto out;
				}
				for (unsigned i = 0; i < nw; i++) {
					w[i].in = batch;
					w[i].size = size;
					w[i].flags = flags;
					w[i].first = n * i / nw;
					w[i].n = n * (i + 1) / nw - w[i].first;
				}
				for (unsigned i = 1; i < nw; i++)
					if (pthread_create(&w[i].th, NULL, worker_run, &w[i]))
						w[i].th = 0, worker_run(&w[i]);
				worker_run(&w[0]);
				for (unsigned i = 1; i < nw; i++)
					if (w[i].th)
						pthread_join(w[i].th, NULL);
				for (unsigned i = 0; i < nw; i++) {
					for (unsigned k = 0; k < w[i].n; k++) {
						unsigned p = w[i].first + k;
						uint8_t *d = descs + (size_t)p * KPD_BYTES;
						memset(d, 0, KPD_BYTES);
						if (!size[p]) {
							put64(d, KPD_OFFSET, zero_off);
							put32(d, KPD_SIZE, BLOCK);
							continue;
						}
						memcpy(wbuf + wlen, w[i].out + (size_t)k * BOUND, size[p]);
						put64(d, KPD_OFFSET, pos + wlen);
						put32(d, KPD_SIZE, size[p]);
						put32(d, KPD_FLAGS, flags[p]);
						wlen += size[p];
					}
				}
				if (dump_write_all(fd, descs, (size_t)n * KPD_BYTES, desc_off + idx * KPD_BYTES, e) < 0 ||
				    dump_write_all(fd, wbuf, wlen, pos, e) < 0)
					goto out;
				idx += n;
				pos += wlen;
				done += (uint64_t)n * BLOCK;
				if (progress && progress(popaque, done, total)) {
					err_set(e, "dump cancelled");
					goto out;
				}
			}
		}
		if (ftruncate(fd, (off_t)pos) < 0) {
			err_errno(e, "sizing the dump");
			goto out;
		}
	}
	ret = 0;
out:
	for (unsigned i = 0; i < nw; i++) {
		free(w[i].out);
		ZSTD_freeCCtx(w[i].zc);
	}
	free(notes.p);
	free(sub);
	free(bitmap);
	free(batch);
	free(descs);
	free(wbuf);
	return ret;
}

int dump_write(int fd, const struct dump_source *src, enum dump_fmt fmt, dump_progress_fn progress, void *popaque,
	       struct err *e)
{
	if (fmt == DUMP_FMT_ELF)
		return dump_elf_write(fd, src, progress, popaque, e);
	return dump_kdump_write(fd, src, fmt, progress, popaque, e);
}

static const char *const fmt_names[] = { "elf", "kdump-zstd", "kdump-lz4", "kdump-zlib", "kdump" };

int dump_fmt_parse(const char *name)
{
	for (int i = 0; i < (int)(sizeof(fmt_names) / sizeof(fmt_names[0])); i++)
		if (!strcmp(name, fmt_names[i]))
			return i;
	return -1;
}

const char *dump_fmt_name(enum dump_fmt f)
{
	return (unsigned)f < sizeof(fmt_names) / sizeof(fmt_names[0]) ? fmt_names[f] : "?";
}
