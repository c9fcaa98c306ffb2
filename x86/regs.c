/* regs: the x86-64 register table, the one description of struct x86_regs: names, offsets,
 * widths, gdb and DWARF numbers. gdb's 'g'/'p' packets and target.xml, hvmdb's $r and
 * <reg, and every converter read it; a register is added here (docs/arch-x86.md). */
#include <string.h>

#include "x86.h"

#define F(m) (int)offsetof(struct x86_regs, m), sizeof(((struct x86_regs *)0)->m)
/* name, gdb number, DWARF number, gdb type */
#define GPR(m, g, dw, type) { #m, F(m), g, 8, dw, X86_GDB_CORE, NULL, type, NULL, X86_REG_KVM | X86_REG_SHOWN }
#define CR(m, g, type) { #m, F(m), g, 8, -1, X86_GDB_SYS, NULL, type, "system", X86_REG_FULL | X86_REG_SHOWN }
#define SEG(m, g, dw, shown) { #m, F(m), g, 4, dw, X86_GDB_CORE, NULL, "int32", NULL, X86_REG_FULL | (shown) }
#define ST(n) { "st" #n, -1, 0, 24 + n, 10, 33 + n, X86_GDB_CORE, NULL, "i387_ext", NULL, X86_REG_ZERO }
#define FPU(name, g, dw) { name, -1, 0, g, 4, dw, X86_GDB_CORE, NULL, "int", "float", X86_REG_ZERO }

const struct x86_reg_desc x86_reg_table[] = {
	GPR(rax, 0, 0, "int64"), GPR(rbx, 1, 3, "int64"), GPR(rcx, 2, 2, "int64"), GPR(rdx, 3, 1, "int64"),
	GPR(rsi, 4, 4, "int64"), GPR(rdi, 5, 5, "int64"), GPR(rbp, 6, 6, "data_ptr"), GPR(rsp, 7, 7, "data_ptr"),
	GPR(r8, 8, 8, "int64"), GPR(r9, 9, 9, "int64"), GPR(r10, 10, 10, "int64"), GPR(r11, 11, 11, "int64"),
	GPR(r12, 12, 12, "int64"), GPR(r13, 13, 13, "int64"), GPR(r14, 14, 14, "int64"), GPR(r15, 15, 15, "int64"),
	GPR(rip, 16, 16, "code_ptr"), /* DWARF 16: the return address column */
	{ "rflags", F(rflags), 17, 4, 49, X86_GDB_CORE, "eflags", "i386_eflags", NULL, X86_REG_KVM | X86_REG_SHOWN },
	CR(cr0, 42, "i386_cr0"), CR(cr2, 43, "int64"), CR(cr3, 44, "int64"), CR(cr4, 45, "i386_cr4"),
	CR(efer, 47, "i386_efer"),
	{ "fs_base", F(fs_base), 40, 8, 58, X86_GDB_SEGMENTS, NULL, "int64", NULL, X86_REG_FULL | X86_REG_SHOWN },
	{ "gs_base", F(gs_base), 41, 8, 59, X86_GDB_SEGMENTS, NULL, "int64", NULL, X86_REG_FULL | X86_REG_SHOWN },
	SEG(cs, 18, 51, X86_REG_SHOWN), SEG(ss, 19, 52, X86_REG_SHOWN),
	/* hvmdb's $r --json ends here */
	SEG(ds, 20, 53, 0), SEG(es, 21, 50, 0), SEG(fs, 22, 54, 0), SEG(gs, 23, 55, 0),
	{ "cr8", F(cr8), 46, 8, -1, X86_GDB_SYS, NULL, "int64", "system", X86_REG_FULL },
	ST(0), ST(1), ST(2), ST(3), ST(4), ST(5), ST(6), ST(7),
	FPU("fctrl", 32, 65), FPU("fstat", 33, 66), FPU("ftag", 34, -1), FPU("fiseg", 35, -1),
	FPU("fioff", 36, -1), FPU("foseg", 37, -1), FPU("fooff", 38, -1), FPU("fop", 39, -1),
};
const size_t x86_reg_count = sizeof(x86_reg_table) / sizeof(x86_reg_table[0]);

const struct x86_reg_desc *x86_reg_by_name(const char *name)
{
	for (size_t i = 0; i < x86_reg_count; i++)
		if (!strcmp(x86_reg_table[i].name, name))
			return &x86_reg_table[i];
	return NULL;
}

const struct x86_reg_desc *x86_reg_by_gdb(unsigned n)
{
	for (size_t i = 0; i < x86_reg_count; i++)
		if (x86_reg_table[i].gdb == (int)n)
			return &x86_reg_table[i];
	return NULL;
}

const struct x86_reg_desc *x86_reg_by_dwarf(unsigned n)
{
	for (size_t i = 0; i < x86_reg_count; i++)
		if (x86_reg_table[i].dwarf == (int)n)
			return &x86_reg_table[i];
	return NULL;
}

uint64_t x86_reg_get(const struct x86_regs *r, const struct x86_reg_desc *d)
{
	const char *p = (const char *)r + d->off;
	if (d->off < 0)
		return 0;
	if (d->size == 2) {
		uint16_t v;
		memcpy(&v, p, 2);
		return v;
	}
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
}

void x86_reg_set(struct x86_regs *r, const struct x86_reg_desc *d, uint64_t v)
{
	char *p = (char *)r + d->off;
	if (d->off < 0)
		return;
	if (d->size == 2) {
		uint16_t v16 = (uint16_t)v;
		memcpy(p, &v16, 2);
	} else {
		memcpy(p, &v, 8);
	}
}

bool x86_canonical(uint64_t va)
{
	return pagewalk_canonical(va, 4);
}
