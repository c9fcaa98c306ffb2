/* hv internals: the structures shared by the files of hv/ (private to this directory). */
#ifndef HVKIT_HV_INTERNAL_H
#define HVKIT_HV_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>

#include "hv.h"
#include "domcons.h"
#include "sched.h"
#include "uart.h"

/* ---- kvm.c: the /dev/kvm system handle */
struct kvm {
	int fd;
	int vcpu_mmap_size;
	bool pvm;                 /* the page-table based kvm_pvm module: guests are emulated */
	struct kvm_cpuid2 *cpuid; /* KVM_GET_SUPPORTED_CPUID */
};
int kvm_open(struct kvm *k, struct err *e);
void kvm_close(struct kvm *k);
int kvm_max_vcpus(struct kvm *k);

/* ---- spare.c: a VM made ahead of need, for restores */
struct spare;
int vm_create_fd(struct kvm *k, struct err *e); /* KVM_CREATE_VM, TSS, irqchip, PIT */
void spare_start(struct hv *hv); /* its thread (none: restores make their own VM) */
bool spare_take(struct hv *hv, int *vm_fd, int *vcpu0_fd); /* false: none ready */
void spare_stop(struct hv *hv);

/* ---- mem.c: guest RAM, one memfd, split around the 3-4 GiB PCI hole */
#define MEM_LOW_LIMIT (3ull << 30)
#define MEM_HIGH_BASE (4ull << 30)
struct mem_range {
	uint64_t gpa, size;
	uint8_t *hva;
};
struct guest_mem {
	int memfd;
	uint64_t size; /* total RAM bytes */
	uint8_t *base; /* mapping of the whole memfd */
	struct mem_range ranges[2];
	int nr_ranges;
	/* Dirty logging (incremental checkpoints, rollback): KVM logs the guest's writes per
	 * slot; hv's own writes into guest RAM (a debugger's) are noted in hv_dirty (a bit per
	 * page of the memfd), which KVM does not see. */
	bool dirty_logging;
	uint64_t *hv_dirty;
	pthread_mutex_t dirty_lock;
};
/* A userfaultfd with all of m's RAM registered in missing mode (a restore's lazy RAM, a
 * post-copy migration's): non-blocking; -1 after a message. Close unregisters it. */
int mem_uffd_open(struct guest_mem *m, struct err *e);
void mem_uffd_close(struct guest_mem *m, int fd);
#define MEM_BITMAP_WORDS(m) (((m)->size / 4096 + 63) / 64)
int mem_create(struct guest_mem *m, const char *name, uint64_t size, struct err *e);
void mem_destroy(struct guest_mem *m);
/* Copies a file over the RAM, from its first byte (benchmarks: big guests with content). */
int mem_fill_from(struct guest_mem *m, const char *path, struct err *e);
int mem_map_into(struct guest_mem *m, int vm_fd, struct err *e);
/* Zeroes all RAM (reboot) by punching the memfd: pages go back to the host. */
void mem_clear(struct guest_mem *m);
/* Turns KVM's dirty log on or off for every RAM slot (on: the log starts empty). */
int mem_dirty_log(struct guest_mem *m, int vm_fd, bool on, struct err *e);
/* ORs into bitmap (MEM_BITMAP_WORDS words, a bit per page of the memfd) the pages written
 * since the last fetch, the guest's and hv's, and starts the next interval. */
int mem_dirty_fetch(struct guest_mem *m, int vm_fd, uint64_t *bitmap, struct err *e);
/* The gfns (the RAM ranges' gpas / 4096, ascending) of the memfd pages set in bm; *n of
 * them, malloc'd (NULL when none). */
uint64_t *mem_gfns_of(const struct guest_mem *m, const uint64_t *bm, size_t *n);
/* A dump_read_fn over a domain's own RAM (opaque: the struct domain); a running domain's
 * may change meanwhile (a held one's does not). */
int domain_ram_read(void *opaque, uint64_t gpa, void *buf, size_t len);
/* hv wrote len bytes of guest RAM at hva itself (the dirty log does not see it). */
void mem_mark_dirty(struct guest_mem *m, const void *hva, uint64_t len);
/* The memfd page of a guest-physical address; false outside RAM. */
bool mem_page_of(const struct guest_mem *m, uint64_t gpa, uint64_t *page);
/* Host pointer for [gpa, gpa+len) if it lies inside one RAM range, else NULL. */
void *mem_ptr(struct guest_mem *m, uint64_t gpa, uint64_t len);

/* ---- loader.c: PVH ELF kernels */
struct kernel_image {
	uint64_t entry32;          /* XEN_ELFNOTE_PHYS32_ENTRY */
	uint64_t lowest, highest;  /* physical extent of the loaded segments */
	struct symtab symtab;      /* functions and objects from .symtab, if any */
	/* loader_bzimage.c: a compressed Linux kernel, booted through the Linux boot protocol */
	bool bzimage;
	uint8_t bz_hdr[0x90];      /* its setup header (boot_params from 0x1f1) */
	size_t bz_hdr_len;
	/* kernel_linux.c: a Linux vmlinux (it has linux_banner), and where its variables are */
	bool is_linux;
	uint64_t linux_panic_cpu, linux_suppress_printk; /* guest-physical; 0: not found */
	uint64_t linux_vmcoreinfo_data, linux_vmcoreinfo_size, linux_page_offset_base, linux_uts;
};
/* ---- ksyms.c: a restored domain's kernel symbols read by a thread once it runs; its
 * kernel_image is read only after ksyms_wait (which waits for that thread, if any) or when
 * ksyms_loading says false */
struct domain;
void ksyms_load_behind(struct domain *d);
void ksyms_wait(struct domain *d);
bool ksyms_loading(struct domain *d);
/* ---- kernel_linux.c */
void kernel_linux_probe(struct kernel_image *ki);
/* m NULL: the kernel is only read (entry, extent, symbols), nothing is loaded: a restored
 * domain's RAM comes from its image. */
int loader_load_pvh(struct guest_mem *m, const char *path, struct kernel_image *ki, struct err *e);
/* loader_bzimage.c: "HdrS" at 0x202; the load (m NULL: only read); boot_params at gpa with
 * e820 rows {addr, size, type} */
bool loader_is_bzimage(int fd);
int loader_load_bzimage(struct guest_mem *m, int fd, const char *path, struct kernel_image *ki, struct err *e);
int loader_bzimage_params(struct guest_mem *m, const struct kernel_image *ki, uint64_t gpa, uint64_t cmdline_gpa,
			  uint64_t initrd_gpa, uint64_t initrd_size, const uint64_t (*e820)[3], unsigned n820,
			  uint64_t rsdp, struct err *e);

/* hv's loop: Linux panics make their domains crashed; the next wait in ms, -1 for none. */
#define LINUX_TICK_MS 100
int kernel_linux_tick(struct hv *hv);
/* The kernel's own VMCOREINFO text into buf (NUL-terminated); 0 when it has none. Linux
 * keeps it in one page (VMCOREINFO_BYTES). */
#define HV_VMCOREINFO_MAX 8192
size_t kernel_linux_vmcoreinfo(struct domain *d, char *buf, size_t len);

/* ---- boot.c: start_info, memory map, command line, initrd; acpi.c: the ACPI tables */
#define BOOT_GDT_GPA 0x500
#define BOOT_GDT_SIZE 40 /* five descriptors: PVH's or the Linux boot protocol's (boot.c) */
#define BOOT_START_INFO_GPA 0x6000
#define BOOT_CMDLINE_GPA 0x7000
#define BOOT_CMDLINE_MAX 4096
#define BOOT_PARAMS_GPA 0x8000 /* a bzImage's boot_params */
#define BOOT_ACPI_GPA 0xe0000
int boot_setup(struct guest_mem *m, const struct kernel_image *ki, unsigned vcpus, const char *cmdline,
	       const char *initrd, struct err *e);
/* Size of the ACPI blob written at BOOT_ACPI_GPA for n vCPUs (for tests). */
size_t acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, unsigned vcpus);
/* An edge on the power button's GED interrupt (HVKIT_ACPI_GED_GSI); -1 (errno) if KVM refused. */
int acpi_press_power_button(struct domain *d);
/* A write to HVKIT_ACPI_GED_ACK: the GED's _EVT says the kernel took the press (then the
 * domain is in shutdown); false when no press was pending. */
bool acpi_ged_ack(struct vcpu *v);

/* ---- vcpu.c */
struct domain;
struct vcpu {
	struct domain *dom;
	unsigned index;
	int fd;
	struct kvm_run *run;
	pthread_t thread;
	bool thread_started;
	/* hvkit port block: per-vCPU latched arguments and last status */
	uint32_t port_arg[3];
	uint32_t port_status;
	/* CPU_UP request from another vCPU */
	atomic_bool boot_pending;
	uint32_t boot_entry, boot_ebx;
	atomic_bool online;
	uint64_t exits;
	uint64_t insns; /* with hv_options.count_insns */
	uint64_t exit_counts[40];
	uint32_t last_exit;
	uint64_t run_ns;
	uint64_t nmis_injected;
	int tid;
	/* Holding: another thread asks the vCPU to leave KVM_RUN and wait, then uses its fd. */
	pthread_mutex_t hold_lock;
	pthread_cond_t hold_cond;
	atomic_uint hold_requests; /* read by the scheduler without hold_lock */
	atomic_bool dbg_selfheld;  /* held itself at a debug exit (debug.c) */
	bool held, thread_live;
	struct sched_vcpu sched;
	struct kvm_cpuid2 *cpuid; /* what hv set (KVM_GET_CPUID2 is not it on every KVM) */
};
/* Kicks the vCPU out of the guest and waits until its thread is parked (or not running);
 * the caller may then issue ioctls on v->fd. Pair with vcpu_release. */
void vcpu_hold(struct vcpu *v);
/* vcpu_hold of every vCPU of vs[0..n) with fd >= 0, all asked before any is waited for. */
void vcpu_hold_all(struct vcpu *vs, unsigned n);
void vcpu_release(struct vcpu *v);
int vcpu_create(struct domain *d, unsigned index, struct err *e);
void vcpu_destroy(struct vcpu *v);
int vcpu_set_pvh_state(struct vcpu *v, uint32_t entry, uint32_t ebx, struct err *e);
/* The Linux boot protocol's 32-bit entry: CS 0x10 (__BOOT_CS), DS 0x18 (__BOOT_DS), esi =
 * boot_params. */
int vcpu_set_linux32_state(struct vcpu *v, uint32_t entry, uint32_t boot_params, struct err *e);
/* KVM_SET_CPUID2, before the vCPU first runs; c (malloc'd) becomes v->cpuid, or is freed. */
int vcpu_set_cpuid(struct vcpu *v, struct kvm_cpuid2 *c, struct err *e);
int vcpu_start_thread(struct vcpu *v, struct err *e);
/* Makes the vCPU leave KVM_RUN soon (flags are read by its thread). */
void vcpu_kick(struct vcpu *v);
void vcpu_signals_init(void);
/* fallback.c: completes the instruction an emulation-failure exit stopped at (int3, int N,
 * fwait, ldmxcsr, stmxcsr); false with why (what it was, or what failed) otherwise. */
bool vcpu_fallback(struct vcpu *v, char *why, size_t whylen);
/* cpumodel.c: the CPUID of a kvm_pvm host's guests (features the emulator cannot run
 * cleared), and their names for the log. */
void cpumodel_apply_pvm(struct kvm_cpuid2 *c);
void cpumodel_describe_pvm(char *buf, size_t len);
/* The same for a Linux kernel's command line ("noxsave clearcpuid=cx16,popcnt,..."). */
void cpumodel_linux_options(char *buf, size_t len);
void vcpu_yield_to_control(void); /* SCHED_BATCH for the calling (vCPU) thread */

/* ---- io.c: port and MMIO exits */
void io_handle_port(struct vcpu *v);
void io_handle_mmio(struct vcpu *v);
void hvport_out(struct vcpu *v, uint16_t port, uint32_t val);
uint32_t hvport_in(struct vcpu *v, uint16_t port);

/* ---- domain.c */
enum domain_event {
	EVENT_NONE,
	EVENT_POWEROFF,
	EVENT_REBOOT,
	EVENT_CRASH,
	EVENT_SAVED, /* hvctl save wrote it: the loop destroys it */
};
/* A domain's checkpoints as hv tracks them (checkpoint.c): the latest one, and the pages
 * written since (the dirty log's, accumulated across fetches). */
struct image_index;
#define CKPT_CHAIN_MAX 64 /* images in one checkpoint's chain, the full one included */
struct ckpt_state {
	pthread_mutex_t lock; /* one checkpoint or rollback at a time */
	bool valid;           /* latest and dirty describe the domain's RAM */
	char tag[64];
	uint64_t id;          /* the latest's image id */
	uint64_t *dirty;      /* MEM_BITMAP_WORDS: written since the latest */
	unsigned count;
	unsigned chain;       /* images in the latest's chain (it included): at CKPT_CHAIN_MAX the next is full */
	atomic_int busy;      /* a save, checkpoint or restore is writing (hvctl list shows it) */
	/* checkpoint files opened for rollbacks (they never change once written), by image id;
	 * as many as a chain can have: a rollback holds its whole chain's indexes, and the
	 * least recently used one evicted is then never one of them (16 slots evicted indexes
	 * a 20-long chain still used) */
	struct ckpt_cached {
		uint64_t id, used;
		struct image_index *ix;
	} cache[CKPT_CHAIN_MAX];
	uint64_t tick;
	uint64_t auto_next;   /* autockpt.c: when the next scheduled one is due */
	unsigned auto_count;  /* scheduled ones in the current chain */
	/* the undo log of the latest checkpoint (undo_id): its instant kept after the write,
	 * holding the old contents of each page written since, and its machine state; a
	 * rollback to it copies those back (ckpt_undo_*, checkpoint.c). undo_lock: a dump or a
	 * save may end it from another thread. */
	pthread_mutex_t undo_lock;
	struct instant *undo;
	struct vm_state *undo_vs;
	uint64_t undo_id;
	uint64_t *undo_taint; /* NULL, or the pages whose kept copy is not undo_id's (a log started late) */
	/* earlier undo logs, frozen (undo.c): each the contents of some pages at one checkpoint,
	 * oldest first; with the live log at most ckpt_undo_cap pages in all (undo_lock) */
	struct undo_store {
		struct undo_store *next;
		uint64_t id;     /* the checkpoint's image id */
		uint64_t n;      /* pages */
		uint64_t *pages; /* memfd pages, ascending */
		uint8_t **data;  /* their contents at that checkpoint */
		struct vm_state *vs; /* NULL or its machine state (no file read when no page is wanted from one) */
	} *frozen;
	uint64_t frozen_pages;
};
/* autockpt.c: hv's loop calls it; the poll timeout it wants (ms), or -1 when off. */
int autockpt_tick(struct hv *hv);
/* Closes the cached checkpoint indexes (checkpoint.c; the domain's destruction). */
void ckpt_cache_free(struct ckpt_state *c);
struct domain {
	struct hv *hv;
	int id;
	int slot; /* index in hv->domains */
	char name[64];
	struct domain_config cfg; /* strings owned by the domain */
	int vm_fd;
	int spare_vcpu0; /* the spare VM's vCPU 0 until vcpu_create takes it, else -1 */
	bool vm_from_spare; /* its VM was hv's spare (spare.c) */
	struct guest_mem mem;
	struct kernel_image kernel; /* a restored one's: only once ksyms_wait returned (ksyms.c) */
	pthread_mutex_t ksym_lock;
	pthread_t ksym_thread;
	bool ksym_joinable;
	atomic_bool ksym_loading;
	struct vcpu *vcpus;
	unsigned nr_vcpus;
	struct uart uart;
	struct domcons cons;
	unsigned pause_count;
	bool shutdown_requested;
	bool acpi_button_pressed; /* hvctl shutdown pressed it; the kernel has not taken it yet */
	uint64_t shutdown_ns;
	uint32_t event_vector, event_apic; /* guest's notification interrupt (HVKIT_CMD_SET_EVENT) */
	uint32_t request;                  /* pending HVKIT_REQ_* for the guest */
	bool defined;                      /* has a persisted definition */
	pthread_mutex_t lock;
	enum domain_state state;
	atomic_bool stopping;     /* vCPU threads leave their loop */
	enum domain_event event;  /* first event wins; handled by the event loop */
	char crash_reason[1100];
	uint64_t start_ns;
	unsigned reboots;
	uint64_t uart_irqs; /* rising edges of COM1's line */
	int64_t sched_budget_us;      /* cap budget (sched.c) */
	uint64_t sched_budget_period;
	unsigned unhandled_ports; /* distinct unhandled ports logged */
	struct hv_dbg *dbg;       /* an attached live debugger (debug.c) */
	atomic_int dump_active;   /* RAM users (a dump, save, checkpoint, migration reading its RAM): while
				   * non-zero the domain is not reset, torn down or its RAM cleared;
				   * the last one out wakes hv's loop, which then handles what waited */
	atomic_bool dbg_stopped;   /* a debugger (hvmdb -d, the q prompt, gdb) holds it stopped: "paused" */
	bool crash_dumped;         /* hv's loop: this crash's dump is started (on_crash coredump-*) */
	atomic_bool reset_pending; /* a reset (hv_domain_reboot) that waits for the RAM users to end */
	/* fallback.c: instructions the host's emulator rejected that hv completed (under lock) */
	char fallback_names[16][96];
	unsigned fallback_nnames;
	bool cpumodel_logged;      /* domain.c: the Linux options on kvm_pvm were logged */
	uint64_t linux_panic_seen_ns; /* kernel_linux.c: when panic_cpu was first seen set (hv's loop) */
	atomic_ulong fallback_count;
	uint64_t destroy_by_ns;    /* hv's loop: hvctl destroy waits for the RAM users until then (destroy.c) */
	bool destroy_paused;       /* (then) paused by that destroy: resumed if it gives up */
	atomic_int dump_cancel;   /* hvctl dump-cancel */
	atomic_int mig_fd;        /* a migration's socket + 1 (0: none): hvctl migrate-cancel shuts it */
	atomic_bool mig_post;     /* it runs at the receiver, its last pages go from here (post-copy) */
	char origin[160];         /* "HOST (ADDRESS) at TIME": where it migrated from (dominfo) */
	uint16_t logged_ports[16];
	struct ckpt_state ckpt;
	struct lazy *lazy; /* a restore still filling RAM (lazy.c) */
};
struct domain *domain_create(struct hv *hv, int id, const struct domain_config *cfg, struct err *e);
int domain_boot(struct domain *d, struct err *e);   /* fresh VM, load, start vCPU threads */
/* The VM: irqchip, PIT, RAM slots; spare: hv's spare VM when one is ready (restores only,
 * which set the clock and the TSCs: spare.c). */
int domain_vm_create(struct domain *d, bool spare, struct err *e);
void domain_halt(struct domain *d);                 /* stop and join the vCPU threads */
int domain_resume(struct domain *d, struct err *e);  /* halted: its vCPU threads start again, running */
void domain_teardown(struct domain *d);             /* close the vCPUs and the VM (after halt) */
/* ---- partials.c: the dump, save and checkpoint files being written (PATH.partial-PID)
 * noted in STATE_DIR/partials/NOTE while they are; at start, partials_sweep removes the
 * partials of writers gone (noted ones, and those in config/dump-dir and the checkpoint
 * folders), each logged. note: where the note is ("" when it could not be written). */
#define PARTIAL_NOTE_MAX 800
struct dump_out;
void partial_note(struct hv *hv, const struct dump_out *o, char *note, size_t len);
void partial_forget(char *note);
void partials_sweep(struct hv *hv);

/* The one path that clears a domain's RAM: teardown, RAM punched, booted again. With RAM
 * users (dump_active) it only marks the reset pending and returns 1: hv's loop does it when
 * the last one ends. 0 when done, -1 with a message when the boot failed. */
int domain_reset(struct domain *d, struct err *e);
void domain_destroy(struct domain *d);
/* Takes d out of hv and destroys it: its console clients get "NAME WHY: console closed"
 * (why NULL: said from its state), and dom0's end is logged with what hv does next. */
void hv_domain_remove(struct hv *hv, struct domain *d, const char *why);
int domain_pause(struct domain *d, struct err *e);   /* holds every vCPU: state paused */
int domain_unpause(struct domain *d, struct err *e);
/* Asks the guest (HVKIT_REQ_*) through its registered event vector: 0. A shutdown of a kernel
 * without one presses the ACPI power button instead: 1 (acpi.c). -1 with e set. */
int domain_request(struct domain *d, uint32_t req, struct err *e);
/* Called from a vCPU thread: records the event, stops the domain's vCPUs, wakes the loop. */
__attribute__((format(printf, 3, 4))) void domain_post_event(struct domain *d, enum domain_event ev,
							     const char *fmt, ...);
/* VMCOREINFO for the domain's kernel: what its symbols say (snapshot.c; dumps and images). */
void domain_vmcoreinfo(struct domain *d, char *buf, size_t len);
/* Guest-virtual (or physical with paging off) to host pointer via KVM_TRANSLATE. */
void *domain_gva_ptr(struct vcpu *v, uint64_t gva, uint64_t len);

/* ---- instant.c: the instant of a running domain, paused only for an instant (the
 * two-phase userfaultfd write protection described there): dumps, checkpoints, saves. */
struct instant;
/* Called in the pause, every vCPU held: take the vCPU and device state here. */
typedef int (*instant_fn)(struct domain *d, void *opaque, struct err *e);
/* Arms, holds the domain, calls in_pause, freezes, and releases the domain again when
 * copy-on-write works (else it stays held until instant_end). NULL after in_pause failed
 * (the domain released). */
struct instant *instant_freeze(struct domain *d, instant_fn in_pause, void *opaque, struct err *e);
/* RAM as it was at the instant (a dump_read_fn; safe from several threads). */
int instant_read(void *inst, uint64_t gpa, void *buf, size_t len);
struct instant_stats {
	bool cow;                 /* the domain ran while the instant was read */
	uint64_t pause_ns;        /* from the hold to the release */
	uint64_t hold_ns, state_ns, wp_ns; /* its parts: vCPUs out of KVM_RUN, in_pause, protecting again */
	uint64_t pages_reprotected, pages_copied;
};
void instant_stats(const struct instant *s, struct instant_stats *st);
/* Ends it: protection off, saved pages freed, the domain released if still held. */
void instant_end(struct instant *s);
/* After the instant was read (copy-on-write, released): it goes on as an undo log, saving
 * the old contents of each page first written from now on, up to max_pages of them (after
 * that it is no longer complete). */
void instant_keep(struct instant *s, uint64_t max_pages);
/* An undo log started now, the domain running (after a rollback): every page protected,
 * the old contents of each page first written from the arming on kept; a page written
 * while it was being armed is not (the caller fetches KVM's dirty log after it to know
 * which). NULL when userfaultfd write protection is not there. */
struct instant *instant_log(struct domain *d, uint64_t max_pages);
/* Ends instant s (NULL: nothing) and hands over the old contents it kept, but for the
 * pages set in skip (may be NULL): (*pages)[i] a memfd page, ascending, (*data)[i] its
 * 4096 bytes (the caller frees both arrays and each page); their count. */
uint64_t instant_take(struct instant *s, const uint64_t *skip, uint64_t **pages, uint8_t ***data);
/* An undo log's pages it need not keep (bm, a bit per memfd page, taken over; NULL:
 * none): another store has their contents at its checkpoint. */
void instant_skip(struct instant *s, uint64_t *bm);
/* With the lock: page is not protected by the log (it kept it, or it was a skipped one
 * and written since), so writing it through the mapping does not fault. */
bool instant_writable(const struct instant *s, uint64_t page);
/* The log's lock: held, its pages stay as they are (the fault thread waits). */
void instant_lock(struct instant *s, bool lock);
/* With the lock: the old contents of memfd page page, or NULL (not written since). */
const uint8_t *instant_page(const struct instant *s, uint64_t page);
/* The log is not complete (a page was written without being kept). */
bool instant_lost(const struct instant *s);
/* With the lock: the pages set in bm (memfd pages) protected (wp) or not. */
int instant_protect(struct instant *s, const uint64_t *bm, bool wp);
/* With the lock: the kept copies of the pages set in bm forgotten (they are the
 * instant's again). */
void instant_restart(struct instant *s, const uint64_t *bm);
/* undo.c: the domain's undo logs. The live one ended: frozen into a store of its
 * checkpoint's pages (before another instant registers the RAM, a rollback from the
 * files), or dropped (its checkpoint deleted); _locked: undo_lock held, freeze or drop. */
void ckpt_undo_freeze(struct domain *d);
void ckpt_undo_drop(struct domain *d);
void ckpt_undo_end_locked(struct domain *d, bool freeze);
/* The stores of checkpoint id freed (it is deleted). */
void ckpt_undo_forget(struct domain *d, uint64_t id);
/* The machine state of checkpoint id a store keeps (undo_lock held; a rollback may take
 * its contents, leaving it empty), or NULL. */
struct vm_state;
struct vm_state *ckpt_undo_state(struct domain *d, uint64_t id);
/* The pages the stores of checkpoint id keep (a bit per memfd page, malloc'd), or NULL. */
uint64_t *ckpt_undo_kept(struct domain *d, uint64_t id);
/* The live log and every store freed (a teardown). */
void ckpt_undo_free(struct domain *d);
/* The pages the logs may keep in all (config/checkpoint-undo-max), and what of them the
 * stores leave to a live log (undo_lock held). */
uint64_t ckpt_undo_cap(struct domain *d);
uint64_t ckpt_undo_room(struct domain *d, uint64_t cap);

/* ---- lazy.c: a restored domain's RAM filled from its image on demand and behind */
struct lazy;
/* Registers the domain's RAM (all holes) for missing faults served from ix (taken over,
 * closed by lazy_stop) and starts the filler; before the vCPU threads start. */
int lazy_start(struct domain *d, struct image_index *ix, struct err *e);
/* Stops it (the pages not in yet read as zeros): at teardown. */
void lazy_stop(struct domain *d);
bool lazy_filling(const struct domain *d);

/* ---- console.c: the terminal, raw mode, input routing, the hypervisor console ring */
struct console {
	int in_fd, out_fd;
	bool is_tty, raw;
	bool at_line_start;
	unsigned ctrl_a; /* consecutive Ctrl-A bytes seen (input routing) */
	pthread_mutex_t lock;
	char *ring;
	size_t ring_size;
	size_t ring_head; /* total bytes ever written */
	/* conout.c: the output queue (under lock) and its writer thread */
	char *oq;
	size_t oq_tail, oq_len;
	uint64_t oq_lost;
	bool oq_busy, oq_stop, oq_thread_on;
	pthread_cond_t oq_cond;
	pthread_t oq_thread;
};
/* conout.c: the writer thread (conout_start), output for it (conout_put, with c->lock
 * held; never blocks: dropped and counted when the reader is behind), and its end
 * (conout_stop: what is queued goes out within wait_ms, the rest is lost). */
void conout_start(struct console *c);
void conout_put(struct console *c, const void *buf, size_t n);
void conout_stop(struct console *c, unsigned wait_ms);
int conout_flush(struct console *c, unsigned wait_ms); /* -1: not all out within wait_ms */
void console_init(struct console *c, int in_fd, int out_fd);
int console_raw_enter(struct console *c, struct err *e);
void console_raw_leave(struct console *c);
/* Guest console bytes for the terminal. */
void console_guest_out(struct console *c, const uint8_t *buf, size_t n);
/* One hypervisor line (without newline): prefixed, ringed, printed. */
void console_hv_line(struct console *c, const char *line);
/* Grows (never shrinks) the hypervisor console ring, keeping its contents. */
void console_ring_resize(struct console *c, size_t size);
/* Bytes typed on the terminal: three Ctrl-A in a row move the input on (dom0 -> hv ->
 * each other domain -> dom0, hv->input_to); the rest goes to that domain's UART or, for
 * hv, to the prompt hook (hv_set_prompt_input) or the debug keys. */
void console_input(struct hv *hv, const uint8_t *buf, size_t n);
#define CONSOLE_RING_MIN 65536
#define CONSOLE_RING_PER_VCPU 16384

/* ---- hv.c */
#define HV_MAX_DOMAINS 64
struct hv {
	struct kvm kvm;
	struct hv_options opt;
	struct sched sched;
	struct console con;
	int event_fd;
	pthread_mutex_t lock;
	struct domain *domains[HV_MAX_DOMAINS];
	int exit_status;
	bool pvm_warned;
	bool quit;
	atomic_bool exiting; /* the loop ended: the domains are being destroyed (a dump's error says so) */
	int input_to;      /* -1: the hypervisor reads keys; else the domain id that gets input (console.c) */
	bool key_from_console; /* the key being handled was typed on the console */
	/* the debugger prompt (the q key) takes the hypervisor's console input while set */
	void (*prompt_input)(struct hv *hv, const uint8_t *buf, size_t n);
	int next_id;
	struct control *ctl;
	struct reloc *reloc; /* the relocation server (reloc.c), or NULL */
	struct props *props;
	uint64_t linux_tick_due_ns; /* kernel_linux_tick's next look (time_ns), 0: at once */
	struct spare *spare; /* spare.c, or NULL */
};
void hv_wake(struct hv *hv);
/* debug.c: a vCPU's KVM_EXIT_DEBUG for an attached session (false: none wants it), and
 * a guest event while a session is attached (hv defers it until the detach). */
bool debug_exit(struct vcpu *v);
void debug_notify_event(struct domain *d);
struct domain *hv_domain_by_id(struct hv *hv, int id);
/* Takes d out of hv and destroys it (hv's loop only): its console clients get why (NULL:
 * said from its state), a destroy waiting on it (CTL_WAIT) its answer. */
void hv_domain_remove(struct hv *hv, struct domain *d, const char *why);
/* The id a new domain named name gets (-1 after a message: no slot, or the name is
 * taken), and putting a built domain into the table (the control thread only). */
int hv_domain_new_id(struct hv *hv, const char *name, struct err *e);
int hv_domain_insert(struct hv *hv, struct domain *d, struct err *e);
/* Applies the refreshed (running) property values to this hv. */
void hv_props_apply(struct hv *hv);
void hv_props_load(struct hv *hv);
struct domain *hv_domain_by_name(struct hv *hv, const char *name);
/* Whether a domain of that name runs, from any thread (hv->lock: the table's writers take it). */
bool hv_name_in_use(struct hv *hv, const char *name);
bool hv_id_in_use(struct hv *hv, int id); /* the same, by id */
/* The state now: running/blocked derived from the vCPUs, paused, in shutdown, ... */
enum domain_state domain_state_now(struct domain *d);
bool sched_domain_busy(struct sched *s, struct domain *d);

#endif
