/* kvm: opening /dev/kvm, checking the API, detecting the PVM module, and the CPUID
 * KVM supports. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

int kvm_open(struct kvm *k, struct err *e)
{
	struct stat st;
	int n;

	k->fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (k->fd < 0) {
		if (errno == ENOENT)
			return err_set(e, "/dev/kvm does not exist: this host has no KVM (load kvm_intel, kvm_amd or kvm_pvm)");
		if (errno == EACCES || errno == EPERM)
			return err_set(e, "/dev/kvm: permission denied (run as root or join the kvm group)");
		return err_errno(e, "/dev/kvm");
	}
	if (ioctl(k->fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		close(k->fd);
		return err_set(e, "/dev/kvm: unsupported KVM API version");
	}
	if (ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0 ||
	    ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
		close(k->fd);
		return err_set(e, "/dev/kvm lacks the in-kernel irqchip or user memory");
	}
	k->vcpu_mmap_size = ioctl(k->fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (k->vcpu_mmap_size <= 0) {
		close(k->fd);
		return err_errno(e, "KVM_GET_VCPU_MMAP_SIZE");
	}
	k->pvm = stat("/sys/module/kvm_pvm", &st) == 0;

	for (n = 64; n <= 4096; n *= 2) {
		k->cpuid = xcalloc(1, sizeof(*k->cpuid) + n * sizeof(struct kvm_cpuid_entry2));
		k->cpuid->nent = n;
		if (ioctl(k->fd, KVM_GET_SUPPORTED_CPUID, k->cpuid) == 0)
			return 0;
		free(k->cpuid);
		k->cpuid = NULL;
		if (errno != E2BIG)
			break;
	}
	close(k->fd);
	return err_errno(e, "KVM_GET_SUPPORTED_CPUID");
}

void kvm_close(struct kvm *k)
{
	free(k->cpuid);
	k->cpuid = NULL;
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

int kvm_max_vcpus(struct kvm *k)
{
	int n = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	if (n <= 0)
		n = ioctl(k->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS);
	if (n <= 0)
		n = 4;
	return n;
}
