/* toolstack: the verbs hvctl sends over the control socket (virsh/xl style): list,
 * dominfo, vcpuinfo, define/undefine/create/start, shutdown/reboot/destroy,
 * suspend/resume, console, debug-keys, dmesg, dumps, gdb, and the property store; one
 * row each in toolstack_verbs[] at the end. */
#include "internal.h"
#include "contain.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "dump/dump.h"
#include "hvkit/abi.h"
#include "props.h"
#include "xlcfg.h"

static const char *state_dir(struct hv *hv)
{
	return hv->opt.state_dir ? hv->opt.state_dir : HV_DEFAULT_STATE_DIR;
}

static void def_path(struct hv *hv, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/domains/%s.cfg", state_dir(hv), name);
}


static int start_from_xl(struct hv *hv, struct reply *r, const struct xlcfg *x, bool defined)
{
	struct domain_config cfg;
	struct err e;
	int id;
	struct domain *d;
	xlcfg_to_config(x, &cfg);
	id = hv_domain_start(hv, &cfg, &e);
	if (id < 0)
		return reply_error(r, "%s", e.msg);
	d = hv_domain_by_id(hv, id);
	if (d)
		d->defined = defined;
	reply_line(r, "Domain %s started (id %d)", x->name, id);
	return 0;
}

/* ---- list, dominfo, vcpuinfo */

struct listed {
	int id;
	char name[64];
	enum domain_state st;
	const char *job; /* NULL, or what is being done to it */
};

/* What a job is doing to d, for list (virsh shows no such column; xl's state flags do not
 * either, and an administrator asks it first of a domain that does not answer). */
static const char *job_of(struct domain *d)
{
	if (atomic_load(&d->mig_post))
		return "migrating, post-copy";
	if (atomic_load(&d->mig_fd))
		return "migrating";
	if (atomic_load(&d->ckpt.busy))
		return "saving";
	if (lazy_filling(d))
		return "restoring";
	return NULL;
}

static int cmp_listed(const void *a, const void *b)
{
	const struct listed *x = a, *y = b;
	if ((x->id < 0) != (y->id < 0))
		return x->id < 0 ? 1 : -1;
	if (x->id >= 0)
		return x->id - y->id;
	return strcmp(x->name, y->name);
}

static int cmd_list(struct ctl_req *q)
{
	struct hv *hv = q->hv;
	struct reply *r = q->r;
	struct listed l[HV_MAX_DOMAINS * 2];
	unsigned n = 0;
	bool all = !!ctl_opt(q, "--all"), json = !!ctl_opt(q, "--json");
	char path[512], qn[160];

	for (int i = 0; i < HV_MAX_DOMAINS; i++) {
		struct domain *d = hv->domains[i];
		if (!d)
			continue;
		l[n].id = d->id;
		snprintf(l[n].name, sizeof(l[n].name), "%s", d->name);
		l[n].job = job_of(d);
		l[n++].st = domain_state_now(d);
	}
	if (all) {
		DIR *dir;
		struct dirent *de;
		snprintf(path, sizeof(path), "%s/domains", state_dir(hv));
		dir = opendir(path);
		while (dir && (de = readdir(dir)) && n < sizeof(l) / sizeof(l[0])) {
			size_t len = strlen(de->d_name);
			char name[64];
			if (len < 5 || len - 4 >= sizeof(name) || strcmp(de->d_name + len - 4, ".cfg"))
				continue;
			memcpy(name, de->d_name, len - 4);
			name[len - 4] = 0;
			if (hv_domain_by_name(hv, name))
				continue;
			l[n].id = -1;
			l[n].job = NULL;
			snprintf(l[n].name, sizeof(l[n].name), "%s", name);
			l[n++].st = DOMAIN_SHUTOFF;
		}
		if (dir)
			closedir(dir);
	}
	qsort(l, n, sizeof(l[0]), cmp_listed);
	if (json) {
		reply_line(r, "[");
		for (unsigned i = 0; i < n; i++) {
			json_quote(qn, sizeof(qn), l[i].name);
			if (l[i].id >= 0)
				reply_line(r, "  {\"id\": %d, \"name\": %s, \"state\": \"%s\", \"job\": %s%s%s}%s", l[i].id, qn,
					   domain_state_name(l[i].st), l[i].job ? "\"" : "", l[i].job ? l[i].job : "null",
					   l[i].job ? "\"" : "", i + 1 < n ? "," : "");
			else
				reply_line(r, "  {\"id\": null, \"name\": %s, \"state\": \"%s\"}%s", qn,
					   domain_state_name(l[i].st), i + 1 < n ? "," : "");
		}
		reply_line(r, "]");
		return 0;
	}
	/* virsh's layout, as on the seed page */
	reply_line(r, "%3s %-20s %s", "Id", "Name", "State");
	reply_line(r, "----------------------------------");
	for (unsigned i = 0; i < n; i++) {
		if (l[i].id >= 0)
			reply_line(r, "%3d %-20s %s%s%s%s", l[i].id, l[i].name, domain_state_name(l[i].st),
				   l[i].job ? " (" : "", l[i].job ? l[i].job : "", l[i].job ? ")" : "");
		else
			reply_line(r, "%3s %-20s %s", "-", l[i].name, domain_state_name(l[i].st));
	}
	return 0;
}

/* Why a paused domain is paused: a debugger's stop, or hvctl suspend (or a debugger that
 * detached without resuming it). */
static const char *paused_by(struct domain *d)
{
	if (atomic_load(&d->dbg_stopped))
		return "a debugger (hvmdb -d, the q prompt or gdb) has it stopped";
	return "hvctl suspend (hvctl resume runs it)";
}

/* dominfo NAME [--json]: virsh dominfo's fields, one record for the text and the JSON */
static int cmd_dominfo(struct ctl_req *q)
{
	struct hv *hv = q->hv;
	struct domain *d = q->dom;
	struct domain_info di;
	struct hv_ckpt_info *ck;
	struct rec *rc;
	char tag[64], j[400], qt[160];
	const char *latest, *job = NULL;
	int nck;
	if (hv_domain_info(hv, d->id, &di, NULL) < 0)
		return -1;
	rc = xcalloc(1, sizeof(*rc));
	snprintf(j, sizeof(j), "%d", di.id);
	rec_add(rc, "Id", "id", j, "%d", di.id);
	rec_add_str(rc, "Name", "name", di.name);
	rec_add_str(rc, "OS Type", "os_type", "hvm (PVH)");
	rec_add_str(rc, "State", "state", domain_state_name(di.state));
	if (di.state == DOMAIN_PAUSED)
		rec_add(rc, "Paused by", "paused_by", atomic_load(&d->dbg_stopped) ? "\"debugger\"" : "\"suspend\"", "%s",
			paused_by(d));
	else
		rec_add(rc, "Paused by", "paused_by", "null", NULL);
	snprintf(j, sizeof(j), "%u", di.vcpus);
	rec_add(rc, "CPU(s)", "vcpus", j, "%u", di.vcpus);
	snprintf(j, sizeof(j), "%llu", (unsigned long long)(di.mem_bytes >> 10));
	rec_add(rc, "Max memory", "memory_kib", j, "%s KiB", j);
	snprintf(j, sizeof(j), "%llu", (unsigned long long)(hv_domain_resident(hv, d->id) >> 10));
	rec_add(rc, "Used memory", "used_memory_kib", j, "%s KiB", j);
	snprintf(j, sizeof(j), "%.3f", di.uptime_ns / 1e9);
	rec_add(rc, "Uptime", "uptime_s", j, "%.1f s", di.uptime_ns / 1e9);
	rec_add_str(rc, "Kernel", "kernel", di.kernel);
	snprintf(j, sizeof(j), "{\"weight\": %u, \"cap\": %u}", d->cfg.weight, d->cfg.cap);
	rec_add(rc, "Scheduler", "scheduler", j, "weight %u, cap %u", d->cfg.weight, d->cfg.cap);
	snprintf(j, sizeof(j), "%u", d->cfg.weight);
	rec_add(rc, NULL, "weight", j, NULL);
	snprintf(j, sizeof(j), "%u", d->cfg.cap);
	rec_add(rc, NULL, "cap", j, NULL);
	{
		const char *crash = d->cfg.rollback_on_crash ? "rollback" : domain_action_name(d->cfg.on_crash);
		const char *cd = d->cfg.coredump_on_crash ? "coredump-" : "";
		snprintf(j, sizeof(j), "{\"poweroff\": \"%s\", \"reboot\": \"%s\", \"crash\": \"%s%s\"}",
			 domain_action_name(d->cfg.on_poweroff), domain_action_name(d->cfg.on_reboot), cd, crash);
		rec_add(rc, "On poweroff/reboot/crash", "on", j, "%s/%s/%s%s", domain_action_name(d->cfg.on_poweroff),
			domain_action_name(d->cfg.on_reboot), cd, crash);
	}
	rec_add(rc, "Persistent", "persistent", d->defined ? "true" : "false", "%s", d->defined ? "yes" : "no");
	nck = hv_checkpoint_list(hv, d->name, &ck, &(struct err){ 0 });
	free(ck);
	latest = hv_domain_latest_checkpoint(d, tag, sizeof(tag));
	if (latest)
		json_quote(qt, sizeof(qt), latest);
	snprintf(j, sizeof(j), "{\"count\": %d, \"latest\": %s}", nck > 0 ? nck : 0, latest ? qt : "null");
	if (nck > 0)
		rec_add(rc, "Checkpoints", "checkpoints", j, "%d (the domain is at or after %s)", nck,
			latest ? latest : "none of them");
	else
		rec_add(rc, "Checkpoints", "checkpoints", j, NULL);
	rec_add_str(rc, "Migrated from", "migrated_from", d->origin);
	snprintf(j, sizeof(j), "being migrated (hvctl migrate-cancel %s)", d->name);
	if (atomic_load(&d->mig_fd))
		job = j;
	else if (atomic_load(&d->ckpt.busy))
		job = "a save or checkpoint is being written";
	rec_add_str(rc, "Job", "job", job);
	rec_add_str(rc, "Last event", "last_event", di.reason);
	snprintf(j, sizeof(j), "%u", di.pause_count);
	rec_add(rc, NULL, "pause_count", j, NULL);
	snprintf(j, sizeof(j), "%u", di.reboots);
	rec_add(rc, NULL, "reboots", j, NULL);
	rec_reply(q->r, rc, ctl_opt(q, "--json"), "");
	free(rc);
	return 0;
}

/* A vCPU's state, one answer for text and JSON: offline until the guest starts it; a
 * domain that is not running (crashed, shut off, paused, also by a debugger) gives its
 * state to every vCPU; else what the scheduler says. */
static const char *vcpu_state(struct domain *d, unsigned v, const struct sched_vcpu_info *s)
{
	enum domain_state st = domain_state_now(d);
	if (!atomic_load(&d->vcpus[v].online))
		return "offline";
	if (st == DOMAIN_CRASHED || st == DOMAIN_SHUTOFF || st == DOMAIN_PAUSED)
		return domain_state_name(st);
	return s ? s->state : "stopped";
}

/* vcpuinfo NAME [--json]: virsh vcpuinfo's fields per vCPU, one record for both forms */
static int cmd_vcpuinfo(struct ctl_req *q)
{
	struct reply *r = q->r;
	struct domain *d = q->dom;
	struct sched_info *si;
	struct rec *rc;
	bool json = ctl_opt(q, "--json");
	char j[64];
	si = xcalloc(1, sizeof(*si));
	rc = xcalloc(1, sizeof(*rc));
	hv_sched_info(q->hv, si);
	if (json)
		reply_line(r, "[");
	for (unsigned v = 0; v < d->nr_vcpus; v++) {
		const struct sched_vcpu_info *s = NULL;
		int cpu;
		for (unsigned i = 0; i < si->nvcpus; i++)
			if (si->v[i].dom == d->id && si->v[i].vcpu == v)
				s = &si->v[i];
		cpu = s && s->slot >= 0 ? s->slot : -1;
		rc->n = 0;
		snprintf(j, sizeof(j), "%u", v);
		rec_add(rc, "VCPU", "vcpu", j, "%u", v);
		rec_add(rc, NULL, "online", atomic_load(&d->vcpus[v].online) ? "true" : "false", NULL);
		snprintf(j, sizeof(j), "%d", cpu);
		rec_add(rc, "CPU", "cpu", j, "%d", cpu);
		rec_add_str(rc, "State", "state", vcpu_state(d, v, s));
		snprintf(j, sizeof(j), "%.3f", s ? s->cpu_ns / 1e9 : 0.0);
		rec_add(rc, "CPU time", "cpu_time_s", j, "%ss", j);
		snprintf(j, sizeof(j), "%lld", s ? s->credit : 0);
		rec_add(rc, "Credit", "credit", j, "%s (%s)", j, s && s->under ? "UNDER" : "OVER");
		rec_add(rc, NULL, "priority", s && s->under ? "\"UNDER\"" : "\"OVER\"", NULL);
		snprintf(j, sizeof(j), "%d", d->vcpus[v].tid);
		rec_add(rc, NULL, "host_tid", j, NULL);
		rec_reply(r, rc, json, json && v + 1 < d->nr_vcpus ? "," : "");
		if (!json)
			reply_line(r, "%s", "");
	}
	if (json)
		reply_line(r, "]");
	free(rc);
	free(si);
	return 0;
}

/* ---- life cycle */

/* define FILE persists the definition; create FILE starts it without persisting. */
static int define_or_create(struct ctl_req *q, bool start)
{
	struct hv *hv = q->hv;
	struct reply *r = q->r;
	const char *file = q->pos[0];
	struct xlcfg x;
	struct err e;
	char path[600], dir[560], name[80], buf[16384];
	int n;

	if (!file)
		return ctl_usage(q);
	if (xlcfg_load(file, &x, &e) < 0)
		return reply_error(r, "%s", e.msg);
	if (!strcmp(x.name, "dom0"))
		return reply_error(r, "dom0 is not a name a domU can take");
	if (start)
		return start_from_xl(hv, r, &x, false);
	def_path(hv, x.name, path, sizeof(path));
	snprintf(dir, sizeof(dir), "%s/domains", state_dir(hv));
	snprintf(name, sizeof(name), "%s.cfg", x.name);
	mkdir(state_dir(hv), 0700);
	n = xlcfg_format(&x, buf, sizeof(buf));
	if (n < 0)
		return reply_error(r, "cannot write %s: definition too long", path);
	if (access_write_file(dir, name, buf, (size_t)n, true, &e) < 0)
		return reply_error(r, "%s", e.msg);
	reply_line(r, "Domain %s defined from %s", x.name, file);
	return 0;
}

static int cmd_define(struct ctl_req *q)
{
	return define_or_create(q, false);
}

static int cmd_create(struct ctl_req *q)
{
	return define_or_create(q, true);
}

static int cmd_undefine(struct ctl_req *q)
{
	struct reply *r = q->r;
	const char *name = q->pos[0];
	char path[600];
	struct domain *d;
	if (!name)
		return ctl_usage(q);
	def_path(q->hv, name, path, sizeof(path));
	if (strchr(name, '/') || access(path, F_OK) < 0)
		return reply_error(r, "no defined domain named '%s'", name);
	if (unlink(path) < 0)
		return reply_error(r, "cannot remove %s: %s", path, strerror(errno));
	if ((d = hv_domain_by_name(q->hv, name)))
		d->defined = false;
	reply_line(r, "Domain %s has been undefined", name);
	return 0;
}

static int cmd_start(struct ctl_req *q)
{
	struct hv *hv = q->hv;
	struct reply *r = q->r;
	const char *name = q->pos[0];
	char path[600];
	struct xlcfg x;
	struct err e;
	if (!name)
		return ctl_usage(q);
	if (hv_domain_by_name(hv, name))
		return reply_error(r, "domain %s is already running", name);
	def_path(hv, name, path, sizeof(path));
	if (strchr(name, '/') || access(path, F_OK) < 0)
		return reply_error(r, "no defined domain named '%s'", name);
	if (xlcfg_load(path, &x, &e) < 0)
		return reply_error(r, "%s", e.msg);
	return start_from_xl(hv, r, &x, true);
}

/* shutdown-hv [--force]: hv's loop ends, every domain is destroyed, hv exits 0 (as
 * SIGTERM, but 0: asked for). Running domUs need --force: they are destroyed, not shut down. */
static int cmd_shutdown_hv(struct ctl_req *q)
{
	struct hv *hv = q->hv;
	char running[200] = "";
	size_t n = 0;
	for (int i = 0; i < HV_MAX_DOMAINS; i++) {
		struct domain *d = hv->domains[i];
		if (d && d->id != 0 && n < sizeof(running) - 80)
			n += (size_t)snprintf(running + n, sizeof(running) - n, "%s%s", n ? ", " : "", d->name);
	}
	if (n && !ctl_opt(q, "--force"))
		return reply_error(q->r, "domUs are left (%s): hvctl shutdown or destroy them first, or shutdown-hv --force destroys them",
				   running);
	hv_log(hv, "hvctl shutdown-hv: destroying every domain%s; hv exits", n ? " (--force)" : "");
	reply_line(q->r, "hv is shutting down: every domain is destroyed, then hv exits");
	hv_quit(hv, 0);
	return 0;
}

static int cmd_suspend(struct ctl_req *q)
{
	struct err e;
	if (domain_pause(q->dom, &e) < 0)
		return reply_error(q->r, "%s", e.msg);
	reply_line(q->r, "Domain %s suspended", q->dom->name);
	return 0;
}

static int cmd_resume(struct ctl_req *q)
{
	struct err e;
	if (domain_unpause(q->dom, &e) < 0)
		return reply_error(q->r, "%s", e.msg);
	reply_line(q->r, "Domain %s resumed", q->dom->name);
	return 0;
}

static int cmd_shutdown(struct ctl_req *q)
{
	struct err e;
	int rc = domain_request(q->dom, HVKIT_REQ_SHUTDOWN, &e);
	if (rc < 0)
		return reply_error(q->r, "%s", e.msg);
	if (rc == 1)
		reply_line(q->r, "Domain %s is being shutdown (its ACPI power button was pressed: the kernel has no hvkit "
				 "request vector)", q->dom->name);
	else
		reply_line(q->r, "Domain %s is being shutdown", q->dom->name);
	return 0;
}

static int cmd_reboot(struct ctl_req *q)
{
	struct domain *d = q->dom;
	struct err e;
	if (domain_state_now(d) == DOMAIN_CRASHED || domain_state_now(d) == DOMAIN_SHUTOFF ||
	    domain_request(d, HVKIT_REQ_REBOOT, &e) < 0) {
		/* no guest to ask: reset it */
		int rc = hv_domain_reboot(q->hv, d->id, &e);
		if (rc < 0)
			return reply_error(q->r, "%s", e.msg);
		if (rc == 1) {
			reply_line(q->r, "Domain %s is rebooted when its dump (save, checkpoint) ends", d->name);
			return 0;
		}
	}
	reply_line(q->r, "Domain %s is being rebooted", d->name);
	return 0;
}

/* ---- console, keys, log */

static int cmd_console(struct ctl_req *q)
{
	struct domain *d = q->dom;
	/* "c", then the last lines, so the attacher sees where the guest is (like a real
	 * console's screen), then what the guest writes from then on */
	if (domcons_attach(&d->cons, q->client->fd, "c\n", ctl_opt(q, "--no-history") ? 0 : 2048) < 0)
		return reply_error(q->r, "%s has too many console clients", d->name);
	q->client->console_dom = d->id;
	return CTL_STREAM;
}

static int cmd_debug_keys(struct ctl_req *q)
{
	const char *keys = q->pos[0];
	if (!keys || !*keys)
		return ctl_usage(q);
	for (const char *k = keys; *k; k++)
		keys_handle(q->hv, (unsigned char)*k);
	return 0;
}

/* xl sysrq: a break on the domain's serial line, then the key: Linux's serial console (and
 * the built-in guest's) takes them as a magic SysRq request. */
static int cmd_sysrq(struct ctl_req *q)
{
	struct domain *d = q->dom;
	const char *key = q->pos[1];
	enum domain_state st = domain_state_now(d);
	uint8_t k;

	if (strlen(key) != 1 || key[0] <= ' ' || key[0] > '~')
		return reply_error(q->r, "sysrq: the key is one letter or digit (xl sysrq's), not '%s' (usage: %s)", key,
				   q->verb->usage);
	if (st == DOMAIN_CRASHED || st == DOMAIN_SHUTOFF)
		return reply_error(q->r, "%s is %s: no kernel to take a SysRq key", d->name, domain_state_name(st));
	k = (uint8_t)key[0];
	if (uart_break(&d->uart) < 0 || uart_receive(&d->uart, &k, 1) != 1)
		return reply_error(q->r, "%s's console has not read its last break or its input yet: try again", d->name);
	reply_line(q->r, "Domain %s: SysRq '%c' sent (a break and '%c' on its serial console)", d->name, k, k);
	return 0;
}

static int cmd_dmesg(struct ctl_req *q)
{
	struct hv *hv = q->hv;
	char *buf = xcalloc(1, hv->con.ring_size + 1);
	size_t n = hv_console_ring(hv, buf, hv->con.ring_size);
	char *line, *save = NULL;
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		reply_line(q->r, "%s", line);
	free(buf);
	if (ctl_opt(q, "-c")) {
		pthread_mutex_lock(&hv->con.lock);
		hv->con.ring_head = 0;
		pthread_mutex_unlock(&hv->con.lock);
	}
	return 0;
}

/* ---- dumps */

static int cmd_dump(struct ctl_req *q)
{
	struct reply *r = q->r;
	struct domain *d = q->dom;
	const char *file = q->pos[1], *f = ctl_opt(q, "--format");
	int fmt = DUMP_FMT_ELF, afters = !!ctl_opt(q, "--live") + !!ctl_opt(q, "--crash") + !!ctl_opt(q, "--reset");
	enum dumpjob_after after = ctl_opt(q, "--crash") ? DUMPJOB_CRASH : ctl_opt(q, "--reset") ? DUMPJOB_RESET : DUMPJOB_LIVE;
	if (f && (fmt = dump_fmt_parse(f)) < 0)
		return reply_error(r, "dump: --format is elf, kdump-zstd, kdump-lz4, kdump-zlib or kdump, not '%s'", f);
	if (afters > 1)
		return reply_error(r, "dump: --live, --crash and --reset say what happens to %s after the dump: give one (usage: %s)",
				   d->name, q->verb->usage);
	if (ctl_need_abs_path(r, "dump", file) < 0)
		return -1;
	if (atomic_load(&d->dump_active))
		return reply_error(r, "a dump of %s is already being written", d->name);
	return dumpjob_start(q->hv, q->client, d, file, fmt, after, r); /* CTL_HANDED: the job owns the connection */
}

static int cmd_dump_cancel(struct ctl_req *q)
{
	struct domain *d = q->dom;
	if (!atomic_load(&d->dump_active))
		return reply_error(q->r, "no dump of %s is being written", d->name);
	atomic_store(&d->dump_cancel, 1);
	reply_line(q->r, "Dump of %s cancelled", d->name);
	return 0;
}

/* ---- live debugging: the gdb servers kmdb/ registers (hv_set_gdb_ops) */

static const struct hv_gdb_ops *gdb_ops;

int hv_set_gdb_ops(const struct hv_gdb_ops *ops)
{
	if (gdb_ops || !ops)
		return -1;
	gdb_ops = ops;
	return 0;
}

void hv_gdb_server_howto(const struct hv_gdb_server *srv, char *buf, size_t len)
{
	if (srv->token[0])
		snprintf(buf, len,
			 "in gdb: target extended-remote %s, then monitor auth %s, then attach 1 (the token is good "
			 "for this server only; type it rather than putting it on a command line others can read)",
			 srv->where, srv->token);
	else
		snprintf(buf, len, "gdb guest.elf -ex 'target remote %s'", srv->where);
}

/* gdbserver NAME [--socket PATH | --port N] [-w]: a one-shot gdb stub on the domain, on a
 * Unix socket only its owner reaches unless a TCP port is asked for (then with a token). */
static int cmd_gdbserver(struct ctl_req *q)
{
	struct reply *r = q->r;
	struct domain *d = q->dom;
	struct hv_gdb_server srv = { .port = -1, .unix_path = ctl_opt(q, "--socket"), .writable = !!ctl_opt(q, "-w") };
	const char *port = ctl_opt(q, "--port");
	char howto[400];
	struct err e;
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (*end || end == port || p < 0 || p > 65535)
			return reply_error(r, "gdbserver: --port %s is not a port number", port);
		srv.port = (int)p;
	}
	if (srv.unix_path && srv.port >= 0)
		return reply_error(r, "gdbserver: --socket or --port, not both");
	if (srv.unix_path && ctl_need_abs_path(r, "gdbserver --socket", srv.unix_path) < 0)
		return -1;
	if (__atomic_load_n(&d->dbg, __ATOMIC_ACQUIRE))
		return reply_error(r, "a debugger is already attached to %s", d->name);
	if (!gdb_ops)
		return reply_error(r, "gdbserver: this hv has no live debugging built in");
	if (gdb_ops->server_start(q->hv, d->id, &srv, &e) < 0)
		return reply_error(r, "gdbserver: %s", e.msg);
	hv_gdb_server_howto(&srv, howto, sizeof(howto));
	reply_line(r, "gdbserver for %s on %s (one client%s, %s)", d->name, srv.where,
		   srv.token[0] ? " with the token" : ", root and hv's uid only",
		   srv.writable ? "memory and registers writable" : "read-only: -w allows writes");
	reply_line(r, "%s", howto);
	return 0;
}

struct gdb_conn {
	struct hv *hv;
	int domid, fd;
	bool writable, nopause;
};

static void *gdb_conn_thread(void *arg)
{
	struct gdb_conn *c = arg;
	struct err e;
	if (gdb_ops->session(c->hv, c->domid, c->fd, c->writable, c->nopause, &e) < 0)
		hv_log(c->hv, "debug session: %s", e.msg);
	close(c->fd);
	free(c);
	return NULL;
}

/* gdb NAME [-w]: this connection becomes a gdb remote-protocol session (hvmdb -d). */
static int cmd_gdb(struct ctl_req *q)
{
	struct reply *r = q->r;
	struct domain *d = q->dom;
	struct gdb_conn *c;
	pthread_attr_t a;
	pthread_t th;
	if (!gdb_ops)
		return reply_error(r, "gdb: this hv has no live debugging built in");
	if (__atomic_load_n(&d->dbg, __ATOMIC_ACQUIRE))
		return reply_error(r, "a debugger is already attached to %s", d->name);
	c = calloc(1, sizeof(*c));
	if (!c)
		return reply_error(r, "out of memory");
	*c = (struct gdb_conn){ q->hv, d->id, q->client->fd, !!ctl_opt(q, "-w"),
				!!ctl_opt(q, "--no-pause") };
	(void)!send(q->client->fd, "g\n", 2, MSG_NOSIGNAL);
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &a, gdb_conn_thread, c)) {
		pthread_attr_destroy(&a);
		free(c);
		return reply_error(r, "cannot start the debug session thread");
	}
	pthread_attr_destroy(&a);
	return CTL_HANDED; /* the session thread owns the connection now */
}

/* ---- properties */

static struct props *props_of(struct hv *hv, struct reply *r)
{
	struct err e;
	char path[600];
	if (hv->props && props_gone(hv->props)) { /* told at the write that found it gone */
		props_close(hv->props);
		hv->props = NULL;
	}
	if (hv->props)
		return hv->props;
	snprintf(path, sizeof(path), "%s/props.db", state_dir(hv));
	mkdir(state_dir(hv), 0700);
	hv->props = props_open(path, &e);
	if (!hv->props)
		reply_error(r, "%s", e.msg);
	return hv->props;
}

/* setprop NAME [=] [TYPE:] VALUE: svccfg's spelling ("= count: 2", the type a word of its
 * own) or "= count:2"; the '=' optional. */
static int cmd_setprop(struct ctl_req *q)
{
	struct props *p;
	const char *const *w = q->pos + 1;
	int n = q->npos - 1;
	char val[1200];
	struct err e;
	if (n > 1 && !strcmp(w[0], "=")) {
		w++;
		n--;
	}
	if (n == 2 && w[0][0] && w[0][strlen(w[0]) - 1] == ':')
		snprintf(val, sizeof(val), "%s %s", w[0], w[1]);
	else if (n == 1)
		snprintf(val, sizeof(val), "%s", w[0]);
	else if (n == 2)
		return reply_error(q->r, "setprop: one value after '=', or a type and a value ('count: 2'); quote a value "
					 "with spaces (usage: %s)", q->verb->usage);
	else
		return ctl_usage(q);
	if (!(p = props_of(q->hv, q->r)))
		return -1;
	if (props_set(p, q->pos[0], val, &e) < 0)
		return reply_error(q->r, "%s", e.msg);
	return 0;
}

static int cmd_delprop(struct ctl_req *q)
{
	struct props *p = props_of(q->hv, q->r);
	struct err e;
	if (!p)
		return -1;
	if (props_delete(p, q->pos[0], &e) < 0)
		return reply_error(q->r, "%s", e.msg);
	return 0;
}

static int cmd_listprop(struct ctl_req *q)
{
	struct props *p = props_of(q->hv, q->r);
	struct prop_entry *l;
	struct err e;
	int n;
	if (!p)
		return -1;
	l = xcalloc(128, sizeof(*l));
	n = props_list(p, q->npos ? q->pos[0] : NULL, l, 128, &e);
	if (n < 0) {
		free(l);
		return reply_error(q->r, "%s", e.msg);
	}
	if (ctl_opt(q, "--json")) {
		char qn[160], qv[2100], qp[2100];
		reply_line(q->r, "[");
		for (int i = 0; i < n; i++) {
			bool pend = l[i].has_pending && strcmp(l[i].pending, l[i].value);
			json_quote(qn, sizeof(qn), l[i].name);
			json_quote(qv, sizeof(qv), l[i].value);
			json_quote(qp, sizeof(qp), l[i].pending);
			reply_line(q->r, "  {\"name\": %s, \"type\": \"%s\", \"value\": %s, \"pending\": %s, \"secret\": %s}%s", qn,
				   prop_type_name(l[i].type), qv, pend ? qp : "null", l[i].secret ? "true" : "false",
				   i + 1 < n ? "," : "");
		}
		reply_line(q->r, "]");
		free(l);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		if (l[i].has_pending && strcmp(l[i].pending, l[i].value))
			reply_line(q->r, "%-40s %-8s %s (pending: %s)", l[i].name, prop_type_name(l[i].type), l[i].value,
				   l[i].pending);
		else
			reply_line(q->r, "%-40s %-8s %s", l[i].name, prop_type_name(l[i].type), l[i].value);
	}
	free(l);
	return 0;
}

static int cmd_refresh(struct ctl_req *q)
{
	struct props *p = props_of(q->hv, q->r);
	char changed[2048] = "";
	struct err e;
	int n;
	if (!p)
		return -1;
	n = props_refresh(p, changed, sizeof(changed), &e);
	if (n < 0)
		return reply_error(q->r, "%s", e.msg);
	hv_props_apply(q->hv);
	if (n)
		reply_line(q->r, "refreshed: %s", changed);
	else
		reply_line(q->r, "refreshed: nothing changed");
	return 0;
}

/* ---- the table: one row per verb (a verb in another file is one more row here, or a
 * ctl_register call of its own). CTL_DOMAIN: the dispatcher resolves the domain first. */

#define OPTS CTL_OPTS
#define JSON CTL_OPTS({ "--json", false })
#define DUMP_OPTS OPTS({ "--format", true }, { "--live", false }, { "--crash", false }, { "--reset", false })

static const struct ctl_verb toolstack_verbs[] = {
	{ .name = "list", .run = cmd_list, .usage = "list [--all] [--json]",
	  .opts = OPTS({ "--all", false }, { "--json", false }) },
	{ .name = "dominfo", .run = cmd_dominfo, .flags = CTL_DOMAIN, .usage = "dominfo NAME [--json]", .opts = JSON,
	  .min_args = 1, .max_args = 1 },
	{ .name = "vcpuinfo", .run = cmd_vcpuinfo, .flags = CTL_DOMAIN, .usage = "vcpuinfo NAME [--json]", .opts = JSON,
	  .min_args = 1, .max_args = 1 },
	{ .name = "define", .run = cmd_define, .flags = CTL_CHANGES, .usage = "define FILE", .min_args = 1, .max_args = 1 },
	{ .name = "create", .run = cmd_create, .flags = CTL_CHANGES, .usage = "create FILE", .min_args = 1, .max_args = 1 },
	{ .name = "undefine", .run = cmd_undefine, .flags = CTL_CHANGES, .usage = "undefine NAME", .min_args = 1,
	  .max_args = 1 },
	{ .name = "start", .run = cmd_start, .flags = CTL_CHANGES, .usage = "start NAME", .min_args = 1, .max_args = 1 },
	{ .name = "destroy", .run = destroy_run, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "destroy NAME [--force]",
	  .opts = OPTS({ "--force", false }), .min_args = 1, .max_args = 1 },
	{ .name = "suspend", .run = cmd_suspend, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "suspend NAME",
	  .min_args = 1, .max_args = 1 },
	{ .name = "resume", .run = cmd_resume, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "resume NAME",
	  .min_args = 1, .max_args = 1 },
	/* xl's names for the same verbs */
	{ .name = "pause", .run = cmd_suspend, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "pause NAME",
	  .min_args = 1, .max_args = 1 },
	{ .name = "unpause", .run = cmd_resume, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "unpause NAME",
	  .min_args = 1, .max_args = 1 },
	{ .name = "vcpu-list", .run = cmd_vcpuinfo, .flags = CTL_DOMAIN, .usage = "vcpu-list NAME [--json]",
	  .opts = JSON, .min_args = 1, .max_args = 1 },
	{ .name = "shutdown", .run = cmd_shutdown, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "shutdown NAME",
	  .min_args = 1, .max_args = 1 },
	{ .name = "reboot", .run = cmd_reboot, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "reboot NAME",
	  .min_args = 1, .max_args = 1 },
	{ .name = "console", .run = cmd_console, .flags = CTL_DOMAIN, .usage = "console NAME [--no-history]",
	  .opts = OPTS({ "--no-history", false }), .min_args = 1, .max_args = 1 },
	{ .name = "sysrq", .run = cmd_sysrq, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "sysrq NAME KEY",
	  .min_args = 2, .max_args = 2 },
	{ .name = "debug-keys", .run = cmd_debug_keys, .flags = CTL_CHANGES, .usage = "debug-keys KEYS", .min_args = 1,
	  .max_args = 1 },
	{ .name = "dmesg", .run = cmd_dmesg, .usage = "dmesg [-c]", .opts = OPTS({ "-c", false }) },
	{ .name = "dump", .run = cmd_dump, .flags = CTL_DOMAIN | CTL_CHANGES,
	  .usage = "dump NAME FILE [--format elf|kdump-zstd|kdump-lz4|kdump-zlib] [--live|--crash|--reset]",
	  .opts = DUMP_OPTS, .min_args = 2, .max_args = 2 },
	{ .name = "dump-core", .run = cmd_dump, .flags = CTL_DOMAIN | CTL_CHANGES, /* xl dump-core */
	  .usage = "dump-core NAME FILE [--format elf|kdump-zstd|kdump-lz4|kdump-zlib] [--live|--crash|--reset]",
	  .opts = DUMP_OPTS, .min_args = 2, .max_args = 2 },
	{ .name = "dump-cancel", .run = cmd_dump_cancel, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "dump-cancel NAME",
	  .min_args = 1, .max_args = 1 },
	{ .name = "gdbserver", .run = cmd_gdbserver, .flags = CTL_DOMAIN | CTL_CHANGES,
	  .usage = "gdbserver NAME [--socket PATH | --port N] [-w]",
	  .opts = OPTS({ "--socket", true }, { "--port", true }, { "-w", false }), .min_args = 1, .max_args = 1 },
	{ .name = "gdb", .run = cmd_gdb, .flags = CTL_DOMAIN | CTL_CHANGES, .usage = "gdb NAME [-w] [--no-pause]",
	  .opts = OPTS({ "-w", false }, { "--no-pause", false }), .min_args = 1, .max_args = 1 },
	{ .name = "setprop", .run = cmd_setprop, .flags = CTL_CHANGES, .usage = "setprop config/NAME = [TYPE:] VALUE",
	  .min_args = 2, .max_args = 4 },
	{ .name = "listprop", .run = cmd_listprop, .usage = "listprop [PATTERN] [--json]", .opts = JSON, .max_args = 1 },
	{ .name = "delprop", .run = cmd_delprop, .flags = CTL_CHANGES, .usage = "delprop config/NAME", .min_args = 1,
	  .max_args = 1 },
	{ .name = "refresh", .run = cmd_refresh, .flags = CTL_CHANGES, .usage = "refresh" },
	{ .name = "shutdown-hv", .run = cmd_shutdown_hv, .flags = CTL_CHANGES, .usage = "shutdown-hv [--force]",
	  .opts = OPTS({ "--force", false }) },
};

int toolstack_register(struct err *e)
{
	static bool done;
	if (done)
		return 0;
	for (size_t i = 0; i < sizeof(toolstack_verbs) / sizeof(toolstack_verbs[0]); i++)
		if (ctl_register(&toolstack_verbs[i], e) < 0)
			return -1;
	if (contain_register(e) < 0 || migrate_register(e) < 0)
		return -1;
	done = true;
	return 0;
}
