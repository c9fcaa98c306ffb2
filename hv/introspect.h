/* introspect: reading a domain from outside, for the debug keys and the debugger: its
 * info, vCPU snapshots, memory, symbols, irqchip and PIT, the scheduler and hv's heap. A
 * vCPU is kicked out of the guest (works on a hung guest) and held while it is read. */
#ifndef HVKIT_HV_INTROSPECT_H
#define HVKIT_HV_INTROSPECT_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hv/hv.h"

struct x86_regs;

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
/* hv's own memory by kind (for the 'H' key): fills up to max items, returns the count. */
struct heap_item {
	char kind[48];
	uint64_t count, bytes;
};
unsigned hv_heap_info(struct hv *hv, struct heap_item *items, unsigned max);

#endif
