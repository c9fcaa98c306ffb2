/* fuzz_dwarf: libFuzzer target for DWARF types and line tables (libdwarf) of any bytes.
 * Debian 12's libdwarf 20210528 double-frees in dwarf_load_rnglists on a bad table header:
 * dwarf_obj.c checks those headers first (seeds/fuzz_dwarf/rnglists-zero-length). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "analyze/analyze.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static FILE *null;
	char path[64], line[160];
	struct target t;
	int fd = memfd_create("fuzz-dwarf", 0);
	if (!null)
		null = fopen("/dev/null", "w");
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
	target_addr_line(&t, 0xffffffff80101000ull, line, sizeof(line));
	target_lines_free(&t);
	dwarf_close_target(&t);
	close(fd);
	return 0;
}
