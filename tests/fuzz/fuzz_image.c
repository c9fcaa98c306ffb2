/* fuzz_image: libFuzzer target for the domain image readers: any bytes, as a stream and as
 * a file opened like a dump, are refused with a message or read without faults. Each input
 * also runs with its checksums made right, so mutations reach the record parsers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "dump/dump.h"
#include "dump/image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int page_sink(void *opaque, uint64_t gfn, const void *page, struct err *e)
{
	volatile uint8_t *sum = opaque;
	(void)e;
	*sum ^= (uint8_t)gfn ^ (page ? ((const uint8_t *)page)[IMAGE_PAGE_SIZE - 1] : 0);
	return 0;
}

static void as_stream(int fd)
{
	struct err e = { "" };
	struct image_header h;
	struct image_reader *r = image_reader_open(fd, &h, &e);
	uint32_t type, len, nv;
	unsigned nr;
	const void *pl;
	volatile uint8_t sum = 0;
	int rc;
	if (!r) {
		if (!e.msg[0])
			__builtin_trap();
		return;
	}
	while ((rc = image_next(r, &type, &pl, &len, &e)) == 1) {
		if (type == IMAGE_PAGE_DATA && image_pages(r, pl, len, page_sink, (void *)&sum, &e) < 0)
			break;
		image_type_name(type);
	}
	if (rc < 0 && !e.msg[0])
		__builtin_trap();
	image_reader_layout(r, &nv, &nr);
	image_reader_close(r);
}

static void as_dump(int fd)
{
	char path[64];
	struct err e = { "" };
	struct dump_file *f;
	uint8_t buf[256];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	f = dump_open(path, &e);
	if (!f) {
		if (!e.msg[0])
			__builtin_trap();
		return;
	}
	for (unsigned i = 0; i < dump_nr_loads(f); i++) {
		const struct dump_load *l = dump_loadseg(f, i);
		dump_read_phys(f, l->paddr, buf, sizeof(buf));
		dump_read_phys(f, l->paddr + l->memsz - 1, buf, sizeof(buf));
		dump_read_phys(f, l->paddr + 4096 + 100, buf, sizeof(buf));
	}
	for (unsigned i = 0; i < dump_nr_cpus(f); i++)
		dump_cpu(f, i);
	dump_domain_info(f);
	dump_vmcoreinfo(f);
	dump_format(f);
	dump_close(f);
}

static void run(const uint8_t *data, size_t size)
{
	int fd = memfd_create("fuzz-image", 0);
	if (fd < 0)
		return;
	if (write(fd, data, size) == (ssize_t)size) {
		lseek(fd, 0, SEEK_SET);
		as_stream(fd);
		as_dump(fd);
	}
	close(fd);
}

/* The header's and every whole record's checksum recomputed (the layout of docs/save-format.md). */
static void fix_checksums(uint8_t *p, size_t size)
{
	uint32_t crc;
	size_t off = IMAGE_HEADER_SIZE;
	if (size < IMAGE_HEADER_SIZE)
		return;
	crc = (uint32_t)crc32(0, p, 124);
	memcpy(p + 124, &crc, 4);
	while (off + 8 <= size) {
		uint32_t len;
		size_t body;
		memcpy(&len, p + off + 4, 4);
		body = ((size_t)len + 7) & ~(size_t)7;
		if (len > IMAGE_RECORD_MAX || body + 16 > size - off)
			break;
		crc = (uint32_t)crc32(0, p + off, (uInt)(8 + body));
		memcpy(p + off + 8 + body, &crc, 4);
		off += 8 + body + 8;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy;
	run(data, size);
	if (size < IMAGE_HEADER_SIZE || memcmp(data, IMAGE_MAGIC, 8))
		return 0;
	copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	fix_checksums(copy, size);
	run(copy, size);
	free(copy);
	return 0;
}
