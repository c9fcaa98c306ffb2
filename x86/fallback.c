/* fallback: completing the instructions a host's emulator rejects (x86.h says which and
 * why), as the CPU would: the same checks, the same exceptions, the same results. */
#include "x86.h"

#include <capstone/capstone.h>
#include <stdio.h>
#include <string.h>

#define CR0_MP (1ull << 1)
#define CR0_EM (1ull << 2)
#define CR0_TS (1ull << 3)
#define CR4_OSFXSR (1ull << 9)
#define FSW_ES 0x80u
#define MXCSR_DEFAULT_MASK 0xffbfu

enum { VEC_DB = 1, VEC_BP = 3, VEC_UD = 6, VEC_NM = 7, VEC_NP = 11, VEC_GP = 13, VEC_PF = 14, VEC_MF = 16 };

static enum x86_fb_result raise(struct x86_fb_event *ev, uint8_t vector, bool has_error, uint32_t error)
{
	*ev = (struct x86_fb_event){ .vector = vector, .has_error = has_error, .error = error };
	return X86_FB_INJECT;
}

static bool reg_value(const struct x86_regs *r, uint64_t next_rip, x86_reg reg, uint64_t *out)
{
	static const struct {
		x86_reg r64, r32;
		size_t off;
	} gprs[] = {
		{ X86_REG_RAX, X86_REG_EAX, offsetof(struct x86_regs, rax) },
		{ X86_REG_RBX, X86_REG_EBX, offsetof(struct x86_regs, rbx) },
		{ X86_REG_RCX, X86_REG_ECX, offsetof(struct x86_regs, rcx) },
		{ X86_REG_RDX, X86_REG_EDX, offsetof(struct x86_regs, rdx) },
		{ X86_REG_RSI, X86_REG_ESI, offsetof(struct x86_regs, rsi) },
		{ X86_REG_RDI, X86_REG_EDI, offsetof(struct x86_regs, rdi) },
		{ X86_REG_RBP, X86_REG_EBP, offsetof(struct x86_regs, rbp) },
		{ X86_REG_RSP, X86_REG_ESP, offsetof(struct x86_regs, rsp) },
		{ X86_REG_R8, X86_REG_R8D, offsetof(struct x86_regs, r8) },
		{ X86_REG_R9, X86_REG_R9D, offsetof(struct x86_regs, r9) },
		{ X86_REG_R10, X86_REG_R10D, offsetof(struct x86_regs, r10) },
		{ X86_REG_R11, X86_REG_R11D, offsetof(struct x86_regs, r11) },
		{ X86_REG_R12, X86_REG_R12D, offsetof(struct x86_regs, r12) },
		{ X86_REG_R13, X86_REG_R13D, offsetof(struct x86_regs, r13) },
		{ X86_REG_R14, X86_REG_R14D, offsetof(struct x86_regs, r14) },
		{ X86_REG_R15, X86_REG_R15D, offsetof(struct x86_regs, r15) },
	};
	if (reg == X86_REG_INVALID) {
		*out = 0;
		return true;
	}
	if (reg == X86_REG_RIP || reg == X86_REG_EIP) {
		*out = reg == X86_REG_EIP ? (uint32_t)next_rip : next_rip;
		return true;
	}
	for (size_t i = 0; i < sizeof(gprs) / sizeof(gprs[0]); i++) {
		uint64_t v;
		if (reg != gprs[i].r64 && reg != gprs[i].r32)
			continue;
		memcpy(&v, (const char *)r + gprs[i].off, sizeof(v));
		*out = reg == gprs[i].r32 ? (uint32_t)v : v;
		return true;
	}
	return false;
}

/* The linear address of a memory operand: segment base (FS/GS only, in 64-bit mode) plus
 * base + index * scale + displacement, truncated to the address size. */
static bool mem_address(const struct x86_fb_cpu *c, const cs_insn *in, const cs_x86_op *op, uint64_t *va)
{
	uint64_t next = c->r.rip + in->size, base, index, ea;
	if (!reg_value(&c->r, next, op->mem.base, &base) || !reg_value(&c->r, next, op->mem.index, &index))
		return false;
	ea = base + index * (uint64_t)op->mem.scale + (uint64_t)op->mem.disp;
	if (in->detail->x86.addr_size == 4)
		ea = (uint32_t)ea;
	if (op->mem.segment == X86_REG_FS)
		ea += c->r.fs_base;
	else if (op->mem.segment == X86_REG_GS)
		ea += c->r.gs_base;
	*va = ea;
	return true;
}

/* A page fault at va as the CPU reports it: the error code's write and user bits (the
 * translation failed, so "present" is not claimed). */
static enum x86_fb_result page_fault(const struct x86_fb_cpu *c, uint64_t va, bool write, struct x86_fb_event *ev)
{
	raise(ev, VEC_PF, true, (write ? 2u : 0u) | (c->cpl == 3 ? 4u : 0u));
	ev->cr2 = va;
	ev->has_cr2 = true;
	return X86_FB_INJECT;
}

/* int3 and int N through the IDT as the CPU delivers them: a gate outside the IDT, not
 * present or of a DPL below the CPL is #GP/#NP with the IDT error code. */
static enum x86_fb_result soft_interrupt(struct x86_fb_cpu *c, const cs_insn *in, uint8_t vector,
					 const struct x86_fb_mem *m, struct x86_fb_event *ev)
{
	uint8_t gate[16];
	uint32_t idt_error = ((uint32_t)vector << 3) | 2u;
	unsigned type, dpl;

	if ((uint32_t)vector * 16u + 15u > c->idt_limit || m->read(m->opaque, c->idt_base + (uint64_t)vector * 16u, gate, sizeof(gate)) < 0)
		return raise(ev, VEC_GP, true, idt_error);
	type = gate[5] & 0xfu;
	dpl = (gate[5] >> 5) & 3u;
	if (type != 0xe && type != 0xf)
		return raise(ev, VEC_GP, true, idt_error);
	if (c->cpl > dpl)
		return raise(ev, VEC_GP, true, idt_error);
	if (!(gate[5] & 0x80u))
		return raise(ev, VEC_NP, true, idt_error);
	c->r.rip += in->size; /* a trap: the handler returns after the instruction */
	*ev = (struct x86_fb_event){ .vector = vector, .soft = true };
	return X86_FB_INJECT;
}

static enum x86_fb_result do_fwait(struct x86_fb_cpu *c, const cs_insn *in, struct x86_fb_event *ev)
{
	if ((c->r.cr0 & (CR0_MP | CR0_TS)) == (CR0_MP | CR0_TS))
		return raise(ev, VEC_NM, false, 0);
	if (c->fsw & FSW_ES) /* an unmasked x87 exception is pending */
		return raise(ev, VEC_MF, false, 0);
	c->r.rip += in->size;
	return X86_FB_DONE;
}

static enum x86_fb_result do_mxcsr(struct x86_fb_cpu *c, const cs_insn *in, bool load, const struct x86_fb_mem *m,
				   struct x86_fb_event *ev, unsigned *changed, char *name, size_t namelen)
{
	const cs_x86 *x = &in->detail->x86;
	uint32_t mask = c->mxcsr_mask ? c->mxcsr_mask : MXCSR_DEFAULT_MASK, val;
	uint64_t va;

	if (x->prefix[0] == X86_PREFIX_LOCK || (c->r.cr0 & CR0_EM) || !(c->r.cr4 & CR4_OSFXSR))
		return raise(ev, VEC_UD, false, 0);
	if (c->r.cr0 & CR0_TS)
		return raise(ev, VEC_NM, false, 0);
	if (x->op_count != 1 || x->operands[0].type != X86_OP_MEM || !mem_address(c, in, &x->operands[0], &va)) {
		snprintf(name, namelen, "%s with an operand not decoded", in->mnemonic);
		return X86_FB_UNKNOWN;
	}
	if (load) {
		if (m->read(m->opaque, va, &val, sizeof(val)) < 0)
			return page_fault(c, va, false, ev);
		if (val & ~mask)
			return raise(ev, VEC_GP, true, 0);
		c->mxcsr = val;
		*changed |= X86_FB_MXCSR_CHANGED;
	} else {
		val = c->mxcsr;
		if (m->write(m->opaque, va, &val, sizeof(val)) < 0)
			return page_fault(c, va, true, ev);
	}
	c->r.rip += in->size;
	return X86_FB_DONE;
}

enum x86_fb_result x86_fallback(struct x86_fb_cpu *c, const uint8_t *insn, size_t len,
				const struct x86_fb_mem *m, struct x86_fb_event *ev, unsigned *changed,
				char *name, size_t namelen)
{
	enum x86_fb_result res = X86_FB_UNKNOWN;
	csh h;
	cs_insn *in = NULL;

	*changed = 0;
	memset(ev, 0, sizeof(*ev));
	snprintf(name, namelen, "an instruction not decoded");
	if (!c->long64) {
		snprintf(name, namelen, "an instruction outside 64-bit code");
		return X86_FB_UNKNOWN;
	}
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return X86_FB_UNKNOWN;
	cs_option(h, CS_OPT_DETAIL, CS_OPT_ON);
	if (cs_disasm(h, insn, len, c->r.rip, 1, &in) != 1)
		goto out;
	snprintf(name, namelen, "%s%s%s", in->mnemonic, in->op_str[0] ? " " : "", in->op_str);
	switch (in->id) {
	case X86_INS_INT3:
		res = soft_interrupt(c, in, VEC_BP, m, ev);
		break;
	case X86_INS_INT:
		res = soft_interrupt(c, in, (uint8_t)in->detail->x86.operands[0].imm, m, ev);
		break;
	case X86_INS_INT1: /* icebp: #DB as a trap, without the DPL check */
		c->r.rip += in->size;
		*ev = (struct x86_fb_event){ .vector = VEC_DB, .soft = true };
		res = X86_FB_INJECT;
		break;
	case X86_INS_WAIT:
		res = do_fwait(c, in, ev);
		break;
	case X86_INS_LDMXCSR:
	case X86_INS_STMXCSR:
		res = do_mxcsr(c, in, in->id == X86_INS_LDMXCSR, m, ev, changed, name, namelen);
		break;
	default:
		break;
	}
	if (res != X86_FB_UNKNOWN)
		snprintf(name, namelen, "%s", in->mnemonic);
out:
	if (in)
		cs_free(in, 1);
	cs_close(&h);
	return res;
}
