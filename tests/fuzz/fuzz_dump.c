/* fuzz_dump: libFuzzer target for the dump reader: any bytes as a dump file open or are
 * refused with a message; what opens can be walked and read without faults. */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "dump/dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The integrity note's ranges read and hashed, when they are small enough to be quick. */
static void verify(struct dump_file *f)
{
	unsigned n;
	uint64_t total = 0;
	const struct dump_hash_range *h = dump_hashes(f, &n);
	struct err e;
	FILE *null;
	for (unsigned i = 0; h && i < n; i++)
		total += h[i].size < (1ull << 30) ? h[i].size : 1ull << 30;
	if (!h || total > (16u << 20) || !(null = fopen("/dev/null", "w")))
		return;
	dump_verify(f, null, &n, &e);
	fclose(null);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	struct err e = { "" };
	struct dump_file *f;
	uint8_t buf[256];
	int fd = memfd_create("fuzz-dump", 0);
	if (fd < 0)
		return 0;
	if (write(fd, data, size) != (ssize_t)size) {
		close(fd);
		return 0;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	f = dump_open(path, &e);
	if (!f) {
		if (!e.msg[0])
			__builtin_trap();
	} else {
		for (unsigned i = 0; i < dump_nr_loads(f); i++) {
			const struct dump_load *l = dump_loadseg(f, i);
			dump_read_phys(f, l->paddr, buf, sizeof(buf));
			dump_read_phys(f, l->paddr + l->memsz - 1, buf, sizeof(buf));
		}
		for (unsigned i = 0; i < dump_nr_cpus(f); i++) {
			uint64_t a, b, c;
			dump_prstatus_regs(f, i, &a, &b, &c);
			dump_cpu(f, i);
		}
		dump_domain_info(f);
		dump_vmcoreinfo(f);
		verify(f);
		dump_close(f);
	}
	close(fd);
	return 0;
}
