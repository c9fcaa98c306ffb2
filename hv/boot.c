/* boot: what a PVH kernel finds at entry: a boot GDT, hvm_start_info with the memory
 * map and command line, the initrd as module 0, and the ACPI tables (acpi.c). */
#include "internal.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvkit/abi.h"

#define GDT_CODE 0x00cf9b000000ffffull /* flat 32-bit code */
#define GDT_DATA 0x00cf93000000ffffull /* flat data */
#define GDT_TSS 0x00008b0000000067ull  /* 32-bit TSS, base 0, limit 0x67 */

static void boot_gdt(uint8_t *g, bool linux32)
{
	/* PVH: 0x08 code, 0x10 data, 0x18 TSS; the Linux boot protocol wants __BOOT_CS 0x10
	 * and __BOOT_DS 0x18: then 0x20 is the TSS */
	static const uint64_t pvh[5] = { 0, GDT_CODE, GDT_DATA, GDT_TSS, 0 };
	static const uint64_t lnx[5] = { 0, 0, GDT_CODE, GDT_DATA, GDT_TSS };
	memcpy(g, linux32 ? lnx : pvh, BOOT_GDT_SIZE);
}

static int load_initrd(struct guest_mem *m, const struct kernel_image *ki, const char *path,
		       struct hvm_modlist_entry *mod, struct err *e)
{
	struct stat st;
	uint64_t top = m->ranges[0].size, gpa;
	uint8_t *dst;
	ssize_t n;
	size_t done = 0;
	int fd = file_open_regular(path, "initrd", &st, e);

	if (fd < 0)
		return -1;
	if ((uint64_t)st.st_size > top || top - (uint64_t)st.st_size < ki->highest + 4096) {
		close(fd);
		return err_set(e, "initrd %s (%lld bytes) does not fit in guest RAM below 3 GiB", path,
			       (long long)st.st_size);
	}
	gpa = (top - (uint64_t)st.st_size) & ~0xfffull;
	dst = mem_ptr(m, gpa, (uint64_t)st.st_size);
	while (dst && done < (size_t)st.st_size) {
		n = read(fd, dst + done, (size_t)st.st_size - done);
		if (n <= 0) {
			close(fd);
			return err_errno(e, "initrd %s: read", path);
		}
		done += (size_t)n;
	}
	close(fd);
	mod->paddr = gpa;
	mod->size = (uint64_t)st.st_size;
	return 0;
}

int boot_setup(struct guest_mem *m, const struct kernel_image *ki, unsigned vcpus, const char *cmdline,
	       const char *initrd, struct err *e)
{
	uint8_t *page = mem_ptr(m, BOOT_START_INFO_GPA, 4096);
	uint8_t *acpi = mem_ptr(m, BOOT_ACPI_GPA, 0x20000);
	struct hvm_start_info *si = (struct hvm_start_info *)page;
	struct hvm_memmap_table_entry *mm;
	struct hvm_modlist_entry *mod;
	size_t len = cmdline ? strlen(cmdline) : 0;
	uint64_t map[8][3];
	unsigned n = 0;

	if (!page || !acpi || !mem_ptr(m, BOOT_GDT_GPA, BOOT_GDT_SIZE))
		return err_set(e, "guest RAM too small for the boot structures");
	if (len >= BOOT_CMDLINE_MAX)
		return err_set(e, "command line too long (%zu bytes, at most %d)", len, BOOT_CMDLINE_MAX - 1);
	boot_gdt(mem_ptr(m, BOOT_GDT_GPA, BOOT_GDT_SIZE), ki->bzimage);
	if (!acpi_build(acpi, 0x20000, BOOT_ACPI_GPA, vcpus))
		return err_set(e, "too many vCPUs for the ACPI tables");

	memset(si, 0, sizeof(*si));
	si->magic = HVM_START_MAGIC_VALUE;
	si->version = 1;
	si->rsdp_paddr = BOOT_ACPI_GPA;
	if (len) {
		memcpy(mem_ptr(m, BOOT_CMDLINE_GPA, len + 1), cmdline, len + 1);
		si->cmdline_paddr = BOOT_CMDLINE_GPA;
	}
	mod = (struct hvm_modlist_entry *)(page + 256);
	memset(mod, 0, sizeof(*mod));
	if (initrd && *initrd) {
		if (load_initrd(m, ki, initrd, mod, e) < 0)
			return -1;
		si->nr_modules = 1;
		si->modlist_paddr = BOOT_START_INFO_GPA + 256;
	}
	mm = (struct hvm_memmap_table_entry *)(page + 512);
	map[n][0] = 0, map[n][1] = 0x9fc00, map[n++][2] = HVM_MEMMAP_TYPE_RAM;
	map[n][0] = 0x9fc00, map[n][1] = 0x400, map[n++][2] = HVM_MEMMAP_TYPE_RESERVED;
	map[n][0] = 0xe0000, map[n][1] = 0x20000, map[n++][2] = HVM_MEMMAP_TYPE_RESERVED;
	map[n][0] = 0x100000, map[n][1] = m->ranges[0].size - 0x100000, map[n++][2] = HVM_MEMMAP_TYPE_RAM;
	if (m->nr_ranges > 1)
		map[n][0] = m->ranges[1].gpa, map[n][1] = m->ranges[1].size, map[n++][2] = HVM_MEMMAP_TYPE_RAM;
	for (unsigned i = 0; i < n; i++) /* the types are e820's */
		mm[i] = (struct hvm_memmap_table_entry){ map[i][0], map[i][1], (uint32_t)map[i][2], 0 };
	if (ki->bzimage)
		return loader_bzimage_params(m, ki, BOOT_PARAMS_GPA, len ? BOOT_CMDLINE_GPA : 0, mod->paddr, mod->size,
					     (const uint64_t(*)[3])map, n, BOOT_ACPI_GPA, e);
	si->memmap_paddr = BOOT_START_INFO_GPA + 512;
	si->memmap_entries = n;
	return 0;
}
