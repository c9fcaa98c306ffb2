/* gdbregs: the register layout gdb is told about (target.xml) and the same layout in 'g'
 * and 'p' packets: one table drives both, so they cannot disagree. */
#include "internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { F_CORE, F_SEGMENTS, F_SYS, F_COUNT };

static const char *const feature_names[F_COUNT] = {
	"org.gnu.gdb.i386.core", "org.gnu.gdb.i386.segments", "org.gnu.gdb.i386.sys",
};

/* Flags types, "NAME:BIT ..." (an empty name keeps gdb's reserved bit 1 of eflags). */
static const struct {
	int feature;
	const char *id, *fields;
} flag_types[] = {
	{ F_CORE, "i386_eflags", "CF:0 :1 PF:2 AF:4 ZF:6 SF:7 TF:8 IF:9 DF:10 OF:11 NT:14 RF:16 VM:17 AC:18 VIF:19 VIP:20 ID:21" },
	{ F_SYS, "i386_cr0", "PE:0 MP:1 EM:2 TS:3 ET:4 NE:5 WP:16 AM:18 NW:29 CD:30 PG:31" },
	{ F_SYS, "i386_cr4", "VME:0 PVI:1 TSD:2 DE:3 PSE:4 PAE:5 MCE:6 PGE:7 PCE:8 OSFXSR:9 OSXMMEXCPT:10 "
			     "UMIP:11 LA57:12 VMXE:13 SMXE:14 FSGSBASE:16 PCIDE:17 OSXSAVE:18 SMEP:20 SMAP:21 PKE:22" },
	{ F_SYS, "i386_efer", "SCE:0 LME:8 LMA:10 NXE:11 SVME:12 LMSLE:13 FFXSR:14 TCE:15" },
};

struct reg {
	const char *name;
	uint8_t bytes;   /* on the wire */
	uint8_t feature;
	const char *type, *group;
	int off;         /* in struct gdbstub_regs; -1: reads as zero, writes ignored */
	uint8_t field;   /* the member's size there */
};

#define OFF(m) (int)offsetof(struct gdbstub_regs, m), sizeof(((struct gdbstub_regs *)0)->m)
#define GPR(m, type) { #m, 8, F_CORE, type, NULL, OFF(m) }
#define SEG(m) { #m, 4, F_CORE, "int32", NULL, OFF(m) }
#define ST(n) { "st" #n, 10, F_CORE, "i387_ext", NULL, -1, 0 }
#define FPU(name) { name, 4, F_CORE, "int", "float", -1, 0 }
#define SYS(m, type) { #m, 8, F_SYS, type, "system", OFF(m) }

static const struct reg regs[] = {
	GPR(rax, "int64"), GPR(rbx, "int64"), GPR(rcx, "int64"), GPR(rdx, "int64"),
	GPR(rsi, "int64"), GPR(rdi, "int64"), GPR(rbp, "data_ptr"), GPR(rsp, "data_ptr"),
	GPR(r8, "int64"), GPR(r9, "int64"), GPR(r10, "int64"), GPR(r11, "int64"),
	GPR(r12, "int64"), GPR(r13, "int64"), GPR(r14, "int64"), GPR(r15, "int64"),
	GPR(rip, "code_ptr"),
	{ "eflags", 4, F_CORE, "i386_eflags", NULL, OFF(rflags) },
	SEG(cs), SEG(ss), SEG(ds), SEG(es), SEG(fs), SEG(gs),
	ST(0), ST(1), ST(2), ST(3), ST(4), ST(5), ST(6), ST(7),
	FPU("fctrl"), FPU("fstat"), FPU("ftag"), FPU("fiseg"),
	FPU("fioff"), FPU("foseg"), FPU("fooff"), FPU("fop"),
	{ "fs_base", 8, F_SEGMENTS, "int64", NULL, OFF(fs_base) },
	{ "gs_base", 8, F_SEGMENTS, "int64", NULL, OFF(gs_base) },
	SYS(cr0, "i386_cr0"), SYS(cr2, "int64"), SYS(cr3, "int64"), SYS(cr4, "i386_cr4"),
	SYS(cr8, "int64"), SYS(efer, "i386_efer"),
};
#define NREGS (sizeof(regs) / sizeof(regs[0]))

size_t regs_count(void)
{
	return NREGS;
}

size_t regs_size(unsigned n)
{
	return n < NREGS ? regs[n].bytes : 0;
}

size_t regs_g_size(void)
{
	size_t n = 0;
	for (unsigned i = 0; i < NREGS; i++)
		n += regs[i].bytes;
	return n;
}

void regs_get_one(const struct gdbstub_regs *r, unsigned n, uint8_t *out)
{
	const struct reg *d = &regs[n];
	uint64_t v = 0;
	if (d->off >= 0 && d->field == 4) {
		uint32_t v32;
		memcpy(&v32, (const char *)r + d->off, 4);
		v = v32;
	} else if (d->off >= 0) {
		memcpy(&v, (const char *)r + d->off, 8);
	}
	for (unsigned i = 0; i < d->bytes; i++) /* little-endian, zero beyond 64 bits */
		out[i] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0;
}

void regs_set_one(struct gdbstub_regs *r, unsigned n, const uint8_t *in)
{
	const struct reg *d = &regs[n];
	uint64_t v = 0;
	if (d->off < 0)
		return;
	for (unsigned i = 0; i < d->bytes && i < 8; i++)
		v |= (uint64_t)in[i] << (8 * i);
	if (d->field == 4) {
		uint32_t v32 = (uint32_t)v;
		memcpy((char *)r + d->off, &v32, 4);
	} else {
		memcpy((char *)r + d->off, &v, 8);
	}
}

void regs_to_g(const struct gdbstub_regs *r, uint8_t *out)
{
	for (unsigned i = 0; i < NREGS; i++) {
		regs_get_one(r, i, out);
		out += regs[i].bytes;
	}
}

void regs_from_g(struct gdbstub_regs *r, const uint8_t *in)
{
	for (unsigned i = 0; i < NREGS; i++) {
		regs_set_one(r, i, in);
		in += regs[i].bytes;
	}
}

static char xml[8192];
static size_t xml_len;

static void xml_put(const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(xml + xml_len, sizeof(xml) - xml_len, fmt, ap);
	va_end(ap);
	if (n > 0)
		xml_len += (size_t)n;
	if (xml_len >= sizeof(xml)) /* cannot happen with the table above; stay bounded */
		xml_len = sizeof(xml) - 1;
}

static void xml_flags(const char *id, const char *fields)
{
	char name[16];
	int bit, used;
	xml_put("  <flags id=\"%s\" size=\"%d\">\n", id, strcmp(id, "i386_eflags") ? 8 : 4);
	while (sscanf(fields, " %15[A-Z0-9]:%d%n", name, &bit, &used) == 2 ||
	       (name[0] = 0, sscanf(fields, " :%d%n", &bit, &used) == 1)) {
		xml_put("    <field name=\"%s\" start=\"%d\" end=\"%d\"/>\n", name, bit, bit);
		fields += used;
	}
	xml_put("  </flags>\n");
}

static void xml_build(void)
{
	xml_put("<?xml version=\"1.0\"?>\n<!DOCTYPE target SYSTEM \"gdb-target.dtd\">\n"
		"<target version=\"1.0\">\n  <architecture>i386:x86-64</architecture>\n");
	for (int f = 0; f < F_COUNT; f++) {
		xml_put("<feature name=\"%s\">\n", feature_names[f]);
		for (size_t t = 0; t < sizeof(flag_types) / sizeof(flag_types[0]); t++)
			if (flag_types[t].feature == f)
				xml_flags(flag_types[t].id, flag_types[t].fields);
		for (unsigned i = 0; i < NREGS; i++) {
			if (regs[i].feature != f)
				continue;
			xml_put("  <reg name=\"%s\" bitsize=\"%d\" type=\"%s\"", regs[i].name, regs[i].bytes * 8,
				regs[i].type);
			if (regs[i].group)
				xml_put(" group=\"%s\"", regs[i].group);
			xml_put("/>\n");
		}
		xml_put("</feature>\n");
	}
	xml_put("</target>\n");
}

const char *regs_target_xml(size_t *len)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, xml_build);
	*len = xml_len;
	return xml;
}
