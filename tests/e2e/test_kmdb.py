"""End to end: live debugging through the kmdb bridge. Real gdb against hv's gdb stub on
the built-in guest (threads = vCPUs, registers, memory, a breakpoint hit by a command
typed on the guest console, single steps, detach), and the refusals: a second client,
a write without -w, a domain that does not exist."""
import os
import re
import shutil
import socket
import subprocess
import threading
import time

import pytest

from conftest import GUEST
from test_toolstack import daemon, guest_console  # noqa: F401 (fixture)

pytestmark = pytest.mark.skipif(not shutil.which("gdb"), reason="no gdb")


def gdb(target, *cmds, timeout=90):
    args = ["gdb", "-batch", "-nx", GUEST, "-ex", "target remote " + target]
    for c in cmds:
        args += ["-ex", c]
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def gdbserver(d, *extra):
    path = os.path.join(d.tmp, "gdb-%d.sock" % time.monotonic_ns())
    r = d.ctl("gdbserver", "dom0", "--socket", path, *extra)
    assert "gdbserver for dom0 on %s" % path in r.stdout, r.stdout
    return path


def type_on_console(d, line, name="dom0"):
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.sock)
    s.sendall(b"console\t%s\t--no-history\n" % name.encode())
    s.settimeout(5)
    assert s.recv(2) == b"c\n"
    s.sendall(line.encode() + b"\r")
    return s


def test_gdb_sees_vcpus_registers_and_memory(daemon):
    d = daemon("--vcpus", "2", "--mem", "64M")
    guest_console(d, "dom0", "echo ready", "ready")
    time.sleep(0.3)
    g = gdb(gdbserver(d), "info threads", "thread apply all bt 3", "info registers rip cr3",
            "p ncpus", "x/s log_ring.rec[0].text")
    out, _ = g.communicate(timeout=90)
    assert g.returncode == 0, out
    assert re.search(r"\* 1 +Thread 1 \(dom0 vCPU 0\)", out), out
    assert re.search(r"  2 +Thread 2 \(dom0 vCPU 1\)", out), out
    assert out.count("cpu_idle_loop") >= 2, out  # both vCPUs idle, by name
    assert re.search(r"cr3 +0x[0-9a-f]+", out) and "$1 = 2" in out, out
    assert "hvkit guest" in out, out  # the first log line, read through the vCPU's page tables
    # after the detach the domain runs on
    assert "ready2" in guest_console(d, "dom0", "echo ready2", "ready2")


def test_breakpoint_hit_by_a_typed_command_then_step_and_continue(daemon):
    d = daemon("--vcpus", "2", "--mem", "64M")
    guest_console(d, "dom0", "echo ready", "ready")
    g = gdb(gdbserver(d), "break cmd_ps", "continue", "bt 2", "p $pc", "stepi", "p $pc", "delete", "detach")
    time.sleep(3)  # gdb is connected and the breakpoint set: the guest runs again
    con = type_on_console(d, "ps")
    out, _ = g.communicate(timeout=90)
    assert g.returncode == 0, out
    assert re.search(r"Thread 1 hit Breakpoint 1, cmd_ps \(arg=0x0\) at guest/shell.c:\d+", out), out
    assert re.search(r"#1 .* in run \(line=.*\"ps\"\)", out), out
    pcs = [int(x, 16) for x in re.findall(r"= \(void \(\*\)\(\)\) (0x[0-9a-f]+)", out)]
    assert len(pcs) == 2 and pcs[1] > pcs[0] and pcs[1] - pcs[0] < 16, out  # one instruction on
    # the guest finishes the command once gdb has detached
    got, end = b"", time.time() + 20
    con.settimeout(1)
    while b"kshutdown" not in got and time.time() < end:
        try:
            got += con.recv(4096)
        except socket.timeout:
            pass
    con.close()
    assert b"TID STATE CPU" in got and b"kshutdown" in got and b"Oops" not in got, got


@pytest.mark.skipif(os.path.exists("/sys/module/kvm_pvm"),
                    reason="kvm_pvm emulates guest instructions and its emulator checks no data breakpoints")
def test_watchpoint_on_jiffies(daemon):
    d = daemon("--vcpus", "1", "--mem", "32M")
    guest_console(d, "dom0", "echo ready", "ready")
    g = gdb(gdbserver(d), "p jiffies", "watch jiffies", "continue", "p jiffies", "delete", "detach")
    out, _ = g.communicate(timeout=90)
    assert g.returncode == 0, out
    assert re.search(r"Hardware watchpoint 1: jiffies", out), out
    m = re.search(r"Old value = (\d+)\s+New value = (\d+)", out)
    assert m and int(m.group(2)) == int(m.group(1)) + 1, out


def test_refusals(daemon):
    d = daemon("--vcpus", "1", "--mem", "32M")
    guest_console(d, "dom0", "echo ready", "ready")
    r = d.ctl("gdbserver", "nosuch", "--port", "0", check=False)
    assert r.returncode == 1 and "no running domain named 'nosuch'" in r.stderr
    path = gdbserver(d)
    first = gdb(path, "set var jiffies = 0", "shell sleep 4", "detach")
    time.sleep(1.5)
    second = gdb(path, "info threads")
    out2, _ = second.communicate(timeout=60)
    assert "a debugger is already attached" in out2, out2
    r = d.ctl("gdbserver", "dom0", "--port", "0", check=False)
    assert r.returncode == 1 and "a debugger is already attached to dom0" in r.stderr
    out1, _ = first.communicate(timeout=60)
    assert re.search(r"Cannot access memory|Could not write", out1), out1  # read-only without -w
    assert "ready3" in guest_console(d, "dom0", "echo ready3", "ready3")


HVMDB = os.path.join(os.path.dirname(GUEST), "asan", "hvmdb")
if not os.path.exists(HVMDB):
    HVMDB = os.path.join(os.path.dirname(GUEST), "hvmdb")


def test_hvmdb_attaches_breaks_steps_and_continues(daemon):
    """hvmdb -d on a domU: a breakpoint on the shell's command dispatcher, a command typed
    on the guest console hits it on the right vCPU, :s advances rip, :c goes on."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    cfg = os.path.join(d.tmp, "u.cfg")
    open(cfg, "w").write('name = "u"\nmemory = 32\nvcpus = 2\n')
    d.ctl("create", cfg)
    guest_console(d, "u", "echo ready", "ready")
    env = dict(os.environ, HVKIT_SOCKET=d.sock)
    p = subprocess.Popen([HVMDB, "-s", GUEST, "-d", "u"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, env=env, bufsize=1)
    got = []
    reader = threading.Thread(target=lambda: got.extend(iter(p.stdout.readline, "")), daemon=True)
    reader.start()

    def wait_for(text, n=1, timeout=60):
        end = time.time() + timeout
        while "".join(got).count(text) < n and time.time() < end:
            time.sleep(0.1)
        assert "".join(got).count(text) >= n, "".join(got)

    p.stdin.write("::status\n")
    p.stdin.flush()
    wait_for("CPUs: 2", 1)
    # issue 16: stopped by the debugger is "paused" (as virsh), and dominfo says whose
    assert d.rows()["u"][1] == "paused"
    info = d.ctl("dominfo", "u").stdout
    assert "Paused by:      a debugger (hvmdb -d, the q prompt or gdb) has it stopped" in info, info
    assert '"paused_by": "debugger"' in d.ctl("dominfo", "u", "--json").stdout
    r = d.ctl("resume", "u", check=False)
    assert r.returncode == 1 and "stopped by a debugger: continue it there" in r.stderr, r.stderr
    p.stdin.write("cmd_ps::bp\n::events\n:c\n")
    p.stdin.flush()
    wait_for("running (Ctrl-C stops it)")
    assert d.rows()["u"][1] in ("running", "blocked")  # :c: it runs again
    con = type_on_console(d, "ps", "u")
    wait_for("mdb: stop at cmd_ps")
    p.stdin.write("$c\n<rip::whatis\n:s\n<rip::whatis\n::delete all\n:c\n")
    p.stdin.flush()
    wait_for("running (Ctrl-C stops it)", 2)
    time.sleep(1)
    p.send_signal(2)  # Ctrl-C: the running :c stops
    wait_for("mdb: stopped (interrupted)")
    p.stdin.write("::status\n")
    p.stdin.close()
    p.wait(timeout=60)
    reader.join(timeout=10)
    out = "".join(got)
    con.close()
    assert p.returncode == 0, out
    assert "debugging live domain u" in out, out
    assert "breakpoint 0 at cmd_ps" in out and "[0] bp    " in out, out
    m = re.search(r"mdb: stop at cmd_ps \(breakpoint 0\)\nCPU (\d): ffffffff[0-9a-f]+ cmd_ps", out)
    assert m, out
    # at the function's first instruction: its CFI finds the caller's return address on top
    # of the stack (a real frame, no longer the "? " guess of the frame-pointer unwinder)
    # (run(), which calls cmd_ps, is inlined into shell_main: a line of its own, same frame)
    assert re.search(r"cmd_ps\(\) at shell.c:\d+\n([0-9a-f]{16}) run\(\) \[inlined\] at shell.c:\d+\n"
                     r"\1 shell_main\+0x[0-9a-f]+\(\) at shell.c", out), out
    rips = [int(x, 16) for x in re.findall(r"^0x([0-9a-f]+) is cmd_ps", out, re.M)]
    assert len(rips) == 2 and 0 < rips[1] - rips[0] < 16, out  # :s moved one instruction on
    assert "mdb: stopped (interrupted)" in out, out
    # detached: the domain runs again and finished the command
    assert "ready4" in guest_console(d, "u", "echo ready4", "ready4")


def test_hvmdb_refuses_writes_without_w_and_unknown_domains(daemon):
    d = daemon("--vcpus", "1", "--mem", "32M")
    guest_console(d, "dom0", "echo ready", "ready")
    env = dict(os.environ, HVKIT_SOCKET=d.sock)
    r = subprocess.run([HVMDB, "-s", GUEST, "-d", "dom0", "-c", "jiffies/Z 0"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert "the target is read-only: ::set -w (or -w) first" in r.stdout, r.stdout + r.stderr
    r = subprocess.run([HVMDB, "-s", GUEST, "-d", "dom0", "-c", "::set -w; ncpus/W 0t7; ncpus/X"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert re.search(r"ncpus: +7\b|: 7\b|00000007", r.stdout), r.stdout + r.stderr
    r = subprocess.run([HVMDB, "-d", "nosuch"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 1 and "no running domain named 'nosuch'" in r.stderr, r.stderr


def test_hvmdb_no_pause_reads_a_running_domain(daemon):
    """--no-pause: the domain keeps running (its clock advances between two reads in one
    session); stacks and threads are read; run control and writes are refused."""
    d = daemon("--vcpus", "2", "--mem", "32M")
    guest_console(d, "dom0", "echo ready", "ready")
    env = dict(os.environ, HVKIT_SOCKET=d.sock)
    r = subprocess.run([HVMDB, "-s", GUEST, "--no-pause", "-d", "dom0", "-c",
                        "::status; jiffies/J; ::cpus; ::ps; :c; cmd_ps::bp; ::set -w; jiffies/Z 0"],
                       capture_output=True, text=True, env=env, timeout=60, input="")
    out = r.stdout
    assert "observing live domain dom0" in out, out + r.stderr
    assert "idle/0" in out and "shell" in out, out
    assert "no run control" in out and "no breakpoints" in out and "no writes" in out, out
    time.sleep(1)
    r2 = subprocess.run([HVMDB, "-s", GUEST, "--no-pause", "-d", "dom0", "-c", "jiffies/J"],
                        capture_output=True, text=True, env=env, timeout=60)
    j = [int(m, 16) for m in re.findall(r"0xffffffff[0-9a-f]+:\s+([0-9a-f]+)", out + r2.stdout)]
    assert len(j) == 2 and j[1] > j[0], out + r2.stdout


def test_wp_on_kvm_pvm_says_the_host_cannot(daemon):
    """Issue 16: on kvm_pvm ::wp was accepted and never fired. hv knows its KVM
    (/sys/module/kvm_pvm) and refuses a watchpoint there with the reason; breakpoints are
    still taken. On other hosts the watchpoint is set."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    guest_console(d, "dom0", "echo ready", "ready")
    env = dict(os.environ, HVKIT_SOCKET=d.sock)
    r = subprocess.run([HVMDB, "-s", GUEST, "-d", "dom0", "-c", "jiffies::wp; cmd_ps::bp; ::events"],
                       capture_output=True, text=True, env=env, timeout=60)
    out = r.stdout + r.stderr
    if os.path.exists("/sys/module/kvm_pvm"):
        assert ("this host's KVM (kvm_pvm) cannot do hardware watchpoints: its instruction emulator checks no "
                "data breakpoints; breakpoints and single steps work") in out, out
        assert re.search(r"^\[0\] bp +[0-9a-f]+ cmd_ps$", r.stdout, re.M), out  # the only event: no wp
        assert " wp " not in r.stdout, out
    else:
        assert " wp " in r.stdout, out
    assert re.search(r"breakpoint \d at cmd_ps", r.stdout), out
