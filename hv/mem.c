/* mem: guest RAM in one memfd (so later dumps can snapshot it), mapped once in hv and
 * registered with KVM as up to two slots around the 3-4 GiB hole. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
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
	pthread_mutex_init(&m->dirty_lock, NULL);
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
	if (m->size)
		pthread_mutex_destroy(&m->dirty_lock);
	free(m->hv_dirty);
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
			.flags = m->dirty_logging ? KVM_MEM_LOG_DIRTY_PAGES : 0,
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
	mem_mark_dirty(m, m->base, m->size); /* every page changed, unseen by KVM */
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
	int fd = file_open_regular(path, "--mem-image", &st, e);
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

int mem_dirty_log(struct guest_mem *m, int vm_fd, bool on, struct err *e)
{
	bool was = m->dirty_logging;
	m->dirty_logging = on;
	if (on && !m->hv_dirty)
		m->hv_dirty = xcalloc(MEM_BITMAP_WORDS(m), sizeof(uint64_t));
	if (mem_map_into(m, vm_fd, e) < 0) {
		m->dirty_logging = was;
		return err_prefix(e, "dirty logging");
	}
	pthread_mutex_lock(&m->dirty_lock);
	if (m->hv_dirty)
		memset(m->hv_dirty, 0, MEM_BITMAP_WORDS(m) * sizeof(uint64_t));
	pthread_mutex_unlock(&m->dirty_lock);
	return 0;
}

int mem_dirty_fetch(struct guest_mem *m, int vm_fd, uint64_t *bitmap, struct err *e)
{
	if (!m->dirty_logging)
		return err_set(e, "dirty logging is off");
	for (int i = 0; i < m->nr_ranges; i++) {
		uint64_t pages = m->ranges[i].size / 4096, first = (uint64_t)(m->ranges[i].hva - m->base) / 4096;
		uint64_t *log = xcalloc((pages + 63) / 64, sizeof(uint64_t));
		struct kvm_dirty_log d = { .slot = (uint32_t)i, .dirty_bitmap = log };
		if (ioctl(vm_fd, KVM_GET_DIRTY_LOG, &d) < 0) {
			free(log);
			return err_errno(e, "KVM_GET_DIRTY_LOG (slot %d)", i);
		}
		if (first % 64 == 0) {
			for (uint64_t w = 0; w < (pages + 63) / 64; w++)
				bitmap[first / 64 + w] |= log[w];
		} else {
			for (uint64_t p = 0; p < pages; p++)
				if (log[p / 64] >> (p % 64) & 1)
					bitmap[(first + p) / 64] |= 1ull << ((first + p) % 64);
		}
		free(log);
	}
	pthread_mutex_lock(&m->dirty_lock);
	for (uint64_t w = 0; m->hv_dirty && w < MEM_BITMAP_WORDS(m); w++) {
		bitmap[w] |= m->hv_dirty[w];
		m->hv_dirty[w] = 0;
	}
	pthread_mutex_unlock(&m->dirty_lock);
	return 0;
}

bool mem_page_of(const struct guest_mem *m, uint64_t gpa, uint64_t *page)
{
	for (int i = 0; i < m->nr_ranges; i++) {
		if (gpa >= m->ranges[i].gpa && gpa - m->ranges[i].gpa < m->ranges[i].size) {
			*page = (uint64_t)(m->ranges[i].hva - m->base + (gpa - m->ranges[i].gpa)) / 4096;
			return true;
		}
	}
	return false;
}

void mem_mark_dirty(struct guest_mem *m, const void *hva, uint64_t len)
{
	const uint8_t *p = hva;
	if (!m->dirty_logging || !len || p < m->base || p >= m->base + m->size)
		return;
	pthread_mutex_lock(&m->dirty_lock);
	for (uint64_t page = (uint64_t)(p - m->base) / 4096; page <= (uint64_t)(p - m->base + len - 1) / 4096 &&
							     page < m->size / 4096; page++)
		if (m->hv_dirty)
			m->hv_dirty[page / 64] |= 1ull << (page % 64);
	pthread_mutex_unlock(&m->dirty_lock);
}

uint64_t *mem_gfns_of(const struct guest_mem *m, const uint64_t *bm, size_t *n)
{
	uint64_t *g = NULL;
	size_t cap = 0;
	*n = 0;
	for (int r = 0; r < m->nr_ranges; r++) {
		uint64_t first = (uint64_t)(m->ranges[r].hva - m->base) / 4096, pages = m->ranges[r].size / 4096;
		for (uint64_t p = 0; p < pages; p++) {
			uint64_t page = first + p;
			if (!(bm[page / 64] >> (page % 64) & 1))
				continue;
			if (*n == cap) {
				cap = cap ? cap * 2 : 1024;
				g = xrealloc(g, cap * sizeof(*g));
			}
			g[(*n)++] = m->ranges[r].gpa / 4096 + p;
		}
	}
	return g;
}

int domain_ram_read(void *opaque, uint64_t gpa, void *buf, size_t len)
{
	struct domain *d = opaque;
	const void *p = mem_ptr(&d->mem, gpa, len);
	if (!p)
		return -1;
	memcpy(buf, p, len);
	return 0;
}

int mem_uffd_open(struct guest_mem *m, struct err *e)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MISSING_SHMEM };
	struct uffdio_register reg = { .range = { (uint64_t)(uintptr_t)m->base, m->size },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	/* KVM reads guest RAM from the kernel: the faults of kernel mode are ours too */
	int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return err_errno(e, "userfaultfd");
	if (ioctl(fd, UFFDIO_API, &api) < 0 || !(api.features & UFFD_FEATURE_MISSING_SHMEM)) {
		close(fd);
		return err_set(e, "userfaultfd cannot serve shared memory here");
	}
	if (ioctl(fd, UFFDIO_REGISTER, &reg) < 0) {
		err_errno(e, "userfaultfd register");
		close(fd);
		return -1;
	}
	return fd;
}

void mem_uffd_close(struct guest_mem *m, int fd)
{
	struct uffdio_range r = { (uint64_t)(uintptr_t)m->base, m->size };
	if (fd < 0)
		return;
	ioctl(fd, UFFDIO_UNREGISTER, &r);
	close(fd);
}
