"""End to end: a domain image file (docs/save-format.md) written by the unit test's writer
(`test_image --write`) opens in hvdump and hvmdb as a dump does (vCPU registers, RAM bytes,
the domain line), converts to an ELF core, and a truncated or corrupt one is refused with
one line."""
import os
import subprocess

import pytest

from conftest import BUILD, ASAN_ENV, HVDUMP, HVMDB

WRITER = os.path.join(BUILD, "asan", "tests", "test_image")


def run(*args):
    return subprocess.run(list(args), capture_output=True, text=True, timeout=60, env=ASAN_ENV)


@pytest.fixture
def image(tmp_path):
    if not os.path.exists(WRITER):
        pytest.skip("no %s (make %s)" % (WRITER, WRITER))
    path = str(tmp_path / "dom.img")
    r = run(WRITER, "--write", path)
    assert r.returncode == 0, r.stderr
    return path


def test_hvdump_info_opens_an_image(image):
    r = run(HVDUMP, "info", image)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert "format:    hvkit domain image v1 (save), hv hvkit-test 1.0, taken " in out
    assert "domain:    3 (testdom), saved" in out
    assert "vCPUs:     2" in out
    assert "vCPU 0: online  rip ffffffff80100000 rsp ffff888000010000" in out
    assert "cr3 0000000000001000 rflags 00000246" in out
    assert "vCPU 1: offline rip ffffffff80100001" in out
    assert "RAM   paddr 0000000001000000-0000000001200000" in out
    assert "RAM:       6 MiB in physical segments" in out
    # page 1 is the writer's text page: "the quick brown fox " with every byte + 1
    r = run(HVDUMP, "read", image, "0x1000", "4")
    assert r.returncode == 0 and r.stdout.split(":")[1].split() == ["75", "69", "66", "21"], r.stdout


def test_hvmdb_reads_registers_from_an_image(image):
    r = run(HVMDB, image, "-c", "::status; $r")
    assert r.returncode == 0, r.stderr
    assert "hvkit domain image v1 (save)" in r.stdout
    assert "%rbx = 0x1122334455667788" in r.stdout
    assert "%rip = 0xffffffff80100000" in r.stdout


def test_image_converts_to_elf(image, tmp_path):
    core = str(tmp_path / "core")
    r = run(HVDUMP, "convert", image, core, "--format", "elf", "-q")
    assert r.returncode == 0, r.stderr
    a, b = run(HVDUMP, "read", image, "0x1000", "64"), run(HVDUMP, "read", core, "0x1000", "64")
    assert a.returncode == 0 and a.stdout.split(":", 1)[1] == b.stdout.split(":", 1)[1]
    info = run(HVDUMP, "info", core)
    assert "vCPU 0: online  rip ffffffff80100000" in info.stdout, info.stdout


def test_truncated_or_corrupt_image_refused(image, tmp_path):
    data = open(image, "rb").read()
    bad = str(tmp_path / "bad.img")
    for cut, flip, why in ((len(data) - 16, None, "without an END record"), (len(data) // 2, None, "truncated"),
                           (len(data), 5000, "checksum mismatch")):
        b = bytearray(data[:cut])
        if flip is not None:
            b[flip] ^= 0x10
        open(bad, "wb").write(bytes(b))
        r = run(HVDUMP, "info", bad)
        assert r.returncode == 1 and why in r.stderr, (why, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1, r.stderr
