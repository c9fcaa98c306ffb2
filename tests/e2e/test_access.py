"""End to end: nobody but the control socket's owner reaches a guest (issue 17, Access).
The gdb stub's Unix socket lets in only root and hv's uid; on TCP it refuses every
memory and register request until the one-time token is given (real gdb: extended-remote,
monitor auth, attach); a gdbserver pointed at an existing path (hv's own control socket)
is refused and removes nothing; every file hv writes into the dump directory is created
O_EXCL|O_NOFOLLOW relative to it, so symlinks planted by another uid are refused and their
targets stay untouched; relative paths in the raw protocol are refused; the property
store is never opened through a symlink nor in a state directory others can write
unless it is sticky."""
import os
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import GUEST, HV, ASAN_ENV, kernel
from test_dump import crash_with_coredump
from test_toolstack import Daemon, daemon, guest_console  # noqa: F401 (fixture)

HVCTL = os.path.join(os.path.dirname(GUEST), "hvctl")
NOBODY = 65534
SETPRIV = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]

needs_root = pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"),
                                reason="needs root and setpriv to act as another uid")
needs_gdb = pytest.mark.skipif(not shutil.which("gdb"), reason="no gdb")


def gdb(cmds, user=None, elf=GUEST, timeout=90):
    args = ["gdb", "-batch", "-nx"] + ([elf] if elf else [])
    for c in cmds:
        args += ["-ex", c]
    if user:
        args = SETPRIV + args
    r = subprocess.run(args, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    return r.stdout + r.stderr


def raw(d, line):
    """One request on the raw control protocol: (status, text)."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.sock)
    s.sendall(line.encode() + b"\n")
    s.settimeout(20)
    got = b""
    while not re.search(rb"(^|\n)= \d+\n$", got):
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    s.close()
    text = got.decode(errors="replace")
    return int(re.search(r"= (\d+)\n$", text).group(1)), text


# ---- the gdb stub


class Rsp:
    """A bare remote-protocol client (ack mode), to send what gdb would not."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)

    def req(self, body):
        cs = sum(body.encode()) & 0xff
        self.s.sendall(b"$%s#%02x" % (body.encode(), cs))
        buf = b""
        while True:
            m = re.search(rb"\$([^#]*)#[0-9a-f]{2}", buf)
            if m and not m.group(1).startswith(b"O"):
                self.s.sendall(b"+")
                return m.group(1).decode()
            if m:  # console output (qRcmd): acked and skipped
                self.s.sendall(b"+")
                buf = buf[m.end():]
                continue
            chunk = self.s.recv(4096)
            if not chunk:
                return None
            buf += chunk

    def closed(self):
        try:
            self.s.settimeout(5)
            return self.s.recv(1) == b""
        except OSError:
            return True


@needs_root
@needs_gdb
def test_gdb_unix_socket_owner_only(daemon):
    """The '%' key: a Unix socket beside the control socket, mode 0600, and a peer check
    that turns uid 65534 away even when the mode lets it connect; root's gdb gets in."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    guest_console(d, "dom0", "echo ready", "ready")
    d.ctl("debug-keys", "%")
    out = d.ctl("dmesg").stdout
    path = os.path.join(d.tmp, "gdb-dom0.sock")
    assert "gdb stub for dom0 on %s (root and hv's uid only): gdb guest.elf -ex 'target remote %s'" % (path, path) \
        in out, out
    assert stat.S_IMODE(os.lstat(path).st_mode) == 0o600
    out = gdb(["target remote " + path], user=NOBODY, elf=None)
    assert "Permission denied" in out, out  # the mode
    out = gdb(["target remote " + path, "p ncpus", "detach"])
    assert "$1 = 1" in out, out
    for _ in range(50):  # the one-shot server ends with its session and removes its socket
        if not os.path.exists(path):
            break
        time.sleep(0.1)
    assert not os.path.exists(path)
    d.ctl("debug-keys", "%")  # again; the socket's mode loosened, the peer check still holds
    os.chmod(path, 0o666)
    out = gdb(["target remote " + path, "x/4x 0x1000"], user=NOBODY, elf=None)
    assert "permission denied: uid 65534 may not debug" in out, out
    assert not re.search(r"0x1000:\s+0x[0-9a-f]+", out), out  # no memory came back
    assert "permission denied: uid 65534" in d.ctl("dmesg").stdout
    d.ctl("debug-keys", "%")  # while it listens: refused, and the server it has is left alone
    assert "gdb stub: gdbstub: %s is in use" % path in d.ctl("dmesg").stdout
    out = gdb(["target remote " + path, "p ncpus", "detach"])
    assert "$1 = 1" in out, out
    assert "ready2" in guest_console(d, "dom0", "echo ready2", "ready2")


@needs_root
@needs_gdb
def test_gdb_tcp_needs_the_token(daemon):
    """--port: until the token is given, uid 65534 (or anyone) can neither read nor write
    guest memory, the domain is not stopped, and a wrong token ends the connection; real
    gdb with the token reads and (-w) writes, while a client that never authenticates
    stays connected beside it."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    guest_console(d, "dom0", "echo ready", "ready")
    r = d.ctl("gdbserver", "dom0", "--port", "0", "-w")
    m = re.search(r"on 127\.0\.0\.1:(\d+) \(one client with the token", r.stdout)
    t = re.search(r"in gdb: target extended-remote 127\.0\.0\.1:(\d+), then monitor auth ([0-9a-f]{32}), "
                  r"then attach 1", r.stdout)
    assert m and t and t.group(1) == m.group(1), r.stdout
    port, token = int(m.group(1)), t.group(2)
    probe = ("import re,socket,sys\n"
             "s=socket.create_connection(('127.0.0.1',%d),timeout=10)\n"
             "def req(b):\n"
             "  s.sendall(b'$%%s#%%02x'%%(b,sum(b)&0xff)); d=b''\n"
             "  while not re.search(rb'\\$[^#]*#..',d): d+=s.recv(4096)\n"
             "  s.sendall(b'+'); return re.search(rb'\\$([^#]*)#',d).group(1).decode()\n"
             "print(req(b'qSupported'))\n"
             "print('m', req(b'mffffffff80000000,4'))\n"
             "print('M', req(b'Mffffffff80000000,4:deadbeef'))\n"
             "print('g', req(b'g'))\n"
             "print('?', req(b'?'))\n") % port
    r = subprocess.run(SETPRIV + ["/usr/bin/python3", "-c", probe], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert "m E.not authenticated: monitor auth TOKEN, then attach 1" in r.stdout, r.stdout
    assert "M E.not authenticated" in r.stdout and "g E.not authenticated" in r.stdout, r.stdout
    assert "? W00" in r.stdout, r.stdout
    c = Rsp(port)  # a wrong token: refused, and the connection ends
    c.req("qSupported")
    assert c.req("qRcmd," + b"auth 0123456789abcdef0123456789abcdef".hex()) == "E.wrong token"
    assert c.closed()
    assert "ready2" in guest_console(d, "dom0", "echo ready2", "ready2")  # never stopped
    idle = Rsp(port)  # a client that never gives the token does not keep the owner out
    assert "PacketSize=" in idle.req("qSupported")
    out = gdb(["target extended-remote 127.0.0.1:%d" % port, "monitor auth " + token, "attach 1",
               "p ncpus", "set var ncpus = 7", "p ncpus", "set var ncpus = 1", "x/1dw &ncpus", "detach"])
    assert "authenticated: now attach 1" in out, out
    assert "$1 = 1" in out and "$2 = 7" in out, out
    assert re.search(r"<ncpus>:\s+1", out), out
    assert idle.closed()  # the server ended with the session that attached, and closed it
    assert "ready3" in guest_console(d, "dom0", "echo ready3", "ready3")


@needs_root
def test_gdbserver_never_replaces_a_path(daemon):
    """--socket at hv's own control socket (or any existing file) is refused and removes
    nothing; a relative --socket in the raw protocol is refused."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    r = d.ctl("gdbserver", "dom0", "--socket", d.sock, check=False)
    assert r.returncode == 1 and "%s exists: hv never replaces a file it did not create" % d.sock in r.stderr, \
        r.stderr
    assert stat.S_ISSOCK(os.lstat(d.sock).st_mode)
    assert "dom0" in d.rows()  # the control socket still works
    f = os.path.join(d.tmp, "precious")
    open(f, "w").write("precious")
    r = d.ctl("gdbserver", "dom0", "--socket", f, check=False)
    assert r.returncode == 1 and "exists" in r.stderr and open(f).read() == "precious"
    st, text = raw(d, "gdbserver\tdom0\t--socket\trel.sock")
    assert st == 1 and "rel.sock is relative to hv's working directory" in text, text
    assert "dom0" in d.rows()
    # hvctl makes a relative --socket absolute; with no --socket, gdb-NAME.sock beside hv's
    r = subprocess.run([HVCTL, "-S", d.sock, "gdbserver", "dom0", "--socket", "rel.sock"], cwd=d.tmp,
                       capture_output=True, text=True, timeout=20)
    rel = os.path.join(d.tmp, "rel.sock")
    assert r.returncode == 0 and "gdb guest.elf -ex 'target remote %s'" % rel in r.stdout, r.stdout + r.stderr
    assert stat.S_ISSOCK(os.lstat(rel).st_mode)


def test_hv_never_replaces_a_file_at_its_socket(tmp_path):
    """hv --socket at a file that is not a socket: one clear error, the file untouched."""
    f = tmp_path / "not-a-socket"
    f.write_text("precious")
    r = subprocess.run([HV, "--daemon", "--socket", str(f), "-k", kernel("trivial")], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=20, env=ASAN_ENV)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert "%s exists: hv never replaces a file it did not create" % f in lines[0], lines[0]
    assert f.read_text() == "precious"
    open_dir = tmp_path / "open"  # a directory anyone can write (not sticky): another uid could swap the socket
    open_dir.mkdir()
    open_dir.chmod(0o777)
    r = subprocess.run([HV, "--daemon", "--socket", str(open_dir / "ctl.sock"), "-k", kernel("trivial")],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=20, env=ASAN_ENV)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert "socket directory %s is writable by others and not sticky" % open_dir in lines[0], lines[0]


# ---- the dump directory


def plant(link, target):
    subprocess.run(SETPRIV + ["ln", "-s", target, link], check=True)


def dump_dir_setup(daemon, mode):
    """A daemon whose dump-dir is a new directory of that mode, and a victim file."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    dd = os.path.join(d.tmp, "crash")
    os.mkdir(dd)
    os.chmod(dd, mode)
    victim = os.path.join(d.tmp, "victim")
    open(victim, "w").write("precious")
    d.ctl("setprop", "config/dump-dir", "=", dd)
    d.ctl("refresh")
    return d, dd, victim


def last_line(d, prefix):
    lines = [l for l in d.ctl("dmesg").stdout.splitlines() if prefix in l]
    return lines[-1] if lines else ""


def key_line(d, key, prefix, timeout=30):
    """Presses a debug key and returns the first new log line holding prefix (the 'C' key's
    dump is written by the dump thread: its result comes when it ends)."""
    def lines():
        return [l for l in d.ctl("dmesg").stdout.splitlines() if prefix in l]
    before = len(lines())
    d.ctl("debug-keys", key)
    end = time.time() + timeout
    while time.time() < end:
        now = lines()
        if len(now) > before:
            return now[before]
        time.sleep(0.1)
    return ""


@needs_root
def test_dump_dir_others_can_write_is_refused(daemon):
    """A world-writable, non-sticky dump-dir with another uid's symlinks (bounds.tmp, the
    reported attack, and bounds): the 'C' key and hvctl dump refuse it; the victims stay."""
    d, dd, victim = dump_dir_setup(daemon, 0o777)
    plant(os.path.join(dd, "bounds.tmp"), victim)
    plant(os.path.join(dd, "bounds"), victim)
    line = key_line(d, "C", "dump failed")
    assert "dump directory %s is writable by others and not sticky (mode 0777)" % dd in line, line
    for verb in (["dump", "dom0", os.path.join(dd, "core")], ["save", "dom0", os.path.join(dd, "s"), "--keep"]):
        r = d.ctl(*verb, check=False)
        assert r.returncode == 1 and "is writable by others and not sticky" in r.stderr, (verb, r.stderr)
    assert "dom0" in d.rows()
    assert open(victim).read() == "precious"
    assert sorted(os.listdir(dd)) == ["bounds", "bounds.tmp"]


@needs_root
def test_sticky_dump_dir_never_follows_a_symlink(daemon):
    """A sticky world-writable dump-dir (as /var/tmp): symlinks another uid plants at
    bounds, at the partial file's name and at vmcore.0 are never written through: a clear
    error, or the name is skipped; the victim stays untouched."""
    d, dd, victim = dump_dir_setup(daemon, 0o1777)
    plant(os.path.join(dd, "bounds"), victim)
    line = key_line(d, "C", "dump failed")
    assert "dump directory %s: bounds is a symlink, and hv never follows one" % dd in line, line
    os.unlink(os.path.join(dd, "bounds"))
    partial = os.path.join(dd, "vmcore.0.partial-%d" % d.p.pid)
    plant(partial, victim)
    line = key_line(d, "C", "dump failed")
    # the user's file named first, and the planted partial name (issue 16: not the partial alone)
    assert ("%s/vmcore.0: its partial file vmcore.0.partial-%d exists: hv never writes through or over a file it "
            "did not create" % (dd, d.p.pid)) in line, line
    assert os.path.islink(partial)
    os.unlink(partial)
    plant(os.path.join(dd, "vmcore.0"), victim)  # a taken name: skipped
    assert "dom0 dumped to %s/vmcore.1" % dd in key_line(d, "C", "dom0 dumped to")
    assert open(victim).read() == "precious"
    core = os.path.join(dd, "vmcore.1")
    assert not os.path.islink(core) and os.stat(core).st_uid == 0 and os.path.getsize(core) > 4096
    r = d.ctl("dump", "dom0", os.path.join(dd, "vmcore.0"), check=False)  # hvctl dump at the symlink
    assert r.returncode == 1 and "a dump is never overwritten" in r.stderr, r.stderr
    assert open(victim).read() == "precious"


@needs_root
def test_coredump_on_crash_refuses_an_open_dump_dir(daemon):
    """on_crash = coredump-destroy, a guest's crash, into a dump-dir others can write: the
    dump is refused and logged, the planted symlink's target untouched, the domain still
    destroyed."""
    d, dd, victim = dump_dir_setup(daemon, 0o777)
    plant(os.path.join(dd, "bounds.tmp"), victim)
    crash_with_coredump(d, "c", 1, "planted")
    line = last_line(d, "c: crash dump failed")
    assert "dump directory %s is writable by others and not sticky" % dd in line, line
    assert open(victim).read() == "precious" and os.listdir(dd) == ["bounds.tmp"]


@needs_root
def test_relative_paths_are_refused(daemon):
    """The raw protocol: hv never writes through a path relative to its own working
    directory (hvctl sends absolute ones)."""
    d = daemon("--vcpus", "1", "--mem", "32M")
    for line, verb in (("dump\tdom0\tcore.rel", "dump"), ("save\tdom0\tsave.rel\t--keep", "save"),
                       ("restore\tsave.rel", "restore")):
        st, text = raw(d, line)
        assert st == 1 and "%s: %s is relative to hv's working directory: give an absolute path" % (
            verb, line.split("\t")[-2 if verb == "save" else -1]) in text, text
    assert "dom0" in d.rows()


# ---- the property store


def test_state_dir_others_can_write_is_refused(tmp_path):
    """hv --state-dir at a directory others can write that is not sticky: one clear error
    at start (props.db and the definitions live there)."""
    sd = tmp_path / "state"
    sd.mkdir()
    sd.chmod(0o777)
    r = subprocess.run([HV, "--daemon", "--socket", str(tmp_path / "ctl.sock"), "--state-dir", str(sd),
                        "-k", kernel("trivial")], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=20, env=ASAN_ENV)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 1 and len(lines) == 1, r.stderr
    assert "hv: --state-dir %s is writable by others and not sticky (mode 0777)" % sd in lines[0], lines[0]
    assert os.listdir(sd) == []


@needs_root
def test_props_db_never_through_a_symlink(daemon):
    """A sticky state directory anyone may write into (as /var/tmp), where another uid
    planted props.db as a symlink to a victim: hv says so at start, setprop fails with the
    reason (a write never reported done), the victim stays as it was; once the symlink is
    gone the store is made anew and works."""
    tmp = tempfile.mkdtemp()
    os.chmod(tmp, 0o755)
    sd = os.path.join(tmp, "state")
    os.mkdir(sd)
    os.chmod(sd, 0o1777)
    victim = os.path.join(tmp, "victim")
    open(victim, "w").write("precious")
    plant(os.path.join(sd, "props.db"), victim)
    d = Daemon(tmp, "--vcpus", "1", "--mem", "32M")
    try:
        want = "%s/props.db: the property store is a symlink: not followed" % sd
        assert want in d.ctl("dmesg").stdout
        r = d.ctl("setprop", "config/checkpoint-keep", "=", "3", check=False)
        assert r.returncode == 1 and want in r.stderr, r.stderr
        r = d.ctl("listprop", check=False)
        assert r.returncode == 1 and want in r.stderr, r.stderr
        assert open(victim).read() == "precious" and os.path.islink(os.path.join(sd, "props.db"))
        os.unlink(os.path.join(sd, "props.db"))
        d.ctl("setprop", "config/checkpoint-keep", "=", "3")
        st = os.lstat(os.path.join(sd, "props.db"))
        assert stat.S_ISREG(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600
    finally:
        out, err = d.stop()
        shutil.rmtree(tmp)
    assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
