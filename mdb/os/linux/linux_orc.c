/* linux_orc: the kernel's ORC unwind tables (the vmlinux's .orc_unwind_ip and .orc_unwind,
 * read from the mapped file and relocated by the KASLR offset; a loaded module's from the
 * dump, mod->arch.orc_unwind_ip/orc_unwind/num_orcs, as the kernel's orc_module_find reads
 * them, on the first address in it) and one unwinding step as
 * arch/x86/kernel/unwind_orc.c takes it: the caller's stack pointer from sp or bp, then a
 * return address (CALL), a pt_regs frame (REGS) or an iret frame (REGS_PARTIAL), bp by its
 * rule; the end of the stack where ORC says so or at a return to user mode. Both layouts
 * of struct orc_entry: type:2 end:1 (before 6.3) and type:3 signal:1. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "linux.h"

enum { REG_UNDEFINED, REG_PREV_SP, REG_DX, REG_DI, REG_BP, REG_SP, REG_R10, REG_R13, REG_BP_INDIRECT, REG_SP_INDIRECT };
enum { T_CALL, T_REGS, T_REGS_PARTIAL, T_END, T_UNDEFINED }; /* normalized across the two layouts */
/* struct pt_regs: offsets of the registers an unwinder reads */
enum { PT_BP = 32, PT_R13 = 16, PT_R10 = 56, PT_DX = 96, PT_DI = 112, PT_IP = 128, PT_CS = 136, PT_SP = 152, PT_SIZE = 168 };

#define MAX_MODULE_ORCS (1u << 20) /* a module's num_orcs beyond this is not believed */

/* One table: the vmlinux's (link addresses) or a module's (addresses in the dump). */
struct orc_table {
	const uint8_t *ip, *entries; /* s32 offsets to each entry's address; 6-byte entries */
	size_t n;
	uint64_t ip_addr;            /* address of the ip table: entry i's is ip_addr + 4i + ip[i] */
	uint32_t *order;             /* entries sorted by address when the table's are not; else NULL */
};

struct linux_orc {
	struct dwarf_obj *obj;
	struct orc_table vm;
	bool new_layout;             /* type:3 signal:1 */
	uint64_t text[2][2];         /* link ranges ORC covers: _stext.._etext, _sinittext.._einittext */
};

struct orc_entry {
	int16_t sp_off, bp_off;
	unsigned sp_reg, bp_reg, type;
};

static uint64_t entry_ip(const struct orc_table *o, size_t i)
{
	int32_t rel;
	memcpy(&rel, o->ip + 4 * i, 4);
	return o->ip_addr + 4 * i + (uint64_t)(int64_t)rel;
}

static const struct orc_table *sort_key;
static int by_ip(const void *a, const void *b)
{
	uint64_t x = entry_ip(sort_key, *(const uint32_t *)a), y = entry_ip(sort_key, *(const uint32_t *)b);
	return (x > y) - (x < y);
}

void linux_orc_free(void *p)
{
	struct linux_orc *o = p;
	if (!o)
		return;
	dwarf_obj_close(o->obj);
	free(o->vm.order);
	free(o);
}

static struct linux_orc *orc_load(struct target *t, char *why, size_t len)
{
	struct linux_kernel *l = t->os_priv;
	struct linux_orc *o;
	struct dwarf_field f[] = { { .type = "orc_entry", .member = "signal" } };
	uint64_t ea;
	size_t isz, esz;
	void *dbg;
	if (l->orc)
		return l->orc;
	o = xcalloc(1, sizeof(*o));
	if (!t->symfile || !(o->obj = dwarf_obj_open(t->symfile, &dbg)) ||
	    !(o->vm.ip = dwarf_obj_section(o->obj, ".orc_unwind_ip", &o->vm.ip_addr, &isz)) ||
	    !(o->vm.entries = dwarf_obj_section(o->obj, ".orc_unwind", &ea, &esz)) || isz / 4 != esz / 6 || !isz) {
		snprintf(why, len, "the vmlinux has no ORC tables (.orc_unwind_ip, .orc_unwind)");
		linux_orc_free(o);
		return NULL;
	}
	o->vm.n = isz / 4;
	for (size_t i = 1; i < o->vm.n && !o->vm.order; i++)
		if (entry_ip(&o->vm, i) < entry_ip(&o->vm, i - 1)) { /* not sorted at build time: sort an index */
			o->vm.order = xcalloc(o->vm.n, sizeof(*o->vm.order));
			for (size_t k = 0; k < o->vm.n; k++)
				o->vm.order[k] = (uint32_t)k;
			sort_key = &o->vm;
			qsort(o->vm.order, o->vm.n, sizeof(*o->vm.order), by_ip);
		}
	dwarf_fields(t, NULL, f, 1);
	o->new_layout = f[0].off >= 0;
	{
		static const char *const names[2][2] = { { "_stext", "_etext" }, { "_sinittext", "_einittext" } };
		for (int r = 0; r < 2; r++)
			for (int k = 0; k < 2; k++) {
				uint64_t a = linux_sym(t, names[r][k]);
				o->text[r][k] = a ? a - l->kaslr : 0;
			}
	}
	l->orc = o;
	return o;
}

static bool rd(struct target *t, uint64_t va, uint64_t *v)
{
	return linux_read(t, va, v, 8);
}

/* The entry of table o for ip: the last one at or below it (as the kernel's __orc_find). */
static bool table_find(const struct orc_table *o, bool new_layout, uint64_t ip, struct orc_entry *e)
{
	size_t lo = 0, hi = o->n, found = SIZE_MAX;
	const uint8_t *p;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (entry_ip(o, o->order ? o->order[mid] : mid) <= ip) {
			found = mid;
			lo = mid + 1;
		} else {
			hi = mid;
		}
	}
	if (found == SIZE_MAX)
		return false;
	p = o->entries + 6 * (o->order ? o->order[found] : found);
	memcpy(&e->sp_off, p, 2);
	memcpy(&e->bp_off, p + 2, 2);
	e->sp_reg = p[4] & 15;
	e->bp_reg = p[4] >> 4;
	if (new_layout) { /* UNDEFINED 0, END_OF_STACK 1, CALL 2, REGS 3, REGS_PARTIAL 4 */
		static const unsigned map[8] = { T_UNDEFINED, T_END, T_CALL, T_REGS, T_REGS_PARTIAL, T_UNDEFINED, T_UNDEFINED,
						 T_UNDEFINED };
		e->type = map[p[5] & 7];
	} else { /* CALL 0, REGS 1, REGS_PARTIAL 2; end:1 counts where sp is undefined (6.1's unwinder) */
		bool end = (p[5] >> 2) & 1;
		e->type = e->sp_reg == REG_UNDEFINED ? (end ? T_END : T_UNDEFINED) : (p[5] & 3) == 3 ? T_UNDEFINED : (p[5] & 3);
	}
	return true;
}

/* The vmlinux's entry for link address ip: none outside its text. */
static bool orc_find(const struct linux_orc *o, uint64_t ip, struct orc_entry *e)
{
	if (!((ip >= o->text[0][0] && ip < o->text[0][1]) || (ip >= o->text[1][0] && ip < o->text[1][1])))
		return false; /* modules, BPF, user space: no ORC here */
	return table_find(&o->vm, o->new_layout, ip, e);
}

/* A module's table, read from the dump: num_orcs bounded, both arrays readable, and their
 * entries sorted (the kernel sorts them at load). NULL when none. */
static struct orc_table *module_table_load(struct target *t, const struct linux_module *m)
{
	enum { F_IP, F_ENTRIES, F_NUM, NF };
	struct dwarf_field f[NF] = {
		[F_IP] = { .type = "module", .member = "arch.orc_unwind_ip" },
		[F_ENTRIES] = { .type = "module", .member = "arch.orc_unwind" },
		[F_NUM] = { .type = "module", .member = "arch.num_orcs" },
	};
	uint64_t ip_at = 0, ent_at = 0;
	uint32_t n = 0;
	struct orc_table *o;
	uint8_t *buf;
	if (linux_fields(t, NULL, f, NF) < 0 || f[F_IP].off < 0 || f[F_ENTRIES].off < 0 || f[F_NUM].off < 0 ||
	    !linux_read(t, m->addr + (uint64_t)f[F_IP].off, &ip_at, 8) ||
	    !linux_read(t, m->addr + (uint64_t)f[F_ENTRIES].off, &ent_at, 8) ||
	    !linux_read(t, m->addr + (uint64_t)f[F_NUM].off, &n, 4) || !n || n > MAX_MODULE_ORCS || !ip_at || !ent_at)
		return NULL;
	o = xcalloc(1, sizeof(*o) + (size_t)n * 10); /* the struct, then n ips and n entries */
	buf = (uint8_t *)(o + 1);
	*o = (struct orc_table){ .ip = buf, .entries = buf + 4 * (size_t)n, .n = n, .ip_addr = ip_at };
	if (!linux_read(t, ip_at, buf, 4 * (size_t)n) || !linux_read(t, ent_at, buf + 4 * (size_t)n, 6 * (size_t)n))
		goto bad;
	for (size_t i = 1; i < n; i++) /* (the entries of init code point to memory freed since) */
		if (entry_ip(o, i) < entry_ip(o, i - 1))
			goto bad;
	return o;
bad:
	free(o);
	return NULL;
}

/* The entry of the loaded module whose memory holds ip (its table read on first use). */
static bool module_find(struct target *t, const struct linux_orc *o, uint64_t ip, struct orc_entry *e)
{
	struct linux_module *m = linux_module_at(t, ip);
	if (!m)
		return false;
	if (!m->orc_read) {
		m->orc_read = true;
		m->orc = module_table_load(t, m);
	}
	return m->orc && table_find(m->orc, o->new_layout, ip, e);
}

/* A register of the last full register set (the vCPU's, or a pt_regs frame's). */
static bool reg_of(const struct linux_unwind *s, unsigned reg, uint64_t *v)
{
	if (!s->regs_full)
		return false;
	*v = reg == REG_R10 ? s->r10 : reg == REG_R13 ? s->r13 : reg == REG_DI ? s->di : reg == REG_DX ? s->dx : s->reg_bp;
	return true;
}

/* The caller's stack pointer (the kernel's "sp" of the frame, a CFA) by the entry's rule. */
static int cfa_of(struct target *t, const struct linux_unwind *s, const struct orc_entry *e, uint64_t *sp)
{
	switch (e->sp_reg) {
	case REG_SP:
		*sp = s->sp + (uint64_t)(int64_t)e->sp_off;
		return 0;
	case REG_BP:
		*sp = s->bp + (uint64_t)(int64_t)e->sp_off;
		return 0;
	case REG_SP_INDIRECT:
		if (!rd(t, s->sp, sp))
			return -1;
		*sp += (uint64_t)(int64_t)e->sp_off;
		return 0;
	case REG_BP_INDIRECT:
		return rd(t, s->bp + (uint64_t)(int64_t)e->sp_off, sp) ? 0 : -1;
	case REG_R10:
	case REG_R13:
	case REG_DI:
	case REG_DX:
		return reg_of(s, e->sp_reg, sp) ? 0 : -1;
	default:
		return -1;
	}
}

int linux_orc_step(struct target *t, struct linux_unwind *s, char *why, size_t len)
{
	struct linux_orc *o = orc_load(t, why, len);
	struct linux_kernel *l = t->os_priv;
	struct orc_entry e;
	uint64_t cfa, ip, sp, bp = s->bp;
	if (!o)
		return -1;
	if (!orc_find(o, (s->signal ? s->ip : s->ip - 1) - l->kaslr, &e) &&
	    !module_find(t, o, s->signal ? s->ip : s->ip - 1, &e)) {
		snprintf(why, len, "no ORC data for 0x%" PRIx64 " (not in the kernel's text%s)", s->ip,
			 linux_module_at(t, s->ip) ? " nor in its module's ORC table" : " nor in a module");
		return -1;
	}
	if (e.type == T_END)
		return 0;
	if (e.type == T_UNDEFINED || cfa_of(t, s, &e, &cfa) < 0) {
		snprintf(why, len, "ORC gives no caller for 0x%" PRIx64 " (sp rule %u)", s->ip, e.sp_reg);
		return -1;
	}
	s->regs_at = 0;
	if (e.type == T_CALL) {
		if (!rd(t, cfa - 8, &ip))
			goto unreadable;
		sp = cfa;
		s->regs_full = false;
		s->signal = false;
	} else {
		/* REGS: cfa is a pt_regs; REGS_PARTIAL: cfa is its iret part (ip cs flags sp ss) */
		uint64_t base = e.type == T_REGS ? cfa : cfa - PT_IP, regs[PT_SIZE / 8];
		size_t from = e.type == T_REGS ? 0 : PT_IP;
		if (!linux_read(t, base + from, (uint8_t *)regs + from, PT_SIZE - from))
			goto unreadable;
		ip = regs[PT_IP / 8];
		sp = regs[PT_SP / 8];
		s->regs_at = base;
		s->user = (regs[PT_CS / 8] & 3) != 0;
		if (e.type == T_REGS) { /* else the previous full set, if any, stays (the kernel's prev_regs) */
			s->regs_full = true;
			s->r10 = regs[PT_R10 / 8];
			s->r13 = regs[PT_R13 / 8];
			s->di = regs[PT_DI / 8];
			s->dx = regs[PT_DX / 8];
			s->reg_bp = regs[PT_BP / 8];
		}
		s->signal = true;
	}
	switch (e.bp_reg) {
	case REG_UNDEFINED:
		reg_of(s, REG_BP, &bp);
		break;
	case REG_PREV_SP:
		if (!rd(t, cfa + (uint64_t)(int64_t)e.bp_off, &bp))
			goto unreadable;
		break;
	case REG_BP:
		if (!rd(t, s->bp + (uint64_t)(int64_t)e.bp_off, &bp))
			goto unreadable;
		break;
	default:
		break;
	}
	s->ip = ip;
	s->sp = sp;
	s->bp = bp;
	return s->user || !ip ? 0 : 1;
unreadable:
	snprintf(why, len, "cannot read the stack near 0x%" PRIx64, cfa);
	return -1;
}
