/* inline: the calls a code address sits in that the compiler inlined, from the DWARF
 * DW_TAG_inlined_subroutine entries of the address's compile unit (found through
 * .debug_aranges): the chain of functions from the innermost inlined one outwards, each with
 * the file:line of the call that was inlined, as drgn and gdb print them as frames. */
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>
#include <stdlib.h>
#include <string.h>

#include "mdb/mdb.h"

#define MAX_DEPTH 64
#define MAX_DIES  200000 /* a unit's entries looked at per address: garbage ends, never hangs */

struct walk {
	Dwarf_Debug dbg;
	uint64_t pc;
	Dwarf_Die cu;
	char **files; /* the unit's line-table file names (read at the first inlined call) */
	Dwarf_Signed nfiles;
	bool files_read;
	Dwarf_Half version;
	uint64_t cu_base;
	size_t dies;
	struct target_inline *out; /* outermost first while walking */
	size_t n, max;
};

static bool attr_udata(Dwarf_Die die, Dwarf_Half at, Dwarf_Unsigned *v)
{
	Dwarf_Attribute a;
	int ok;
	if (dwarf_attr(die, at, &a, NULL) != DW_DLV_OK)
		return false;
	ok = dwarf_formudata(a, v, NULL) == DW_DLV_OK;
	dwarf_dealloc_attribute(a);
	return ok;
}

/* DWARF 5 range list (DW_FORM_rnglistx or an offset): does one of its ranges hold pc? */
static bool rnglist_has(Dwarf_Attribute a, uint64_t pc)
{
	Dwarf_Half form = 0;
	Dwarf_Unsigned val = 0, count = 0, goff = 0;
	Dwarf_Off ref = 0;
	Dwarf_Rnglists_Head head = NULL;
	bool hit = false;
	if (dwarf_whatform(a, &form, NULL) != DW_DLV_OK)
		return false;
	if (form == DW_FORM_rnglistx) {
		if (dwarf_formudata(a, &val, NULL) != DW_DLV_OK)
			return false;
	} else {
		if (dwarf_global_formref(a, &ref, NULL) != DW_DLV_OK)
			return false;
		val = ref;
	}
	if (dwarf_rnglists_get_rle_head(a, form, val, &head, &count, &goff, NULL) != DW_DLV_OK)
		return false;
	for (Dwarf_Unsigned i = 0; i < count && i < 100000 && !hit; i++) {
		unsigned len = 0, code = 0;
		Dwarf_Unsigned r1, r2, lo = 0, hi = 0;
		Dwarf_Bool noaddr = 0;
		if (dwarf_get_rnglists_entry_fields_a(head, i, &len, &code, &r1, &r2, &noaddr, &lo, &hi, NULL) != DW_DLV_OK)
			break;
		if (code == DW_RLE_end_of_list)
			break;
		if (!noaddr && code != DW_RLE_base_address && code != DW_RLE_base_addressx && pc >= lo && pc < hi)
			hit = true;
	}
	dwarf_dealloc_rnglists_head(head);
	return hit;
}

/* DWARF 2-4 .debug_ranges list at off: does one of its ranges hold pc? */
static bool ranges_has(struct walk *w, Dwarf_Die die, Dwarf_Attribute a, uint64_t pc)
{
	Dwarf_Off off = 0, real = 0;
	Dwarf_Unsigned uoff = 0, bytes = 0;
	Dwarf_Ranges *r = NULL;
	Dwarf_Signed n = 0;
	uint64_t base = w->cu_base;
	bool hit = false;
	if (dwarf_global_formref(a, &off, NULL) != DW_DLV_OK) {
		if (dwarf_formudata(a, &uoff, NULL) != DW_DLV_OK)
			return false;
		off = uoff;
	}
	if (dwarf_get_ranges_b(w->dbg, off, die, &real, &r, &n, &bytes, NULL) != DW_DLV_OK)
		return false;
	for (Dwarf_Signed i = 0; i < n && !hit; i++) {
		if (r[i].dwr_type == DW_RANGES_END)
			break;
		if (r[i].dwr_type == DW_RANGES_ADDRESS_SELECTION)
			base = r[i].dwr_addr2;
		else if (pc >= base + r[i].dwr_addr1 && pc < base + r[i].dwr_addr2)
			hit = true;
	}
	dwarf_ranges_dealloc(w->dbg, r, n);
	return hit;
}

/* Does the entry's code (low_pc/high_pc or ranges) hold pc? */
static bool holds(struct walk *w, Dwarf_Die die, uint64_t pc)
{
	Dwarf_Addr lo, hi;
	Dwarf_Half form = 0;
	enum Dwarf_Form_Class cls = DW_FORM_CLASS_UNKNOWN;
	Dwarf_Attribute a;
	bool hit;
	if (dwarf_lowpc(die, &lo, NULL) == DW_DLV_OK) {
		if (dwarf_highpc_b(die, &hi, &form, &cls, NULL) != DW_DLV_OK)
			return pc == lo;
		if (cls == DW_FORM_CLASS_CONSTANT)
			hi += lo;
		return pc >= lo && pc < hi;
	}
	if (dwarf_attr(die, DW_AT_ranges, &a, NULL) != DW_DLV_OK)
		return false;
	hit = w->version >= 5 ? rnglist_has(a, pc) : ranges_has(w, die, a, pc);
	dwarf_dealloc_attribute(a);
	return hit;
}

/* The name of an inlined call's function: its abstract origin's (or that one's
 * specification's) DW_AT_name. */
static void origin_name(Dwarf_Debug dbg, Dwarf_Die die, char *buf, size_t len)
{
	Dwarf_Die cur = die;
	snprintf(buf, len, "?");
	for (int hop = 0; hop < 4; hop++) {
		char *name = NULL;
		Dwarf_Attribute a;
		Dwarf_Off off;
		Dwarf_Die next = NULL;
		if (dwarf_diename(cur, &name, NULL) == DW_DLV_OK) {
			snprintf(buf, len, "%s", name);
			break;
		}
		if (dwarf_attr(cur, DW_AT_abstract_origin, &a, NULL) != DW_DLV_OK &&
		    dwarf_attr(cur, DW_AT_specification, &a, NULL) != DW_DLV_OK)
			break;
		if (dwarf_global_formref(a, &off, NULL) == DW_DLV_OK)
			dwarf_offdie_b(dbg, off, 1, &next, NULL);
		dwarf_dealloc_attribute(a);
		if (cur != die)
			dwarf_dealloc_die(cur);
		cur = next;
		if (!cur)
			break;
	}
	if (cur && cur != die)
		dwarf_dealloc_die(cur);
}

static void record(struct walk *w, Dwarf_Die die)
{
	struct target_inline *f;
	Dwarf_Unsigned file = 0, line = 0;
	const char *path, *base;
	if (w->n == w->max)
		return;
	f = &w->out[w->n++];
	memset(f, 0, sizeof(*f));
	origin_name(w->dbg, die, f->function, sizeof(f->function));
	attr_udata(die, DW_AT_call_line, &line);
	if (!w->files_read && dwarf_srcfiles(w->cu, &w->files, &w->nfiles, NULL) != DW_DLV_OK) {
		w->files = NULL;
		w->nfiles = 0;
	}
	w->files_read = true;
	f->call_line = (unsigned)line;
	/* the file index counts from 1 before DWARF 5 (0 meant none), from 0 in DWARF 5 */
	if (attr_udata(die, DW_AT_call_file, &file) && w->version < 5)
		file = file ? file - 1 : (Dwarf_Unsigned)w->nfiles;
	path = file < (Dwarf_Unsigned)w->nfiles ? w->files[file] : "?";
	base = strrchr(path, '/');
	snprintf(f->call_file, sizeof(f->call_file), "%s", base ? base + 1 : path);
}

/* Look through die's children for the entry holding pc; descend into it. */
static void descend(struct walk *w, Dwarf_Die parent, int depth)
{
	Dwarf_Die child = NULL, next;
	if (depth >= MAX_DEPTH || dwarf_child(parent, &child, NULL) != DW_DLV_OK)
		return;
	while (child && w->dies++ < MAX_DIES) {
		Dwarf_Half tag = 0;
		dwarf_tag(child, &tag, NULL);
		if ((tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine || tag == DW_TAG_lexical_block) &&
		    holds(w, child, w->pc)) {
			if (tag == DW_TAG_inlined_subroutine)
				record(w, child);
			descend(w, child, depth + 1);
			dwarf_dealloc_die(child);
			return;
		}
		next = NULL;
		if (dwarf_siblingof_b(w->dbg, child, 1, &next, NULL) != DW_DLV_OK)
			next = NULL;
		dwarf_dealloc_die(child);
		child = next;
	}
	if (child)
		dwarf_dealloc_die(child);
}

size_t target_inlined(struct target *t, uint64_t addr, struct target_inline *out, size_t max)
{
	struct walk w = { .out = out, .max = max };
	uint64_t cu_off;
	Dwarf_Die cu = NULL;
	Dwarf_Half offsz = 0;
	Dwarf_Addr base = 0;
	if (!max || !target_addr_cu(t, addr, &cu_off) || !(w.dbg = dwarf_debug_handle(t)) ||
	    dwarf_offdie_b(w.dbg, cu_off, 1, &cu, NULL) != DW_DLV_OK)
		return 0;
	w.pc = target_link_addr(t, addr);
	dwarf_get_version_of_die(cu, &w.version, &offsz);
	if (dwarf_lowpc(cu, &base, NULL) == DW_DLV_OK)
		w.cu_base = base;
	w.cu = cu;
	descend(&w, cu, 0);
	for (Dwarf_Signed i = 0; i < w.nfiles; i++)
		dwarf_dealloc(w.dbg, w.files[i], DW_DLA_STRING);
	if (w.files)
		dwarf_dealloc(w.dbg, w.files, DW_DLA_LIST);
	dwarf_dealloc_die(cu);
	for (size_t i = 0; i < w.n / 2; i++) { /* innermost first */
		struct target_inline tmp = out[i];
		out[i] = out[w.n - 1 - i];
		out[w.n - 1 - i] = tmp;
	}
	return w.n;
}

size_t target_frame_lines(struct target *t, uint64_t pc, struct target_inline *inl, size_t max,
			  char lines[][TARGET_LINE_LEN])
{
	size_t n = target_inlined(t, pc, inl, max);
	if (!target_addr_line(t, pc, lines[0], TARGET_LINE_LEN))
		lines[0][0] = 0;
	for (size_t i = 0; i < n; i++) {
		if (inl[i].call_line)
			snprintf(lines[i + 1], TARGET_LINE_LEN, "%s:%u", inl[i].call_file, inl[i].call_line);
		else
			lines[i + 1][0] = 0;
	}
	return n;
}
