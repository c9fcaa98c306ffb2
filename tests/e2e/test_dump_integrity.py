"""End to end (issue 17, data): a dump is never wrong while saying it succeeded. A reboot
or a crash during a dump waits for it; a dump hv was killed in the middle of is refused by
our readers and removed by the next hv; a destroy during a dump waits for it (and for a
cancelled one, whose partial file goes); a kdump cut inside its page data is refused; what
the headers and notes say twice must agree; the integrity note finds a flipped byte; a
corrupt or missing property store fails every write."""
import os
import re
import struct
import subprocess
import time
import zlib

from conftest import BUILD, ASAN_ENV, HVDUMP, HVMDB
from test_dump import kdump_layout
from test_toolstack import Daemon, daemon, guest_console, wait_log  # noqa: F401 (fixture)

HVCTL = os.path.join(BUILD, "hvctl")


def hvdump(*args):
    return subprocess.run([HVDUMP] + list(args), capture_output=True, text=True, timeout=60, env=ASAN_ENV)


def hvmdb(path, cmds):
    return subprocess.run([HVMDB, path, "-c", cmds], capture_output=True, text=True, timeout=60, env=ASAN_ENV)


def refused(path, why, regex=False):
    """hvdump info and hvmdb both refuse the file: exit 1, one line saying why."""
    for r in (hvdump("info", path), hvmdb(path, "::status")):
        assert r.returncode == 1 and r.stderr.count("\n") == 1, (path, r.stdout, r.stderr)
        assert re.search(why, r.stderr) if regex else why in r.stderr, (path, r.stderr)


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


def start_dump(d, core, fmt="kdump-zlib", name="dom0"):
    return subprocess.Popen([HVCTL, "-S", d.sock, "dump", name, core, "--format", fmt],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_partial(core, timeout=20):
    """Until the dump to core is being written (its partial file is there)."""
    where, name = os.path.split(core)
    end = time.time() + timeout
    while not [f for f in os.listdir(where)
               if f.startswith(name + ".partial-") and os.path.getsize(os.path.join(where, f)) >= 4096]:
        assert time.time() < end, "no partial file of " + core
        time.sleep(0.02)


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
    wait_partial(core)
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
    p = start_dump(d, core, name="c")
    wait_partial(core)
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


def domu_being_dumped(d, img, name="c"):
    """A domU of that RAM image, running, and a kdump-zlib dump of it under way."""
    cfg = os.path.join(d.tmp, name + ".cfg")
    open(cfg, "w").write('name = "%s"\nmemory = 64\nvcpus = 1\nmem_image = "%s"\n' % (name, img))
    d.ctl("create", cfg)
    guest_console(d, name, "echo ready", "ready")
    core = os.path.join(d.tmp, name + ".kdump")
    p = start_dump(d, core, name=name)
    wait_partial(core)
    return core, p


def test_destroy_during_a_dump_waits_for_it(daemon, tmp_path):
    """`hvctl destroy` of a domain being dumped, as xl destroy: it says it waits, the
    domain is paused at once, the dump completes and holds the RAM of its instant, then
    the domain is destroyed and hvctl destroy says so, exit 0."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    img = random_ram(str(tmp_path), 64)
    core, p = domu_being_dumped(d, img)
    time.sleep(0.3)
    t = subprocess.Popen([HVCTL, "-S", d.sock, "destroy", "c"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    first = t.stdout.readline()
    assert "Domain c is being dumped (or saved, checkpointed): paused, destroyed when the file is complete " \
           "(waiting, at most 60 s)" in first, first
    assert p.poll() is None, "the dump ended before the destroy"
    assert d.rows()["c"][1] == "paused"
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0 and "Domain c dumped to %s" % core in out, (out, err)
    rest, terr = t.communicate(timeout=30)
    assert t.returncode == 0 and rest == "Domain c destroyed\n" and terr == "", (rest, terr)
    assert "c" not in d.rows()
    assert "c destroyed (hvctl destroy waited for its dump to end)" in d.ctl("dmesg").stdout
    image = open(img, "rb").read()
    pages = kdump_pages(core)
    upper = range(8192, 16384)
    assert sum(pages[p] == image[p * 4096:(p + 1) * 4096] for p in upper) == len(upper)
    r = hvdump("verify", core)
    assert r.returncode == 0, (r.stdout, r.stderr)


def test_destroy_waiting_for_a_cancelled_dump(daemon, tmp_path):
    """A destroy waiting for a dump that is then cancelled: the partial file goes (no
    dump is left that looks whole), the domain is destroyed; a second destroy meanwhile
    waits with the first (and its client going away calls nothing off), a new dump
    meanwhile is refused, and destroy of a domain no dump
    holds is at once."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    img = random_ram(str(tmp_path), 64)
    core, p = domu_being_dumped(d, img)
    ts = [subprocess.Popen([HVCTL, "-S", d.sock, "destroy", "c"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True) for _ in range(2)]
    for t in ts:
        assert "destroyed when the file is complete" in t.stdout.readline()
    r = d.ctl("dump", "c", os.path.join(d.tmp, "again.kdump"), check=False)  # no new reader meanwhile
    assert r.returncode == 1 and "a dump of c is already being written" in r.stderr, r.stderr
    ts[1].kill()  # a client that goes away does not call the destroy off
    ts[1].wait()
    d.ctl("dump-cancel", "c")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "cancel" in err, (out, err)
    for t in ts[:1]:
        rest, terr = t.communicate(timeout=30)
        assert t.returncode == 0 and rest == "Domain c destroyed\n", (rest, terr)
    assert not [f for f in os.listdir(d.tmp) if f.startswith("c.kdump")]
    assert "c" not in d.rows()
    cfg = os.path.join(d.tmp, "e.cfg")
    open(cfg, "w").write('name = "e"\nmemory = 16\nvcpus = 1\n')
    d.ctl("create", cfg)
    assert d.ctl("destroy", "e").stdout == "Domain e destroyed\n"


def test_a_crash_during_a_dump_waits_for_it_then_on_crash_restarts(daemon, tmp_path):
    """The guest panics while it is dumped (on_crash = "restart"): the crash is handled
    once the dump ends, the dump holds the RAM of its instant, then the domain restarts."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    img = random_ram(str(tmp_path), 128)  # a dump of 4 s or so: the panic lands in it
    cfg = os.path.join(d.tmp, "c.cfg")
    open(cfg, "w").write('name = "c"\nmemory = 128\nvcpus = 1\non_crash = "restart"\nmem_image = "%s"\n' % img)
    d.ctl("create", cfg)
    guest_console(d, "c", "echo ready", "ready")
    core = os.path.join(d.tmp, "c.kdump")
    p = start_dump(d, core, name="c")
    wait_partial(core)
    guest_console(d, "c", "panic in the middle of a dump", "not syncing")
    assert p.poll() is None, "the dump ended before the crash"
    assert "c crashed" not in d.ctl("dmesg").stdout  # it waits for the dump
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, (out, err)
    wait_log(d, "c crashed: ")
    image = open(img, "rb").read()
    pages = kdump_pages(core)
    assert all(pages[p] == image[p * 4096:(p + 1) * 4096] for p in range(16384, 32768))
    assert "again" in guest_console(d, "c", "echo again", "again")  # restarted


def test_a_killed_hv_leaves_a_partial_our_readers_refuse_and_the_next_hv_removes(daemon, tmp_path):
    """SIGKILL in the middle of a dump: the partial file has no magic yet, hvdump and hvmdb
    refuse it with one line; the next hv (same state directory) removes it and says so."""
    img = random_ram(str(tmp_path), 128)
    d = daemon("--vcpus", "1", "--mem", "128M", "--mem-image", img)
    guest_console(d, "dom0", "echo ready", "ready")
    for fmt, delay in (("kdump-zlib", 0.3), ("elf", 0.0)):
        for attempt in range(5):  # an ELF core of 128 MiB may be written before the kill lands
            core = os.path.join(d.tmp, "killed-%s-%d" % (fmt, attempt))
            p = start_dump(d, core, fmt)
            wait_partial(core)
            time.sleep(delay)
            pid = d.p.pid
            d.p.kill()
            p.communicate(timeout=60)
            d.p.communicate(timeout=30)
            os.unlink(d.sock)  # the killed hv's (the fixture waits for it to appear)
            partial = core + ".partial-%d" % pid
            if not os.path.exists(core):
                break
            d = daemon("--vcpus", "1", "--mem", "128M", "--mem-image", img)
        assert os.path.exists(partial) and not os.path.exists(core)
        refused(partial, "an incomplete dump: its writer never finished")
        d = daemon("--vcpus", "1", "--mem", "128M", "--mem-image", img)
        guest_console(d, "dom0", "echo ready", "ready")
        assert not os.path.exists(partial)
        assert "removed %s: a dump that hv %d was writing when it was killed" % (partial, pid) in d.ctl("dmesg").stdout


def test_stale_partials_in_the_dump_dir_go_only_when_their_writer_is_gone(daemon, tmp_path):
    dd = tmp_path / "crash"
    dd.mkdir()
    d = daemon("--vcpus", "1", "--mem", "32M")
    d.ctl("setprop", "config/dump-dir", "=", str(dd))
    d.ctl("refresh")
    d.stop()
    live = subprocess.Popen(["sleep", "60"])
    try:
        dead = subprocess.Popen(["true"])
        dead.wait()
        (dd / ("vmcore.3.partial-%d" % dead.pid)).write_bytes(b"\0" * 4096)
        (dd / ("vmcore.4.partial-%d" % live.pid)).write_bytes(b"\0" * 4096)
        (dd / "vmcore.5.partial-x1").write_bytes(b"\0" * 4096)
        (dd / "vmcore.2").write_bytes(b"\0" * 4096)
        d = daemon("--vcpus", "1", "--mem", "32M")
        d.ctl("list")
        assert sorted(os.listdir(dd)) == sorted(["vmcore.2", "vmcore.4.partial-%d" % live.pid, "vmcore.5.partial-x1"])
    finally:
        live.kill()


def test_kdump_cut_inside_its_page_data_is_refused(daemon, tmp_path):
    """A kdump file truncated at points inside its page data: hvdump info says truncated,
    exit 1, and so does hvmdb; the whole file still opens."""
    img = random_ram(str(tmp_path), 32)
    d = daemon("--vcpus", "1", "--mem", "32M", "--mem-image", img)
    guest_console(d, "dom0", "echo ready", "ready")
    core = os.path.join(d.tmp, "whole")
    d.ctl("dump", "dom0", core, "--format", "kdump-zlib")
    assert hvdump("info", core).returncode == 0
    data = open(core, "rb").read()
    _, _, _, descs = kdump_layout(data)
    first = struct.unpack_from("<Q", data, descs)[0]  # the first page's data
    for cut in (first + 1, first + (len(data) - first) // 3, len(data) // 2, len(data) - 4096, len(data) - 1):
        cutf = os.path.join(d.tmp, "cut%d" % cut)
        open(cutf, "wb").write(data[:cut])
        refused(cutf, r"truncated: the data of dumped page \d+ of \d+ .* lies beyond the end of the file", regex=True)


def test_a_corrupt_property_store_fails_every_write(daemon):
    """props.db with a damaged page: hv says so at start, and every setprop, delprop and
    refresh fails with that reason (none of 20 reports a write it did not make)."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    d.ctl("setprop", "config/dump-format", "=", "elf")
    d.stop()
    db = os.path.join(d.state, "props.db")
    data = bytearray(open(db, "rb").read())
    for i in range(4096 + 100, 8192 - 100, 7):  # the props table's page
        data[i] ^= 0x5a
    open(db, "wb").write(data)
    d = daemon("--vcpus", "1", "--mem", "32M")
    assert re.search(r"warning: property store .*props.db is corrupt \(PRAGMA integrity_check: .*\): the properties' "
                     r"defaults apply", d.ctl("dmesg").stdout)
    for n in range(20):
        r = d.ctl("setprop", "config/checkpoint-keep", "=", str(n + 2), check=False)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and "is corrupt" in r.stderr, (r.stdout, r.stderr)
    for verb in (["delprop", "config/dump-format"], ["refresh"], ["listprop"]):
        r = d.ctl(*verb, check=False)
        assert r.returncode == 1 and "is corrupt" in r.stderr, (verb, r.stdout, r.stderr)


def test_a_property_store_removed_under_hv_fails_the_write(daemon):
    d = daemon("--vcpus", "1", "--mem", "32M")
    d.ctl("setprop", "config/checkpoint-keep", "=", "3")
    os.unlink(os.path.join(d.state, "props.db"))
    r = d.ctl("setprop", "config/checkpoint-keep", "=", "4", check=False)
    assert r.returncode == 1 and "props.db was removed while hv ran: not stored" in r.stderr, (r.stdout, r.stderr)
    d.ctl("setprop", "config/checkpoint-keep", "=", "5")  # a new store
    assert re.search(r"config/checkpoint-keep +count +8 \(pending: 5\)", d.ctl("listprop").stdout)
    assert os.path.exists(os.path.join(d.state, "props.db"))
    # missing at start from a state directory in use (it has domain definitions): said so
    d.ctl("define", d.cfg("web", "echo"))
    d.stop()
    os.unlink(os.path.join(d.state, "props.db"))
    d = daemon("--vcpus", "1", "--mem", "32M")
    assert "warning: no property store %s/props.db beside the domain definitions: the properties' defaults apply" \
        % d.state in d.ctl("dmesg").stdout


def test_what_a_dump_says_twice_must_agree(daemon):
    """One flipped field (the domain note's vCPU count, 2 -> 7426) and hvdump and hvmdb
    refuse the dump, naming both counts, instead of ::status and ::cpus disagreeing."""
    d = daemon("--vcpus", "2", "--mem", "32M")
    guest_console(d, "dom0", "echo ready", "ready")
    for fmt in ("elf", "kdump-zstd"):
        core = os.path.join(d.tmp, "x-" + fmt)
        d.ctl("dump", "dom0", core, "--format", fmt)
        data = bytearray(open(core, "rb").read())
        # our domain note: namesz 6, descsz 368, type 0x48560002, "HVKIT"; nr_vcpus at 360
        at = data.find(struct.pack("<III", 6, 368, 0x48560002) + b"HVKIT\0")
        assert at >= 0
        assert struct.unpack_from("<I", data, at + 20 + 360)[0] == 2
        struct.pack_into("<I", data, at + 20 + 360, 7426)
        flipped = core + ".flipped"
        open(flipped, "wb").write(data)
        refused(flipped, "inconsistent dump: the domain note says 7426 vCPUs, the file holds 2 vCPU notes")
        assert hvdump("info", core).returncode == 0


def test_hvdump_verify_checks_the_integrity_note(daemon):
    """Our dumps carry a hash per RAM range: hvdump verify says they match; one byte
    flipped in the RAM of the file (stored or compressed) and it names the range, exit 1."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    guest_console(d, "dom0", "echo ready", "ready")
    for fmt in ("elf", "kdump-zlib", "kdump"):
        core = os.path.join(d.tmp, "v-" + fmt)
        d.ctl("dump", "dom0", core, "--format", fmt)
        assert "integrity: XXH3-64 of 1 RAM range (hvdump verify checks it)" in hvdump("info", core).stdout
        r = hvdump("verify", core)
        assert r.returncode == 0 and "1 RAM range match the integrity note" in r.stdout, (r.stdout, r.stderr)
        m = hvmdb(core, "::status; ::verify")
        assert m.returncode == 0 and "integrity: a hash per RAM range (1; ::verify checks them)" in m.stdout, m.stdout
        assert "every RAM range matches the integrity note" in m.stdout, m.stdout
        data = bytearray(open(core, "rb").read())
        if fmt == "elf":  # the first PT_LOAD's bytes at physical 1 MiB (the kernel)
            phoff, = struct.unpack_from("<Q", data, 32)
            seg_off, = struct.unpack_from("<Q", data, phoff + 56 + 8)
            at = seg_off + (1 << 20) + 123
        else:  # the data of the page at 1 MiB
            block, max_mapnr, bm2, descs = kdump_layout(bytes(data))
            idx = sum(bin(b).count("1") for b in data[bm2: bm2 + 256 // 8])
            at = struct.unpack_from("<Q", data, descs + 24 * idx)[0] + 17
        data[at] ^= 0x40
        flipped = core + ".flipped"
        open(flipped, "wb").write(data)
        r = hvdump("verify", flipped)
        assert r.returncode == 1 and r.stderr.count("\n") == 1, (fmt, r.stdout, r.stderr)
        assert "1 of 1 RAM ranges differ from the integrity note: the file is damaged" in r.stderr, r.stderr
        assert re.search(r"RAM 0000000000000000-0000000002000000: (MISMATCH|unreadable)", r.stdout), r.stdout
        m = hvmdb(flipped, "::verify")
        assert m.returncode == 1 and "1 RAM range differs from the integrity note: the dump is damaged" in m.stdout, m.stdout
    r = hvdump("verify", os.path.join(d.tmp, "nonexistent"))
    assert r.returncode == 1 and r.stderr.count("\n") == 1


def test_hv_ending_mid_dump_cancels_it_and_says_so(daemon, tmp_path):
    """SIGTERM to hv while a dump is written: the dump fails saying why, hv's log says it
    cancelled it, and no file or partial is left."""
    img = random_ram(str(tmp_path), 128)
    d = daemon("--vcpus", "1", "--mem", "128M", "--mem-image", img)
    guest_console(d, "dom0", "echo ready", "ready")
    core = os.path.join(d.tmp, "ended")
    p = start_dump(d, core)
    time.sleep(0.5)
    d.p.terminate()
    out, err = p.communicate(timeout=60)
    hv_out, hv_err = d.p.communicate(timeout=60)
    assert p.returncode == 1 and "dump cancelled (hv is exiting: the domain is destroyed)" in err, (out, err)
    assert "dom0: cancelling the dump (save, checkpoint) being written: the domain is destroyed" in hv_out + hv_err
    assert not [f for f in os.listdir(d.tmp) if f.startswith("ended")]
