/* hash: our integrity note (HVKIT 0x48560003): per RAM range, the XXH3-64 of the sequence
 * of its 1 MiB pieces' XXH3-64s (little-endian u64s, in address order; the last piece may
 * be shorter). The writers hash each piece as they read it (any thread, any order: each
 * piece has its slot; 8 bytes a MiB) and fill the note, reserved in the notes, at the end;
 * `hvdump verify` recomputes it from what the file holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "internal.h"

#define HBLOCK (1u << 20) /* both writers read in whole MiBs from a range's start */

int dump_hasher_init(struct dump_hasher *hs, const struct dump_source *src, struct err *e)
{
	uint64_t blocks = 0;
	memset(hs, 0, sizeof(*hs));
	hs->src = src;
	hs->first = calloc(src->nr_ranges + 1, sizeof(*hs->first));
	if (!hs->first)
		return err_set(e, "out of memory");
	for (unsigned r = 0; r < src->nr_ranges; r++) {
		hs->first[r] = blocks;
		blocks += (src->ranges[r].size + HBLOCK - 1) / HBLOCK;
	}
	hs->first[src->nr_ranges] = blocks;
	hs->h = calloc(blocks ? blocks : 1, sizeof(*hs->h));
	if (!hs->h) {
		free(hs->first);
		hs->first = NULL;
		return err_set(e, "out of memory");
	}
	return 0;
}

void dump_hasher_free(struct dump_hasher *hs)
{
	free(hs->first);
	free(hs->h);
	memset(hs, 0, sizeof(*hs));
}

void dump_hasher_blocks(struct dump_hasher *hs, uint64_t gpa, const uint8_t *buf, size_t len)
{
	const struct dump_source *src = hs->src;
	for (unsigned r = 0; r < src->nr_ranges; r++) {
		const struct dump_range *rg = &src->ranges[r];
		uint64_t off;
		if (gpa < rg->gpa || gpa - rg->gpa >= rg->size)
			continue;
		off = gpa - rg->gpa; /* the writers read from block boundaries of the range */
		for (size_t at = 0; at < len; at += HBLOCK) {
			size_t n = len - at < HBLOCK ? len - at : HBLOCK;
			hs->h[hs->first[r] + (off + at) / HBLOCK] = XXH3_64bits(buf + at, n);
		}
		return;
	}
}

static uint64_t combine(const uint64_t *h, uint64_t n)
{
	return XXH3_64bits(h, (size_t)n * sizeof(*h)); /* x86-64: the u64s are little-endian */
}

void dump_hasher_note(const struct dump_hasher *hs, uint8_t *out)
{
	for (unsigned r = 0; r < hs->src->nr_ranges; r++) {
		struct dump_hash_range x = { hs->src->ranges[r].gpa, hs->src->ranges[r].size,
					     combine(hs->h + hs->first[r], hs->first[r + 1] - hs->first[r]) };
		memcpy(out + (size_t)r * sizeof(x), &x, sizeof(x));
	}
}

const struct dump_hash_range *dump_hashes(const struct dump_file *f, unsigned *n)
{
	*n = f->nhashes;
	return f->hashes;
}

int dump_hash_range(struct dump_file *f, uint64_t gpa, uint64_t size, uint64_t *hash, struct err *e)
{
	uint64_t nb = (size + HBLOCK - 1) / HBLOCK;
	uint64_t *h = malloc((nb ? nb : 1) * sizeof(*h));
	uint8_t *buf = malloc(HBLOCK);
	if (!h || !buf) {
		free(h);
		free(buf);
		return err_set(e, "out of memory");
	}
	for (uint64_t i = 0; i < nb; i++) {
		size_t n = size - i * HBLOCK < HBLOCK ? (size_t)(size - i * HBLOCK) : HBLOCK;
		if (dump_read_phys(f, gpa + i * HBLOCK, buf, n) != n) {
			free(h);
			free(buf);
			return err_set(e, "cannot read 0x%llx from the file (its page data is damaged)",
				       (unsigned long long)(gpa + i * HBLOCK));
		}
		h[i] = XXH3_64bits(buf, n);
	}
	*hash = combine(h, nb);
	free(h);
	free(buf);
	return 0;
}

int dump_hasher_write(const struct dump_hasher *hs, int fd, uint64_t notes_off, size_t hoff, struct err *e)
{
	size_t len = hs->src->nr_ranges * sizeof(struct dump_hash_range);
	uint8_t *t;
	int rc;
	if (hoff == SIZE_MAX)
		return 0;
	t = malloc(len ? len : 1);
	if (!t)
		return err_set(e, "out of memory");
	dump_hasher_note(hs, t);
	rc = dump_write_all(fd, t, len, notes_off + hoff, e);
	free(t);
	return rc;
}

int dump_verify(struct dump_file *f, FILE *out, unsigned *n, struct err *e)
{
	const struct dump_hash_range *h = dump_hashes(f, n);
	int bad = 0;
	if (!h)
		return err_set(e, "no integrity note (not written by this hvkit): nothing to verify");
	for (unsigned i = 0; i < *n; i++) {
		uint64_t got;
		struct err re;
		fprintf(out, "  RAM %016llx-%016llx: ", (unsigned long long)h[i].gpa,
			(unsigned long long)(h[i].gpa + h[i].size));
		if (dump_hash_range(f, h[i].gpa, h[i].size, &got, &re) < 0) {
			fprintf(out, "unreadable: %s\n", re.msg);
			bad++;
		} else if (got != h[i].hash) {
			fprintf(out, "MISMATCH (note %016llx, file %016llx)\n", (unsigned long long)h[i].hash,
				(unsigned long long)got);
			bad++;
		} else {
			fprintf(out, "ok\n");
		}
	}
	return bad;
}
