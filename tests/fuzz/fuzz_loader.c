/* fuzz_loader: libFuzzer target for the PVH ELF loader (and the symbol table it reads):
 * any bytes as a kernel file must load or be refused with a message, never crash. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct guest_mem m;
	static int ready;
	struct kernel_image ki;
	struct err e;
	char path[64];
	int fd;

	if (!ready) {
		if (mem_create(&m, "fuzz", 16 << 20, &e) < 0)
			return 0;
		ready = 1;
	}
	fd = memfd_create("fuzz-kernel", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (loader_load_pvh(&m, path, &ki, &e) == 0) {
		symtab_lookup(&ki.symtab, ki.entry32);
		symtab_lookup_code(&ki.symtab, 0xffffffff80100000ull);
		symtab_free(&ki.symtab);
	} else if (!e.msg[0]) {
		__builtin_trap(); /* every refusal carries a message */
	}
	close(fd);
	return 0;
}
