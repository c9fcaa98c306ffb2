#!/usr/bin/python3
"""bench/contain: save, restore, checkpoints and rollback (issue 13), hv against QEMU in one run.

RAM is filled from the host as bench/dump.py does (its image: 10% zero pages, 60% text-like,
30% random), so the figures are about the size a guest really uses; guest code is emulated
here, far too slowly to fill it. Both run the built-in guest over that RAM.
  hv:   dom0 with --mem-image.
        save: hvctl save dom0 F --keep --paused (the domain stopped for the write, as xl save;
              --keep only because dom0 cannot be destroyed); the file's size beside the
              kdump-zstd dump of the same domain.
        restore: hvctl restore F --name rN, five times 0.3 s apart (the median): hv's own
              figure, request to vCPU threads started (the guest's first instruction
              follows), and the hvctl round trip; hv's log of each restore's steps (and of
              each checkpoint's pause and rollback) printed as comments under the table.
        checkpoint: the first (full) and, after the guest wrote 16 MiB (`mem 16`), the
              second (incremental): pause, size; rollback to the first (the second is the
              latest: the first's undo log, frozen when the second was taken, and the
              second's give the pages, the files what they lack), then after 16 MiB more
              written to the first again (the latest now: from its undo log in memory,
              which the first rollback re-armed).
  QEMU: migrate to "exec:cat > F" with the guest stopped (save), -incoming "exec:cat F"
        until the migration completed (restore, process start included: reported apart),
        savevm / loadvm on a qcow2 disk (a checkpoint and a rollback; QEMU stops the guest
        for the whole of both).
Usage: bench/contain.py --build build [--sizes 128,1024] [--dir /var/tmp/hvkit-bench] [--hv-only]
"""
import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from dump import Qmp, drop_caches, make_image
from run import Daemon

QEMU = "qemu-system-x86_64"
RESTORES = 5  # hv's restores per size (the median is reported)


def med(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def mib(path):
    return os.path.getsize(path) / (1 << 20)


def image_for(d, size_mib):
    """bench/dump's image, cut to size_mib (its 1 GiB one is cached)."""
    big = os.path.join(d, "ram-1G.img")
    make_image(big, 1)
    path = os.path.join(d, "ram-%dM.img" % size_mib)
    if not os.path.exists(path) or os.path.getsize(path) != size_mib << 20:
        with open(big, "rb") as f, open(path + ".tmp", "wb") as o:
            o.write(f.read(size_mib << 20))
        os.rename(path + ".tmp", path)
    return path


def ms(pattern, text, r=None):
    m = re.search(pattern, text)
    if not m:
        raise RuntimeError("no %r in %r" % (pattern, text))
    return float(m.group(1))


def bench_hv(build, img, size, out_dir):
    d = Daemon(build, "--mem", "%dM" % size, "--vcpus", "1", "--mem-image", img, tmp_dir=out_dir)
    res = {}
    try:
        d.wait_running()
        d.console("dom0", "echo ready")
        save = os.path.join(d.tmp, "dom0.save")
        drop_caches()
        t = time.time()
        r = d.run("save", "dom0", save, "--keep", "--paused", timeout=1800)
        res["save_s"] = time.time() - t
        if r.returncode:
            raise RuntimeError(r.stderr)
        res["save_mib"] = mib(save)
        core = os.path.join(d.tmp, "dom0.kdump")
        r = d.run("dump", "dom0", core, "--format", "kdump-zstd", timeout=1800)
        res["kdump_mib"] = mib(core)
        os.unlink(core)
        d.run("resume", "dom0")
        rt, own = [], []
        for i in range(RESTORES):
            time.sleep(0.3)  # as a restore asked for some time after the last one
            t = time.time()
            r = d.run("restore", save, "--name", "r%d" % i, timeout=600)
            rt.append((time.time() - t) * 1000)
            if r.returncode:
                raise RuntimeError(r.stderr)
            own.append(ms(r"in ([0-9.]+) ms", r.stdout))
            d.run("destroy", "r%d" % i)
        res["restore_ms"], res["restore_rt_ms"] = med(own), med(rt)
        res["restore_range"] = "%.1f-%.1f" % (min(own), max(own))
        r = d.run("checkpoint", "dom0", "c1", timeout=1800)
        res["ckpt_pause_ms"] = ms(r"paused ([0-9.]+) ms", r.stdout)
        res["ckpt_s"] = ms(r"total ([0-9.]+) ms", r.stdout) / 1000
        d.console("dom0", "mem 16", want="offset / 8)", timeout=600)
        r = d.run("checkpoint", "dom0", "c2", timeout=1800)
        res["inc_pause_ms"] = ms(r"paused ([0-9.]+) ms", r.stdout)
        res["inc_mib"] = ms(r"in ([0-9.]+) MiB of file", r.stdout)
        res["inc_pages"] = ms(r"([0-9]+) pages", r.stdout)
        r = d.run("rollback", "dom0", "c1", timeout=1800)
        res["rollback_ms"] = ms(r"([0-9.]+) ms$", r.stdout.strip())
        res["rollback_pages"] = ms(r"([0-9]+) pages copied", r.stdout)
        m = re.search(r"([0-9]+) from undo logs in memory", r.stdout)
        res["rollback_log"] = int(m.group(1)) if m else 0
        d.console("dom0", "mem 16", want="offset / 8)", timeout=600)
        r = d.run("rollback", "dom0", "c1", timeout=1800)
        if r.returncode:
            raise RuntimeError("the second rollback: " + r.stderr)
        res["rollback2_ms"] = ms(r"([0-9.]+) ms$", r.stdout.strip())
        res["rollback2_pages"] = ms(r"([0-9]+) pages copied", r.stdout)
        m = re.search(r"([0-9]+) from undo logs in memory", r.stdout)
        res["rollback2_log"] = int(m.group(1)) if m else 0
        res["log"] = [l for l in d.run("dmesg").stdout.splitlines()
                      if "restore took" in l or ": checkpoint " in l or "rollback to" in l or "undo log" in l
                      or "kernel symbols" in l]
    finally:
        d.stop()
    return res


def qemu_args(build, ram, size, qmp, extra=()):
    return [QEMU, "-M", "microvm,memory-backend=m", "-enable-kvm", "-cpu", "EPYC",
            "-object", "memory-backend-file,id=m,size=%dM,mem-path=%s,share=on" % (size, ram),
            "-m", "%dM" % size, "-smp", "1", "-kernel", os.path.join(build, "guest.elf"),
            "-nographic", "-nodefaults", "-serial", "null", "-qmp", "unix:%s,server,nowait" % qmp] + list(extra)


def wait_sock(path):
    for _ in range(600):
        if os.path.exists(path):
            return
        time.sleep(0.02)


def bench_qemu(build, img, size, out_dir):
    tmp = tempfile.mkdtemp(dir=out_dir)
    res = {}
    procs = []
    try:
        ram = os.path.join(tmp, "ram")
        shutil.copyfile(img, ram)
        disk = os.path.join(tmp, "disk.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)
        qmp = os.path.join(tmp, "qmp")
        drive = ["-drive", "file=%s,if=none,id=d0" % disk, "-device", "virtio-blk-device,drive=d0"]
        p = subprocess.Popen(qemu_args(build, ram, size, qmp, drive),
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p)
        wait_sock(qmp)
        q = Qmp(qmp)
        time.sleep(1.0)
        save = os.path.join(tmp, "vm.save")
        drop_caches()
        t = time.time()
        q.cmd("stop")
        q.cmd("migrate", uri="exec:cat > %s" % save)
        while q.cmd("query-migrate").get("return", {}).get("status") not in ("completed", "failed"):
            time.sleep(0.005)
        subprocess.run(["sync", save])
        res["save_s"] = time.time() - t
        res["save_mib"] = mib(save)
        q.cmd("cont")
        t = time.time()
        r = q.cmd("human-monitor-command", **{"command-line": "savevm c1"})
        res["savevm_s"] = time.time() - t
        t = time.time()
        r = q.cmd("human-monitor-command", **{"command-line": "loadvm c1"})
        res["loadvm_ms"] = (time.time() - t) * 1000
        if r.get("return"):
            raise RuntimeError("loadvm: %s" % r)
        q.cmd("quit")
        p.wait(timeout=60)
        # restore: a new QEMU taking the stream
        qmp2 = os.path.join(tmp, "qmp2")
        ram2 = os.path.join(tmp, "ram2")
        shutil.copyfile(img, ram2)
        drop_caches()
        t = time.time()
        p2 = subprocess.Popen(qemu_args(build, ram2, size, qmp2, drive + ["-incoming", "exec:cat %s" % save]),
                              stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        procs.append(p2)
        wait_sock(qmp2)
        t_up = time.time()
        q2 = Qmp(qmp2)
        while q2.cmd("query-migrate").get("return", {}).get("status") not in ("completed", "failed"):
            time.sleep(0.002)
        q2.cmd("cont")
        res["restore_ms"] = (time.time() - t) * 1000
        res["restore_start_ms"] = (t_up - t) * 1000
        q2.cmd("quit")
        p2.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sizes", default="128,1024")
    ap.add_argument("--dir", default="/var/tmp/hvkit-bench")
    ap.add_argument("--hv-only", action="store_true", help="skip QEMU (a quick look at hv's figures)")
    a = ap.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    print("\n## Save, restore, checkpoints and rollback: hv against QEMU (bench/contain.py)\n")
    print("| guest | measure | hv | QEMU | QEMU / hv |")
    print("| --- | --- | ---: | ---: | ---: |")
    for size in [int(x) for x in a.sizes.split(",")]:
        img = image_for(a.dir, size)
        hv = bench_hv(a.build, img, size, a.dir)
        qe = bench_qemu(a.build, img, size, a.dir) if not a.hv_only else collections.defaultdict(lambda: None)
        g = "%d MiB" % size
        rows = [
            ("save, s (domain stopped for the write)", hv["save_s"], qe["save_s"], "%.3f"),
            ("save file, MiB (hv's kdump-zstd dump: %.1f)" % hv["kdump_mib"], hv["save_mib"], qe["save_mib"], "%.1f"),
            ("restore to running, ms (hv: median of %d, %s; QEMU: process start %.0f ms included)"
             % (RESTORES, hv["restore_range"], qe["restore_start_ms"] or 0), hv["restore_ms"], qe["restore_ms"], "%.1f"),
            ("restore, hvctl round trip, ms (median)", hv["restore_rt_ms"], None, "%.1f"),
            ("checkpoint pause, ms (QEMU savevm stops the guest throughout)", hv["ckpt_pause_ms"],
             qe["savevm_s"] and qe["savevm_s"] * 1000, "%.3f"),
            ("checkpoint, total s", hv["ckpt_s"], qe["savevm_s"], "%.3f"),
            ("incremental checkpoint after 16 MiB written: pause ms", hv["inc_pause_ms"], None, "%.3f"),
            ("incremental checkpoint: file MiB (%d pages)" % hv["inc_pages"], hv["inc_mib"], None, "%.1f"),
            ("rollback to the first after 16 MiB written and the second checkpoint, ms (QEMU loadvm; hv copied "
             "back %d pages, %d of them from the undo logs in memory: the first's, frozen, and the second's)"
             % (hv["rollback_pages"], hv["rollback_log"]),
             hv["rollback_ms"], qe["loadvm_ms"], "%.1f"),
            ("rollback to it again after 16 MiB more written, ms (now the latest: %d of %d pages from the undo "
             "logs in memory)" % (hv["rollback2_log"], hv["rollback2_pages"]), hv["rollback2_ms"], qe["loadvm_ms"], "%.1f"),
        ]
        for name, h, q, f in rows:
            ratio = "%.1f" % (q / h) if q is not None and h > 0 else "-"
            print("| %s | %s | %s | %s | %s |" % (g, name, f % h, f % q if q is not None else "-", ratio))
        for line in hv["log"]:
            print("<!-- %s: %s -->" % (g, line.strip()))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
