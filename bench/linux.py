#!/usr/bin/python3
"""bench/linux: hvmdb on a Debian Linux dump against drgn and crash (issue 8).

Open + `ps; bt -a; log` on the fixture's idle-vmci-paging.elf (the one dump drgn opens) with
its vmlinux (full DWARF):
  hvmdb: hvmdb -s vmlinux DUMP -c 'ps; bt -a; log'
  drgn:  a short python3 script: for_each_task, prog.stack_trace of each CPU's current task,
         the log from get_printk_records
  crash: crash -s vmlinux DUMP with the same commands on its stdin
Wall time and peak RSS from /usr/bin/time -f '%e %M', the median of N runs (warm page cache:
one untimed run of each first). Skipped with a message when scripts/linux-fixture.sh --check
fails (the fixture is not in the cache) or a peer is not installed.
Usage: bench/linux.py --build build [--runs 3]
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
DUMP_NAME = "idle-vmci-paging.elf"
CMDS = "ps; bt -a; log"

DRGN_PY = r"""
import sys, drgn
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.percpu import per_cpu
from drgn.helpers.linux.printk import get_printk_records
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
for t in for_each_task(prog):
    print(t.pid.value_(), t.comm.string_().decode())
for cpu in for_each_online_cpu(prog):
    print(prog.stack_trace(per_cpu(prog["runqueues"], cpu).curr))
for r in get_printk_records(prog):
    print("[%5d.%06d] %s" % (r.timestamp // 10**9, r.timestamp % 10**9 // 1000, r.text.decode(errors="replace")))
"""


def fixture_dir():
    """The fixture's cache directory, or None (with why) when it is not complete."""
    try:
        p = subprocess.run([os.path.join(ROOT, "scripts", "linux-fixture.sh"), "--check"], capture_output=True,
                           text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if p.returncode != 0:
        return None, (p.stderr or p.stdout).strip()
    return p.stdout.strip().splitlines()[-1], ""


def timed(cmd, stdin_text=None, tmpfile="/tmp/hvkit-bench-linux-time"):
    """(seconds, peak RSS in MB, ok) from GNU time."""
    p = subprocess.run(["/usr/bin/time", "-f", "%e %M", "-o", tmpfile] + cmd, input=stdin_text, text=True,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=600)
    try:
        e, m = open(tmpfile).read().split()[-2:]
        return float(e), float(m) / 1024.0, p.returncode == 0 and len(p.stdout) > 0
    except (OSError, ValueError):
        return float("nan"), float("nan"), False


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args(argv)
    print("\n## hvmdb on a Linux dump against drgn and crash (open + `%s`)\n" % CMDS)
    cache, why = fixture_dir()
    if not cache:
        print("skipped: no Linux fixture (%s; make it with scripts/linux-fixture.sh)" % why)
        return 0
    vmlinux, dump = os.path.join(cache, "vmlinux"), os.path.join(cache, "dumps", DUMP_NAME)
    tools = [("hvmdb", [os.path.join(a.build, "hvmdb"), "-s", vmlinux, dump, "-c", CMDS], None)]
    if subprocess.run(["/usr/bin/python3", "-c", "import drgn"], capture_output=True).returncode == 0:
        tools.append(("drgn", ["/usr/bin/python3", "-c", DRGN_PY, dump, vmlinux], None))
    else:
        print("note: drgn is not installed (python3-drgn): its column is skipped")
    if shutil.which("crash"):
        tools.append(("crash", ["crash", "-s", vmlinux, dump], CMDS.replace("; ", "\n") + "\nquit\n"))
    else:
        print("note: crash is not installed: its column is skipped")
    res = {}
    for name, cmd, stdin_text in tools:
        timed(cmd, stdin_text)  # warm the page cache
        runs = [timed(cmd, stdin_text) for _ in range(a.runs)]
        res[name] = (med([r[0] for r in runs]), med([r[1] for r in runs]), all(r[2] for r in runs))
    print("%s, %s, median of %d runs, /usr/bin/time -f '%%e %%M'\n" % (DUMP_NAME, os.path.basename(vmlinux), a.runs))
    print("| tool | wall (s) | peak RSS (MB) | ok |")
    print("| --- | --- | --- | --- |")
    for name, (wall, rss, ok) in res.items():
        print("| %s | %.2f | %.0f | %s |" % (name, wall, rss, "yes" if ok else "FAILED"))
    h = res["hvmdb"]
    for peer in ("drgn", "crash"):
        if peer in res and h[0] > 0:
            print("\n%s / hvmdb: %.1fx the time, %.1fx the memory" % (peer, res[peer][0] / h[0], res[peer][1] / h[1]),
                  end="")
    print()
    return 0 if h[2] else 1


if __name__ == "__main__":
    sys.exit(main())
