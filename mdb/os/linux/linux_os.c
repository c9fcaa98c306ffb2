/* linux_os: the Linux module's face to the engine: its dcmd rows (crash's ps, log, sys, mod
 * and mdb's ::ps, ::msgbuf, ::modinfo), its stack op (bt and $c: ORC), ::status's lines,
 * the panic message, and module code named from the modules' kallsyms. */
#include "linux.h"
#include "linux_os.h"

static int row_ps(struct target *t, struct mdb_args *a, FILE *out)
{
	return linux_cmd_ps(t, a->arg, out);
}

static int row_log(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	return linux_cmd_log(t, out);
}

static int row_sys(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	return linux_cmd_sys(t, out);
}

static int row_mod(struct target *t, struct mdb_args *a, FILE *out)
{
	(void)a;
	return linux_cmd_mod(t, out);
}

static const struct mdb_dcmd dcmds[] = {
	{ "ps", "", "crash's ps: every task (PID, PPID, CPU, TASK, ST, COMM)", row_ps, MDB_NOARGS },
	{ "::ps", "[-v]", "every task in crash's columns (-v: with its stack)", row_ps, 0 },
	{ "::threads", "[-v]", "every task (::ps)", row_ps, 0 },
	{ "log", "", "crash's log: the printk ring", row_log, MDB_NOARGS },
	{ "::msgbuf", "", "the printk ring (log)", row_log, 0 },
	{ "sys", "", "crash's sys: release, CPUs, uptime, memory, tasks, panic (also in ::status)", row_sys, MDB_NOARGS },
	{ "mod", "", "crash's mod: the loaded modules", row_mod, MDB_NOARGS },
	{ "::modinfo", "", "the loaded modules (mod)", row_mod, 0 },
};

static int os_attach(struct target *t, const char *reloc, struct err *e)
{
	return linux_attach(t, reloc, e);
}

static const struct symbol *os_symbolize(struct target *t, uint64_t addr, bool code, const char **module)
{
	return linux_module_sym(t, addr, code, module);
}

const struct mdb_os mdb_os_linux = {
	.name = "linux",
	.hint = "for Linux kernels (hvmdb -s vmlinux)",
	.attach = os_attach,
	.close = linux_close,
	.dcmds = dcmds,
	.nr_dcmds = sizeof(dcmds) / sizeof(dcmds[0]),
	.stack = linux_cmd_bt,
	.stack_usage = "[-a] [-l] [PID | TASK]...: ORC stacks; -a every CPU's, PIDs in the order given, -l file:line and inlined calls",
	.status = linux_status,
	.status_more = linux_cmd_sys,
	.panic = linux_panic,
	.symbolize = os_symbolize,
	.foreach = linux_foreach,
};
