/* sched: 'r' dumps run queues. hv has no scheduler of its own yet: each vCPU thread is
 * scheduled by the host kernel, so this shows where each vCPU thread is and what it does. */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static void key_runq(struct hv *hv, unsigned char key)
{
	int ids[64];
	unsigned nd = dbgkeys_domains(hv, ids, 64);
	out(hv, "'%c' pressed -> dumping run queues", key);
	out(hv, "Scheduler: host (no hv credit scheduler yet); vCPU threads run KVM_RUN whenever runnable");
	for (unsigned i = 0; i < nd; i++) {
		struct domain_info di;
		struct vcpu_snapshot *s;
		unsigned n;
		if (hv_domain_info(hv, ids[i], &di, NULL) < 0 || !(s = dbgkeys_snapshot(hv, ids[i], &n)))
			continue;
		for (unsigned v = 0; v < n; v++)
			out(hv, "  [%d.%u] %s, host thread %d, %.3f s in guest", di.id, v,
			    !s[v].running ? "stopped" : !s[v].online ? "waiting to be started" : dbgkeys_mp_state(s[v].mp.mp_state),
			    s[v].host_tid, s[v].run_ns / 1e9);
	}
}

void dbgkeys_sched_register(void)
{
	keys_register('r', key_runq, "dump run queues", true);
}
