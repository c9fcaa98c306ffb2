"""End to end: migration between two hv daemons (issue 14). A built-in guest running churn
migrates live and runs on at the receiver (its checksum, threads, uptime, log, console,
hvmdb -d), the source keeps nothing; the relocation server's hosts-allow, address and
port are obeyed and a refusal leaves the domain running at the source and nothing at the
receiver; garbage and half streams sent to the port leave hv running; a migration cut at
any point leaves exactly one copy. The two-namespace tests run as root only (they make
their own network namespaces joined by a veth pair)."""
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, GUEST, ASAN_ENV
from test_contain import churn_consistent, domu
from test_dump import core_phys_reader
from test_toolstack import Daemon, guest_console, wait_state

HVMDB = os.path.join(BUILD, "hvmdb")
HV = os.path.join(BUILD, "hv")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Host(Daemon):
    """An hv daemon in a directory of its own, its relocation server on a port of its own
    (and, as root, optionally inside a network namespace)."""

    def __init__(self, tmp, *args, netns=None, address=None, allow=None):
        os.makedirs(tmp, exist_ok=True)
        os.chmod(tmp, 0o755)
        state = os.path.join(tmp, "state")
        self.port = free_port()
        self.netns = netns
        pre = {"config/xend-relocation-port": str(self.port)}
        if address is not None:
            pre["config/xend-relocation-address"] = address
        if allow is not None:
            pre["config/xend-relocation-hosts-allow"] = allow
        self.prefix = ["ip", "netns", "exec", netns] if netns else []
        Daemon.__init__(self, tmp, *args)
        for k, v in pre.items():
            self.ctl("setprop", k, "=", '"%s"' % v if k.endswith(("address", "allow")) else v)
        self.ctl("refresh")


@pytest.fixture
def hosts():
    tmp = tempfile.mkdtemp()
    os.chmod(tmp, 0o755)
    hs = []

    def start(name, *args, **kw):
        h = Host(os.path.join(tmp, name), "--vcpus", "1", "--mem", "32M", *args, **kw)
        hs.append(h)
        return h

    yield start
    for h in hs:
        out, err = h.stop()
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    shutil.rmtree(tmp)


def test_live_migration_runs_on_at_the_receiver(hosts):
    a, b = hosts("a"), hosts("b")
    domu(a, "g", vcpus=2)
    out = guest_console(a, "g", "churn 2", "guest> ")
    state_pa = int(re.search(r"churn_state at ([0-9a-f]+)", out).group(1), 16)
    guest_console(a, "g", "echo written-before-the-move", "guest> ")
    up1 = float(re.search(r"up ([0-9.]+) s", guest_console(a, "g", "uptime", "guest> ")).group(1))
    r = a.ctl("migrate", "g", "127.0.0.1:%d" % b.port, "--live", timeout=60)
    m = re.search(r"Domain g migrated to 127.0.0.1 \(live\): downtime ([0-9.]+) ms, total ([0-9.]+) ms, "
                  r"([0-9.]+) MiB sent in (\d+) rounds?", r.stdout)
    assert m, r.stdout
    assert re.search(r"^round 1: 8192 pages", r.stdout, re.M), r.stdout  # all of the 32 MiB went first
    assert "g" not in a.rows()                       # exactly one copy: the source has none
    assert b.rows()["g"][1] in ("running", "blocked")
    ps = guest_console(b, "g", "ps", "guest> ")
    assert re.search(r"churn", ps) and re.search(r"shell", ps), ps
    up2 = float(re.search(r"up ([0-9.]+) s", guest_console(b, "g", "uptime", "guest> ")).group(1))
    assert up2 > up1
    assert "written-before-the-move" in guest_console(b, "g", "dmesg", "guest> ")
    assert "hello-there" in guest_console(b, "g", "echo hello-there", "guest> ")
    info = b.ctl("dominfo", "g").stdout
    assert re.search(r"^Migrated from: +\S+ \(127\.0\.0\.1\) at \d{4}-", info, re.M), info
    # churn's invariant held through the move: a dump at the receiver checks it
    time.sleep(0.3)
    core = os.path.join(b.tmp, "after.core")
    b.ctl("dump", "g", core)
    ok, updates = churn_consistent(core_phys_reader(core), state_pa)
    assert ok and updates > 0
    # the debugger attaches to it at the receiver
    env = dict(os.environ, HVKIT_SOCKET=b.sock)
    r = subprocess.run([HVMDB, "-s", GUEST, "-d", "g", "-c", "::ps"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert "churn" in r.stdout, r.stdout + r.stderr
    # and it can go back, stopped-and-copied this time
    r = b.ctl("migrate", "g", "127.0.0.1:%d" % a.port, "--json", timeout=60)
    assert re.search(r'"domain": "g", "host": "127.0.0.1", "live": false, "downtime_ms": [0-9.]+', r.stdout), r.stdout
    assert "g" not in b.rows() and a.rows()["g"][1] in ("running", "blocked")
    assert "hello-back" in guest_console(a, "g", "echo hello-back", "guest> ")


def test_refusals_leave_the_domain_at_the_source(hosts):
    a = hosts("a")
    b = hosts("b", allow="^10\\.99\\.99\\.99$")
    domu(a, "g", vcpus=1)
    r = a.ctl("migrate", "g", "127.0.0.1:%d" % b.port, "--live", check=False)
    assert r.returncode == 1, r.stdout
    assert "refused: 127.0.0.1" in r.stderr and "config/xend-relocation-hosts-allow" in r.stderr, r.stderr
    assert "it runs on here" in r.stderr
    assert a.rows()["g"][1] in ("running", "blocked") and "g" not in b.rows()
    assert "still-here" in guest_console(a, "g", "echo still-here", "guest> ")
    # allowed by address now; but a domain of that name runs there: refused before any domain
    b.ctl("setprop", "config/xend-relocation-hosts-allow", "=", '"^127\\.0\\.0\\.1$"')
    b.ctl("refresh")
    domu(b, "g", vcpus=1)
    r = a.ctl("migrate", "g", "127.0.0.1:%d" % b.port, check=False)
    assert r.returncode == 1 and "a domain named g is already running here" in r.stderr, r.stderr
    assert a.rows()["g"][1] in ("running", "blocked")
    b.ctl("destroy", "g")
    # nobody listening
    r = a.ctl("migrate", "g", "127.0.0.1:%d" % free_port(), check=False)
    assert r.returncode == 1 and "cannot reach the relocation server" in r.stderr, r.stderr
    # bad arguments: one line each
    for args, msg in [(("g", "127.0.0.1:0"), "bad port"), (("g", "h", "--downtime", "x"), "--downtime"),
                      (("g", "h", "--frob"), "unknown option '--frob'"), (("g",), "usage: migrate NAME HOST")]:
        r = a.ctl("migrate", *args, check=False)
        assert r.returncode == 1 and msg in r.stderr, (args, r.stderr)
    r = a.ctl("migrate-cancel", "g", check=False)
    assert r.returncode == 1 and "g is not being migrated" in r.stderr
    # the server off: nothing listens
    b.ctl("setprop", "config/xend-relocation-server", "=", "false")
    b.ctl("refresh")
    r = a.ctl("migrate", "g", "127.0.0.1:%d" % b.port, check=False)
    assert r.returncode == 1 and "cannot reach" in r.stderr, r.stderr
    # allowed again, by the name a reverse lookup gives (localhost, from /etc/hosts)
    b.ctl("setprop", "config/xend-relocation-server", "=", "true")
    b.ctl("setprop", "config/xend-relocation-hosts-allow", "=", '"^localhost$"')
    b.ctl("refresh")
    a.ctl("migrate", "g", "127.0.0.1:%d" % b.port, "--live", timeout=60)
    assert "g" not in a.rows() and b.rows()["g"][1] in ("running", "blocked")


def hello(name=b"g", version=1, mem=32 << 20, vcpus=1, ncpuid=1, magic=b"HVMIGRT\0"):
    h = magic + struct.pack("<IIII", version, 0, 1, vcpus) + struct.pack("<Q", mem)
    h += name.ljust(64, b"\0") + b"fuzz".ljust(64, b"\0") + struct.pack("<I", ncpuid) + b"\0" * 12
    return h + b"\0" * 40 * ncpuid


def test_garbage_and_half_streams_leave_hv_running(hosts):
    b = hosts("b")
    cases = [
        (b"", None), (b"GET / HTTP/1.0\r\n\r\n" + b"x" * 200, "not a migration stream"),
        (hello(version=7), "migration stream version 7"), (hello(name=b"bad name"), "bad domain or host name"),
        (hello(mem=1 << 50), "bytes of RAM"), (hello(ncpuid=100000)[:176], "CPUID entries"),
        (hello(mem=1 << 45), "not enough memory"),
        (hello()[:100], "reading the migration hello"),
    ]
    for data, want in cases:
        s = socket.create_connection(("127.0.0.1", b.port))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        s.settimeout(15)
        got = b""
        try:
            while True:
                k = s.recv(4096)
                if not k:
                    break
                got += k
        except (socket.timeout, ConnectionResetError):
            pass
        s.close()
        if want:
            assert want.encode() in got, (data[:40], got)
    # a good hello, then half an image, then the connection cut
    s = socket.create_connection(("127.0.0.1", b.port))
    s.sendall(hello())
    s.settimeout(15)
    line = s.recv(100)
    if line == b"ok\n":
        s.sendall(b"HVIMAGE\0" + os.urandom(500))
    s.close()
    time.sleep(0.5)
    assert list(b.rows()) == ["dom0"]
    assert "alive" in guest_console(b, "dom0", "echo alive", "alive")


def test_postcopy_runs_on_at_the_receiver_before_its_ram_is_all_there(hosts):
    """--postcopy: one pre-copy round, the switch, then the pages written meanwhile come
    after the domain runs at the receiver, the ones it touches first on demand."""
    a, b = hosts("a"), hosts("b")
    domu(a, "g", vcpus=1)
    out = guest_console(a, "g", "churn 1", "guest> ")
    state_pa = int(re.search(r"churn_state at ([0-9a-f]+)", out).group(1), 16)
    guest_console(a, "g", "echo before-postcopy", "guest> ")
    r = a.ctl("migrate", "g", "127.0.0.1:%d" % b.port, "--postcopy", "--bandwidth", "8", timeout=60)
    m = re.search(r"Domain g migrated to 127.0.0.1 \(post-copy\): downtime ([0-9.]+) ms, total ([0-9.]+) ms", r.stdout)
    assert m, r.stdout
    pc = re.search(r"^Post-copy: (\d+) pages after the switch in ([0-9.]+) ms, (\d+) asked for", r.stdout, re.M)
    assert pc and int(pc.group(1)) > 0, r.stdout     # churn wrote pages during the round
    assert "g" not in a.rows()
    assert b.rows()["g"][1] in ("running", "blocked")
    assert "post-copy done" in b.ctl("dmesg").stdout
    assert "before-postcopy" in guest_console(b, "g", "dmesg", "guest> ")
    ps = guest_console(b, "g", "ps", "guest> ")
    assert "churn" in ps, ps
    time.sleep(0.3)
    core = os.path.join(b.tmp, "post.core")
    b.ctl("dump", "g", core)
    ok, updates = churn_consistent(core_phys_reader(core), state_pa)
    assert ok and updates > 0
    # --json says so too
    r = b.ctl("migrate", "g", "127.0.0.1:%d" % a.port, "--postcopy", "--json", timeout=60)
    assert re.search(r'"postcopy": true, .*"post_pages": \d+', r.stdout), r.stdout
    assert "back-again" in guest_console(a, "g", "echo back-again", "guest> ")


def start_postcopy(src, dst):
    """A post-copy migration of g at 1 MiB/s whose guest writes 16 MiB during the first
    round (8 MiB of random data in its RAM make that round last), so that the phase after
    the switch lasts too; returns once g runs at dst (the post phase has begun) with the
    hvctl process."""
    p = subprocess.Popen([os.path.join(BUILD, "hvctl"), "-S", src.sock, "migrate", "g", "127.0.0.1:%d" % dst.port,
                          "--postcopy", "--bandwidth", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.2)
    # typed, not waited for: the writes go on through the round (under dirty logging they
    # are slow here), and those not yet sent at the switch are what the post phase moves
    guest_console(src, "g", "mem 16", "mem 16", timeout=30)
    end = time.time() + 60
    while time.time() < end and "g" not in dst.rows():
        assert p.poll() is None, p.communicate()
        time.sleep(0.05)
    assert "g" in dst.rows()
    return p


def test_postcopy_broken_off_leaves_no_second_copy(hosts):
    """The link gone after the switch: the receiver's copy cannot run on without its pages
    (it is crashed, naming them); the source keeps its copy of the moment of the switch,
    paused, and says so; a cancel in that phase is refused."""
    a, b = hosts("a"), hosts("b")
    img = os.path.join(a.tmp, "random.img")
    with open(img, "wb") as f:
        f.write(os.urandom(8 << 20))
    domu(a, "g", vcpus=1, mem=64, extra='on_crash = "preserve"\nmem_image = "%s"\n' % img)
    p = start_postcopy(a, b)
    assert re.search(r"^ *\d+ g +paused \(migrating, post-copy\)$", a.ctl("list").stdout, re.M)
    assert '"job": "migrating, post-copy"' in a.ctl("list", "--json").stdout
    r = a.ctl("migrate-cancel", "g", check=False)
    assert r.returncode == 1 and "a cancel now would lose it" in r.stderr, (r.stdout, r.stderr)
    b.p.kill()  # the receiver gone in the post phase
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "post-copy broke off" in err and "kept paused here" in err, (out, err)
    assert a.rows()["g"][1] == "paused"
    a.ctl("resume", "g")
    # (its mem 16 may still be writing: the line waits for it, and the answer follows it)
    assert "\nresumed-here" in guest_console(a, "g", "echo resumed-here", "\nresumed-here", timeout=60)
    # the sender gone in the post phase: the receiver's copy is crashed, not run on wrong RAM
    c = hosts("c")
    start_postcopy(a, c)
    a.p.kill()
    end = time.time() + 30
    while time.time() < end and c.rows()["g"][1] != "crashed":
        time.sleep(0.1)
    assert c.rows()["g"][1] == "crashed"
    log = c.ctl("dmesg").stdout
    assert re.search(r"g crashed: post-copy: .*\d+ pages of its RAM never came", log), log


def test_cut_migrations_leave_exactly_one_copy(hosts):
    """The connection cut at points through a live migration (the receiver killed, the
    sender cancelled, the client gone): each time one running copy, churn's invariant whole."""
    a, b = hosts("a"), hosts("b")
    domu(a, "g", vcpus=1)
    guest_console(a, "g", "mem 6", "guest> ", timeout=30)  # something to send: 6 MiB of data
    out = guest_console(a, "g", "churn 1", "guest> ")
    state_pa = int(re.search(r"churn_state at ([0-9a-f]+)", out).group(1), 16)
    where = a
    rng = random.Random(14)
    moved = 0
    for i in range(20):
        delay = rng.uniform(0, 1.2)
        other = b if where is a else a
        p = subprocess.Popen([os.path.join(BUILD, "hvctl"), "-S", where.sock, "migrate", "g",
                              "127.0.0.1:%d" % other.port, "--live", "--bandwidth", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(delay)
        if i % 2:
            where.ctl("migrate-cancel", "g", check=False)
        else:
            p.kill()  # the client gone cancels the job
        p.communicate(timeout=60)
        end = time.time() + 30  # a job whose client went away ends at its next batch
        while time.time() < end and "being migrated" in where.ctl("dominfo", "g", check=False).stdout:
            time.sleep(0.1)
        ra, rb = a.rows().get("g"), b.rows().get("g")
        running = [h for h, r in ((a, ra), (b, rb)) if r and r[1] in ("running", "blocked")]
        assert len(running) == 1, (i, ra, rb)
        moved += running[0] is not where
        where = running[0]
    assert moved < 20  # some were cut before the end (a cut after the commit completes it)
    core = os.path.join(where.tmp, "cut.core")
    where.ctl("dump", "g", core)
    ok, updates = churn_consistent(core_phys_reader(core), state_pa)
    assert ok and updates > 0


def test_receiver_killed_mid_stream_leaves_the_source_running(hosts):
    a, b = hosts("a"), hosts("b")
    domu(a, "g", vcpus=1)
    guest_console(a, "g", "mem 6", "guest> ", timeout=30)
    p = subprocess.Popen([os.path.join(BUILD, "hvctl"), "-S", a.sock, "migrate", "g", "127.0.0.1:%d" % b.port,
                          "--live", "--bandwidth", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    b.p.kill()
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1 and "it runs on here" in err, (out, err)
    assert a.rows()["g"][1] in ("running", "blocked")
    assert "survived" in guest_console(a, "g", "echo survived", "guest> ")


# ---- two hosts in network namespaces (root)

NS = ("hvkit-mig-a", "hvkit-mig-b")
ADDR = ("10.77.0.1", "10.77.0.2")


@pytest.fixture
def netns():
    if os.geteuid() != 0 or not shutil.which("ip"):
        pytest.skip("network namespaces need root and iproute2")
    sh = lambda *c: subprocess.run(c, capture_output=True, text=True)  # noqa: E731
    for n in NS:
        sh("ip", "netns", "del", n)
    r = sh("ip", "netns", "add", NS[0])
    if r.returncode:
        pytest.skip("cannot make a network namespace: " + r.stderr)
    sh("ip", "netns", "add", NS[1])
    sh("ip", "link", "add", "hvmig0", "netns", NS[0], "type", "veth", "peer", "name", "hvmig1", "netns", NS[1])
    for n, dev, addr in ((NS[0], "hvmig0", ADDR[0]), (NS[1], "hvmig1", ADDR[1])):
        sh("ip", "-n", n, "addr", "add", addr + "/24", "dev", dev)
        sh("ip", "-n", n, "link", "set", dev, "up")
        sh("ip", "-n", n, "link", "set", "lo", "up")
    # the name a reverse lookup gives for A's address inside B's namespace (ip netns exec
    # bind-mounts /etc/netns/NAME/hosts over /etc/hosts)
    os.makedirs("/etc/netns/%s" % NS[1], exist_ok=True)
    open("/etc/netns/%s/hosts" % NS[1], "w").write("127.0.0.1 localhost\n%s flax\n%s hvmig-b\n" % ADDR)
    yield
    for n in NS:
        sh("ip", "netns", "del", n)
    shutil.rmtree("/etc/netns/%s" % NS[1], ignore_errors=True)


def ns_daemon(tmp, ns, **kw):
    """An hv daemon inside namespace ns (its control socket is a path: hvctl reaches it)."""
    return Host(tmp, "--vcpus", "1", "--mem", "32M", netns=ns, **kw)


def test_two_namespaces_address_hosts_allow_by_name(netns):
    tmp = tempfile.mkdtemp()
    os.chmod(tmp, 0o755)
    a = ns_daemon(os.path.join(tmp, "a"), NS[0])
    b = ns_daemon(os.path.join(tmp, "b"), NS[1], allow="^flax$")  # loopback-only address by default
    try:
        domu(a, "g", vcpus=1)
        dest = "%s:%d" % (ADDR[1], b.port)
        r = a.ctl("migrate", "g", dest, "--live", check=False)
        assert r.returncode == 1 and "cannot reach" in r.stderr, r.stderr  # 127.0.0.1 only: not from outside
        b.ctl("setprop", "config/xend-relocation-address", "=", '""')
        b.ctl("refresh")
        assert "without TLS" in b.ctl("dmesg").stdout
        r = a.ctl("migrate", "g", dest, "--live", timeout=60)
        assert "Domain g migrated to %s (live)" % ADDR[1] in r.stdout, r.stdout
        assert "g" not in a.rows() and b.rows()["g"][1] in ("running", "blocked")
        assert "over-there" in guest_console(b, "g", "echo over-there", "guest> ")
        # back, but B's name for A is not allowed at A: refused, g stays at B
        a.ctl("setprop", "config/xend-relocation-address", "=", '""')
        a.ctl("setprop", "config/xend-relocation-hosts-allow", "=", '"^10\\.77\\.0\\.9$"')
        a.ctl("refresh")
        r = b.ctl("migrate", "g", "%s:%d" % (ADDR[0], a.port), check=False)
        assert r.returncode == 1 and "refused: %s" % ADDR[1] in r.stderr, r.stderr
        assert b.rows()["g"][1] in ("running", "blocked") and "g" not in a.rows()
        assert "relocation: refused %s" % ADDR[1] in a.ctl("dmesg").stdout
    finally:
        for h in (a, b):
            h.stop()
        shutil.rmtree(tmp)


def test_link_down_mid_migration_leaves_the_source_running(netns):
    """The veth taken down in the middle of a live migration: no error comes from the
    network, only silence; the sender gives up within its link deadline (TCP user timeout,
    20 s), the domain runs on at the source, the receiver discards what it got, and once
    the link is back the migration goes through."""
    tmp = tempfile.mkdtemp()
    os.chmod(tmp, 0o755)
    a = ns_daemon(os.path.join(tmp, "a"), NS[0])
    b = ns_daemon(os.path.join(tmp, "b"), NS[1], address="", allow="")
    try:
        domu(a, "g", vcpus=1)
        guest_console(a, "g", "mem 6", "guest> ", timeout=30)
        dest = "%s:%d" % (ADDR[1], b.port)
        p = subprocess.Popen([os.path.join(BUILD, "hvctl"), "-S", a.sock, "migrate", "g", dest, "--live",
                              "--bandwidth", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(0.7)
        subprocess.run(["ip", "-n", NS[0], "link", "set", "hvmig0", "down"], check=True)
        t = time.time()
        out, err = p.communicate(timeout=90)
        assert p.returncode == 1 and "it runs on here" in err, (out, err)
        assert time.time() - t < 60
        assert a.rows()["g"][1] in ("running", "blocked")
        assert "still-here" in guest_console(a, "g", "echo still-here", "guest> ")
        subprocess.run(["ip", "-n", NS[0], "link", "set", "hvmig0", "up"], check=True)
        end = time.time() + 60  # the receiver gives up on the dead connection too
        while time.time() < end and "being migrated here" in b.ctl("dmesg").stdout:
            time.sleep(0.5)
        r = a.ctl("migrate", "g", dest, "--live", timeout=120, check=False)
        for _ in range(30):  # its stream deadline (30 s) may still hold the name
            if r.returncode == 0 or "being migrated here already" not in r.stderr:
                break
            time.sleep(2)
            r = a.ctl("migrate", "g", dest, "--live", timeout=120, check=False)
        assert r.returncode == 0, r.stderr
        assert "g" not in a.rows() and b.rows()["g"][1] in ("running", "blocked")
    finally:
        subprocess.run(["ip", "-n", NS[0], "link", "set", "hvmig0", "up"])
        for h in (a, b):
            h.stop()
        shutil.rmtree(tmp)


# ---- TLS

def make_certs(d):
    """A CA that signs a server (B, for 127.0.0.1) and a client (A) certificate, and a
    second CA with a client certificate of its own (the wrong one)."""
    def run(*c):
        subprocess.run(c, check=True, capture_output=True, cwd=d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    for ca in ("ca", "evilca"):
        run("openssl", "req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".crt", "-days", "2",
            "-subj", "/CN=hvkit test " + ca)
    open(os.path.join(d, "san.ext"), "w").write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    for name, ca in (("b", "ca"), ("a", "ca"), ("evil", "evilca")):
        run("openssl", "req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=host-" + name)
        run("openssl", "x509", "-req", "-in", name + ".csr", "-CA", ca + ".crt", "-CAkey", ca + ".key",
            "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", "san.ext")
    return {k: os.path.join(d, k) for k in os.listdir(d)}


class Capture:
    """A TCP relay on loopback that records what goes from the client to the server."""

    def __init__(self, port):
        import threading
        self.ls = socket.socket()
        self.ls.bind(("127.0.0.1", 0))
        self.ls.listen(1)
        self.port = self.ls.getsockname()[1]
        self.data = bytearray()
        self.target = port
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def run(self):
        import threading
        c, _ = self.ls.accept()
        s = socket.create_connection(("127.0.0.1", self.target))

        def back():
            try:
                while True:
                    k = s.recv(65536)
                    if not k:
                        break
                    c.sendall(k)
            except OSError:
                pass
            c.close()
        threading.Thread(target=back, daemon=True).start()
        try:
            while True:
                k = c.recv(65536)
                if not k:
                    break
                self.data += k
                s.sendall(k)
        except OSError:
            pass
        s.shutdown(socket.SHUT_WR)


def setprops(h, **kv):
    for k, v in kv.items():
        h.ctl("setprop", "config/xend-relocation-" + k.replace("_", "-"), "=", v if v in ("true", "false") else '"%s"' % v)
    h.ctl("refresh")


def test_tls_certificates_and_psk(hosts):
    a, b = hosts("a"), hosts("b")
    c = make_certs(tempfile.mkdtemp(dir=a.tmp))
    setprops(b, ssl="true", ssl_key=c["b.key"], ssl_cert=c["b.crt"], ssl_ca=c["ca.crt"])
    setprops(a, ssl_key=c["a.key"], ssl_cert=c["a.crt"], ssl_ca=c["ca.crt"])
    domu(a, "g", vcpus=1)
    guest_console(a, "g", "echo secret-console-text", "guest> ")
    # plain text to a TLS server: refused, g runs on at A
    r = a.ctl("migrate", "g", "127.0.0.1:%d" % b.port, check=False)
    assert r.returncode == 1 and "it runs on here" in r.stderr, r.stderr
    # matching certificates: it goes, and the wire holds no plain text
    cap = Capture(b.port)
    r = a.ctl("migrate", "g", "127.0.0.1:%d" % cap.port, "--ssl", "--live", timeout=60)
    assert "Domain g migrated to 127.0.0.1 (live)" in r.stdout, r.stdout
    cap.t.join(10)
    assert len(cap.data) > 4096
    for plain in (b"HVMIGRT", b"HVIMAGE", b'name = "g"', b"secret-console-text"):
        assert plain not in cap.data, plain
    assert "secret-console-text" in guest_console(b, "g", "dmesg", "guest> ")
    # back to A needs A to serve TLS too; B's client certificate is a's CA's: fine
    setprops(a, ssl="true", ssl_key=c["b.key"], ssl_cert=c["b.crt"])
    setprops(b, ssl_key=c["evil.key"], ssl_cert=c["evil.crt"])  # B now presents the wrong CA's
    r = b.ctl("migrate", "g", "127.0.0.1:%d" % a.port, "--ssl", check=False)
    assert r.returncode == 1 and "it runs on here" in r.stderr, r.stderr
    assert re.search(r"relocation: refused 127\.0\.0\.1.*TLS handshake", a.ctl("dmesg").stdout)
    # no client certificate at all: refused by the server
    b.ctl("delprop", "config/xend-relocation-ssl-key")
    b.ctl("delprop", "config/xend-relocation-ssl-cert")
    b.ctl("refresh")
    r = b.ctl("migrate", "g", "127.0.0.1:%d" % a.port, "--ssl", check=False)
    assert r.returncode == 1 and "g" not in a.rows() and b.rows()["g"][1] in ("running", "blocked"), r.stderr
    # a pre-shared key on both sides: it goes; a wrong one is refused
    key = os.path.join(a.tmp, "psk")
    open(key, "w").write("hvkit:" + "5a" * 32 + "\n")
    bad = os.path.join(a.tmp, "psk.bad")
    open(bad, "w").write("hvkit:" + "77" * 32 + "\n")
    setprops(a, ssl_psk_file=key)
    setprops(b, ssl_psk_file=bad)
    r = b.ctl("migrate", "g", "127.0.0.1:%d" % a.port, "--ssl", check=False)
    assert r.returncode == 1 and b.rows()["g"][1] in ("running", "blocked"), r.stderr
    setprops(b, ssl_psk_file=key)
    r = b.ctl("migrate", "g", "127.0.0.1:%d" % a.port, "--ssl", timeout=60)
    assert "Domain g migrated to 127.0.0.1" in r.stdout, r.stdout
    assert "g" not in b.rows() and "psk-ok" in guest_console(a, "g", "echo psk-ok", "guest> ")
