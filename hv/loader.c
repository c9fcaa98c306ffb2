/* loader: PVH ELF kernels (libelf): every PT_LOAD copied to its physical address, the
 * 32-bit entry taken from the XEN_ELFNOTE_PHYS32_ENTRY note; a Linux bzImage goes to
 * loader_bzimage.c. All sizes are checked. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hvkit/abi.h"

static int find_pvh_note(Elf *elf, const char *path, size_t phnum, uint64_t *entry, struct err *e)
{
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		Elf_Data *data;
		GElf_Nhdr nh;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_NOTE)
			continue;
		data = elf_getdata_rawchunk(elf, (int64_t)ph.p_offset, ph.p_filesz, ELF_T_NHDR);
		if (!data)
			return err_set(e, "%s: bad PT_NOTE segment: %s", path, elf_errmsg(-1));
		while ((off = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
			const char *name = (const char *)data->d_buf + name_off;
			const uint8_t *desc = (const uint8_t *)data->d_buf + desc_off;
			if (nh.n_type != XEN_ELFNOTE_PHYS32_ENTRY || nh.n_namesz != 4 || memcmp(name, "Xen", 4))
				continue;
			if (nh.n_descsz == 4) {
				uint32_t v;
				memcpy(&v, desc, 4);
				*entry = v;
			} else if (nh.n_descsz == 8) {
				uint64_t v;
				memcpy(&v, desc, 8);
				*entry = v;
			} else {
				return err_set(e, "%s: PVH entry note has a %u-byte value", path, (unsigned)nh.n_descsz);
			}
			return 0;
		}
	}
	return err_set(e, "%s: not a PVH kernel (no XEN_ELFNOTE_PHYS32_ENTRY note)", path);
}

extern const uint8_t hv_builtin_guest[], hv_builtin_guest_end[];

/* The built-in guest lives in hv's rodata; libelf reads it from a memfd like a file. */
static int open_kernel(const char *path, struct err *e)
{
	size_t n = (size_t)(hv_builtin_guest_end - hv_builtin_guest), done = 0;
	struct stat st;
	int fd;
	if (path)
		return file_open_regular(path, "kernel", &st, e); /* a FIFO must not hang hv */
	fd = memfd_create("hvkit-builtin-guest", MFD_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "memfd for the built-in guest");
	while (done < n) {
		ssize_t w = write(fd, hv_builtin_guest + done, n - done);
		if (w <= 0) {
			err_errno(e, "memfd for the built-in guest");
			close(fd);
			return -1;
		}
		done += (size_t)w;
	}
	return fd;
}

int loader_load_pvh(struct guest_mem *m, const char *kpath, struct kernel_image *ki, struct err *e)
{
	const char *path = kpath ? kpath : "built-in guest";
	int fd, ret = -1;
	struct stat st;
	uint8_t *file = NULL;
	Elf *elf = NULL;
	GElf_Ehdr eh;
	size_t phnum, loads = 0;

	memset(ki, 0, sizeof(*ki));
	ki->lowest = UINT64_MAX;
	fd = open_kernel(kpath, e);
	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return err_set(e, "%s: not a regular file", path);
	}
	if (loader_is_bzimage(fd)) {
		ret = loader_load_bzimage(m, fd, path, ki, e);
		close(fd);
		return ret;
	}
	if (elf_version(EV_CURRENT) == EV_NONE) {
		close(fd);
		return err_set(e, "libelf: %s", elf_errmsg(-1));
	}
	elf = elf_begin(fd, ELF_C_READ_MMAP, NULL);
	if (!elf || elf_kind(elf) != ELF_K_ELF) {
		err_set(e, "%s: not an ELF file", path);
		goto out;
	}
	if (!gelf_getehdr(elf, &eh)) {
		err_set(e, "%s: bad ELF header: %s", path, elf_errmsg(-1));
		goto out;
	}
	if (eh.e_machine != EM_X86_64 && eh.e_machine != EM_386) {
		err_set(e, "%s: not an x86 kernel (ELF machine %u)", path, (unsigned)eh.e_machine);
		goto out;
	}
	if (eh.e_type != ET_EXEC) {
		err_set(e, "%s: not an executable ELF file (type %u)", path, (unsigned)eh.e_type);
		goto out;
	}
	if (elf_getphdrnum(elf, &phnum) < 0 || phnum == 0) {
		err_set(e, "%s: no program headers", path);
		goto out;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph)) {
			err_set(e, "%s: bad program header %zu (truncated kernel?)", path, i);
			goto out;
		}
		if ((ph.p_type == PT_LOAD || ph.p_type == PT_NOTE) &&
		    (ph.p_offset > (uint64_t)st.st_size || ph.p_filesz > (uint64_t)st.st_size - ph.p_offset)) {
			err_set(e, "%s: segment %zu lies outside the file (truncated kernel?)", path, i);
			goto out;
		}
	}
	if (find_pvh_note(elf, path, phnum, &ki->entry32, e) < 0)
		goto out;
	file = (uint8_t *)elf_rawfile(elf, NULL);
	if (!file) {
		err_set(e, "%s: cannot read: %s", path, elf_errmsg(-1));
		goto out;
	}
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr ph;
		uint8_t *dst;
		gelf_getphdr(elf, (int)i, &ph); /* checked above */
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz) {
			err_set(e, "%s: segment %zu has more file bytes than memory bytes", path, i);
			goto out;
		}
		if (ph.p_paddr < 0x100000) {
			err_set(e, "%s: segment %zu loads at 0x%llx, below 1 MiB", path, i,
				(unsigned long long)ph.p_paddr);
			goto out;
		}
		dst = m ? mem_ptr(m, ph.p_paddr, ph.p_memsz) : NULL;
		if (m && !dst) {
			err_set(e, "%s: segment %zu (0x%llx-0x%llx) does not fit in guest RAM", path, i,
				(unsigned long long)ph.p_paddr, (unsigned long long)(ph.p_paddr + ph.p_memsz));
			goto out;
		}
		if (dst) {
			memcpy(dst, file + ph.p_offset, ph.p_filesz);
			memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		}
		if (ph.p_paddr < ki->lowest)
			ki->lowest = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > ki->highest)
			ki->highest = ph.p_paddr + ph.p_memsz;
		loads++;
	}
	if (!loads) {
		err_set(e, "%s: no loadable segments", path);
		goto out;
	}
	if (ki->entry32 < ki->lowest || ki->entry32 >= ki->highest || ki->entry32 > 0xffffffffull) {
		err_set(e, "%s: PVH entry 0x%llx is outside the loaded image", path, (unsigned long long)ki->entry32);
		goto out;
	}
	symtab_load(&ki->symtab, elf);
	kernel_linux_probe(ki);
	ret = 0;
out:
	if (elf)
		elf_end(elf);
	close(fd);
	return ret;
}

int hv_domain_kernel_path(struct hv *hv, int id, char *path, size_t len)
{
	static int builtin_fd = -1;
	struct domain *d = hv_domain_by_id(hv, id);
	if (!d)
		return -1;
	if (d->cfg.kernel) {
		snprintf(path, len, "%s", d->cfg.kernel);
		return 0;
	}
	if (builtin_fd < 0) {
		struct err e;
		builtin_fd = open_kernel(NULL, &e);
	}
	if (builtin_fd < 0)
		return -1;
	snprintf(path, len, "/proc/self/fd/%d", builtin_fd);
	return 0;
}
