/* fuzz_dwarf: libFuzzer target for DWARF types, line tables and CFI (libdwarf) of any bytes.
 * Debian 12's libdwarf 20210528 double-frees in dwarf_load_rnglists on a bad table header:
 * dwarf_obj.c checks those headers first (seeds/fuzz_dwarf/rnglists-zero-length). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mdb/mdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A stack for the CFI steps: any address reads as a word made from it (so saved registers and
 * return addresses vary and chains end), except the page at 0, which is unmapped. */
static bool fake_read(void *arg, uint64_t addr, uint64_t *v)
{
	(void)arg;
	if (addr < 4096)
		return false;
	*v = addr * 0x9e3779b97f4a7c15ull >> 16 | 0xffffffff80100000ull;
	return true;
}

/* CFI steps and inlined calls from a few pcs in and around the guest's text (and from 0 and
 * the top of memory) */
static void fuzz_cfi(struct target *t)
{
	static const uint64_t pcs[] = { 0xffffffff80100000ull, 0xffffffff80101000ull, 0xffffffff80103cc0ull,
					0xffffffff80104000ull, 0, ~0ull };
	for (size_t i = 0; i < sizeof(pcs) / sizeof(pcs[0]); i++) {
		struct cfi_regs r = { .known = (1u << CFI_NREGS) - 1 };
		struct err e;
		for (unsigned j = 0; j < CFI_NREGS; j++)
			r.r[j] = 0xffff888000144000ull + 8 * j;
		r.r[CFI_RIP] = pcs[i];
		struct target_inline inl[8];
		cfi_covers(t, pcs[i]);
		target_inlined(t, pcs[i], inl, 8); /* the inlined calls there (inline.c) */
		for (int depth = 0; depth < 8 && cfi_step(t, &r, depth > 0, fake_read, NULL, &e) > 0; depth++)
			;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	char path[64], line[160];
	struct target t;
	int fd = memfd_create("fuzz-dwarf", 0);
	if (!null) {
		null = fopen("/dev/null", "w");
		setenv("HVKIT_TYPE_CACHE", "off", 1); /* inputs with a build-id: no cache files from them */
	}
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	memset(&t, 0, sizeof(t));
	t.symfile = path;
	dwarf_cmd_sizeof(&t, "struct thread", null);
	dwarf_cmd_offsetof(&t, "struct cpu", "ticks", null);
	dwarf_cmd_sizeof(&t, "struct hvkit_fuzz_nosuch", null); /* a name that is not there: the scan reads every DIE */
	target_addr_line(&t, 0xffffffff80101000ull, line, sizeof(line));
	fuzz_cfi(&t);
	target_lines_free(&t);
	dwarf_close_target(&t);
	dwarf_names_free(&t); /* the type index's scan thread */
	close(fd);
	return 0;
}
