"""End to end: hvmdb on QEMU dumps of a Debian Linux guest (scripts/linux-fixture.sh): the
KASLR offset and phys_base of every dump (from VMCOREINFO, from the dump alone, from
--kaslr), a vmlinux that does not match refused with one message, `ps` against drgn's task
list and crash's current tasks, `log` against crash's. Without the fixture (make test builds
it) they fail, saying why; HVKIT_NO_LINUX=1 skips them."""
import json
import os
import re
import subprocess

import pytest

from conftest import BUILD, ASAN_ENV, HVMDB

from linuxfix import CACHE, DUMPS, VMLINUX  # noqa: F401 (CACHE: for the modules that import it from here)

pytestmark = pytest.mark.usefixtures("linux_fixture")  # fails without the fixture (linuxfix.py)


def manifest():
    """NAME -> dict of the manifest's key=value words."""
    out = {}
    with open(os.path.join(DUMPS, "manifest.txt")) as f:
        for line in f:
            words = line.split()
            if words:
                out[words[0]] = dict(w.split("=", 1) for w in words[1:] if "=" in w)
    return out


# Every dump hvmdb reads (QEMU's flattened kdump needs `makedumpfile -R` first).
DUMP_NAMES = ["idle-vmci.elf", "idle-vmci-paging.elf", "idle-vmci.kdump", "idle-novmci.elf", "idle-nokaslr.elf",
              "crash-vmci.elf", "busy-vmci.elf"]
ST_LETTER = {"RU": "R", "IN": "S", "UN": "D", "ST": "T", "TR": "t", "DE": "X", "ZO": "Z", "PA": "P", "ID": "I"}
PS_LINE = re.compile(r"^([ >])\s*(\d+)\s+(\d+)\s+(\d+)\s+([0-9a-f]{16})\s+(RU|IN|UN|ST|TR|DE|ZO|PA|ID)\s+(.*)$")


def mdb(dump, cmds, *extra, sym=VMLINUX):
    args = [HVMDB] + (["-s", sym] if sym else []) + list(extra) + [os.path.join(DUMPS, dump), "-c", cmds]
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=ASAN_ENV)


def ps_rows(out):
    """(current, pid, ppid, cpu, task, state, comm without crash's [brackets])"""
    rows = []
    for line in out.splitlines():
        m = PS_LINE.match(line)
        if m:
            comm = m.group(7)
            if comm.startswith("[") and comm.endswith("]"):
                comm = comm[1:-1]
            rows.append((m.group(1) == ">", int(m.group(2)), int(m.group(3)), int(m.group(4)), m.group(5),
                         m.group(6), comm))
    return rows


def crash_section(name, first, last):
    """The lines of NAME.crash.txt from the one matching first up to the one matching last."""
    with open(os.path.join(DUMPS, name + ".crash.txt")) as f:
        text = f.read().splitlines()
    start = next(i for i, l in enumerate(text) if re.match(first, l))
    end = next(i for i in range(start + 1, len(text)) if re.match(last, text[i]))
    return text[start:end]


@pytest.mark.parametrize("name", DUMP_NAMES)
def test_kaslr_phys_base_and_ps(name):
    """The offset and phys_base of the manifest on every dump (VMCOREINFO, or the kernel text
    mapping without it); the whole task list; the current tasks crash marks with '>'."""
    want = manifest()[name]
    r = mdb(name, "::status; ps")
    assert r.returncode == 0, r.stdout + r.stderr
    m = re.search(r"^Linux 6\.\S+, KASLR offset 0x([0-9a-f]+) \(from (.*)\), phys_base (-?)0x([0-9a-f]+)$", r.stdout, re.M)
    assert m, r.stdout
    assert int(m.group(1), 16) == int(want["kerneloffset"], 16)
    assert int(m.group(3) + m.group(4), 16) == int(want["phys_base"])
    assert m.group(2) == ("VMCOREINFO" if want["vmcoreinfo-device"] == "yes" else "the kernel text mapping (CPU 0's CR3)")
    rows = ps_rows(r.stdout)
    assert len(rows) >= 55, r.stdout  # 2 idle tasks, init, kthreads, 2-3 sleeps, ...
    assert [(row[1], row[3], row[6]) for row in rows[:2]] == [(0, 0, "swapper/0"), (0, 1, "swapper/1")]
    assert (1, 0, "init") in [(row[1], row[2], row[6]) for row in rows]
    assert len([row for row in rows if row[2] == 1]) >= 2  # init's children (the sleeps, or being made)
    crash_cur = {(int(l.split()[1]), int(l.split()[3]), l.split()[4])
                 for l in crash_section(name, r"\s+PID\s+PPID\s+CPU", r"PID: ")[1:] if l.startswith(">")}
    assert {(row[1], row[3], row[4]) for row in rows if row[0]} == crash_cur


def test_ps_equals_drgn():
    """On the one dump drgn reads: the same (pid, ppid, cpu, state, comm) for every task."""
    with open(os.path.join(DUMPS, "idle-vmci-paging.elf.drgn.txt")) as f:
        text = f.read()
    ps = text[text.index("== ps"):text.index("== bt")]
    drgn = {(int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), m.group(5))
            for m in re.finditer(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\S)\s+(.*)$", ps, re.M)}
    assert len(drgn) >= 50
    r = mdb("idle-vmci-paging.elf", "::ps")
    assert r.returncode == 0, r.stdout + r.stderr
    mine = {(row[1], row[2], row[3], ST_LETTER[row[5]], row[6]) for row in ps_rows(r.stdout) if row[1] != 0}
    assert mine == drgn


@pytest.mark.parametrize("name", ["idle-vmci.elf", "crash-vmci.elf", "idle-novmci.elf", "idle-vmci.kdump"])
def test_log_equals_crash(name):
    """The last 20 lines of `log` (and of ::msgbuf) are crash's."""
    with open(os.path.join(DUMPS, name + ".crash.txt")) as f:
        crash_tail = f.read().splitlines()[-20:]  # the record ends with crash's `log`
    r = mdb(name, "log; ::msgbuf")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) % 2 == 0
    half = len(lines) // 2
    assert lines[:half] == lines[half:]
    assert lines[0].startswith("[    0.000000] Linux version 6.1.0-")
    assert lines[half - 20:half] == crash_tail
    if name == "crash-vmci.elf":
        assert "Kernel panic - not syncing: sysrq triggered crash" in r.stdout


def test_ps_json():
    r = mdb("busy-vmci.elf", "::ps", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    tasks = json.loads(r.stdout)
    busy = [t for t in tasks if t["current"] and t["pid"] != 0]
    assert len(busy) == 1 and busy[0]["comm"] == "sh" and busy[0]["state"] == "RU" and not busy[0]["kernel"]
    assert all(re.match(r"0x[0-9a-f]+$", t["task"]) for t in tasks)


def test_kaslr_option():
    """--kaslr gives the offset (phys_base then from the page tables); a wrong one is refused."""
    off = manifest()["idle-novmci.elf"]["kerneloffset"]
    r = mdb("idle-novmci.elf", "::status; ps", "--kaslr", off)
    assert r.returncode == 0, r.stdout + r.stderr
    pb = int(manifest()["idle-novmci.elf"]["phys_base"])  # what the fixture recorded for that boot
    assert f"KASLR offset {off} (from --kaslr), phys_base {'-' if pb < 0 else ''}{hex(abs(pb))}" in r.stdout
    assert len(ps_rows(r.stdout)) >= 55
    for bad in ["0x200000", "zz", "0x40000000"]:
        r = mdb("idle-novmci.elf", "ps", "--kaslr", bad)
        assert r.returncode == 1 and r.stdout == "", r.stdout + r.stderr
        assert len(r.stderr.splitlines()) == 1 and r.stderr.startswith("hvmdb: "), r.stderr
    r = mdb("idle-novmci.elf", "ps", "--kaslr", "0", sym=None)
    assert r.returncode == 1 and "--kaslr needs the vmlinux" in r.stderr


def test_other_vmlinux_refused(tmp_path):
    """A vmlinux of another kernel (its banner differs): one message, with or without VMCOREINFO."""
    src = tmp_path / "fake.c"
    src.write_text('const char linux_banner[] = "Linux version 9.9.9-other (nobody@nowhere) #1 SMP\\n";\n')
    obj, fake = tmp_path / "fake.o", tmp_path / "vmlinux"
    subprocess.run(["gcc", "-c", "-O2", str(src), "-o", str(obj)], check=True)
    subprocess.run(["ld", "-Ttext=0xffffffff81000000", "-Tdata=0xffffffff82000000", "-e", "0", str(obj), "-o", str(fake)],
                   check=True, capture_output=True)
    for name in ["idle-vmci.elf", "idle-novmci.elf"]:
        r = mdb(name, "ps", sym=str(fake))
        assert r.returncode == 1 and r.stdout == "", r.stdout + r.stderr
        assert len(r.stderr.splitlines()) == 1, r.stderr
        assert "does not match the dump" in r.stderr and "9.9.9-other" in r.stderr
        assert "6.1.0-" in r.stderr  # the dumped kernel's release


FRAME = re.compile(r"^\s*#\d+ \[[0-9a-f]{16}\] (\S+?)(?:\+0x[0-9a-f]+)? at [0-9a-f]{16}", re.M)


def functions(text):
    return FRAME.findall(text)


def test_bt_panic_is_the_kernels_own_trace():
    """crash-vmci.elf: CPU 0's stack from panic down is the Call Trace the kernel printed (its
    lines without '?'), to the return to user mode; CPU 1 was stopped by panic's IPI
    wherever it was (in the cached fixture: in a timer softirq on its IRQ stack, so the
    unwinder crosses two pt_regs frames; another boot of the fixture may catch it elsewhere)."""
    with open(os.path.join(DUMPS, "crash-vmci.elf.crash.txt")) as f:
        log = f.read()
    trace = log[log.index("Call Trace:"):log.index("</TASK>", log.index("Call Trace:"))]
    kernel = [m.group(1) for m in re.finditer(r"^\[\s*[\d.]+\]\s+(\S+)\+0x[0-9a-f]+/0x[0-9a-f]+$", trace, re.M)]
    r = mdb("crash-vmci.elf", "bt -a")
    assert r.returncode == 0, r.stdout + r.stderr
    cpu0, cpu1 = r.stdout.split("\n\n")
    assert cpu0.startswith('PID: 1        TASK: ') and 'COMMAND: "init"' in cpu0
    mine = functions(cpu0)
    assert "panic" in kernel and mine[mine.index("panic"):] == kernel[kernel.index("panic"):], (mine, kernel)
    assert cpu0.rstrip().endswith("---") and "--- user mode: RIP 000000000047b7a0" in cpu0  # the RIP the log shows
    f1 = functions(cpu1)
    assert f1[0] == "stop_this_cpu" and "--- interrupted (pt_regs at" in cpu1 and "(stopped" not in cpu1, cpu1
    if "handle_softirqs" in f1:  # on its IRQ stack: the IPI's frame, then the one the softirq's IRQ left
        assert cpu1.count("--- interrupted (pt_regs at") == 2, cpu1
    assert "--- user mode" in cpu1 or re.search(r" (ret_from_fork|secondary_startup_64_no_verify)\+", cpu1), cpu1


def drgn_stacks(name, symbols):
    """pid -> the functions of drgn's trace in NAME.drgn.txt that are in symbols (so not the
    frames drgn adds for inlined calls)."""
    with open(os.path.join(DUMPS, name + ".drgn.txt")) as f:
        rec = f.read()
    drgn, pid = {}, None
    for line in rec[rec.index("== bt of every task"):rec.index("== log")].splitlines():
        m = re.match(r"PID (\d+) ", line)
        if m:
            pid = int(m.group(1))
            drgn[pid] = []
        m = re.match(r"#\d+\s+(\S+?)(?:\+0x\S+)?\s", line)
        if m and pid is not None and m.group(1) in symbols:
            drgn[pid].append(m.group(1))
    return drgn


def qemu_cpu_pids(drgn):
    """The last pid drgn 0.0.22 gets wrong: QEMU numbers its NT_PRSTATUS notes pid = CPU + 1,
    and drgn gives those pids their CPU's idle stack (pid 1 on a 1-CPU dump, 1 and 2 on a
    2-CPU one, as the fixture's current dumps are)."""
    n = 1
    while n + 1 in drgn and any(f[0] == "do_idle" if isinstance(f, tuple) else f == "do_idle" for f in drgn[n + 1]):
        n += 1
    return n


def test_bt_equals_drgn():
    """idle-vmci-paging.elf: every task's stack names drgn's functions, but for the frames drgn
    adds for inlined calls (no symbol of their own). Not pid 0 and 1: drgn 0.0.22 gives pid 1
    the trace of CPU 0's idle task (QEMU's NT_PRSTATUS pid) and no trace to the idle tasks."""
    nm = subprocess.run(["nm", VMLINUX], capture_output=True, text=True, timeout=60)
    if nm.returncode != 0:
        pytest.skip("no nm")
    text = {w[2] for w in (l.split() for l in nm.stdout.splitlines()) if len(w) == 3 and w[1] in "tT"}
    drgn = drgn_stacks("idle-vmci-paging.elf", text)
    r = mdb("idle-vmci-paging.elf", "::ps -v")
    assert r.returncode == 0, r.stdout + r.stderr
    mine = {}
    for block in re.split(r"\n(?=PID: )", r.stdout)[1:]:
        names = [f.replace("entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64") for f in functions(block)]
        mine.setdefault(int(block.split()[1]), names)
    compared = [p for p in drgn if p > qemu_cpu_pids(drgn)]
    assert len(compared) >= 50
    for p in compared:
        assert mine[p] == drgn[p], (p, mine[p], drgn[p])


def drgn_frames(dump):
    """drgn's recorded `prog.stack_trace` of every task: {pid: [(function, "file.c:line")]},
    inlined frames included."""
    with open(os.path.join(DUMPS, dump + ".drgn.txt")) as f:
        rec = f.read()
    frames, pid = {}, None
    for line in rec[rec.index("== bt of every task"):rec.index("== log")].splitlines():
        m = re.match(r"PID (\d+) ", line)
        if m:
            pid = int(m.group(1))
            frames[pid] = []
        m = re.match(r"#\d+\s+(\w+)(?:\+0x\S+)? \((?:\S*/)?([^/\s:]+):(\d+)(?::\d+)?\)$", line)
        if m and pid is not None:
            frames[pid].append((m.group(1), "%s:%s" % (m.group(2), m.group(3))))
    return frames


def test_bt_lines_and_inlined_calls_equal_drgn():
    """idle-vmci-paging.elf, `bt -l` of every task against drgn's stack traces, which show
    the calls the compiler inlined as frames: the same functions in the same order, each at
    the same file:line (an inlined call at the pc's line, the function around it at the
    line of the call). Not pid 0 and 1 (see test_bt_equals_drgn)."""
    drgn = drgn_frames("idle-vmci-paging.elf")
    r = mdb("idle-vmci-paging.elf", "; ".join("bt -l %d" % p for p in drgn if p > qemu_cpu_pids(drgn)))
    assert r.returncode == 0, r.stdout + r.stderr
    mine = {}
    for block in re.split(r"\n(?=PID: )", r.stdout):
        pid = int(block.split()[1])
        mine[pid] = []
        for line in block.splitlines()[1:]:
            m = re.match(r"    \(inlined\) (\w+)  (\S+)$", line) or \
                re.match(r" ?#\d+ \[[0-9a-f]+\] (\w+)\+0x[0-9a-f]+ at [0-9a-f]+  (\S+)$", line)
            if m:
                mine[pid].append((m.group(1).replace("entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64"),
                                  m.group(2)))
    compared = [p for p in drgn if p > qemu_cpu_pids(drgn) and drgn[p]]
    assert len(compared) >= 50
    for p in compared:
        assert mine[p] == drgn[p], (p, mine[p], drgn[p])
    assert "    (inlined) context_switch  core.c:" in r.stdout  # in __schedule, in every sleeping task


@pytest.mark.parametrize("name", DUMP_NAMES)
def test_every_stack_unwinds(name):
    """::ps -v: every task's stack ends where a kernel stack ends (ret_from_fork, the return to
    user mode, the idle tasks' start), never where the unwinder gave up."""
    r = mdb(name, "::ps -v")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "(stopped" not in r.stdout, r.stdout
    blocks = re.split(r"\n(?=PID: )", r.stdout)[1:]
    assert len(blocks) == len(ps_rows(r.stdout)) >= 55
    for b in blocks:
        lines = [l for l in b.splitlines() if l.startswith((" #", "#", "    ---"))]
        assert lines, b
        last = lines[-1]
        assert "--- user mode" in last or re.search(r" (ret_from_fork|secondary_startup_64_no_verify)[+ ]", last), b


def test_bt_lines_and_refusals():
    r = mdb("crash-vmci.elf", "bt -l 1; $c")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r" panic\+0x[0-9a-f]+ at [0-9a-f]{16}  panic\.c:\d+\n", r.stdout)
    assert re.search(r" ksys_write\+0x[0-9a-f]+ at [0-9a-f]{16}  read_write\.c:\d+\n", r.stdout)
    assert r.stdout.count('PID: 1        TASK:') == 2  # $c: CPU 0's task
    r = mdb("crash-vmci.elf", "bt 7777; bt -x")
    assert r.returncode == 1
    assert "mdb: no task 7777" in r.stdout and "mdb: bt [-a] [-l] [PID | TASK]...: not '-x'" in r.stdout
    # crash's bt PID PID...: each task in the order given; one not found is said, the others shown
    r = mdb("crash-vmci.elf", "bt 2 7777 1")
    assert r.returncode == 1 and "mdb: no task 7777" in r.stdout, r.stdout
    assert re.findall(r"^PID: (\d+) ", r.stdout, re.M) == ["2", "1"], r.stdout
    assert r.stdout.split("PID: 1 ")[1].split("\n\n")[0].strip() == mdb("crash-vmci.elf", "bt 1").stdout.split("PID: 1 ")[1].strip()


SYS_FIELDS = ["CPUS", "DATE", "UPTIME", "LOAD AVERAGE", "NODENAME", "RELEASE", "VERSION", "MACHINE", "MEMORY", "PANIC"]


def sys_fields(lines):
    """crash's `sys` lines as a dict: "RELEASE" -> "6.1.0-..."."""
    out = {}
    for line in lines:
        m = re.match(r"^\s*([A-Z][A-Z ]*[A-Z]): (.*)$", line)
        if m:
            out.setdefault(m.group(1), m.group(2))
    return out


@pytest.mark.parametrize("name", DUMP_NAMES)
def test_sys_equals_crash(name):
    """`sys` (and ::status) on every dump: release, version, machine, CPUs (crash-vmci: 1 of 2
    offline after the panic), DUMPFILE, DATE (the kernel's wall clock), uptime, memory and panic string equal crash's; TASKS is the real
    count (crash's is wrong on this kernel: it counts only the tasks it finds)."""
    crash = sys_fields(crash_section(name, r"\s+KERNEL: ", r"\s+PID\s+PPID\s+CPU"))
    r = mdb(name, "sys; ps; ::status")
    assert r.returncode == 0, r.stdout + r.stderr
    head, rest = r.stdout.split("      PID    PPID", 1)
    mine = sys_fields(head.splitlines())
    for key in SYS_FIELDS:
        assert mine[key] == crash[key], (key, r.stdout)
    # the file as given (crash adds "[PARTIAL DUMP]" for a makedumpfile-filtered one)
    assert mine["DUMPFILE"] == os.path.join(DUMPS, name) == crash["DUMPFILE"].split("  [")[0]
    assert int(mine["TASKS"]) == len(ps_rows(r.stdout)) >= 55
    assert sys_fields(rest.splitlines()[len(ps_rows(r.stdout)):]) == mine  # ::status shows the same
    if name == "crash-vmci.elf":
        assert mine["PANIC"] == '"Kernel panic - not syncing: sysrq triggered crash"'
        assert mine["CPUS"] == "2 [OFFLINE: 1]"


MOD_LINE = re.compile(r"^([0-9a-f]{16})  (\S+)\s+([0-9a-f]{16})\s+(\d+)  \(not loaded\)")


@pytest.mark.parametrize("name", ["idle-vmci.elf", "crash-vmci.elf", "idle-vmci.kdump", "busy-vmci.elf"])
def test_mod(name):
    """`mod` and ::modinfo: the initramfs's qemu_fw_cfg, in crash's columns (its header and
    row as crash 8.0.2 prints them on crash-vmci), its base in the module area below its
    struct module."""
    r = mdb(name, "mod; ::modinfo")
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[:len(lines) // 2] == lines[len(lines) // 2:]
    assert lines[0] == "     MODULE       NAME               BASE         SIZE  OBJECT FILE"
    rows = [MOD_LINE.match(l) for l in lines[1:len(lines) // 2]]
    assert all(rows), r.stdout
    fw = [m for m in rows if m.group(2) == "qemu_fw_cfg"]
    assert len(fw) == 1, r.stdout
    struct, base, size = int(fw[0].group(1), 16), int(fw[0].group(3), 16), int(fw[0].group(4))
    assert 0xffffffffc0000000 <= base < struct < base + size and size % 4096 == 0
    # (crash's own `mod` rows are compared on disk-vmci-paging.elf: test_linux_modules.py)
    assert lines[1].endswith("  (not loaded)  [CONFIG_KALLSYMS]"), lines[1]


def test_linux_module_rows():
    """The Linux module's rows take the place of the guest's: ::dcmds lists them with the
    engine's, ::help CMD gives one, and the guest's walker is not there."""
    r = mdb("idle-vmci.elf", "::dcmds; ::help mod; ::walkers; ::help bt")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "OS module linux" in r.stdout
    names = re.findall(r"^  (\S+)", r.stdout, re.M)
    for n in ("ps", "::ps", "log", "::msgbuf", "sys", "mod", "::modinfo", "bt", "$c", "::status", "struct"):
        assert n in names, (n, r.stdout)
    assert "mod\n  crash's mod: the loaded modules\n" in r.stdout
    assert "no walkers (OS module linux has none)" in r.stdout
    assert "  linux: [-a] [-l] [PID | TASK]...: ORC stacks" in r.stdout
    r = mdb("idle-vmci.elf", "::walk thread")
    assert r.returncode == 1 and "walkers: none (not 'thread')" in r.stdout, r.stdout


def test_sys_mod_need_linux():
    """sys and mod on a dump opened without a vmlinux: one message, not a crash."""
    r = mdb("idle-vmci.elf", "sys", sym=None)
    assert "for Linux kernels" in r.stdout + r.stderr


def test_json_log_mod_sys_status():
    """--json: log records are the text lines (timestamps and text; levels known), mod and
    sys the text's values, ::status the panic message and the CPU in panic_cpu."""
    text = mdb("crash-vmci.elf", "log; mod; sys")
    r = mdb("crash-vmci.elf", "log; mod; sys; ::status", "--json")
    assert r.returncode == 0 and text.returncode == 0, r.stdout + r.stderr
    log, mods, sys_, status = [json.loads(l) for l in r.stdout.splitlines()]
    first = [l for l in text.stdout.splitlines() if l.startswith("[")]  # each record's first line
    assert len(log) == len(first) > 50
    for rec, line in zip(log, first):
        stamp, body = line[1:].split("] ", 1)
        assert "%.6f" % rec["timestamp"] == stamp.strip() and rec["text"].split("\n")[0] == body, (rec, line)
        assert 0 <= rec["level"] <= 7
    panic = [x for x in log if x["text"].startswith("Kernel panic - not syncing: sysrq triggered crash")]
    assert panic and panic[0]["level"] == 0  # KERN_EMERG
    m = re.search(r"^([0-9a-f]{16})  qemu_fw_cfg +([0-9a-f]{16}) +(\d+)", text.stdout, re.M)
    assert m and mods == [{"module": "0x" + m.group(1).lstrip("0"), "name": "qemu_fw_cfg",
                           "base": "0x" + m.group(2).lstrip("0"), "size": int(m.group(3))}]
    assert sys_["release"] == re.search(r"RELEASE: (\S+)", text.stdout).group(1) and sys_["machine"] == "x86_64"
    assert sys_["tasks"] == int(re.search(r"TASKS: (\d+)", text.stdout).group(1)) and sys_["cpus"] == 2
    assert status["panic"] == {"message": "Kernel panic - not syncing: sysrq triggered crash", "cpu": 0}
    assert status["linux"]["kaslr"] == manifest()["crash-vmci.elf"]["kerneloffset"] and status["sys"] == sys_
    idle = json.loads(mdb("idle-vmci.elf", "::status", "--json").stdout)
    assert idle["panic"] is None and idle["sys"]["panic_cpu"] == -1


def test_json_bt_and_regs():
    """bt --json: the frames of the text (pc, function+offset, and with -l file:line), for
    one task, a PID, and every CPU; $r --json's rip is ::regs'. Without -l, as the text,
    no file:line (the DWARF lookups that cost), and near the text's time."""
    text = mdb("crash-vmci.elf", "bt -l; $r")
    r = mdb("crash-vmci.elf", "bt -l; bt -l 1; bt -a -l; $r", "--json")
    assert r.returncode == 0, r.stdout + r.stderr
    cur, pid1, every, regs = [json.loads(l) for l in r.stdout.splitlines()]
    assert cur == pid1 and len(cur) == 1 and cur[0]["pid"] == 1 and cur[0]["comm"] == "init"
    frames = re.findall(r"^ *#(\d+) \[([0-9a-f]+)\] (\S+)\+(0x[0-9a-f]+) at ([0-9a-f]+)  (\S+):(\d+)$", text.stdout, re.M)
    real = [f for f in cur[0]["frames"] if not f.get("inlined")]
    assert len(frames) == len(real) > 5
    for f, (n, sp, fn, off, pc, file, line) in zip(real, frames):
        assert (f["level"], f["sp"], f["function"], f["offset"], f["pc"], f["file"], f["line"]) == \
            (int(n), "0x" + sp.lstrip("0"), fn, off, "0x" + pc, file, int(line))
    # the inlined calls, each before the frame it is in, as bt -l's "(inlined)" lines
    inl = re.findall(r"^    \(inlined\) (\w+)  (\S+):(\d+)$", text.stdout, re.M)
    assert inl and [(f["function"], f["file"], f["line"]) for f in cur[0]["frames"] if f.get("inlined")] == \
        [(fn, file, int(line)) for fn, file, line in inl]
    assert cur[0]["user"]["rip"].startswith("0x") and cur[0]["stopped"] is None
    assert [t["cpu"] for t in every] == [0, 1] and every[0] == cur[0]
    assert regs["rip"] == "0x" + re.search(r"%rip = 0x([0-9a-f]+)", text.stdout).group(1).lstrip("0")
    plain = json.loads(mdb("crash-vmci.elf", "bt", "--json").stdout)
    assert [(f["function"], f["offset"], f["pc"]) for f in plain[0]["frames"]] == \
        [(f["function"], f["offset"], f["pc"]) for f in real]
    assert all(f["file"] is None and f["line"] is None and not f.get("inlined") for f in plain[0]["frames"])


def test_print_task_struct_members():
    """`TASK::print struct task_struct pid comm ...` on Linux: pid and comm as ps shows them,
    a bitfield member's bits, a nested member by its dotted path, the same values as in the
    whole struct; an unknown member is one error line."""
    rows = ps_rows(mdb("idle-vmci-paging.elf", "ps").stdout)
    picked = [row for row in rows if row[1] > 0][:5]
    assert len(picked) == 5
    cmds = "; ".join("%s::print struct task_struct pid comm sched_reset_on_fork se.on_rq" % row[4] for row in picked)
    r = mdb("idle-vmci-paging.elf", cmds)
    assert r.returncode == 0, r.stdout + r.stderr
    got = re.findall(r'^pid = (\d+)\ncomm = "([^"]*)"(?:,.*)?\nsched_reset_on_fork = (0x[01])\nse\.on_rq = (\S+)$',
                     r.stdout, re.M)
    assert [(int(p), c) for p, c, _, _ in got] == [(row[1], row[6]) for row in picked], (r.stdout, picked)
    whole = mdb("idle-vmci-paging.elf", "%s::print struct task_struct" % picked[0][4]).stdout
    assert re.search(r"^    pid = %d$" % picked[0][1], whole, re.M)
    assert re.search(r"^    sched_reset_on_fork = %s$" % got[0][2], whole, re.M)
    r = mdb("idle-vmci-paging.elf", "%s::print struct task_struct no_such_member" % picked[0][4])
    assert r.returncode == 1 and r.stdout == "mdb: no member no_such_member in that type\n", r.stdout


def test_crash_struct_spelling():
    """crash's `struct task_struct.pid,comm ADDR`: the members as ::print prints them;
    without ADDR the size, or each member's offset; the same numbers as ::sizeof/::offsetof."""
    task = [row for row in ps_rows(mdb("idle-vmci-paging.elf", "ps").stdout) if row[1] == 2][0][4]
    r = mdb("idle-vmci-paging.elf", "struct task_struct.pid,comm,se.on_rq %s; struct task_struct; "
                                    "struct task_struct.pid,comm" % task)
    assert r.returncode == 0, r.stdout + r.stderr
    mine = mdb("idle-vmci-paging.elf", "%s::print struct task_struct pid comm se.on_rq; ::sizeof struct task_struct; "
                                       "::offsetof struct task_struct pid; ::offsetof struct task_struct comm" % task)
    assert r.stdout == mine.stdout and r.stdout.startswith('pid = 2\ncomm = "kthreadd"\n'), (r.stdout, mine.stdout)
    r = mdb("idle-vmci-paging.elf", "union no_such_union 0")
    assert r.returncode == 1 and "no type 'union no_such_union'" in r.stdout
