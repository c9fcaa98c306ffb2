"""End to end: hvmdb's type index and its cache (mdb/debuginfo/dwarf_names.c, type_cache.c): the
same answers with no cache (the scan), with the cache the first run wrote, and with the
cache turned off; the second run reads the cache and writes nothing; a corrupt cache file
is replaced. On a dump of the built-in guest, and on the Linux fixture when it is there.
Every run gets its own cache directory (HVKIT_TYPE_CACHE), never the user's ~/.cache."""
import os
import re
import subprocess

import pytest

from conftest import ASAN_ENV, GUEST
from test_hvmdb import HVMDB, hung_dump  # noqa: F401 (fixture)
from test_linux import DUMPS, VMLINUX
from test_toolstack import daemon  # noqa: F401 (fixture)


def run(dump, sym, cmds, cache):
    env = dict(ASAN_ENV, HVKIT_TYPE_CACHE=str(cache), HVKIT_DEBUG_TYPES="1", HVKIT_DEBUG_PATH="/nonexistent")
    return subprocess.run([HVMDB, "-s", sym, dump, "-c", cmds], capture_output=True, text=True, timeout=120, env=env)


def cache_file(d):
    files = [f for f in os.listdir(d) if f.endswith(".sqlite")]
    assert len(files) == 1, files
    return os.path.join(d, files[0])


def check_cold_warm_off(dump, sym, cmds, tmp_path):
    """Runs cmds with no cache, with the cache, with it off, with a corrupt one: the same
    stdout each time; returns it."""
    cache = tmp_path / "types"
    cold = run(dump, sym, cmds, cache)
    assert "types: scanning .debug_info" in cold.stderr and "types: cache written: " in cold.stderr, cold.stderr
    path = cache_file(cache)
    st = os.stat(path)
    warm = run(dump, sym, cmds, cache)
    assert "types: from the cache " + path in warm.stderr, warm.stderr
    assert "scanning" not in warm.stderr and "cache written" not in warm.stderr, warm.stderr
    st2 = os.stat(path)
    assert (st2.st_ino, st2.st_mtime_ns) == (st.st_ino, st.st_mtime_ns)  # not written again
    off = run(dump, sym, cmds, "off")
    assert "no cache: HVKIT_TYPE_CACHE=off" in off.stderr and "cache written" not in off.stderr
    with open(path, "r+b") as f:  # a corrupt cache: ignored, scanned, replaced
        f.seek(100)
        f.write(b"\xff" * 300)
    bad = run(dump, sym, cmds, cache)
    assert "cache not used: " in bad.stderr and "cache written: " in bad.stderr, bad.stderr
    for r in (cold, warm, off, bad):
        assert r.returncode == cold.returncode and r.stdout == cold.stdout, r.stdout + r.stderr
    return cold.stdout


def test_guest_types_cached(hung_dump, tmp_path):
    out = check_cold_warm_off(hung_dump, GUEST, "::sizeof struct thread; ::offsetof struct cpu current; "
                              "cpus::print struct cpu; ::sizeof log_record; ::print struct nosuch 0; ::sizeof uint64_t",
                              tmp_path)
    assert re.search(r"sizeof \(struct thread\) = 0x68 \(104\)", out)
    assert "offsetof (struct cpu, current) = 0x" in out and "struct cpu at 0x" in out
    assert "sizeof (log_record) = 0x" in out and "no type 'struct nosuch'" in out
    assert "sizeof (uint64_t) = 0x8 (8)" in out


@pytest.mark.usefixtures("linux_fixture")
def test_linux_types_cached(tmp_path):
    dump = os.path.join(DUMPS, "idle-vmci-paging.elf")
    ps = run(dump, VMLINUX, "ps", "off").stdout
    init = re.search(r"^\s+1\s+0\s+\d+\s+([0-9a-f]{16})\s+\w\w\s+init$", ps, re.M)
    assert init, ps
    # task_struct comes early in .debug_info, xz_dec late; ps and log need member offsets
    out = check_cold_warm_off(dump, VMLINUX, "::sizeof struct task_struct; ::offsetof struct rq clock; "
                              "::sizeof struct xz_dec; 0x%s::print struct task_struct; ps; log" % init.group(1),
                              tmp_path)
    assert "sizeof (struct task_struct) = 0x" in out and "offsetof (struct rq, clock) = 0x" in out
    assert "sizeof (struct xz_dec) = 0x" in out and "struct task_struct at 0x%s = {" % init.group(1) in out
    assert re.search(r'^    comm = "init"$', out, re.M), out[:3000]
