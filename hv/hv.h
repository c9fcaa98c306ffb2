/* hv: the hypervisor's life cycle: creating hv, starting domains on KVM, their states and
 * on_* actions, the event loop, the hypervisor log and console ring, properties. It
 * includes hv's other public contracts (introspect.h, coredump.h, debug.h, keys.h, ctl.h). */
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
	bool rollback_on_crash; /* on_crash=rollback|coredump-rollback: back to the latest checkpoint */
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

/* Ends hv's event loop (the domains are destroyed). */
void hv_quit(struct hv *hv, int status);
/* Resets the domain and boots its kernel again, even when it is hung: 0. While a dump,
 * save or checkpoint reads its RAM the reset waits for it to end (logged): 1. */
int hv_domain_reboot(struct hv *hv, int id, struct err *e);

/* Hypervisor log: one "(hv) ..." line to the console and the console ring. */
__attribute__((format(printf, 2, 3))) void hv_log(struct hv *hv, const char *fmt, ...);
/* The hypervisor console ring: copies the last bytes (up to len) into buf. */
size_t hv_console_ring(struct hv *hv, char *buf, size_t len);
size_t hv_console_ring_size(struct hv *hv);
/* A property's running value as a number (the store's default when unset or absent). */
int64_t hv_property_int(struct hv *hv, const char *name, int64_t dflt);
/* A property's running value as text (its default when unset or absent). */
void hv_property_str(struct hv *hv, const char *name, const char *dflt, char *buf, size_t len);

/* The other contracts, one header each (include the one you use; this header includes
 * them all so that older includers keep compiling). */
#include "hv/introspect.h"
#include "hv/coredump.h"
#include "hv/debug.h"
#include "hv/keys.h"
#include "hv/ctl.h"

#endif

