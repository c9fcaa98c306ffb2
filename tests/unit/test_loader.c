/* Unit tests for the PVH loader and boot structures: a real PVH kernel loads at its
 * physical address with its entry; missing, non-ELF, truncated, note-less and
 * out-of-RAM kernels are refused with a message; start_info, memory map, command line
 * and ACPI tables (checksums, one LAPIC per vCPU) are what a PVH kernel expects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hvkit/abi.h"
#include "hv/internal.h"

static char kpath[512];
static uint8_t kfile[1 << 16];
static size_t klen;

static int setup(void **state)
{
	const char *b = getenv("HVKIT_BUILD");
	FILE *f;
	(void)state;
	snprintf(kpath, sizeof(kpath), "%s/tests/kernels/trivial.elf", b ? b : "build");
	f = fopen(kpath, "rb");
	if (!f)
		return -1;
	klen = fread(kfile, 1, sizeof(kfile), f);
	fclose(f);
	return klen > 0 ? 0 : -1;
}

static const char *write_tmp(const uint8_t *buf, size_t n)
{
	static char path[64];
	int fd;
	strcpy(path, "/tmp/hvkit-test-XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, n), (ssize_t)n);
	close(fd);
	return path;
}

static void load_expect_error(const uint8_t *buf, size_t n, const char *needle)
{
	struct guest_mem m;
	struct kernel_image ki;
	struct err e = { "" };
	const char *p = write_tmp(buf, n);
	assert_int_equal(mem_create(&m, "t", 8 << 20, &e), 0);
	assert_int_equal(loader_load_pvh(&m, p, &ki, &e), -1);
	if (!strstr(e.msg, needle))
		fail_msg("error '%s' does not say '%s'", e.msg, needle);
	mem_destroy(&m);
	unlink(p);
}

static void test_load_trivial(void **state)
{
	struct guest_mem m;
	struct kernel_image ki;
	struct err e = { "" };
	(void)state;
	assert_int_equal(mem_create(&m, "t", 16 << 20, &e), 0);
	assert_int_equal(loader_load_pvh(&m, kpath, &ki, &e), 0);
	assert_int_equal(ki.entry32, 0x100000);
	assert_int_equal(ki.lowest, 0x100000);
	assert_true(ki.highest > ki.lowest && ki.highest < 0x110000);
	assert_non_null(symtab_lookup(&ki.symtab, 0x100000));
	assert_string_equal(symtab_lookup(&ki.symtab, 0x100004)->name, "_start");
	/* the first instruction of trivial.S: mov $msg, %esi (opcode 0xbe) */
	assert_int_equal(*(uint8_t *)mem_ptr(&m, 0x100000, 1), 0xbe);
	symtab_free(&ki.symtab);
	mem_destroy(&m);
}

static void test_missing_and_garbage(void **state)
{
	struct guest_mem m;
	struct kernel_image ki;
	struct err e = { "" };
	(void)state;
	assert_int_equal(mem_create(&m, "t", 8 << 20, &e), 0);
	assert_int_equal(loader_load_pvh(&m, "/nonexistent/kernel", &ki, &e), -1);
	assert_non_null(strstr(e.msg, "No such file"));
	mem_destroy(&m);
	load_expect_error((const uint8_t *)"hello, not an ELF\n", 18, "not an ELF file");
	load_expect_error((const uint8_t *)"", 0, "not an ELF file");
}

static void test_truncated(void **state)
{
	(void)state;
	load_expect_error(kfile, 40, "ELF");           /* header cut */
	load_expect_error(kfile, 0x1010, "outside the file"); /* segment data cut */
}

static void test_no_pvh_note(void **state)
{
	uint8_t *buf = malloc(klen);
	uint8_t *xen;
	(void)state;
	memcpy(buf, kfile, klen);
	xen = memmem(buf, klen, "Xen\0", 4);
	assert_non_null(xen);
	assert_int_equal(xen[-4], XEN_ELFNOTE_PHYS32_ENTRY);
	xen[-4] = 17;
	load_expect_error(buf, klen, "not a PVH kernel");
	free(buf);
}

static void test_segment_outside_ram(void **state)
{
	uint8_t *buf = malloc(klen);
	uint32_t phoff, paddr = 0x40000000; /* 1 GiB: beyond 8 MiB of RAM */
	(void)state;
	memcpy(buf, kfile, klen);
	assert_int_equal(buf[4], 1); /* ELFCLASS32 */
	memcpy(&phoff, buf + 28, 4);
	memcpy(buf + phoff + 12, &paddr, 4); /* first phdr: the PT_LOAD's p_paddr */
	load_expect_error(buf, klen, "does not fit in guest RAM");
	free(buf);
}

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;
	while (n--)
		s = (uint8_t)(s + *p++);
	return s;
}

static void test_acpi(void **state)
{
	static uint8_t buf[8192];
	size_t n = acpi_build(buf, sizeof(buf), 0xe0000, 4);
	uint64_t xsdt, madt;
	uint32_t len;
	uint8_t *m;
	int lapics = 0;
	(void)state;
	assert_true(n > 0);
	assert_memory_equal(buf, "RSD PTR ", 8);
	assert_int_equal(sum(buf, 20), 0);
	assert_int_equal(sum(buf, 36), 0);
	memcpy(&xsdt, buf + 24, 8);
	assert_memory_equal(buf + (xsdt - 0xe0000), "XSDT", 4);
	memcpy(&len, buf + (xsdt - 0xe0000) + 4, 4);
	assert_int_equal(sum(buf + (xsdt - 0xe0000), len), 0);
	memcpy(&madt, buf + (xsdt - 0xe0000) + 36, 8);
	m = buf + (madt - 0xe0000);
	assert_memory_equal(m, "APIC", 4);
	memcpy(&len, m + 4, 4);
	assert_int_equal(sum(m, len), 0);
	for (uint32_t off = 44; off < len; off += m[off + 1]) {
		assert_true(m[off + 1] >= 2);
		if (m[off] == 0) {
			assert_int_equal(m[off + 3], lapics); /* APIC id = vCPU index */
			lapics++;
		}
	}
	assert_int_equal(lapics, 4);
	assert_int_equal(acpi_build(buf, 64, 0xe0000, 4), 0); /* too small: refused */
}

static void read_text(const char *dir, const char *name, char *text, size_t cap)
{
	char path[128];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	assert_non_null(f = fopen(path, "r"));
	n = fread(text, 1, cap - 1, f);
	text[n] = 0;
	fclose(f);
}

/* iasl (acpica-tools, the reference ACPI disassembler) reads the FADT and the DSDT as hv
 * means them. */
static void disassemble(const uint8_t *fadt, const uint8_t *dsdt)
{
	char dir[] = "/tmp/hvkit-acpi-XXXXXX", cmd[256], path[128], text[65536];
	const uint8_t *t[2] = { fadt, dsdt };
	const char *names[2] = { "facp", "dsdt" };
	uint32_t len;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	for (int i = 0; i < 2; i++) {
		memcpy(&len, t[i] + 4, 4);
		snprintf(path, sizeof(path), "%s/%s.dat", dir, names[i]);
		assert_non_null(f = fopen(path, "wb"));
		assert_int_equal(fwrite(t[i], 1, len, f), len);
		fclose(f);
	}
	snprintf(cmd, sizeof(cmd), "cd %s && iasl -d facp.dat dsdt.dat > iasl.log 2>&1", dir);
	assert_int_equal(system(cmd), 0);
	static const char *const facp_want[] = {
		"Hardware Reduced (V5) : 1", "Reset Register Supported (V2) : 1",
		"Sleep Control Register : [Generic Address Structure]", "Address : 0000000000000520",
		"Address : 0000000000000CF9", NULL,
	};
	static const char *const dsdt_want[] = {
		"Name (_S5, Package (0x04)", "EisaId (\"PNP0C0C\")",
		"Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,, )",
		"OperationRegion (GACR, SystemIO, 0x0522, One)", "Notify (PWRB, 0x80)", NULL,
	};
	read_text(dir, "facp.dsl", text, sizeof(text));
	for (const char *const *w = facp_want; *w; w++)
		assert_non_null(strstr(text, *w));
	read_text(dir, "dsdt.dsl", text, sizeof(text));
	for (const char *const *w = dsdt_want; *w; w++)
		assert_non_null(strstr(text, *w));
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The hardware-reduced FADT (ACPI 6.0) and its DSDT: what Linux's acpi_sleep_init and
 * ACPICA's acpi_hw_extended_sleep read to power off, and the reset register. */
static void test_acpi_fadt(void **state)
{
	static uint8_t buf[8192];
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0a, 5, 0x0a, 5, 0x00, 0x00 };
	size_t n = acpi_build(buf, sizeof(buf), 0xe0000, 2);
	uint64_t xsdt, fadt_pa, dsdt_pa, a;
	uint32_t len, flags, dsdt32;
	uint8_t *x, *f, *d;
	(void)state;
	assert_true(n > 0);
	memcpy(&xsdt, buf + 24, 8);
	x = buf + (xsdt - 0xe0000);
	memcpy(&len, x + 4, 4);
	assert_int_equal(len, 36 + 16); /* MADT and FADT */
	memcpy(&fadt_pa, x + 44, 8);
	assert_true(fadt_pa > 0xe0000 && fadt_pa + 276 <= 0xe0000 + n);
	f = buf + (fadt_pa - 0xe0000);
	assert_memory_equal(f, "FACP", 4);
	memcpy(&len, f + 4, 4);
	assert_int_equal(len, 276);
	assert_int_equal(f[8], 6);
	assert_int_equal(sum(f, len), 0);
	memcpy(&flags, f + 112, 4);
	assert_true(flags & (1u << 20));  /* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10));  /* RESET_REG_SUP */
	assert_int_equal(f[116], 1);      /* reset register in I/O space ... */
	memcpy(&a, f + 120, 8);
	assert_int_equal(a, 0xcf9);       /* ... at 0xcf9 */
	assert_int_equal(f[128], 6);      /* reset value: io.c resets on bit 2 */
	assert_int_equal(f[244], 1);      /* sleep control: I/O space, one byte */
	assert_int_equal(f[245], 8);
	memcpy(&a, f + 248, 8);
	assert_int_equal(a, HVKIT_ACPI_SLEEP_CONTROL);
	memcpy(&a, f + 260, 8);
	assert_int_equal(a, HVKIT_ACPI_SLEEP_STATUS);
	memcpy(&dsdt_pa, f + 140, 8);
	memcpy(&dsdt32, f + 40, 4);
	assert_int_equal(dsdt32, dsdt_pa);
	d = buf + (dsdt_pa - 0xe0000);
	assert_memory_equal(d, "DSDT", 4);
	memcpy(&len, d + 4, 4);
	assert_true(len > 36 && dsdt_pa + len <= 0xe0000 + n);
	assert_int_equal(sum(d, len), 0);
	assert_non_null(memmem(d + 36, len - 36, s5, sizeof(s5)));
	assert_non_null(memmem(d + 36, len - 36, "ACPI0013", 8));
	disassemble(f, d);
	/* what a kernel writes for S5 is what io.c powers off on */
	assert_int_equal(HVKIT_ACPI_SLP_TYP((5 << 2) | HVKIT_ACPI_SLP_EN), HVKIT_ACPI_SLP_TYP_S5);
}

static void test_start_info(void **state)
{
	struct guest_mem m;
	struct kernel_image ki;
	struct err e = { "" };
	struct hvm_start_info *si;
	struct hvm_memmap_table_entry *mm;
	uint64_t ram = 0;
	char longline[5000];
	(void)state;
	assert_int_equal(mem_create(&m, "t", 64 << 20, &e), 0);
	assert_int_equal(loader_load_pvh(&m, kpath, &ki, &e), 0);
	assert_int_equal(boot_setup(&m, &ki, 2, "console=ttyS0 quiet", NULL, &e), 0);
	si = mem_ptr(&m, BOOT_START_INFO_GPA, sizeof(*si));
	assert_int_equal(si->magic, HVM_START_MAGIC_VALUE);
	assert_int_equal(si->version, 1);
	assert_string_equal((char *)mem_ptr(&m, si->cmdline_paddr, 20), "console=ttyS0 quiet");
	assert_int_equal(si->rsdp_paddr, BOOT_ACPI_GPA);
	assert_int_equal(si->nr_modules, 0);
	mm = mem_ptr(&m, si->memmap_paddr, si->memmap_entries * sizeof(*mm));
	for (uint32_t i = 0; i < si->memmap_entries; i++)
		if (mm[i].type == HVM_MEMMAP_TYPE_RAM)
			ram += mm[i].size;
	assert_true(ram > (64u << 20) - (1u << 20) && ram <= (64u << 20));
	memset(longline, 'a', sizeof(longline) - 1);
	longline[sizeof(longline) - 1] = 0;
	assert_int_equal(boot_setup(&m, &ki, 2, longline, NULL, &e), -1);
	assert_non_null(strstr(e.msg, "command line too long"));
	assert_int_equal(boot_setup(&m, &ki, 2, "", "/nonexistent/initrd", &e), -1);
	assert_non_null(strstr(e.msg, "initrd"));
	symtab_free(&ki.symtab);
	mem_destroy(&m);
}

static void test_initrd(void **state)
{
	struct guest_mem m;
	struct kernel_image ki;
	struct err e = { "" };
	struct hvm_start_info *si;
	struct hvm_modlist_entry *mod;
	const char *p = write_tmp((const uint8_t *)"INITRD-CONTENT", 14);
	(void)state;
	assert_int_equal(mem_create(&m, "t", 32 << 20, &e), 0);
	assert_int_equal(loader_load_pvh(&m, kpath, &ki, &e), 0);
	assert_int_equal(boot_setup(&m, &ki, 1, NULL, p, &e), 0);
	si = mem_ptr(&m, BOOT_START_INFO_GPA, sizeof(*si));
	assert_int_equal(si->nr_modules, 1);
	assert_int_equal(si->cmdline_paddr, 0);
	mod = mem_ptr(&m, si->modlist_paddr, sizeof(*mod));
	assert_int_equal(mod->size, 14);
	assert_int_equal(mod->paddr & 0xfff, 0);
	assert_memory_equal(mem_ptr(&m, mod->paddr, 14), "INITRD-CONTENT", 14);
	unlink(p);
	symtab_free(&ki.symtab);
	mem_destroy(&m);
}

static void test_mem_layout(void **state)
{
	struct guest_mem m;
	struct err e = { "" };
	(void)state;
	/* 4 GiB of RAM: 3 GiB below the hole, 1 GiB from 4 GiB (memfd: nothing touched) */
	assert_int_equal(mem_create(&m, "t", 4ull << 30, &e), 0);
	assert_int_equal(m.nr_ranges, 2);
	assert_non_null(mem_ptr(&m, (3ull << 30) - 8, 8));
	assert_null(mem_ptr(&m, (3ull << 30) - 4, 8));  /* straddles the hole */
	assert_null(mem_ptr(&m, 3ull << 30, 1));       /* in the hole */
	assert_non_null(mem_ptr(&m, 4ull << 30, 4096));
	assert_null(mem_ptr(&m, (5ull << 30) - 4, 8)); /* past the end */
	assert_null(mem_ptr(&m, UINT64_MAX - 2, 8));   /* wraps */
	mem_destroy(&m);
}

/* A minimal bzImage: setup sectors with the header, then the protected-mode part. */
static size_t fake_bzimage(uint8_t *buf, size_t cap, uint16_t version, uint8_t loadflags, uint32_t init_size)
{
	size_t setup = (1 + 1) * 512, pm = 4096;
	assert_true(setup + pm <= cap);
	memset(buf, 0, setup + pm);
	buf[0x1f1] = 1;                 /* setup_sects */
	buf[0x201] = 0x66;              /* the jump: the header ends at 0x268 */
	memcpy(buf + 0x202, "HdrS", 4);
	memcpy(buf + 0x206, &version, 2);
	buf[0x211] = loadflags;
	{ uint32_t max = 0x7fffffff; memcpy(buf + 0x22c, &max, 4); }
	memcpy(buf + 0x260, &init_size, 4);
	for (size_t i = 0; i < pm; i++)
		buf[setup + i] = (uint8_t)(i * 7 + 1);
	return setup + pm;
}

static void test_bzimage(void **state)
{
	static uint8_t img[8192];
	struct guest_mem m;
	struct kernel_image ki;
	struct err e = { "" };
	size_t n = fake_bzimage(img, sizeof(img), 0x020f, 0x01, 1 << 20);
	const char *p = write_tmp(img, n);
	uint8_t *bp, *e820;
	uint32_t v;
	(void)state;
	assert_int_equal(mem_create(&m, "t", 8 << 20, &e), 0);
	assert_int_equal(loader_load_pvh(&m, p, &ki, &e), 0);
	assert_true(ki.bzimage && ki.is_linux);
	assert_int_equal(ki.entry32, 0x100000);
	assert_int_equal(ki.highest, 0x100000 + (1 << 20)); /* init_size, not the file */
	assert_memory_equal(mem_ptr(&m, 0x100000, 4096), img + 1024, 4096);
	assert_int_equal(boot_setup(&m, &ki, 2, "console=ttyS0", NULL, &e), 0);
	bp = mem_ptr(&m, BOOT_PARAMS_GPA, 4096);
	assert_memory_equal(bp + 0x202, "HdrS", 4);
	assert_int_equal(bp[0x210], 0xff); /* type_of_loader */
	assert_true(bp[0x211] & 0x81);     /* LOADED_HIGH | CAN_USE_HEAP */
	memcpy(&v, bp + 0x228, 4);
	assert_int_equal(v, BOOT_CMDLINE_GPA);
	assert_string_equal((char *)mem_ptr(&m, v, 14), "console=ttyS0");
	memcpy(&v, bp + 0x214, 4);
	assert_int_equal(v, 0x100000); /* code32_start */
	assert_int_equal(bp[0x1e8], 4); /* e820: low RAM, EBDA, ACPI, RAM from 1 MiB */
	e820 = bp + 0x2d0 + 3 * 20;
	{ uint64_t a, s; uint32_t t; memcpy(&a, e820, 8); memcpy(&s, e820 + 8, 8); memcpy(&t, e820 + 16, 4);
	  assert_int_equal(a, 0x100000); assert_int_equal(s, (8 << 20) - 0x100000); assert_int_equal(t, 1); }
	{ uint64_t r; memcpy(&r, bp + 0x070, 8); assert_int_equal(r, BOOT_ACPI_GPA); }
	/* the Linux boot protocol's GDT: __BOOT_CS 0x10 code, __BOOT_DS 0x18 data */
	{ uint64_t g[5]; memcpy(g, mem_ptr(&m, BOOT_GDT_GPA, sizeof(g)), sizeof(g));
	  assert_int_equal(g[2], 0x00cf9b000000ffffull); assert_int_equal(g[3], 0x00cf93000000ffffull); }
	mem_destroy(&m);
	unlink(p);

	/* refusals: an old protocol, a zImage, a kernel that does not fit, a truncated one */
	n = fake_bzimage(img, sizeof(img), 0x0204, 0x01, 1 << 20);
	load_expect_error(img, n, "boot protocol 2.04 is too old");
	n = fake_bzimage(img, sizeof(img), 0x020f, 0x00, 1 << 20);
	load_expect_error(img, n, "not a bzImage");
	n = fake_bzimage(img, sizeof(img), 0x020f, 0x01, 64 << 20);
	load_expect_error(img, n, "needs 64 MiB from 1 MiB");
	n = fake_bzimage(img, sizeof(img), 0x020f, 0x01, 1 << 20);
	load_expect_error(img, 1024, "is the whole file");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_trivial),  cmocka_unit_test(test_missing_and_garbage),
		cmocka_unit_test(test_truncated),     cmocka_unit_test(test_no_pvh_note),
		cmocka_unit_test(test_segment_outside_ram), cmocka_unit_test(test_acpi),
		cmocka_unit_test(test_acpi_fadt),
		cmocka_unit_test(test_start_info),    cmocka_unit_test(test_initrd),
		cmocka_unit_test(test_mem_layout),    cmocka_unit_test(test_bzimage),
	};
	return cmocka_run_group_tests_name("loader", tests, setup, NULL);
}
