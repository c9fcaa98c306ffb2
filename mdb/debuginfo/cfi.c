/* cfi: one step of a DWARF call-frame-information unwind (the symbol file's .debug_frame, else
 * its .eh_frame, through libdwarf): from a frame's registers to its caller's. The FDE list is
 * read on first use and kept per target; the file and the stack are untrusted. */
#include <libdwarf/dwarf.h>
#include <libdwarf/libdwarf.h>
#include <stdlib.h>

#include "mdb/mdb.h"

struct cfi {
	Dwarf_Debug dbg; /* dwarf.c's handle: the lists are freed before it is */
	Dwarf_Cie *cies;
	Dwarf_Fde *fdes;
	Dwarf_Signed ncies, nfdes;
};

/* An empty struct cfi (no FDEs) when the file has none: asked once. */
static struct cfi *cfi_get(struct target *t)
{
	struct cfi *c = t->cfi;
	Dwarf_Error err = NULL;
	if (c)
		return c;
	c = xcalloc(1, sizeof(*c));
	t->cfi = c;
	c->dbg = dwarf_debug_handle(t);
	if (!c->dbg)
		return c;
	/* the rules' register numbers for "same value", "undefined" and the CFA column
	 * (libdwarf's defaults, said out loud), and an unknown register is undefined */
	dwarf_set_frame_same_value(c->dbg, DW_FRAME_SAME_VAL);
	dwarf_set_frame_undefined_value(c->dbg, DW_FRAME_UNDEFINED_VAL);
	dwarf_set_frame_cfa_value(c->dbg, DW_FRAME_CFA_COL3);
	dwarf_set_frame_rule_initial_value(c->dbg, DW_FRAME_UNDEFINED_VAL);
	if (dwarf_get_fde_list(c->dbg, &c->cies, &c->ncies, &c->fdes, &c->nfdes, &err) != DW_DLV_OK) {
		if (err)
			dwarf_dealloc_error(c->dbg, err);
		err = NULL;
		c->cies = NULL;
		c->fdes = NULL;
		c->ncies = c->nfdes = 0;
		if (dwarf_get_fde_list_eh(c->dbg, &c->cies, &c->ncies, &c->fdes, &c->nfdes, &err) != DW_DLV_OK) {
			if (err)
				dwarf_dealloc_error(c->dbg, err);
			c->cies = NULL;
			c->fdes = NULL;
			c->ncies = c->nfdes = 0;
		}
	}
	return c;
}

void cfi_close_target(struct target *t)
{
	struct cfi *c = t->cfi;
	if (!c)
		return;
	if (c->dbg && (c->cies || c->fdes))
		dwarf_fde_cie_list_dealloc(c->dbg, c->cies, c->ncies, c->fdes, c->nfdes);
	free(c);
	t->cfi = NULL;
}

/* The value a rule gives a register: 1 with *v, 0 when the rule keeps the register as it
 * was (same value; for the callee-saved registers also "undefined"), -1 with a message. */
static int rule_value(const Dwarf_Regtable_Entry3 *rule, uint64_t cfa, const struct cfi_regs *r, cfi_read_fn rd,
		      void *arg, uint64_t *v, struct err *e)
{
	int64_t off = (int64_t)rule->dw_offset_or_block_len;
	if (rule->dw_regnum == DW_FRAME_SAME_VAL || rule->dw_regnum == DW_FRAME_UNDEFINED_VAL)
		return 0;
	switch (rule->dw_value_type) {
	case DW_EXPR_OFFSET:
		if (!rule->dw_offset_relevant) { /* register(R) */
			if (rule->dw_regnum >= CFI_NREGS || !(r->known & (1u << rule->dw_regnum)))
				return err_set(e, "a register saved in register %u, which is not known", rule->dw_regnum);
			*v = r->r[rule->dw_regnum];
			return 1;
		}
		if (!rd(arg, cfa + (uint64_t)off, v))
			return err_set(e, "cannot read the saved register at 0x%llx", (unsigned long long)(cfa + (uint64_t)off));
		return 1;
	case DW_EXPR_VAL_OFFSET:
		*v = cfa + (uint64_t)off;
		return 1;
	default:
		return err_set(e, "a register rule is a DWARF expression (not supported)");
	}
}

int cfi_step(struct target *t, struct cfi_regs *r, bool is_return, cfi_read_fn rd, void *arg, struct err *e)
{
	static const unsigned saved[] = { CFI_RBX, CFI_RBP, 12, 13, 14, 15 };
	Dwarf_Regtable_Entry3 rules[CFI_NREGS];
	Dwarf_Regtable3 tab = { .rt3_reg_table_size = CFI_NREGS, .rt3_rules = rules };
	struct cfi *c = cfi_get(t);
	struct cfi_regs caller = *r;
	Dwarf_Error err = NULL;
	Dwarf_Fde fde = NULL;
	Dwarf_Addr lo = 0, hi = 0, row = 0, pc;
	uint64_t cfa, v;
	int rc;
	if (!c->nfdes || !(r->known & (1u << CFI_RIP)))
		return 0;
	pc = r->r[CFI_RIP] - (is_return ? 1 : 0);
	rc = dwarf_get_fde_at_pc(c->fdes, pc, &fde, &lo, &hi, &err);
	if (rc != DW_DLV_OK) {
		if (err)
			dwarf_dealloc_error(c->dbg, err);
		return 0;
	}
	if (dwarf_get_fde_info_for_all_regs3(fde, pc, &tab, &row, &err) != DW_DLV_OK) {
		if (err)
			dwarf_dealloc_error(c->dbg, err);
		return err_set(e, "the FDE for 0x%llx does not decode", (unsigned long long)pc);
	}
	if (tab.rt3_cfa_rule.dw_value_type != DW_EXPR_OFFSET || !tab.rt3_cfa_rule.dw_offset_relevant)
		return err_set(e, "the CFA is a DWARF expression (not supported)");
	if (tab.rt3_cfa_rule.dw_regnum >= CFI_NREGS || !(r->known & (1u << tab.rt3_cfa_rule.dw_regnum)))
		return err_set(e, "the CFA is based on register %u, which is not known", tab.rt3_cfa_rule.dw_regnum);
	cfa = r->r[tab.rt3_cfa_rule.dw_regnum] + tab.rt3_cfa_rule.dw_offset_or_block_len;
	rc = rule_value(&rules[CFI_RIP], cfa, r, rd, arg, &v, e);
	if (rc < 0)
		return -1;
	caller.r[CFI_RIP] = rc > 0 ? v : 0; /* no return address (0 or undefined): the outermost frame */
	caller.r[CFI_RSP] = cfa;
	caller.known = r->known | 1u << CFI_RSP | 1u << CFI_RIP;
	/* the caller-saved registers are not known in the caller */
	caller.known &= ~(1u << 0 | 1u << 1 | 1u << 2 | 1u << 4 | 1u << 5 | 0xfu << 8);
	for (size_t i = 0; i < sizeof(saved) / sizeof(saved[0]); i++) {
		rc = rule_value(&rules[saved[i]], cfa, r, rd, arg, &v, e);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			caller.r[saved[i]] = v;
			caller.known |= 1u << saved[i];
		}
	}
	if (cfa <= r->r[CFI_RSP] && (r->known & (1u << CFI_RSP)))
		return err_set(e, "the CFA 0x%llx is not above the stack pointer", (unsigned long long)cfa);
	*r = caller;
	return 1;
}

bool cfi_covers(struct target *t, uint64_t pc)
{
	struct cfi *c = cfi_get(t);
	Dwarf_Error err = NULL;
	Dwarf_Fde fde = NULL;
	Dwarf_Addr lo, hi;
	if (!c->nfdes)
		return false;
	if (dwarf_get_fde_at_pc(c->fdes, pc, &fde, &lo, &hi, &err) == DW_DLV_OK)
		return true;
	if (err)
		dwarf_dealloc_error(c->dbg, err);
	return false;
}
