/* dump: crash-dump formats, with no KVM in here. The ELF core writer takes vCPU states
 * and a memory reader (a frozen snapshot, a live domain held still, or another dump);
 * the reader validates every offset and size of a dump file. Layout: docs/dump-format.md. */
#ifndef HVKIT_DUMP_H
#define HVKIT_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util/util.h"

#define DUMP_NOTE_HVKIT "HVKIT"
#define DUMP_NOTE_HVKIT_CPU 0x48560001u /* struct dump_cpu, one per vCPU */
#define DUMP_NOTE_HVKIT_DOMAIN 0x48560002u /* struct dump_domain */
#define DUMP_NOTE_HVKIT_HASH 0x48560003u   /* u32 version (1), u32 count, count x struct dump_hash_range */
#define DUMP_VERSION 1

struct dump_seg {
	uint16_t selector;
	uint64_t base;
	uint32_t limit;
	uint8_t type, present, dpl, db, s, l, g, avl;
};

/* The full state of one vCPU (the private note; NT_PRSTATUS carries the GPR subset). */
struct dump_cpu {
	uint32_t version, index;
	uint32_t online, mp_state;
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
	struct dump_seg cs, ds, es, fs, gs, ss, tr, ldt;
	uint64_t gdt_base, idt_base;
	uint16_t gdt_limit, idt_limit;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
	uint64_t msr_star, msr_lstar, msr_kernel_gs_base, msr_sysenter_cs, msr_sysenter_esp, msr_sysenter_eip, msr_pat,
		msr_tsc;
	uint64_t dr6, dr7;
	uint8_t nmi_pending, nmi_masked, irq_shadow, exception_pending, exception_nr;
	uint32_t exception_error;
	uint8_t lapic[1024];
};
/* A vCPU state's registers as x86/'s register set, and back (cpu.c; back fills only what
 * struct x86_regs has: the selectors, not the segments' descriptors). */
struct x86_regs;
void dump_cpu_to_x86(const struct dump_cpu *c, struct x86_regs *r);
void dump_cpu_from_x86(struct dump_cpu *c, const struct x86_regs *r);
/* KVM's general and special registers into a vCPU state (cpu.c): the registers, all
 * segments with their descriptors, the descriptor tables, control registers, EFER and
 * the APIC base; the other fields are left as they are. */
struct kvm_regs;
struct kvm_sregs;
void dump_cpu_from_kvm(struct dump_cpu *c, const struct kvm_regs *r, const struct kvm_sregs *sr);

struct dump_domain {
	uint32_t version;
	int32_t id;
	char name[64];
	char state[16];
	char reason[256]; /* panic message or why it stopped */
	uint64_t mem_bytes;
	uint64_t time_ns; /* CLOCK_REALTIME of the instant */
	uint32_t nr_vcpus;
};

struct dump_range {
	uint64_t gpa, size;
};

/* Reads guest-physical memory of the frozen instant. Returns 0 or -1. */
typedef int (*dump_read_fn)(void *opaque, uint64_t gpa, void *buf, size_t len);

struct dump_source {
	struct dump_domain domain;
	const struct dump_cpu *cpus;
	unsigned nr_cpus;
	const struct dump_range *ranges;
	unsigned nr_ranges;
	dump_read_fn read;
	void *opaque;
	bool read_mt; /* read may be called from several threads at once */
	const char *vmcoreinfo; /* text for the VMCOREINFO note, or NULL */
	const void *notes;      /* verbatim notes to write instead of building them (convert) */
	size_t notes_len;
};

/* Progress of a writer: return non-zero to cancel (the writer then fails "cancelled"). */
typedef int (*dump_progress_fn)(void *opaque, uint64_t done, uint64_t total);

enum dump_fmt { DUMP_FMT_ELF, DUMP_FMT_KDUMP_ZSTD, DUMP_FMT_KDUMP_LZ4, DUMP_FMT_KDUMP_ZLIB, DUMP_FMT_KDUMP_RAW };
/* "elf", "kdump-zstd", "kdump-lz4", "kdump-zlib", "kdump" (uncompressed pages); -1 if unknown. */
int dump_fmt_parse(const char *name);
const char *dump_fmt_name(enum dump_fmt f);

/* Writes a dump to fd (a regular file, written with pwrite; the progress callback may be
 * NULL): an ELF core, or makedumpfile's kdump-compressed (diskdump) format (every RAM page,
 * zero pages sharing one stored zero page, the rest compressed or stored when that does
 * not pay). The file's magic is written last, after an fdatasync of the rest: until then
 * it is no dump to any reader (dump_open says "incomplete"). */
int dump_write(int fd, const struct dump_source *src, enum dump_fmt fmt, dump_progress_fn progress, void *popaque,
	       struct err *e);

/* ---- a new dump file (outfile.c): written as PATH.partial-PID, created O_EXCL|O_NOFOLLOW
 * relative to its directory's fd, and given its name only when complete, so it never
 * overwrites, never writes through a symlink, and a crash leaves no complete-looking file.
 * create: 0 with o->fd open for writing, or -1 ("PATH exists: a dump is never
 * overwritten", a directory owned by another uid or writable by others and not sticky
 * (util/access.h), the partial name and why it cannot be created, "path too long").
 * commit: fsync and link to PATH (failing if PATH appeared meanwhile), then the partial
 * name goes and fd is closed; 0, or -1 with a message. abort: closes and removes the
 * partial file; safe to call after any of the three (a no-op after a commit). */
struct dump_out {
	int fd, dirfd;
	char path[4096];
	char tmp[4128];               /* PATH.partial-PID ("" once removed or not ours) */
	char name[256], tmpname[300]; /* the two in dirfd */
};
int dump_out_create(struct dump_out *o, const char *path, struct err *e);
int dump_out_commit(struct dump_out *o, struct err *e);
void dump_out_abort(struct dump_out *o);

/* ---- reading */
struct dump_file;
struct dump_load {
	uint64_t vaddr, paddr, filesz, memsz, offset;
};
struct dump_file *dump_open(const char *path, struct err *e);
void dump_close(struct dump_file *f);
const char *dump_format(const struct dump_file *f);
/* A domain image (a save file or checkpoint, dump/image.h), not a crash dump. */
bool dump_is_image(const struct dump_file *f);
unsigned dump_nr_loads(const struct dump_file *f);
const struct dump_load *dump_loadseg(const struct dump_file *f, unsigned i);
/* A segment of guest-physical memory (as opposed to a virtual alias). */
bool dump_load_is_physical(const struct dump_load *l);
unsigned dump_nr_cpus(const struct dump_file *f);
/* Our private per-vCPU note (NULL for a dump that has none, e.g. QEMU's). */
const struct dump_cpu *dump_cpu(const struct dump_file *f, unsigned i);
/* QEMU's dump-guest-memory note (name "QEMU"): the state NT_PRSTATUS lacks (CRs,
 * segments), converted to struct dump_cpu; -1 when the dump has none for vCPU i. */
int dump_qemu_cpu(const struct dump_file *f, unsigned i, struct dump_cpu *out);
/* From NT_PRSTATUS: rip, rsp, rbp for vCPU i (any x86-64 ELF core). */
int dump_prstatus_regs(const struct dump_file *f, unsigned i, uint64_t *rip, uint64_t *rsp, uint64_t *rbp);
const struct dump_domain *dump_domain_info(const struct dump_file *f);
const char *dump_vmcoreinfo(const struct dump_file *f);
/* Guest-physical read (ELF: through the PT_LOAD segments' p_paddr); bytes read. */
size_t dump_read_phys(struct dump_file *f, uint64_t gpa, void *buf, size_t len);
/* dump_read_phys may be called from several threads at once. */
bool dump_read_mt(const struct dump_file *f);
/* Our integrity note: per RAM range the XXH3-64 of its 1 MiB pieces' XXH3-64s (dump/hash.c,
 * docs/dump-format.md). dump_hashes: the note's ranges (NULL and 0 when the dump has none);
 * dump_hash_range: the same hash of what the file holds for gpa..gpa+size, or -1 when it
 * cannot be read whole. `hvdump verify` compares the two. */
struct dump_hash_range {
	uint64_t gpa, size, hash;
};
const struct dump_hash_range *dump_hashes(const struct dump_file *f, unsigned *n);
int dump_hash_range(struct dump_file *f, uint64_t gpa, uint64_t size, uint64_t *hash, struct err *e);
/* Every range of the note against the file, a line each to out ("  RAM A-B: ok", "...:
 * MISMATCH (note H, file H)", "...: unreadable: WHY"): how many differ (*n: of how many), or
 * -1 with a message when the dump has no integrity note. */
int dump_verify(struct dump_file *f, FILE *out, unsigned *n, struct err *e);
/* A source that writes this dump out again (convert): its RAM, verbatim notes, VMCOREINFO.
 * ranges is filled (up to max) and must outlive the source. */
int dump_source_from_file(struct dump_file *f, struct dump_source *src, struct dump_range *ranges, unsigned max,
			  struct err *e);

#endif
