/* linux_log: log / ::msgbuf for Linux: the lockless printk ring buffer of 5.10+ (prb: a
 * ring of descriptors and of printk_info, and a data ring of text blocks), read from
 * tail_id to head_id and printed as crash's `log` does: "[    1.234567] text", the lines
 * of a multi-line record indented under the first. Offsets come from VMCOREINFO (as
 * makedumpfile and crash read them), else from the vmlinux's DWARF. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

#define DESC_ID_MASK (~(3ull << 62))
#define MAX_COUNT_BITS 24 /* descriptors */
#define MAX_SIZE_BITS 28  /* text bytes */

enum { RB_DESC, RB_TEXT, DR_BITS, DR_DESCS, DR_INFOS, DR_HEAD, DR_TAIL, D_STATE, D_LPOS, D_SIZE, LP_BEGIN, LP_NEXT,
       I_TS, I_LEN, I_SIZE, TR_BITS, TR_DATA, I_FACILITY, NFIELDS };
#define NEEDED I_FACILITY /* the fields before it; the level (after facility) is optional */

struct log_layout {
	int64_t off[NFIELDS]; /* D_SIZE, I_SIZE: sizes */
	bool facility_read;   /* off[I_FACILITY] looked up (only JSON prints the level) */
	char why[160];
};

static struct log_layout *layout(struct target *t)
{
	struct linux_kernel *l = t->os_priv;
	struct log_layout *y;
	struct dwarf_field f[NEEDED] = {
		[RB_DESC] = { .type = "printk_ringbuffer", .member = "desc_ring" },
		[RB_TEXT] = { .type = "printk_ringbuffer", .member = "text_data_ring" },
		[DR_BITS] = { .type = "prb_desc_ring", .member = "count_bits" },
		[DR_DESCS] = { .type = "prb_desc_ring", .member = "descs" },
		[DR_INFOS] = { .type = "prb_desc_ring", .member = "infos" },
		[DR_HEAD] = { .type = "prb_desc_ring", .member = "head_id" },
		[DR_TAIL] = { .type = "prb_desc_ring", .member = "tail_id" },
		[D_STATE] = { .type = "prb_desc", .member = "state_var" },
		[D_LPOS] = { .type = "prb_desc", .member = "text_blk_lpos" },
		[D_SIZE] = { .type = "prb_desc", .member = NULL },
		[LP_BEGIN] = { .type = "prb_data_blk_lpos", .member = "begin" },
		[LP_NEXT] = { .type = "prb_data_blk_lpos", .member = "next" },
		[I_TS] = { .type = "printk_info", .member = "ts_nsec" },
		[I_LEN] = { .type = "printk_info", .member = "text_len" },
		[I_SIZE] = { .type = "printk_info", .member = NULL },
		[TR_BITS] = { .type = "prb_data_ring", .member = "size_bits" },
		[TR_DATA] = { .type = "prb_data_ring", .member = "data" },
	};
	if (l->log)
		return l->log;
	y = xcalloc(1, sizeof(*y));
	l->log = y;
	if (!linux_sym(t, "prb")) {
		snprintf(y->why, sizeof(y->why), "the kernel has no lockless printk ring (prb: Linux 5.10 and later)");
		return y;
	}
	/* printk_info.facility is not in VMCOREINFO: its DWARF lookup costs a walk through
	 * .debug_info (40 MB more touched, 50 ms) that only the level in JSON needs */
	linux_fields(t, "printk/printk", f, NEEDED);
	y->off[I_FACILITY] = -1;
	for (int i = 0; i < NEEDED; i++) {
		y->off[i] = f[i].member ? f[i].off : (int64_t)f[i].size;
		if (i < NEEDED && (y->off[i] < 0 || (!f[i].member && !f[i].size)))
			snprintf(y->why, sizeof(y->why), "no %s%s%s in VMCOREINFO or the DWARF", f[i].type, f[i].member ? "." : "",
				 f[i].member ? f[i].member : "");
	}
	return y;
}

/* A text block of the data ring: the kernel's get_data(), bounded by the ring. */
static const char *block_text(const uint8_t *data, uint64_t size, uint64_t begin, uint64_t next, size_t *len)
{
	uint64_t wraps_b = begin / size, wraps_n = next / size, db, n;
	if ((begin & 1) && (next & 1)) { /* data-less: an empty line, or lost */
		*len = 0;
		return begin == 3 && next == 3 ? "" : NULL;
	}
	if (wraps_b == wraps_n && begin < next) {
		db = begin % size;
		n = next - begin;
	} else if (wraps_b + 1 == wraps_n) { /* wrapped: the block starts the ring */
		db = 0;
		n = next % size;
	} else {
		return NULL;
	}
	if (n < 8 || db + n > size)
		return NULL;
	*len = n - 8; /* after the block's id */
	return (const char *)data + db + 8;
}

/* One record, as crash prints it; or as a JSON object (level: -1 when unknown). */
static void print_record(uint64_t ts, int level, const char *text, size_t len, bool json, bool first, FILE *out)
{
	if (json) {
		fprintf(out, "%s{\"timestamp\": %" PRIu64 ".%06" PRIu64 ", \"ts_nsec\": %" PRIu64, first ? "" : ", ",
			ts / 1000000000u, ts % 1000000000u / 1000, ts);
		if (level >= 0)
			fprintf(out, ", \"level\": %d", level);
		fputs(", \"text\": ", out);
		json_write_strn(out, text, len);
		fputc('}', out);
		return;
	}
	char prefix[48];
	int plen = snprintf(prefix, sizeof(prefix), "[%5" PRIu64 ".%06" PRIu64 "] ", ts / 1000000000u, ts % 1000000000u / 1000);
	fputs(prefix, out);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\n')
			fprintf(out, "\n%*s", plen, "");
		else
			fputc((c >= 0x20 && c < 0x7f) || (c >= '\t' && c <= '\r') ? c : '.', out);
	}
	fputc('\n', out);
}

static int64_t rd(const uint8_t *b, int64_t off, size_t size)
{
	uint64_t v = 0;
	memcpy(&v, b + off, size);
	return (int64_t)v;
}

/* Every offset read from (VMCOREINFO is the dump's: it may lie) inside what is read. */
static bool fits(const int64_t *o, uint64_t dsz, uint64_t isz)
{
	const int64_t rb = 512;
	return o[RB_DESC] + o[DR_BITS] + 4 <= rb && o[RB_DESC] + o[DR_DESCS] + 8 <= rb && o[RB_DESC] + o[DR_INFOS] + 8 <= rb &&
	       o[RB_DESC] + o[DR_HEAD] + 8 <= rb && o[RB_DESC] + o[DR_TAIL] + 8 <= rb && o[RB_TEXT] + o[TR_BITS] + 4 <= rb &&
	       o[RB_TEXT] + o[TR_DATA] + 8 <= rb && o[D_STATE] + 8 <= (int64_t)dsz &&
	       o[D_LPOS] + o[LP_BEGIN] + 8 <= (int64_t)dsz && o[D_LPOS] + o[LP_NEXT] + 8 <= (int64_t)dsz &&
	       o[I_TS] + 8 <= (int64_t)isz && o[I_LEN] + 2 <= (int64_t)isz && o[I_FACILITY] + 2 <= (int64_t)isz;
}

/* The offset of printk_info.facility (the level is the high bits of the byte after it). */
static void facility(struct target *t, struct log_layout *y)
{
	struct dwarf_field f = { .type = "printk_info", .member = "facility" };
	if (y->facility_read || y->why[0])
		return;
	y->facility_read = true;
	linux_fields(t, "printk/printk", &f, 1);
	y->off[I_FACILITY] = f.off;
}

int linux_cmd_log(struct target *t, FILE *out)
{
	struct log_layout *y = layout(t);
	const int64_t *o = y->off;
	uint8_t rb[512];
	uint64_t prb = 0, descs, infos, data, count, size, head, tail, id, n = 0, dsz, isz;
	uint8_t *dbuf = NULL, *ibuf = NULL, *text = NULL;
	unsigned cbits, sbits;
	int ret = -1;
	size_t shown = 0;
	if (t->json)
		facility(t, y);
	if (y->why[0]) {
		fprintf(out, "mdb: cannot read the Linux log: %s\n", y->why);
		return -1;
	}
	if (!linux_read(t, linux_sym(t, "prb"), &prb, 8) || !linux_read(t, prb, rb, sizeof(rb))) {
		fprintf(out, "mdb: cannot read the printk ring buffer (prb at 0x%" PRIx64 ")\n", prb);
		return -1;
	}
	cbits = (unsigned)rd(rb, o[RB_DESC] + o[DR_BITS], 4);
	descs = (uint64_t)rd(rb, o[RB_DESC] + o[DR_DESCS], 8);
	infos = (uint64_t)rd(rb, o[RB_DESC] + o[DR_INFOS], 8);
	head = (uint64_t)rd(rb, o[RB_DESC] + o[DR_HEAD], 8) & DESC_ID_MASK;
	tail = (uint64_t)rd(rb, o[RB_DESC] + o[DR_TAIL], 8) & DESC_ID_MASK;
	sbits = (unsigned)rd(rb, o[RB_TEXT] + o[TR_BITS], 4);
	data = (uint64_t)rd(rb, o[RB_TEXT] + o[TR_DATA], 8);
	dsz = (uint64_t)o[D_SIZE];
	isz = (uint64_t)o[I_SIZE];
	if (cbits > MAX_COUNT_BITS || sbits > MAX_SIZE_BITS || dsz > 256 || isz > 1024 || !fits(o, dsz, isz)) {
		fprintf(out, "mdb: the printk ring buffer is corrupt (count_bits %u, size_bits %u)\n", cbits, sbits);
		return -1;
	}
	count = 1ull << cbits;
	size = 1ull << sbits;
	dbuf = malloc(count * dsz);
	ibuf = malloc(count * isz);
	text = malloc(size);
	if (!dbuf || !ibuf || !text || !linux_read(t, descs, dbuf, count * dsz) || !linux_read(t, infos, ibuf, count * isz) ||
	    !linux_read(t, data, text, size)) {
		fprintf(out, "mdb: cannot read the printk ring's descriptors, infos or text\n");
		goto done;
	}
	if (t->json)
		fputc('[', out);
	/* tail to head, at most once round the ring */
	for (id = tail; n++ <= count; id = (id + 1) & DESC_ID_MASK) {
		const uint8_t *d = dbuf + (id % count) * dsz, *info = ibuf + (id % count) * isz;
		uint64_t sv = (uint64_t)rd(d, o[D_STATE], 8), st = sv >> 62;
		size_t len;
		const char *s;
		if ((sv & DESC_ID_MASK) == id && (st == 1 || st == 2) && /* committed or finalized */
		    (s = block_text(text, size, (uint64_t)rd(d, o[D_LPOS] + o[LP_BEGIN], 8),
				    (uint64_t)rd(d, o[D_LPOS] + o[LP_NEXT], 8), &len)) != NULL) {
			size_t tl = (size_t)rd(info, o[I_LEN], 2);
			/* u8 facility; u8 flags:5, level:3 (the high bits, as GCC lays bitfields out on x86) */
			int level = o[I_FACILITY] >= 0 ? (int)(rd(info, o[I_FACILITY] + 1, 1) >> 5) : -1;
			print_record((uint64_t)rd(info, o[I_TS], 8), level, s, tl < len ? tl : len, t->json, !shown++, out);
		}
		if (id == head)
			break;
	}
	if (t->json)
		fputs("]\n", out);
	ret = 0;
done:
	free(dbuf);
	free(ibuf);
	free(text);
	return ret;
}
