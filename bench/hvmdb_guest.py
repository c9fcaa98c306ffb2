#!/usr/bin/python3
"""bench/hvmdb_guest: hvmdb against gdb on a dump of our built-in guest (issue 6): open the
dump with the kernel's symbols, backtrace every vCPU, print the log; wall time and peak RSS
(GNU time's %M), median of 5 after one warm-up run. (crash and drgn read Linux kernels
only: bench/linux.py compares them on a Linux dump.)
Usage: bench/hvmdb_guest.py --build build
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from run import Daemon


def timed(cmd):
    """Wall seconds (measured here: GNU time's %e has 10 ms steps) and peak RSS in MiB."""
    t = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "TIME %M"] + cmd, capture_output=True, text=True, timeout=300)
    dt = time.perf_counter() - t
    m = re.search(r"TIME (\d+)", r.stderr)
    if r.returncode or not m:
        raise RuntimeError("%s failed: %s" % (cmd[0], r.stderr[-500:]))
    return dt, int(m.group(1)) / 1024, r.stdout


def make_dump(build, tmp):
    d = Daemon(build, "--mem", "256M", "--vcpus", "2")
    try:
        d.wait_running()
        time.sleep(1.5)  # idle
        core = os.path.join(tmp, "core")
        d.run("dump", "dom0", core).check_returncode()
        return core
    finally:
        d.stop()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args(argv)
    guest = os.path.join(a.build, "guest.elf")
    tmp = tempfile.mkdtemp()
    try:
        core = make_dump(a.build, tmp)
        tools = {
            "hvmdb": [os.path.join(a.build, "hvmdb"), "-s", guest, core, "-c",
                      "::switch 0; $c; ::switch 1; $c; ::msgbuf"],
        }
        if shutil.which("gdb"):
            tools["gdb -batch"] = ["gdb", "-batch", "-nx", guest, core, "-ex", "thread apply all bt",
                                   "-ex", "print log_ring"]
        res = {}
        for name, cmd in tools.items():
            timed(cmd)  # warm-up: page cache
            runs = [timed(cmd) for _ in range(a.runs)]
            res[name] = (statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs))
        print("\n## hvmdb against gdb on a 256 MiB dump of the built-in guest (median of %d)\n" % a.runs)
        print("Open with the kernel's symbols, a backtrace of both vCPUs, the log.\n")
        print("| tool | wall ms | peak RSS MiB |")
        print("| --- | ---: | ---: |")
        for name, (t, m) in res.items():
            print("| %s | %.1f | %.1f |" % (name, t * 1000, m))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
