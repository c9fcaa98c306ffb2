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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build")
    ap.add_argument("--pytest-args", default="")
    ap.add_argument("units", nargs="*")
    a = ap.parse_args()
    passed = failed = skipped = 0
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
