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
};

#define HV_MIN_MEM (8ull << 20)
#define HV_MAX_VCPUS 255

struct hv_options {
	bool quiet;          /* no informational (hv) lines, only warnings and errors */
	bool count_insns;    /* single-step every vCPU and count its instructions (slow; for benchmarks) */
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

#endif
