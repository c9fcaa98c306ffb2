#!/usr/bin/python3
"""bench: hv against QEMU, side by side in one run, on this host.

1. launch-to-exit of a trivial PVH kernel (prints a line, powers off) and the peak RSS of
   the process (ru_maxrss: hv touches only a few pages of guest RAM for it, so this is
   hv's memory beyond guest RAM);
2. the built-in guest: time from launch to its first `guest> ` prompt, and the guest
   instructions executed to get there (hv --count-insns, single-stepping every vCPU), so
   the figure can be projected to hosts with hardware KVM.
Peers: qemu-system-x86_64 -M microvm -enable-kvm -cpu EPYC, and the same with -accel tcg,
with the same memory, vCPUs and kernel. Medians of N runs; ratios are QEMU / hv.
"""
import argparse
import os
import select
import signal
import statistics
import subprocess
import sys
import time

QEMU = "qemu-system-x86_64"


def hv_cmd(build, kernel, mem, vcpus, extra=()):
    return [os.path.join(build, "hv"), "-q", "-k", kernel, "--mem", f"{mem}M", "--vcpus", str(vcpus)] + list(extra)


def qemu_cmd(accel, kernel, mem, vcpus):
    acc = ["-enable-kvm", "-cpu", "EPYC"] if accel == "kvm" else ["-accel", "tcg"]
    return [QEMU, "-M", "microvm"] + acc + ["-m", str(mem), "-smp", str(vcpus), "-kernel", kernel,
                                            "-nographic", "-nodefaults", "-serial", "stdio",
                                            "-device", "isa-debug-exit,iobase=0xf4", "-no-reboot"]


def launch_to_exit(cmd, tmpfile="/tmp/hvkit-bench-rss"):
    """Wall time and peak RSS. The RSS comes from GNU time's wait4 (%M): measured from our
    own wait4, it would include the Python process the child was forked from."""
    t = time.monotonic()
    p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tmpfile] + cmd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    dt = time.monotonic() - t
    try:
        rss_kb = float(open(tmpfile).read().split()[-1])
    except (OSError, ValueError, IndexError):
        rss_kb = float("nan")
    ok = b"trivial PVH kernel: hello" in p.stdout
    return dt, rss_kb / 1024.0, ok


def to_prompt(cmd, timeout=120, prompt=b"guest> "):
    """Seconds from launch until the prompt appears, and everything printed."""
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    buf = b""
    dt = None
    while time.monotonic() - t < timeout:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            chunk = os.read(p.stdout.fileno(), 65536)
            if not chunk:
                break
            buf += chunk
            if prompt in buf:
                dt = time.monotonic() - t
                break
    p.send_signal(signal.SIGTERM)
    try:
        rest, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        rest, _ = p.communicate()
    return dt, buf + (rest or b"")


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--runs", type=int, default=11)
    ap.add_argument("--mem", type=int, default=128)
    ap.add_argument("--vcpus", type=int, default=1)
    a = ap.parse_args()
    trivial = os.path.join(a.build, "tests", "kernels", "trivial.elf")
    guest = os.path.join(a.build, "guest.elf")
    print(f"# hvkit bench, {time.strftime('%Y-%m-%d')}, {os.uname().nodename}, "
          f"{os.cpu_count()} CPUs, KVM module: {'kvm_pvm (emulated guests)' if os.path.exists('/sys/module/kvm_pvm') else 'hardware'}")
    print(f"\n## Trivial PVH kernel, launch to exit ({a.runs} runs, {a.mem} MiB, {a.vcpus} vCPU)\n")
    print("| runner | median ms | min ms | peak RSS MiB | ratio (time) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    rows = {}
    for name, cmd in [("hv", hv_cmd(a.build, trivial, a.mem, a.vcpus)),
                      ("QEMU microvm + KVM", qemu_cmd("kvm", trivial, a.mem, a.vcpus)),
                      ("QEMU microvm + TCG", qemu_cmd("tcg", trivial, a.mem, a.vcpus))]:
        ts, rss, bad = [], [], 0
        for _ in range(a.runs):
            dt, m, ok = launch_to_exit(cmd)
            if ok:
                ts.append(dt * 1000)
                rss.append(m)
            else:
                bad += 1
        rows[name] = (med(ts), min(ts) if ts else float("nan"), med(rss), bad)
    base = rows["hv"][0]
    for name, (t, tmin, m, bad) in rows.items():
        note = f" ({bad} runs failed)" if bad else ""
        print(f"| {name}{note} | {t:.1f} | {tmin:.1f} | {m:.1f} | {t / base:.2f} |")

    if not os.path.exists(guest):
        print("\n(no build/guest.elf: built-in guest benchmarks skipped)")
        return 0
    runs = max(3, a.runs // 3)
    print(f"\n## Built-in guest, launch to first `guest> ` prompt ({runs} runs, {a.mem} MiB)\n")
    print("| runner | vCPUs | median s | ratio (time) |")
    print("| --- | ---: | ---: | ---: |")
    for vcpus in (1, 4):
        res = {}
        for name, cmd in [("hv", hv_cmd(a.build, guest, a.mem, vcpus)),
                          ("QEMU microvm + KVM", qemu_cmd("kvm", guest, a.mem, vcpus)),
                          ("QEMU microvm + TCG", qemu_cmd("tcg", guest, a.mem, vcpus))]:
            ts = []
            for _ in range(runs):
                dt, out = to_prompt(cmd)
                if dt is not None:
                    ts.append(dt)
            res[name] = med(ts) if ts else None
        for name, t in res.items():
            if t is None:
                print(f"| {name} | {vcpus} | did not reach the prompt | |")
            else:
                ratio = t / res["hv"] if res["hv"] else float("nan")
                print(f"| {name} | {vcpus} | {t:.3f} | {ratio:.2f} |")
    print("\n## Guest instructions to the prompt (hv --count-insns)\n")
    print("| vCPUs | instructions per vCPU | projected at 1e9 instr/s (hardware KVM, ~1 IPC at 1 GHz) |")
    print("| ---: | --- | ---: |")
    for vcpus in (1, 4):
        cmd = [x for x in hv_cmd(a.build, guest, a.mem, vcpus, ["--count-insns"]) if x != "-q"]
        dt, out = to_prompt(cmd, timeout=600)
        counts = []
        for line in out.decode(errors="replace").splitlines():
            if "executed" in line and "instructions" in line:
                counts.append(int(line.split("executed")[1].split()[0]))
        if counts:
            print(f"| {vcpus} | {', '.join(str(c) for c in counts)} | {max(counts) / 1e9 * 1000:.2f} ms |")
        else:
            print(f"| {vcpus} | (no count: the prompt was not reached) | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
