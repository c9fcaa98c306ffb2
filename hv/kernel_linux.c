/* kernel_linux: what hv knows of a Linux domain from the kernel's own symbols (the vmlinux hv
 * loaded): its panics, seen in the kernel's variables so that the domain becomes crashed
 * and on_crash applies, and its VMCOREINFO, copied from the kernel's memory into hv's
 * dumps as the kernel's kdump would write it. Symbols are read at the kernel's link
 * address: a PVH vmlinux runs where it was linked (no decompressor, so no KASLR), and its
 * direct map starts at page_offset_base. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

#define START_KERNEL_MAP 0xffffffff80000000ull
#define PANIC_CPU_INVALID (-1)
#define PANIC_GRACE_NS (10ull * 1000000000ull) /* a panic that never reaches its end line */

static uint64_t sym_pa(const struct kernel_image *ki, const char *name)
{
	const struct symbol *s = symtab_by_name(&ki->symtab, name);
	return s && s->addr >= START_KERNEL_MAP ? s->addr - START_KERNEL_MAP : 0;
}

void kernel_linux_probe(struct kernel_image *ki)
{
	ki->is_linux = symtab_by_name(&ki->symtab, "linux_banner") != NULL;
	if (!ki->is_linux)
		return;
	ki->linux_panic_cpu = sym_pa(ki, "panic_cpu");
	ki->linux_suppress_printk = sym_pa(ki, "suppress_printk");
	ki->linux_vmcoreinfo_data = sym_pa(ki, "vmcoreinfo_data");
	ki->linux_vmcoreinfo_size = sym_pa(ki, "vmcoreinfo_size");
	ki->linux_page_offset_base = sym_pa(ki, "page_offset_base");
	ki->linux_uts = sym_pa(ki, "init_uts_ns");
}

static bool read_pa(struct domain *d, uint64_t pa, void *buf, size_t len)
{
	void *p;
	if (!pa || !(p = mem_ptr(&d->mem, pa, len)))
		return false;
	memcpy(buf, p, len);
	return true;
}

/* The kernel's panic message, from the console's tail ("Kernel panic - not syncing: ..."). */
static void panic_message(struct domain *d, char *out, size_t len)
{
	static uint8_t tail[8192];
	size_t n = domcons_tail(&d->cons, tail, sizeof(tail) - 1);
	const char *key = "Kernel panic - not syncing: ", *p = NULL, *q;
	tail[n] = 0;
	for (q = (const char *)tail; (q = memmem(q, n - (size_t)(q - (const char *)tail), key, strlen(key))); q++)
		p = q;
	if (!p) {
		snprintf(out, len, "(message not on the console)");
		return;
	}
	p += strlen(key);
	q = strpbrk(p, "\r\n");
	n = q ? (size_t)(q - p) : strlen(p);
	if (n >= 5 && !memcmp(p + n - 5, " ]---", 5)) /* panic()'s end line says it again */
		n -= 5;
	snprintf(out, len, "%.*s", (int)n, p);
}

/* hv's loop, every LINUX_TICK_MS: a Linux domain whose panic_cpu is set has panicked; it
 * becomes crashed once panic() has printed its end line (suppress_printk is set right
 * after it) or PANIC_GRACE_NS after panic_cpu was first seen. */
int kernel_linux_tick(struct hv *hv)
{
	bool any = false;
	uint64_t now = time_ns();
	if (now < hv->linux_tick_due_ns) /* the loop woke up for something else */
		return (int)((hv->linux_tick_due_ns - now + 999999) / 1000000);
	for (int i = 0; i < HV_MAX_DOMAINS; i++) {
		struct domain *d = hv->domains[i];
		int32_t cpu, suppress = 0;
		char msg[256];
		enum domain_state st;
		if (!d || ksyms_loading(d) || !d->kernel.is_linux || !d->kernel.linux_panic_cpu)
			continue;
		st = domain_state_now(d);
		if (st != DOMAIN_RUNNING && st != DOMAIN_BLOCKED)
			continue; /* paused domains are looked at when they run again */
		any = true;
		if (!read_pa(d, d->kernel.linux_panic_cpu, &cpu, sizeof(cpu)) || cpu == PANIC_CPU_INVALID) {
			d->linux_panic_seen_ns = 0;
			continue;
		}
		if (!d->linux_panic_seen_ns)
			d->linux_panic_seen_ns = time_ns();
		(void)read_pa(d, d->kernel.linux_suppress_printk, &suppress, sizeof(suppress));
		if (!suppress && time_ns() - d->linux_panic_seen_ns < PANIC_GRACE_NS)
			continue;
		panic_message(d, msg, sizeof(msg));
		domain_post_event(d, EVENT_CRASH, "Linux kernel panic on CPU %d: %s", cpu, msg);
	}
	hv->linux_tick_due_ns = any ? now + LINUX_TICK_MS * 1000000ull : 0;
	return any ? LINUX_TICK_MS : -1;
}

/* VMCOREINFO as the kernel itself keeps it (vmcoreinfo_data, filled at boot by
 * crash_save_vmcoreinfo_init: OSRELEASE, PAGESIZE, SYMBOL(), OFFSET(), SIZE(), NUMBER(),
 * KERNELOFFSET, ...), or 0 when the kernel has none yet. */
size_t kernel_linux_vmcoreinfo(struct domain *d, char *buf, size_t len)
{
	uint64_t data = 0, size = 0, pob = 0, pa;
	const char *p;
	if (!read_pa(d, d->kernel.linux_vmcoreinfo_data, &data, sizeof(data)) ||
	    !read_pa(d, d->kernel.linux_vmcoreinfo_size, &size, sizeof(size)) || !data || !size || size >= len ||
	    !read_pa(d, d->kernel.linux_page_offset_base, &pob, sizeof(pob)))
		return 0;
	if (data >= START_KERNEL_MAP)
		pa = data - START_KERNEL_MAP;
	else if (data >= pob)
		pa = data - pob;
	else
		return 0;
	if (!(p = mem_ptr(&d->mem, pa, size)) || memchr(p, 0, size))
		return 0; /* not text: not what crash_save_vmcoreinfo_init wrote */
	memcpy(buf, p, size);
	buf[size] = 0;
	return size;
}
