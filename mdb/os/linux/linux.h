/* linux: what the files of hvmdb's Linux module share (private to mdb/os/linux/): the kernel's
 * relocation, and helpers that read it (symbols, bounded reads, per-CPU variables,
 * VMCOREINFO, member offsets). */
#ifndef HVKIT_ANALYZE_LINUX_H
#define HVKIT_ANALYZE_LINUX_H

#include "mdb/mdb.h"

#define LINUX_KERNEL_MAP 0xffffffff80000000ull /* __START_KERNEL_map: link addresses from here up */
#define LINUX_KASLR_MAX (1ull << 30)           /* KERNEL_IMAGE_SIZE: the offset stays below */
#define LINUX_KASLR_ALIGN (2ull << 20)         /* CONFIG_PHYSICAL_ALIGN of x86-64 kernels */
#define LINUX_MAX_CPUS 8192

struct linux_kernel {
	uint64_t kaslr;       /* KERNELOFFSET: added to every link address of the image */
	int64_t phys_base;    /* physical = virtual - __START_KERNEL_map + phys_base */
	bool phys_base_known;
	char how[80];         /* where the offset came from */
	char banner[512];     /* the vmlinux's linux_banner */
	char *vmcoreinfo;     /* read from RAM when the dump has no VMCOREINFO note; owned */
	void *tasks, *log;    /* layouts of linux_tasks.c and linux_log.c, on first use; free()d */
	void *orc;            /* linux_orc.c's tables, on first use */
	struct linux_module *mods; /* linux_mod.c: the loaded modules, on first use (nmods, -1: unknown) */
	long nmods;
};

/* linux.c: the module's life (linux_os.c's ops). linux_attach works out the KASLR offset
 * (kaslr: "--kaslr OFFSET", else from VMCOREINFO or the dump alone) and phys_base,
 * relocates the symbols and checks the vmlinux's banner against the dump's: -1 with a
 * message when it differs; 0 (and nothing done) for other kernels, 1 for a Linux kernel
 * (t->os_priv is then its struct linux_kernel). */
int linux_attach(struct target *t, const char *kaslr, struct err *e);
void linux_close(struct target *t);
/* The kernel's release and relocation for ::status; with t->json, JSON members:
 * ', "linux": {...}, "sys": {...}'. */
void linux_status(struct target *t, FILE *out);
/* linux_tasks.c: ps (crash's columns; -v: with stacks). linux_log.c: the printk ring.
 * linux_bt.c: bt, $c: stacks unwound with the kernel's ORC tables; args: NULL or "" (the
 * current CPU's task), "-a" (every CPU's), a PID or a task address, "-l" (file:line). */
int linux_cmd_ps(struct target *t, const char *args, FILE *out);
/* crash's foreach VERB for the tasks the selectors pick (the OS op): ps rows, bt (-l), task. */
int linux_foreach(struct target *t, const char *verb, char *const *sel, size_t nsel, const char *args, FILE *out);
int linux_cmd_bt(struct target *t, const char *args, FILE *out);
int linux_cmd_log(struct target *t, FILE *out);
/* linux_sys.c: sys (crash's fields). linux_mod.c: mod (the loaded modules, crash's columns). */
int linux_cmd_sys(struct target *t, FILE *out);
void linux_sys_json(struct target *t, FILE *out); /* sys as one JSON object, no newline */
int linux_cmd_mod(struct target *t, FILE *out);

/* linux_kaslr.c: the offset and phys_base from the dump alone (the kernel text mapping
 * through a vCPU's CR3, else the kernel's VMCOREINFO text in RAM); -1 when neither, with
 * the release of another kernel's VMCOREINFO seen in RAM in seen_rel (or ""). */
int linux_find_kaslr(struct target *t, uint64_t banner_link, struct linux_kernel *l, char *seen_rel, size_t seen_len);
/* The kernel's VMCOREINFO text in RAM (vmcoreinfo_data), owned by the caller; or NULL. */
char *linux_read_vmcoreinfo(struct target *t);

/* linux_tasks.c: every task (each CPU's idle task, every process and thread), sorted by
 * PID, *n of them; note says why a walk stopped early (or is ""). NULL after a message on
 * out when the kernel's layout is unknown. free() it. */
struct linux_task {
	uint64_t addr;
	int32_t pid, ppid, cpu;
	char st[3], comm[17];
	bool kernel, current;
};
struct linux_task *linux_tasks(struct target *t, size_t *n, char *note, size_t note_len, FILE *out);
/* linux_bt.c: a "PID: ..." line and the task's stack (lines: with file:line). */
void linux_bt_task(struct target *t, const struct linux_task *k, bool lines, FILE *out);
/* task->thread.sp: where a task that is not running saved its stack (inactive_task_frame). */
bool linux_task_saved_sp(struct target *t, uint64_t task, uint64_t *sp);

/* linux_orc.c: one step of the ORC unwinder from *s to the caller's frame: 1, 0 at the end
 * of the stack (s->user: at a return to user mode, whose registers are in s->ip, s->sp),
 * or -1 with why. The tables are loaded on first use (into linux_kernel.orc). */
struct linux_unwind {
	uint64_t ip, sp, bp;
	bool signal;     /* ip is where the CPU was (a vCPU or a pt_regs frame), not a return address */
	bool regs_full;  /* the registers below are known: the vCPU's, or the last pt_regs frame's */
	uint64_t r10, r13, di, dx, reg_bp;
	uint64_t regs_at; /* the pt_regs (or iret frame) the last step crossed, or 0 */
	bool user;
};
int linux_orc_step(struct target *t, struct linux_unwind *s, char *why, size_t len);
void linux_orc_free(void *orc);

/* linux_mod.c: a loaded module, its symbols (linux_modsym.c) and ORC table (linux_orc.c)
 * read from the dump on first use. The list is read once, when first needed, and kept. */
struct linux_module {
	uint64_t addr, base, size; /* struct module; its core memory (6.4+: text's base, every kind's size) */
	char name[57];
	bool syms_read, orc_read;
	struct symtab syms;        /* its kallsyms (mod->core_kallsyms) */
	void *orc;                 /* its ORC table; NULL when it has none */
};
/* The module whose core memory holds addr, or NULL. */
struct linux_module *linux_module_at(struct target *t, uint64_t addr);
void linux_modules_free(struct linux_kernel *l);
/* linux_modsym.c: the module symbol at or below addr (code: code symbols only), its module's
 * name in *module; NULL when addr is in no module or none covers it. */
const struct symbol *linux_module_sym(struct target *t, uint64_t addr, bool code, const char **module);

/* linux_sys.c: the printk log's panic message ("Kernel panic - not syncing: ...") and the
 * CPU in panic_cpu (-1: none); false when the kernel did not panic. */
bool linux_panic(struct target *t, char *msg, size_t len, int *cpu);

/* A symbol's (relocated) address; 0 when the vmlinux has none. */
uint64_t linux_sym(struct target *t, const char *name);
/* Exactly len bytes of kernel virtual memory, or false. */
bool linux_read(struct target *t, uint64_t va, void *buf, size_t len);
/* The VMCOREINFO text: the dump's note, else the copy in RAM; NULL when neither. */
const char *linux_vmcoreinfo(struct target *t);
/* "KEY=value" of a VMCOREINFO text as a number (base 16 for KERNELOFFSET, else 10). */
bool linux_vmcoreinfo_num(const char *vi, const char *key, int64_t *v);
/* CPUs the kernel knows (nr_cpu_ids, at most LINUX_MAX_CPUS). */
unsigned linux_nr_cpus(struct target *t);
/* The address of per-CPU variable var (its .data..percpu link address) on cpu. */
bool linux_percpu(struct target *t, unsigned cpu, uint64_t var, uint64_t *addr);
/* dwarf_fields, answered first from VMCOREINFO (OFFSET(type.member)=, SIZE(type)=). */
int linux_fields(struct target *t, const char *cu_hint, struct dwarf_field *f, size_t n);

#endif
