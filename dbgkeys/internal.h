/* dbgkeys internals: per-file registration functions and small output helpers. */
#ifndef HVKIT_DBGKEYS_INTERNAL_H
#define HVKIT_DBGKEYS_INTERNAL_H

#include "hv/hv.h"

#define out(hv, ...) hv_log(hv, __VA_ARGS__)
#define MAX_SNAP 256

void dbgkeys_help_register(void);
void dbgkeys_regs_register(void);
void dbgkeys_vmcs_register(void);
void dbgkeys_irq_register(void);
void dbgkeys_nmi_register(void);
void dbgkeys_domains_register(void);
void dbgkeys_memory_register(void);
void dbgkeys_clock_register(void);
void dbgkeys_sched_register(void);

/* Calls fn for every domain in id order with its info and, when snap is true, a snapshot
 * of all its vCPUs taken at one instant (domains whose snapshot fails are reported and
 * skipped). */
typedef void (*dbgkeys_domain_fn)(struct hv *hv, const struct domain_info *di, struct vcpu_snapshot *s, unsigned n,
				  void *arg);
void dbgkeys_each_domain(struct hv *hv, bool snap, dbgkeys_domain_fn fn, void *arg);
/* Domain ids in ascending order (dom0 first). */
unsigned dbgkeys_domains(struct hv *hv, int *ids, unsigned max);
/* Snapshot of every vCPU of a domain into a static buffer; NULL (and a line) on failure. */
struct vcpu_snapshot *dbgkeys_snapshot(struct hv *hv, int id, unsigned *n);
const char *dbgkeys_mp_state(uint32_t mp);
const char *dbgkeys_exit_name(uint32_t reason);
void dbgkeys_dump_vcpu(struct hv *hv, int id, const char *dname, const struct vcpu_snapshot *s);

#endif
