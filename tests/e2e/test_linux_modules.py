"""End to end: hvmdb on disk-vmci-paging.elf (scripts/linux-fixture.sh's disk boot: an ext4
image mounted from QEMU's IDE disk, with scsi_common, scsi_mod, libata, ata_piix and sd_mod
loaded as modules), where the SCSI error-handler threads sleep in module code. Stacks
unwind through the modules' ORC tables (read from the dump), module frames and `sym` name
module symbols (kallsyms read from the dump) as crash does, `mod` is crash's (linuxfix.py:
the fixture --check includes that dump)."""
import json
import os
import re
import subprocess

import pytest

import test_linux
from test_linux import DUMPS, VMLINUX, CACHE, drgn_stacks, functions, mdb, ps_rows

NAME = "disk-vmci-paging.elf"
DUMP = os.path.join(DUMPS, NAME)
MODULES = ["scsi_common", "scsi_mod", "libata", "ata_piix", "sd_mod"]

pytestmark = pytest.mark.usefixtures("linux_fixture")  # fails without the fixture (linuxfix.py)


def text_symbols(path):
    nm = subprocess.run(["nm", path], capture_output=True, text=True, timeout=60)
    if nm.returncode != 0:
        pytest.skip("no nm")
    return {w[2] for w in (l.split() for l in nm.stdout.splitlines()) if len(w) == 3 and w[1] in "tT"}


def dedup(names):
    return [n for i, n in enumerate(names) if i == 0 or names[i - 1] != n]


def stacks():
    """pid -> (hvmdb's block of ::ps -v, its function names)"""
    r = mdb(NAME, "::ps -v")
    assert r.returncode == 0, r.stdout + r.stderr
    out = {}
    for block in re.split(r"\n(?=PID: )", r.stdout)[1:]:
        names = [f.replace("entry_SYSCALL_64_after_hwframe", "entry_SYSCALL_64") for f in functions(block)]
        out.setdefault(int(block.split()[1]), (block, names))
    return out


def test_scsi_eh_unwinds_through_scsi_mod():
    """scsi_eh_0 and scsi_eh_1 sleep in scsi_error_handler [scsi_mod]: bt goes on through
    it to kthread and ret_from_fork; jbd2/sda-8 (built in) sleeps in kjournald2."""
    r = mdb(NAME, "ps")
    rows = {row[6]: row[1] for row in ps_rows(r.stdout)}
    assert "scsi_eh_0" in rows and "scsi_eh_1" in rows and "jbd2/sda-8" in rows, r.stdout
    for comm in ["scsi_eh_0", "scsi_eh_1"]:
        bt = mdb(NAME, "bt %d" % rows[comm])
        assert bt.returncode == 0 and "(stopped" not in bt.stdout, bt.stdout + bt.stderr
        assert functions(bt.stdout) == ["__schedule", "schedule", "scsi_error_handler", "kthread", "ret_from_fork"], bt.stdout
        assert re.search(r"\] scsi_error_handler\+0x[0-9a-f]+ at ffffffffc[0-9a-f]{7} \[scsi_mod\]$", bt.stdout, re.M)
        assert bt.stdout.count("[scsi_mod]") == 1
    bt = mdb(NAME, "bt %d" % rows["jbd2/sda-8"])
    assert functions(bt.stdout) == ["__schedule", "schedule", "kjournald2", "kthread", "ret_from_fork"], bt.stdout
    # bt --json: the module frame names its module, the others none
    frames = json.loads(mdb(NAME, "bt %d" % rows["scsi_eh_0"], "--json").stdout)[0]["frames"]
    real = [(f["function"], f.get("module")) for f in frames if not f.get("inlined")]
    assert real == [("__schedule", None), ("schedule", None), ("scsi_error_handler", "scsi_mod"), ("kthread", None),
                    ("ret_from_fork", None)], frames


def test_bt_equals_drgn():
    """Every task's stack names drgn's functions (drgn read the modules' debug info), but for
    the frames drgn adds for inlined calls; not pid 0 nor pids 1 to the number of CPUs: drgn
    0.0.22 takes QEMU's NT_PRSTATUS pr_pid (CPU index + 1) for a PID and gives those tasks
    the CPUs' idle traces (test_linux's says so for pid 1 on its 1-CPU dump)."""
    symbols = text_symbols(VMLINUX)
    for m in MODULES:
        symbols |= text_symbols(os.path.join(CACHE, "modules", m + ".ko"))
    drgn = drgn_stacks(NAME, symbols)
    mine = stacks()
    ncpus = len(re.findall(r"^[ *]\s*\d+ [0-9a-f]{16} ", mdb(NAME, "::cpus").stdout, re.M))
    assert ncpus >= 1
    compared = [p for p in drgn if p > ncpus]
    assert len(compared) >= 55
    assert [p for p in compared if "scsi_error_handler" in drgn[p]], drgn  # module frames were compared
    for p in compared:  # (ext4lazyinit: drgn gives ext4_lazyinit_thread an inlined frame of that name too)
        assert dedup(mine[p][1]) == dedup(drgn[p]), (p, mine[p][0], drgn[p])


def test_every_stack_unwinds():
    test_linux.test_every_stack_unwinds(NAME)


def test_mod_equals_crash():
    """`mod`: crash's rows (struct module, name, base, size), in the list's order."""
    with open(DUMP + ".crash.txt") as f:
        crash = [m.groups() for m in re.finditer(r"^([0-9a-f]{16})  (\S+)\s+([0-9a-f]{16})\s+(\d+)  \(not loaded\)",
                                                 f.read(), re.M)]
    r = mdb(NAME, "mod")
    assert r.returncode == 0, r.stdout + r.stderr
    mine = [m.groups() for m in re.finditer(r"^([0-9a-f]{16})  (\S+)\s+([0-9a-f]{16})\s+(\d+)  \(not loaded\)",
                                            r.stdout, re.M)]
    assert sorted(mine) == sorted(crash) and len(mine) == len(MODULES) + 1  # + qemu_fw_cfg
    assert {m[1] for m in mine} == set(MODULES) | {"qemu_fw_cfg"}


def test_sym_of_module_addresses_is_crashs():
    """`sym ADDR` of every function crash's `sym -m scsi_mod` lists names it (or another
    symbol at that address) at +0x0 with [scsi_mod]; inside a function, the offset."""
    with open(DUMP + ".crash.txt") as f:
        text = f.read()
    part = text[text.index("MODULE START: scsi_mod"):text.index("MODULE END: scsi_mod")]
    names = {}
    for m in re.finditer(r"^([0-9a-f]{16}) \((.)\) (\S+)$", part, re.M):
        names.setdefault(int(m.group(1), 16), set()).add(m.group(3))
    funcs = sorted({int(m.group(1), 16) for m in re.finditer(r"^([0-9a-f]{16}) \([tT]\) (\S+)$", part, re.M)})
    assert len(funcs) > 300
    r = mdb(NAME, "; ".join("sym %x" % a for a in funcs))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == len(funcs)
    for a, line in zip(funcs, lines):
        m = re.match(r"^0x([0-9a-f]+) is (\S+)\+0x0 \[scsi_mod\] \(code, size 0x[0-9a-f]+\)$", line)
        assert m and int(m.group(1), 16) == a and m.group(2) in names[a], (hex(a), line, names[a])
    handler = next(a for a in funcs if "scsi_error_handler" in names[a])
    r = mdb(NAME, "sym %x" % (handler + 0x1c7))
    assert re.match(r"0x[0-9a-f]+ is scsi_error_handler\+0x1c7 \[scsi_mod\] \(code", r.stdout), r.stdout
