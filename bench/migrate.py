#!/usr/bin/python3
"""bench/migrate: live migration on loopback (issue 14), hv against QEMU in one run.

Both move a guest of SIZE MiB (1 GiB by default) whose RAM is filled from the host as
bench/dump.py does (10% zero pages, 60% text-like, 30% random), running the built-in guest,
once idle and once running `churn N` (N MiB rewritten at random), with the same bandwidth
limit (QEMU's default max-bandwidth, 128 MiB/s, unless --bandwidth).
  hv:   two daemons; the domU has `mem_image` (bench only); `hvctl migrate g
        127.0.0.1:PORT --live --bandwidth B` with hv's default downtime target (30 ms):
        the downtime hv reports (its pause to the receiver's "running"), total time, bytes.
  QEMU: (idle only: the built-in guest needs hv's ports, so it cannot run churn under
        QEMU) a source and an `-incoming tcp:` destination; migrate-set-parameters
        max-bandwidth B (downtime-limit left at QEMU's default, 300 ms); `migrate`, then
        query-migrate until completed: its own downtime, total-time and ram transferred.
Usage: bench/migrate.py --build build [--size 1024] [--churn 16] [--bandwidth 128] [--dir D]
"""
import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from contain import image_for, qemu_args, wait_sock
from dump import Qmp
from run import Daemon


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def hv_host(build, out_dir):
    d = Daemon(build, "--mem", "32M", "--vcpus", "1", tmp_dir=out_dir)
    d.port = free_port()
    d.ctl("setprop", "config/xend-relocation-port", "=", str(d.port))
    d.ctl("refresh")
    d.wait_running()
    return d


def bench_hv(build, img, size, churn, bw, out_dir):
    a, b = hv_host(build, out_dir), hv_host(build, out_dir)
    res = {}
    try:
        cfg = os.path.join(a.tmp, "g.cfg")
        open(cfg, "w").write('name = "g"\nmemory = %d\nvcpus = 1\nmem_image = "%s"\n' % (size, img))
        r = a.run("create", cfg, timeout=600)
        if r.returncode:
            raise RuntimeError(r.stderr)
        a.wait_running("g")
        if not a.console("g", None, want="guest> ", timeout=120):  # booted: its prompt is in the history
            raise RuntimeError("the guest did not boot")
        src, dst = a, b
        for kind in ("idle", "post-copy, idle", "churn", "post-copy, churn"):
            if kind == "churn":
                if not src.console("g", "churn %d" % churn, want="churn_state"):
                    raise RuntimeError("churn did not start")
                time.sleep(1.0)
            how = ["--postcopy"] if kind.startswith("post") else ["--live"]
            r = src.run("migrate", "g", "127.0.0.1:%d" % dst.port, *how, "--bandwidth", str(bw), timeout=1800)
            if r.returncode:
                raise RuntimeError(r.stderr)
            m = re.search(r"downtime ([0-9.]+) ms, total ([0-9.]+) ms, ([0-9.]+) MiB sent in (\d+) round", r.stdout)
            res[kind] = {"downtime_ms": float(m.group(1)), "total_s": float(m.group(2)) / 1000,
                         "mib": float(m.group(3)), "rounds": int(m.group(4)),
                         "throttled": "auto-converge" in r.stdout}
            pc = re.search(r"Post-copy: (\d+) pages after the switch in ([0-9.]+) ms, (\d+) asked for", r.stdout)
            if pc:
                res[kind].update(post_pages=int(pc.group(1)), post_ms=float(pc.group(2)), post_faults=int(pc.group(3)))
            print("hv %s: %s" % (kind, "\n  ".join(r.stdout.strip().splitlines()[-3:])), file=sys.stderr)
            tag = kind.replace(",", "").replace(" ", "-")
            if not dst.console("g", "echo moved-%s" % tag, want="moved-" + tag):
                raise RuntimeError("the guest does not answer at the receiver")
            src, dst = dst, src
    finally:
        a.stop()
        b.stop()
    return res


def bench_qemu(build, img, size, churn, bw, out_dir):
    tmp = tempfile.mkdtemp(dir=out_dir)
    res = {}
    procs = []
    try:
        for kind in ("idle", "post-copy, idle"):  # the built-in guest needs hv's ports: no churn under QEMU
            ram, ram2 = os.path.join(tmp, "ram"), os.path.join(tmp, "ram2")
            shutil.copyfile(img, ram)
            open(ram2, "wb").truncate(size << 20)
            qmp, qmp2 = (os.path.join(tmp, n + kind.replace(",", "").replace(" ", "-")) for n in ("qmp", "qmp2"))
            port = free_port()
            p = subprocess.Popen(qemu_args(build, ram, size, qmp),
                                 stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            p2 = subprocess.Popen(qemu_args(build, ram2, size, qmp2, ["-incoming", "tcp:127.0.0.1:%d" % port]),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            procs += [p, p2]
            wait_sock(qmp)
            wait_sock(qmp2)
            q, q2 = Qmp(qmp), Qmp(qmp2)
            time.sleep(1.0)
            q.cmd("migrate-set-parameters", **{"max-bandwidth": bw << 20, "max-postcopy-bandwidth": bw << 20})
            post = kind.startswith("post")
            if post:
                for x in (q, q2):
                    x.cmd("migrate-set-capabilities", capabilities=[{"capability": "postcopy-ram", "state": True}])
            t = time.time()
            q.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
            started = False
            while True:
                st = q.cmd("query-migrate").get("return", {})
                if st.get("status") in ("completed", "failed"):
                    break
                if post and not started and st.get("ram", {}).get("dirty-sync-count", 0) >= 2:
                    q.cmd("migrate-start-postcopy")  # after the first round, as hv's --postcopy
                    started = True
                time.sleep(0.01)
            if st.get("status") != "completed":
                raise RuntimeError("QEMU migration: %s" % st)
            res[kind] = {"downtime_ms": float(st.get("downtime", 0)), "total_s": st.get("total-time", 0) / 1000,
                         "mib": st.get("ram", {}).get("transferred", 0) / 1048576.0,
                         "rounds": st.get("ram", {}).get("dirty-sync-count", 0), "wall_s": time.time() - t}
            q.cmd("quit")
            q2.cmd("quit")
            for x in (p, p2):
                x.wait(timeout=60)
    finally:
        for x in procs:
            if x.poll() is None:
                x.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--churn", type=int, default=16)
    ap.add_argument("--bandwidth", type=int, default=128)
    ap.add_argument("--dir", default="/var/tmp/hvkit-bench")
    a = ap.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    img = image_for(a.dir, a.size)
    hv = bench_hv(a.build, img, a.size, a.churn, a.bandwidth, a.dir)
    qe = bench_qemu(a.build, img, a.size, a.churn, a.bandwidth, a.dir)
    print("\n## Live migration on loopback: hv against QEMU (bench/migrate.py)\n")
    print("%d MiB guest, bandwidth limit %d MiB/s for both; churn rewrites %d MiB at random.\n" %
          (a.size, a.bandwidth, a.churn))
    print("| guest | measure | hv | QEMU | QEMU / hv |")
    print("| --- | --- | ---: | ---: | ---: |")
    for kind in ("idle", "post-copy, idle", "churn", "post-copy, churn"):
        h, q = hv[kind], qe.get(kind)
        for label, key, fmt in (("downtime, ms", "downtime_ms", "%.2f"), ("total time, s", "total_s", "%.2f"),
                                ("sent, MiB", "mib", "%.1f"), ("rounds", "rounds", "%d")):
            if q is None:
                print("| %s | %s | %s | not measured | |" % (kind, label, fmt % h[key]))
                continue
            ratio = q[key] / h[key] if h[key] else float("inf")
            print("| %s | %s | %s | %s | %.1f |" % (kind, label, fmt % h[key], fmt % q[key], ratio))
        if "post_pages" in h:
            print("| %s | hv: pages after the switch, of them asked for; that phase's ms | %d, %d; %.1f | | |" %
                  (kind, h["post_pages"], h["post_faults"], h["post_ms"]))
        if h.get("throttled"):
            print("| %s | hv throttled the guest (auto-converge) | yes | | |" % kind)
    return 0


if __name__ == "__main__":
    sys.exit(main())
