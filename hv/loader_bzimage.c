/* loader_bzimage: compressed Linux kernels (/boot/vmlinuz-*) through the Linux x86 boot
 * protocol's 32-bit entry (Documentation/arch/x86/boot.rst): the setup header checked and
 * kept for boot_params, the protected-mode part loaded at 1 MiB, where its decompressor
 * runs from code32_start. All sizes are checked against the file and guest RAM. */
#include "internal.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define HDR_OFF 0x1f1          /* struct setup_header in the image and in boot_params */
#define LOAD_ADDR 0x100000ull  /* where a bzImage's protected-mode code goes */
#define LOADED_HIGH 0x01       /* loadflags: the protected-mode code is at 1 MiB */
#define MIN_VERSION 0x0206     /* 2.06: cmdline_size, relocatable kernels */

static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint16_t get16(const uint8_t *p) { uint16_t v; memcpy(&v, p, 2); return v; }

bool loader_is_bzimage(int fd)
{
	uint8_t magic[4];
	return pread(fd, magic, 4, 0x202) == 4 && !memcmp(magic, "HdrS", 4);
}

int loader_load_bzimage(struct guest_mem *m, int fd, const char *path, struct kernel_image *ki, struct err *e)
{
	uint8_t head[1024];
	struct stat st;
	uint64_t setup, pm_size, init_size, need;
	uint16_t version;
	size_t hdr_len;
	uint8_t *dst;

	if (fstat(fd, &st) < 0 || pread(fd, head, sizeof(head), 0) != (ssize_t)sizeof(head))
		return err_set(e, "%s: too short for a Linux bzImage", path);
	version = get16(head + 0x206);
	if (version < MIN_VERSION)
		return err_set(e, "%s: Linux boot protocol %u.%02u is too old (hv needs 2.06)", path, version >> 8,
			       version & 0xff);
	if (!(head[0x211] & LOADED_HIGH))
		return err_set(e, "%s: not a bzImage (a zImage loads below 1 MiB)", path);
	setup = head[0x1f1] ? head[0x1f1] : 4;
	setup = (setup + 1) * 512;
	if (setup >= (uint64_t)st.st_size)
		return err_set(e, "%s: its setup code (%llu bytes) is the whole file (truncated kernel?)", path,
			       (unsigned long long)setup);
	pm_size = (uint64_t)st.st_size - setup;
	init_size = get32(head + 0x260); /* what the decompressed kernel needs from the load address */
	need = pm_size > init_size ? pm_size : init_size;
	hdr_len = (size_t)(0x202 + head[0x201] - HDR_OFF); /* the header ends where its jump lands */
	if (hdr_len > sizeof(ki->bz_hdr) || HDR_OFF + hdr_len > sizeof(head))
		return err_set(e, "%s: setup header of %zu bytes", path, hdr_len);
	memcpy(ki->bz_hdr, head + HDR_OFF, hdr_len);
	ki->bz_hdr_len = hdr_len;
	ki->bzimage = true;
	ki->is_linux = true;
	ki->entry32 = LOAD_ADDR;
	ki->lowest = LOAD_ADDR;
	ki->highest = LOAD_ADDR + need;
	if (!m)
		return 0;
	if (m->nr_ranges < 1 || LOAD_ADDR + need > m->ranges[0].size)
		return err_set(e, "%s: the kernel needs %llu MiB from 1 MiB (init_size) but guest RAM below 3 GiB is %llu MiB",
			       path, (unsigned long long)(need >> 20), (unsigned long long)(m->ranges[0].size >> 20));
	dst = mem_ptr(m, LOAD_ADDR, pm_size);
	if (!dst)
		return err_set(e, "%s: guest RAM too small", path);
	for (uint64_t done = 0; done < pm_size;) {
		ssize_t n = pread(fd, dst + done, pm_size - done, (off_t)(setup + done));
		if (n <= 0)
			return err_errno(e, "%s: read", path);
		done += (uint64_t)n;
	}
	return 0;
}

/* boot_params (the "zero page") at gpa for the 32-bit entry: the image's setup header with
 * what the boot loader fills in, the e820 map and the RSDP. */
int loader_bzimage_params(struct guest_mem *m, const struct kernel_image *ki, uint64_t gpa, uint64_t cmdline_gpa,
			  uint64_t initrd_gpa, uint64_t initrd_size, const uint64_t (*e820)[3], unsigned n820,
			  uint64_t rsdp, struct err *e)
{
	uint8_t *bp = mem_ptr(m, gpa, 4096);
	uint32_t v32;
	if (!bp)
		return err_set(e, "guest RAM too small for boot_params");
	if (n820 > 128)
		return err_set(e, "too many e820 entries (%u)", n820);
	memset(bp, 0, 4096);
	memcpy(bp + HDR_OFF, ki->bz_hdr, ki->bz_hdr_len);
	bp[0x210] = 0xff;             /* type_of_loader: an undefined boot loader */
	bp[0x211] |= 0x80;            /* CAN_USE_HEAP */
	bp[0x224] = 0x00; bp[0x225] = 0xfe; /* heap_end_ptr 0xfe00 */
	v32 = (uint32_t)LOAD_ADDR;
	memcpy(bp + 0x214, &v32, 4);  /* code32_start */
	v32 = (uint32_t)cmdline_gpa;
	memcpy(bp + 0x228, &v32, 4);  /* cmd_line_ptr */
	if (initrd_size) {
		uint32_t max = get32(bp + 0x22c); /* initrd_addr_max */
		if (initrd_gpa + initrd_size - 1 > max)
			return err_set(e, "the initrd ends above the kernel's initrd_addr_max 0x%x", max);
		v32 = (uint32_t)initrd_gpa;
		memcpy(bp + 0x218, &v32, 4);
		v32 = (uint32_t)initrd_size;
		memcpy(bp + 0x21c, &v32, 4);
	}
	memcpy(bp + 0x070, &rsdp, 8); /* acpi_rsdp_addr (2.14) */
	bp[0x1e8] = (uint8_t)n820;    /* e820_entries; e820_table at 0x2d0, 20 bytes each */
	for (unsigned i = 0; i < n820; i++) {
		uint8_t *ent = bp + 0x2d0 + 20 * i;
		uint32_t type = (uint32_t)e820[i][2];
		memcpy(ent, &e820[i][0], 8);
		memcpy(ent + 8, &e820[i][1], 8);
		memcpy(ent + 16, &type, 4);
	}
	return 0;
}
