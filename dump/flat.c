/* flat: makedumpfile's flattened format (makedumpfile -F, and what QEMU's
 * dump-guest-memory writes for its kdump-* formats): a 4096-byte header ("makedumpfile",
 * type, version), then records of (offset, size) in big-endian followed by size bytes to
 * be placed at offset of the real file, ended by (-1, -1). The records are replayed into
 * a sparse anonymous file, which then opens like any dump. */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define FLAT_HEADER 4096
#define FLAT_MAX_FILE (1ull << 44) /* 16 TiB: larger offsets are corruption */

static int64_t be64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, 8);
	return (int64_t)be64toh(v);
}

int dump_flat_unpack(struct dump_file *f, const char *path, struct err *e)
{
	uint64_t pos = FLAT_HEADER, end = 0;
	bool ended = false;
	uint8_t *map;
	int fd;

	if (f->size < FLAT_HEADER)
		return err_set(e, "%s: flattened dump header truncated", path);
	fd = memfd_create("hvkit-unflattened", MFD_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "memfd_create");
	while (pos + 16 <= f->size) {
		int64_t off = be64(f->map + pos), len = be64(f->map + pos + 8);
		pos += 16;
		if (off == -1 && len == -1) {
			ended = true;
			break;
		}
		if (off < 0 || len < 0 || (uint64_t)len > f->size - pos || (uint64_t)off > FLAT_MAX_FILE ||
		    (uint64_t)len > FLAT_MAX_FILE - (uint64_t)off) {
			close(fd);
			return err_set(e, "%s: corrupt flattened dump record at offset %llu", path, (unsigned long long)(pos - 16));
		}
		for (uint64_t done = 0; done < (uint64_t)len;) {
			ssize_t w = pwrite(fd, f->map + pos + done, (size_t)((uint64_t)len - done), (off_t)((uint64_t)off + done));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				close(fd);
				return err_errno(e, "%s: unflattening", path);
			}
			done += (uint64_t)w;
		}
		if ((uint64_t)off + (uint64_t)len > end)
			end = (uint64_t)off + (uint64_t)len;
		pos += (uint64_t)len;
	}
	if (!ended) {
		close(fd);
		return err_set(e, "%s: flattened dump truncated (no end record)", path);
	}
	if (!end) {
		close(fd);
		return err_set(e, "%s: flattened dump holds no data", path);
	}
	/* empty records may name offsets past the last byte written: the file reaches them */
	if (ftruncate(fd, (off_t)end) < 0) {
		close(fd);
		return err_errno(e, "%s: unflattening", path);
	}
	map = mmap(NULL, end, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return err_errno(e, "%s: mmap", path);
	munmap(f->map, f->size);
	f->map = map;
	f->size = end;
	return 0;
}
