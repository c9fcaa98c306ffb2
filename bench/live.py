#!/usr/bin/python3
"""bench/live: the kmdb bridge against QEMU's gdbstub, side by side in one run.

The same guest (the built-in guest, 256 MiB, 1 vCPU) under hv and under QEMU microvm
with KVM; each is attached and read through gdb's remote protocol:
  attach:  time of gdb's `target remote ...` (connect, stop, first registers) plus `detach`,
           timed inside gdb (its Python clock around the two commands, so gdb's own start and
           symbol loading are not counted); and the wall time of `hvmdb -d dom0 -c ::status`;
  read:    gdb `dump binary memory` of 64 MiB of the guest's direct map (MB/s), timed inside gdb.
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


def gdb(guest, target, timed):
    """Run gdb on the guest's symbols against target; the seconds `timed` (a list of gdb
    commands run after `target remote`) take, and of `target remote` itself, by gdb's clock."""
    clock = "python import time; __t = time.perf_counter()"
    lap = "python print('LAP %.6f' % (time.perf_counter() - __t)); __t = time.perf_counter()"
    args = ["gdb", "-batch", "-nx", guest, "-ex", clock, "-ex", "target remote " + target, "-ex", lap]
    for c in timed:
        args += ["-ex", c]
    args += ["-ex", lap]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    laps = [float(l.split()[1]) for l in r.stdout.splitlines() if l.startswith("LAP ")]
    if len(laps) != 2:
        raise RuntimeError("gdb did not run to the end: " + r.stdout + r.stderr)
    return laps, r.stdout + r.stderr


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
            (conn, det), out = gdb(guest, g, ["detach"])
            res["attach"].append(conn + det)
            t = time.time()
            subprocess.run([os.path.join(build, "hvmdb"), "-d", "dom0", "-c", "::status"], env=env,
                           capture_output=True, timeout=60)
            res["hvmdb"].append(time.time() - t)
            g = os.path.join(tmp, "r%d" % i)
            d.run("gdbserver", "dom0", "--socket", g).check_returncode()
            (conn, dt), out = gdb(guest, g, ["dump binary memory %s/m 0x%x 0x%x" % (tmp, DIRECT_MAP, DIRECT_MAP + READ),
                                             "detach"])
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
            (conn, det), out = gdb(guest, g, ["detach"])
            res["attach"].append(conn + det)
            time.sleep(0.2)
            (conn, dt), out = gdb(guest, g, ["dump binary memory %s/m 0x%x 0x%x" % (tmp, DIRECT_MAP, DIRECT_MAP + READ),
                                             "detach"])
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
    hv = bench_hv(a.build, guest, a.runs)
    qe = bench_qemu(guest, a.runs)
    mb = READ / 1e6
    print("\n## Live debugging: attach and read, hv's stub against QEMU's gdbstub (median of %d)\n" % a.runs)
    print("Timed inside gdb (its Python clock): attach is `target remote` + `detach`.\n")
    print("| | hv (kmdb bridge) | QEMU gdbstub | ratio |")
    print("| --- | ---: | ---: | ---: |")
    ha, qa = median(hv["attach"]), median(qe["attach"])
    print("| gdb attach + detach, ms | %.1f | %.1f | %.2f |" % (ha * 1000, qa * 1000, qa / ha if ha > 0 else 0))
    print("| hvmdb -d dom0 -c ::status (whole command), ms | %.1f | - | - |" % (median(hv["hvmdb"]) * 1000))
    hr, qr = median(hv["read"]), median(qe["read"])
    print("| gdb reads 64 MiB (dump binary memory), MB/s | %.1f | %.1f | %.2f |" % (mb / hr, mb / qr, qr / hr))
    return 0


if __name__ == "__main__":
    sys.exit(main())
