/* nmi: 'n' injects an NMI into dom0's vCPU 0; 'N' prints NMI statistics per vCPU. */
#include "internal.h"

void dbgkeys_key_nmi(struct hv *hv, unsigned char key)
{
	struct err e;
	out(hv, "'%c' pressed -> triggering an NMI on dom0 vCPU 0", key);
	if (hv_inject_nmi(hv, 0, 0, &e) < 0)
		out(hv, "NMI not sent: %s", e.msg);
}

static void nmi_stats(struct hv *hv, const struct domain_info *di, struct vcpu_snapshot *s, unsigned n, void *arg)
{
	(void)arg;
	for (unsigned v = 0; v < n; v++)
		out(hv, " %-16s %4u  %8llu  %7u  %6u  %s", di->name, v, (unsigned long long)s[v].nmis_injected,
		    s[v].events.nmi.pending, s[v].events.nmi.masked, s[v].events.nmi.injected ? "yes" : "no");
}

void dbgkeys_key_nmi_stats(struct hv *hv, unsigned char key)
{
	out(hv, "'%c' pressed -> NMI statistics", key);
	out(hv, " domain           vCPU  injected  pending  masked  in service");
	dbgkeys_each_domain(hv, true, nmi_stats, NULL);
}
