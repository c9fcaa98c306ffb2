/* Unit tests for the domain image (dump/image.h): a synthetic domain (two RAM ranges
 * around a hole; zero, text-like, random and one-word pages; two vCPUs; every record
 * type) written through a pipe and read back streaming, and written to a file and
 * opened as a dump; truncations, bit flips and broken rules refused with a message.
 * `test_image --write PATH [--small]` writes the synthetic image (e2e tests, fuzz seeds). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "dump/dump.h"
#include "dump/image.h"

#define R1_GPA (16ull << 20)

static uint64_t r0_size = 4u << 20, r1_size = 2u << 20;
static uint8_t *ram0, *ram1;
static struct image_range ranges[2];
static struct kvm_regs regs[2];
static struct kvm_sregs sregs[2];
static struct kvm_msr_entry msrs[3] = { { .index = 0xc0000082, .data = 0xffffffff81a00000ull },
					{ .index = 0x174, .data = 0x10 }, { .index = 0x277, .data = 0x0007040600070406ull } };
static const char config[] = "name = \"testdom\"\nmemory = 6\nvcpus = 2\n";

static int mem_read(void *o, uint64_t gpa, void *buf, size_t len)
{
	(void)o;
	if (gpa + len <= r0_size) {
		memcpy(buf, ram0 + gpa, len);
		return 0;
	}
	if (gpa >= R1_GPA && gpa + len <= R1_GPA + r1_size) {
		memcpy(buf, ram1 + (gpa - R1_GPA), len);
		return 0;
	}
	memset(buf, 0, len); /* outside RAM (a test of the reader's gfn check) */
	return 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	uint64_t x = 0x9e3779b97f4a7c15ull * (seed + 1);
	for (size_t pg = 0; pg < n / 4096; pg++) {
		uint8_t *q = p + pg * 4096;
		switch (pg % 4) {
		case 0:
			memset(q, 0, 4096);
			break;
		case 1:
			for (int i = 0; i < 4096; i++)
				q[i] = (uint8_t)("the quick brown fox "[i % 20] + (pg & 3));
			break;
		case 2:
			for (int i = 0; i < 4096; i++) {
				x ^= x << 13, x ^= x >> 7, x ^= x << 17;
				q[i] = (uint8_t)x;
			}
			break;
		default:
			memset(q, 0, 4096);
			memcpy(q + 4088, &pg, sizeof(pg));
		}
	}
}

static void domain_init(bool small)
{
	if (small) {
		r0_size = 32768;
		r1_size = 16384;
	}
	ranges[0] = (struct image_range){ 0, r0_size };
	ranges[1] = (struct image_range){ R1_GPA, r1_size };
	free(ram0);
	free(ram1);
	ram0 = malloc(r0_size);
	ram1 = malloc(r1_size);
	fill(ram0, r0_size, 1);
	fill(ram1, r1_size, 2);
	for (unsigned i = 0; i < 2; i++) {
		memset(&regs[i], 0, sizeof(regs[i]));
		memset(&sregs[i], 0, sizeof(sregs[i]));
		regs[i].rip = 0xffffffff80100000ull + i;
		regs[i].rsp = 0xffff888000010000ull + 16 * i;
		regs[i].rbx = 0x1122334455667788ull ^ i;
		regs[i].rflags = 0x246;
		sregs[i].cr3 = 0x1000 * (i + 1);
		sregs[i].cr0 = 0x80050033;
		sregs[i].efer = 0xd01;
		sregs[i].cs = (struct kvm_segment){ .selector = 0x10, .limit = 0xfffff, .type = 11, .present = 1, .s = 1, .l = 1,
						    .g = 1 };
		sregs[i].gdt.base = 0xffffffff82000000ull;
		sregs[i].gdt.limit = 0x7f;
	}
}

/* The synthetic domain's image: every record type, an optional record this reader does
 * not know, and the RAM. */
static int write_image(int fd, uint32_t flags, uint64_t parent, struct image_header *out, struct err *e)
{
	struct image_header h;
	struct image_writer *w;
	struct image_domain_info di = { .id = 3, .nr_vcpus = 2, .mem_bytes = 0, .time_ns = 1764000000123456789ull };
	struct kvm_mp_state mp[2] = { { KVM_MP_STATE_RUNNABLE }, { KVM_MP_STATE_INIT_RECEIVED } };
	struct kvm_vcpu_events ev = { .nmi = { .pending = 1 } };
	struct kvm_lapic_state lapic = { .regs = { [0x20] = 1 } };
	struct kvm_debugregs dr = { .dr7 = 0x400 };
	struct kvm_fpu fpu = { .fcw = 0x37f };
	struct kvm_xcrs xcrs = { .nr_xcrs = 1, .xcrs = { { .xcr = 0, .value = 7 } } };
	static struct kvm_xsave xsave;
	struct kvm_cpuid_entry2 cpuid[2] = { { .function = 0, .eax = 0xd }, { .function = 1, .eax = 0x906ea } };
	struct kvm_irqchip chip = { 0 };
	struct kvm_pit_state2 pit = { .flags = 1 };
	struct kvm_clock_data clk = { .clock = 123456789 };
	uint32_t uart[4] = { 0, 1, 0x55, 0xaa };

	image_header_init(&h, "hvkit-test 1.0");
	h.flags = flags;
	h.parent_id = parent;
	if (out)
		*out = h;
	snprintf(di.name, sizeof(di.name), "testdom");
	snprintf(di.state, sizeof(di.state), "saved");
	di.mem_bytes = r0_size + r1_size;
	w = image_writer_open(fd, &h, e);
	if (!w)
		return -1;
	if (image_put_layout(w, 2, ranges, 2, e) < 0 || image_put(w, IMAGE_DOMAIN_CONFIG, config, sizeof(config) - 1, e) < 0 ||
	    image_put(w, IMAGE_DOMAIN_INFO, &di, sizeof(di), e) < 0 ||
	    image_put(w, IMAGE_VMCOREINFO, "OSRELEASE=test\n", 15, e) < 0 ||
	    image_put(w, IMAGE_OPTIONAL | 0x777, "future", 6, e) < 0)
		goto fail;
	if (flags & IMAGE_F_INCREMENTAL) {
		uint64_t gfns[] = { 0, 1, 2, 3, R1_GPA / 4096 + 2 }; /* gfn 0 is a zero page */
		if (image_put_pages(w, gfns, 5, mem_read, NULL, true, e) < 0)
			goto fail;
	} else if (image_put_ram(w, ranges, 2, mem_read, NULL, true, e) < 0) {
		goto fail;
	}
	for (uint32_t i = 0; i < 2; i++) {
		if (image_put_vcpu(w, IMAGE_VCPU_REGS, i, 0, &regs[i], sizeof(regs[i]), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_SREGS, i, 0, &sregs[i], sizeof(sregs[i]), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_FPU, i, 0, &fpu, sizeof(fpu), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_XSAVE, i, 0, &xsave, sizeof(xsave), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_XCRS, i, 0, &xcrs, sizeof(xcrs), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_MSRS, i, 3, msrs, sizeof(msrs), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_LAPIC, i, 0, &lapic, sizeof(lapic), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_EVENTS, i, 0, &ev, sizeof(ev), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_MP_STATE, i, 0, &mp[i], sizeof(mp[i]), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_DEBUGREGS, i, 0, &dr, sizeof(dr), e) < 0 ||
		    image_put_vcpu(w, IMAGE_VCPU_CPUID, i, 2, cpuid, sizeof(cpuid), e) < 0)
			goto fail;
	}
	for (uint32_t c = 0; c < 3; c++) {
		chip.chip_id = c;
		if (image_put(w, IMAGE_IRQCHIP, &chip, sizeof(chip), e) < 0)
			goto fail;
	}
	if (image_put(w, IMAGE_PIT, &pit, sizeof(pit), e) < 0 || image_put(w, IMAGE_CLOCK, &clk, sizeof(clk), e) < 0 ||
	    image_put(w, IMAGE_UART, uart, sizeof(uart), e) < 0 || image_put(w, IMAGE_CONSOLE_TAIL, "login: ", 7, e) < 0)
		goto fail;
	return image_writer_close(w, e);
fail:
	image_writer_abort(w);
	return -1;
}

static int setup(void **state)
{
	(void)state;
	domain_init(false);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(ram0);
	free(ram1);
	return 0;
}

struct pipe_writer {
	int fd;
	int rc;
	struct err e;
};

static void *writer_thread(void *arg)
{
	struct pipe_writer *pw = arg;
	pw->rc = write_image(pw->fd, 0, 0, NULL, &pw->e);
	close(pw->fd);
	return NULL;
}

static int page_to_ram(void *opaque, uint64_t gfn, const void *data, struct err *e)
{
	uint8_t *mirror = opaque; /* ram0 then ram1, back to back */
	uint64_t gpa = gfn * 4096;
	uint8_t *to = gpa < r0_size ? mirror + gpa : mirror + r0_size + (gpa - R1_GPA);
	if (gpa >= r0_size && (gpa < R1_GPA || gpa >= R1_GPA + r1_size))
		return err_set(e, "page outside RAM");
	if (data)
		memcpy(to, data, 4096);
	else
		memset(to, 0, 4096);
	return 0;
}

/* Writes into wfd while reading rfd: no seek, no size known in advance. */
static void stream_round_trip(int rfd, int wfd)
{
	pthread_t th;
	struct pipe_writer pw;
	struct err e = { "" };
	struct image_header h;
	struct image_reader *r;
	uint8_t *mirror = calloc(1, r0_size + r1_size);
	unsigned counts[64] = { 0 }, npage_recs = 0, ninfo = 0;
	uint32_t type, len, nv;
	unsigned nr;
	const void *pl;
	int rc;
	pw.fd = wfd;
	assert_int_equal(pthread_create(&th, NULL, writer_thread, &pw), 0);
	r = image_reader_open(rfd, &h, &e);
	if (!r)
		fail_msg("%s", e.msg);
	assert_int_equal(h.version, IMAGE_VERSION);
	assert_string_equal(h.hv_version, "hvkit-test 1.0");
	assert_int_equal(h.page_size, 4096);
	assert_true(h.image_id != 0);
	while ((rc = image_next(r, &type, &pl, &len, &e)) == 1) {
		if (type == IMAGE_PAGE_DATA) {
			npage_recs++;
			if (image_pages(r, pl, len, page_to_ram, mirror, &e) < 0)
				fail_msg("%s", e.msg);
			continue;
		}
		assert_true((type & ~IMAGE_OPTIONAL) < 64);
		ninfo += type == IMAGE_DOMAIN_INFO;
		assert_int_not_equal(type, IMAGE_OPTIONAL | 0x777); /* unknown optional: skipped */
		if (!(type & IMAGE_OPTIONAL))
			counts[type]++;
		if (type == IMAGE_VCPU_REGS) {
			const struct image_vcpu_hdr *vh = pl;
			assert_int_equal(len, sizeof(*vh) + sizeof(struct kvm_regs));
			assert_memory_equal((const uint8_t *)pl + 8, &regs[vh->vcpu], sizeof(struct kvm_regs));
		} else if (type == IMAGE_DOMAIN_CONFIG) {
			assert_int_equal(len, sizeof(config) - 1);
			assert_memory_equal(pl, config, len);
		} else if (type == IMAGE_VCPU_MSRS) {
			assert_int_equal(len, 8 + sizeof(msrs));
			assert_memory_equal((const uint8_t *)pl + 8, msrs, sizeof(msrs));
		}
	}
	if (rc < 0)
		fail_msg("%s", e.msg);
	assert_non_null(image_reader_layout(r, &nv, &nr));
	assert_int_equal(nv, 2);
	assert_int_equal(nr, 2);
	assert_int_equal(counts[IMAGE_VCPU_REGS], 2);
	assert_int_equal(counts[IMAGE_VCPU_CPUID], 2);
	assert_int_equal(counts[IMAGE_IRQCHIP], 3);
	assert_int_equal(counts[IMAGE_LAYOUT], 1);
	assert_int_equal(ninfo, 1); /* a known optional record: returned */
	assert_true(npage_recs >= 2);
	assert_memory_equal(mirror, ram0, r0_size);
	assert_memory_equal(mirror + r0_size, ram1, r1_size);
	assert_int_equal(image_next(r, &type, &pl, &len, &e), 0); /* END stays the end */
	image_reader_close(r);
	close(rfd);
	pthread_join(th, NULL);
	if (pw.rc < 0)
		fail_msg("writer: %s", pw.e.msg);
	free(mirror);
}

static void test_stream_through_pipe(void **state)
{
	int p[2];
	(void)state;
	assert_int_equal(pipe(p), 0);
	stream_round_trip(p[0], p[1]);
}

/* Live migration's case: a socket, non-blocking at both ends. */
static void test_stream_through_nonblocking_socket(void **state)
{
	int s[2];
	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s), 0);
	stream_round_trip(s[0], s[1]);
}

static void tmp_path(char *buf, size_t len, const char *tag)
{
	snprintf(buf, len, "/tmp/hvkit-test-image-%d-%s", (int)getpid(), tag);
	unlink(buf);
}

static void write_file(const char *path, uint32_t flags, uint64_t parent)
{
	struct err e = { "" };
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	if (write_image(fd, flags, parent, NULL, &e) < 0)
		fail_msg("%s", e.msg);
	close(fd);
}

static uint8_t *slurp(const char *path, size_t *n)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	assert_non_null(f);
	fseek(f, 0, SEEK_END);
	*n = (size_t)ftell(f);
	fseek(f, 0, SEEK_SET);
	b = malloc(*n);
	assert_int_equal(fread(b, 1, *n, f), *n);
	fclose(f);
	return b;
}

static void spit(const char *path, const void *b, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
}

/* The file as a dump: registers from VCPU_REGS/SREGS, RAM from the page index. */
static void test_open_as_dump(void **state)
{
	char path[128];
	struct err e = { "" };
	struct dump_file *f;
	uint8_t *buf = malloc(r0_size);
	const struct dump_cpu *c;
	struct dump_source src;
	struct dump_range dr[8];
	(void)state;
	tmp_path(path, sizeof(path), "full");
	write_file(path, 0, 0);
	f = dump_open(path, &e);
	if (!f)
		fail_msg("%s", e.msg);
	assert_non_null(strstr(dump_format(f), "hvkit domain image v1 (save), hv hvkit-test 1.0, taken "));
	assert_int_equal(dump_nr_cpus(f), 2);
	assert_int_equal(dump_nr_loads(f), 2);
	assert_true(dump_load_is_physical(dump_loadseg(f, 0)));
	assert_int_equal(dump_loadseg(f, 1)->paddr, R1_GPA);
	assert_int_equal(dump_read_phys(f, 0, buf, r0_size), r0_size);
	assert_memory_equal(buf, ram0, r0_size);
	assert_int_equal(dump_read_phys(f, R1_GPA, buf, r1_size), r1_size);
	assert_memory_equal(buf, ram1, r1_size);
	assert_int_equal(dump_read_phys(f, r0_size, buf, 16), 0); /* the hole */
	assert_int_equal(dump_read_phys(f, R1_GPA + r1_size - 8, buf, 16), 8);
	assert_int_equal(dump_read_phys(f, 4096 + 100, buf, 8), 8); /* inside a compressed page */
	assert_memory_equal(buf, ram0 + 4096 + 100, 8);
	for (unsigned i = 0; i < 2; i++) {
		c = dump_cpu(f, i);
		assert_non_null(c);
		assert_int_equal(c->index, i);
		assert_int_equal(c->rip, regs[i].rip);
		assert_int_equal(c->rsp, regs[i].rsp);
		assert_int_equal(c->rbx, regs[i].rbx);
		assert_int_equal(c->cr3, sregs[i].cr3);
		assert_int_equal(c->efer, sregs[i].efer);
		assert_int_equal(c->cs.selector, 0x10);
		assert_int_equal(c->cs.l, 1);
		assert_int_equal(c->gdt_base, sregs[i].gdt.base);
		assert_int_equal(c->msr_lstar, 0xffffffff81a00000ull);
		assert_int_equal(c->msr_pat, 0x0007040600070406ull);
		assert_int_equal(c->dr7, 0x400);
		assert_int_equal(c->nmi_pending, 1);
		assert_int_equal(c->lapic[0x20], 1);
		assert_int_equal(c->online, i == 0); /* vCPU 1 waits for its SIPI */
	}
	assert_non_null(dump_domain_info(f));
	assert_string_equal(dump_domain_info(f)->name, "testdom");
	assert_int_equal(dump_domain_info(f)->id, 3);
	assert_int_equal(dump_domain_info(f)->mem_bytes, r0_size + r1_size);
	assert_non_null(dump_vmcoreinfo(f));
	assert_string_equal(dump_vmcoreinfo(f), "OSRELEASE=test\n");
	/* and it converts, as any dump does */
	assert_int_equal(dump_source_from_file(f, &src, dr, 8, &e), 0);
	assert_int_equal(src.nr_ranges, 2);
	free((void *)src.cpus);
	dump_close(f);
	unlink(path);
	free(buf);
}

static int nowrite_page(void *opaque, uint64_t gfn, const void *data, struct err *e)
{
	(void)opaque, (void)gfn, (void)data, (void)e;
	return 0;
}

static int stream_check(const uint8_t *b, size_t n, struct err *e)
{
	int fd = memfd_create("image", 0), rc;
	struct image_reader *r;
	uint32_t type, len;
	const void *pl;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, b, n), (ssize_t)n);
	lseek(fd, 0, SEEK_SET);
	r = image_reader_open(fd, NULL, e);
	if (!r) {
		close(fd);
		return -1;
	}
	while ((rc = image_next(r, &type, &pl, &len, e)) == 1) {
		if (type == IMAGE_PAGE_DATA && image_pages(r, pl, len, nowrite_page, NULL, e) < 0) {
			rc = -1;
			break;
		}
	}
	image_reader_close(r);
	close(fd);
	return rc;
}

static void expect_refused(const char *path, const uint8_t *b, size_t n, const char *what)
{
	struct err e = { "" };
	struct dump_file *f;
	spit(path, b, n);
	f = dump_open(path, &e);
	if (f)
		fail_msg("%s: opened as a dump", what);
	assert_true(e.msg[0] != 0);
	e.msg[0] = 0;
	if (stream_check(b, n, &e) >= 0)
		fail_msg("%s: the stream reader reached END", what);
	assert_true(e.msg[0] != 0);
}

/* Truncated at every record boundary and a sample of offsets, and single bit flips. */
static void test_truncated_and_flipped(void **state)
{
	char path[128], trunc[128];
	struct err e = { "" };
	struct image_reader *r;
	uint8_t *b, *c;
	size_t n, nb = 0;
	uint64_t bounds[4096];
	uint32_t type, len;
	const void *pl;
	int fd, rc;
	(void)state;
	tmp_path(path, sizeof(path), "trunc-src");
	tmp_path(trunc, sizeof(trunc), "trunc");
	write_file(path, 0, 0);
	b = slurp(path, &n);
	assert_int_equal(stream_check(b, n, &e), 0);
	fd = open(path, O_RDONLY);
	r = image_reader_open(fd, NULL, &e);
	assert_non_null(r);
	bounds[nb++] = IMAGE_HEADER_SIZE;
	while ((rc = image_next(r, &type, &pl, &len, &e)) >= 0) {
		if (nb < 4096)
			bounds[nb++] = image_reader_offset(r);
		if (rc == 0)
			break;
	}
	image_reader_close(r);
	close(fd);
	assert_int_equal(bounds[nb - 1], n);
	for (size_t i = 0; i + 1 < nb; i++) /* every boundary but the full file's end */
		expect_refused(trunc, b, bounds[i], "truncated at a record boundary");
	for (size_t off = 0; off < n; off += off < 512 ? 7 : 65521)
		expect_refused(trunc, b, off, "truncated");
	c = malloc(n);
	for (size_t off = 0; off < n; off += off < 2048 ? 13 : 40009) {
		memcpy(c, b, n);
		c[off] ^= (uint8_t)(1u << (off % 8));
		expect_refused(trunc, c, n, "a bit flipped");
	}
	/* bytes after END */
	c = realloc(c, n + 8);
	memcpy(c, b, n);
	memset(c + n, 0, 8);
	spit(trunc, c, n + 8);
	assert_null(dump_open(trunc, &e));
	assert_non_null(strstr(e.msg, "after the END record"));
	free(b);
	free(c);
	unlink(path);
	unlink(trunc);
}

/* A record by hand: type, length, payload, padding, checksum. */
static size_t rec(uint8_t *out, uint32_t type, const void *p, uint32_t len)
{
	size_t body = (len + 7u) & ~7u;
	uint32_t crc;
	memset(out, 0, 8 + body + 8);
	memcpy(out, &type, 4);
	memcpy(out + 4, &len, 4);
	if (len)
		memcpy(out + 8, p, len);
	crc = (uint32_t)crc32(0, out, (uInt)(8 + body));
	memcpy(out + 8 + body, &crc, 4);
	return 8 + body + 8;
}

static size_t start(uint8_t *out, uint32_t nr_vcpus)
{
	struct image_header h;
	int fd = memfd_create("hdr", 0);
	struct err e;
	struct image_writer *w;
	uint8_t lay[8 + 16];
	uint32_t nr = 1;
	uint64_t r[2] = { 0, 1 << 20 };
	image_header_init(&h, "t");
	w = image_writer_open(fd, &h, &e);
	assert_non_null(w);
	image_writer_abort(w);
	assert_int_equal(pread(fd, out, IMAGE_HEADER_SIZE, 0), IMAGE_HEADER_SIZE);
	close(fd);
	memcpy(lay, &nr_vcpus, 4);
	memcpy(lay + 4, &nr, 4);
	memcpy(lay + 8, r, 16);
	return IMAGE_HEADER_SIZE + rec(out + IMAGE_HEADER_SIZE, IMAGE_LAYOUT, lay, sizeof(lay));
}

static void expect_dump_message(const uint8_t *b, size_t n, const char *msg)
{
	char path[128];
	struct err e = { "" };
	tmp_path(path, sizeof(path), "rule");
	spit(path, b, n);
	assert_null(dump_open(path, &e));
	if (!strstr(e.msg, msg))
		fail_msg("expected '%s' in: %s", msg, e.msg);
	unlink(path);
}

/* Refused by both readers, with msg in the message. */
static void expect_message(const uint8_t *b, size_t n, const char *msg)
{
	struct err e = { "" };
	expect_dump_message(b, n, msg);
	assert_true(stream_check(b, n, &e) < 0);
	if (!strstr(e.msg, msg))
		fail_msg("stream: expected '%s' in: %s", msg, e.msg);
}

static void test_stream_rules(void **state)
{
	static uint8_t b[1 << 16];
	uint8_t regs_rec[8 + sizeof(struct kvm_regs)] = { 0 }, sregs_rec[8 + sizeof(struct kvm_sregs)] = { 0 };
	uint8_t page[8 + 16 + 4096];
	uint32_t v;
	size_t n;
	(void)state;
	/* unknown mandatory: named */
	n = start(b, 1);
	n += rec(b + n, 0x777, "x", 1);
	n += rec(b + n, IMAGE_END, NULL, 0);
	expect_message(b, n, "type 0x00000777 is unknown to this hv and mandatory");
	/* unknown optional: skipped (then this file lacks vCPU 0's registers) */
	n = start(b, 1);
	n += rec(b + n, IMAGE_OPTIONAL | 0x777, "x", 1);
	n += rec(b + n, IMAGE_END, NULL, 0);
	assert_int_equal(stream_check(b, n, &(struct err){ "" }), 0);
	expect_dump_message(b, n, "vCPU 0 has no VCPU_REGS record");
	/* a duplicate vCPU record */
	n = start(b, 1);
	n += rec(b + n, IMAGE_VCPU_REGS, regs_rec, sizeof(regs_rec));
	n += rec(b + n, IMAGE_VCPU_REGS, regs_rec, sizeof(regs_rec));
	n += rec(b + n, IMAGE_END, NULL, 0);
	expect_message(b, n, "a second VCPU_REGS record for vCPU 0");
	/* a vCPU the layout does not have */
	n = start(b, 1);
	v = 5;
	memcpy(regs_rec, &v, 4);
	n += rec(b + n, IMAGE_VCPU_REGS, regs_rec, sizeof(regs_rec));
	n += rec(b + n, IMAGE_END, NULL, 0);
	expect_message(b, n, "VCPU_REGS record for vCPU 5, but the layout has 1 vCPUs");
	memset(regs_rec, 0, 4);
	/* a wrong size */
	n = start(b, 1);
	n += rec(b + n, IMAGE_VCPU_REGS, regs_rec, sizeof(regs_rec) - 8);
	n += rec(b + n, IMAGE_END, NULL, 0);
	expect_message(b, n, "VCPU_REGS record of 144 bytes");
	/* a huge MSR count */
	n = start(b, 1);
	{
		uint32_t h[2] = { 0, 0x10000000 };
		n += rec(b + n, IMAGE_VCPU_MSRS, h, sizeof(h));
	}
	n += rec(b + n, IMAGE_END, NULL, 0);
	expect_message(b, n, "count 268435456 does not fit");
	/* a huge length */
	n = start(b, 1);
	{
		uint32_t h[2] = { IMAGE_DOMAIN_CONFIG, 0xfffffff0u };
		memcpy(b + n, h, 8);
		n += 8;
	}
	expect_message(b, n, "over the limit");
	/* LAYOUT not first */
	n = start(b, 1) - (8 + 24 + 8);
	n += rec(b + n, IMAGE_CLOCK, page, sizeof(struct kvm_clock_data));
	expect_message(b, n, "CLOCK comes before the LAYOUT record");
	/* a page outside RAM */
	n = start(b, 1);
	memset(page, 0, sizeof(page));
	v = 1;
	memcpy(page, &v, 4);
	{
		struct image_page d = { .gfn = (1 << 20) / 4096, .kind = IMAGE_PAGE_RAW, .len = 4096 };
		memcpy(page + 8, &d, sizeof(d));
	}
	n += rec(b + n, IMAGE_PAGE_DATA, page, sizeof(page));
	n += rec(b + n, IMAGE_END, NULL, 0);
	expect_message(b, n, "gfn 0x100 lies outside the LAYOUT's RAM ranges");
	/* page data not adding up */
	n = start(b, 1);
	{
		struct image_page d = { .gfn = 1, .kind = IMAGE_PAGE_ZSTD, .len = 100 };
		memcpy(page + 8, &d, sizeof(d));
	}
	n += rec(b + n, IMAGE_PAGE_DATA, page, sizeof(page));
	n += rec(b + n, IMAGE_END, NULL, 0);
	expect_message(b, n, "holds 100 bytes of page data");
	/* corrupt zstd data: the streaming decode refuses it */
	n = start(b, 1);
	n += rec(b + n, IMAGE_PAGE_DATA, page, 8 + 16 + 100);
	n += rec(b + n, IMAGE_END, NULL, 0);
	{
		struct err e = { "" };
		assert_true(stream_check(b, n, &e) < 0);
		assert_non_null(strstr(e.msg, "zstd data is corrupt"));
	}
	/* missing END */
	n = start(b, 1);
	n += rec(b + n, IMAGE_VCPU_REGS, regs_rec, sizeof(regs_rec));
	n += rec(b + n, IMAGE_VCPU_SREGS, sregs_rec, sizeof(sregs_rec));
	expect_message(b, n, "ends without an END record (truncated)");
	n += rec(b + n, IMAGE_END, NULL, 0);
	assert_int_equal(stream_check(b, n, &(struct err){ "" }), 0);
	/* a newer version */
	b[8] = 2;
	expect_message(b, n, "format version 2: this hv reads version 1");
}

static int incr_page(void *opaque, uint64_t gfn, const void *data, struct err *e)
{
	unsigned *zero = opaque;
	(void)e;
	if (!data)
		zero[0]++;
	else if (memcmp(data, gfn * 4096 < r0_size ? ram0 + gfn * 4096 : ram1 + (gfn * 4096 - R1_GPA), 4096))
		zero[1]++; /* a mismatch */
	zero[2]++;
	return 0;
}

/* An incremental image sends zero pages as ZERO descriptors; it is no dump on its own. */
static void test_incremental(void **state)
{
	char path[128];
	struct err e = { "" };
	struct image_header h;
	struct image_reader *r;
	unsigned counts[3] = { 0 };
	uint32_t type, len;
	const void *pl;
	int fd, rc;
	(void)state;
	tmp_path(path, sizeof(path), "incr");
	write_file(path, IMAGE_F_INCREMENTAL | IMAGE_F_CHECKPOINT, 0x1234abcdull);
	fd = open(path, O_RDONLY);
	r = image_reader_open(fd, &h, &e);
	assert_non_null(r);
	assert_int_equal(h.parent_id, 0x1234abcdull);
	assert_int_equal(h.flags, IMAGE_F_INCREMENTAL | IMAGE_F_CHECKPOINT);
	while ((rc = image_next(r, &type, &pl, &len, &e)) == 1)
		if (type == IMAGE_PAGE_DATA)
			assert_int_equal(image_pages(r, pl, len, incr_page, counts, &e), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(counts[2], 5);
	assert_int_equal(counts[0], 1); /* gfn 0 */
	assert_int_equal(counts[1], 0);
	image_reader_close(r);
	close(fd);
	assert_null(dump_open(path, &e));
	assert_non_null(strstr(e.msg, "incremental image (parent 000000001234abcd)"));
	unlink(path);
	/* the chain: h is an increment of 0x1234abcd */
	{
		struct image_header full = h, other = h;
		full.flags = 0;
		full.parent_id = 0;
		full.image_id = 0x1234abcdull;
		full.created_ns = h.created_ns - 1;
		assert_int_equal(image_chain_check(&full, &h, &e), 0);
		other.image_id = 0x999;
		assert_int_equal(image_chain_check(&other, &h, &e), -1);
		assert_non_null(strstr(e.msg, "is an increment of 000000001234abcd, not of 0000000000000999"));
		assert_int_equal(image_chain_check(&h, &full, &e), -1);
		assert_non_null(strstr(e.msg, "is a full image"));
	}
	/* a full image with a parent, an incremental one without: the writer refuses */
	h.flags = IMAGE_F_INCREMENTAL;
	h.parent_id = 0;
	assert_null(image_writer_open(1, &h, &e));
}

/* The writer's own checks: LAYOUT first, END by close, cancel through progress. */
static int cancel(void *o, uint64_t done, uint64_t total)
{
	(void)o, (void)total;
	return done > (1u << 20);
}

static void test_writer_rules(void **state)
{
	struct image_header h;
	struct image_writer *w;
	struct err e = { "" };
	int fd = memfd_create("w", 0);
	(void)state;
	image_header_init(&h, "t");
	w = image_writer_open(fd, &h, &e);
	assert_non_null(w);
	assert_int_equal(image_put(w, IMAGE_CLOCK, "x", 1, &e), -1);
	assert_non_null(strstr(e.msg, "first domain image record must be LAYOUT"));
	assert_int_equal(image_put_layout(w, 2, ranges, 2, &e), 0);
	assert_int_equal(image_put(w, IMAGE_END, NULL, 0, &e), -1);
	assert_int_equal(image_put_vcpu(w, IMAGE_VCPU_REGS, 0, 0, &regs[0], 100, &e), -1);
	assert_non_null(strstr(e.msg, "VCPU_REGS record of 108 bytes (expected 152..152)"));
	assert_int_equal(image_put_vcpu(w, IMAGE_VCPU_REGS, 2, 0, &regs[0], sizeof(regs[0]), &e), -1);
	assert_non_null(strstr(e.msg, "for vCPU 2, but the layout has 2 vCPUs"));
	assert_int_equal(image_put(w, IMAGE_LAYOUT, "12345678", 8, &e), -1);
	image_writer_progress(w, cancel, NULL);
	assert_int_equal(image_put_ram(w, ranges, 2, mem_read, NULL, false, &e), -1);
	assert_non_null(strstr(e.msg, "cancelled"));
	assert_int_equal(image_writer_close(w, &e), -1); /* no END after a failure */
	assert_string_equal(image_type_name(IMAGE_VCPU_MSRS), "VCPU_MSRS");
	assert_null(image_type_name(0x777));
	close(fd);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_through_pipe),
		cmocka_unit_test(test_stream_through_nonblocking_socket),
		cmocka_unit_test(test_open_as_dump),
		cmocka_unit_test(test_truncated_and_flipped),
		cmocka_unit_test(test_stream_rules),
		cmocka_unit_test(test_incremental),
		cmocka_unit_test(test_writer_rules),
	};
	if (argc >= 3 && !strcmp(argv[1], "--write")) {
		struct err e = { "" };
		int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		domain_init(argc >= 4 && !strcmp(argv[3], "--small"));
		if (fd < 0 || write_image(fd, 0, 0, NULL, &e) < 0) {
			fprintf(stderr, "test_image: %s: %s\n", argv[2], fd < 0 ? "cannot create" : e.msg);
			return 1;
		}
		close(fd);
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
