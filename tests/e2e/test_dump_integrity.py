"""End to end (issue 17, data): a dump is never wrong while saying it succeeded. A reboot
during a dump waits for it; a dump hv was killed in the middle of is refused by our readers
and removed by the next hv; a kdump cut inside its page data is refused; what the headers
and notes say twice must agree; a corrupt property store fails every write."""
import os
import re
import struct
import subprocess
import time
import zlib

from conftest import BUILD, ASAN_ENV
from test_dump import kdump_layout
from test_toolstack import Daemon, daemon, guest_console  # noqa: F401 (fixture)

HVDUMP = os.path.join(BUILD, "asan", "hvdump")
if not os.path.exists(HVDUMP):
    HVDUMP = os.path.join(BUILD, "hvdump")
HVCTL = os.path.join(BUILD, "hvctl")


def hvdump(*args):
    return subprocess.run([HVDUMP] + list(args), capture_output=True, text=True, timeout=60, env=ASAN_ENV)


def kdump_pages(path):
    """Every dumped page of a kdump-compressed file (zlib or stored), by pfn: an
    independent reader, one pass over the 2nd bitmap and the descriptors."""
    data = open(path, "rb").read()
    block, max_mapnr, bm2, descs = kdump_layout(data)
    pages, idx = {}, 0
    for pfn in range(max_mapnr):
        if not data[bm2 + pfn // 8] >> (pfn % 8) & 1:
            continue
        poff, size, flags = struct.unpack_from("<QII", data, descs + 24 * idx)
        idx += 1
        page = data[poff: poff + size]
        pages[pfn] = zlib.decompress(page) if flags & 1 else page
    return pages


def random_ram(tmp, mib):
    img = os.path.join(tmp, "ram.img")
    with open(img, "wb") as f:  # random pages: zlib works hard on them, a dump takes a while
        f.write(os.urandom(mib << 20))
    return img


def start_dump(d, core, fmt="kdump-zlib"):
    return subprocess.Popen([HVCTL, "-S", d.sock, "dump", "dom0", core, "--format", fmt],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_log(d, text, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        log = d.ctl("dmesg").stdout
        if text in log:
            return log
        time.sleep(0.2)
    raise AssertionError("no %r in the log:\n%s" % (text, log))


def test_reboot_during_a_dump_waits_for_it(daemon, tmp_path):
    """`R` 0.3 s into a kdump-zlib dump: the reboot waits, and the dump holds the RAM of
    its instant (the upper half, which the guest never touches, equals the RAM image)
    instead of the zeros of a RAM punched under the writer."""
    img = random_ram(str(tmp_path), 64)
    d = daemon("--vcpus", "1", "--mem", "64M", "--mem-image", img)
    image = open(img, "rb").read()
    guest_console(d, "dom0", "echo ready", "ready")
    core = os.path.join(d.tmp, "r.kdump")
    p = start_dump(d, core)
    time.sleep(0.3)
    d.ctl("debug-keys", "R")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, (out, err)
    log = wait_log(d, "dom0 rebooted (the reboot waited for its dump to end)")
    assert "dom0: the reboot waits for the dump (save, checkpoint) reading its RAM to end" in log, log
    pages = kdump_pages(core)
    upper = range(8192, 16384)
    same = sum(pages[p] == image[p * 4096:(p + 1) * 4096] for p in upper)
    assert same == len(upper), "%d of %d pages of the upper half differ from the RAM" % (len(upper) - same, len(upper))
    assert "ready2" in guest_console(d, "dom0", "echo ready2", "ready2")  # and it did reboot


def test_reboot_of_a_crashed_domU_being_dumped(daemon, tmp_path):
    """`hvctl reboot` of a crashed domain while it is dumped: the reboot is deferred (said
    so), the dump completes, then the domain runs again."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    img = random_ram(str(tmp_path), 64)
    cfg = os.path.join(d.tmp, "c.cfg")
    open(cfg, "w").write('name = "c"\nmemory = 64\nvcpus = 1\non_crash = "preserve"\nmem_image = "%s"\n' % img)
    d.ctl("create", cfg)
    guest_console(d, "c", "panic for the dump", "not syncing")
    wait_log(d, "c crashed")
    core = os.path.join(d.tmp, "c.kdump")
    p = subprocess.Popen([HVCTL, "-S", d.sock, "dump", "c", core, "--format", "kdump-zlib"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.3)
    r = d.ctl("reboot", "c")
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, (out, err)
    assert "Domain c is rebooted when its dump (save, checkpoint) ends" in r.stdout, r.stdout
    wait_log(d, "c rebooted (the reboot waited for its dump to end)")
    image = open(img, "rb").read()
    pages = kdump_pages(core)
    upper = range(8192, 16384)
    assert sum(pages[p] == image[p * 4096:(p + 1) * 4096] for p in upper) == len(upper)
    assert "ready" in guest_console(d, "c", "echo ready", "ready")
