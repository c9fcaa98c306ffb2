/* Unit tests for x86/'s register table: every gdb number once and the 'g' size gdb
 * expects, names and DWARF numbers unique, offsets inside struct x86_regs, the lookups,
 * get/set widths, hvmdb's $r --json order, canonical addresses, and dump_cpu's
 * conversion both ways. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dump/dump.h"
#include "x86/x86.h"

static void test_table_consistent(void **state)
{
	bool gdb_seen[X86_GDB_NREGS] = { false }, dwarf_seen[128] = { false };
	size_t g_bytes = 0;
	(void)state;
	for (size_t i = 0; i < x86_reg_count; i++) {
		const struct x86_reg_desc *d = &x86_reg_table[i];
		assert_non_null(d->name);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(d->name, x86_reg_table[j].name);
		if (d->flags & X86_REG_ZERO) {
			assert_int_equal(d->off, -1);
		} else {
			assert_true(d->off >= 0 && d->size && d->off + d->size <= (int)sizeof(struct x86_regs));
			assert_true(d->size == 8 || d->size == 2);
		}
		assert_true(d->gdb >= -1 && d->gdb < X86_GDB_NREGS);
		if (d->gdb >= 0) {
			assert_false(gdb_seen[d->gdb]);
			gdb_seen[d->gdb] = true;
			g_bytes += d->gdb_size;
			assert_true(d->gdb_size && d->gdb_feature < X86_GDB_NFEATURES && d->gdb_type);
		}
		if (d->dwarf >= 0) {
			assert_true(d->dwarf < 128);
			assert_false(dwarf_seen[d->dwarf]);
			dwarf_seen[d->dwarf] = true;
		}
	}
	for (unsigned n = 0; n < X86_GDB_NREGS; n++) /* dense: gdbregs.c walks 0..X86_GDB_NREGS-1 */
		assert_true(gdb_seen[n]);
	assert_int_equal(g_bytes, 340); /* the 'g' reply gdb's i386:x86-64 core+segments+sys expects */
	/* every field of struct x86_regs is described */
	size_t covered = 0;
	for (size_t i = 0; i < x86_reg_count; i++)
		covered += x86_reg_table[i].flags & X86_REG_ZERO ? 0 : x86_reg_table[i].size;
	assert_int_equal(covered, offsetof(struct x86_regs, gs) + sizeof(((struct x86_regs *)0)->gs));
}

static void test_lookups(void **state)
{
	const struct x86_reg_desc *d;
	(void)state;
	assert_int_equal(x86_reg_by_name("rip")->gdb, 16);
	assert_int_equal(x86_reg_by_name("rip")->dwarf, 16);
	d = x86_reg_by_gdb(17);
	assert_string_equal(d->name, "rflags");
	assert_string_equal(d->gdb_name, "eflags");
	assert_int_equal(d->gdb_size, 4);
	assert_string_equal(x86_reg_by_gdb(0)->name, "rax");
	assert_string_equal(x86_reg_by_gdb(18)->name, "cs");
	assert_string_equal(x86_reg_by_gdb(40)->name, "fs_base");
	assert_string_equal(x86_reg_by_gdb(47)->name, "efer");
	assert_string_equal(x86_reg_by_dwarf(1)->name, "rdx");
	assert_string_equal(x86_reg_by_dwarf(3)->name, "rbx");
	assert_string_equal(x86_reg_by_dwarf(7)->name, "rsp");
	assert_string_equal(x86_reg_by_dwarf(49)->name, "rflags");
	assert_null(x86_reg_by_name("eax"));
	assert_null(x86_reg_by_name(""));
	assert_null(x86_reg_by_gdb(X86_GDB_NREGS));
	assert_null(x86_reg_by_dwarf(17)); /* xmm0: not described */
	assert_true(x86_reg_by_name("r15")->flags & X86_REG_KVM);
	assert_false(x86_reg_by_name("cr3")->flags & X86_REG_KVM);
}

static void test_get_set(void **state)
{
	struct x86_regs r;
	(void)state;
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < x86_reg_count; i++)
		x86_reg_set(&r, &x86_reg_table[i], 0x1111111111111111ull * (i % 15 + 1));
	for (size_t i = 0; i < x86_reg_count; i++) { /* each kept its own value: no overlaps */
		const struct x86_reg_desc *d = &x86_reg_table[i];
		uint64_t v = 0x1111111111111111ull * (i % 15 + 1);
		if (!(d->flags & X86_REG_ZERO))
			assert_int_equal(x86_reg_get(&r, d), d->size == 2 ? v & 0xffff : v);
	}
	assert_int_equal(r.rax, 0x1111111111111111ull);
	assert_int_equal(x86_reg_get(&r, x86_reg_by_name("rip")), r.rip);
	assert_int_equal(x86_reg_get(&r, x86_reg_by_name("cr3")), r.cr3);
	assert_int_equal(x86_reg_get(&r, x86_reg_by_name("gs_base")), r.gs_base);
	x86_reg_set(&r, x86_reg_by_name("cs"), 0x123456789ull); /* a selector keeps 16 bits */
	assert_int_equal(r.cs, 0x6789);
	assert_int_equal(x86_reg_get(&r, x86_reg_by_name("cs")), 0x6789);
	x86_reg_set(&r, x86_reg_by_name("ss"), 0x2b);
	assert_int_equal(r.ss, 0x2b);
	assert_int_equal(r.cs, 0x6789); /* its neighbour untouched */
	struct x86_regs before = r;
	x86_reg_set(&r, x86_reg_by_name("st0"), 42); /* no storage: ignored, reads zero */
	assert_memory_equal(&before, &r, sizeof(r));
	assert_int_equal(x86_reg_get(&r, x86_reg_by_name("st0")), 0);
}

static void test_json_order(void **state)
{
	static const char *const want[] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9",
					    "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags", "cr0", "cr2",
					    "cr3", "cr4", "efer", "fs_base", "gs_base", "cs", "ss" };
	size_t n = 0, partial = 0;
	(void)state;
	for (size_t i = 0; i < x86_reg_count; i++) {
		const struct x86_reg_desc *d = &x86_reg_table[i];
		if (!(d->flags & X86_REG_SHOWN))
			continue;
		assert_true(n < sizeof(want) / sizeof(want[0]));
		assert_string_equal(d->name, want[n]);
		n++;
		partial += !(d->flags & X86_REG_FULL);
	}
	assert_int_equal(n, sizeof(want) / sizeof(want[0]));
	assert_int_equal(partial, 18); /* an NT_PRSTATUS-only target shows rax..rflags */
}

static void test_canonical(void **state)
{
	(void)state;
	assert_true(x86_canonical(0x00007fffffffffffull));
	assert_true(x86_canonical(0xffff800000000000ull));
	assert_true(x86_canonical(0));
	assert_false(x86_canonical(0x0000800000000000ull));
	assert_false(x86_canonical(0xff00000000000000ull));
}

static void test_dump_cpu(void **state)
{
	struct dump_cpu c;
	struct x86_regs r, back;
	(void)state;
	memset(&r, 0, sizeof(r));
	for (size_t i = 0; i < x86_reg_count; i++)
		x86_reg_set(&r, &x86_reg_table[i], 0x0101010101010101ull * (i + 1));
	memset(&c, 0, sizeof(c));
	dump_cpu_from_x86(&c, &r);
	assert_int_equal(c.rip, r.rip);
	assert_int_equal(c.fs.base, r.fs_base);
	assert_int_equal(c.ds.selector, r.ds);
	memset(&back, 0, sizeof(back)); /* what to_x86 leaves alone is compared too */
	dump_cpu_to_x86(&c, &back);
	assert_memory_equal(&r, &back, sizeof(r));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_consistent), cmocka_unit_test(test_lookups), cmocka_unit_test(test_get_set),
		cmocka_unit_test(test_json_order),       cmocka_unit_test(test_canonical), cmocka_unit_test(test_dump_cpu),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
