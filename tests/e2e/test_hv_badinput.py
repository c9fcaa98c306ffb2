"""End to end: bad input to build/hv gets one clear error line on stderr and a non-zero
exit, never a crash or a hang."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import HV, ASAN_ENV, kernel, run_hv


def one_error(r, needle):
    assert r.returncode not in (0, 98, 99) and r.returncode > 0, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("hv: "), lines[0]
    assert needle in lines[0], lines[0]
    assert "(hv) dom0 (domain 0) started" not in r.stdout


@pytest.fixture
def tmp():
    d = tempfile.mkdtemp()
    yield d
    shutil.rmtree(d)


def test_missing_kernel():
    one_error(run_hv(["-k", "/nonexistent/vmlinux"]), "/nonexistent/vmlinux: No such file or directory")


def test_not_an_elf(tmp):
    p = os.path.join(tmp, "k")
    open(p, "w").write("#!/bin/sh\necho not a kernel\n")
    one_error(run_hv(["-k", p]), "not an ELF file")


def test_directory_as_kernel(tmp):
    one_error(run_hv(["-k", tmp]), "not a regular file")


def test_truncated_kernel(tmp):
    data = open(kernel("trivial"), "rb").read()
    p = os.path.join(tmp, "k")
    open(p, "wb").write(data[:0x1010])
    one_error(run_hv(["-k", p]), "truncated kernel")


def test_elf_without_pvh_note(tmp):
    p = os.path.join(tmp, "k")
    shutil.copy("/bin/true", p)
    one_error(run_hv(["-k", p]), "not an executable ELF file")


@pytest.mark.parametrize("args,needle", [
    (["--mem", "1M"], "too little"),
    (["--mem", "100T"], "more than this host has"),
    (["--mem", "lots"], "--mem lots: not a size"),
    (["--mem", "1000001K"], "multiple of 4 KiB"),
    (["--vcpus", "0"], "--vcpus 0: need a number from 1 to 255"),
    (["--vcpus", "999"], "--vcpus 999"),
    (["--vcpus", "two"], "--vcpus two"),
    (["--on-crash", "explode"], "explode: unknown action"),
    (["stray"], "unexpected argument 'stray'"),
    # issue 16: getopt's own words and the whole usage were printed, with exit 2
    (["--bogus"], "hv: unknown option '--bogus' (see hv --help)"),
    (["-x"], "hv: unknown option '-x' (see hv --help)"),
    (["--kernel"], "hv: --kernel needs a value"),
    (["--on-crash", "bogus"], "coredump-destroy, coredump-restart, coredump-preserve or coredump-rollback"),
    (["--on-reboot", "rollback"], "--on-reboot rollback: unknown action"),
    (["--state-dir", "/nonexistent/x"], "hv: --state-dir /nonexistent/x: No such file or directory"),
    (["--state-dir", "/etc/passwd"], "--state-dir /etc/passwd: not a directory"),
])
def test_bad_options(args, needle):
    one_error(run_hv(["-k", kernel("trivial")] + args), needle)


def test_help_says_what_it_means():
    r = subprocess.run([HV, "--help"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "%%" not in r.stdout and "PCT% of one CPU" in r.stdout
    assert "coredump-rollback" in r.stdout and "in the foreground" in r.stdout


def test_on_crash_rollback_is_taken():
    """--on-crash rollback and coredump-rollback parse (the domain's config already did)."""
    for act in ("rollback", "coredump-rollback", "coredump-preserve"):
        r = run_hv(["-k", kernel("trivial"), "--on-crash", act])
        assert r.returncode == 0, (act, r.stderr)


def test_cmdline_too_long():
    one_error(run_hv(["-k", kernel("trivial"), "--cmdline", "x" * 5000]), "command line too long")


def test_no_kvm_device():
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("needs root and unshare to hide /dev/kvm")
    r = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs none /dev && exec {HV} -k {kernel('trivial')}"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20, env=ASAN_ENV)
    one_error(r, "/dev/kvm does not exist")


def test_no_kvm_permission(tmp):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv to drop privileges")
    k = os.path.join(tmp, "k.elf")
    shutil.copy(kernel("trivial"), k)
    os.chmod(tmp, 0o755)
    hv = os.path.join(tmp, "hv")
    shutil.copy(HV, hv)
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", hv, "-k", k],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20,
                       env=dict(ASAN_ENV, ASAN_OPTIONS="detect_leaks=0"))
    one_error(r, "/dev/kvm: permission denied")
