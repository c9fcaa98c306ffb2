#!/usr/bin/python3
"""bench/live: the kmdb bridge against QEMU's gdbstub, side by side in one run.

The same guest (the built-in guest, 256 MiB, 1 vCPU) under hv and under QEMU microvm
with KVM; each is attached and read through gdb's remote protocol:
  attach:  wall time of `gdb -batch -ex 'target remote ...' -ex detach` (gdb's own start
           subtracted: the same command against nothing), and of `hvmdb -d dom0 -c ::status`;
  read:    gdb `dump binary memory` of 64 MiB of the guest's direct map (MB/s).
Medians of 5 runs.
Usage: bench/live.py --build build
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from run import Daemon

QEMU = "qemu-system-x86_64"
DIRECT_MAP = 0xffff888000000000
READ = 64 << 20


def gdb(guest, target, *cmds):
    args = ["gdb", "-batch", "-nx", guest] + (["-ex", "target remote " + target] if target else [])
    for c in cmds:
        args += ["-ex", c]
    t = time.time()
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    return time.time() - t, r.stdout + r.stderr


def median(xs):
    return statistics.median(xs)


def wait_for(path, timeout=30):
    end = time.time() + timeout
    while not os.path.exists(path) and time.time() < end:
        time.sleep(0.05)


def bench_hv(build, guest, runs):
    d = Daemon(build, "--mem", "256M", "--vcpus", "1")
    tmp = d.tmp
    res = {"attach": [], "hvmdb": [], "read": []}
    try:
        d.wait_running()
        time.sleep(1)
        env = dict(os.environ, HVKIT_SOCKET=d.sock)
        for i in range(runs):
            g = os.path.join(tmp, "g%d" % i)
            d.run("gdbserver", "dom0", "--socket", g).check_returncode()
            dt, out = gdb(guest, g, "detach")
            res["attach"].append(dt)
            t = time.time()
            subprocess.run([os.path.join(build, "hvmdb"), "-d", "dom0", "-c", "::status"], env=env,
                           capture_output=True, timeout=60)
            res["hvmdb"].append(time.time() - t)
            g = os.path.join(tmp, "r%d" % i)
            d.run("gdbserver", "dom0", "--socket", g).check_returncode()
            dt, out = gdb(guest, g, "dump binary memory %s/m 0x%x 0x%x" % (tmp, DIRECT_MAP, DIRECT_MAP + READ),
                          "detach")
            if os.path.getsize(os.path.join(tmp, "m")) != READ:
                raise RuntimeError("hv read short: " + out)
            res["read"].append(dt)
    finally:
        d.stop()
    return res


def bench_qemu(guest, runs):
    tmp = tempfile.mkdtemp()
    res = {"attach": [], "read": []}
    for i in range(runs):
        g = os.path.join(tmp, "g%d" % i)
        p = subprocess.Popen([QEMU, "-M", "microvm", "-enable-kvm", "-cpu", "EPYC", "-m", "256", "-smp", "1",
                              "-kernel", guest, "-nographic", "-nodefaults", "-serial", "null",
                              "-gdb", "unix:%s,server,nowait" % g],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(g)
            time.sleep(1.5)  # booted to its prompt
            dt, out = gdb(guest, g, "detach")
            res["attach"].append(dt)
            time.sleep(0.2)
            dt, out = gdb(guest, g, "dump binary memory %s/m 0x%x 0x%x" % (tmp, DIRECT_MAP, DIRECT_MAP + READ),
                          "detach")
            if os.path.getsize(os.path.join(tmp, "m")) != READ:
                raise RuntimeError("QEMU read short: " + out)
            res["read"].append(dt)
        finally:
            p.kill()
            p.wait()
    shutil.rmtree(tmp, ignore_errors=True)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    guest = os.path.join(a.build, "guest.elf")
    base = median([gdb(guest, None, "info line main")[0] for _ in range(3)])  # gdb with the symbols, a failing connect
    hv = bench_hv(a.build, guest, a.runs)
    qe = bench_qemu(guest, a.runs)
    mb = READ / 1e6
    print("\n## Live debugging: attach and read, hv's stub against QEMU's gdbstub (median of %d)\n" % a.runs)
    print("gdb's own start with the guest's symbols and no target: %.0f ms (subtracted below)\n" % (base * 1000))
    print("| | hv (kmdb bridge) | QEMU gdbstub | ratio |")
    print("| --- | ---: | ---: | ---: |")
    ha, qa = median(hv["attach"]) - base, median(qe["attach"]) - base
    print("| gdb attach + detach, ms | %.1f | %.1f | %.2f |" % (ha * 1000, qa * 1000, qa / ha if ha > 0 else 0))
    print("| hvmdb -d dom0 -c ::status (whole command), ms | %.1f | - | - |" % (median(hv["hvmdb"]) * 1000))
    hr, qr = median(hv["read"]) - base, median(qe["read"]) - base
    print("| gdb reads 64 MiB (dump binary memory), MB/s | %.1f | %.1f | %.2f |" % (mb / hr, mb / qr, qr / hr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
