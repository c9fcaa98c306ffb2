/* util: small helpers shared by every hvkit library: error values with a message,
 * checked allocation, size parsing. */
#ifndef HVKIT_UTIL_H
#define HVKIT_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Every fallible call takes a struct err * and returns -1 (or NULL) with err->msg set. */
struct err {
	char msg[512];
};

__attribute__((format(printf, 2, 3))) int err_set(struct err *e, const char *fmt, ...);
/* Like err_set, with ": strerror(errno)" appended. Returns -1. */
__attribute__((format(printf, 2, 3))) int err_errno(struct err *e, const char *fmt, ...);
/* Prepends "PREFIX: " to the message already in e. Returns -1. */
__attribute__((format(printf, 2, 3))) int err_prefix(struct err *e, const char *fmt, ...);

void *xcalloc(size_t n, size_t size);
char *xstrdup(const char *s);

/* Parses "512", "512M", "2G", "64K", "1T" (binary units; bare number = MiB when
 * default_unit is 1<<20). Returns -1 on junk or overflow. */
int size_parse(const char *s, uint64_t default_unit, uint64_t *out);

/* ---- symtab.c: an ELF file's symbol table (.symtab; functions, objects, assembly
 * labels), sorted for lookup by address, and by name. */
#include <stdbool.h>
struct symbol {
	uint64_t addr, size;
	char *name;
	bool code; /* in an executable section */
};
struct symtab {
	struct symbol *syms; /* sorted by address */
	size_t n;
	char build_id[41];   /* the GNU build-id note in hex, "" when the file has none */
};
struct Elf;
void symtab_load(struct symtab *t, struct Elf *elf);
/* Opens an ELF file and loads its symbols (an empty table when it has none). */
int symtab_load_file(struct symtab *t, const char *path, struct err *e);
/* The GNU build-id of an ELF file in hex ("" and -1 when it has none or is no ELF). */
int elf_file_build_id(const char *path, char out[41]);
void symtab_free(struct symtab *t);
const struct symbol *symtab_lookup(const struct symtab *t, uint64_t addr);
/* Code symbols only; a size-less symbol reaches at most 64 KiB or to the next one. */
const struct symbol *symtab_lookup_code(const struct symtab *t, uint64_t addr);
const struct symbol *symtab_by_name(const struct symtab *t, const char *name);

/* Opens a regular file for reading (a FIFO or device cannot hang or fool the caller):
 * the fd, its stat in *st, or -1 with "WHAT PATH: ..." in e (what may be ""). */
struct stat;
int file_open_regular(const char *path, const char *what, struct stat *st, struct err *e);

/* ---- json.c: JSON strings: "..." with \" \\ \n \t (and the like) and \u00XX for other
 * control bytes and for bytes that are not valid UTF-8 (valid UTF-8 is kept). */
void json_write_str(FILE *f, const char *s); /* NULL: "" */
void json_write_strn(FILE *f, const char *s, size_t n); /* n bytes, NULs included */
/* Into out (len bytes): the quoted string, cut short at a whole character to fit; out. */
char *json_quote(char *out, size_t len, const char *s);

/* Monotonic time in nanoseconds. */
uint64_t time_ns(void);
/* A progress line on f, redrawn in place ("\r 42%  430/1024 MiB  310 MiB/s  ETA 2 s"),
 * ended with a newline when done == total; elapsed_ns since the start. */
void progress_print(FILE *f, uint64_t done, uint64_t total, uint64_t elapsed_ns);

#endif
