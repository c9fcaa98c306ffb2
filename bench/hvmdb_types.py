#!/usr/bin/python3
"""bench/hvmdb_types: hvmdb's DWARF type lookups on the Debian vmlinux (issue 6/8), cold (no type
cache: the scan of .debug_info runs, and the cache is written before exit), warm (the cache
the cold run wrote) and off (HVKIT_TYPE_CACHE=off: a scan in every run), against drgn on the
same dump (idle-vmci-paging.elf, the one drgn opens).

Three workloads: `::sizeof struct task_struct`; `ADDR::print struct task_struct` (init's
task from ps); five lookups (task_struct, rq.clock, xz_dec late in .debug_info, page,
task_struct.comm). For each: when the last answer was printed ("answer") and when the process
exited ("exit"), median of N runs, warm page cache. Skipped without the Linux fixture.
Usage: bench/hvmdb_types.py --build build [--runs 3] [--before OLD_HVMDB]
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from linux import DUMP_NAME, fixture_dir, med  # noqa: E402

FIVE = ("::sizeof struct task_struct; ::offsetof struct rq clock; ::sizeof struct xz_dec; ::sizeof struct page; "
        "::offsetof struct task_struct comm")
DRGN_PY = r"""
import sys, drgn
prog = drgn.program_from_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
what = sys.argv[3]
if what == "sizeof":
    print(prog.type("struct task_struct").size)
elif what == "print":
    print(drgn.Object(prog, "struct task_struct", address=int(sys.argv[4], 16)))
else:
    print(prog.type("struct task_struct").size, drgn.offsetof(prog.type("struct rq"), "clock"),
          prog.type("struct xz_dec").size, prog.type("struct page").size,
          drgn.offsetof(prog.type("struct task_struct"), "comm"))
sys.stdout.flush()
"""


def timed(cmd, env=None):
    """(seconds to the last line of output, seconds to exit, ok)"""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    last = t0
    for _ in iter(p.stdout.readline, b""):
        last = time.monotonic()
    rc = p.wait()
    return last - t0, time.monotonic() - t0, rc == 0


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--before", help="an hvmdb without the type index, for a column")
    a = ap.parse_args(argv)
    print("\n## hvmdb type lookups on the Debian vmlinux: no cache, cache, drgn\n")
    cache, why = fixture_dir()
    if not cache:
        print("skipped: no Linux fixture (%s; make it with scripts/linux-fixture.sh)" % why)
        return 0
    vmlinux, dump = os.path.join(cache, "vmlinux"), os.path.join(cache, "dumps", DUMP_NAME)
    hvmdb = os.path.join(a.build, "hvmdb")
    ps = subprocess.run([hvmdb, "-s", vmlinux, dump, "-c", "ps"], capture_output=True, text=True,
                        env=dict(os.environ, HVKIT_TYPE_CACHE="off")).stdout  # (not the user's cache)
    m = re.search(r"^\s+1\s+0\s+\d+\s+([0-9a-f]{16})\s+\w\w\s+init$", ps, re.M)
    if not m:
        print("skipped: no init task in ps")
        return 1
    addr = m.group(1)
    work = [("::sizeof struct task_struct", "::sizeof struct task_struct", ["sizeof"]),
            ("::print struct task_struct", "0x%s::print struct task_struct" % addr, ["print", addr]),
            ("5 lookups", FIVE, ["five"])]
    has_drgn = subprocess.run(["/usr/bin/python3", "-c", "import drgn"], capture_output=True).returncode == 0
    tmp = tempfile.mkdtemp(prefix="hvkit-bench-types-")
    rows = []
    try:
        for label, cmds, dargs in work:
            cmd = [hvmdb, "-s", vmlinux, dump, "-c", cmds]
            timed(cmd, dict(os.environ, HVKIT_TYPE_CACHE="off"))  # warm the page cache
            cold, warm = [], []
            for i in range(a.runs):
                d = os.path.join(tmp, "%s-%d" % (dargs[0], i))  # a new cache directory: cold
                env = dict(os.environ, HVKIT_TYPE_CACHE=d)
                cold.append(timed(cmd, env))
                warm.append(timed(cmd, env))
            off = [timed(cmd, dict(os.environ, HVKIT_TYPE_CACHE="off")) for _ in range(a.runs)]
            res = {"hvmdb cold (scan, cache written)": cold, "hvmdb warm (cache)": warm, "hvmdb, cache off": off}
            if a.before:
                res["hvmdb before the index"] = [timed([a.before] + cmd[1:]) for _ in range(a.runs)]
            if has_drgn:
                dcmd = ["/usr/bin/python3", "-c", DRGN_PY, dump, vmlinux] + dargs
                timed(dcmd)
                res["drgn"] = [timed(dcmd) for _ in range(a.runs)]
            for name, rs in res.items():
                rows.append((label, name, med([r[0] for r in rs]), med([r[1] for r in rs]), all(r[2] for r in rs)))
    finally:
        shutil.rmtree(tmp, True)
    print("%s, %s, median of %d runs; answer: the last line printed, exit: the process's end\n"
          % (DUMP_NAME, os.path.basename(vmlinux), a.runs))
    print("| workload | tool | answer (s) | exit (s) | ok |")
    print("| --- | --- | ---: | ---: | --- |")
    for label, name, ans, ex, ok in rows:
        print("| %s | %s | %.2f | %.2f | %s |" % (label, name, ans, ex, "yes" if ok else "FAILED"))
    return 0 if all(r[4] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
