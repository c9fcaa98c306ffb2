"""Issue 17, availability: no client, file or name given to hv stalls it or confuses it.

A client that asks for a long reply and never reads it, dozens of connections that send half
a request and stay, a FIFO where a kernel should be, a domain named like an id: each time
the other clients are answered at once, and the bad one gets one clear line."""
import os
import socket
import subprocess
import time

from conftest import ASAN_ENV
from test_toolstack import HV, HVCTL, daemon, guest_console, wait_state  # noqa: F401 (the fixture)


def timed_list(d):
    t = time.monotonic()
    r = d.ctl("list", timeout=10)
    return time.monotonic() - t, r


def test_a_client_that_never_reads_stalls_nobody(daemon):  # noqa: F811
    d = daemon("--mem", "16M", "--vcpus", "1")
    wait_state(d, "dom0", ("running", "blocked"))
    d.ctl("setprop", "config/console-ring-size", "=", "4194304")
    d.ctl("refresh")
    for _ in range(80):  # about 8 KB of hv's log each: a reply far past the socket's buffer
        d.ctl("debug-keys", "hrvzaumitnNH")
    size = len(d.ctl("dmesg").stdout)
    assert size > 500000, size
    stuck = socket.socket(socket.AF_UNIX)
    stuck.connect(d.sock)
    stuck.sendall(b"dmesg\n")  # and never reads
    time.sleep(0.5)
    for _ in range(5):
        dt, r = timed_list(d)
        assert dt < 2 and "dom0" in r.stdout, dt
    # the reply it left unread is dropped with it after 10 s; hv says so
    time.sleep(11)
    stuck.settimeout(5)
    got = b""
    while True:
        c = stuck.recv(1 << 20)
        if not c:
            break
        got += c
    assert len(got) < size and not got.rstrip().endswith(b"= 0"), len(got)  # cut short: never a whole reply
    assert "unread for 10 s: dropped" in d.ctl("dmesg").stdout


def test_half_sent_connections_lock_nobody_out(daemon):  # noqa: F811
    d = daemon("--mem", "16M", "--vcpus", "1")
    idle = []
    for _ in range(300):  # more than the table holds (256)
        s = socket.socket(socket.AF_UNIX)
        s.connect(d.sock)
        s.sendall(b"lis")
        idle.append(s)
    time.sleep(0.7)  # older than the 0.5 s a connection gets to send its request
    for _ in range(3):
        dt, r = timed_list(d)
        assert dt < 2 and "dom0" in r.stdout, (dt, r.stderr)
    # after 10 s each idle one is told why and closed
    time.sleep(10.5)
    s = idle[100]  # one the table took (the last ones found it full and were refused)
    s.settimeout(5)
    buf = b""
    while True:
        c = s.recv(4096)
        if not c:
            break
        buf += c
    assert b"e no complete request within 10 s" in buf and buf.endswith(b"= 1\n"), buf
    # the oldest made room for the list above, and was told so
    idle[0].settimeout(5)
    assert b"e closed to make room" in idle[0].recv(4096)
    for s in idle:
        s.close()
    assert "dom0" in d.ctl("list").stdout


def test_a_fifo_for_a_kernel_is_refused_at_once(daemon, tmp_path):  # noqa: F811
    fifo = str(tmp_path / "kernel.fifo")
    os.mkfifo(fifo)
    # hv itself
    t = time.monotonic()
    r = subprocess.run([HV, "--kernel", fifo, "--mem", "16M"], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL, env=ASAN_ENV)
    assert r.returncode == 1 and "kernel %s: not a regular file" % fifo in r.stderr, r.stderr
    assert time.monotonic() - t < 10
    # a domU's config through the daemon, initrd and mem_image too
    d = daemon("--mem", "16M", "--vcpus", "1")
    for key in ("kernel", "ramdisk", "mem_image"):
        cfg = str(tmp_path / ("%s.cfg" % key))
        open(cfg, "w").write('name = "f"\nmemory = 16\nvcpus = 1\n%s = "%s"\n' % (key, fifo))
        r = d.ctl("create", cfg, check=False, timeout=10)
        assert r.returncode == 1 and "not a regular file" in r.stderr, (key, r.stderr)
    assert list(d.rows(all_=False)) == ["dom0"]


def test_a_name_of_digits_is_refused(daemon, tmp_path):  # noqa: F811
    r = subprocess.run([HV, "--name", "7", "--mem", "16M"], capture_output=True, text=True, timeout=20,
                       stdin=subprocess.DEVNULL, env=ASAN_ENV)
    assert r.returncode == 1 and "'7' is all digits" in r.stderr, r.stderr
    d = daemon("--mem", "16M", "--vcpus", "1")
    cfg = str(tmp_path / "one.cfg")
    open(cfg, "w").write('name = "1"\nmemory = 16\nvcpus = 1\n')
    r = d.ctl("create", cfg, check=False)
    assert r.returncode == 1 and "all digits" in r.stderr, r.stderr
    # so an id always means the id: dom0 is 0
    assert "dom0" in d.ctl("dominfo", "0").stdout


def test_a_stdout_nobody_reads_stalls_nothing(tmp_path):
    """hv's own output (a pipe, a terminal on Ctrl-S, a stalled journald) is written by a
    thread of its own: when nobody reads it, the rest is dropped and counted, and hv, its
    clients and its guests run on. Once read again, one line says what was lost."""
    sock = str(tmp_path / "ctl.sock")
    p = subprocess.Popen([HV, "--daemon", "--socket", sock, "--state-dir", str(tmp_path / "st"), "--mem", "16M",
                          "--vcpus", "1"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         env=ASAN_ENV)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        ctl = lambda *a: subprocess.run([HVCTL, "-S", sock] + list(a), capture_output=True, text=True,  # noqa: E731
                                        timeout=10)
        end = time.time() + 20  # the socket is there before dom0 is
        while "dom0" not in ctl("list").stdout and time.time() < end:
            time.sleep(0.1)
        # and dom0 is booted ('n' injects an NMI: one in the first instructions of the
        # PVH entry, before the guest has an IDT, triple-faults it)
        s = socket.socket(socket.AF_UNIX)
        s.connect(sock)
        s.sendall(b"console\tdom0\n")
        s.settimeout(2)
        got, end = b"", time.time() + 30
        while b"guest> " not in got and time.time() < end:
            try:
                got += s.recv(4096)
            except socket.timeout:
                s.sendall(b"\r")
        s.close()
        assert b"guest> " in got, got
        t = time.monotonic()
        for _ in range(200):  # about 1.6 MB of output, past the pipe and hv's 1 MiB queue
            assert ctl("debug-keys", "hrvzaumitnNH").returncode == 0
        assert time.monotonic() - t < 60
        assert "dom0" in ctl("list").stdout
        got = b""
        end = time.time() + 30
        while b"bytes of output lost" not in got and time.time() < end:
            got += os.read(p.stdout.fileno(), 1 << 20)
        assert b"bytes of output lost: the terminal did not keep up" in got
    finally:
        p.terminate()
        out = p.communicate(timeout=30)[0]
    assert p.returncode == 128 + 15 and b"AddressSanitizer" not in out


def test_the_C_key_dump_leaves_the_loop_free(daemon, tmp_path):  # noqa: F811
    """Issue 17: the 'C' key (and on_crash coredump-*) wrote the dump in hv's loop: `list`
    stalled for the whole dump. Now the dump thread writes it; `list` answers meanwhile."""
    d = daemon("--mem", "128M", "--vcpus", "1")
    wait_state(d, "dom0", ("running", "blocked"))
    dd = str(tmp_path / "crash")
    d.ctl("setprop", "config/dump-dir", "=", dd)
    d.ctl("setprop", "config/dump-format", "=", "kdump-zlib")  # the slowest: the dump lasts
    d.ctl("refresh")
    guest_console(d, "dom0", "mem 24", "guest> ", timeout=120)  # RAM worth compressing
    d.ctl("debug-keys", "C")
    worst, during = 0.0, 0
    end = time.time() + 120
    while time.time() < end:
        dt, r = timed_list(d)
        worst = max(worst, dt)
        if "dom0 dumped to" in d.ctl("dmesg").stdout:
            break
        during += 1
        time.sleep(0.05)
    assert "dom0 dumped to %s/vmcore.0" % dd in d.ctl("dmesg").stdout
    assert during >= 3, during  # the dump lasted: lists came while it was written
    assert worst < 1.0, worst
