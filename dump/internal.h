/* dump/internal.h: what the readers and writers of dump/ share; not a public header. */
#ifndef HVKIT_DUMP_INTERNAL_H
#define HVKIT_DUMP_INTERNAL_H

#include "dump.h"

#define DUMP_MAX_CPUS 1024

struct kdump_map; /* kdump_read.c */
struct dump_file;

/* A dump format's reader, one row of open.c's table. probe: the file (mapped, at least 64
 * bytes) is this format's; open: fills the dump_file from the mapping (-1 with a message;
 * dump_close then frees what it set); read_phys: guest-physical bytes read; close (may be
 * NULL): frees the reader's own state; describe: the format as `hvdump info` names it;
 * read_mt: read_phys may be called from several threads at once. */
struct dump_reader {
	const char *name;
	bool (*probe)(const uint8_t *map, uint64_t size);
	int (*open)(struct dump_file *f, const char *path, struct err *e);
	size_t (*read_phys)(struct dump_file *f, uint64_t gpa, void *buf, size_t len);
	void (*close)(struct dump_file *f);
	const char *(*describe)(const struct dump_file *f);
	bool read_mt;
};

struct dump_file {
	const struct dump_reader *reader;
	uint8_t *map;
	uint64_t size;
	struct dump_load *loads;
	unsigned nloads;
	const uint8_t *prstatus[DUMP_MAX_CPUS];
	unsigned nprstatus;
	const uint8_t *qemu[DUMP_MAX_CPUS]; /* QEMUCPUState notes */
	uint32_t qemu_size[DUMP_MAX_CPUS];
	unsigned nqemu;
	struct dump_cpu *cpus[DUMP_MAX_CPUS];
	unsigned ncpus;
	struct dump_domain *domain;
	struct dump_hash_range *hashes; /* our integrity note's ranges */
	unsigned nhashes;
	char *vmcoreinfo;
	uint8_t *notes; /* every note, verbatim (for convert) */
	size_t notes_len;
	struct kdump_map *kdump; /* set for kdump-compressed files */
	bool flattened;          /* read from makedumpfile's flattened stream */
	struct image_file *image; /* set for domain images (image_open.c) */
};

/* A growing byte buffer (aborts when out of memory: notes are small). */
struct dump_buf {
	uint8_t *p;
	size_t len, cap;
};
void dump_buf_put(struct dump_buf *b, const void *d, size_t n);
void dump_buf_pad(struct dump_buf *b, size_t align);
/* The notes every writer emits: NT_PRSTATUS per vCPU, HVKIT vCPU and domain, the integrity
 * note (its table zero, to be filled at the end), VMCOREINFO; or the source's verbatim notes
 * when it carries them, and the integrity note after them unless they hold one. Returns
 * where the integrity table starts in b, SIZE_MAX for none to fill. */
size_t dump_notes_build(struct dump_buf *b, const struct dump_source *src);
/* hash.c: the writers' side of the integrity note. blocks: buf holds the source's bytes at
 * gpa (a whole MiB from its range's start, and whole MiBs unless it ends the range; any
 * thread, each MiB its own slot); note: the
 * table (nr_ranges x struct dump_hash_range) into out. */
struct dump_hasher {
	const struct dump_source *src;
	uint64_t *first; /* per range, its first block's slot (and the total after the last) */
	uint64_t *h;
};
int dump_hasher_init(struct dump_hasher *hs, const struct dump_source *src, struct err *e);
void dump_hasher_blocks(struct dump_hasher *hs, uint64_t gpa, const uint8_t *buf, size_t len);
void dump_hasher_note(const struct dump_hasher *hs, uint8_t *out);
void dump_hasher_free(struct dump_hasher *hs);
/* Both writers' ending: the integrity table (when hoff is not SIZE_MAX) at notes_off + hoff. */
int dump_hasher_write(const struct dump_hasher *hs, int fd, uint64_t notes_off, size_t hoff, struct err *e);
int dump_write_all(int fd, const void *p, size_t n, uint64_t off, struct err *e);
bool dump_all_zero(const uint8_t *p, size_t n);
/* Writer threads: $HVKIT_DUMP_THREADS, else the CPUs online. */
long dump_threads(void);

/* The formats' writers (dump_write calls them and then writes the magic they leave zero). */
int dump_elf_write(int fd, const struct dump_source *src, dump_progress_fn progress, void *popaque, struct err *e);
int dump_kdump_write(int fd, const struct dump_source *src, enum dump_fmt fmt, dump_progress_fn progress, void *popaque,
		     struct err *e);

/* crosscheck.c: after a reader's open, what the file says twice must agree (vCPU counts,
 * vCPU indexes, memory size against RAM held, RAM ranges); -1 with the disagreement. */
int dump_crosscheck(struct dump_file *f, const char *path, struct err *e);

/* flat.c: f->map holds a flattened stream: replaces it with the file it describes. */
int dump_flat_unpack(struct dump_file *f, const char *path, struct err *e);
int dump_parse_notes(struct dump_file *f, uint64_t off, uint64_t len, struct err *e);
/* elf_read.c: the ELF core reader */
bool elf_probe(const uint8_t *map, uint64_t size);
int elf_open(struct dump_file *f, const char *path, struct err *e);
size_t elf_read_phys(struct dump_file *f, uint64_t gpa, void *buf, size_t len);
const char *elf_describe(const struct dump_file *f);
/* kdump_read.c: the kdump-compressed reader (a file that starts with "KDUMP   ") */
bool kdump_probe(const uint8_t *map, uint64_t size);
int kdump_open(struct dump_file *f, const char *path, struct err *e);
size_t kdump_read_phys(struct dump_file *f, uint64_t gpa, void *buf, size_t len);
void kdump_free(struct dump_file *f);
const char *kdump_describe(const struct dump_file *f);


/* pool: n work items on up to nthreads threads (the caller's among them). work(ctx, slot,
 * item) runs in parallel, slot being the thread's index (its own buffers); emit(ctx, slot,
 * item) then runs under a lock, in item order. The first -1 stops the rest; its message
 * is returned in e. */
typedef int (*dump_pool_fn)(void *ctx, unsigned slot, size_t item, struct err *e);
int dump_pool_run(unsigned nthreads, size_t n, dump_pool_fn work, dump_pool_fn emit, void *ctx, struct err *e);

/* ---- the domain image (image_*.c; public API in image.h) */
#include "image.h"

/* The header's byte offsets (IMAGE_HEADER_SIZE bytes, little-endian). */
enum {
	IH_MAGIC = 0, IH_VERSION = 8, IH_SIZE = 12, IH_FLAGS = 16, IH_PAGE_SIZE = 20, IH_IMAGE_ID = 24,
	IH_PARENT_ID = 32, IH_CREATED = 40, IH_CPU_VENDOR = 48, IH_CPU_FAMILY = 64, IH_CPU_MODEL = 68,
	IH_CPU_STEPPING = 72, IH_HV_VERSION = 80, IH_CRC = 124,
};
void image_header_encode(uint8_t out[IMAGE_HEADER_SIZE], const struct image_header *h);
int image_header_decode(const uint8_t in[IMAGE_HEADER_SIZE], struct image_header *h, struct err *e);
/* The record checksum: zlib's CRC-32 (as gzip's) of the record from its type to the end
 * of its padding. */
uint32_t image_crc(const void *p, size_t n);
#define IMAGE_REC_HDR 8u  /* u32 type, u32 length */
#define IMAGE_REC_TAIL 8u /* u32 crc, u32 zero */
#define IMAGE_PAD8(n) (((uint64_t)(n) + 7) & ~7ull)

/* One known record type: its name, how many may appear (scope), its payload size rule
 * (min..max bytes; entry: bytes per entry of a vCPU record's counted array, at most
 * max_count of them; for keyed records max_count bounds the key). */
enum image_scope {
	IMAGE_SCOPE_END,    /* END */
	IMAGE_SCOPE_DOMAIN, /* once per image */
	IMAGE_SCOPE_VCPU,   /* once per vCPU (struct image_vcpu_hdr first) */
	IMAGE_SCOPE_KEYED,  /* once per instance (a u32 key first: chip id, UART index) */
	IMAGE_SCOPE_ANY,    /* any number (PAGE_DATA) */
};
struct image_rule {
	uint32_t type;
	const char *name;
	enum image_scope scope;
	uint32_t min, max, entry, max_count;
};
extern const struct image_rule image_rules[];
extern const unsigned image_nr_rules;
const struct image_rule *image_rule_of(uint32_t type);
/* A payload against its rule: sizes, counts, the vCPU id below nr_vcpus; *key is the
 * vCPU or instance it is for (for the duplicate check). */
int image_rule_check(const struct image_rule *rule, const uint8_t *p, uint32_t len, uint32_t nr_vcpus,
		     uint32_t *key, struct err *e);
/* A reader over a mapped file instead of an fd (image_open.c). */
struct image_reader *image_reader_open_map(const uint8_t *map, uint64_t size, struct image_header *h,
					   struct err *e);

/* image_index.c: an index over an image already mapped (the map stays the caller's). */
struct image_index *image_index_from_map(const uint8_t *map, uint64_t size, struct err *e);

/* image_open.c: the image as a dump file (a row of open.c's table). */
struct image_file;
bool image_probe(const uint8_t *map, uint64_t size);
int image_open(struct dump_file *f, const char *path, struct err *e);
size_t image_read_phys(struct dump_file *f, uint64_t gpa, void *buf, size_t len);
void image_free(struct dump_file *f);
const char *image_describe(const struct dump_file *f);

#endif
