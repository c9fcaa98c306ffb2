/* Unit tests for x86/fallback.c, the instructions hv completes when the host's emulator
 * rejects them: per instruction the result the CPU gives (rip, MXCSR, memory) and each
 * exception it raises instead (#BP and int N through the IDT with its DPL check, #GP/#NP
 * with the IDT error code, #NM, #MF, #UD, #PF with CR2), and what is not ours. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "x86/x86.h"

#define MEM_BASE 0xffff888000001000ull
#define IDT_VA (MEM_BASE + 0x800)

/* Two pages of guest memory at MEM_BASE; everything else is unmapped. */
static uint8_t page[8192];

static int mem_read(void *o, uint64_t va, void *buf, size_t len)
{
	(void)o;
	if (va < MEM_BASE || va + len > MEM_BASE + sizeof(page))
		return -1;
	memcpy(buf, page + (va - MEM_BASE), len);
	return 0;
}

static int mem_write(void *o, uint64_t va, const void *buf, size_t len)
{
	(void)o;
	if (va < MEM_BASE || va + len > MEM_BASE + sizeof(page))
		return -1;
	memcpy(page + (va - MEM_BASE), buf, len);
	return 0;
}

static const struct x86_fb_mem mem = { .read = mem_read, .write = mem_write };

/* An interrupt gate for vector v with the given DPL and present bit. */
static void set_gate(unsigned v, unsigned dpl, bool present, unsigned type)
{
	uint8_t *g = page + (IDT_VA - MEM_BASE) + v * 16;
	memset(g, 0, 16);
	g[2] = 0x10; /* selector */
	g[5] = (uint8_t)((present ? 0x80 : 0) | (dpl << 5) | type);
}

static struct x86_fb_cpu cpu(void)
{
	struct x86_fb_cpu c;
	memset(&c, 0, sizeof(c));
	c.r.rip = 0xffffffff81000000ull;
	c.r.cr0 = 0x80050033ull; /* PG WP NE ET MP PE */
	c.r.cr4 = 1ull << 9;     /* OSFXSR */
	c.idt_base = IDT_VA;
	c.idt_limit = 0x7f * 16 + 15; /* vectors 0..127 */
	c.long64 = true;
	c.mxcsr = 0x1f80;
	c.mxcsr_mask = 0xffff;
	return c;
}

static enum x86_fb_result run(struct x86_fb_cpu *c, const uint8_t *b, size_t n, struct x86_fb_event *ev, unsigned *ch,
			      char *name)
{
	return x86_fallback(c, b, n, &mem, ev, ch, name, 96);
}

static void setup_page(void)
{
	memset(page, 0, sizeof(page));
	for (unsigned v = 0; v < 0x80; v++)
		set_gate(v, 0, true, 0xe);
}

static void test_int3(void **state)
{
	static const uint8_t b[] = { 0xcc };
	struct x86_fb_cpu c = cpu();
	struct x86_fb_event ev;
	unsigned ch;
	char name[96];
	(void)state;
	setup_page();
	assert_int_equal(run(&c, b, 1, &ev, &ch, name), X86_FB_INJECT);
	assert_string_equal(name, "int3");
	assert_int_equal(ev.vector, 3);
	assert_true(ev.soft);
	assert_false(ev.has_error);
	assert_int_equal(c.r.rip, 0xffffffff81000001ull); /* a trap: after the instruction */
	/* from user space through a DPL-0 gate: #GP with the IDT error code, rip unchanged */
	c = cpu();
	c.cpl = 3;
	assert_int_equal(run(&c, b, 1, &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 13);
	assert_true(ev.has_error);
	assert_int_equal(ev.error, (3u << 3) | 2u);
	assert_int_equal(c.r.rip, 0xffffffff81000000ull);
	/* a DPL-3 gate (Linux's int3 gate) lets user space in */
	set_gate(3, 3, true, 0xe);
	assert_int_equal(run(&c, b, 1, &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 3);
	assert_false(ev.has_error);
}

static void test_int_n(void **state)
{
	static const uint8_t b[] = { 0xcd, 0x80 };
	struct x86_fb_cpu c = cpu();
	struct x86_fb_event ev;
	unsigned ch;
	char name[96];
	(void)state;
	setup_page();
	set_gate(0x80, 3, true, 0xf);
	c.idt_limit = 0x80 * 16 + 15;
	c.cpl = 3;
	assert_int_equal(run(&c, b, 2, &ev, &ch, name), X86_FB_INJECT);
	assert_string_equal(name, "int");
	assert_int_equal(ev.vector, 0x80);
	assert_true(ev.soft);
	assert_int_equal(c.r.rip, 0xffffffff81000002ull);
	/* beyond the IDT's limit */
	c = cpu();
	assert_int_equal(run(&c, b, 2, &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 13);
	assert_int_equal(ev.error, (0x80u << 3) | 2u);
	/* a gate not present: #NP */
	c = cpu();
	set_gate(0x40, 0, false, 0xe);
	assert_int_equal(run(&c, (const uint8_t[]){ 0xcd, 0x40 }, 2, &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 11);
	assert_int_equal(ev.error, (0x40u << 3) | 2u);
	/* not a gate type (a call gate, 0xc): #GP */
	set_gate(0x41, 0, true, 0xc);
	assert_int_equal(run(&c, (const uint8_t[]){ 0xcd, 0x41 }, 2, &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 13);
	assert_int_equal(ev.error, (0x41u << 3) | 2u);
}

static void test_int1(void **state)
{
	struct x86_fb_cpu c = cpu();
	struct x86_fb_event ev;
	unsigned ch;
	char name[96];
	(void)state;
	setup_page();
	c.cpl = 3; /* no DPL check for icebp */
	assert_int_equal(run(&c, (const uint8_t[]){ 0xf1 }, 1, &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 1);
	assert_int_equal(c.r.rip, 0xffffffff81000001ull);
}

static void test_fwait(void **state)
{
	static const uint8_t b[] = { 0x9b, 0x90 };
	struct x86_fb_cpu c = cpu();
	struct x86_fb_event ev;
	unsigned ch;
	char name[96];
	(void)state;
	assert_int_equal(run(&c, b, 2, &ev, &ch, name), X86_FB_DONE);
	assert_string_equal(name, "wait");
	assert_int_equal(c.r.rip, 0xffffffff81000001ull);
	assert_int_equal(ch, 0);
	/* an unmasked x87 exception pending: #MF, rip unchanged */
	c = cpu();
	c.fsw = 0x80 | 0x01;
	assert_int_equal(run(&c, b, 2, &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 16);
	assert_int_equal(c.r.rip, 0xffffffff81000000ull);
	/* CR0.TS with CR0.MP: #NM (the lazy-FPU trap) */
	c = cpu();
	c.r.cr0 |= 1ull << 3;
	assert_int_equal(run(&c, b, 2, &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 7);
}

static void test_ldmxcsr(void **state)
{
	/* ldmxcsr 0x10(%rdi) ; ldmxcsr %gs:0x20 ; ldmxcsr 0x7f9(%rip) */
	static const uint8_t rdi[] = { 0x0f, 0xae, 0x57, 0x10 };
	static const uint8_t gs[] = { 0x65, 0x0f, 0xae, 0x14, 0x25, 0x20, 0x00, 0x00, 0x00 };
	static const uint8_t rip[] = { 0x0f, 0xae, 0x15, 0xf9, 0x07, 0x00, 0x00 };
	struct x86_fb_cpu c = cpu();
	struct x86_fb_event ev;
	unsigned ch;
	char name[96];
	uint32_t v = 0x9fc0;
	(void)state;
	setup_page();
	memcpy(page + 0x110, &v, 4);
	c.r.rdi = MEM_BASE + 0x100;
	assert_int_equal(run(&c, rdi, sizeof(rdi), &ev, &ch, name), X86_FB_DONE);
	assert_string_equal(name, "ldmxcsr");
	assert_int_equal(c.mxcsr, 0x9fc0);
	assert_int_equal(ch, X86_FB_MXCSR_CHANGED);
	assert_int_equal(c.r.rip, 0xffffffff81000004ull);

	c = cpu();
	c.r.gs_base = MEM_BASE + 0x0f0;
	assert_int_equal(run(&c, gs, sizeof(gs), &ev, &ch, name), X86_FB_DONE);
	assert_int_equal(c.mxcsr, 0x9fc0);
	assert_int_equal(c.r.rip, 0xffffffff81000009ull);

	c = cpu();
	c.r.rip = MEM_BASE + 0x110 - 0x7f9 - sizeof(rip); /* rip-relative: from the next instruction */
	assert_int_equal(run(&c, rip, sizeof(rip), &ev, &ch, name), X86_FB_DONE);
	assert_int_equal(c.mxcsr, 0x9fc0);

	/* a reserved bit: #GP(0), MXCSR unchanged */
	c = cpu();
	c.r.rdi = MEM_BASE + 0x100;
	v = 0x10000 | 0x1f80;
	memcpy(page + 0x110, &v, 4);
	assert_int_equal(run(&c, rdi, sizeof(rdi), &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 13);
	assert_true(ev.has_error);
	assert_int_equal(ev.error, 0);
	assert_int_equal(c.mxcsr, 0x1f80);
	assert_int_equal(ch, 0);
	/* DAZ (bit 6) refused by the default mask when the CPU's is unknown */
	c.mxcsr_mask = 0;
	v = 0x1fc0;
	memcpy(page + 0x110, &v, 4);
	assert_int_equal(run(&c, rdi, sizeof(rdi), &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 13);

	/* unmapped operand: #PF with CR2 */
	c = cpu();
	c.r.rdi = 0x1000;
	assert_int_equal(run(&c, rdi, sizeof(rdi), &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 14);
	assert_true(ev.has_cr2);
	assert_int_equal(ev.cr2, 0x1010);
	assert_int_equal(ev.error, 0);

	/* CR4.OSFXSR clear: #UD; CR0.TS: #NM */
	c = cpu();
	c.r.cr4 = 0;
	assert_int_equal(run(&c, rdi, sizeof(rdi), &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 6);
	c = cpu();
	c.r.cr0 |= 1ull << 3;
	assert_int_equal(run(&c, rdi, sizeof(rdi), &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 7);
}

static void test_stmxcsr(void **state)
{
	/* stmxcsr -0x4(%rsp,%rcx,4) */
	static const uint8_t b[] = { 0x0f, 0xae, 0x5c, 0x8c, 0xfc };
	struct x86_fb_cpu c = cpu();
	struct x86_fb_event ev;
	unsigned ch;
	char name[96];
	uint32_t v;
	(void)state;
	setup_page();
	c.mxcsr = 0x1fa5;
	c.r.rsp = MEM_BASE + 0x200;
	c.r.rcx = 3;
	assert_int_equal(run(&c, b, sizeof(b), &ev, &ch, name), X86_FB_DONE);
	assert_string_equal(name, "stmxcsr");
	memcpy(&v, page + 0x200 + 12 - 4, 4);
	assert_int_equal(v, 0x1fa5);
	assert_int_equal(ch, 0);
	assert_int_equal(c.r.rip, 0xffffffff81000005ull);
	/* a write fault says write in the error code; user mode says user */
	c = cpu();
	c.cpl = 3;
	c.r.rsp = 0x5000;
	c.r.rcx = 3;
	assert_int_equal(run(&c, b, sizeof(b), &ev, &ch, name), X86_FB_INJECT);
	assert_int_equal(ev.vector, 14);
	assert_int_equal(ev.error, 2u | 4u);
	assert_int_equal(ev.cr2, 0x5000 + 12 - 4);
}

static void test_not_ours(void **state)
{
	struct x86_fb_cpu c = cpu();
	struct x86_fb_event ev;
	unsigned ch;
	char name[96];
	(void)state;
	/* lock cmpxchg16b 0x20(%rbp): named, not done */
	assert_int_equal(run(&c, (const uint8_t[]){ 0xf0, 0x48, 0x0f, 0xc7, 0x4d, 0x20 }, 6, &ev, &ch, name), X86_FB_UNKNOWN);
	assert_non_null(strstr(name, "cmpxchg16b"));
	assert_int_equal(c.r.rip, 0xffffffff81000000ull);
	/* undecodable bytes; a truncated instruction; 32-bit code */
	assert_int_equal(run(&c, (const uint8_t[]){ 0x0f, 0xff }, 1, &ev, &ch, name), X86_FB_UNKNOWN);
	assert_int_equal(run(&c, (const uint8_t[]){ 0x0f, 0xae }, 2, &ev, &ch, name), X86_FB_UNKNOWN);
	c.long64 = false;
	assert_int_equal(run(&c, (const uint8_t[]){ 0xcc }, 1, &ev, &ch, name), X86_FB_UNKNOWN);
	assert_non_null(strstr(name, "64-bit"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_int3),     cmocka_unit_test(test_int_n),   cmocka_unit_test(test_int1),
		cmocka_unit_test(test_fwait),    cmocka_unit_test(test_ldmxcsr), cmocka_unit_test(test_stmxcsr),
		cmocka_unit_test(test_not_ours),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
