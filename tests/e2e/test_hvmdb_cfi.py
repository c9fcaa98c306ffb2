"""End to end: hvmdb unwinds the stacks of build/guest-nofp.elf (our guest built without frame
pointers) with its DWARF CFI: $c and ::ps -v name every frame with file:line, where the
frame-pointer chain alone stops after the first frame. $c in --json; and a corrupt .eh_frame
or a garbage stack ends the trace with a note, never a crash."""
import json
import os
import random
import re
import shutil
import struct
import subprocess
import tempfile

import pytest

from conftest import BUILD, ASAN_ENV
from test_hvmdb import HVMDB, dump_hung
from test_toolstack import Daemon, guest_console

NOFP = os.path.join(BUILD, "guest-nofp.elf")
LINE = r"\(\)(?: \[inlined\])? at \w+\.[chS]:\d+$"


def mdb(core, cmds, sym=NOFP, json_out=False):
    args = [HVMDB, "-s", sym] + (["--json"] if json_out else []) + [core, "-c", cmds]
    env = dict(ASAN_ENV, HVKIT_DEBUG_PATH="/nonexistent")
    r = subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)
    assert "Sanitizer" not in r.stderr and "runtime error" not in r.stderr, r.stderr
    return r


@pytest.fixture(scope="module")
def nofp_dump():
    """A dump of the no-frame-pointer guest whose shell hangs in hang_forever on CPU 0."""
    tmp = tempfile.mkdtemp()
    os.chmod(tmp, 0o755)
    d = Daemon(tmp, "--vcpus", "2", "--mem", "64M", "--kernel", NOFP)
    try:
        yield dump_hung(d, sym=NOFP, timeout=60)
    finally:
        out, err = d.stop()
        shutil.rmtree(tmp)
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def chain(out):
    """The function names of a text stack, in order."""
    return re.findall(r"^(?:[0-9a-f]{16} |  \? )?(\w+)(?:\+0x[0-9a-f]+)?\(\)", out, re.M)


def source_line(text):
    """The guest/shell.c line number of the first line holding text."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "guest", "shell.c")) as f:
        return next(i for i, l in enumerate(f, 1) if text in l)


def test_no_frame_pointers_in_that_kernel():
    dis = subprocess.run(["objdump", "-d", NOFP], capture_output=True, text=True).stdout
    body = dis[dis.index("<shell_main>:"):]
    assert "mov    %rsp,%rbp" not in body[:body.index("\n\n")]


def test_cfi_unwinds_the_running_and_the_sleeping_threads(nofp_dump):
    r = mdb(nofp_dump, "$c")
    assert r.returncode == 0, r.stdout + r.stderr
    # run() is inlined into shell_main: a frame of its own, and shell_main's line is the call
    assert chain(r.stdout) == ["hang_forever", "cmd_hang", "run", "shell_main", "thread_trampoline",
                               "thread_start"], r.stdout
    lines = r.stdout.splitlines()
    assert all(re.search(LINE, l) for l in lines), r.stdout  # every frame has its file:line
    assert "shell.c:82" in lines[1] and "(unwinding stopped" not in r.stdout
    assert re.search(r" run\(\) \[inlined\] at shell\.c:\d+$", lines[2]), r.stdout
    assert lines[3].endswith(" at shell.c:%d" % source_line("run(line")), r.stdout
    r = mdb(nofp_dump, "::ps -v")
    assert r.returncode == 0, r.stdout + r.stderr
    blocks = re.split(r"^ffff8880[0-9a-f]{8} +\d+ \w+ +\d+ ", r.stdout, flags=re.M)[1:]
    stacks = {b.split("\n", 1)[0]: b.split("\n", 1)[1] for b in blocks}
    for name in ("kworker/0", "kworker/1"):
        assert chain(stacks[name]) == ["schedule", "sleep_ms", "kworker_main", "thread_trampoline",
                                       "thread_start"], stacks[name]
    assert chain(stacks["kshutdown"]) == ["schedule", "thread_block", "shutdown_thread", "thread_trampoline",
                                          "thread_start"], stacks["kshutdown"]
    assert chain(stacks["idle/0"])[:3] == ["schedule", "cpu_idle_loop", "kmain"], stacks["idle/0"]
    # idle/1 runs on CPU 1 (maybe caught in the timer interrupt's entry stub)
    assert chain(stacks["idle/1"])[-3:] == ["cpu_idle_loop", "ap_main", "high_entry"], stacks["idle/1"]
    for name, s in stacks.items():
        assert all(re.search(LINE, l) for l in s.splitlines() if "interrupted" not in l), (name, s)


def test_stack_as_json(nofp_dump):
    r = mdb(nofp_dump, "$c", json_out=True)
    assert r.returncode == 0, r.stdout + r.stderr
    frames = json.loads(r.stdout)
    assert [f["function"] for f in frames] == ["hang_forever", "cmd_hang", "run", "shell_main", "thread_trampoline",
                                               "thread_start"]
    assert [f["unwinder"] for f in frames] == ["regs", "cfi", "cfi", "cfi", "cfi", "cfi"]
    assert [f.get("inlined", False) for f in frames] == [False, False, True, False, False, False]
    run, shell_main = frames[2], frames[3]  # one real frame: the same address, pc; the call's line
    assert (run["frame"], run["pc"], run["offset"]) == (shell_main["frame"], shell_main["pc"], None)
    assert shell_main["line"] == source_line("run(line") and run["line"] != shell_main["line"]
    top, caller = frames[0], frames[1]
    assert top["offset"] == 0 and top["file"] == "shell.c" and top["line"] == 56
    assert caller["file"] == "shell.c" and caller["line"] == 82 and caller["offset"] > 0
    assert all(int(f["pc"], 16) >> 32 == 0xffffffff and int(f["frame"], 16) for f in frames)
    # the same frames as the text
    text = mdb(nofp_dump, "::stack").stdout
    assert chain(text) == [f["function"] for f in frames]
    assert json.loads(mdb(nofp_dump, "bt", json_out=True).stdout) == frames


def test_cfi_crosses_the_trap_frame_of_an_oops(tmp_path):
    """An oops (a page fault in cmd_oops): from the panic through trap_dispatch, trap_common's
    frame, back to the faulting function and on to the thread's start, all without frame
    pointers; the kernel's own rbp-chain backtrace only knew cmd_oops."""
    os.chmod(tmp_path, 0o755)
    d = Daemon(str(tmp_path), "--vcpus", "1", "--mem", "64M", "--kernel", NOFP, "--on-crash", "preserve")
    try:
        guest_console(d, "dom0", "oops", "end Kernel panic", timeout=60)
        core = str(tmp_path / "core")
        d.ctl("dump", "dom0", core)
        frames = json.loads(mdb(core, "$c", json_out=True).stdout)
        got = [(f["function"], f["unwinder"]) for f in frames]
        assert got[-8:] == [("oops", "cfi"), ("trap_dispatch", "cfi"), ("trap_common", "cfi"), ("cmd_oops", "trap"),
                            ("run", "cfi"), ("shell_main", "cfi"), ("thread_trampoline", "cfi"),
                            ("thread_start", "cfi")], got
        assert frames[-5]["file"] == "shell.c" and frames[-5]["line"] == 51  # the faulting line itself
    finally:
        out, err = d.stop()
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err


def section(path, name):
    """(file offset, size) of an ELF64 section."""
    data = open(path, "rb").read()
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3a)
    strtab_off = struct.unpack_from("<Q", data, shoff + shstrndx * shentsize + 0x18)[0]
    for i in range(shnum):
        sh = shoff + i * shentsize
        n, = struct.unpack_from("<I", data, sh)
        off, size = struct.unpack_from("<QQ", data, sh + 0x18)
        if data[strtab_off + n:data.index(b"\0", strtab_off + n)] == name:
            return off, size
    raise KeyError(name)


def test_guest_module_reads_the_nofp_build_through_dwarf(nofp_dump, tmp_path):
    """The guest module takes struct thread, the log ring and panic_info from the symbol
    file's DWARF: the guest built without frame pointers reads as the default one, and a
    symbol file of the same guest without DWARF says so instead of guessing a layout."""
    r = mdb(nofp_dump, "::ps; ::walk thread; log; ::status --json")
    assert r.returncode == 0, r.stdout + r.stderr
    rows = re.findall(r"^([0-9a-f]{16}) +(\d+) (\w+) +(-?\d+) (\S+)$", r.stdout, re.M)
    assert any(name == "shell" and st == "RUN" and cpu == "0" for _, _, st, cpu, name in rows), r.stdout
    walked = re.findall(r"^([0-9a-f]{12,16})$", r.stdout, re.M)
    assert [a for a, _, _, _, _ in rows] == [w.rjust(16, "0") for w in walked]
    assert re.search(r"^\[ *\d+\.\d\d\] \S", r.stdout, re.M), r.stdout
    status = json.loads(r.stdout.splitlines()[-1])
    assert status["panic"] is None
    # each thread's tid, as ::print reads it with the same DWARF
    printed = mdb(nofp_dump, "::walk thread | ::print struct thread tid").stdout
    assert re.findall(r"^tid = (\d+)$", printed, re.M) == [t for _, t, _, _, _ in rows], printed
    nodwarf = tmp_path / "nodwarf.elf"
    subprocess.run(["objcopy", "--strip-debug", NOFP, str(nodwarf)], check=True)
    r = mdb(nofp_dump, "::ps; ::msgbuf; ::walk thread", sym=str(nodwarf))
    assert r.returncode == 1
    # one layout for the module: ::msgbuf says what it lacks first too
    assert r.stdout.count("mdb: no struct thread in the symbol file's DWARF (is it our guest kernel, with -g?)") == 3


def test_corrupt_eh_frame_ends_with_a_note(nofp_dump, tmp_path):
    off, size = section(NOFP, b".eh_frame")
    data = bytearray(open(NOFP, "rb").read())
    # the CIE's initial rule "CFA = rsp + 8, return address at CFA - 8" based on register 20 instead
    cie = data.index(b"\x0c\x07\x08\x90\x01", off, off + size)
    data[cie + 1] = 20
    bad = tmp_path / "bad-cie.elf"
    bad.write_bytes(data)
    r = mdb(nofp_dump, "$c", sym=str(bad))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["hang_forever() at shell.c:56",
                                     "  (unwinding stopped: the CFA is based on register 20, which is not known)"]
    r = mdb(nofp_dump, "$c", sym=str(bad), json_out=True)
    frames = json.loads(r.stdout)
    assert frames[-1] == {"stopped": "the CFA is based on register 20, which is not known"}
    # random damage to the whole section: any output, but no crash and no sanitizer report
    rnd = random.Random(6)
    for i in range(12):
        data = bytearray(open(NOFP, "rb").read())
        for _ in range(rnd.choice((1, 8, 64))):
            data[off + rnd.randrange(size)] = rnd.randrange(256)
        bad.write_bytes(data)
        r = mdb(nofp_dump, "$c; ::ps -v", sym=str(bad))
        assert r.returncode in (0, 1), (i, r.stdout, r.stderr)
        assert r.stdout.startswith("hang_forever()"), (i, r.stdout)


def phys_offset(core, pa):
    """The file offset of physical address pa in an ELF core."""
    data = open(core, "rb").read(1 << 20)
    phoff, = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        p_type, _, p_offset, _, p_paddr, p_filesz = struct.unpack_from("<IIQQQQ", data, phoff + i * phentsize)
        if p_type == 1 and p_paddr <= pa < p_paddr + p_filesz:
            return p_offset + pa - p_paddr
    raise KeyError(hex(pa))


@pytest.mark.parametrize("fill", [b"\x41" * 8, b"\0" * 8])
def test_garbage_stack_ends_with_a_note(nofp_dump, tmp_path, fill):
    regs = mdb(nofp_dump, "$r").stdout
    rsp = int(re.search(r"%rsp = 0x([0-9a-f]+)", regs).group(1), 16)
    vtop = mdb(nofp_dump, "0x%x::vtop" % rsp).stdout
    pa = int(re.search(r"mapped to physical 0x([0-9a-f]+)", vtop).group(1), 16)
    core = str(tmp_path / "core")
    shutil.copy(nofp_dump, core)
    with open(core, "r+b") as f:
        f.seek(phys_offset(core, pa))
        f.write(fill * 64)  # the return addresses and saved registers of the shell's frames
    r = mdb(core, "$c; ::ps -v")
    assert r.returncode == 0, r.stdout + r.stderr
    stack = r.stdout[:r.stdout.index("THREAD")].rstrip()
    r = mdb(core, "$c", json_out=True)
    frames = json.loads(r.stdout)
    assert frames[0]["function"] == "hang_forever"
    if fill[0] == 0:  # a return address of 0: the outermost frame, as a DWARF unwinder takes it
        assert stack.splitlines() == ["hang_forever() at shell.c:56"] and len(frames) == 1, stack
        return
    assert stack.splitlines() == ["hang_forever() at shell.c:56",
                                  "  0x4141414141414141() (the frame chain leaves kernel text)"], stack
    assert frames[1:] == [{"stopped": "the frame chain leaves kernel text at 0x4141414141414141"}], frames
