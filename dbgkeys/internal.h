/* dbgkeys internals: the key handlers (the table in dbgkeys.c names them) and small
 * output helpers. */
#ifndef HVKIT_DBGKEYS_INTERNAL_H
#define HVKIT_DBGKEYS_INTERNAL_H

#include "hv/hv.h"

#define out(hv, ...) hv_log(hv, __VA_ARGS__)
#define MAX_SNAP 256

/* The key handlers, one per key of the table in dbgkeys.c (each prints its own
 * "'k' pressed -> ..." line first, as Xen's do). */
void dbgkeys_key_help(struct hv *hv, unsigned char key);      /* help.c */
void dbgkeys_key_ring(struct hv *hv, unsigned char key);
void dbgkeys_key_all(struct hv *hv, unsigned char key);
void dbgkeys_key_regs(struct hv *hv, unsigned char key);      /* regs.c */
void dbgkeys_key_regs0(struct hv *hv, unsigned char key);
void dbgkeys_key_vmcs(struct hv *hv, unsigned char key);      /* vmcs.c */
void dbgkeys_key_ioapic(struct hv *hv, unsigned char key);    /* irq.c */
void dbgkeys_key_irqs(struct hv *hv, unsigned char key);
void dbgkeys_key_nmi(struct hv *hv, unsigned char key);       /* nmi.c */
void dbgkeys_key_nmi_stats(struct hv *hv, unsigned char key);
void dbgkeys_key_domains(struct hv *hv, unsigned char key);   /* domains.c */
void dbgkeys_key_reboot(struct hv *hv, unsigned char key);
void dbgkeys_key_crashdump(struct hv *hv, unsigned char key);
void dbgkeys_key_gdbstub(struct hv *hv, unsigned char key);
void dbgkeys_key_memory(struct hv *hv, unsigned char key);    /* memory.c */
void dbgkeys_key_heap(struct hv *hv, unsigned char key);
void dbgkeys_key_numa(struct hv *hv, unsigned char key);
void dbgkeys_key_clocks(struct hv *hv, unsigned char key);    /* clock.c */
void dbgkeys_key_timers(struct hv *hv, unsigned char key);
void dbgkeys_key_runq(struct hv *hv, unsigned char key);      /* sched.c */

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
struct target;
/* os: the domain's Linux target for ORC stacks (kmdb_stack_os_open), or NULL */
void dbgkeys_dump_vcpu(struct hv *hv, int id, const char *dname, const struct vcpu_snapshot *s, struct target *os);

#endif
