/* ksyms: a restored (or migrated-in) domain's kernel symbols, read behind its start.
 *
 * A restore takes RAM and machine state from the image but the kernel's symbols from
 * its file (a Linux vmlinux has some 100 000: reading them is most of a restore's time).
 * Nothing the guest runs needs them, so the vCPUs start first and a thread of the
 * domain's reads them afterwards. Until it is done d->kernel is not touched by anyone:
 * what reads it (a debug key or a dump that symbolizes, VMCOREINFO, a reboot, the
 * teardown) waits for the thread (ksyms_wait), hv's Linux panic watch skips the domain
 * (ksyms_loading) and looks again once the thread woke hv's loop. */
#include "internal.h"

#include <signal.h>
#include <string.h>

static void *ksyms_thread(void *arg)
{
	struct domain *d = arg;
	struct kernel_image ki;
	struct err ke;
	uint64_t t0 = time_ns();
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	if (loader_load_pvh(NULL, d->cfg.kernel, &ki, &ke) < 0) {
		hv_log(d->hv, "%s: restored without its kernel's symbols: %s", d->name, ke.msg);
		memset(&ki, 0, sizeof(ki));
	} else {
		hv_log(d->hv, "%s: kernel symbols read in %.2f ms, behind the restore (%zu symbols%s)", d->name,
		       (time_ns() - t0) / 1e6, ki.symtab.n, ki.is_linux ? ", Linux" : "");
	}
	d->kernel = ki;
	atomic_store(&d->ksym_loading, false); /* after d->kernel is written: readers see all of it */
	hv_wake(d->hv);                        /* the Linux panic watch looks at it from now on */
	return NULL;
}

void ksyms_load_behind(struct domain *d)
{
	pthread_mutex_lock(&d->ksym_lock);
	atomic_store(&d->ksym_loading, true);
	if (pthread_create(&d->ksym_thread, NULL, ksyms_thread, d) == 0) {
		d->ksym_joinable = true;
	} else { /* no thread: read them here */
		pthread_mutex_unlock(&d->ksym_lock);
		ksyms_thread(d);
		return;
	}
	pthread_mutex_unlock(&d->ksym_lock);
}

bool ksyms_loading(struct domain *d)
{
	return atomic_load(&d->ksym_loading);
}

void ksyms_wait(struct domain *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->ksym_lock);
	if (d->ksym_joinable) {
		pthread_join(d->ksym_thread, NULL);
		d->ksym_joinable = false;
	}
	pthread_mutex_unlock(&d->ksym_lock);
}
