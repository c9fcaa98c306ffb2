/* kmdb internals: the KVM register conversion shared by the gdb sessions and the q
 * prompt's target. */
#ifndef HVKIT_KMDB_INTERNAL_H
#define HVKIT_KMDB_INTERNAL_H

#include "gdb/gdb.h"
#include "kmdb.h"

/* ---- hvgdb.c: a vCPU's registers in a debug session of this hv (KVM's kvm_regs and
 * kvm_sregs converted in this one place, for the gdb stub and the q prompt's target);
 * 0, or -1 when the vCPU is not held. */
struct hv_dbg;
int kmdb_hv_regs(struct hv_dbg *g, unsigned cpu, struct gdbstub_regs *r);

#endif
