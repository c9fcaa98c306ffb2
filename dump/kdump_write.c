/* kdump_write: makedumpfile's kdump-compressed format (layout in kdump.h). Every RAM page
 * is dumped; all-zero pages share one stored zero page (a 24-byte descriptor each), the
 * others are compressed with zstd, lz4 or zlib, or stored as they are when that does not
 * pay. Pages are compressed by a thread per CPU (up to 4), a batch at a time, and written
 * in pfn order, so the file is sequential. */
#include <elf.h>
#include <errno.h>
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

#define BOUND (BLOCK + 1024u)

/* The page pipeline: every worker thread claims the next batch, reads and compresses it,
 * then waits for its turn to append it (in batch order, so the file is in pfn order). */
struct pipeline {
	const struct dump_source *src;
	int fd;
	enum dump_fmt fmt;
	struct dump_range *batches; /* gpa, size of each batch */
	size_t nbatches, next_batch, next_write;
	pthread_mutex_t lock, read_lock;
	pthread_cond_t turn;
	uint64_t pos, idx, zero_off, desc_off, done, total;
	bool failed;
	struct err err;
	dump_progress_fn progress;
	void *popaque;
	struct dump_hasher *hs;
};

struct worker {
	struct pipeline *pl;
	ZSTD_CCtx *zc;
	z_stream zs;
	bool zs_ok;
	uint8_t *in, *out, *descs;
	uint32_t size[BATCH], flags[BATCH];
	pthread_t th;
	bool started;
};

static uint32_t compress_page(struct worker *w, const uint8_t *in, uint8_t *out, uint32_t *flags)
{
	size_t n = 0;
	*flags = 0;
	switch (w->pl->fmt) {
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
	case DUMP_FMT_KDUMP_ZLIB: /* one stream reused: compress2() would allocate 256 KiB a page */
		if (w->zs_ok && deflateReset(&w->zs) == Z_OK) {
			w->zs.next_in = (Bytef *)(uintptr_t)in;
			w->zs.avail_in = BLOCK;
			w->zs.next_out = out;
			w->zs.avail_out = BOUND;
			if (deflate(&w->zs, Z_FINISH) == Z_STREAM_END)
				n = w->zs.total_out;
		}
		*flags = KDUMP_ZLIB;
		break;
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

static void pipeline_fail(struct pipeline *pl, const struct err *e)
{
	if (!pl->failed)
		pl->err = *e;
	pl->failed = true;
	pthread_cond_broadcast(&pl->turn);
}


/* Appends batch b (its turn has come; called with the lock held). */
static void append(struct worker *w, unsigned n, size_t wlen)
{
	struct pipeline *pl = w->pl;
	struct err e;
	size_t at = 0;
	for (unsigned k = 0; k < n; k++) {
		uint8_t *d = w->descs + (size_t)k * KPD_BYTES;
		memset(d, 0, KPD_BYTES);
		if (!w->size[k]) {
			put64(d, KPD_OFFSET, pl->zero_off);
			put32(d, KPD_SIZE, BLOCK);
			continue;
		}
		put64(d, KPD_OFFSET, pl->pos + at);
		put32(d, KPD_SIZE, w->size[k]);
		put32(d, KPD_FLAGS, w->flags[k]);
		at += w->size[k];
	}
	if (dump_write_all(pl->fd, w->descs, (size_t)n * KPD_BYTES, pl->desc_off + pl->idx * KPD_BYTES, &e) < 0 ||
	    dump_write_all(pl->fd, w->out, wlen, pl->pos, &e) < 0) {
		pipeline_fail(pl, &e);
		return;
	}
	pl->idx += n;
	pl->pos += wlen;
	pl->done += (uint64_t)n * BLOCK;
	if (pl->progress && pl->progress(pl->popaque, pl->done, pl->total)) {
		err_set(&e, "dump cancelled");
		pipeline_fail(pl, &e);
	}
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct pipeline *pl = w->pl;
	for (;;) {
		size_t b, wlen = 0;
		unsigned n;
		int rc;
		struct err e;
		pthread_mutex_lock(&pl->lock);
		if (pl->failed || pl->next_batch == pl->nbatches) {
			pthread_mutex_unlock(&pl->lock);
			break;
		}
		b = pl->next_batch++;
		pthread_mutex_unlock(&pl->lock);

		n = (unsigned)(pl->batches[b].size / BLOCK);
		if (!pl->src->read_mt)
			pthread_mutex_lock(&pl->read_lock);
		rc = pl->src->read(pl->src->opaque, pl->batches[b].gpa, w->in, (size_t)n * BLOCK);
		if (!pl->src->read_mt)
			pthread_mutex_unlock(&pl->read_lock);
		if (rc < 0) {
			err_set(&e, "cannot read guest memory at 0x%llx", (unsigned long long)pl->batches[b].gpa);
			pthread_mutex_lock(&pl->lock);
			pipeline_fail(pl, &e);
			pthread_mutex_unlock(&pl->lock);
			break;
		}
		dump_hasher_blocks(pl->hs, pl->batches[b].gpa, w->in, (size_t)n * BLOCK);
		for (unsigned k = 0; k < n; k++) {
			const uint8_t *in = w->in + (size_t)k * BLOCK;
			if (dump_all_zero(in, BLOCK)) {
				w->size[k] = 0;
				continue;
			}
			w->size[k] = compress_page(w, in, w->out + wlen, &w->flags[k]);
			wlen += w->size[k];
		}
		pthread_mutex_lock(&pl->lock);
		while (pl->next_write != b && !pl->failed)
			pthread_cond_wait(&pl->turn, &pl->lock);
		if (!pl->failed) {
			append(w, n, wlen);
			pl->next_write++;
			pthread_cond_broadcast(&pl->turn);
		}
		pthread_mutex_unlock(&pl->lock);
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
	struct dump_hasher hs = { 0 };
	uint8_t hdr[BLOCK], *sub = NULL, *bitmap = NULL;
	struct worker *w = NULL;
	struct pipeline pl = { .src = src, .fd = fd, .fmt = fmt, .progress = progress, .popaque = popaque, .hs = &hs };
	size_t hoff;
	unsigned nw = 1;
	uint64_t max_mapnr = 0, npages = 0, bm_len, sub_len, sub_blocks, desc_off, data_off, total = 0;
	size_t vmci_len = src->vmcoreinfo ? strlen(src->vmcoreinfo) : 0;
	long ncpu = dump_threads();
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
	if (dump_hasher_init(&hs, src, e) < 0)
		return -1;
	hoff = dump_notes_build(&notes, src);
	bm_len = ((max_mapnr + 7) / 8 + BLOCK - 1) / BLOCK * BLOCK;
	if (!bm_len)
		bm_len = BLOCK;
	sub_len = KSH_SIZE + vmci_len + notes.len;
	sub_blocks = (sub_len + BLOCK - 1) / BLOCK;
	desc_off = (1 + sub_blocks) * BLOCK + 2 * bm_len;
	data_off = (desc_off + npages * KPD_BYTES + BLOCK - 1) / BLOCK * BLOCK;

	pthread_mutex_init(&pl.lock, NULL);
	pthread_mutex_init(&pl.read_lock, NULL);
	pthread_cond_init(&pl.turn, NULL);
	pl.total = total;
	sub = calloc(1, sub_blocks * BLOCK);
	bitmap = calloc(1, bm_len);
	pl.batches = calloc(npages / BATCH + src->nr_ranges + 1, sizeof(*pl.batches));
	if (ncpu > 1)
		nw = ncpu > MAX_WORKERS ? MAX_WORKERS : (unsigned)ncpu;
	w = calloc(nw, sizeof(*w));
	if (!sub || !bitmap || !pl.batches || !w) {
		err_set(e, "out of memory");
		goto out;
	}
	for (unsigned r = 0; r < src->nr_ranges; r++) {
		for (uint64_t off = 0; off < src->ranges[r].size; off += (uint64_t)BATCH * BLOCK) {
			uint64_t left = src->ranges[r].size - off;
			pl.batches[pl.nbatches++] = (struct dump_range){ src->ranges[r].gpa + off,
									 left < (uint64_t)BATCH * BLOCK ? left : (uint64_t)BATCH * BLOCK };
		}
	}
	for (unsigned i = 0; i < nw; i++) {
		w[i].pl = &pl;
		w[i].in = malloc((size_t)BATCH * BLOCK);
		w[i].out = malloc((size_t)BATCH * BOUND);
		w[i].descs = malloc((size_t)BATCH * KPD_BYTES);
		w[i].zc = fmt == DUMP_FMT_KDUMP_ZSTD ? ZSTD_createCCtx() : NULL;
		w[i].zs_ok = fmt == DUMP_FMT_KDUMP_ZLIB && deflateInit(&w[i].zs, 1) == Z_OK;
		if (!w[i].in || !w[i].out || !w[i].descs || (fmt == DUMP_FMT_KDUMP_ZSTD && !w[i].zc) ||
		    (fmt == DUMP_FMT_KDUMP_ZLIB && !w[i].zs_ok)) {
			err_set(e, "out of memory");
			goto out;
		}
	}

	/* header */
	memset(hdr, 0, sizeof(hdr)); /* the signature stays zero: dump_write puts it last */
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
	/* the headers (the signature still zero), then the file at its full known size: a short
	 * disk shows here first */
	if (dump_write_all(fd, hdr, BLOCK, 0, e) < 0 || dump_write_all(fd, sub, sub_blocks * BLOCK, BLOCK, e) < 0 ||
	    dump_write_all(fd, bitmap, bm_len, (1 + sub_blocks) * BLOCK, e) < 0 ||
	    dump_write_all(fd, bitmap, bm_len, (1 + sub_blocks) * BLOCK + bm_len, e) < 0)
		goto out;
	if (ftruncate(fd, (off_t)(data_off + BLOCK)) < 0) {
		err_errno(e, "sizing the dump");
		goto out;
	}
	/* the shared zero page (the file is already zero there), then the pages */
	pl.zero_off = data_off;
	pl.pos = data_off + BLOCK;
	pl.desc_off = desc_off;
	for (unsigned i = 0; i < nw; i++)
		if (i && pthread_create(&w[i].th, NULL, worker_run, &w[i]) == 0)
			w[i].started = true;
	worker_run(&w[0]);
	for (unsigned i = 1; i < nw; i++)
		if (w[i].started)
			pthread_join(w[i].th, NULL);
	if (pl.failed) {
		*e = pl.err;
		goto out;
	}
	if (ftruncate(fd, (off_t)pl.pos) < 0) {
		err_errno(e, "sizing the dump");
		goto out;
	}
	if (dump_hasher_write(&hs, fd, BLOCK + KSH_SIZE + vmci_len, hoff, e) < 0)
		goto out;
	ret = 0;
out:
	dump_hasher_free(&hs);
	for (unsigned i = 0; w && i < nw; i++) {
		free(w[i].in);
		free(w[i].out);
		free(w[i].descs);
		ZSTD_freeCCtx(w[i].zc);
		if (w[i].zs_ok)
			deflateEnd(&w[i].zs);
	}
	free(w);
	free(pl.batches);
	pthread_mutex_destroy(&pl.lock);
	pthread_mutex_destroy(&pl.read_lock);
	pthread_cond_destroy(&pl.turn);
	free(notes.p);
	free(sub);
	free(bitmap);
	return ret;
}

int dump_write(int fd, const struct dump_source *src, enum dump_fmt fmt, dump_progress_fn progress, void *popaque,
	       struct err *e)
{
	/* The magic goes last, once the rest is on disk: a file whose writer was killed has
	 * none, and every reader (ours, gdb, crash) refuses it instead of reading holes. */
	static const char elf_magic[] = ELFMAG;
	const char *magic = fmt == DUMP_FMT_ELF ? elf_magic : KDUMP_SIGNATURE;
	size_t len = fmt == DUMP_FMT_ELF ? SELFMAG : 8;
	int rc = fmt == DUMP_FMT_ELF ? dump_elf_write(fd, src, progress, popaque, e)
				     : dump_kdump_write(fd, src, fmt, progress, popaque, e);
	if (rc < 0)
		return -1;
	if (fdatasync(fd) < 0 && errno != EINVAL && errno != EROFS)
		return err_errno(e, "writing the dump: fdatasync");
	return dump_write_all(fd, magic, len, 0, e);
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
