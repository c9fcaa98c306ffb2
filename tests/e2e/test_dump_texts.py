"""End to end, issue 16: what `hvctl dump` says. The progress line on a terminal has no
absurd rate at tiny durations and leaves nothing of a longer line behind; sizes under
1 MiB are in KiB; a frozen crashed domain is not said to have run meanwhile;
--crash --reset together is refused; an error names the user's file, never the
internal NAME.partial-PID."""
import os
import re
import shutil
import subprocess

import pexpect
import pytest

from conftest import HVDUMP, kernel
from test_toolstack import HVCTL, daemon, guest_console, wait_state  # noqa: F401 (fixture)


def test_progress_on_a_terminal_and_the_final_line(daemon):
    d = daemon("--vcpus", "1", "--mem", "32M")
    core = os.path.join(d.tmp, "small.kdump")
    p = pexpect.spawn(HVCTL, ["-S", d.sock, "dump", "dom0", core, "--format", "kdump-zstd"], encoding="utf-8",
                      timeout=60)
    p.expect(pexpect.EOF)
    out = p.before
    p.close()
    assert p.exitstatus == 0, out
    # every redraw erases the rest of the line: no stray "s" of a longer "ETA 10 s"
    draws = [s for s in out.split("\r") if s.strip()]
    progress = [s for s in draws if re.match(r"\x1b\[K *\d+%", s)]
    assert progress, repr(out)
    for s in progress:
        m = re.match(r"\x1b\[K *\d+%  [\d.]+ (bytes|KiB|MiB|GiB) of [\d.]+ (KiB|MiB|GiB)"
                     r"(  [\d.]+ (bytes|KiB|MiB|GiB)/s(  ETA \d+ s)?)?\n?$", s)
        assert m, repr(s)
        rate = re.search(r"([\d.]+) (bytes|KiB|MiB|GiB)/s", s)
        if rate:  # at most a few GiB/s from a 32 MiB domain, never 68266666667 MiB/s
            assert rate.group(2) != "GiB" or float(rate.group(1)) < 100, s
    final = re.search(r"Domain dom0 dumped to \S+ \(kdump-zstd\): 32 MiB of RAM in ([\d.]+) (KiB|MiB) of file", out)
    assert final, repr(out)
    size = os.stat(core).st_blocks * 512
    if size < 1 << 20:  # a compressed idle guest: KiB, not "0 MiB"
        assert final.group(2) == "KiB" and abs(int(final.group(1)) - size / 1024) <= 1, (final.group(0), size)
    assert "the domain ran meanwhile" in out


def test_a_crashed_domain_did_not_run_meanwhile(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    d.ctl("create", d.cfg("bad", "panic", on_crash='"preserve"'))
    assert wait_state(d, "bad", ("crashed",))[1] == "crashed"
    r = d.ctl("dump", "bad", os.path.join(d.tmp, "bad.core"))
    assert "ran meanwhile" not in r.stdout, r.stdout
    assert "16 MiB of RAM in" in r.stdout and "(the domain did not run: it is stopped)" in r.stdout, r.stdout


def test_crash_and_reset_together_are_refused(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    core = os.path.join(d.tmp, "x.core")
    r = d.ctl("dump", "dom0", core, "--crash", "--reset", check=False)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "dump: --live, --crash and --reset say what happens to dom0 after the dump: give one" in r.stderr
    assert not os.path.exists(core) and d.rows()["dom0"][1] in ("running", "blocked")


def test_a_write_error_names_the_users_file(daemon, tmp_path):
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a small tmpfs")
    full = tmp_path / "full"
    full.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(full)]).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        d = daemon("--vcpus", "1", "--mem", "16M")
        guest_console(d, "dom0", "mem 4", "guest> ")  # 4 MiB written: more than the tmpfs holds
        core = str(full / "x.core")
        r = d.ctl("dump", "dom0", core, check=False)  # ENOSPC
        assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
        assert r.stderr.startswith("hvctl: %s: " % core), r.stderr
        assert ".partial-" not in r.stderr, r.stderr
        assert os.listdir(full) == []  # the partial file went
    finally:
        subprocess.run(["umount", str(full)])


@pytest.mark.parametrize("args,want", [
    (["--bogus"], "hvdump: unknown option '--bogus' (see hvdump --help)"),
    (["inf", "x"], "hvdump: unknown command 'inf': did you mean 'info'? (see hvdump --help)"),
    (["info"], "hvdump: info: needs FILE (usage: hvdump info FILE)"),
    (["info", "a", "b"], "hvdump: info: unexpected argument 'b' (usage: hvdump info FILE)"),
    (["verify", "--x", "a"], "hvdump: verify: unknown option '--x' (usage: hvdump verify FILE)"),
    (["read", "a", "0x1000"], "hvdump: read: needs FILE, PADDR and LEN"),
    (["convert", "a", "b", "--frmat", "elf"], "hvdump: convert: unknown option '--frmat'"),
    (["convert", "a"], "hvdump: convert: no OUT (usage: hvdump convert IN OUT"),
])
def test_hvdump_mistakes_are_one_line(args, want):
    """Issue 16's class: hvdump printed its whole usage for every mistake."""
    r = subprocess.run([HVDUMP] + args, capture_output=True, text=True, timeout=30)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and want in r.stderr, r.stderr
    assert r.stdout == ""
