/* sched: 'r' dumps the credit scheduler like Xen's csched_dump: its settings, then per
 * physical-CPU slot the running vCPU, then the queued and blocked vCPUs, one line each as
 * [dom.vcpu] pri credit weight cap. */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

static void line(struct hv *hv, const char *lead, const struct sched_vcpu_info *v)
{
	out(hv, "%s[%d.%u] pri=%-5s credit=%-7lld weight=%-5u cap=%-3u %s, %.3f s CPU", lead, v->dom, v->vcpu,
	    v->under ? "UNDER" : "OVER", v->credit, v->weight, v->cap, v->state, v->cpu_ns / 1e9);
}

void dbgkeys_key_runq(struct hv *hv, unsigned char key)
{
	struct sched_info *si = calloc(1, sizeof(*si));
	if (!si)
		return;
	hv_sched_info(hv, si);
	out(hv, "'%c' pressed -> dumping run queues", key);
	out(hv, "Scheduler: hv credit scheduler (credit1-style)");
	out(hv, "info:");
	out(hv, "    ncpus              = %u (physical-CPU slots)", si->nslots);
	if (si->dom0_slots)
		out(hv, "    dom0-cpus          = %u", si->dom0_slots);
	else
		out(hv, "    dom0-cpus          = all");
	out(hv, "    tick               = %ums", si->tick_ms);
	out(hv, "    tslice             = %ums", si->tslice_ms);
	out(hv, "    credit per period  = %ums x %u cpus", si->tick_ms * 3, si->nslots);
	out(hv, "    default-weight     = %u", si->default_weight);
	out(hv, "    ticks=%llu accountings=%llu switches=%llu preemptions=%llu", (unsigned long long)si->ticks,
	    (unsigned long long)si->accountings, (unsigned long long)si->switches, (unsigned long long)si->preemptions);
	out(hv, "    scheduler CPU time %.3f ms over %.1f s (%.3f%%)", si->sched_cpu_ns / 1e6, si->uptime_ns / 1e9,
	    si->uptime_ns ? 100.0 * (double)si->sched_cpu_ns / (double)si->uptime_ns : 0.0);
	for (unsigned c = 0; c < si->nslots; c++) {
		bool any = false;
		out(hv, "CPU[%02u]", c);
		for (unsigned i = 0; i < si->nvcpus; i++) {
			if (si->v[i].slot == (int)c) {
				line(hv, "    run: ", &si->v[i]);
				any = true;
			}
		}
		if (!any)
			out(hv, "    run: idle");
	}
	out(hv, "runq (waiting for a CPU):");
	for (unsigned i = 0; i < si->nvcpus; i++)
		if (si->v[i].slot < 0 && si->v[i].state[0] != 'b' && si->v[i].state[0] != 'i')
			line(hv, "    ", &si->v[i]);
	out(hv, "blocked (halted in the guest, off the queues):");
	for (unsigned i = 0; i < si->nvcpus; i++)
		if (si->v[i].slot < 0 && (si->v[i].state[0] == 'b' || si->v[i].state[0] == 'i'))
			line(hv, "    ", &si->v[i]);
	free(si);
}
