/* vmstate: a domain's whole machine state in host memory (private to hv/): what KVM holds
 * per vCPU and per VM, and hv's own devices, taken from a held domain and put into a new
 * VM. The domain image (save files, checkpoints, migration: hv/save.c) is this, with RAM,
 * written as records of dump/image.h. */
#ifndef HVKIT_HV_VMSTATE_H
#define HVKIT_HV_VMSTATE_H

#include <linux/kvm.h>
#include <stdbool.h>
#include <stdint.h>

#include "hv.h"
#include "uart.h"
#include "util/err.h"

/* hv's own part of a vCPU (the port block, a start request pending from another vCPU). */
struct vcpu_hvstate {
	uint8_t online, boot_pending, pad[2];
	uint32_t port_arg[3], port_status;
	uint32_t boot_entry, boot_ebx;
};

struct vcpu_state {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	bool has_xsave, has_xcrs;
	uint32_t xsave[1024];   /* struct kvm_xsave's region, with KVM_CAP_XSAVE (the struct ends in a
				 * flexible array: not a member of another struct) */
	struct kvm_fpu fpu;     /* without it */
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp;
	struct kvm_debugregs dregs;
	uint32_t nmsrs;
	struct kvm_msr_entry *msrs; /* every MSR of KVM_GET_MSR_INDEX_LIST this vCPU could read */
	struct kvm_cpuid2 *cpuid;   /* what the guest sees (KVM_GET_CPUID2) */
	struct vcpu_hvstate hv;
};

/* hv's own part of a domain: the guest's notification vector and a pending request. */
struct dom_hvstate {
	uint32_t event_vector, event_apic, request, pad;
};

struct vm_state {
	unsigned nr_vcpus;
	struct vcpu_state *vcpus;
	struct kvm_irqchip chip[3]; /* KVM_IRQCHIP_PIC_MASTER, _PIC_SLAVE, _IOAPIC */
	struct kvm_pit_state2 pit;
	struct kvm_clock_data clock;
	struct uart_state uart;
	struct dom_hvstate hv;
	/* when it was taken */
	enum domain_state state; /* the domain's, as hvctl list showed it */
	uint64_t uptime_ns;      /* the domain's uptime then (a restore goes on from it) */
	uint64_t realtime_ns;    /* CLOCK_REALTIME */
};

struct domain;
/* Takes the state of a domain whose vCPUs are all held (paused, or frozen for a
 * checkpoint). Pending port and MMIO reads are completed first (a KVM_RUN with
 * immediate_exit), as the KVM API asks before state is saved. */
int vmstate_get(struct domain *d, struct vm_state *s, struct err *e);
/* Puts it into the domain's VM, its vCPUs created and not running (threads not started,
 * or held). fresh: a new VM (CPUID is set too; KVM refuses to change it once a vCPU ran).
 * The vCPU count must match. An MSR KVM refuses is logged and skipped. */
int vmstate_set(struct domain *d, const struct vm_state *s, bool fresh, struct err *e);
void vmstate_free(struct vm_state *s);
/* Refuses (naming the feature) a CPUID the guest saw that this host's KVM cannot give. */
int vmstate_cpuid_check(const struct kvm_cpuid2 *host, const struct kvm_cpuid2 *guest, struct err *e);

/* ---- image.c: a domain as a domain image (dump/image.h) and back */
#define HV_IMAGE_LAYOUT 1 /* the layout of hv's own records: UART, HV_VCPU, HV_DOMAIN */
#define HV_DOM_DEFINED 0x1u
/* IMAGE_HV_DOMAIN: what hv keeps of a domain beside KVM's state. */
struct hv_domain_rec {
	uint32_t layout; /* HV_IMAGE_LAYOUT */
	uint32_t event_vector, event_apic, request;
	int32_t id;
	uint32_t flags; /* HV_DOM_* */
	uint64_t mem_bytes, uptime_ns;
	uint32_t reboots, pad;
};
/* What to write: the state taken in the pause, RAM through read (an instant's, or the
 * held domain's own), all of it or only gfns (an incremental image). */
struct image_src {
	const struct vm_state *vs;
	int (*read)(void *opaque, uint64_t gpa, void *buf, size_t len);
	void *opaque;
	bool read_mt;
	const uint64_t *gfns;
	size_t ngfns;
	int (*progress)(void *opaque, uint64_t done, uint64_t total);
	void *popaque;
};
struct image_header;
int image_write_domain(struct domain *d, int fd, struct image_header *h, const struct image_src *src, struct err *e);
/* save.c: may d be saved or checkpointed now (running, blocked, paused, in shutdown)? */
int image_save_check(struct domain *d, const char *what, struct err *e);
/* The image into a file made by dump_out_create, committed (fsync, its name); its size. */
struct dump_out;
int image_write_file(struct domain *d, struct dump_out *file, const char *path, struct image_header *h,
		     const struct image_src *src, uint64_t *bytes, struct err *e);
struct image_restore_opts {
	const char *name; /* NULL: the image's */
	bool paused;
	/* detached: the domain is built (RAM, vCPUs, state) but not started nor put into hv's
	 * table, and has no id yet: image_restore_attach does that, in hv's loop (a migration
	 * arriving in a thread of its own). */
	bool detached;
	/* called with the image's configuration before any domain exists; -1 refuses it */
	int (*check)(void *opaque, const struct domain_config *cfg, struct err *e);
	/* a SYNC record (live migration) read: everything before it is in the domain's RAM */
	int (*sync)(void *opaque, uint64_t seq, struct err *e);
	/* a PENDING record (post-copy): these pages' data is stale and comes later; without
	 * the callback the record is refused */
	int (*pending)(void *opaque, struct domain *d, const uint64_t *gfns, size_t n, struct err *e);
	void *check_opaque; /* the callbacks' */
	/* optional: time_ns() at each step of the restore (enum restore_step), for hv's log */
	uint64_t *steps;
};
enum restore_step { RS_BEGIN, RS_INDEX, RS_DOMAIN, RS_RECORDS, RS_VCPUS, RS_LAZY, RS_STATE, RS_START, RS_N };
/* A detached restore's domain into hv's table (an id, then its vCPU threads, paused or
 * not); hv's loop only. On failure the caller still owns d. */
int image_restore_attach(struct hv *hv, struct domain *d, bool paused, struct err *e);
/* The image's records one part at a time (a live migration sends the RAM in between):
 * the configuration (and what the debugger shows: state and time from vs), then the
 * machine state of the pause. */
struct image_writer;
int image_put_config(struct image_writer *w, struct domain *d, const struct vm_state *vs, struct err *e);
int image_put_state(struct image_writer *w, struct domain *d, const struct vm_state *vs, struct err *e);
/* A new domain from a full image read through r (its header h), running (or paused), in
 * hv's table. lazy (the same file's lazy index, or NULL): RAM comes from it on demand
 * (lazy.c); else from the PAGE_DATA records. lazy is taken over in every case. NULL with
 * a message, and nothing is left behind. */
struct image_index;
struct image_reader;
struct domain *image_restore(struct hv *hv, struct image_reader *r, struct image_index *lazy,
			     const struct image_restore_opts *o, const struct image_header *h, struct err *e);
/* The machine state an image holds (a rollback's target). */
int image_read_state(struct image_index *x, struct vm_state *vs, struct err *e);

#endif
