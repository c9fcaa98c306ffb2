"""End to end: Debian's Linux kernel (the fixture's vmlinux, booted through its PVH note) as
a domain of hv, debugged live while it boots: `hvmdb -s vmlinux -d dom0` reads its release,
its log and its ORC stack; the `d` key names Linux functions and shows the ORC stack; the `q` prompt has the Linux
module (`sys`, `ps`, `bt`). On a kvm_pvm host hv gives the kernel the CPU model's options
and completes what the emulator rejects. Skipped without the vmlinux in the cache
(scripts/linux-fixture.sh). The boot to a panic takes too long for `make test` here; the
fixture does it (test_hv_linux_dump.py reads what it left)."""
import json
import os
import re
import subprocess
import time

import pexpect
import pytest

from conftest import ASAN_ENV, BUILD, HVMDB
from test_hv_keys import to_hv

from linuxfix import CACHE, VMLINUX
PVM = os.path.exists("/sys/module/kvm_pvm")
HVCTL = os.path.join(BUILD, "hvctl")

pytestmark = pytest.mark.usefixtures("linux_fixture")  # fails without the fixture (linuxfix.py)


def release():
    with open(os.path.join(CACHE, "version")) as f:
        return f.read().strip()


def live_mdb(sock, *cmds, write=False):
    args = [HVMDB, "-s", VMLINUX, "-d", "dom0"] + (["-w"] if write else [])
    for c in cmds:
        args += ["-c", c]
    env = dict(ASAN_ENV, HVKIT_SOCKET=sock)
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)


def wait_log(sock, text, timeout=120):
    """Polls the kernel's own printk ring, live, until it has text."""
    end = time.monotonic() + timeout
    while True:
        r = live_mdb(sock, "log")
        if text in r.stdout:
            return r.stdout
        assert time.monotonic() < end, "the kernel never logged %r: %s %s" % (text, r.stdout[-2000:], r.stderr)
        time.sleep(3)


def prompt_cmd(h, line):
    h.send(line + "\r")
    h.expect(r"\[dom0:0\]> ", timeout=60)
    return h.log[-1]


def test_linux_domain_debugged_live(hv, tmp_path):
    """One boot (minutes here): hvmdb -d from a shell, the d key, the q prompt."""
    sock = str(tmp_path / "ctl.sock")
    h = hv("--kernel", VMLINUX, "--mem", "256M", "--vcpus", "1", "--cmdline", "console=ttyS0 panic=0",
           "--socket", sock, "--state-dir", str(tmp_path), timeout=60)
    h.expect(r"dom0 \(domain 0\) started")
    hvlog = h.p.before
    # after setup_arch and setup_nr_cpu_ids: the CPU count is the real one
    log = wait_log(sock, "Kernel command line: console=ttyS0 panic=0", timeout=300)
    rel = release()
    assert re.search(r"Linux version %s " % re.escape(rel), log), log[:2000]
    if PVM:
        # the CPU model: the options are on the kernel's command line, and Linux applied them
        m = re.search(r"dom0: a Linux kernel on kvm_pvm: hv adds to its command line: (noxsave clearcpuid=\S+)", hvlog)
        assert m, hvlog
        assert "Command line: console=ttyS0 panic=0 " + m.group(1) in log, log[:3000]
        assert "Clearing CPUID bits: cx16 popcnt" in log, log[:3000]
    # hv's ACPI tables as Linux lists them: the hardware-reduced FADT (v6) and its DSDT (\_S5)
    assert re.search(r"ACPI: FACP 0x00000000000E[0-9A-F]{4} 000114 \(v06 HVKIT  HVKITVM ", log), log[:3000]
    dsdt = os.path.getsize(os.path.join(BUILD, "obj", "hv", "dsdt.aml"))  # iasl's, from hv/dsdt.asl
    assert re.search(r"ACPI: DSDT 0x00000000000E[0-9A-F]{4} %06X \(v02 HVKIT  HVKITVM " % dsdt, log), log[:3000]
    # the boot CPU's stack, unwound with ORC: frames named, down to the kernel's entry (an
    # instant ORC has no data for, such as code past _einittext, is possible: asked again,
    # at most three times, as the d key below)
    early = []
    for _ in range(3):
        r = live_mdb(sock, "sys", "bt", "ps")
        assert r.returncode == 0, r.stderr
        assert re.search(r"RELEASE: %s\n" % re.escape(rel), r.stdout), r.stdout
        assert re.search(r"^\s+CPUS: 1$", r.stdout, re.M), r.stdout
        frames = re.findall(r"^ #\d+ \[[0-9a-f]+\] ([\w.]+)\+0x[0-9a-f]+ at ffffffff[0-9a-f]+$", r.stdout, re.M)
        if len(frames) >= 2 and frames[-1] in ("secondary_startup_64_no_verify", "ret_from_fork"):
            break
        early.append(r.stdout)
    else:
        pytest.fail("no bt reached the kernel's entry:\n" + "\n----\n".join(early))
    assert re.search(r"^>?\s+0\s+0\s+0\s+ffffffff[0-9a-f]+\s+RU\s+\[swapper(/0)?\]", r.stdout, re.M), r.stdout
    # d: the vCPU's rip named from the vmlinux's symbols
    to_hv(h)
    # (an instant ORC cannot unwind from, such as the middle of an entry path, is possible:
    # the key is pressed again, at most three times, and every trace is shown if none ends)
    early = []
    for _ in range(3):
        h.send("d")
        h.expect(r"RIP:    0010:\[<ffffffff[0-9a-f]+>\] (\S+)\r\n", timeout=60)
        assert re.match(r"[a-z_][\w.]*(\+0x[0-9a-f]+)?$", h.p.match.group(1)), h.p.match.group(0)
        # and its stack as bt unwinds it (ORC), down to the kernel's entry
        h.expect(r"Call trace \(ORC, as hvmdb's bt\):", timeout=60)
        i = h.p.expect([r"#\d+ \[[0-9a-f]+\] (secondary_startup_64_no_verify|ret_from_fork)\+0x", pexpect.TIMEOUT],
                       timeout=30)
        if i == 0:
            break
        early.append(h.p.before)
    else:
        pytest.fail("no d trace reached the kernel's entry: %s" % "\n----\n".join(early))
    assert re.search(r"\(hv\)    #0 \[[0-9a-f]+\] [\w.]+(\+0x[0-9a-f]+)? at ffffffff", h.p.before), h.p.before
    # q: the prompt has the Linux module
    h.send("q")
    h.expect(r"\[dom0:0\]> ", timeout=60)
    assert "RELEASE: " + rel in prompt_cmd(h, "sys")
    assert "[swapper" in prompt_cmd(h, "ps")
    bt = prompt_cmd(h, "bt")
    # a frame at a function's first byte has no +0x (as in the d key's check above)
    assert re.search(r" #0 \[[0-9a-f]+\] [\w.]+(\+0x[0-9a-f]+)? at ffffffff", bt), bt
    h.send(":c\r")
    h.expect("kmdb: every domain resumed")
    env = dict(os.environ, HVKIT_SOCKET=sock)
    # a checkpoint of the running Linux domain, a write to its memory (the debugger's, to
    # the utsname that sys shows), a rollback: the write is undone
    r = subprocess.run([HVCTL, "checkpoint", "dom0", "c1"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and "checkpoint c1 taken: full" in r.stdout, r.stdout + r.stderr
    r = live_mdb(sock, "init_uts_ns+0x41/W 0x6b7668", write=True)  # nodename: "hvk"
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\s+NODENAME: hvk$", live_mdb(sock, "sys").stdout, re.M)
    r = subprocess.run([HVCTL, "rollback", "dom0", "c1"], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0 and "rolled back to checkpoint c1" in r.stdout, r.stdout + r.stderr
    sys_out = live_mdb(sock, "sys").stdout
    assert re.search(r"^\s+NODENAME: \(none\)$", sys_out, re.M), sys_out
    assert "RELEASE: " + rel in sys_out, sys_out
    # hvctl reboot (R's reset): the Linux domain starts again from its kernel; the new
    # kernel's log is a new one (the old kernel's memory does not survive the reset)
    old_log = live_mdb(sock, "log").stdout
    assert "Kernel command line: console=ttyS0 panic=0" in old_log, old_log[-2000:]
    r = subprocess.run([HVCTL, "reboot", "dom0"], capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    end = time.monotonic() + 300
    while True:
        log = live_mdb(sock, "log").stdout
        if "Kernel command line: console=ttyS0 panic=0" in log and log != old_log and not log.startswith(old_log):
            break
        assert time.monotonic() < end, "no second boot after hvctl reboot: %s" % log[-2000:]
        time.sleep(3)
    assert re.search(r"Linux version %s " % re.escape(rel), log), log[:2000]
    r = subprocess.run([HVCTL, "dominfo", "dom0", "--json"], capture_output=True, text=True, timeout=60, env=env)
    assert json.loads(r.stdout)["reboots"] == 1, r.stdout
