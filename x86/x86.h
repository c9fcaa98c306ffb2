/* x86: the one model of the x86-64 machine that every layer shares: the page walk
 * (4 and 5 levels) and canonical addresses. */
#ifndef HVKIT_X86_H
#define HVKIT_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

/* ---- pagewalk.c: the x86-64 page walk, 4-level and 5-level (CR4.LA57), over a reader of
 * guest-physical memory (0, or -1 when [pa, pa + len) cannot be read). */
typedef int (*pagewalk_read_fn)(void *opaque, uint64_t pa, void *buf, size_t len);
struct pagewalk {
	uint64_t top;   /* CR3, or a kernel's top table: the PML4 (PML5 at 5 levels) in bits 12-51 */
	int levels;     /* 4 or 5 */
	pagewalk_read_fn read;
	void *opaque;
};
/* The paging mode of CR0, CR4 and EFER: 0 paging off, 4 or 5 long-mode levels, -1 for
 * 32-bit or PAE paging (not walked here). */
int pagewalk_levels(uint64_t cr0, uint64_t cr4, uint64_t efer);
/* va sign-extended from bit 47 (4 levels) or 56 (5 levels). */
bool pagewalk_canonical(uint64_t va, int levels);
/* va to pa, and the size of the page holding it (4 KiB, 2 MiB or 1 GiB); -1 with a message
 * for a non-canonical address, an unreadable table, a non-present or reserved entry. */
int pagewalk_translate(const struct pagewalk *w, uint64_t va, uint64_t *pa, uint64_t *page_size, struct err *e);
/* Each page mapped (the lower and upper half, or the upper half only), in address order:
 * fn(opaque, canonical va, pa, page size); a non-zero return stops the walk. Entries with
 * reserved bits and unreadable lower tables are skipped; so is a table that points back
 * to one above it. Reads at most PAGEWALK_MAX_TABLES tables. Returns 0, 1 when fn stopped
 * it, or -1 with a message (the top table unreadable, too many tables). */
#define PAGEWALK_MAX_TABLES 65536u
typedef int (*pagewalk_map_fn)(void *opaque, uint64_t va, uint64_t pa, uint64_t size);
int pagewalk_each(const struct pagewalk *w, bool upper_half, pagewalk_map_fn fn, void *opaque, struct err *e);

#endif
