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
	char *vmcoreinfo;
	uint8_t *notes; /* every note, verbatim (for convert) */
	size_t notes_len;
	struct kdump_map *kdump; /* set for kdump-compressed files */
	bool flattened;          /* read from makedumpfile's flattened stream */
};

/* A growing byte buffer (aborts when out of memory: notes are small). */
struct dump_buf {
	uint8_t *p;
	size_t len, cap;
};
void dump_buf_put(struct dump_buf *b, const void *d, size_t n);
void dump_buf_pad(struct dump_buf *b, size_t align);
/* The notes every writer emits: NT_PRSTATUS per vCPU, HVKIT vCPU and domain, VMCOREINFO;
 * or the source's verbatim notes when it carries them. */
void dump_notes_build(struct dump_buf *b, const struct dump_source *src);
int dump_write_all(int fd, const void *p, size_t n, uint64_t off, struct err *e);
bool dump_all_zero(const uint8_t *p, size_t n);
/* Writer threads: $HVKIT_DUMP_THREADS, else the CPUs online. */
long dump_threads(void);

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

#endif
