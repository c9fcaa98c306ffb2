/* dwarf_obj: libdwarf over the symbol file mapped read-only, through libdwarf's object
 * access interface: sections are pointers into the mapping (a 600 MB vmlinux costs only the
 * pages a lookup touches, where dwarf_init_b copies 160 MB of .debug_info and more), and
 * relocation sections are hidden (an executable's are already applied). */
#include <fcntl.h>
#include <gelf.h>
#include <libdwarf/libdwarf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mdb/mdb.h"

struct dwarf_obj {
	uint8_t *map;
	size_t size;
	Elf *elf;
	size_t nsec, shstrndx;
	Dwarf_Obj_Access_Interface oi;
	Dwarf_Debug dbg;
};

/* Debian 12's libdwarf (20210528) double-frees when a .debug_rnglists or .debug_loclists
 * table header is bad (tests/fuzz/findings/): such a section is checked here first and hidden
 * from libdwarf when any of its tables' headers is wrong. A table: unit_length (4 bytes, or
 * 0xffffffff and 8), version 5, address size 4 or 8, segment selector size 0, and an offset
 * entry count whose array fits in the table. */
static int lists_ok(const uint8_t *p, size_t size)
{
	size_t off = 0;
	while (off < size) {
		uint64_t len, count;
		size_t hdr = 4, osz = 4;
		uint32_t l32;
		if (size - off < 4)
			return 0;
		memcpy(&l32, p + off, 4);
		len = l32;
		if (l32 == 0xffffffffu) {
			if (size - off < 12)
				return 0;
			memcpy(&len, p + off + 4, 8);
			hdr = 12;
			osz = 8;
		} else if (l32 >= 0xfffffff0u) {
			return 0;
		}
		if (len < 8 || len > size - off - hdr)
			return 0;
		count = (uint64_t)p[off + hdr + 4] | (uint64_t)p[off + hdr + 5] << 8 |
			(uint64_t)p[off + hdr + 6] << 16 | (uint64_t)p[off + hdr + 7] << 24;
		if ((p[off + hdr] | p[off + hdr + 1] << 8) != 5 || (p[off + hdr + 2] != 8 && p[off + hdr + 2] != 4) ||
		    p[off + hdr + 3] != 0 || count > (len - 8) / osz)
			return 0;
		off += hdr + len;
	}
	return 1;
}

static int sec_info(void *obj, Dwarf_Half i, Dwarf_Obj_Access_Section *s, int *error)
{
	struct dwarf_obj *o = obj;
	Elf_Scn *scn = elf_getscn(o->elf, i);
	GElf_Shdr sh;
	const char *name;
	(void)error;
	if (i >= o->nsec || !scn || !gelf_getshdr(scn, &sh))
		return DW_DLV_NO_ENTRY;
	name = elf_strptr(o->elf, o->shstrndx, sh.sh_name);
	s->addr = sh.sh_addr;
	s->type = sh.sh_type;
	s->size = sh.sh_size;
	s->name = name ? name : "";
	s->link = sh.sh_link;
	s->info = sh.sh_info;
	s->entrysize = sh.sh_entsize;
	if (sh.sh_type == SHT_RELA || sh.sh_type == SHT_REL) { /* nothing to apply: hide them */
		s->type = SHT_PROGBITS;
		s->name = "";
	}
	if (name && (!strcmp(name, ".debug_rnglists") || !strcmp(name, ".debug_loclists")) &&
	    (sh.sh_type == SHT_NOBITS || sh.sh_offset > o->size || sh.sh_size > o->size - sh.sh_offset ||
	     !lists_ok(o->map + sh.sh_offset, sh.sh_size)))
		s->name = ""; /* unusable: types and lines still work without it */
	return DW_DLV_OK;
}

static Dwarf_Endianness byte_order(void *obj)
{
	(void)obj;
	return DW_OBJECT_LSB;
}

static Dwarf_Small length_size(void *obj)
{
	(void)obj;
	return 4;
}

static Dwarf_Small pointer_size(void *obj)
{
	return gelf_getclass(((struct dwarf_obj *)obj)->elf) == ELFCLASS32 ? 4 : 8;
}

static Dwarf_Unsigned sec_count(void *obj)
{
	return ((struct dwarf_obj *)obj)->nsec;
}

static int sec_load(void *obj, Dwarf_Half i, Dwarf_Small **data, int *error)
{
	struct dwarf_obj *o = obj;
	Elf_Scn *scn = elf_getscn(o->elf, i);
	GElf_Shdr sh;
	(void)error;
	if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
		return DW_DLV_NO_ENTRY;
	if (sh.sh_offset > o->size || sh.sh_size > o->size - sh.sh_offset)
		return DW_DLV_NO_ENTRY; /* beyond the end of the file */
	*data = o->map + sh.sh_offset;
	return DW_DLV_OK;
}

/* libdwarf aborts on an error when the caller passed no Dwarf_Error and no handler is set:
 * with this one it returns DW_DLV_ERROR instead (the error is freed with the handle). */
static void on_error(Dwarf_Error err, Dwarf_Ptr arg)
{
	(void)err;
	(void)arg;
}

static const Dwarf_Obj_Access_Methods methods = { sec_info, byte_order, length_size, pointer_size,
						  sec_count, sec_load, NULL };

const uint8_t *dwarf_obj_section(struct dwarf_obj *o, const char *name, uint64_t *addr, size_t *size)
{
	for (size_t i = 1; i < o->nsec; i++) {
		Elf_Scn *scn = elf_getscn(o->elf, i);
		GElf_Shdr sh;
		const char *n;
		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS || !(n = elf_strptr(o->elf, o->shstrndx, sh.sh_name)) ||
		    strcmp(n, name) || sh.sh_offset > o->size || sh.sh_size > o->size - sh.sh_offset)
			continue;
		*addr = sh.sh_addr;
		*size = sh.sh_size;
		return o->map + sh.sh_offset;
	}
	return NULL;
}

void dwarf_obj_close(struct dwarf_obj *o)
{
	if (!o)
		return;
	if (o->dbg)
		dwarf_object_finish(o->dbg, NULL);
	if (o->elf)
		elf_end(o->elf);
	if (o->map)
		munmap(o->map, o->size);
	free(o);
}

struct dwarf_obj *dwarf_obj_open(const char *path, void **dbg)
{
	struct dwarf_obj *o = xcalloc(1, sizeof(*o));
	struct stat st;
	Dwarf_Error err = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not hang the reader */
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0)
		goto fail;
	o->size = (size_t)st.st_size;
	o->map = mmap(NULL, o->size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (o->map == MAP_FAILED) {
		o->map = NULL;
		goto fail;
	}
	elf_version(EV_CURRENT);
	o->elf = elf_memory((char *)o->map, o->size);
	if (!o->elf || elf_kind(o->elf) != ELF_K_ELF || elf_getshdrnum(o->elf, &o->nsec) < 0 ||
	    elf_getshdrstrndx(o->elf, &o->shstrndx) < 0 || o->nsec > 0xffff)
		goto fail;
	o->oi.object = o;
	o->oi.methods = &methods;
	if (dwarf_object_init_b(&o->oi, on_error, NULL, DW_GROUPNUMBER_ANY, &o->dbg, &err) != DW_DLV_OK) {
		if (err)
			dwarf_dealloc_error(NULL, err); /* made without a Dwarf_Debug: not freed with one */
		o->dbg = NULL;
		goto fail;
	}
	close(fd);
	*dbg = o->dbg;
	return o;
fail:
	if (fd >= 0)
		close(fd);
	dwarf_obj_close(o);
	return NULL;
}
