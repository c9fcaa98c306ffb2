/* dbgkeys: registration of every key family, and helpers they share. */
#include "dbgkeys.h"

#include <stdio.h>

#include "internal.h"

void dbgkeys_register_all(void)
{
	dbgkeys_help_register();
	dbgkeys_regs_register();
	dbgkeys_vmcs_register();
	dbgkeys_irq_register();
	dbgkeys_nmi_register();
	dbgkeys_domains_register();
	dbgkeys_memory_register();
	dbgkeys_clock_register();
	dbgkeys_sched_register();
}

unsigned dbgkeys_domains(struct hv *hv, int *ids, unsigned max)
{
	return hv_domain_ids(hv, ids, max);
}

struct vcpu_snapshot *dbgkeys_snapshot(struct hv *hv, int id, unsigned *n)
{
	static struct vcpu_snapshot snaps[MAX_SNAP];
	struct err e;
	int r = hv_domain_snapshot(hv, id, snaps, MAX_SNAP, &e);
	if (r < 0) {
		out(hv, "domain %d: %s", id, e.msg);
		return NULL;
	}
	*n = (unsigned)r;
	return snaps;
}

void dbgkeys_each_domain(struct hv *hv, bool snap, dbgkeys_domain_fn fn, void *arg)
{
	int ids[64];
	unsigned nd = dbgkeys_domains(hv, ids, 64);
	for (unsigned i = 0; i < nd; i++) {
		struct domain_info di;
		struct vcpu_snapshot *s = NULL;
		unsigned n = 0;
		if (hv_domain_info(hv, ids[i], &di, NULL) < 0)
			continue;
		if (snap && !(s = dbgkeys_snapshot(hv, ids[i], &n)))
			continue;
		fn(hv, &di, s, n, arg);
	}
}

const char *dbgkeys_mp_state(uint32_t mp)
{
	switch (mp) {
	case KVM_MP_STATE_RUNNABLE: return "runnable";
	case KVM_MP_STATE_UNINITIALIZED: return "not started";
	case KVM_MP_STATE_INIT_RECEIVED: return "INIT received";
	case KVM_MP_STATE_HALTED: return "halted";
	case KVM_MP_STATE_SIPI_RECEIVED: return "SIPI received";
	case KVM_MP_STATE_STOPPED: return "stopped";
	}
	return "unknown";
}

const char *dbgkeys_exit_name(uint32_t reason)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "unknown", [KVM_EXIT_EXCEPTION] = "exception", [KVM_EXIT_IO] = "io",
		[KVM_EXIT_HYPERCALL] = "hypercall", [KVM_EXIT_DEBUG] = "debug", [KVM_EXIT_HLT] = "hlt",
		[KVM_EXIT_MMIO] = "mmio", [KVM_EXIT_IRQ_WINDOW_OPEN] = "irq-window", [KVM_EXIT_SHUTDOWN] = "shutdown",
		[KVM_EXIT_FAIL_ENTRY] = "fail-entry", [KVM_EXIT_INTR] = "intr", [KVM_EXIT_SET_TPR] = "set-tpr",
		[KVM_EXIT_TPR_ACCESS] = "tpr-access", [KVM_EXIT_NMI] = "nmi", [KVM_EXIT_INTERNAL_ERROR] = "internal-error",
		[KVM_EXIT_SYSTEM_EVENT] = "system-event",
	};
	if (reason < sizeof(names) / sizeof(names[0]) && names[reason])
		return names[reason];
	return "other";
}
