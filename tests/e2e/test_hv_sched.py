"""End to end: the credit scheduler. 'r' lists every vCPU exactly once with its priority,
credit, weight and cap; a capped spinning domain gets its cap of CPU, measured both by
hv's own accounting and by the host's per-thread CPU time in /proc."""
import os
import re
import time

from conftest import kernel

CTRL_A = "\x01"


def runq(h):
    """Presses 'r' on the hypervisor console; returns its output (ended by the next key's banner)."""
    h.send(CTRL_A * 3)
    h.expect("Serial input -> hv")
    h.send("r")
    h.expect(r"'r' pressed -> dumping run queues")
    h.send("H")
    h.expect(r"'H' pressed")
    return h.log[-1]


def test_r_lists_every_vcpu_once(hv):
    h = hv("-k", kernel("spinner"), "--vcpus", "4", "--weight", "512", "--pcpus", "2")
    h.expect("S")
    time.sleep(0.3)
    out = runq(h)
    assert "ncpus              = 2 (physical-CPU slots)" in out
    assert "tslice             = 30ms" in out
    for v in range(4):
        lines = re.findall(r"\[0\.%d\] pri=(UNDER|OVER) +credit=-?\d+ +weight=512 +cap=0 " % v, out)
        assert len(lines) == 1, (v, out)
    # vCPU 0 spins with interrupts off: it holds a CPU; the others were never started
    assert re.search(r"run: \[0\.0\] pri=\w+ +credit=-?\d+ +weight=512 +cap=0 +running", out), out
    assert len(re.findall(r"\[0\.[123]\] .* blocked", out)) == 3


def thread_cpu_seconds(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        f = open(f"/proc/{pid}/task/{tid}/stat").read()
        fields = f[f.rindex(")") + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / os.sysconf("SC_CLK_TCK")


def test_cap_limits_a_spinning_domain(hv):
    h = hv("-k", kernel("spinner"), "--vcpus", "1", "--cap", "25")
    h.expect("S")
    pid = h.p.pid
    c0, t0 = thread_cpu_seconds(pid), time.monotonic()
    time.sleep(3)
    used, wall = thread_cpu_seconds(pid) - c0, time.monotonic() - t0
    assert 0.15 < used / wall < 0.35, (used, wall)
    out = runq(h)
    m = re.search(r"\[0\.0\] pri=\w+ +credit=-?\d+ +weight=256 +cap=25 +\w+, ([0-9.]+) s CPU", out)
    assert m, out
    assert float(m.group(1)) < 0.4 * (time.monotonic() - t0 + 0.5)
