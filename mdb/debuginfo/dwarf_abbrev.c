/* dwarf_abbrev: a check of .debug_abbrev before libdwarf reads it. Debian 12's libdwarf
 * (20210528) dereferences a NULL section when a DIE's attribute has an indexed form
 * (DW_FORM_strx*, addrx*, rnglistx, loclistx) and the section the index points into is
 * not in the file: SIGSEGV in _dwarf_extract_string_offset_via_str_offsets from
 * dwarf_diename (issue 17; one flipped byte of a form code does it). A symbol file is
 * untrusted input, so its abbreviations are walked here first: a form that needs a missing
 * section, an unknown form, or a table that runs past the section's end makes the file's
 * DWARF unusable, with a message, instead of crashing the debugger. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "mdb/mdb.h"

static int uleb(const uint8_t *p, size_t size, size_t *off, uint64_t *v)
{
	unsigned shift = 0;
	*v = 0;
	while (*off < size) {
		uint8_t b = p[(*off)++];
		if (shift < 64)
			*v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80))
			return 0;
		if (shift > 70)
			return -1;
	}
	return -1;
}

/* The index section an indexed form points into; 0 for a form that needs none, -1 unknown. */
static int form_needs(uint64_t form)
{
	switch (form) {
	case 0x1a: case 0x25: case 0x26: case 0x27: case 0x28: case 0x1f02: /* strx*, GNU_str_index */
		return DWARF_NEED_STR_OFFSETS;
	case 0x1b: case 0x29: case 0x2a: case 0x2b: case 0x2c: case 0x1f01: /* addrx*, GNU_addr_index */
		return DWARF_NEED_ADDR;
	case 0x23: /* rnglistx */
		return DWARF_NEED_RNGLISTS;
	case 0x22: /* loclistx */
		return DWARF_NEED_LOCLISTS;
	default:
		/* DWARF 2-5's other forms, and GNU's ref_alt / strp_alt (0x1f20, 0x1f21) */
		return (form >= 0x01 && form <= 0x2c) || form == 0x1f20 || form == 0x1f21 ? 0 : -1;
	}
}

int dwarf_abbrev_check(const uint8_t *p, size_t size, unsigned have, char *why, size_t len)
{
	static const char *const names[] = { ".debug_str_offsets", ".debug_addr", ".debug_rnglists", ".debug_loclists" };
	size_t off = 0;
	while (off < size) {
		uint64_t code, tag, attr, form;
		size_t at = off;
		if (uleb(p, size, &off, &code) < 0)
			goto truncated;
		if (!code)
			continue; /* the end of one unit's table */
		if (uleb(p, size, &off, &tag) < 0 || off >= size)
			goto truncated;
		off++; /* DW_CHILDREN_yes/no */
		for (;;) {
			int need;
			if (uleb(p, size, &off, &attr) < 0 || uleb(p, size, &off, &form) < 0)
				goto truncated;
			if (!attr && !form)
				break;
			need = form_needs(form);
			if (need < 0) {
				snprintf(why, len, ".debug_abbrev+0x%zx: unknown attribute form 0x%llx", at,
					 (unsigned long long)form);
				return -1;
			}
			if (need && !(have & need)) {
				unsigned i = 0;
				while (!((1u << i) & (unsigned)need))
					i++;
				snprintf(why, len, ".debug_abbrev+0x%zx: form 0x%llx indexes %s, which the file does not have",
					 at, (unsigned long long)form, names[i]);
				return -1;
			}
			if (form == 0x21) { /* DW_FORM_implicit_const: its value is here, an SLEB128 */
				uint64_t v;
				if (uleb(p, size, &off, &v) < 0)
					goto truncated;
			}
		}
	}
	return 0;
truncated:
	snprintf(why, len, ".debug_abbrev: an abbreviation runs past the section's end");
	return -1;
}
