"""End to end: the tiny init (tests/linux/tinyinit.c) as Debian's kernel's /init under QEMU
TCG: user space runs, reads its mode from the command line, and panics the kernel through
/proc/sysrq-trigger. Under hv the same initramfs is what a Linux domain's user space test
boots (docs/linux.md says how far that gets on kvm_pvm). Skipped without the vmlinux or
QEMU."""
import os
import shutil
import subprocess

import pytest

from tinyinit import TINYINIT, TINYINIT_INT80, initramfs

from linuxfix import VMLINUX

pytestmark = [pytest.mark.usefixtures("linux_fixture"),
              pytest.mark.skipif(not shutil.which("qemu-system-x86_64"), reason="no QEMU")]


@pytest.mark.parametrize("init", [TINYINIT, TINYINIT_INT80], ids=["syscall", "int80"])
@pytest.mark.parametrize("mode", ["panic", "poweroff"])
def test_tinyinit_under_qemu(tmp_path, mode, init):
    rd = initramfs(str(tmp_path / "tinyinit.cpio.gz"), init)
    r = subprocess.run(["qemu-system-x86_64", "-accel", "tcg", "-m", "256M", "-smp", "1", "-nographic",
                        "-no-reboot", "-kernel", VMLINUX, "-initrd", rd,
                        "-append", "console=ttyS0 panic=-1 hvkit.init=" + mode],
                       capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    out = r.stdout
    assert "HVKIT-TINYINIT: user space runs (pid 1), mode=" + mode in out, out[-3000:]
    if mode == "panic":
        assert "Kernel panic - not syncing: sysrq triggered crash" in out, out[-3000:]
    else:
        assert "reboot: Power down" in out, out[-3000:]
