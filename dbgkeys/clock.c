/* clock: 't' each vCPU's TSC and kvmclock against host monotonic time, and the skew
 * between vCPUs; 'a' the timers that are pending: each vCPU's LAPIC timer and the PIT. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static uint32_t lapic_reg(const struct vcpu_snapshot *s, unsigned off)
{
	uint32_t v;
	memcpy(&v, s->lapic.regs + off, 4);
	return v;
}

static void clocks_domain(struct hv *hv, const struct domain_info *di, struct vcpu_snapshot *s, unsigned n, void *arg)
{
	double first = 0, max_skew = 0;
	(void)arg;
	out(hv, "%s: kvmclock %.6f s", di->name, n ? s[0].kvmclock_ns / 1e9 : 0.0);
	for (unsigned v = 0; v < n; v++) {
		/* TSC in ns, corrected to the instant of vCPU 0's snapshot */
		double tsc_ns = s[v].tsc_khz ? (double)s[v].msr_tsc * 1e6 / s[v].tsc_khz : 0;
		double at0 = tsc_ns - (double)(s[v].host_ns - s[0].host_ns);
		if (v == 0)
			first = at0;
		else if (at0 - first > max_skew || first - at0 > max_skew)
			max_skew = at0 > first ? at0 - first : first - at0;
		out(hv, "  vCPU %u: TSC %llu (%u kHz) = %.6f s, host monotonic %.6f s, skew to vCPU0 %+.0f ns", v,
		    (unsigned long long)s[v].msr_tsc, s[v].tsc_khz, tsc_ns / 1e9, s[v].host_ns / 1e9, at0 - first);
	}
	out(hv, "%s: max TSC skew between vCPUs %.0f ns", di->name, max_skew);
}

void dbgkeys_key_clocks(struct hv *hv, unsigned char key)
{
	out(hv, "'%c' pressed -> displaying multi-cpu clock info", key);
	dbgkeys_each_domain(hv, true, clocks_domain, NULL);
}

static void timers_domain(struct hv *hv, const struct domain_info *di, struct vcpu_snapshot *s, unsigned n, void *arg)
{
	static const char *const modes[] = { "one-shot", "periodic", "TSC-deadline", "reserved" };
	struct kvm_pit_state2 pit;
	(void)arg;
	for (unsigned v = 0; v < n; v++) {
		uint32_t lvt = lapic_reg(&s[v], 0x320), init = lapic_reg(&s[v], 0x380);
		uint32_t cur = lapic_reg(&s[v], 0x390), div = lapic_reg(&s[v], 0x3e0);
		unsigned shift = ((div & 3) | ((div & 8) >> 1));
		unsigned divide = shift == 7 ? 1 : 2u << shift;
		if (!s[v].online || (lvt & 0x10000) || !init) {
			out(hv, "  %s vCPU %u LAPIC timer: %s", di->name, v, !s[v].online ? "vCPU not started" : "not armed");
			continue;
		}
		/* KVM's LAPIC timer runs at 1 GHz: one count = divide ns */
		out(hv, "  %s vCPU %u LAPIC timer: %s, vector %02x, period %.3f ms, expires in %.3f ms", di->name, v,
		    modes[(lvt >> 17) & 3], lvt & 0xff, (double)init * divide / 1e6, (double)cur * divide / 1e6);
	}
	if (hv_pit(hv, di->id, &pit, NULL) == 0) {
		struct kvm_pit_channel_state *c = &pit.channels[0];
		out(hv, "  %s PIT channel 0: mode %u, count %u%s", di->name, c->mode, c->count, c->count ? "" : " (not programmed)");
	}
}

void dbgkeys_key_timers(struct hv *hv, unsigned char key)
{
	struct sched_info *si = calloc(1, sizeof(*si));
	out(hv, "'%c' pressed -> dumping timer queues", key);
	if (si) {
		hv_sched_info(hv, si);
		out(hv, "hv timers:");
		out(hv, "  scheduler tick: every %u ms, next in %.3f ms -> sched_tick(all %u CPUs); %llu ticks so far",
		    si->tick_ms, si->next_tick_ns / 1e6, si->nslots, (unsigned long long)si->ticks);
		out(hv, "  credit accounting: every %u ms (each 3rd tick), next in %.3f ms -> account()", si->tick_ms * 3,
		    (si->next_tick_ns + (uint64_t)((2 - si->ticks % 3) * si->tick_ms) * 1000000ull) / 1e6);
		out(hv, "  time slice: %u ms, preemption checked at each tick", si->tslice_ms);
		free(si);
	}
	dbgkeys_each_domain(hv, true, timers_domain, NULL);
}
