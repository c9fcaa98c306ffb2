/* open: dump_open maps a dump file and hands it to the first reader of the table below
 * whose probe knows its magic (a flattened stream is replayed into a real file first);
 * a new format is one row here and one file with its probe, open, read and describe. */
#include <elf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "kdump.h"

static const struct dump_reader readers[] = {
	{ .name = "domain image", .probe = image_probe, .open = image_open, .read_phys = image_read_phys,
	  .close = image_free, .describe = image_describe, .read_mt = false },
	{ .name = "kdump-compressed", .probe = kdump_probe, .open = kdump_open, .read_phys = kdump_read_phys,
	  .close = kdump_free, .describe = kdump_describe, .read_mt = false },
	{ .name = "ELF core", .probe = elf_probe, .open = elf_open, .read_phys = elf_read_phys,
	  .describe = elf_describe, .read_mt = true },
};

void dump_close(struct dump_file *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < f->ncpus; i++)
		free(f->cpus[i]);
	free(f->domain);
	free(f->hashes);
	free(f->vmcoreinfo);
	free(f->loads);
	free(f->notes);
	if (f->reader && f->reader->close)
		f->reader->close(f);
	if (f->map && f->map != MAP_FAILED)
		munmap(f->map, f->size);
	free(f);
}

/* Our writers' files before their last write (dump_write): the ELF identification, or
 * a kdump header (version 6, block size 4096), with the magic still zero. */
static bool incomplete(const uint8_t *m, uint64_t size)
{
	static const uint8_t zero[8], elf_ident[4] = { ELFCLASS64, ELFDATA2LSB, EV_CURRENT, ELFOSABI_NONE };
	uint32_t version, block;
	if (memcmp(m, zero, 4))
		return false;
	if (!memcmp(m + 4, elf_ident, 4))
		return true;
	if (memcmp(m, zero, 8) || size < KDH_SIZE)
		return false;
	memcpy(&version, m + KDH_VERSION, 4);
	memcpy(&block, m + KDH_BLOCK_SIZE, 4);
	return version == KDUMP_HEADER_VERSION && block == 4096;
}

struct dump_file *dump_open(const char *path, struct err *e)
{
	struct dump_file *f = calloc(1, sizeof(*f));
	struct stat st;
	int fd;

	if (!f) {
		err_set(e, "out of memory");
		return NULL;
	}
	fd = file_open_regular(path, "", &st, e);
	if (fd < 0) {
		free(f);
		return NULL;
	}
	f->size = (uint64_t)st.st_size;
	if (f->size < 64) { /* an ELF header's size: no format here is shorter */
		err_set(e, "%s: too short to be a dump (%llu bytes)", path, (unsigned long long)f->size);
		close(fd);
		free(f);
		return NULL;
	}
	f->map = mmap(NULL, f->size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (f->map == MAP_FAILED) {
		err_errno(e, "%s: mmap", path);
		free(f);
		return NULL;
	}
	if (!memcmp(f->map, "makedumpfile", 12)) { /* flattened: replayed into a real file first */
		if (dump_flat_unpack(f, path, e) < 0)
			goto fail;
		if (f->size < 64) {
			err_set(e, "%s: too short to be a dump once unflattened", path);
			goto fail;
		}
		f->flattened = true;
	}
	if (incomplete(f->map, f->size)) {
		err_set(e, "%s: an incomplete dump: its writer never finished (the magic is written last), so it "
			   "holds no consistent instant; not read", path);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++) {
		if (!readers[i].probe(f->map, f->size))
			continue;
		f->reader = &readers[i];
		if (readers[i].open(f, path, e) < 0 || dump_crosscheck(f, path, e) < 0)
			goto fail;
		return f;
	}
	err_set(e, "%s: not a dump this reader knows (no ELF header)", path);
fail:
	dump_close(f);
	return NULL;
}

const char *dump_format(const struct dump_file *f)
{
	return f->reader->describe(f);
}

size_t dump_read_phys(struct dump_file *f, uint64_t gpa, void *buf, size_t len)
{
	return f->reader->read_phys(f, gpa, buf, len);
}

bool dump_read_mt(const struct dump_file *f)
{
	return f->reader->read_mt;
}

bool dump_is_image(const struct dump_file *f)
{
	return f->image != NULL;
}
