/* fuzz_migrate: libFuzzer target for what a relocation server reads from a peer: the
 * migration hello (hv/migwire.c), then the domain image stream (dump/image.h) and an
 * answer line, as hv/reloc.c reads them, over a socket. Nothing may crash, hang or read
 * out of bounds; a hello that is taken has every field inside its limits. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dump/image.h"
#include "hv/migwire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int page(void *opaque, uint64_t gfn, const void *p, struct err *e)
{
	(void)opaque;
	(void)e;
	return p && gfn == ~0ull ? -1 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int sv[2], buf = 1 << 20;
	struct migr_hello h;
	struct kvm_cpuid_entry2 *ent = NULL;
	struct err e;
	if (size > 512 * 1024 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0)
		return 0;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
	if (size && write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR); /* the peer is done: every read ends at EOF, not a wait */
	if (migr_hello_read(sv[0], 100, &h, &ent, &e) == 0) {
		struct image_header ih;
		struct image_reader *r;
		if (!h.ncpuid || h.ncpuid > MIGR_MAX_CPUID || !h.nr_vcpus || h.mem_bytes % 4096 || !h.name[0] ||
		    memchr(h.name, 0, sizeof(h.name)) == NULL)
			__builtin_trap();
		r = image_reader_open_timeout(sv[0], 100, &ih, &e);
		if (r) {
			uint32_t type, len;
			const void *p;
			char line[MIGR_LINE_MAX];
			while (image_next(r, &type, &p, &len, &e) > 0)
				if (type == IMAGE_PAGE_DATA)
					image_pages(r, p, len, page, NULL, &e);
			image_reader_close(r);
			migr_read_line(sv[0], line, sizeof(line), 100, &e);
		}
		free(ent);
	}
	close(sv[0]);
	close(sv[1]);
	return 0;
}
