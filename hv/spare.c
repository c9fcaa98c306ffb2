/* spare: a VM made ahead of need (KVM_CREATE_VM, its TSS, the in-kernel irqchip and PIT,
 * vCPU 0), so a restore only registers the RAM, creates the other vCPUs and loads state.
 * KVM ends each of those creations in an SRCU grace period of the VM, and a grace period
 * asked for right after another waits for KVM's workqueue: milliseconds on a busy host
 * (docs/benchmarks.md). A thread of hv's makes the spare while nothing waits for it, and
 * a new one a little after each is taken. Only restores take it: a spare's kvmclock and
 * vCPU 0's TSC have run since it was made, which a restore sets and a boot would not. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define SPARE_REFILL_MS 100 /* after a take: out of the way of the restore that took it */

struct spare {
	struct hv *hv;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	int vm_fd, vcpu0_fd; /* -1: none ready */
	bool stop, failed;
};

int vm_create_fd(struct kvm *k, struct err *e)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	int fd = ioctl(k->fd, KVM_CREATE_VM, 0);
	if (fd < 0)
		return err_errno(e, "KVM_CREATE_VM");
	/* Intel needs a TSS region below 4 GiB; in the hole, out of RAM's way. */
	ioctl(fd, KVM_SET_TSS_ADDR, 0xfffbd000ul);
	if (ioctl(fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		err_errno(e, "KVM_CREATE_IRQCHIP");
		close(fd);
		return -1;
	}
	if (ioctl(fd, KVM_CREATE_PIT2, &pit) < 0) {
		err_errno(e, "KVM_CREATE_PIT2");
		close(fd);
		return -1;
	}
	return fd;
}

static void *spare_thread(void *arg)
{
	struct spare *s = arg;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	pthread_mutex_lock(&s->lock);
	while (!s->stop) {
		struct err e;
		int vm, vcpu = -1;
		if (s->vm_fd >= 0) {
			pthread_cond_wait(&s->cond, &s->lock);
			if (s->vm_fd >= 0 || s->stop)
				continue;
			/* just taken: let the restore that took it finish first */
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += SPARE_REFILL_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			while (!s->stop && pthread_cond_timedwait(&s->cond, &s->lock, &until) != ETIMEDOUT)
				;
			if (s->stop)
				break;
		}
		pthread_mutex_unlock(&s->lock);
		vm = vm_create_fd(&s->hv->kvm, &e);
		if (vm >= 0 && (vcpu = ioctl(vm, KVM_CREATE_VCPU, 0ul)) < 0)
			err_errno(&e, "KVM_CREATE_VCPU 0");
		pthread_mutex_lock(&s->lock);
		if (vm < 0 || vcpu < 0) { /* restores make their own VM, as before */
			hv_log(s->hv, "no spare VM for restores: %s", e.msg);
			if (vm >= 0)
				close(vm);
			s->failed = true;
			break;
		}
		s->vm_fd = vm;
		s->vcpu0_fd = vcpu;
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

void spare_start(struct hv *hv)
{
	struct spare *s = xcalloc(1, sizeof(*s));
	s->hv = hv;
	s->vm_fd = s->vcpu0_fd = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	if (pthread_create(&s->thread, NULL, spare_thread, s)) {
		pthread_mutex_destroy(&s->lock);
		pthread_cond_destroy(&s->cond);
		free(s);
		return; /* restores make their own VM */
	}
	hv->spare = s;
}

bool spare_take(struct hv *hv, int *vm_fd, int *vcpu0_fd)
{
	struct spare *s = hv->spare;
	bool got = false;
	if (!s)
		return false;
	pthread_mutex_lock(&s->lock);
	if (s->vm_fd >= 0) {
		*vm_fd = s->vm_fd;
		*vcpu0_fd = s->vcpu0_fd;
		s->vm_fd = s->vcpu0_fd = -1;
		got = true;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return got;
}

void spare_stop(struct hv *hv)
{
	struct spare *s = hv->spare;
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	if (s->vcpu0_fd >= 0)
		close(s->vcpu0_fd);
	if (s->vm_fd >= 0)
		close(s->vm_fd);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s);
	hv->spare = NULL;
}
