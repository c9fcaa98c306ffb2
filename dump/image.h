/* dump/image.h: the domain image, one versioned record stream shared by save files,
 * checkpoints and live migration (layout and rules: docs/save-format.md). A writer and a
 * reader that stream over any fd (file, pipe, socket); dump_open also opens an image file. */
#ifndef HVKIT_DUMP_IMAGE_H
#define HVKIT_DUMP_IMAGE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dump/dump.h"

#define IMAGE_MAGIC "HVIMAGE" /* 8 bytes with its NUL */
#define IMAGE_VERSION 1
#define IMAGE_HEADER_SIZE 128
#define IMAGE_PAGE_SIZE 4096u
#define IMAGE_RECORD_MAX (8u << 20) /* a record's payload is at most this */
#define IMAGE_BATCH_MAX 1024u       /* pages in one PAGE_DATA record */
#define IMAGE_MAX_RANGES 256u
#define IMAGE_MAX_VCPUS 1024u
#define IMAGE_MAX_MSRS 4096u
#define IMAGE_MAX_CPUID 256u
#define IMAGE_MAX_GPA (1ull << 52) /* guest-physical addresses are below (x86-64's limit) */

/* Header flags. */
#define IMAGE_F_INCREMENTAL 0x1u /* only pages written since the parent image (parent_id) */
#define IMAGE_F_CHECKPOINT 0x2u  /* taken of a running domain (it kept running) */
#define IMAGE_F_LIVE 0x4u        /* a live-migration stream: pages may come more than once */

/* The image header (its on-disk form is IMAGE_HEADER_SIZE bytes; docs/save-format.md). */
struct image_header {
	uint32_t version; /* IMAGE_VERSION (a reader fills it; a writer ignores it) */
	uint32_t flags;
	uint32_t page_size; /* IMAGE_PAGE_SIZE */
	uint64_t image_id;  /* random, non-zero */
	uint64_t parent_id; /* the image this one is incremental to, else 0 */
	uint64_t created_ns; /* CLOCK_REALTIME of the instant */
	char cpu_vendor[13]; /* CPUID leaf 0: "GenuineIntel", "AuthenticAMD" */
	uint32_t cpu_family, cpu_model, cpu_stepping;
	char hv_version[40];
};
/* Fills h for a new image of this host: page size, CPU vendor/family/model, a new random
 * image id, the time now, flags and parent_id 0, hv_version (truncated to fit). */
void image_header_init(struct image_header *h, const char *hv_version);

/* Record types: bit 31 set = optional (a reader that does not know it skips it); an
 * unknown mandatory record makes the reader refuse the image. */
#define IMAGE_OPTIONAL 0x80000000u
enum image_type {
	IMAGE_END = 0x00,
	IMAGE_LAYOUT = 0x01,        /* the first record: u32 nr_vcpus, u32 nr_ranges, {u64 gpa, u64 size}[] */
	IMAGE_DOMAIN_CONFIG = 0x02, /* text: the domain's xl-style configuration */
	IMAGE_PAGE_DATA = 0x03,     /* a batch of pages (below) */
	IMAGE_PENDING = 0x04,       /* u64 gfns[]: a post-copy migration's pages whose data here is
				     * stale; they come after the domain runs on the receiver */
	/* per vCPU: struct image_vcpu_hdr, then the KVM structure */
	IMAGE_VCPU_REGS = 0x10,      /* struct kvm_regs */
	IMAGE_VCPU_SREGS = 0x11,     /* struct kvm_sregs */
	IMAGE_VCPU_FPU = 0x12,       /* struct kvm_fpu */
	IMAGE_VCPU_XSAVE = 0x13,     /* struct kvm_xsave's region (4096 bytes or KVM_GET_XSAVE2's size) */
	IMAGE_VCPU_XCRS = 0x14,      /* struct kvm_xcrs */
	IMAGE_VCPU_MSRS = 0x15,      /* count in the vCPU header, struct kvm_msr_entry[count] */
	IMAGE_VCPU_LAPIC = 0x16,     /* struct kvm_lapic_state */
	IMAGE_VCPU_EVENTS = 0x17,    /* struct kvm_vcpu_events */
	IMAGE_VCPU_MP_STATE = 0x18,  /* struct kvm_mp_state */
	IMAGE_VCPU_DEBUGREGS = 0x19, /* struct kvm_debugregs */
	IMAGE_VCPU_CPUID = 0x1a,     /* count in the vCPU header, struct kvm_cpuid_entry2[count] (what the guest saw) */
	IMAGE_HV_VCPU = 0x1b,        /* hv's own part of a vCPU (its port block): opaque here, hv/vmstate.h */
	/* per domain */
	IMAGE_IRQCHIP = 0x20, /* struct kvm_irqchip, one per chip (its chip_id: PIC master, slave, IOAPIC) */
	IMAGE_PIT = 0x21,     /* struct kvm_pit_state2 */
	IMAGE_CLOCK = 0x22,   /* struct kvm_clock_data */
	IMAGE_UART = 0x23,    /* u32 index, u32 layout version, then hv's opaque 16550 state */
	IMAGE_CONSOLE_TAIL = 0x24, /* bytes: the console ring's tail */
	IMAGE_HV_DOMAIN = 0x25,    /* hv's own part of a domain (event vector, uptime): opaque here, hv/vmstate.h */
	IMAGE_DOMAIN_INFO = IMAGE_OPTIONAL | 0x01, /* struct image_domain_info: what the debugger shows */
	IMAGE_VMCOREINFO = IMAGE_OPTIONAL | 0x02,  /* text: the kernel's VMCOREINFO, as a dump's note */
	IMAGE_SYNC = IMAGE_OPTIONAL | 0x03,        /* u64: a live migration's marker; the receiver answers
						    * "synced N" once it has read everything before it */
};
/* The record's name ("VCPU_REGS"), or NULL for a type this reader does not know. */
const char *image_type_name(uint32_t type);

struct image_vcpu_hdr {
	uint32_t vcpu;  /* < the layout's nr_vcpus */
	uint32_t count; /* entries for MSRS and CPUID, else 0 */
};

struct image_range {
	uint64_t gpa, size; /* page-aligned; ranges ascending, not overlapping */
};

/* IMAGE_DOMAIN_INFO (optional): 360 bytes. */
struct image_domain_info {
	int32_t id;
	uint32_t nr_vcpus;
	uint64_t mem_bytes;
	uint64_t time_ns;
	char name[64];
	char state[16];
	char reason[256];
};

/* PAGE_DATA: struct image_page_batch, count struct image_page descriptors, then the data
 * of each non-zero page in descriptor order (no padding between). */
struct image_page_batch {
	uint32_t count; /* 1..IMAGE_BATCH_MAX */
	uint32_t reserved;
};
enum image_page_kind { IMAGE_PAGE_ZERO = 0, IMAGE_PAGE_RAW = 1, IMAGE_PAGE_ZSTD = 2 };
struct image_page {
	uint64_t gfn;
	uint32_t kind; /* enum image_page_kind */
	uint32_t len;  /* bytes of data: 0 (zero), page size (raw), < page size (zstd) */
};

/* A chain of images: next must be incremental to prev (its parent_id is prev's image_id)
 * and taken after it; prev is the previous link (a full image or an incremental one).
 * 0, or -1 naming both ids. */
int image_chain_check(const struct image_header *prev, const struct image_header *next, struct err *e);

/* ---- writing: records go out in order with write(2), so fd may be a pipe or a socket
 * (a non-blocking one is waited for with poll). */
struct image_writer;
/* Writes the header; NULL with a message on error. */
struct image_writer *image_writer_open(int fd, const struct image_header *h, struct err *e);
/* One record: type, payload (len bytes, at most IMAGE_RECORD_MAX). A known type whose
 * size or vCPU id a reader would refuse is refused here. */
int image_put(struct image_writer *w, uint32_t type, const void *payload, uint32_t len, struct err *e);
/* A per-vCPU record: the vCPU header {vcpu, count}, then payload. */
int image_put_vcpu(struct image_writer *w, uint32_t type, uint32_t vcpu, uint32_t count, const void *payload,
		   uint32_t len, struct err *e);
/* The LAYOUT record (write it first). */
int image_put_layout(struct image_writer *w, uint32_t nr_vcpus, const struct image_range *r, unsigned n,
		     struct err *e);
/* Pages: gfns[0..n) (any order; runs of consecutive gfns are read with one call), read
 * through read (a gpa, as dump_source's); read_mt: read may be called from several threads.
 * Compressed with zstd by a thread per CPU (up to 4), written in gfn-list order. All-zero
 * pages are left out of a full image and sent as ZERO descriptors in an incremental one. */
int image_put_pages(struct image_writer *w, const uint64_t *gfns, size_t n, dump_read_fn read, void *opaque,
		    bool read_mt, struct err *e);
/* Every page of the ranges, as image_put_pages. */
int image_put_ram(struct image_writer *w, const struct image_range *r, unsigned n, dump_read_fn read, void *opaque,
		  bool read_mt, struct err *e);
/* Progress and cancel: called after each page batch; non-zero cancels ("cancelled"). */
void image_writer_progress(struct image_writer *w, dump_progress_fn fn, void *opaque);
/* From now on all-zero pages go out as ZERO descriptors too (a live migration's later
 * rounds: the page may have held data the receiver has); an incremental image does so always. */
void image_writer_zero_pages(struct image_writer *w, bool on);
/* Bytes written so far. */
uint64_t image_writer_bytes(const struct image_writer *w);
/* Writes END (unless a write failed) and frees w; fd stays open. 0, or -1 when END could
 * not be written or an earlier call failed. */
int image_writer_close(struct image_writer *w, struct err *e);
/* Frees w without END (a cancelled or failed save: the stream is then refused as truncated). */
void image_writer_abort(struct image_writer *w);

/* ---- reading a stream: every length is bounded, every record's checksum checked, the
 * rules of docs/save-format.md enforced (LAYOUT first, no duplicate state, pages inside
 * the RAM ranges, END last). */
struct image_reader;
/* Reads and checks the header into *h (may be NULL). */
struct image_reader *image_reader_open(int fd, struct image_header *h, struct err *e);
/* The same over a non-blocking fd (a socket): fails ("no data for N s") when nothing
 * comes for timeout_ms. */
struct image_reader *image_reader_open_timeout(int fd, int timeout_ms, struct image_header *h, struct err *e);
/* The next record: 1 with *type, *payload (valid until the next call) and *len; 0 at END
 * (and nothing after it is read); -1 with a message. Unknown optional records are
 * skipped; an unknown mandatory one is refused, naming its type. */
int image_next(struct image_reader *r, uint32_t *type, const void **payload, uint32_t *len, struct err *e);
/* A PAGE_DATA payload (as image_next returned it) decoded page by page: fn gets the gfn
 * and the page's IMAGE_PAGE_SIZE bytes, or NULL for an all-zero page; fn returning -1
 * (with a message) stops the walk. */
typedef int (*image_page_fn)(void *opaque, uint64_t gfn, const void *data, struct err *e);
int image_pages(struct image_reader *r, const void *payload, uint32_t len, image_page_fn fn, void *opaque,
		struct err *e);
/* A reader over a mapped file (image_index_reader) may leave PAGE_DATA checksums to its
 * consumer, who checks each batch with image_record_intact before using it (a lazy
 * restore reads a page's batch only when the page is first needed). */
void image_reader_trust_pages(struct image_reader *r);
/* The checksum of the record whose payload image_next returned holds (the mapping must
 * still be there). */
bool image_record_intact(const void *payload);
/* The LAYOUT record once read (NULL before): nr_vcpus, ranges. */
const struct image_range *image_reader_layout(const struct image_reader *r, uint32_t *nr_vcpus, unsigned *nr_ranges);
uint64_t image_reader_offset(const struct image_reader *r); /* bytes consumed */
void image_reader_close(struct image_reader *r);

/* ---- random access to one image file's pages (image_index.c), incremental ones too: a
 * checkpoint chain is read newest first, each page from the first image that has it. */
struct image_index;
/* Maps and checks the whole file (every record, END); its header into *h (may be NULL).
 * lazy: the page batches' checksums are checked when a page of the batch is first read
 * (image_index_page then returns -1 for a corrupt one), so opening costs the record
 * headers and page descriptors, not the data. */
struct image_index *image_index_open(const char *path, struct image_header *h, struct err *e);
struct image_index *image_index_open_lazy(const char *path, struct image_header *h, struct err *e);
void image_index_close(struct image_index *x);
const struct image_header *image_index_header(const struct image_index *x);
/* 1 with the page in buf (zeros for a ZERO descriptor), 0 when this image does not hold
 * the page (a full image: it was all zeros), -1 when its data does not decompress. */
int image_index_page(struct image_index *x, uint64_t gfn, void *buf);
/* As image_index_page without reading the page: 1 held (its batch intact), 0, -1 corrupt. */
int image_index_check_page(struct image_index *x, uint64_t gfn);
/* The pages it holds, ascending: for i < count. */
size_t image_index_count(struct image_index *x);
uint64_t image_index_gfn(const struct image_index *x, size_t i);
/* A fresh reader over the mapped file (its records again, e.g. the vCPU state). */
struct image_reader *image_index_reader(const struct image_index *x, struct err *e);

/* A vCPU's KVM state as our dump_cpu (the registers the debugger shows); events, mp,
 * lapic and dregs may be NULL. */
void image_cpu_from_kvm(struct dump_cpu *c, unsigned index, const struct kvm_regs *r, const struct kvm_sregs *s,
			const struct kvm_vcpu_events *ev, const struct kvm_mp_state *mp,
			const struct kvm_lapic_state *lapic, const struct kvm_debugregs *dr);

#endif
