/* util/symtab.h: an ELF file's symbol table (symtab.c). */
#ifndef HVKIT_UTIL_SYMTAB_H
#define HVKIT_UTIL_SYMTAB_H

#include <stdbool.h>
#include <stdint.h>
#include "util/err.h"

/* An ELF file's symbol table (.symtab; functions, objects, assembly
 * labels), sorted for lookup by address, and by name. */
struct symbol {
	uint64_t addr, size;
	char *name;
	bool code; /* in an executable section */
};
struct symtab {
	struct symbol *syms; /* sorted by address */
	size_t n;
	char build_id[41];   /* the GNU build-id note in hex, "" when the file has none */
	/* where that note (its header) is when the file is loaded: its virtual address, and
	 * the physical one from its PT_LOAD (0: in no loaded segment) */
	uint64_t build_id_va, build_id_pa;
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
/* addr as "name" or "name+0x1c" against symbol s (the one that holds addr); false when s
 * is NULL. */
bool symtab_format(const struct symbol *s, uint64_t addr, char *buf, size_t len);

#endif
