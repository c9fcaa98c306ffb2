/* hv: the hypervisor object and its event loop: terminal input to dom0's console,
 * domain events (poweroff, reboot, crash) applied by policy, and signals. */
#include "internal.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

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
	struct hv *hv = xcalloc(1, sizeof(*hv));
	sigset_t set;

	hv->opt = *opt;
	hv->kvm.fd = -1;
	hv->input_to = 0;
	pthread_mutex_init(&hv->lock, NULL);
	console_init(&hv->con, STDIN_FILENO, STDOUT_FILENO);
	if (kvm_open(&hv->kvm, e) < 0) {
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
		free(hv);
		return NULL;
	}
	return hv;
}

int hv_domain_start(struct hv *hv, const struct domain_config *cfg, struct err *e)
{
	int id = -1;
	struct domain *d;

	for (int i = 0; i < HV_MAX_DOMAINS; i++) {
		if (!hv->domains[i]) {
			id = i;
			break;
		}
	}
	if (id < 0)
		return err_set(e, "too many domains (at most %d)", HV_MAX_DOMAINS);
	d = domain_create(hv, id, cfg, e);
	if (!d)
		return -1;
	if (domain_boot(d, e) < 0) {
		domain_destroy(d);
		return -1;
	}
	hv->domains[id] = d;
	if (hv->kvm.pvm && !hv->pvm_warned) {
		hv->pvm_warned = true;
		hv_log(hv, "host KVM is kvm_pvm (no hardware virtualization): guests run under instruction emulation, about 1.5M instructions/s");
	}
	if (!hv->opt.quiet)
		hv_log(hv, "%s (domain %d) started: %u vCPU%s, %llu MiB, kernel %s", d->name, id, d->nr_vcpus,
		       d->nr_vcpus == 1 ? "" : "s", (unsigned long long)(d->mem.size >> 20),
		       d->cfg.kernel ? d->cfg.kernel : "built-in guest");
	return id;
}

static void remove_domain(struct hv *hv, struct domain *d)
{
	hv->domains[d->id] = NULL;
	domain_destroy(d);
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
	if (ev == EVENT_NONE)
		return;
	domain_halt(d); /* joins the vCPU threads; they stopped when the event was posted */

	switch (ev) {
	case EVENT_CRASH:
		act = d->cfg.on_crash;
		hv_log(hv, "%s crashed: %s", d->name, reason);
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

	if (act == ACTION_RESTART) {
		domain_teardown(d);
		mem_clear(&d->mem);
		d->reboots++;
		if (domain_boot(d, &e) == 0)
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
	remove_domain(hv, d);
}

static bool any_domain(struct hv *hv)
{
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		if (hv->domains[i])
			return true;
	return false;
}

#define SWITCH_CODE 0x01 /* Ctrl-A */

static const char *input_name(struct hv *hv, int target)
{
	if (target < 0 || target >= HV_MAX_DOMAINS || !hv->domains[target])
		return "hv";
	return hv->domains[target]->name;
}

/* The rotation: dom0 -> hv -> each other domain -> dom0. */
static int input_next(struct hv *hv, int cur)
{
	int start = cur < 0 ? 1 : (cur == 0 ? -1 : cur + 1);
	if (start == -1)
		return -1;
	for (int i = start; i < HV_MAX_DOMAINS; i++)
		if (hv->domains[i])
			return i;
	return hv->domains[0] ? 0 : -1;
}

static void input_switch(struct hv *hv)
{
	hv->input_to = input_next(hv, hv->input_to);
	hv_log(hv, "*** Serial input -> %s (type 'CTRL-a' three times to switch input to %s)",
	       input_name(hv, hv->input_to), input_name(hv, input_next(hv, hv->input_to)));
}

static void input_deliver(struct hv *hv, const uint8_t *buf, size_t n)
{
	struct domain *d;
	if (!n)
		return;
	if (hv->input_to < 0) {
		for (size_t i = 0; i < n; i++)
			keys_handle(hv, buf[i]);
		return;
	}
	d = hv->domains[hv->input_to];
	if (d && (d->state == DOMAIN_RUNNING || d->state == DOMAIN_BLOCKED))
		uart_receive(&d->uart, buf, n);
}

/* Like Xen's serial_rx: three Ctrl-A in a row switch; a broken sequence hands the
 * swallowed Ctrl-A bytes on unchanged. */
static void console_input(struct hv *hv, const uint8_t *buf, size_t n)
{
	static const uint8_t ctrl_a[2] = { SWITCH_CODE, SWITCH_CODE };
	size_t run = 0;
	if (hv->input_to >= 0 && !hv->domains[hv->input_to])
		hv->input_to = -1;
	for (size_t i = 0; i < n; i++) {
		if (buf[i] == SWITCH_CODE) {
			input_deliver(hv, buf + i - run, run);
			run = 0;
			if (++hv->ctrl_a == 3) {
				hv->ctrl_a = 0;
				input_switch(hv);
			}
			continue;
		}
		if (hv->ctrl_a) {
			input_deliver(hv, ctrl_a, hv->ctrl_a);
			hv->ctrl_a = 0;
		}
		run++;
	}
	input_deliver(hv, buf + n - run, run);
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
	if (console_raw_enter(&hv->con, &e) < 0)
		hv_log(hv, "console: %s (continuing in line mode)", e.msg);

	while (any_domain(hv) && !hv->quit) {
		struct pollfd p[3] = {
			{ .fd = hv->event_fd, .events = POLLIN },
			{ .fd = sfd, .events = POLLIN },
			{ .fd = stdin_open ? hv->con.in_fd : -1, .events = POLLIN },
		};
		if (poll(p, 3, -1) < 0) {
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
	}
	for (int i = 0; i < HV_MAX_DOMAINS; i++)
		if (hv->domains[i])
			remove_domain(hv, hv->domains[i]);
	console_raw_leave(&hv->con);
	close(sfd);
	return hv->exit_status;
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
			remove_domain(hv, hv->domains[i]);
	console_raw_leave(&hv->con);
	sched_fini(&hv->sched);
	close(hv->event_fd);
	kvm_close(&hv->kvm);
	free(hv);
}
