/* hv: the hypervisor object and its event loop: terminal input (routed by console.c),
 * domain events (poweroff, reboot, crash) applied by policy, and signals. */
#include "internal.h"
#include "contain.h"

#include "control.h"
#include "migrate.h"
#include "props.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

static void ring_fit(struct hv *hv);

void hv_log(struct hv *hv, const char *fmt, ...)
{
	char line[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	console_hv_line(&hv->con, line);
}

void hv_wake(struct hv *hv)
{
	uint64_t one = 1;
	ssize_t r = write(hv->event_fd, &one, sizeof(one));
	(void)r;
}

struct hv *hv_create(const struct hv_options *opt, struct err *e)
{
	struct hv *hv;
	sigset_t set;

	if (toolstack_register(e) < 0) /* the control verbs: a name taken twice fails here */
		return NULL;
	hv = xcalloc(1, sizeof(*hv));
	hv->opt = *opt;
	hv->kvm.fd = -1;
	hv->input_to = 0;
	pthread_mutex_init(&hv->lock, NULL);
	console_init(&hv->con, STDIN_FILENO, STDOUT_FILENO);
	if (kvm_open(&hv->kvm, e) < 0) {
		conout_stop(&hv->con, 2000);
		free(hv->con.ring);
		free(hv);
		return NULL;
	}
	{
		long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		sched_init(&hv->sched, opt->pcpus ? opt->pcpus : (unsigned)(ncpu > 0 ? ncpu : 1), opt->dom0_cpus);
	}
	hv->event_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (hv->event_fd < 0) {
		err_errno(e, "eventfd");
		kvm_close(&hv->kvm);
		conout_stop(&hv->con, 2000);
		free(hv->con.ring);
		free(hv);
		return NULL;
	}
	/* Signals for hv as a whole arrive through a signalfd in the event loop; vCPU
	 * threads inherit this mask and unblock only their kick signal. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	vcpu_signals_init();
	if (sched_start(&hv->sched, e) < 0) {
		close(hv->event_fd);
		kvm_close(&hv->kvm);
		conout_stop(&hv->con, 2000);
		free(hv->con.ring);
		free(hv);
		return NULL;
	}
	if (control_open(hv, opt->socket_path ? opt->socket_path : HV_DEFAULT_SOCKET, e) < 0) {
		if (opt->socket_path || opt->daemon) {
			hv_destroy(hv);
			return NULL;
		}
		fprintf(stderr, "hv: warning: %s; hvctl cannot reach this hv\n", e->msg);
	}
	hv_props_load(hv);
	partials_sweep(hv); /* dumps a killed hv left half-written */
	reloc_apply(hv);
	spare_start(hv);
	return hv;
}

struct domain *hv_domain_by_id(struct hv *hv, int id)
{
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		if (hv->domains[i] && hv->domains[i]->id == id)
			return hv->domains[i];
	return NULL;
}

struct domain *hv_domain_by_name(struct hv *hv, const char *name)
{
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		if (hv->domains[i] && !strcmp(hv->domains[i]->name, name))
			return hv->domains[i];
	return NULL;
}

bool hv_name_in_use(struct hv *hv, const char *name)
{
	bool used = false;
	pthread_mutex_lock(&hv->lock);
	for (int i = 0; i < HV_MAX_DOMAINS && !used; i++)
		used = hv->domains[i] && !strcmp(hv->domains[i]->name, name);
	pthread_mutex_unlock(&hv->lock);
	return used;
}

bool hv_id_in_use(struct hv *hv, int id)
{
	bool used = false;
	pthread_mutex_lock(&hv->lock);
	for (int i = 0; i < HV_MAX_DOMAINS && !used; i++)
		used = hv->domains[i] && hv->domains[i]->id == id;
	pthread_mutex_unlock(&hv->lock);
	return used;
}

/* A free slot in hv->domains, or -1 after a message; the name must be free too. */
static int free_slot(struct hv *hv, const char *name, struct err *e)
{
	if (name && hv_domain_by_name(hv, name))
		return err_set(e, "a domain named %s is already running", name);
	/* as xl: commands take a number for a domain id, so a name cannot be one */
	if (name && *name && strspn(name, "0123456789") == strlen(name))
		return err_set(e, "domain name '%s' is all digits, which commands would take for a domain id", name);
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		if (!hv->domains[i])
			return i;
	return err_set(e, "too many domains (at most %d)", HV_MAX_DOMAINS);
}

int hv_domain_new_id(struct hv *hv, const char *name, struct err *e)
{
	if (free_slot(hv, name, e) < 0)
		return -1;
	/* Like Xen, ids are not reused: dom0 is 0, each new domain gets the next. */
	return hv->next_id;
}

int hv_domain_insert(struct hv *hv, struct domain *d, struct err *e)
{
	int slot = free_slot(hv, d->name, e);
	if (slot < 0)
		return -1;
	pthread_mutex_lock(&hv->lock);
	hv->domains[slot] = d;
	pthread_mutex_unlock(&hv->lock);
	d->slot = slot;
	if (d->id >= hv->next_id)
		hv->next_id = d->id + 1;
	ring_fit(hv);
	if (hv->kvm.pvm && !hv->pvm_warned) {
		char hidden[512];
		hv->pvm_warned = true;
		cpumodel_describe_pvm(hidden, sizeof(hidden));
		hv_log(hv, "host KVM is kvm_pvm (no hardware virtualization): guests run under instruction emulation, about 1.5M instructions/s");
		hv_log(hv, "kvm_pvm CPU model: the guests' CPUID leaves out what the emulator cannot run: %s", hidden);
	}
	return 0;
}

int hv_domain_start(struct hv *hv, const struct domain_config *cfg, struct err *e)
{
	int id = hv_domain_new_id(hv, cfg->name, e);
	struct domain *d;
	if (id < 0)
		return -1;
	d = domain_create(hv, id, cfg, e);
	if (!d)
		return -1;
	if (domain_boot(d, e) < 0) {
		domain_destroy(d);
		return -1;
	}
	hv_domain_insert(hv, d, e); /* the slot was free and only this thread fills slots */
	if (!hv->opt.quiet)
		hv_log(hv, "%s (domain %d) started: %u vCPU%s, %llu MiB, kernel %s", d->name, id, d->nr_vcpus,
		       d->nr_vcpus == 1 ? "" : "s", (unsigned long long)(d->mem.size >> 20),
		       d->cfg.kernel ? d->cfg.kernel : "built-in guest");
	return id;
}

/* The domains in the table (running, paused, crashed and kept, ...). */
static unsigned domain_count(struct hv *hv)
{
	unsigned n = 0;
	pthread_mutex_lock(&hv->lock);
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		n += hv->domains[i] != NULL;
	pthread_mutex_unlock(&hv->lock);
	return n;
}

void hv_domain_remove(struct hv *hv, struct domain *d, const char *why)
{
	char line[200], name[64];
	int id = d->id;
	/* a dump job still reading it (only at hv's exit: events and destroys wait for RAM
	 * users): cancel it and let it finish (it stops within a batch); one that does not is
	 * left its domain */
	if (atomic_load(&d->dump_active)) {
		atomic_store(&d->dump_cancel, 1);
		hv_log(hv, "%s: cancelling the dump (save, checkpoint) being written: the domain is destroyed", d->name);
	}
	for (int i = 0; i < 3000 && atomic_load(&d->dump_active); i++)
		usleep(10000);
	if (!why) {
		snprintf(line, sizeof(line), "%s %s: console closed", d->name,
			 d->state == DOMAIN_CRASHED   ? "crashed and was destroyed"
			 : d->state == DOMAIN_SHUTOFF ? "shut off"
						      : "no longer runs here (destroyed, saved or migrated)");
		why = line;
	}
	control_console_end(hv, id, why);
	snprintf(name, sizeof(name), "%s", d->name);
	/* dom0's end does not end hv while a domain or the daemon's socket is left to serve
	 * (docs/control.md): say so, once, in the log */
	if (d->id == 0 && !atomic_load(&hv->exiting)) {
		unsigned others = domain_count(hv) - 1; /* d is still in the table */
		/* without --daemon and without domUs hv just exits: nothing to say */
		if (hv->opt.daemon)
			hv_log(hv, "dom0 is gone: hv (--daemon) goes on serving the domUs and the control socket "
				   "(hvctl shutdown-hv stops it)");
		else if (others)
			hv_log(hv, "dom0 is gone: hv runs on while %u domU%s run%s, and exits after the last one "
				   "(hvctl shutdown-hv stops it)", others, others == 1 ? "" : "s", others == 1 ? "s" : "");
	}
	pthread_mutex_lock(&hv->lock);
	hv->domains[d->slot] = NULL;
	pthread_mutex_unlock(&hv->lock);
	if (atomic_load(&d->dump_active))
		hv_log(hv, "%s: its dump did not stop within 30 s: its RAM is left to it", d->name);
	else
		domain_destroy(d);
	control_wait_end(hv, id, 0, "Domain %s destroyed", name); /* hvctl destroy that waited */
}

static void handle_event(struct hv *hv, struct domain *d)
{
	enum domain_event ev;
	enum domain_action act;
	char reason[sizeof(d->crash_reason)];
	struct err e;

	pthread_mutex_lock(&d->lock);
	ev = d->event;
	memcpy(reason, d->crash_reason, sizeof(reason));
	pthread_mutex_unlock(&d->lock);
	if (atomic_load(&d->dump_active) || d->destroy_by_ns)
		return; /* handled when the dump job ends (it wakes the loop); or destroyed then */
	if (atomic_load(&d->reset_pending)) { /* a reboot that waited for a dump */
		pthread_mutex_lock(&d->lock);
		d->event = EVENT_NONE;
		pthread_mutex_unlock(&d->lock);
		if (domain_reset(d, &e) < 0) {
			hv_log(hv, "%s: reboot failed: %s; destroyed", d->name, e.msg);
			hv_domain_remove(hv, d, NULL);
		} else {
			hv_log(hv, "%s rebooted (the reboot waited for its dump to end)", d->name);
		}
		return;
	}
	if (__atomic_load_n(&d->dbg, __ATOMIC_ACQUIRE) && ev != EVENT_NONE) {
		debug_notify_event(d); /* the debugger sees it first; handled at its detach */
		return;
	}
	if (ev == EVENT_NONE)
		return;
	domain_halt(d); /* joins the vCPU threads; they stopped when the event was posted */

	if (ev == EVENT_SAVED) {
		char why[sizeof(reason) + 100];
		hv_log(hv, "%s %s; destroyed", d->name, reason);
		snprintf(why, sizeof(why), "%s was %s: console closed", d->name, reason);
		control_console_end(hv, d->id, why);
		hv_domain_remove(hv, d, NULL);
		return;
	}
	switch (ev) {
	case EVENT_CRASH:
		act = d->cfg.on_crash;
		hv_log(hv, "%s crashed: %s", d->name, reason);
		if (d->cfg.coredump_on_crash && !d->crash_dumped) {
			/* written by the dump thread, not here: hv's loop, its clients and the other
			 * domains go on; the event stays and its action follows when the dump ends
			 * (the job's end wakes the loop, and dump_active holds it until then) */
			char dir[1024], path[1200];
			d->crash_dumped = true;
			hv_property_str(hv, "config/dump-dir", "/var/crash/hvkit", dir, sizeof(dir));
			if (hv_dump_next_path(dir, path, sizeof(path), &e) < 0 ||
			    hv_domain_dump_background(hv, d->id, path, hv_dump_default_format(hv), HV_DUMP_ON_CRASH, &e) < 0) {
				hv_log(hv, "%s: crash dump failed: %s", d->name, e.msg);
			} else {
				hv_log(hv, "%s: writing its crash dump to %s", d->name, path);
				return;
			}
		}
		d->crash_dumped = false; /* the next crash is dumped again */
		break;
	case EVENT_REBOOT:
		act = d->cfg.on_reboot;
		hv_log(hv, "%s rebooting (%s)", d->name, reason);
		break;
	default:
		act = d->cfg.on_poweroff;
		hv_log(hv, "%s shut off (%s)", d->name, reason);
		break;
	}

	pthread_mutex_lock(&d->lock);
	d->event = EVENT_NONE;
	d->state = ev == EVENT_CRASH ? DOMAIN_CRASHED : DOMAIN_SHUTOFF;
	pthread_mutex_unlock(&d->lock);

	if (ev == EVENT_CRASH && d->cfg.rollback_on_crash) {
		char tag[64];
		struct hv_rollback_stats rs;
		if (!hv_domain_latest_checkpoint(d, tag, sizeof(tag)))
			hv_log(hv, "%s: no checkpoint to roll back to (on_crash=rollback): destroyed", d->name);
		else if (hv_domain_rollback(hv, d, tag, &rs, &e) < 0 || domain_resume(d, &e) < 0)
			hv_log(hv, "%s: rollback to checkpoint %s failed: %s", d->name, tag, e.msg);
		else {
			hv_log(hv, "%s rolled back to checkpoint %s (%llu pages copied back) and running", d->name, tag,
			       (unsigned long long)rs.pages);
			return;
		}
		act = ACTION_DESTROY;
	}
	if (act == ACTION_RESTART) {
		if (domain_reset(d, &e) == 0) /* no RAM users here: they were waited for above */
			return;
		hv_log(hv, "%s: restart failed: %s", d->name, e.msg);
		act = ACTION_DESTROY;
	}
	if (act == ACTION_PRESERVE) {
		hv_log(hv, "%s is kept %s (on_%s=preserve); its memory and vCPU state stay for debugging",
		       d->name, domain_state_name(d->state),
		       ev == EVENT_CRASH ? "crash" : ev == EVENT_REBOOT ? "reboot" : "poweroff");
		return;
	}
	if (ev == EVENT_CRASH && hv->exit_status == 0)
		hv->exit_status = 3;
	if (!hv->opt.quiet)
		hv_log(hv, "%s destroyed", d->name);
	hv_domain_remove(hv, d, NULL);
}

int hv_run(struct hv *hv)
{
	sigset_t set;
	int sfd;
	struct err e;
	bool stdin_open = true;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGQUIT);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0) {
		hv_log(hv, "signalfd: %s", strerror(errno));
		return 1;
	}
	if (!hv->opt.daemon && console_raw_enter(&hv->con, &e) < 0)
		hv_log(hv, "console: %s (continuing in line mode)", e.msg);
	if (getenv("HV_NICE_TEST"))
		setpriority(PRIO_PROCESS, (id_t)gettid(), atoi(getenv("HV_NICE_TEST")));

	while ((hv->opt.daemon || domain_count(hv)) && !hv->quit) {
		struct pollfd p[3 + 1 + CONTROL_MAX_CLIENTS + RELOC_MAX_FDS] = {
			{ .fd = hv->event_fd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = stdin_open && !hv->opt.daemon ? hv->con.in_fd : -1, .events = POLLIN },
		};
		int nctl = control_pollfds(hv, p + 3, 1 + CONTROL_MAX_CLIENTS);
		int nrel = reloc_pollfds(hv, p + 3 + nctl, RELOC_MAX_FDS);
		int des_ms = destroy_due(hv);    /* hvctl destroys that waited for a dump (first: no new one starts) */
		int wait_ms = autockpt_tick(hv); /* scheduled checkpoints (config/checkpoint-interval) */
		int ctl_ms = control_tick(hv);   /* connections that sent no request in time */
		int lx_ms = kernel_linux_tick(hv); /* Linux panics (hv/kernel_linux.c) */
		if (ctl_ms >= 0 && (wait_ms < 0 || ctl_ms < wait_ms))
			wait_ms = ctl_ms;
		if (lx_ms >= 0 && (wait_ms < 0 || lx_ms < wait_ms))
			wait_ms = lx_ms;
		if (des_ms >= 0 && (wait_ms < 0 || des_ms < wait_ms))
			wait_ms = des_ms;
		if (poll(p, (nfds_t)(3 + nctl + nrel), wait_ms) < 0) {
			if (errno == EINTR)
				continue;
			hv_log(hv, "poll: %s", strerror(errno));
			hv->exit_status = 1;
			break;
		}
		if (p[0].revents & POLLIN) {
			uint64_t v;
			ssize_t r = read(hv->event_fd, &v, sizeof(v));
			(void)r;
			for (int i = 0; i < HV_MAX_DOMAINS; i++)
				if (hv->domains[i])
					handle_event(hv, hv->domains[i]);
			reloc_arrivals(hv); /* migrations received: their domains start here */
		}
		if (p[1].revents & POLLIN) {
			struct signalfd_siginfo si;
			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				hv_log(hv, "signal %u (%s): destroying every domain", si.ssi_signo, strsignal((int)si.ssi_signo));
				hv->exit_status = 128 + (int)si.ssi_signo;
				break;
			}
		}
		if (p[2].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t buf[512];
			ssize_t n = read(hv->con.in_fd, buf, sizeof(buf));
			if (n > 0)
				console_input(hv, buf, (size_t)n);
			else if (n == 0 || (errno != EINTR && errno != EAGAIN))
				stdin_open = false; /* end of input: the domains run on */
		}
		control_handle(hv, p + 3, nctl);
		reloc_handle(hv, p + 3 + nctl, nrel);
	}
	atomic_store(&hv->exiting, true);
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		if (hv->domains[i])
			hv_domain_remove(hv, hv->domains[i], NULL);
	conout_stop(&hv->con, 2000); /* what is queued goes out before the terminal is restored */
	console_raw_leave(&hv->con);
	close(sfd);
	return hv->exit_status;
}

/* Properties come from STATE_DIR/props.db when it exists; command-line options win. */
void hv_props_load(struct hv *hv)
{
	char path[600];
	struct err e;
	snprintf(path, sizeof(path), "%s/props.db", hv->opt.state_dir ? hv->opt.state_dir : HV_DEFAULT_STATE_DIR);
	if (access(path, F_OK) < 0) { /* none yet; but a state directory in use had one: it went */
		char domains[600];
		snprintf(domains, sizeof(domains), "%s/domains", hv->opt.state_dir ? hv->opt.state_dir : HV_DEFAULT_STATE_DIR);
		if (access(domains, F_OK) == 0)
			hv_log(hv, "warning: no property store %s beside the domain definitions: the properties' defaults "
				   "apply (setprop creates a new store)", path);
		return;
	}
	hv->props = props_open(path, &e);
	if (!hv->props) { /* the defaults apply; every setprop fails with the reason until it is fixed */
		fprintf(stderr, "hv: warning: %s\n", e.msg);
		hv_log(hv, "warning: %s: the properties' defaults apply", e.msg);
		return;
	}
	hv_props_apply(hv);
}

size_t hv_console_ring_size(struct hv *hv)
{
	return hv->con.ring_size;
}

void hv_property_str(struct hv *hv, const char *name, const char *dflt, char *buf, size_t len)
{
	if (!hv->props || props_get(hv->props, name, buf, len, NULL) < 0)
		snprintf(buf, len, "%s", dflt);
}

int64_t hv_property_int(struct hv *hv, const char *name, int64_t dflt)
{
	return hv->props ? props_get_int(hv->props, name, dflt) : dflt;
}

/* The ring holds at least console-ring-size bytes, and 16 KiB per vCPU running. */
static void ring_fit(struct hv *hv)
{
	size_t want = CONSOLE_RING_MIN, vcpus = 0;
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		if (hv->domains[i])
			vcpus += hv->domains[i]->nr_vcpus;
	if (vcpus * CONSOLE_RING_PER_VCPU > want)
		want = vcpus * CONSOLE_RING_PER_VCPU;
	if (hv->props) {
		int64_t p = props_get_int(hv->props, "config/console-ring-size", 0);
		if (p > 0 && (size_t)p > want)
			want = (size_t)p;
	}
	console_ring_resize(&hv->con, want);
}

void hv_props_apply(struct hv *hv)
{
	int64_t v;
	reloc_apply(hv); /* a no-op unless the relocation settings changed */
	if (!hv->props)
		return;
	ring_fit(hv);
	if (!hv->opt.dom0_cpus) {
		v = props_get_int(hv->props, "config/dom0-cpus", 0);
		pthread_mutex_lock(&hv->sched.lock);
		hv->sched.dom0_slots = v > 0 ? (unsigned)v : 0;
		pthread_mutex_unlock(&hv->sched.lock);
	}
}

void hv_quit(struct hv *hv, int status)
{
	hv->quit = true;
	hv->exit_status = status;
}

void hv_destroy(struct hv *hv)
{
	if (!hv)
		return;
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		if (hv->domains[i])
			hv_domain_remove(hv, hv->domains[i], NULL);
	spare_stop(hv);
	conout_stop(&hv->con, 2000);
	console_raw_leave(&hv->con);
	reloc_close(hv);
	control_close(hv);
	if (hv->props)
		props_close(hv->props);
	sched_fini(&hv->sched);
	free(hv->con.ring);
	close(hv->event_fd);
	kvm_close(&hv->kvm);
	free(hv);
}
