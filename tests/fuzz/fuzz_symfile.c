/* fuzz_symfile: libFuzzer target for the ELF symbol-table reader (libelf): any bytes as
 * a symbol file load or fail cleanly, and lookups stay in bounds. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mdb/mdb.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	char path[64], line[160];
	struct err e;
	struct symtab st;
	struct target t;
	int fd = memfd_create("fuzz-sym", 0);
	if (!null)
		null = fopen("/dev/null", "w");
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (symtab_load_file(&st, path, &e) == 0) {
		symtab_lookup(&st, 0xffffffff80101000ull);
		symtab_lookup_code(&st, 0xffffffff80101000ull);
		symtab_by_name(&st, "kmain");
		symtab_free(&st);
	}
	(void)t;
	(void)line;
	(void)null;
	close(fd);
	return 0;
}
