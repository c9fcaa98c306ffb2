#!/usr/bin/python3
"""bench/dump: crash dumps of big guests, hv against QEMU's dump-guest-memory and dd.

Guest code runs emulated here, far too slowly to fill GiBs, so RAM is filled from the host:
one image file (10% zero pages, 60% compressible text-like pages, 30% random pages, in a
64 MiB pattern repeated), loaded into hv with --mem-image and given to QEMU as its RAM with
-object memory-backend-file on a copy. Both then boot the built-in guest over it (a few
pages change) and are dumped:
  hv:   hvctl dump --format elf | kdump-zstd | kdump-lz4 | kdump-zlib (copy-on-write: the
        domain runs during the write; its pause is reported by hv)
  QEMU: QMP dump-guest-memory, format elf and kdump-zlib (the guest is stopped throughout)
  dd:   dd from /dev/zero, the same byte count, conv=fsync: the disk's write ceiling.
Every file is fsync'd (hv and dd) or closed (QEMU; its time then also gets a sync). The
page cache is dropped before each run when we are root.
Usage: bench/dump.py --build build [--sizes 1,4] [--dir /var/tmp/hvkit-bench]
"""
import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from run import Daemon

QEMU = "qemu-system-x86_64"
PATTERN = 64 << 20


def make_image(path, gib):
    """The image: a 64 MiB pattern of pages repeated to gib GiB (cached between runs)."""
    want = gib << 30
    if os.path.exists(path) and os.path.getsize(path) == want:
        return
    pat = bytearray()
    words = b"the kernel scheduler runs every task on the run queue of its cpu; " \
            b"struct page flags mapping index private lru 0123456789abcdef "
    npages = PATTERN // 4096
    for i in range(npages):
        kind = i % 10
        if kind == 0:
            pat += bytes(4096)
        elif kind <= 6:
            off = (i * 7) % len(words)
            s = (words[off:] + words) * (4096 // len(words) + 2)
            page = bytearray(s[:4096])
            page[0:8] = i.to_bytes(8, "little")
            pat += page
        else:
            pat += os.urandom(4096)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        for _ in range(want // PATTERN):
            f.write(pat)
    os.rename(tmp, path)


def drop_caches():
    if os.geteuid() == 0:
        subprocess.run(["sync"])
        try:
            open("/proc/sys/vm/drop_caches", "w").write("3\n")
        except OSError:
            pass


def file_mib(path):
    st = os.stat(path)
    return st.st_blocks * 512 / (1 << 20)


class Qmp:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX)
        for _ in range(200):
            try:
                self.s.connect(path)
                break
            except OSError:
                time.sleep(0.05)
        self.f = self.s.makefile("rwb")
        self.f.readline()
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        self.f.write(json.dumps({"execute": name, "arguments": args}).encode() + b"\n")
        self.f.flush()
        while True:
            r = json.loads(self.f.readline())
            if "return" in r or "error" in r:
                return r


def bench_dd(img, out):
    """Seconds for dd to write as many bytes as the image holds, fsync'd."""
    drop_caches()
    t = time.time()
    n = os.path.getsize(img) // (4 << 20)
    subprocess.run(["dd", "if=/dev/zero", "of=" + out, "bs=4M", "count=%d" % n, "conv=fsync"], check=True,
                   capture_output=True)
    dt = time.time() - t
    os.unlink(out)
    return dt


def bench_hv(build, img, gib, out_dir):
    d = Daemon(build, "--mem", f"{gib}G", "--vcpus", "1", "--mem-image", img, tmp_dir=out_dir)
    res = {}
    try:
        d.wait_running()  # the image loaded: nothing else reads the disk while we time
        time.sleep(0.5)
        for fmt in ("elf", "kdump-zstd", "kdump-lz4", "kdump-zlib"):
            out = os.path.join(d.tmp, "core." + fmt)
            drop_caches()
            t = time.time()
            r = d.run("dump", "dom0", out, "--format", fmt, timeout=1800)
            dt = time.time() - t
            m = re.search(r"paused ([0-9.]+) ms", r.stdout)
            if r.returncode or not m:
                raise RuntimeError("hv dump failed: " + r.stdout + r.stderr)
            res[fmt] = (dt, float(m.group(1)), file_mib(out))
            os.unlink(out)
    finally:
        d.stop()
    return res


def bench_qemu(build, img, gib, out_dir):
    tmp = tempfile.mkdtemp(dir=out_dir)
    ram = os.path.join(tmp, "ram")
    shutil.copyfile(img, ram)
    qmp_path = os.path.join(tmp, "qmp")
    p = subprocess.Popen([QEMU, "-M", "microvm,memory-backend=m", "-enable-kvm", "-cpu", "EPYC",
                          "-object", f"memory-backend-file,id=m,size={gib}G,mem-path={ram},share=on",
                          "-m", f"{gib}G", "-smp", "1", "-kernel", os.path.join(build, "guest.elf"),
                          "-nographic", "-nodefaults", "-serial", "null", "-qmp", f"unix:{qmp_path},server,nowait"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    res = {}
    try:
        for _ in range(600):
            if os.path.exists(qmp_path):
                break
            time.sleep(0.05)
        q = Qmp(qmp_path)
        time.sleep(1.0)
        for fmt in ("elf", "kdump-zlib"):
            out = os.path.join(tmp, "core." + fmt)
            drop_caches()
            t = time.time()
            r = q.cmd("dump-guest-memory", paging=False, protocol="file:" + out, detach=False, format=fmt)
            subprocess.run(["sync", out])
            dt = time.time() - t
            if "error" in r:
                raise RuntimeError("QEMU dump failed: %s" % r)
            res[fmt] = (dt, dt * 1000, file_mib(out))  # QEMU stops the guest for the whole dump
            os.unlink(out)
        q.cmd("quit")
    finally:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--sizes", default="1,4")
    ap.add_argument("--dir", default="/var/tmp/hvkit-bench")
    a = ap.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    print("\n## Dumps of big guests (RAM from the host: 10% zero, 60% text-like, 30% random pages)\n")
    print("| guest | tool | format | time s | GiB/s | pause ms | file MiB | speed vs QEMU same format | vs dd |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for gib in [int(x) for x in a.sizes.split(",")]:
        img = os.path.join(a.dir, f"ram-{gib}G.img")
        make_image(img, gib)
        dd = bench_dd(img, os.path.join(a.dir, "dd.out"))
        hv = bench_hv(a.build, img, gib, a.dir)
        qe = bench_qemu(a.build, img, gib, a.dir)
        print(f"| {gib} GiB | dd | raw | {dd:.2f} | {gib / dd:.2f} | - | {gib * 1024} | - | 1.00 |")
        for fmt, (t, pause, mib) in qe.items():
            print(f"| {gib} GiB | QEMU | {fmt} | {t:.2f} | {gib / t:.2f} | {pause:.0f} | {mib:.0f} | 1.00 | {dd / t:.2f} |")
        for fmt, (t, pause, mib) in hv.items():
            peer = qe.get(fmt) or qe.get("kdump-zlib")
            print(f"| {gib} GiB | hv | {fmt} | {t:.2f} | {gib / t:.2f} | {pause:.1f} | {mib:.0f} | "
                  f"{peer[0] / t:.2f} | {dd / t:.2f} |")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
