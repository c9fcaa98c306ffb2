/* hv: the hypervisor core's public face: domains on KVM, their life cycle and state,
 * the hypervisor log, and the event loop that owns the terminal console. */
#ifndef HVKIT_HV_H
#define HVKIT_HV_H

#include <stdbool.h>
#include <stdint.h>

#include "util/util.h"

/* The six domain states of the seed (virsh list --all). */
enum domain_state {
	DOMAIN_RUNNING,
	DOMAIN_BLOCKED,
	DOMAIN_PAUSED,
	DOMAIN_CRASHED,
	DOMAIN_SHUTOFF,
	DOMAIN_SHUTDOWN, /* "in shutdown" */
};
const char *domain_state_name(enum domain_state s);

/* What happens when a domain powers off, reboots or crashes (xl.cfg on_*). */
enum domain_action {
	ACTION_DESTROY,
	ACTION_RESTART,
	ACTION_PRESERVE,
};
const char *domain_action_name(enum domain_action a);
int domain_action_parse(const char *s, enum domain_action *out);

struct domain_config {
	const char *name;
	uint64_t mem_bytes;
	unsigned vcpus;
	const char *kernel;  /* PVH ELF kernel path; NULL = the built-in guest */
	const char *initrd;  /* optional */
	const char *cmdline; /* optional */
	enum domain_action on_poweroff, on_reboot, on_crash;
	bool coredump_on_crash; /* on_crash=coredump-destroy|coredump-restart: dump into dump-dir first */
	unsigned weight;     /* credit scheduler weight (default 256) */
	unsigned cap;        /* the whole domain gets at most this % of one CPU; 0 = no cap */
	const char *mem_image; /* benchmarks: RAM filled from this file (offset order) before the kernel loads */
};

#define HV_MIN_MEM (8ull << 20)
#define HV_MAX_VCPUS 255
#define HV_DEFAULT_SOCKET "/run/hvkit/ctl.sock"
#define HV_DEFAULT_STATE_DIR "/var/lib/hvkit"

struct hv_options {
	bool quiet;          /* no informational (hv) lines, only warnings and errors */
	bool count_insns;    /* single-step every vCPU and count its instructions (slow; for benchmarks) */
	unsigned pcpus;      /* physical-CPU slots for the scheduler (default: host CPUs) */
	unsigned dom0_cpus;  /* most slots dom0 may hold at once (0 = all) */
	bool daemon;         /* no terminal: consoles only through the control socket */
	const char *socket_path; /* control socket (NULL: HV_DEFAULT_SOCKET) */
	const char *state_dir;   /* definitions and properties (NULL: HV_DEFAULT_STATE_DIR) */
};

struct hv;

struct hv *hv_create(const struct hv_options *opt, struct err *e);
/* Creates and starts a domain (dom0 is the first). Returns its id or -1. */
int hv_domain_start(struct hv *hv, const struct domain_config *cfg, struct err *e);
/* Runs the event loop until no domain is left or a signal ends hv. Returns the exit
 * status for the process: 0 all domains shut off, 3 a domain crashed and was destroyed,
 * 1 an error, 128+N killed by signal N. */
int hv_run(struct hv *hv);
void hv_destroy(struct hv *hv);

/* Hypervisor log: one "(hv) ..." line to the console and the console ring. */
__attribute__((format(printf, 2, 3))) void hv_log(struct hv *hv, const char *fmt, ...);

/* ---- The debug-key table (like Xen's keyhandler.c). Handlers live in dbgkeys/, whose
 * table is registered at start-up; hv only keeps the table and dispatches. */
typedef void (*key_handler_fn)(struct hv *hv, unsigned char key);
struct key_info {
	unsigned char key;
	key_handler_fn fn;
	const char *desc;  /* what 'h' lists */
	bool diagnostic;   /* '*' runs it */
};
/* Adds a key; -1 with a message when the key is taken (never overwritten) or the row
 * has no handler or description. */
int keys_register(const struct key_info *k, struct err *e);
/* Runs the handler of one key (the handler prints "'k' pressed -> ..." itself). */
void keys_handle(struct hv *hv, unsigned char key);
/* Fills up to max entries in key order; returns how many keys are registered. */
unsigned keys_list(struct key_info *out, unsigned max);

/* ---- Introspection for the debug keys and, later, dumps and the debugger. A vCPU is
 * kicked out of the guest (works on a hung guest) and held while its state is read. */
#include <linux/kvm.h>

struct domain_info {
	int id;
	char name[64];
	enum domain_state state;
	unsigned vcpus;
	uint64_t mem_bytes;
	uint64_t uptime_ns;
	unsigned reboots;
	unsigned pause_count;
	char reason[1100]; /* why it crashed or stopped, if it did */
	const char *kernel;
};

struct vcpu_snapshot {
	unsigned index;
	bool online;     /* started by the guest */
	bool running;    /* its thread is live (the domain is not stopped) */
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_lapic_state lapic;
	struct kvm_debugregs dregs;
	uint64_t msr_sysenter_cs, msr_sysenter_esp, msr_sysenter_eip, msr_pat, msr_tsc;
	uint64_t msr_star, msr_lstar, msr_kernel_gs_base, msr_fs_base, msr_gs_base;
	uint64_t exits, exit_counts[40]; /* per KVM_EXIT_* reason (index < 40) */
	uint32_t last_exit;
	uint64_t nmis_injected;
	uint64_t kvmclock_ns; /* KVM_GET_CLOCK of the VM at the snapshot */
	uint32_t tsc_khz;
	uint64_t run_ns;  /* time spent in KVM_RUN */
	uint64_t host_ns; /* CLOCK_MONOTONIC at the snapshot */
	int host_tid;
};
/* KVM's registers as x86/'s register set, the one conversion (hv/regs.c); and back to
 * kvm_regs (the general registers, rip and rflags), the part KVM_SET_REGS sets. */
struct x86_regs;
void hv_regs_from_kvm(const struct kvm_regs *k, const struct kvm_sregs *s, struct x86_regs *r);
void hv_regs_to_kvm(const struct x86_regs *r, struct kvm_regs *k);

/* Domain ids in use, ascending; returns the count (at most max). */
unsigned hv_domain_ids(struct hv *hv, int *ids, unsigned max);
int hv_domain_info(struct hv *hv, int id, struct domain_info *out, struct err *e);
/* Holds every vCPU of a domain out of the guest until hv_domain_release (nestable). */
int hv_domain_hold(struct hv *hv, int id);
void hv_domain_release(struct hv *hv, int id);
/* Snapshots every vCPU of the domain at one instant (all are held together). */
int hv_domain_snapshot(struct hv *hv, int id, struct vcpu_snapshot *out, unsigned max, struct err *e);
/* Reads guest-virtual memory through vCPU `vcpu`'s page tables (KVM_TRANSLATE). Returns
 * bytes read (short at an unmapped page). The vCPU is held meanwhile. */
size_t hv_read_virt(struct hv *hv, int id, unsigned vcpu, uint64_t gva, void *buf, size_t len);
/* Reads guest-physical memory; returns bytes read (0 when not RAM). */
size_t hv_read_phys(struct hv *hv, int id, uint64_t gpa, void *buf, size_t len);
/* A code address as "name+0x1c" from the kernel's code symbols; a return address is
 * looked up one byte back (a call may be the last instruction of a function). */
bool hv_symbolize_code(struct hv *hv, int id, uint64_t addr, bool is_return, char *buf, size_t len);
/* The domain kernel's symbol for addr ("name+0x1c"); false when unknown. */
bool hv_symbolize(struct hv *hv, int id, uint64_t addr, char *buf, size_t len);
/* KVM irqchip state: KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE or _IOAPIC. */
int hv_irqchip(struct hv *hv, int id, struct kvm_irqchip *chip, struct err *e);
/* Injects an NMI into a vCPU. */
int hv_inject_nmi(struct hv *hv, int id, unsigned vcpu, struct err *e);
/* Resets the domain and boots its kernel again, even when it is hung. */
int hv_domain_reboot(struct hv *hv, int id, struct err *e);
/* The hypervisor console ring: copies the last bytes (up to len) into buf. */
size_t hv_console_ring(struct hv *hv, char *buf, size_t len);
size_t hv_console_ring_size(struct hv *hv);
/* A property's running value as a number (the store's default when unset or absent). */
int64_t hv_property_int(struct hv *hv, const char *name, int64_t dflt);
/* Host bytes of guest RAM resident for the domain (mincore on its memfd mapping). */
uint64_t hv_domain_resident(struct hv *hv, int id);
/* Host address of guest RAM [0, size) for NUMA queries (mincore/move_pages), or NULL. */
void *hv_domain_ram(struct hv *hv, int id, uint64_t *size);
/* Interrupt lines raised by hv's emulated devices (COM1 = IRQ 4) since boot. */
uint64_t hv_domain_irq_count(struct hv *hv, int id, unsigned gsi);
/* KVM's PIT state (channel 0 is the PC timer). */
int hv_pit(struct hv *hv, int id, struct kvm_pit_state2 *pit, struct err *e);
/* The credit scheduler's settings and every vCPU it knows, at one instant. */
struct sched_vcpu_info {
	int dom;
	unsigned vcpu;
	int slot;          /* physical-CPU slot held, or -1 */
	const char *state; /* running, runnable, blocked, capped, idle */
	bool under;        /* priority UNDER (credit > 0) or OVER */
	long long credit;  /* microseconds of CPU */
	unsigned weight, cap;
	uint64_t cpu_ns;   /* CPU time charged so far */
};
struct sched_info {
	unsigned nslots, dom0_slots, tick_ms, tslice_ms, default_weight;
	uint64_t ticks, switches, preemptions, accountings;
	uint64_t sched_cpu_ns, uptime_ns;
	uint64_t next_tick_ns; /* from now */
	unsigned nvcpus;
	struct sched_vcpu_info v[1024];
};
void hv_sched_info(struct hv *hv, struct sched_info *out);
/* A consistent ELF core dump of a domain into path (never overwritten; written under a
 * temporary name, fsync'd, then linked into place). */
struct hv_dump_stats {
	uint64_t pause_ns, total_ns, bytes, pages_copied, file_bytes /* allocated on disk */;
	uint64_t pages_reprotected; /* written between arming and the instant, protected again in the pause */
	bool cow; /* the domain ran during the write (userfaultfd write-protection) */
};
struct hv_dump_opts {
	int format;                                        /* enum dump_fmt (dump/dump.h); 0 = ELF */
	int (*progress)(void *opaque, uint64_t done, uint64_t total); /* non-zero: cancel */
	void *opaque;
};
/* opts may be NULL (ELF, no progress). */
int hv_domain_dump(struct hv *hv, int id, const char *path, const struct hv_dump_opts *opts, struct hv_dump_stats *st,
		   struct err *e);
/* ---- live debugging (debug.c; the kmdb bridge's target). A session stops the domain
 * (every vCPU held), gives its registers and memory, and runs it on under control.
 * Breakpoints and watchpoints share the 4 debug registers. Not thread-safe: one thread
 * drives a session (hv_dbg_interrupt may come from another). */
struct hv_dbg;
enum hv_dbg_kind { HV_DBG_EXEC, HV_DBG_WRITE, HV_DBG_ACCESS };
struct hv_dbg_bp {
	bool used;
	enum hv_dbg_kind kind;
	uint64_t addr;
	unsigned len;
};
enum hv_dbg_stop_kind { HV_DBG_STOP_STEP, HV_DBG_STOP_BP, HV_DBG_STOP_WATCH, HV_DBG_STOP_INTERRUPT };
struct hv_dbg_stop {
	enum hv_dbg_stop_kind kind;
	unsigned cpu;
	uint64_t pc;
	struct hv_dbg_bp bp; /* the breakpoint or watchpoint hit */
	bool exited;         /* the domain crashed or shut down: why */
	char why[256];
};
struct hv_dbg *hv_dbg_attach(struct hv *hv, int id, struct err *e);
/* --no-pause: the domain keeps running; registers are read by holding the vCPU for the
 * moment of the read, memory read while it runs; no writes, breakpoints or run control. */
struct hv_dbg *hv_dbg_attach_running(struct hv *hv, int id, struct err *e);
/* Ends the session: resume lets the domain run on, else it stays paused. */
void hv_dbg_detach(struct hv_dbg *g, bool resume);
unsigned hv_dbg_nr_vcpus(struct hv_dbg *g);
const char *hv_dbg_domain_name(struct hv_dbg *g);
int hv_dbg_domain_id(struct hv_dbg *g);
bool hv_dbg_online(struct hv_dbg *g, unsigned cpu);
int hv_dbg_get_regs(struct hv_dbg *g, unsigned cpu, struct kvm_regs *r, struct kvm_sregs *s);
int hv_dbg_set_regs(struct hv_dbg *g, unsigned cpu, const struct kvm_regs *r, struct err *e);
size_t hv_dbg_read_virt(struct hv_dbg *g, unsigned cpu, uint64_t va, void *buf, size_t len);
size_t hv_dbg_write_virt(struct hv_dbg *g, unsigned cpu, uint64_t va, const void *buf, size_t len, struct err *e);
size_t hv_dbg_read_phys(struct hv_dbg *g, uint64_t pa, void *buf, size_t len);
void hv_dbg_set_writable(struct hv_dbg *g, bool w);
bool hv_dbg_writable(struct hv_dbg *g);
int hv_dbg_set_bp(struct hv_dbg *g, enum hv_dbg_kind kind, uint64_t addr, unsigned len, bool insert, struct err *e);
int hv_dbg_list_bp(struct hv_dbg *g, struct hv_dbg_bp out[4]);
/* step_cpu -1: every vCPU runs; else only that one, for one instruction. */
int hv_dbg_resume(struct hv_dbg *g, int step_cpu, struct err *e);
int hv_dbg_interrupt(struct hv_dbg *g);
int hv_dbg_stop_fd(struct hv_dbg *g); /* readable when a stop may have come */
/* Waits for the stop after a resume (returns at once when stopped). 0 or -1. */
int hv_dbg_wait_stop(struct hv_dbg *g, struct hv_dbg_stop *s);

/* The console, for the debugger prompt: text written as is (newlines made CRLF on a raw
 * terminal); whether the key being handled came from the console; the prompt's input
 * hook (NULL gives the console back to the debug keys). */
void hv_console_write(struct hv *hv, const char *text);
bool hv_key_from_console(struct hv *hv);
void hv_set_prompt_input(struct hv *hv, void (*fn)(struct hv *hv, const uint8_t *buf, size_t n));
/* The domain's kernel as a file hvmdb's engine can open (the built-in guest: a memfd as
 * /proc/self/fd/N); 0 or -1. */
int hv_domain_kernel_path(struct hv *hv, int id, char *path, size_t len);

/* The config/dump-format property (for the 'C' key and coredump-* actions). */
int hv_dump_default_format(struct hv *hv);
/* savecore-style: the next DIR/vmcore.N (N from DIR/bounds, which is then advanced). */
int hv_dump_next_path(const char *dir, char *path, size_t len, struct err *e);
/* A property's running value as text (its default when unset or absent). */
void hv_property_str(struct hv *hv, const char *name, const char *dflt, char *buf, size_t len);
/* hv's own memory by kind (for the 'H' key): fills up to max items, returns the count. */
struct heap_item {
	char kind[48];
	uint64_t count, bytes;
};
unsigned hv_heap_info(struct hv *hv, struct heap_item *items, unsigned max);
/* The gdb servers behind the gdb and gdbserver control verbs. The live-debugging layer
 * (kmdb/) registers them at start-up, so hv's core calls it without naming it; without
 * them the verbs answer that live debugging is not built in. */
struct hv_gdb_ops {
	/* Serves gdb on the connected fd for domain domid; blocks. */
	int (*session)(struct hv *hv, int domid, int fd, bool writable, bool nopause, struct err *e);
	/* A one-shot server thread on a Unix socket or 127.0.0.1:port; where: its address. */
	int (*server_start)(struct hv *hv, int domid, const char *unix_path, int port, bool writable, char *where,
			    size_t wlen, struct err *e);
};
/* -1 when ops were registered already (a second registration is an error, not an overwrite). */
int hv_set_gdb_ops(const struct hv_gdb_ops *ops);
/* Ends hv's event loop (the domains are destroyed). */
void hv_quit(struct hv *hv, int status);

#endif
