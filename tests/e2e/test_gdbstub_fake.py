"""End to end: real gdb against the gdb stub serving a fake target (tests/gdbstub_fake.c,
two vCPUs, 64 KiB of known bytes at 0xffffffff80100000): threads, registers (control
registers too), memory, breakpoints, watchpoints, stepi, writes, Ctrl-C, detach and
kill, over a Unix socket and over TCP; a second client is refused."""
import os
import re
import shutil
import socket
import subprocess
import tempfile

import pexpect
import pytest

from conftest import BUILD, ASAN_ENV

FAKE = os.path.join(BUILD, "asan", "tests", "gdbstub_fake")
if not os.path.exists(FAKE):
    FAKE = os.path.join(BUILD, "tests", "gdbstub_fake")
MEM = 0xffffffff80100000
BP = MEM + 0x400

pytestmark = pytest.mark.skipif(not shutil.which("gdb"), reason="no gdb")


def mem_byte(off):
    return (off * 31 + 7) & 0xff  # fake_mem_byte


def mem_u64(off):
    return int.from_bytes(bytes(mem_byte(off + i) for i in range(8)), "little")


class Fake:
    """build/tests/gdbstub_fake on unix:PATH or tcp:0; target is what gdb connects to."""

    def __init__(self, transport):
        self.tmp = tempfile.mkdtemp(prefix="gdbstub-fake-")
        where = "unix:" + os.path.join(self.tmp, "gdb.sock") if transport == "unix" else "tcp:0"
        self.p = subprocess.Popen([FAKE, where, "100"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True, env=ASAN_ENV)
        line = self.p.stdout.readline()
        m = re.match(r"listening on (\S+)", line)
        assert m, line
        self.target = m.group(1)

    def finish(self, timeout=30):
        out, _ = self.p.communicate(timeout=timeout)
        return self.p.returncode, out

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)


@pytest.fixture
def fake():
    started = []

    def start(transport="unix"):
        f = Fake(transport)
        started.append(f)
        return f

    yield start
    for f in started:
        f.kill()


def gdb(target, *cmds, arch=True):
    args = ["gdb", "-batch", "-nx"]
    if arch:
        args += ["-ex", "set architecture i386:x86-64"]
    args += ["-ex", "target remote " + target]
    for c in cmds:
        args += ["-ex", c]
    r = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=60)
    return r.returncode, r.stdout


def reg(out, name):
    """The values gdb printed for register name, in order."""
    return [int(v, 16) for v in re.findall(r"^%s +0x([0-9a-f]+)" % name, out, re.M)]


def test_threads_registers_memory_break_and_stepi(fake):
    f = fake("unix")
    rc, out = gdb(f.target, "info threads", "info registers rip", "info registers rax rsp eflags cs ds",
                  "info registers cr0 cr3 cr4 efer fs_base gs_base", "x/4xg 0x%x" % MEM,
                  "break *0x%x" % BP, "continue", "info threads", "info registers rip", "stepi",
                  "info registers rip", "info registers cr3", "p/x $cr2", "thread 1", "info registers rip")
    assert rc == 0, out
    # two vCPUs, named by qThreadExtraInfo; thread 1 current at attach
    assert len(re.findall(r"Thread \d \(fake vCPU \d\)", out.split("Breakpoint 1 at")[0])) == 2, out
    assert re.search(r"^\* 1 +Thread 1 \(fake vCPU 0\) 0xffffffff80101000 in \?\? \(\)", out, re.M), out
    assert re.search(r"^  2 +Thread 2 \(fake vCPU 1\) 0xffffffff80102000 in \?\? \(\)", out, re.M), out
    # registers of vCPU 0, the control registers from the org.gnu.gdb.i386.sys feature
    assert reg(out, "rax") == [0x01000000c0ffee00], out
    assert reg(out, "rsp") == [MEM + 0x8000], out
    assert re.search(r"^eflags +0x246 +\[ PF ZF IF \]", out, re.M), out
    assert reg(out, "cs") == [0x10] and reg(out, "ds") == [0x20], out
    assert re.search(r"^cr0 +0x80050033 +\[ PE MP ET NE WP AM PG \]", out, re.M), out
    assert re.search(r"^efer +0xd01 +\[ SCE LME LMA NXE \]", out, re.M), out
    assert reg(out, "cr4") == [0x3406e0], out
    assert reg(out, "fs_base") == [0x7f0000001000] and reg(out, "gs_base") == [0xffff888000010000], out
    # memory, read through the stub
    words = [int(w, 16) for w in re.findall(r"0x%x:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)" % MEM, out)[0]]
    words += [int(w, 16) for w in re.findall(r"0x%x:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)" % (MEM + 16), out)[0]]
    assert words == [mem_u64(8 * i) for i in range(4)], out
    # the fake hits the breakpoint on vCPU 1: gdb's thread 2
    assert "Thread 2 hit Breakpoint 1, 0x%016x in ?? ()" % BP in out, out
    assert re.search(r"^\* 2 +Thread 2 \(fake vCPU 1\) 0x%016x in \?\? \(\)" % BP, out, re.M), out
    # rip: vCPU 0 at attach, vCPU 1 at the breakpoint, one byte on after stepi, vCPU 0 again
    assert reg(out, "rip") == [MEM + 0x1000, BP, BP + 1, MEM + 0x1000], out
    assert reg(out, "cr3") == [0x1000000, 0x1002000], out  # vCPU 0's, then vCPU 1's
    assert "$1 = 0xdead0001" in out, out
    rc, log = f.finish()
    assert rc == 0 and "session ended: detach" in log and "breakpoint left" not in log, log


def test_tcp_target_description_writes_watchpoint_and_kill(fake):
    f = fake("tcp")
    assert f.target.startswith("127.0.0.1:")
    rc, out = gdb(f.target, "show architecture", "set var $rax = 0x1234", "set var $cr8 = 7",
                  "set {long}0x%x = 0x1122334455667788" % (MEM + 0x40), "set {char}0x%x = 0x23" % (MEM + 0x48),
                  "p/x $rax", "p $cr8", "x/2xg 0x%x" % (MEM + 0x40), "x/1xg 0x10",
                  "awatch *(long *)0x%x" % (MEM + 0x800), "continue", "thread", "kill", arch=False)
    assert rc == 0, out
    assert "i386:x86-64" in out, out  # from target.xml alone
    assert "$1 = 0x1234" in out and "$2 = 7" in out, out
    m = re.search(r"0x%x:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)" % (MEM + 0x40), out)
    assert m and int(m.group(1), 16) == 0x1122334455667788, out
    assert int(m.group(2), 16) & 0xff == 0x23, out  # the X packet's '#' went through escaped
    assert "Cannot access memory at address 0x10" in out, out
    assert re.search(r"Hardware access \(read/write\) watchpoint 1: \*\(long \*\)0x%x\s+Value = " % (MEM + 0x800),
                     out), out
    assert "Current thread is 2" in out, out
    rc, log = f.finish()
    assert rc == 0 and "session ended: kill" in log, log


def test_ctrl_c_interrupts_a_running_target(fake):
    f = fake("unix")
    g = pexpect.spawn("gdb", ["-nx", "-q", "-ex", "set architecture i386:x86-64", "-ex", "target remote " + f.target],
                      encoding="utf-8", timeout=30, codec_errors="replace")
    try:
        g.expect(r"\(gdb\) ")
        g.sendline("continue")  # no breakpoint: the fake runs until interrupted
        g.expect("Continuing.")
        g.sendcontrol("c")
        g.expect(r"Thread 1 received signal SIGINT, Interrupt\.")
        g.expect(r"\(gdb\) ")
        g.sendline("info registers rip")
        g.expect(r"rip +0xffffffff80101000")
        g.sendline("detach")
        g.expect(r"\[Inferior 1 \(Remote target\) detached\]")
        g.sendline("quit")
        g.expect(pexpect.EOF)
    finally:
        g.close(force=True)
    rc, log = f.finish()
    assert rc == 0 and "session ended: detach" in log, log


def test_second_client_is_refused(fake):
    f = fake("unix")
    first = socket.socket(socket.AF_UNIX)
    first.connect(f.target)
    first.sendall(b"+$qSupported#37")
    first.settimeout(10)
    got = b""
    while not re.search(rb"#..$", got):
        got += first.recv(4096)
    assert got.startswith(b"+$PacketSize="), got
    rc, out = gdb(f.target, "info threads")
    assert "Remote failure reply: E.a debugger is already attached" in out, out
    assert "fake vCPU" not in out, out
    first.close()
    rc, log = f.finish()
    assert rc == 0 and "refused a client" in log and "session ended: eof" in log, log
