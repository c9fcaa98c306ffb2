/* gdbregs: the register layout gdb is told about (target.xml) and the same layout in 'g'
 * and 'p' packets, both from x86/'s register table (its gdb columns), so they cannot
 * disagree. */
#include "internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const feature_names[X86_GDB_NFEATURES] = {
	"org.gnu.gdb.i386.core", "org.gnu.gdb.i386.segments", "org.gnu.gdb.i386.sys",
};

/* Flags types, "NAME:BIT ..." (an empty name keeps gdb's reserved bit 1 of eflags). */
static const struct {
	int feature;
	const char *id, *fields;
} flag_types[] = {
	{ X86_GDB_CORE, "i386_eflags", "CF:0 :1 PF:2 AF:4 ZF:6 SF:7 TF:8 IF:9 DF:10 OF:11 NT:14 RF:16 VM:17 AC:18 VIF:19 VIP:20 ID:21" },
	{ X86_GDB_SYS, "i386_cr0", "PE:0 MP:1 EM:2 TS:3 ET:4 NE:5 WP:16 AM:18 NW:29 CD:30 PG:31" },
	{ X86_GDB_SYS, "i386_cr4", "VME:0 PVI:1 TSD:2 DE:3 PSE:4 PAE:5 MCE:6 PGE:7 PCE:8 OSFXSR:9 OSXMMEXCPT:10 "
			     "UMIP:11 LA57:12 VMXE:13 SMXE:14 FSGSBASE:16 PCIDE:17 OSXSAVE:18 SMEP:20 SMAP:21 PKE:22" },
	{ X86_GDB_SYS, "i386_efer", "SCE:0 LME:8 LMA:10 NXE:11 SVME:12 LMSLE:13 FFXSR:14 TCE:15" },
};

size_t regs_count(void)
{
	return X86_GDB_NREGS;
}

size_t regs_size(unsigned n)
{
	const struct x86_reg_desc *d = x86_reg_by_gdb(n);
	return d ? d->gdb_size : 0;
}

size_t regs_g_size(void)
{
	size_t n = 0;
	for (unsigned i = 0; i < X86_GDB_NREGS; i++)
		n += regs_size(i);
	return n;
}

void regs_get_one(const struct x86_regs *r, unsigned n, uint8_t *out)
{
	const struct x86_reg_desc *d = x86_reg_by_gdb(n);
	uint64_t v = x86_reg_get(r, d);
	for (unsigned i = 0; i < d->gdb_size; i++) /* little-endian, zero beyond 64 bits */
		out[i] = i < 8 ? (uint8_t)(v >> (8 * i)) : 0;
}

void regs_set_one(struct x86_regs *r, unsigned n, const uint8_t *in)
{
	const struct x86_reg_desc *d = x86_reg_by_gdb(n);
	uint64_t v = 0;
	for (unsigned i = 0; i < d->gdb_size && i < 8; i++)
		v |= (uint64_t)in[i] << (8 * i);
	x86_reg_set(r, d, v);
}

void regs_to_g(const struct x86_regs *r, uint8_t *out)
{
	for (unsigned i = 0; i < X86_GDB_NREGS; i++) {
		regs_get_one(r, i, out);
		out += regs_size(i);
	}
}

void regs_from_g(struct x86_regs *r, const uint8_t *in)
{
	for (unsigned i = 0; i < X86_GDB_NREGS; i++) {
		regs_set_one(r, i, in);
		in += regs_size(i);
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
	for (int f = 0; f < X86_GDB_NFEATURES; f++) {
		xml_put("<feature name=\"%s\">\n", feature_names[f]);
		for (size_t t = 0; t < sizeof(flag_types) / sizeof(flag_types[0]); t++)
			if (flag_types[t].feature == f)
				xml_flags(flag_types[t].id, flag_types[t].fields);
		for (unsigned i = 0; i < X86_GDB_NREGS; i++) {
			const struct x86_reg_desc *d = x86_reg_by_gdb(i);
			if (d->gdb_feature != f)
				continue;
			xml_put("  <reg name=\"%s\" bitsize=\"%d\" type=\"%s\"", d->gdb_name ? d->gdb_name : d->name,
				d->gdb_size * 8, d->gdb_type);
			if (d->gdb_group)
				xml_put(" group=\"%s\"", d->gdb_group);
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
