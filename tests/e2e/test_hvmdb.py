"""End to end: hvmdb on dumps of the built-in guest: status, CPUs, stacks named from the
ELF symbols, memory in mdb's formats (virtual and physical), ::vtop, ::dis, and our
guest's threads and log; bad input gets one clear error."""
import json
import os
import re
import shutil
import subprocess
import time

import pexpect
import pytest

from conftest import BUILD, GUEST, ASAN_ENV, HVMDB
from test_toolstack import Daemon, daemon, guest_console  # noqa: F401 (fixture)



def mdb(core, cmds, sym=GUEST):
    args = [HVMDB] + (["-s", sym] if sym else []) + [core, "-c", cmds]
    env = dict(ASAN_ENV, HVKIT_DEBUG_PATH="/nonexistent")  # no symbol file found by build-id
    return subprocess.run(args, capture_output=True, text=True, timeout=60, env=env)


def dump_hung(d, sym=GUEST, timeout=20):
    """Makes the guest of daemon d hang in hang_forever on CPU 0 and dumps it: again until
    CPU 0 is there (the console line comes before printk has returned)."""
    guest_console(d, "dom0", "hang", "spinning forever", timeout=timeout)
    core = os.path.join(d.tmp, "core")
    for attempt in range(20):
        time.sleep(0.2)
        d.ctl("dump", "dom0", core)
        if re.search(r"^\*  0 \w+ \w+ hang_forever$", mdb(core, "::cpus", sym=sym).stdout, re.M) or attempt == 19:
            return core  # (the last one anyway: the tests then say what CPU 0 was doing)
        os.unlink(core)


@pytest.fixture
def hung_dump(daemon):
    """A dump of a guest whose CPU 0 hangs in hang_forever and whose log says so."""
    return dump_hung(daemon("--vcpus", "2", "--mem", "64M"))


def test_status_cpus_and_stacks(hung_dump):
    r = mdb(hung_dump, "::status; ::cpus; $c; 1::switch; $c")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert "domain: 0 (dom0), 2 vCPUs, 64 MiB" in out and "os release: hvkit-guest" in out
    assert re.search(r"\*  0 ffffffff801[0-9a-f]+ [0-9a-f]{16} hang_forever", out), out
    cpu0 = out[out.index("hang_forever()"):out.index("current CPU: 1")]
    # the frameless leaf's caller from its CFI (no longer a "? " guess from [rsp]), then the rest
    assert re.search(r"^[0-9a-f]{16} cmd_hang\+0x[0-9a-f]+\(\) at shell\.c:\d+$", cpu0, re.M), cpu0
    assert "shell_main+" in cpu0 and "(unwinding stopped" not in cpu0
    cpu1 = out[out.index("current CPU: 1"):]
    assert "cpu_idle_loop+" in cpu1 and "ap_main+" in cpu1


def test_memory_formats_vtop_and_dis(hung_dump):
    r = mdb(hung_dump, "ncpus/X; jiffies::vtop; kmain::dis 3; log_ring+8::sym; 0x100000\\4B; <rip::sym")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert re.search(r"0xffffffff801[0-9a-f]+: 00000002\n", out)
    m = re.search(r"virtual 0xffffffff8(01[0-9a-f]+) mapped to physical 0x([0-9a-f]+) \(2048 KiB page\)", out)
    assert m and int(m.group(1), 16) == int(m.group(2), 16)  # the kernel map: virtual = base + physical
    assert "kmain: push    rbp" in out and "kmain+0x1: mov     rbp, rsp" in out
    assert re.search(r"is log_ring\+0x8 \(data, size 0x[0-9a-f]+\)", out)
    assert "0x100000: fa fc" in out  # the PVH entry: cli; cld
    assert re.search(r"is hang_forever\+0x0 \(code", out)


def test_guest_threads_and_log(hung_dump):
    r = mdb(hung_dump, "::ps; log")
    assert r.returncode == 0, r.stderr
    rows = re.findall(r"^ffff8880[0-9a-f]{8} +\d+ (\w+) +(\d+) (\S+)$", r.stdout, re.M)
    names = {n: (st, int(c)) for st, c, n in rows}
    assert names["shell"] == ("RUN", 0) and names["idle/1"][1] == 1 and "kworker/1" in names
    assert "hang: interrupts off, spinning forever on CPU 0" in r.stdout
    assert re.search(r"^\[ +\d+\.\d\d\] hvkit guest kernel", r.stdout, re.M)


def test_errors(hung_dump, tmp_path):
    r = mdb(hung_dump, "nosuchsym/K; ::frob; 1::switch")
    assert r.returncode == 1
    assert "unknown symbol or bad number: nosuchsym" in r.stdout and "unknown dcmd ::frob" in r.stdout
    assert "current CPU: 1" in r.stdout  # later commands still run
    r = mdb(hung_dump, "::ps", sym=None)
    assert r.returncode == 1 and "no symbol thread_list" in r.stdout
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x7fELF" + b"\x00" * 100)
    r = mdb(str(bad), "::status")
    assert r.returncode == 1 and r.stderr.startswith("hvmdb: ") and r.stderr.count("\n") == 1
    r = mdb(hung_dump, "::status", sym="/nonexistent/vmlinux")
    assert r.returncode == 1 and "No such file" in r.stderr


def test_interactive_prompt(hung_dump):
    p = pexpect.spawn(HVMDB, ["-s", GUEST, hung_dump], encoding="utf-8", timeout=30, env=ASAN_ENV)
    p.expect("> ")
    p.send("ncp\t")            # completion of symbol names
    p.expect("ncpus")
    p.send("/X\r")
    p.expect(r": 00000002")
    p.expect("> ")
    p.send("::quit\r")
    p.expect(pexpect.EOF)


def test_ctrl_c_at_the_prompt_discards_the_line(hung_dump):
    """Issue 16: Ctrl-C at the `> ` prompt ended hvmdb; as mdb (and gdb's Quit), the line
    typed so far is dropped and the prompt comes again."""
    p = pexpect.spawn(HVMDB, ["-s", GUEST, hung_dump], encoding="utf-8", timeout=30, env=ASAN_ENV)
    p.expect("> ")
    p.send("::sizeof struct thre")
    time.sleep(0.3)
    p.sendintr()
    p.expect("> ")
    p.send("::sizeof struct cpu\r")
    p.expect(r"sizeof \(struct cpu\) = 0x")  # the discarded words did not come back
    p.expect("> ")
    p.send("::quit\r")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0


@pytest.mark.parametrize("args,needle", [
    (["--bogus"], "hvmdb: unknown option '--bogus' (see hvmdb --help)"),
    (["-s"], "hvmdb: -s needs a value"),
    ([], "no dump file and no -d DOMAIN"),
    ([GUEST], "is an executable, not a dump: give it with -s"),
    (["CORE", "CORE"], "neither is an ELF executable"),
    (["CORE", "-d", "dom0"], "and -d DOMAIN: give one of them"),
    (["CORE", GUEST, "extra"], "unexpected argument 'extra'"),
])
def test_bad_arguments_say_what_was_wrong(hung_dump, args, needle):
    """Issue 16: hvmdb printed only its usage for any mistake."""
    r = subprocess.run([HVMDB] + [hung_dump if a == "CORE" else a for a in args], capture_output=True, text=True,
                       timeout=30, env=ASAN_ENV)
    assert r.returncode == 2 and needle in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr


def test_crash_argument_order(hung_dump):
    """`hvmdb VMLINUX DUMP`, crash's order, and the other way round: the files say which is which."""
    for order in ([GUEST, hung_dump], [hung_dump, GUEST]):
        r = subprocess.run([HVMDB] + order + ["-c", "::sizeof struct thread", "-c", "::cpus"], capture_output=True,
                           text=True, timeout=60, env=ASAN_ENV)
        assert r.returncode == 0 and "sizeof (struct thread) = 0x" in r.stdout and "hang_forever" in r.stdout, r


def test_dwarf_types(hung_dump):
    r = mdb(hung_dump, "::sizeof struct thread; ::offsetof struct thread ctx; ::offsetof struct logbuf rec; "
                       "cpus::print struct cpu; ::print struct panic_info panic_info")
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert re.search(r"sizeof \(struct thread\) = 0x68 \(104\)", out)
    assert "offsetof (struct thread, ctx) = 0x20" in out and "offsetof (struct logbuf, rec) = 0x8" in out
    cpu0 = out[out.index("struct cpu at"):out.index("struct panic_info at")]
    assert re.search(r"^    id = 0$", cpu0, re.M) and re.search(r"^    online = true$", cpu0, re.M)
    assert re.search(r"^    current = 0xffff8880[0-9a-f]{8}$", cpu0, re.M)
    assert re.search(r"^    active = false$", out, re.M) and re.search(r'^    msg = ""$', out, re.M)
    assert re.search(r"^        rip = 0x0$", out, re.M)  # nested struct trapframe
    # a thread: the current one on CPU 0 is the shell, hung in hang_forever
    cur = re.search(r"^    current = (0x[0-9a-f]+)$", cpu0, re.M).group(1)
    r = mdb(hung_dump, cur + "::print struct thread")
    assert re.search(r'^    name = "shell"$', r.stdout, re.M), r.stdout
    assert re.search(r"^    state = THREAD_RUNNING \(0\)$", r.stdout, re.M)
    assert re.search(r"^    ctx = \{\n        rsp = 0x", r.stdout, re.M)
    assert re.search(r"^    entry = 0xffffffff801[0-9a-f]+ \(shell_main\)$", r.stdout, re.M)
    r = mdb(hung_dump, "::print struct nosuch 0; ::sizeof struct cpu")
    assert r.returncode == 1 and "no type 'struct nosuch'" in r.stdout and "sizeof (struct cpu)" in r.stdout


def test_print_members(hung_dump):
    """mdb's `ADDR::print TYPE member...`: one `member = value` line per member named, nested
    ones by a dotted path; in a pipeline, for every thread the walker gives."""
    ps = mdb(hung_dump, "::ps").stdout
    rows = re.findall(r"^([0-9a-f]{16}) +(\d+) +\w+ +\d+ (\S+)$", ps, re.M)
    assert len(rows) >= 5, ps
    r = mdb(hung_dump, "::walk thread | ::print struct thread tid name ctx.rsp")
    assert r.returncode == 0, r.stdout + r.stderr
    got = re.findall(r'^tid = (\d+)\nname = "([^"]*)"\nctx\.rsp = (0x[0-9a-f]+)$', r.stdout, re.M)
    assert [(t, n) for t, n, _ in got] == [(t, n) for _, t, n in rows], (r.stdout, ps)
    for (addr, _, _), (_, _, rsp) in zip(rows, got):  # the same value as in the whole struct
        whole = mdb(hung_dump, "0x%s::print struct thread" % addr).stdout
        assert re.search(r"^    ctx = \{\n        rsp = %s$" % rsp, whole, re.M), whole
    r = mdb(hung_dump, "0x%s::print struct thread nosuch tid" % rows[0][0])
    assert r.returncode == 1 and "mdb: no member nosuch in that type" in r.stdout
    assert re.search(r"^tid = %s$" % rows[0][1], r.stdout, re.M), r.stdout


def dump_after(d, name, line, want):
    guest_console(d, name, line, want)
    time.sleep(0.3)
    core = os.path.join(d.tmp, "core-" + line.split()[0])
    d.ctl("dump", name, core)
    return core


def test_deadlocked_threads_both_spin_in_the_lock(daemon):
    d = daemon("--vcpus", "3", "--mem", "64M")
    core = dump_after(d, "dom0", "deadlock", "other way round")
    # both threads take their first lock and spin on the second: under emulation the
    # second may take a while to be scheduled at all, so dump again until it has
    def blocks(out):
        got = {}
        for t in ("dl-a", "dl-b"):
            if " %s\n" % t not in out:
                return None
            b = out[out.index(" %s\n" % t):]
            got[t] = b[:b.index("thread_start")] if "thread_start" in b else b
        return got
    for attempt in range(20):
        time.sleep(1)
        os.unlink(core)
        d.ctl("dump", "dom0", core)
        r = mdb(core, "::ps -v")
        assert r.returncode == 0, r.stdout + r.stderr
        got = blocks(r.stdout)
        if got and all("deadlock_take+" in b for b in got.values()):
            break
    assert got, r.stdout
    for t, block in got.items():
        # (the line may be that of cpu_relax, inlined into spin_lock from kernel.h)
        assert re.search(r"spin_lock\+0x[0-9a-f]+\(\) at \w+\.[ch]:\d+", block), block
        assert "deadlock_take+" in block and "shell.c:" in block
    # and the lock words say who holds what
    r = mdb(core, "dl_a::print spinlock_t; dl_b::print spinlock_t")
    owners = re.findall(r"owner_cpu = (-?\d+)", r.stdout)
    assert sorted(owners) == ["1", "2"], r.stdout


def test_panic_and_oops_dumps(daemon):
    d = daemon("--vcpus", "2", "--mem", "64M")
    for n, line, msg in (("p", "panic the end is nigh", "the end is nigh"),
                         ("o", "oops", "Fatal exception (page fault) in shell")):
        cfg = os.path.join(d.tmp, n + ".cfg")
        open(cfg, "w").write('name = "%s"\nmemory = 32\nvcpus = 2\non_crash = "preserve"\n' % n)
        d.ctl("create", cfg)
        guest_console(d, n, line, "end Kernel panic")
        core = os.path.join(d.tmp, n + ".core")
        time.sleep(0.3)
        d.ctl("dump", n, core)
        r = mdb(core, "::status; $c; panic_info::print struct panic_info; log")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "state: crashed" in r.stdout and "panic message: %s" % msg in r.stdout, r.stdout
        assert re.search(r"^    active = true$", r.stdout, re.M)
        assert "panic_finish+" in r.stdout and "panic.c:" in r.stdout
        assert "Kernel panic - not syncing: %s" % msg in r.stdout  # the log ring
        assert re.search(r'^       PANIC: "%s"$' % re.escape(msg), mdb(core, "sys").stdout, re.M)  # crash's sys
        st = json.loads(mdb(core, "::status --json").stdout)
        assert st["panic"] == {"message": msg, "cpu": 0} and st["state"] == "crashed" and st["reason"] == msg
        assert st["domain"]["name"] == n and st["domain"]["vcpus"] == 2 and st["cpus"] == 2
        if n == "o":
            assert re.search(r"^    has_frame = true$", r.stdout, re.M)
            assert "oops+" in r.stdout and "trap_dispatch+" in r.stdout


def test_dis_matches_objdump(hung_dump):
    out = subprocess.run(["objdump", "-d", "-M", "intel", "--no-show-raw-insn", GUEST], capture_output=True,
                         text=True).stdout
    body = out[out.index("<serial_putc>:"):]
    body = body[:body.index("\n\n")]
    want = [l.split("\t")[1].split()[0] for l in body.splitlines()[1:] if "\t" in l]
    r = mdb(hung_dump, "serial_putc::dis")
    got = [l.split(":", 1)[1].split()[0] for l in r.stdout.splitlines() if l.startswith("serial_putc")]
    # objdump goes on through the alignment padding up to the next symbol; ::dis stops at
    # the function's size
    assert len(got) > 5 and got == want[:len(got)], (got, want)
    assert all(m in ("nop", "cs", "data16", "xchg") for m in want[len(got):]), want[len(got):]


@pytest.mark.skipif(not shutil.which("qemu-system-x86_64"), reason="no QEMU")
def test_the_same_commands_on_a_qemu_dump(tmp_path):
    """QEMU (TCG) runs the built-in guest, it hangs, `dump-guest-memory` writes an ELF core
    (NT_PRSTATUS + QEMU's CPU-state note, no hvkit notes): hvmdb reads it the same way."""
    import socket
    mon = str(tmp_path / "mon.sock")
    core = str(tmp_path / "qemu.core")
    q = pexpect.spawn("qemu-system-x86_64", ["-accel", "tcg", "-M", "pc", "-m", "64", "-smp", "2", "-kernel",
                                             GUEST, "-display", "none", "-serial", "stdio", "-no-reboot",
                                             "-monitor", "unix:%s,server,nowait" % mon], encoding="utf-8",
                      timeout=60)
    if q.expect(["guest> ", r"end Kernel panic[^\n]*"]) != 0:
        q.terminate(force=True)
        pytest.fail("the guest panicked under QEMU:\n" + q.before + q.after)
    try:
        q.send("hang\r")
        q.expect("spinning forever")
        s = socket.socket(socket.AF_UNIX)
        s.connect(mon)
        s.settimeout(60)
        buf = b""
        while b"(qemu) " not in buf:
            buf += s.recv(4096)
        s.sendall(("dump-guest-memory %s\n" % core).encode())
        buf = b""
        while b"(qemu) " not in buf:
            buf += s.recv(4096)
        s.close()
    finally:
        q.terminate(force=True)
    info = subprocess.run([os.path.join(BUILD, "hvdump"), "info", core], capture_output=True, text=True)
    assert "format:    ELF core (QEMU dump-guest-memory)" in info.stdout and "vCPUs:     2" in info.stdout
    r = mdb(core, "::cpus; $c; ::ps; log; jiffies::vtop")
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"\*  0 ffffffff801[0-9a-f]+ [0-9a-f]{16} hang_forever", r.stdout), r.stdout
    assert "hang_forever() at shell.c:" in r.stdout and "shell_main+" in r.stdout
    assert re.search(r" +\d+ RUN +0 shell$", r.stdout, re.M)
    assert "hang: interrupts off, spinning forever on CPU 0" in r.stdout
    assert re.search(r"mapped to physical 0x1[0-9a-f]+ \(2048 KiB page\)", r.stdout)


def test_a_symbol_file_that_does_not_match_is_refused(hung_dump, tmp_path):
    info = subprocess.run([os.path.join(BUILD, "hvdump"), "info", hung_dump], capture_output=True, text=True).stdout
    m = re.search(r"BUILD-ID=([0-9a-f]{40})", info)
    assert m, info
    data = bytearray(open(GUEST, "rb").read())
    i = data.find(bytes.fromhex(m.group(1)))
    assert i > 0
    data[i] ^= 0xff                      # the same kernel but for one bit of its build-id
    other = tmp_path / "other.elf"
    other.write_bytes(bytes(data))
    r = mdb(hung_dump, "::status", sym=str(other))
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "does not match the dump: its build-id is" in r.stderr and m.group(1) in r.stderr
    assert mdb(hung_dump, "::status").returncode == 0    # the right one is accepted


def test_json_listings(hung_dump):
    import json
    r = subprocess.run([HVMDB, "--json", "-s", GUEST, hung_dump, "-c", "::cpus; ::ps"], capture_output=True, text=True,
                       timeout=60, env=ASAN_ENV)
    assert r.returncode == 0, r.stderr
    cpus, threads = [json.loads(l) for l in r.stdout.splitlines()]
    assert [c["cpu"] for c in cpus] == [0, 1] and cpus[0]["symbol"] == "hang_forever"
    assert {"tid", "state", "cpu", "name", "thread"} <= set(threads[0])
    assert any(t["name"] == "shell" and t["state"] == "RUN" and t["cpu"] == 0 for t in threads)


def test_json_nm_msgbuf_regs_walk_status(hung_dump):
    """--json (for every command, or CMD --json for one): the values the text shows; errors
    stay text."""
    nm = subprocess.run(["nm", GUEST], capture_output=True, text=True).stdout
    panic_addr = int(re.search(r"^([0-9a-f]+) T panic$", nm, re.M).group(1), 16)
    text = mdb(hung_dump, "::msgbuf; ::regs; ::walk thread")
    r = subprocess.run([HVMDB, "--json", "-s", GUEST, hung_dump, "-c", "::nm; ::msgbuf; $r; ::walk thread; ::status"],
                       capture_output=True, text=True, timeout=60, env=ASAN_ENV)
    assert r.returncode == 0 and text.returncode == 0, r.stderr
    syms, log, regs, walk, status = [json.loads(l) for l in r.stdout.splitlines()]
    panic = [s for s in syms if s["name"] == "panic"]
    assert len(panic) == 1 and int(panic[0]["value"], 16) == panic_addr and panic[0]["type"] == "code"
    lines = re.findall(r"^\[ *(\d+\.\d\d)\] (.*)$", text.stdout, re.M)
    assert len(lines) == len(log) >= 3
    assert [(float(t), x) for t, x in lines] == [(rec["timestamp"], rec["text"]) for rec in log]
    assert regs["rip"] == "0x" + re.search(r"%rip = 0x([0-9a-f]+)", text.stdout).group(1).lstrip("0")
    assert set(regs) >= {"rax", "r15", "rsp", "rflags", "cr3", "cs"}
    assert [int(a, 16) for a in walk] == [int(a, 16) for a in re.findall(r"^([0-9a-f]{16})$", text.stdout, re.M)]
    assert status["panic"] is None and status["state"] == "running" and status["domain"]["name"] == "dom0"
    one = mdb(hung_dump, "::nm kmain --json; ::nm kmain; ::frob --json")
    assert one.returncode == 1
    out = one.stdout.splitlines()
    assert json.loads(out[0])[0]["name"] == "kmain" and out[1].startswith("Value") and "kmain" in out[2]
    assert out[3] == "mdb: unknown dcmd ::frob (::help lists them)"


def test_completion_of_types_and_members(hung_dump):
    """TAB at the interactive prompt completes type names and ::offsetof's members from the DWARF."""
    c = pexpect.spawn(HVMDB, ["-s", GUEST, hung_dump], encoding="utf-8", timeout=30, env=ASAN_ENV, dimensions=(40, 200))
    c.expect("> ")
    for typed, want, answer in (("::sizeof struct thr", "::sizeof struct thread ", r"sizeof \(struct thread\) = 0x"),
                                ("struct thr", "struct thread ", r"sizeof \(struct thread\) = 0x"),  # crash's spelling
                                ("::offsetof struct thread na", "name ", r"offsetof \(struct thread, name\) = 0x"),
                                ("::sizeof log_rec", "log_record ", r"sizeof \(log_record\) = 0x")):
        c.send(typed + "\t")
        c.expect_exact(want)
        c.send("\r")
        c.expect(answer)
        c.expect("> ")
    c.sendline("::quit")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0, c.before  # no leak (ASan) at ::quit


def test_symbol_file_found_by_build_id(hung_dump, tmp_path):
    """Without -s, hvmdb looks in $HVKIT_DEBUG_PATH for the ELF whose build-id is the one
    the dump's VMCOREINFO records, and does not take another kernel from there."""
    good, other = tmp_path / "good", tmp_path / "other"
    good.mkdir()
    other.mkdir()
    shutil.copy(GUEST, good / "kernel")
    shutil.copy(os.path.join(os.path.dirname(GUEST), "tests", "kernels", "trivial.elf"), other / "kernel")
    env = dict(os.environ, HVKIT_DEBUG_PATH="%s:%s" % (other, good))
    r = subprocess.run([HVMDB, hung_dump, "-c", "$c"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and "symbols from %s/kernel" % good in r.stderr, r.stderr
    assert "hang_forever" in r.stdout, r.stdout
    env["HVKIT_DEBUG_PATH"] = str(other)
    r = subprocess.run([HVMDB, hung_dump, "-c", "$c"], capture_output=True, text=True, env=env, timeout=60)
    assert "symbols from" not in r.stderr and "hang_forever" not in r.stdout, r.stdout + r.stderr


def test_dcmds_walkers_and_help_from_the_tables(hung_dump):
    """::dcmds lists every command once with a description (the engine's and the guest
    module's), ::walkers the walkers, ::help CMD one row's usage and description; ::help
    keeps the syntax notes and says what the Linux module would add."""
    r = mdb(hung_dump, "::dcmds")
    assert r.returncode == 0, r.stdout
    rows = re.findall(r"^  (\S+)(.*?) +- (.+)$", r.stdout, re.M)
    names = [n for n, _, _ in rows]
    assert len(names) == len(set(names)), names
    assert all(d.strip() for _, _, d in rows)
    for n in ("::status", "::cpus", "::switch", "$r", "$c", "bt", "::stack", "::nm", "::sym", "::vtop", "::dis",
              "::print", "::sizeof", "::offsetof", "rd", "dis", "sym", "struct", "union", "::walk", "::walkers",
              "::dcmds", "::help", ":c", ":s", "::bp", "::wp", "::delete", "::events", "::set",
              "::ps", "ps", "::threads", "::msgbuf", "log"):
        assert n in names, (n, r.stdout)
    r = mdb(hung_dump, "::walkers")
    assert re.search(r"^  thread +- every thread", r.stdout, re.M), r.stdout
    r = mdb(hung_dump, "::help ::ps; ::help log; ::help rd; ::help status")
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines() == [
        "::ps [-v]", "  the threads: address, TID, state, CPU, name (-v: with their stacks)",
        "log", "  crash's log: the kernel's log ring (::msgbuf)",
        "rd ADDR [N]", "  crash's rd: N 64-bit words at ADDR (ADDR/NJ)",
        "::status", "  the target, the kernel (from its OS module) and the CPUs"]
    r = mdb(hung_dump, "::help")
    assert r.returncode == 0
    for s in ("ADDR: hex number, 0tDECIMAL, symbol, <reg", "ADDR/[N]{B,X,J,K,c,s,i}", "CMD --json", "TAB completes",
              "VALUE>REG", "::offsetof TYPE MEMBER", "::walk WALKER [| CMD]"):
        assert s in r.stdout, (s, r.stdout)
    assert re.search(r"^OS module linux, for Linux kernels \(hvmdb -s vmlinux\):.* sys .*mod", r.stdout, re.M), r.stdout
    assert re.search(r"^stacks of OS module linux \(\$c ::stack bt\): \[-a\] \[-l\] \[PID \| TASK\]", r.stdout, re.M)
    r = mdb(hung_dump, "::help frob; mod")
    assert r.returncode == 1
    assert "::help: no dcmd frob" in r.stdout and "mdb: mod: for Linux kernels (hvmdb -s vmlinux)" in r.stdout


def test_crash_spellings_rd_dis_sym(hung_dump):
    r = mdb(hung_dump, "sym ncpus; rd ncpus 1; dis cmd_ps 2; rd")
    assert re.search(r"0xffffffff801[0-9a-f]+ is ncpus\+0x0 \(data, size 0x4\)", r.stdout), r.stdout
    assert re.search(r"0xffffffff801[0-9a-f]+: 00000002000000020*|0xffffffff801[0-9a-f]+: [0-9a-f]{14}02", r.stdout), r.stdout
    assert re.search(r"^cmd_ps: +push +rbp$", r.stdout, re.M), r.stdout
    assert "unknown command: rd" in r.stdout and r.returncode == 1
