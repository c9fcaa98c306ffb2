"""End to end, on QEMU dumps of a Debian Linux guest (scripts/linux-fixture.sh, linuxfix.py): `crash` shows the same panic backtrace on the kdump-compressed
file `hvdump convert` made as on QEMU's original; makedumpfile's and QEMU's kdump files
open in our reader with the same bytes as the ELF dump, QEMU's flattened stream too."""
import os
import re
import shutil
import subprocess

import pytest

from test_dump import hvdump

HERE = os.path.dirname(os.path.abspath(__file__))
from linuxfix import DUMPS, VMLINUX


pytestmark = pytest.mark.usefixtures("linux_fixture")  # fails without the fixture (linuxfix.py)


def crash(dump, cmds):
    r = subprocess.run(["crash", "-s", VMLINUX, dump], input="\n".join(cmds + ["quit"]) + "\n",
                       capture_output=True, text=True, timeout=300)
    return r.stdout


def panic_bt(out):
    """crash's bt of the panic task: the PID line through the user registers."""
    m = re.search(r"^PID: .*?ORIG_RAX[^\n]*", out, re.M | re.S)
    assert m, out
    return m.group(0)


def vmcoreinfo(path):
    info = hvdump("info", path)
    assert info.returncode == 0, info.stderr
    return info.stdout


def uts_phys(info):
    """The physical address of init_uts_ns (its name starts with "Linux")."""
    sym = int(re.search(r"SYMBOL\(init_uts_ns\)=([0-9a-f]+)", info).group(1), 16)
    base = int(re.search(r"NUMBER\(phys_base\)=(-?\d+)", info).group(1))
    return (sym - 0xffffffff80000000 + base) & ((1 << 64) - 1)


def read(path, pa, n=64):
    r = hvdump("read", path, hex(pa), str(n))
    assert r.returncode == 0, r.stderr
    return bytes(int(b, 16) for line in r.stdout.splitlines() for b in line.split(":")[1].split())


@pytest.mark.skipif(not shutil.which("crash"), reason="no crash")
def test_crash_shows_the_same_panic_on_our_conversion(tmp_path):
    orig = os.path.join(DUMPS, "crash-vmci.elf")
    conv = str(tmp_path / "crash.kdump")
    r = hvdump("convert", orig, conv, "--format", "kdump-zstd")
    assert r.returncode == 0, r.stderr
    assert os.path.getsize(conv) < os.path.getsize(orig) / 4
    assert "kdump-compressed v6, zstd pages" in vmcoreinfo(conv)
    a, b = crash(orig, ["bt", "sys"]), crash(conv, ["bt", "sys"])
    assert panic_bt(a) == panic_bt(b)
    assert "sysrq_handle_crash" in panic_bt(b) and 'COMMAND: "init"' in panic_bt(b)
    assert 'PANIC: "Kernel panic - not syncing: sysrq triggered crash"' in b, b


def test_qemu_kdump_files_read_like_the_elf(tmp_path):
    """QEMU's kdump-zlib of the same boot, as QEMU wrote it (makedumpfile's flattened
    stream) and made a file by makedumpfile -R, reads the same bytes as its ELF dump. (Debian 12's makedumpfile
    1.7.2 cannot filter or compress a 6.1 kernel's dump itself: "kernel version is not
    supported", so files it compresses with lzo or snappy are not tested here.)"""
    # QEMU's own kdump-zlib (its flattened stream made a file by makedumpfile -R)
    qk, qe = os.path.join(DUMPS, "idle-vmci.kdump"), os.path.join(DUMPS, "idle-vmci.elf")
    qinfo = vmcoreinfo(qe)
    assert b"Linux\0" in read(qe, uts_phys(qinfo))  # init_uts_ns.name.sysname
    assert read(qk, uts_phys(qinfo)) == read(qe, uts_phys(qinfo))
    flat = os.path.join(DUMPS, "idle-vmci.kdump.flat")
    if os.path.exists(flat):  # QEMU's own output: makedumpfile's flattened stream, read as is
        assert "kdump-compressed v6 (from a flattened stream), zlib pages" in vmcoreinfo(flat)
        assert read(flat, uts_phys(qinfo)) == read(qe, uts_phys(qinfo))
    # and our conversion of QEMU's kdump reads the same too
    conv = str(tmp_path / "conv")
    assert hvdump("convert", qk, conv, "--format", "kdump-lz4").returncode == 0
    assert read(conv, uts_phys(qinfo)) == read(qe, uts_phys(qinfo))
