"""End to end, issue 16: crash's p EXPR, whatis and foreach, and mdb's ::print -t, on the
Linux fixture, against the real crash (`crash -s VMLINUX DUMP`, the same dump): the same
lines, value for value ($N numbering, decimal integers, gdb's strings, pointers with the
symbol they point into, struct definitions with their offsets)."""
import os
import re
import shutil
import subprocess

import pytest

from test_linux import DUMPS, VMLINUX, mdb, ps_rows

DUMP = "idle-vmci.elf"
needs_crash = pytest.mark.skipif(not shutil.which("crash"), reason="crash is not installed")

# Expressions a crash user types: members, ->, [i], &, *, casts, sizeof, each format.
P = ["p init_task.pid", "p init_task.comm", "p &init_task", "p jiffies", "p/x jiffies", "p -x jiffies",
     "p sizeof(struct task_struct)", "p sizeof(int)", "p nr_cpu_ids", "p init_task.se.load", "p saved_command_line",
     "p *saved_command_line", "p linux_banner", "p __per_cpu_offset[1]", "p max_pfn", "p init_task.tasks",
     "p &init_task.tasks", "p init_task.prio", "p/x init_task.flags", "p init_task.mm", "p panic_cpu",
     "p init_task.real_parent", "p init_task.real_parent->pid", "p &init_task.comm", "p init_task.cpus_ptr",
     "p *init_task.cpus_ptr", "p init_task.rcu_read_unlock_special", "p init_task.sched_reset_on_fork",
     "p *(struct list_head *)init_task.tasks.next", "p &init_task.tasks + 1", "p &schedule", "px panic_cpu",
     "px init_task.comm", "px init_task.real_parent", "p/x init_task.real_parent", "pd jiffies",
     "p/d init_task.comm[0]", "p init_task.comm[1]", "p 10-3", "p init_task.thread.fpu", "p init_uts_ns"]
WHATIS = ["whatis nr_cpu_ids", "whatis jiffies", "whatis linux_banner", "whatis schedule", "whatis pid_t",
          "whatis u64", "whatis atomic_t", "whatis spinlock_t", "whatis -o spinlock_t", "whatis struct list_head",
          "whatis -o struct list_head", "whatis enum pid_type", "whatis struct timer_list", "whatis struct rq_flags",
          "whatis struct pin_cookie", "whatis struct task_struct", "whatis -o struct task_struct",
          "whatis -o struct sched_entity", "whatis struct page", "whatis init_task.pid", "whatis &init_task.comm",
          "whatis *init_task.cpus_ptr", "whatis init_task.real_parent->comm[0]", "whatis init_task.se"]


def crash(cmds, dump=DUMP):
    """crash's output of cmds, without its noise on this dump (the idle CPUs' stack reads)."""
    r = subprocess.run(["crash", "-s", VMLINUX, os.path.join(DUMPS, dump)], input="\n".join(cmds + ["quit"]) + "\n",
                       capture_output=True, text=True, timeout=300)
    return [l for l in (r.stdout + r.stderr).splitlines() if l and not l.startswith("bt: ")]


def ours(cmds, dump=DUMP):
    r = mdb(dump, "; ".join(cmds))
    assert r.returncode == 0 and not r.stderr, r.stdout[-2000:] + r.stderr
    return [l for l in r.stdout.splitlines() if l]


@needs_crash
@pytest.mark.usefixtures("linux_fixture")
def test_p_prints_what_crash_prints():
    got, want = ours(P), crash(P)
    assert len(got) == len(want), (len(got), len(want))
    for a, b in zip(got, want):
        assert a == b, (a, b)
    # the values themselves, read another way: init_task's address is the symbol's, jiffies the 8 bytes there
    nm = {f[2]: int(f[0], 16) for f in (l.split() for l in mdb(DUMP, "::nm init_task").stdout.splitlines()[1:])
          if len(f) == 3}
    assert "$3 = (struct task_struct *) %#x <init_task>" % nm["init_task"] in got
    words = mdb(DUMP, "jiffies/J").stdout.split()
    assert "jiffies = $4 = %d" % int(words[-1], 16) in got


@needs_crash
@pytest.mark.usefixtures("linux_fixture")
def test_whatis_prints_what_crash_prints():
    got, want = ours(WHATIS), crash(WHATIS)
    assert got == want, "\n".join(l for l in got if l not in want)[:3000]
    assert "SIZE: 9728" in got and "  [2976] char comm[16];" in got  # task_struct, comm, as ::offsetof says
    assert "offsetof (struct task_struct, comm) = 0xba0" in mdb(DUMP, "::offsetof struct task_struct comm").stdout


@pytest.mark.usefixtures("linux_fixture")
def test_p_errors_are_one_line_and_take_no_number():
    r = mdb(DUMP, "p 1; p nosuch; p init_task.nosuch; p init_task.; p init_task.comm[; p (struct nosuch *)0; "
                  "p 1 2; p &1; p *jiffies; p init_task->pid; p/z jiffies; p (struct task_struct)0; "
                  "whatis struct nosuch; whatis -z; p 2")
    assert r.returncode == 1
    assert r.stdout.splitlines() == [
        "$1 = 1",
        "mdb: p: no symbol nosuch",
        "mdb: p: struct task_struct has no member named nosuch",
        "mdb: p: a member name expected at ''",
        "mdb: p: an expression expected",
        "mdb: p: no struct nosuch in the symbol file's DWARF",
        "mdb: p: unexpected '2'",
        "mdb: p: cannot take the address of a value that is not in memory",
        "mdb: p: not a pointer or an array",
        "mdb: p: not a pointer or an array",
        "mdb: p: p/x (hex) or p/d (decimal), not 'p/z'",
        "mdb: p: a number cannot be cast to a struct or union (cast to a pointer, then *)",
        "mdb: whatis: no type or symbol 'struct nosuch' in the symbol file's DWARF",
        "mdb: whatis [-o] struct|union|enum NAME | TYPEDEF | SYMBOL, not -z",
        "$2 = 2"], r.stdout


@needs_crash
@pytest.mark.usefixtures("linux_fixture")
def test_foreach_ps_bt_task():
    """foreach VERB for the tasks the selectors pick. crash 8.0.2 lists only the CPUs' idle
    tasks on these dumps: the active ones are compared with it, the rest with our ps."""
    ps = ps_rows(mdb(DUMP, "ps").stdout)
    assert ps_rows(mdb(DUMP, "foreach ps").stdout) == ps
    active = [r for r in ps if r[0]]
    assert len(active) == 2 and ps_rows(mdb(DUMP, "foreach active ps").stdout) == active
    theirs = [r[:6] + (r[6].split()[-1].strip("[]"),) for r in ps_rows("\n".join(crash(["foreach ps"])))]
    assert theirs == active  # crash's %MEM VSZ RSS columns left out
    # selectors: PIDs, a name, a task address, kernel and user threads, a state
    assert [r[1] for r in ps_rows(mdb(DUMP, "foreach 1 2 ps").stdout)] == [1, 2]
    kthreadd = [r for r in ps if r[6] == "kthreadd"][0]
    assert ps_rows(mdb(DUMP, "foreach kthreadd ps").stdout) == [kthreadd]
    assert ps_rows(mdb(DUMP, "foreach %s ps" % kthreadd[4]).stdout) == [kthreadd]
    out = mdb(DUMP, "foreach user ps").stdout
    assert out.count("[") == 0 and {r[6] for r in ps_rows(out)} == {"init", "sleep"}, out
    assert all("[" in l for l in mdb(DUMP, "foreach kernel ps").stdout.splitlines()[1:])
    assert {r[5] for r in ps_rows(mdb(DUMP, "foreach ID ps").stdout)} == {"ID"}
    # bt: each task's stack under crash's PID line, as bt PID prints it
    r = mdb(DUMP, "foreach kthreadd 1 bt")
    assert r.stdout == mdb(DUMP, "bt 1").stdout + "\n" + mdb(DUMP, "bt 2").stdout, r.stdout
    # task: crash's task output, the same as crash's foreach task for the tasks crash knows
    got = [l for l in mdb(DUMP, "foreach active task").stdout.splitlines() if l]
    assert got == crash(["foreach task"])
    assert got[0] == 'PID: 0        TASK: %s  CPU: 0    COMMAND: "swapper/0"' % active[0][4]
    # what is not here is said, with the verbs that are
    r = mdb(DUMP, "foreach vm; foreach bogus; foreach 99999 ps; foreach ps -x")
    assert r.returncode == 1 and r.stdout.splitlines() == [
        "mdb: foreach: crash's 'vm' is not here: the verbs are bt, ps and task",
        "mdb: foreach: no verb in 'bogus': the verbs are bt, ps and task",
        "mdb: foreach: no task is one of those asked for (ps lists them)",
        "mdb: foreach ps: no flags, not '-x'"], r.stdout


@pytest.mark.usefixtures("linux_fixture")
def test_print_t_names_each_members_type():
    """mdb's ::print -t: "type name = value" for each member, and for a member path."""
    task = [r for r in ps_rows(mdb(DUMP, "ps").stdout) if r[1] == 1][0][4]
    r = mdb(DUMP, "0x%s::print -t struct task_struct; 0x%s::print -t struct task_struct comm se.load.weight "
                  "real_parent" % (task, task))
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert re.search(r"^    char \[16\] comm = \"init\"$", out, re.M), out[:2000]
    assert re.search(r"^    struct task_struct \*real_parent = 0x[0-9a-f]+", out, re.M)
    assert re.search(r"^    unsigned int sched_reset_on_fork :1 = 0x[01]$", out, re.M)
    assert re.search(r"^            unsigned long weight = 0x100000$", out, re.M)  # se.load.weight, nested
    tail = out.splitlines()[-3:]
    assert tail[0] == 'char [16] comm = "init"' and tail[1] == "unsigned long se.load.weight = 0x100000", tail
    assert re.match(r"struct task_struct \*real_parent = 0x[0-9a-f]+", tail[2]), tail
