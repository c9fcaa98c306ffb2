/* domains: 'q' domain info (state, memory, each vCPU's state, host CPU and run time);
 * 'R' force-reboots dom0; 'C' and '%' are the dump and debugger keys, wired by their issues. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "hv/contain.h"
#include "kmdb/kmdb.h"

/* The host CPU a thread last ran on: field 39 of /proc/self/task/TID/stat. */
static int host_cpu(int tid)
{
	char path[64], buf[1024], *p;
	FILE *f;
	int cpu = -1;
	size_t n;
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	p = strrchr(buf, ')');
	for (int field = 2; p && field < 39; field++)
		p = strchr(p + 1, ' ');
	if (p)
		sscanf(p + 1, "%d", &cpu);
	return cpu;
}

static void domain_q(struct hv *hv, const struct domain_info *di, struct vcpu_snapshot *unused, unsigned n0, void *arg)
{
	struct vcpu_snapshot *s;
	unsigned n;
	(void)unused, (void)n0, (void)arg;
	out(hv, "General information for domain %d (%s):", di->id, di->name);
	out(hv, "    state=%s pause_count=%u reboots=%u uptime=%.1fs", domain_state_name(di->state), di->pause_count,
	    di->reboots, di->uptime_ns / 1e9);
	out(hv, "    memory: %llu MiB, resident %llu KiB; kernel %s", (unsigned long long)(di->mem_bytes >> 20),
	    (unsigned long long)(hv_domain_resident(hv, di->id) >> 10), di->kernel);
	if (di->reason[0])
		out(hv, "    last event: %s", di->reason);
	{
		struct hv_ckpt_info *ck;
		struct err e;
		int nc = hv_checkpoint_list(hv, di->name, &ck, &e);
		if (nc > 0)
			out(hv, "    checkpoints: %d, the newest %s (%s)", nc, ck[nc - 1].tag,
			    ck[nc - 1].incremental ? "incremental" : "full");
		free(ck);
	}
	if (!(s = dbgkeys_snapshot(hv, di->id, &n)))
		return;
	out(hv, "VCPU information and callbacks for domain %d:", di->id);
	for (unsigned v = 0; v < n; v++) {
		int cpu = s[v].running ? host_cpu(s[v].host_tid) : -1;
		out(hv, "    VCPU%u: CPU%d [has=%s] %s, run time %.3fs, %llu exits", v, cpu, s[v].running ? "T" : "F",
		    s[v].online ? dbgkeys_mp_state(s[v].mp.mp_state) : "not started", s[v].run_ns / 1e9,
		    (unsigned long long)s[v].exits);
	}
}

void dbgkeys_key_domains(struct hv *hv, unsigned char key)
{
	out(hv, "'%c' pressed -> dumping domain info (and entering the kmdb prompt)", key);
	dbgkeys_each_domain(hv, false, domain_q, NULL);
	if (hv_key_from_console(hv))
		kmdb_prompt_enter(hv);
	else
		out(hv, "(the kmdb prompt opens on hv's serial console; hvmdb -d NAME debugs a domain from here)");
}

void dbgkeys_key_reboot(struct hv *hv, unsigned char key)
{
	struct err e;
	int rc;
	out(hv, "'%c' pressed -> rebooting dom0", key);
	rc = hv_domain_reboot(hv, 0, &e);
	if (rc < 0)
		out(hv, "dom0 not rebooted: %s", e.msg);
	else if (rc == 1)
		out(hv, "dom0 reboots when that ends (hvctl dump-cancel dom0 cancels a dump)");
}

/* '%': a gdb stub on dom0 (Xen traps to its debugger; ours waits for gdb), on a Unix
 * socket beside the control socket that only root and hv's uid reach. */
void dbgkeys_key_gdbstub(struct hv *hv, unsigned char key)
{
	struct hv_gdb_server srv = { .port = -1 };
	char howto[400];
	struct err e;
	out(hv, "'%c' pressed -> starting a gdb stub on dom0", key);
	if (kmdb_gdbserver_start(hv, 0, &srv, &e) < 0) {
		out(hv, "gdb stub: %s", e.msg);
		return;
	}
	hv_gdb_server_howto(&srv, howto, sizeof(howto));
	out(hv, "gdb stub for dom0 on %s (root and hv's uid only): %s (dom0 stops while gdb is attached)", srv.where,
	    howto);
}

/* 'C': a dom0 dump into the dump-dir property's directory, savecore-style. */
void dbgkeys_key_crashdump(struct hv *hv, unsigned char key)
{
	char dir[1024], path[1200];
	struct err e;
	out(hv, "'%c' pressed -> triggering a dom0 crash dump", key);
	hv_property_str(hv, "config/dump-dir", "/var/crash/hvkit", dir, sizeof(dir));
	/* by the dump thread, as hvctl dump: hv's loop goes on; "dom0 dumped to ..." at its end */
	if (hv_dump_next_path(dir, path, sizeof(path), &e) < 0 ||
	    hv_domain_dump_background(hv, 0, path, hv_dump_default_format(hv), HV_DUMP_BY_KEY, &e) < 0) {
		out(hv, "dump failed: %s", e.msg);
		return;
	}
	out(hv, "writing dom0's dump to %s (in the background; the log says when it is done)", path);
}
