#!/usr/bin/python3
"""run: runs every hvkit test (cmocka unit binaries, then the pytest end-to-end suite)
and prints one closing line `N passed, N failed` (", N skipped" when some were)."""
import argparse
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET


def run_unit(binary):
    p = subprocess.run([binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = p.stdout
    sys.stdout.write(out)
    passed = sum(int(n) for n in re.findall(r"\[  PASSED  \] (\d+) test", out))
    failed = sum(int(n) for n in re.findall(r"\[  FAILED  \] (\d+) test", out))
    if p.returncode != 0 and failed == 0:
        failed = 1  # crashed (sanitizer report) before cmocka could count
        print(f"run: {binary} exited with status {p.returncode}")
    return passed, failed


def run_pytest(build, args):
    xml = os.path.join(build, "e2e-results.xml")
    env = dict(os.environ, HVKIT_BUILD=os.path.abspath(build))
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rfEs",
           f"--junitxml={xml}", "tests/e2e"] + args
    p = subprocess.run(cmd, env=env)
    try:
        root = ET.parse(xml).getroot()
        suites = [root] if root.tag == "testsuite" else list(root)
        total = sum(int(s.get("tests", 0)) for s in suites)
        failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
        skipped = sum(int(s.get("skipped", 0)) for s in suites)
    except (OSError, ET.ParseError):
        return 0, 1, 0
    if p.returncode not in (0, 1) and failed == 0:
        failed = 1
    return total - failed - skipped, failed, skipped


def seed_corpus(build, name):
    """Seeds for a fuzz target: the test kernels and the guest for the loader, the
    committed examples for the others. The corpus grows in build/fuzz/corpus-NAME."""
    corpus = os.path.join(build, "fuzz", "corpus-" + name)
    os.makedirs(corpus, exist_ok=True)
    seeds = []
    if name in ("fuzz_loader", "fuzz_symfile", "fuzz_dwarf"):
        kd = os.path.join(build, "tests", "kernels")
        seeds = [os.path.join(kd, f) for f in os.listdir(kd) if f.endswith(".elf")] if os.path.isdir(kd) else []
        seeds.append(os.path.join(build, "guest.elf"))
    sd = os.path.join("tests", "fuzz", "seeds", name)  # committed examples (past findings too)
    seeds += [os.path.join(sd, f) for f in os.listdir(sd)] if os.path.isdir(sd) else []
    for s in seeds:
        if os.path.isfile(s):
            dst = os.path.join(corpus, "seed-" + os.path.basename(s))
            if not os.path.exists(dst):
                with open(s, "rb") as a, open(dst, "wb") as b:
                    b.write(a.read())
    return corpus


def run_fuzz(build, binary, seconds):
    name = os.path.basename(binary)
    corpus = seed_corpus(build, name)
    cmd = [binary, corpus, "-max_total_time=%d" % seconds, "-max_len=262144", "-rss_limit_mb=2048",
           "-print_final_stats=1", "-close_fd_mask=3"]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    runs = re.findall(r"stat::number_of_executed_units:\s+(\d+)", p.stdout)
    if p.returncode != 0:
        sys.stdout.write(p.stdout[-4000:])
        print(f"fuzz: {name} FAILED (exit {p.returncode}); the crashing input is in the current directory")
        return 0, 1
    print(f"fuzz: {name} ran {runs[0] if runs else '?'} inputs in {seconds} s, no failure")
    return 1, 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--pytest-args", default="")
    ap.add_argument("--fuzz", default="")
    ap.add_argument("--fuzz-seconds", type=int, default=8)
    ap.add_argument("--fuzz-only", action="store_true")
    ap.add_argument("units", nargs="*")
    a = ap.parse_args()
    passed = failed = skipped = 0
    for b in a.fuzz.split():
        p, f = run_fuzz(a.build, b, a.fuzz_seconds)
        passed += p
        failed += f
    if a.fuzz_only:
        print(f"{passed} passed, {failed} failed")
        return 1 if failed else 0
    for b in a.units:
        p, f = run_unit(b)
        passed += p
        failed += f
    p, f, s = run_pytest(a.build, a.pytest_args.split())
    passed += p
    failed += f
    skipped += s
    line = f"{passed} passed, {failed} failed"
    if skipped:
        line += f", {skipped} skipped"
    print(line)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
