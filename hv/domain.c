/* domain: one guest: its RAM, VM, vCPUs and console; booting, halting, rebooting, and
 * the events its vCPUs raise (poweroff, reboot, crash) for the event loop. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "hvkit/abi.h"

static const char *const state_names[] = {
	[DOMAIN_RUNNING] = "running", [DOMAIN_BLOCKED] = "blocked", [DOMAIN_PAUSED] = "paused",
	[DOMAIN_CRASHED] = "crashed", [DOMAIN_SHUTOFF] = "shut off", [DOMAIN_SHUTDOWN] = "in shutdown",
};

const char *domain_state_name(enum domain_state s)
{
	return (unsigned)s < sizeof(state_names) / sizeof(state_names[0]) ? state_names[s] : "unknown";
}

static const char *const action_names[] = {
	[ACTION_DESTROY] = "destroy", [ACTION_RESTART] = "restart", [ACTION_PRESERVE] = "preserve",
};

const char *domain_action_name(enum domain_action a)
{
	return (unsigned)a < 3 ? action_names[a] : "unknown";
}

int domain_action_parse(const char *s, enum domain_action *out)
{
	for (unsigned i = 0; i < 3; i++) {
		if (!strcmp(s, action_names[i])) {
			*out = (enum domain_action)i;
			return 0;
		}
	}
	return -1;
}

static void uart_tx(void *opaque, uint8_t byte)
{
	struct domain *d = opaque;
	domcons_out(&d->cons, &byte, 1);
	/* The terminal shows dom0, and whichever domain has the input. */
	if (!d->hv->opt.daemon && (d->id == 0 || d->hv->input_to == d->id))
		console_guest_out(&d->hv->con, &byte, 1);
}

static void uart_irq(void *opaque, bool level)
{
	struct domain *d = opaque;
	struct kvm_irq_level irq = { .irq = 4, .level = level };
	if (level)
		d->uart_irqs++;
	if (d->vm_fd >= 0)
		ioctl(d->vm_fd, KVM_IRQ_LINE, &irq);
}

static const struct uart_ops uart_ops = { .tx = uart_tx, .irq = uart_irq };

struct domain *domain_create(struct hv *hv, int id, const struct domain_config *cfg, struct err *e)
{
	struct domain *d = xcalloc(1, sizeof(*d));
	int maxv = kvm_max_vcpus(&hv->kvm);

	d->hv = hv;
	d->id = id;
	d->vm_fd = -1;
	d->spare_vcpu0 = -1;
	d->mem.memfd = -1;
	snprintf(d->name, sizeof(d->name), "%s", cfg->name ? cfg->name : "dom0");
	d->cfg = *cfg;
	d->cfg.name = d->name;
	d->cfg.kernel = cfg->kernel ? xstrdup(cfg->kernel) : NULL;
	d->cfg.initrd = cfg->initrd ? xstrdup(cfg->initrd) : NULL;
	d->cfg.cmdline = xstrdup(cfg->cmdline ? cfg->cmdline : "");
	d->cfg.mem_image = cfg->mem_image ? xstrdup(cfg->mem_image) : NULL;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->ckpt.lock, NULL);
	pthread_mutex_init(&d->ckpt.undo_lock, NULL);
	pthread_mutex_init(&d->ksym_lock, NULL);
	uart_init(&d->uart, &uart_ops, d);
	domcons_init(&d->cons);
	d->state = DOMAIN_SHUTOFF;

	if (cfg->vcpus < 1 || cfg->vcpus > HV_MAX_VCPUS || (int)cfg->vcpus > maxv) {
		err_set(e, "%u vCPUs: this host's KVM allows 1 to %d", cfg->vcpus, maxv < HV_MAX_VCPUS ? maxv : HV_MAX_VCPUS);
		goto fail;
	}
	if (cfg->mem_bytes < HV_MIN_MEM) {
		err_set(e, "%llu bytes of memory is too little (at least %llu MiB)",
			(unsigned long long)cfg->mem_bytes, HV_MIN_MEM >> 20);
		goto fail;
	}
	if (!d->cfg.weight)
		d->cfg.weight = SCHED_DEFAULT_WEIGHT;
	if (cfg->weight > 65535) {
		err_set(e, "weight %u: 1 to 65535", cfg->weight);
		goto fail;
	}
	if (cfg->mem_bytes & 0xfff) {
		err_set(e, "memory size must be a multiple of 4 KiB");
		goto fail;
	}
	{
		long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
		uint64_t host = (pages > 0 && psz > 0) ? (uint64_t)pages * (uint64_t)psz : 0;
		if (host && cfg->mem_bytes > host) {
			err_set(e, "%llu MiB of memory is more than this host has (%llu MiB)",
				(unsigned long long)(cfg->mem_bytes >> 20), (unsigned long long)(host >> 20));
			goto fail;
		}
	}
	if (mem_create(&d->mem, d->name, cfg->mem_bytes, e) < 0)
		goto fail;
	d->nr_vcpus = cfg->vcpus;
	d->vcpus = xcalloc(d->nr_vcpus, sizeof(struct vcpu));
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		d->vcpus[i].fd = -1;
	return d;
fail:
	domain_destroy(d);
	return NULL;
}

int domain_vm_create(struct domain *d, bool spare, struct err *e)
{
	d->vm_from_spare = spare && spare_take(d->hv, &d->vm_fd, &d->spare_vcpu0);
	if (!d->vm_from_spare) {
		d->vm_fd = vm_create_fd(&d->hv->kvm, e);
		if (d->vm_fd < 0)
			return -1;
	}
	return mem_map_into(&d->mem, d->vm_fd, e);
}

/* The command line the kernel gets: the configured one, and for Linux on a kvm_pvm host
 * the CPU model's options (cpumodel.c), said once in the log. */
static const char *boot_cmdline(struct domain *d, char *buf, size_t len)
{
	char opts[512];
	if (!d->hv->kvm.pvm || !d->kernel.is_linux)
		return d->cfg.cmdline;
	cpumodel_linux_options(opts, sizeof(opts));
	snprintf(buf, len, "%s%s%s", d->cfg.cmdline, d->cfg.cmdline[0] ? " " : "", opts);
	if (!d->cpumodel_logged) {
		d->cpumodel_logged = true;
		hv_log(d->hv, "%s: a Linux kernel on kvm_pvm: hv adds to its command line: %s", d->name, opts);
	}
	return buf;
}

int domain_boot(struct domain *d, struct err *e)
{
	char cmdline[BOOT_CMDLINE_MAX];
	atomic_store(&d->stopping, false);
	d->event = EVENT_NONE;
	d->crash_reason[0] = 0;
	d->unhandled_ports = 0;
	d->shutdown_requested = false;
	d->acpi_button_pressed = false;
	d->request = 0;
	d->event_vector = 0;
	d->pause_count = 0;
	d->linux_panic_seen_ns = 0;
	ksyms_wait(d); /* a restored domain's, if they are still being read */
	symtab_free(&d->kernel.symtab);
	if (domain_vm_create(d, false, e) < 0)
		goto fail;
	if (d->cfg.mem_image && mem_fill_from(&d->mem, d->cfg.mem_image, e) < 0)
		goto fail;
	if (loader_load_pvh(&d->mem, d->cfg.kernel, &d->kernel, e) < 0)
		goto fail;
	if (boot_setup(&d->mem, &d->kernel, d->nr_vcpus, boot_cmdline(d, cmdline, sizeof(cmdline)), d->cfg.initrd, e) < 0)
		goto fail;
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		if (vcpu_create(d, i, e) < 0)
			goto fail;
	if (d->kernel.bzimage ? vcpu_set_linux32_state(&d->vcpus[0], (uint32_t)d->kernel.entry32, BOOT_PARAMS_GPA, e) < 0
			      : vcpu_set_pvh_state(&d->vcpus[0], (uint32_t)d->kernel.entry32, BOOT_START_INFO_GPA, e) < 0)
		goto fail;
	d->start_ns = time_ns();
	pthread_mutex_lock(&d->lock);
	d->state = DOMAIN_RUNNING;
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		if (vcpu_start_thread(&d->vcpus[i], e) < 0)
			goto fail;
	return 0;
fail:
	err_prefix(e, "%s", d->name);
	domain_teardown(d);
	pthread_mutex_lock(&d->lock);
	d->state = DOMAIN_SHUTOFF;
	pthread_mutex_unlock(&d->lock);
	return -1;
}

int domain_resume(struct domain *d, struct err *e)
{
	atomic_store(&d->stopping, false);
	pthread_mutex_lock(&d->lock);
	d->event = EVENT_NONE;
	d->crash_reason[0] = 0;
	d->state = DOMAIN_RUNNING;
	pthread_mutex_unlock(&d->lock);
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		if (!d->vcpus[i].thread_started && vcpu_start_thread(&d->vcpus[i], e) < 0)
			return -1;
	return 0;
}

void domain_halt(struct domain *d)
{
	atomic_store(&d->stopping, true);
	for (unsigned i = 0; i < d->nr_vcpus; i++) {
		struct vcpu *v = &d->vcpus[i];
		vcpu_kick(v);
		if (v->fd >= 0) {
			pthread_mutex_lock(&v->hold_lock); /* wake a parked thread */
			pthread_cond_broadcast(&v->hold_cond);
			pthread_mutex_unlock(&v->hold_lock);
		}
	}
	sched_wake_all(&d->hv->sched);
	for (unsigned i = 0; i < d->nr_vcpus; i++) {
		struct vcpu *v = &d->vcpus[i];
		if (v->thread_started && !pthread_equal(v->thread, pthread_self()))
			pthread_join(v->thread, NULL);
		v->thread_started = false;
	}
}

void domain_teardown(struct domain *d)
{
	domain_halt(d);
	lazy_stop(d);
	ckpt_undo_free(d); /* its RAM is about to go or be cleared */
	for (unsigned i = 0; i < d->nr_vcpus; i++) {
		if (d->hv->opt.count_insns && d->vcpus[i].fd >= 0)
			hv_log(d->hv, "%s: vCPU %u executed %llu instructions", d->name, i,
			       (unsigned long long)d->vcpus[i].insns);
		if (d->vcpus[i].fd >= 0)
			vcpu_destroy(&d->vcpus[i]);
	}
	if (d->spare_vcpu0 >= 0)
		close(d->spare_vcpu0);
	d->spare_vcpu0 = -1;
	if (d->vm_fd >= 0)
		close(d->vm_fd);
	d->vm_fd = -1;
}

int domain_reset(struct domain *d, struct err *e)
{
	if (atomic_load(&d->dump_active)) {
		atomic_store(&d->reset_pending, true);
		return 1;
	}
	atomic_store(&d->reset_pending, false);
	domain_teardown(d);
	mem_clear(&d->mem);
	d->reboots++;
	return domain_boot(d, e);
}

void domain_destroy(struct domain *d)
{
	if (!d)
		return;
	if (d->vcpus)
		domain_teardown(d);
	ksyms_wait(d);
	symtab_free(&d->kernel.symtab);
	mem_destroy(&d->mem);
	uart_fini(&d->uart);
	domcons_fini(&d->cons);
	free(d->vcpus);
	free((char *)d->cfg.kernel);
	free((char *)d->cfg.initrd);
	free((char *)d->cfg.cmdline);
	free((char *)d->cfg.mem_image);
	pthread_mutex_destroy(&d->lock);
	ckpt_cache_free(&d->ckpt);
	ckpt_undo_free(d);
	pthread_mutex_destroy(&d->ckpt.lock);
	pthread_mutex_destroy(&d->ckpt.undo_lock);
	pthread_mutex_destroy(&d->ksym_lock);
	free(d->ckpt.dirty);
	free(d);
}

void domain_post_event(struct domain *d, enum domain_event ev, const char *fmt, ...)
{
	va_list ap;
	bool first = false;

	pthread_mutex_lock(&d->lock);
	if (d->event == EVENT_NONE) {
		first = true;
		d->event = ev;
		va_start(ap, fmt);
		vsnprintf(d->crash_reason, sizeof(d->crash_reason), fmt, ap);
		va_end(ap);
		d->state = ev == EVENT_CRASH ? DOMAIN_CRASHED : DOMAIN_SHUTDOWN;
	}
	pthread_mutex_unlock(&d->lock);
	if (!first)
		return;
	/* Freeze the domain at this instant: every vCPU leaves KVM_RUN. */
	atomic_store(&d->stopping, true);
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		vcpu_kick(&d->vcpus[i]);
	hv_wake(d->hv);
}

void *domain_gva_ptr(struct vcpu *v, uint64_t gva, uint64_t len)
{
	struct kvm_translation t = { .linear_address = gva };
	if (ioctl(v->fd, KVM_TRANSLATE, &t) < 0 || !t.valid)
		return NULL;
	if (len > 4096 || (t.physical_address & 0xfff) + len > 4096)
		return NULL; /* the next page may map elsewhere */
	return mem_ptr(&v->dom->mem, t.physical_address, len);
}

enum domain_state domain_state_now(struct domain *d)
{
	enum domain_state st;
	pthread_mutex_lock(&d->lock);
	st = d->state;
	pthread_mutex_unlock(&d->lock);
	if (st != DOMAIN_RUNNING && st != DOMAIN_BLOCKED)
		return st;
	if (d->pause_count || atomic_load(&d->dbg_stopped))
		return DOMAIN_PAUSED; /* as virsh: a debugger's stop is a pause (dominfo says whose) */
	if (d->shutdown_requested)
		return DOMAIN_SHUTDOWN;
	return sched_domain_busy(&d->hv->sched, d) ? DOMAIN_RUNNING : DOMAIN_BLOCKED;
}

int domain_pause(struct domain *d, struct err *e)
{
	enum domain_state st = domain_state_now(d);
	if (st != DOMAIN_RUNNING && st != DOMAIN_BLOCKED && st != DOMAIN_SHUTDOWN && st != DOMAIN_PAUSED)
		return err_set(e, "%s is %s: only a running domain can be suspended", d->name, domain_state_name(st));
	if (d->pause_count)
		return err_set(e, "%s is already paused", d->name);
	vcpu_hold_all(d->vcpus, d->nr_vcpus);
	d->pause_count++;
	return 0;
}

int domain_unpause(struct domain *d, struct err *e)
{
	if (!d->pause_count && atomic_load(&d->dbg_stopped))
		return err_set(e, "%s is stopped by a debugger: continue it there (:c in hvmdb, c in gdb)", d->name);
	if (!d->pause_count)
		return err_set(e, "%s is %s, not paused", d->name, domain_state_name(domain_state_now(d)));
	d->pause_count--;
	for (unsigned i = 0; i < d->nr_vcpus; i++)
		if (d->vcpus[i].fd >= 0)
			vcpu_release(&d->vcpus[i]);
	return 0;
}

int domain_request(struct domain *d, uint32_t req, struct err *e)
{
	uint32_t vec, apic;
	struct kvm_msi msi;
	enum domain_state st = domain_state_now(d);
	if (st != DOMAIN_RUNNING && st != DOMAIN_BLOCKED && st != DOMAIN_SHUTDOWN)
		return err_set(e, "%s is %s", d->name, domain_state_name(st));
	pthread_mutex_lock(&d->lock);
	vec = d->event_vector;
	apic = d->event_apic;
	if (vec) {
		d->request = req;
		if (req == HVKIT_REQ_SHUTDOWN && !d->shutdown_requested) {
			d->shutdown_requested = true;
			d->shutdown_ns = time_ns();
		}
	} else if (req == HVKIT_REQ_SHUTDOWN) {
		d->acpi_button_pressed = true; /* "in shutdown" once the kernel's ACPI takes it */
	}
	pthread_mutex_unlock(&d->lock);
	if (!vec && req == HVKIT_REQ_SHUTDOWN) {
		/* no hvkit request vector: the ACPI power button, as virsh shutdown does */
		if (acpi_press_power_button(d) < 0)
			return err_errno(e, "KVM_IRQ_LINE (the ACPI power button)");
		return 1;
	}
	if (!vec)
		return err_set(e, "%s's kernel takes no requests from hv (it never registered an event vector)", d->name);
	memset(&msi, 0, sizeof(msi));
	msi.address_lo = 0xfee00000u | ((apic & 0xff) << 12);
	msi.data = vec;
	if (ioctl(d->vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
		return err_errno(e, "KVM_SIGNAL_MSI");
	return 0;
}
