/* regs: 'd' dumps the registers of every vCPU of every domain, '0' those of dom0: each
 * vCPU is held out of the guest for the snapshot, so hung guests answer too. RIP and
 * return addresses are named from the kernel's symbols; the call trace is Linux's ORC
 * stack on a Linux domain (kmdb_stack_os, the bt of hvmdb), else it follows frame pointers
 * through guest memory, best effort (kmdb_stack_fp: the engine's unwinder). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "kmdb/kmdb.h"
#include "mdb/mdb.h"
#include "mdb/unwind.h"
#include "x86/x86.h"

static const char *cpu_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & 1))
		return "real mode";
	if ((s->efer & 0x400) && s->cs.l)
		return "64-bit mode";
	if (s->efer & 0x400)
		return "compatibility mode";
	return s->cs.db ? "32-bit protected mode" : "16-bit protected mode";
}

static void sym(struct hv *hv, int id, uint64_t a, char *buf, size_t len)
{
	if (!hv_symbolize_code(hv, id, a, false, buf, len))
		snprintf(buf, len, "?");
}

/* The Linux module's bt of this vCPU (ORC), a line each. */
static void os_trace(struct hv *hv, struct target *os, unsigned cpu)
{
	char *buf = NULL, *line, *save;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	out(hv, "Call trace (ORC, as hvmdb's bt):");
	kmdb_stack_os(os, cpu, f);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		out(hv, "  %s", line);
	free(buf);
}

static void dump_stack(struct hv *hv, int id, const struct vcpu_snapshot *s, struct target *os)
{
	uint64_t words[12], rsp = s->regs.rsp;
	size_t n = hv_read_virt(hv, id, s->index, rsp, words, sizeof(words)) / 8;
	char line[256], name[128];
	int len = 0;
	struct unwind_stack *st = xcalloc(1, sizeof(*st));
	struct x86_regs x;

	out(hv, "Guest stack at rsp %016llx:", (unsigned long long)rsp);
	if (!n)
		out(hv, "   (not mapped)");
	for (size_t i = 0; i < n; i++) {
		len += snprintf(line + len, sizeof(line) - (size_t)len, " %016llx", (unsigned long long)words[i]);
		if (i % 4 == 3 || i + 1 == n) {
			out(hv, "  %s", line);
			len = 0;
		}
	}
	if (os) {
		os_trace(hv, os, s->index);
		free(st);
		return;
	}
	out(hv, "Call trace (frame pointers):");
	hv_regs_from_kvm(&s->regs, &s->sregs, &x);
	kmdb_stack_fp(hv, id, s->index, &x, st);
	for (size_t i = 0; i < st->n; i++) {
		const struct unwind_frame *f = &st->f[i];
		if (f->kind == UNWIND_TOP)
			sym(hv, id, f->pc, name, sizeof(name));
		else if (!hv_symbolize_code(hv, id, f->pc, true, name, sizeof(name)))
			snprintf(name, sizeof(name), "?");
		out(hv, "   [<%016llx>] %s%s", (unsigned long long)f->pc, f->kind == UNWIND_GUESS ? "? " : "", name);
	}
	if (st->why == UNWIND_STOP_ERROR && st->stop.pc)
		out(hv, "   [<%016llx>] ? (trace ends: not a kernel text address)", (unsigned long long)st->stop.pc);
	free(st);
}

void dbgkeys_dump_vcpu(struct hv *hv, int id, const char *dname, const struct vcpu_snapshot *s, struct target *os)
{
	const struct kvm_regs *r = &s->regs;
	const struct kvm_sregs *sr = &s->sregs;
	char name[128];

	out(hv, "*** Dumping %s vCPU %u: %s, %s", dname, s->index,
	    s->online ? dbgkeys_mp_state(s->mp.mp_state) : "not started by the guest",
	    s->running ? "held out of the guest" : "stopped");
	if (!s->online)
		return;
	sym(hv, id, r->rip, name, sizeof(name));
	out(hv, "RIP:    %04x:[<%016llx>] %s", sr->cs.selector, (unsigned long long)r->rip, name);
	out(hv, "RFLAGS: %016llx   CONTEXT: guest %s, CPL %u", (unsigned long long)r->rflags, cpu_mode(sr),
	    sr->cs.selector & 3);
	out(hv, "rax: %016llx   rbx: %016llx   rcx: %016llx", (unsigned long long)r->rax,
	    (unsigned long long)r->rbx, (unsigned long long)r->rcx);
	out(hv, "rdx: %016llx   rsi: %016llx   rdi: %016llx", (unsigned long long)r->rdx,
	    (unsigned long long)r->rsi, (unsigned long long)r->rdi);
	out(hv, "rbp: %016llx   rsp: %016llx   r8:  %016llx", (unsigned long long)r->rbp,
	    (unsigned long long)r->rsp, (unsigned long long)r->r8);
	out(hv, "r9:  %016llx   r10: %016llx   r11: %016llx", (unsigned long long)r->r9,
	    (unsigned long long)r->r10, (unsigned long long)r->r11);
	out(hv, "r12: %016llx   r13: %016llx   r14: %016llx", (unsigned long long)r->r12,
	    (unsigned long long)r->r13, (unsigned long long)r->r14);
	out(hv, "r15: %016llx   cr0: %016llx   cr4: %016llx", (unsigned long long)r->r15,
	    (unsigned long long)sr->cr0, (unsigned long long)sr->cr4);
	out(hv, "cr3: %016llx   cr2: %016llx   efer: %016llx", (unsigned long long)sr->cr3,
	    (unsigned long long)sr->cr2, (unsigned long long)sr->efer);
	out(hv, "ds: %04x   es: %04x   fs: %04x   gs: %04x   ss: %04x   cs: %04x", sr->ds.selector, sr->es.selector,
	    sr->fs.selector, sr->gs.selector, sr->ss.selector, sr->cs.selector);
	out(hv, "fsbase: %016llx   gsbase: %016llx   kernel_gsbase: %016llx", (unsigned long long)sr->fs.base,
	    (unsigned long long)sr->gs.base, (unsigned long long)s->msr_kernel_gs_base);
	dump_stack(hv, id, s, os);
}

static void dump_domain(struct hv *hv, int id)
{
	struct domain_info di;
	struct vcpu_snapshot *s;
	struct target *os;
	unsigned n;
	struct err e;

	if (hv_domain_info(hv, id, &di, &e) < 0)
		return;
	/* Hold every vCPU for the whole dump: registers, stacks and traces of one instant. */
	hv_domain_hold(hv, id);
	s = dbgkeys_snapshot(hv, id, &n);
	os = s ? kmdb_stack_os_open(hv, id, s, n) : NULL; /* Linux: ORC stacks */
	for (unsigned i = 0; s && i < n; i++)
		dbgkeys_dump_vcpu(hv, id, di.name, &s[i], os);
	target_close(os);
	hv_domain_release(hv, id);
}

void dbgkeys_key_regs(struct hv *hv, unsigned char key)
{
	int ids[64];
	unsigned n = dbgkeys_domains(hv, ids, 64);
	out(hv, "'%c' pressed -> dumping registers", key);
	for (unsigned i = 0; i < n; i++)
		dump_domain(hv, ids[i]);
}

void dbgkeys_key_regs0(struct hv *hv, unsigned char key)
{
	out(hv, "'%c' pressed -> dumping dom0's registers", key);
	dump_domain(hv, 0);
}
