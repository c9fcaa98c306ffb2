/* mem: guest RAM in one memfd (so later dumps can snapshot it), mapped once in hv and
 * registered with KVM as up to two slots around the 3-4 GiB hole. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int mem_create(struct guest_mem *m, const char *name, uint64_t size, struct err *e)
{
	char label[80];
	memset(m, 0, sizeof(*m));
	snprintf(label, sizeof(label), "hvkit-%s-ram", name);
	m->memfd = memfd_create(label, MFD_CLOEXEC);
	if (m->memfd < 0)
		return err_errno(e, "memfd_create");
	if (ftruncate(m->memfd, (off_t)size) < 0) {
		err_errno(e, "cannot size guest RAM to %llu bytes", (unsigned long long)size);
		close(m->memfd);
		return -1;
	}
	m->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, m->memfd, 0);
	if (m->base == MAP_FAILED) {
		err_errno(e, "cannot map %llu bytes of guest RAM", (unsigned long long)size);
		close(m->memfd);
		return -1;
	}
	m->size = size;
	if (size <= MEM_LOW_LIMIT) {
		m->ranges[0] = (struct mem_range){ 0, size, m->base };
		m->nr_ranges = 1;
	} else {
		m->ranges[0] = (struct mem_range){ 0, MEM_LOW_LIMIT, m->base };
		m->ranges[1] = (struct mem_range){ MEM_HIGH_BASE, size - MEM_LOW_LIMIT, m->base + MEM_LOW_LIMIT };
		m->nr_ranges = 2;
	}
	return 0;
}

void mem_destroy(struct guest_mem *m)
{
	if (m->base && m->base != MAP_FAILED)
		munmap(m->base, m->size);
	if (m->memfd > 0)
		close(m->memfd);
	memset(m, 0, sizeof(*m));
	m->memfd = -1;
}

int mem_map_into(struct guest_mem *m, int vm_fd, struct err *e)
{
	for (int i = 0; i < m->nr_ranges; i++) {
		struct kvm_userspace_memory_region r = {
			.slot = (uint32_t)i,
			.guest_phys_addr = m->ranges[i].gpa,
			.memory_size = m->ranges[i].size,
			.userspace_addr = (uintptr_t)m->ranges[i].hva,
		};
		if (ioctl(vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0)
			return err_errno(e, "KVM_SET_USER_MEMORY_REGION (slot %d)", i);
	}
	return 0;
}

void mem_clear(struct guest_mem *m)
{
	if (fallocate(m->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)m->size) < 0)
		memset(m->base, 0, m->size);
}

void *mem_ptr(struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	for (int i = 0; i < m->nr_ranges; i++) {
		struct mem_range *r = &m->ranges[i];
		if (gpa >= r->gpa && gpa - r->gpa <= r->size && len <= r->size - (gpa - r->gpa))
			return r->hva + (gpa - r->gpa);
	}
	return NULL;
}

int mem_fill_from(struct guest_mem *m, const char *path, struct err *e)
{
	struct stat st;
	uint64_t off = 0;
	int fd = file_open_regular(path, "--mem-image ", &st, e);
	if (fd < 0)
		return -1;
	while (off < m->size) {
		ssize_t n = pread(fd, m->base + off, m->size - off > (1u << 30) ? (1u << 30) : (size_t)(m->size - off), (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			close(fd);
			return err_errno(e, "--mem-image %s", path);
		}
		if (n == 0)
			break;
		off += (uint64_t)n;
	}
	close(fd);
	return 0;
}
