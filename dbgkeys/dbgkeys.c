/* dbgkeys: the key table (every key, its handler, description and diagnostic flag), its
 * registration, and helpers the handlers share. */
#include "dbgkeys.h"

#include <stdio.h>

#include "internal.h"

/* The keys: one row each (Xen's key_table[]). 'h' lists them in key order and '*' runs
 * the diagnostic ones, so the order here is only for reading. */
static const struct key_info dbgkeys_table[] = {
	{ .key = 'h', .fn = dbgkeys_key_help, .desc = "show this message" },
	{ .key = 'w', .fn = dbgkeys_key_ring, .desc = "synchronously dump the console ring buffer (dmesg)" },
	{ .key = '*', .fn = dbgkeys_key_all, .desc = "print all diagnostics" },
	{ .key = 'd', .fn = dbgkeys_key_regs, .desc = "dump registers", .diagnostic = true },
	{ .key = '0', .fn = dbgkeys_key_regs0, .desc = "dump dom0 registers", .diagnostic = true },
	{ .key = 'v', .fn = dbgkeys_key_vmcs, .desc = "dump VMCS-equivalent guest state", .diagnostic = true },
	{ .key = 'z', .fn = dbgkeys_key_ioapic, .desc = "print ioapic info", .diagnostic = true },
	{ .key = 'i', .fn = dbgkeys_key_irqs, .desc = "dump interrupt bindings", .diagnostic = true },
	{ .key = 'n', .fn = dbgkeys_key_nmi, .desc = "trigger an NMI" },
	{ .key = 'N', .fn = dbgkeys_key_nmi_stats, .desc = "NMI statistics", .diagnostic = true },
	{ .key = 'q', .fn = dbgkeys_key_domains, .desc = "dump domain (and guest debug) info", .diagnostic = true },
	{ .key = 'R', .fn = dbgkeys_key_reboot, .desc = "reboot dom0" },
	{ .key = 'C', .fn = dbgkeys_key_crashdump, .desc = "trigger a crashdump" },
	{ .key = '%', .fn = dbgkeys_key_gdbstub, .desc = "trap to the debugger" },
	{ .key = 'm', .fn = dbgkeys_key_memory, .desc = "memory info", .diagnostic = true },
	{ .key = 'H', .fn = dbgkeys_key_heap, .desc = "dump heap info", .diagnostic = true },
	{ .key = 'u', .fn = dbgkeys_key_numa, .desc = "dump numa info", .diagnostic = true },
	{ .key = 't', .fn = dbgkeys_key_clocks, .desc = "display multi-cpu clock info", .diagnostic = true },
	{ .key = 'a', .fn = dbgkeys_key_timers, .desc = "dump timer queues", .diagnostic = true },
	{ .key = 'r', .fn = dbgkeys_key_runq, .desc = "dump run queues", .diagnostic = true },
};

int dbgkeys_register_all(struct err *e)
{
	for (size_t i = 0; i < sizeof(dbgkeys_table) / sizeof(dbgkeys_table[0]); i++)
		if (keys_register(&dbgkeys_table[i], e) < 0)
			return -1;
	return 0;
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
