"""End to end: hv --daemon with dom0 and domUs driven by build/hvctl over the control
socket: the seed's `list --all` table through every state, consoles, a crashed domU that
leaves the others alone, properties, and refusals."""
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, HV, ASAN_ENV, kernel

HVCTL = os.path.join(BUILD, "hvctl")


class Daemon:
    def __init__(self, tmp, *args):
        self.tmp = tmp
        self.sock = os.path.join(tmp, "ctl.sock")
        self.state = os.path.join(tmp, "state")
        self.p = subprocess.Popen(list(getattr(self, "prefix", [])) + [HV, "--daemon", "--socket", self.sock, "--state-dir", self.state] + list(args),
                                  stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True, env=ASAN_ENV)
        for _ in range(100):
            if os.path.exists(self.sock):
                break
            time.sleep(0.05)

    def ctl(self, *args, check=True, timeout=20, user=None):
        cmd = [HVCTL, "-S", self.sock] + list(args)
        if user:
            cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def cfg(self, name, k, **extra):
        path = os.path.join(self.tmp, name + ".cfg")
        lines = ['name = "%s"' % name, 'kernel = "%s"' % kernel(k), "memory = 16", "vcpus = 1"]
        lines += ["%s = %s" % (a, b) for a, b in extra.items()]
        open(path, "w").write("\n".join(lines) + "\n")
        return path

    def rows(self, all_=True):
        out = self.ctl("list", "--all").stdout if all_ else self.ctl("list").stdout
        lines = out.splitlines()
        assert lines[0] == " Id Name                 State", out
        assert lines[1] == "-" * 34
        rows = {}
        for l in lines[2:]:
            m = re.match(r"^ *(\d+|-) (\S+) +(running|blocked|paused|crashed|shut off|in shutdown)"
                         r"(?: \((migrating|migrating, post-copy|saving|restoring)\))?$", l)
            assert m, l
            rows[m.group(2)] = (m.group(1), m.group(3))
        return rows

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
        out, err = self.p.communicate(timeout=30)
        return out, err


@pytest.fixture
def daemon():
    tmp = tempfile.mkdtemp()
    os.chmod(tmp, 0o755)
    ds = []

    def start(*args):
        d = Daemon(tmp, *args)
        ds.append(d)
        return d

    yield start
    for d in ds:
        out, err = d.stop()
        assert "ERROR: AddressSanitizer" not in err and "runtime error" not in err, err
    shutil.rmtree(tmp)


def console_roundtrip(d, name, text):
    """Types text on a domain's console (the echo kernel) and returns what came back."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.sock)
    s.sendall(b"console\t%s\t--no-history\n" % name.encode())
    s.settimeout(10)
    assert s.recv(2) == b"c\n"
    s.sendall(text.encode())
    want = "".join("<%02x>" % ord(c) for c in text)
    got = b""
    end = time.time() + 10
    while want.encode() not in got and time.time() < end:
        got += s.recv(4096)
    s.close()
    return got.decode(errors="replace"), want


def test_states_through_the_life_cycle(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    rows = d.rows()
    assert rows["dom0"][0] == "0" and rows["dom0"][1] in ("running", "blocked")
    web = d.cfg("web1", "echo")
    d.ctl("define", web)
    assert d.rows()["web1"] == ("-", "shut off")
    assert "web1" not in d.rows(all_=False)
    assert "Domain web1 started (id 1)" in d.ctl("start", "web1").stdout
    assert d.rows()["web1"][0] == "1" and d.rows()["web1"][1] in ("running", "blocked")
    d.ctl("suspend", "web1")
    assert d.rows()["web1"] == ("1", "paused")
    r = d.ctl("suspend", "web1", check=False)
    assert r.returncode == 1 and "hvctl: web1 is already paused" in r.stderr
    d.ctl("resume", "web1")
    assert d.rows()["web1"][1] in ("running", "blocked")
    r = d.ctl("resume", "web1", check=False)
    assert r.returncode == 1 and "not paused" in r.stderr
    got, want = console_roundtrip(d, "web1", "hi")
    assert want in got
    d.ctl("destroy", "web1")
    assert d.rows()["web1"] == ("-", "shut off")  # still defined
    d.ctl("start", "web1")
    assert d.rows()["web1"][0] == "2"             # ids are not reused
    d.ctl("destroy", "web1")
    d.ctl("undefine", "web1")
    assert "web1" not in d.rows()
    info = d.ctl("dominfo", "dom0").stdout
    assert re.search(r"^State: +(running|blocked)$", info, re.M) and "CPU(s):         1" in info


def test_shutdown_of_a_kernel_without_hvs_vector_presses_the_acpi_button(daemon):
    """As virsh shutdown: a kernel that never registered hvkit's request vector (Linux) gets
    the ACPI power button (the DSDT's GED on GSI 9). The domain is in shutdown once the
    kernel's ACPI takes the press (_EVT writes the GED's acknowledge port: the echo kernel
    does that on '!'), not before; an acknowledgement with no press pending is logged once."""
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    got, want = console_roundtrip(d, "dom0", "!")  # no press pending
    assert want in got
    r = d.ctl("shutdown", "dom0")
    assert r.stdout.strip() == ("Domain dom0 is being shutdown (its ACPI power button was pressed: the kernel "
                                "has no hvkit request vector)"), r.stdout
    assert d.rows()["dom0"][1] in ("running", "blocked")  # the echo kernel has no ACPI
    got, want = console_roundtrip(d, "dom0", "!")        # what its _EVT would do
    assert want in got
    assert d.rows()["dom0"][1] == "in shutdown"
    log = d.ctl("dmesg").stdout
    assert "dom0: vCPU 0: the kernel's ACPI took the power button press (GED _EVT): in shutdown" in log, log
    assert log.count("GED acknowledge (no power button press pending) at port write 0x522") == 1, log
    assert re.search(r"^State: +in shutdown$", d.ctl("dominfo", "dom0").stdout, re.M)


def test_a_crashed_domu_leaves_the_others_running(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    for n in ("a", "b"):
        d.ctl("create", d.cfg(n, "echo"))
    d.ctl("create", d.cfg("bad", "panic", on_crash='"preserve"'))
    time.sleep(0.5)
    rows = d.rows()
    assert rows["bad"][1] == "crashed", rows
    for n in ("dom0", "a", "b"):
        assert rows[n][1] in ("running", "blocked")
        got, want = console_roundtrip(d, n, "ok")
        assert want in got, (n, got)
    assert "bad crashed: Kernel panic - not syncing: test kernel says goodbye" in d.ctl("dmesg").stdout
    d.ctl("destroy", "bad")
    assert "bad" not in d.rows()


def test_json_listing(daemon):
    import json
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    l = json.loads(d.ctl("list", "--json").stdout)
    assert l[0]["id"] == 0 and l[0]["name"] == "dom0" and l[0]["state"] in ("running", "blocked")
    v = json.loads(d.ctl("vcpuinfo", "dom0", "--json").stdout)
    assert v[0]["vcpu"] == 0 and v[0]["online"] is True
    i = json.loads(d.ctl("dominfo", "0", "--json").stdout)
    assert i["vcpus"] == 1 and i["memory_kib"] == 128 * 1024


def test_errors_are_one_line_and_change_nothing(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    for args, msg in [(("dominfo", "nosuch"), "no running domain named 'nosuch'"),
                      (("resume", "dom0"), "dom0 is"),
                      (("start", "ghost"), "no defined domain named 'ghost'"),
                      (("frobnicate",), "unknown command 'frobnicate'"),
                      (("destroy", "dom0"), "add --force")]:
        r = d.ctl(*args, check=False)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and msg in r.stderr, (args, r.stderr)
    bad = os.path.join(d.tmp, "bad.cfg")
    open(bad, "w").write('name = "x"\nmemory = lots\n')
    r = d.ctl("create", bad, check=False)
    assert r.returncode == 1 and "bad.cfg:2" in r.stderr
    r = d.ctl("create", "/nonexistent.cfg", check=False)
    assert r.returncode == 1 and "no such file" in r.stderr
    assert list(d.rows()) == ["dom0"]


def test_dead_hv_is_one_clear_error():
    r = subprocess.run([HVCTL, "-S", "/nonexistent/ctl.sock", "list"], capture_output=True, text=True)
    assert r.returncode == 1
    assert r.stderr.startswith("hvctl: cannot reach hv at /nonexistent/ctl.sock") and r.stderr.count("\n") == 1


def test_other_users_are_refused(daemon):
    if os.geteuid() != 0 or not shutil.which("setpriv"):
        pytest.skip("needs root and setpriv")
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    r = d.ctl("list", check=False, user=65534)  # the socket file is 0600: connect fails
    assert r.returncode == 1 and "Permission denied" in r.stderr
    os.chmod(d.sock, 0o666)                     # even with the file opened up, hv checks the peer
    r = d.ctl("list", check=False, user=65534)
    assert r.returncode == 1 and "permission denied: uid 65534" in r.stderr


def test_properties(daemon):
    d = daemon("-k", kernel("spinner"), "--vcpus", "2")
    d.ctl("setprop", "config/dom0-cpus", "=", "1")
    out = d.ctl("listprop", "config/dom0-*").stdout
    assert re.search(r"config/dom0-cpus +count +0 \(pending: 1\)", out), out
    d.ctl("debug-keys", "r")
    assert "dom0-cpus          = all" in d.ctl("dmesg", "-c").stdout
    assert "refreshed: config/dom0-cpus" in d.ctl("refresh").stdout
    d.ctl("debug-keys", "r")
    assert "dom0-cpus          = 1" in d.ctl("dmesg").stdout
    for args, msg in [(("setprop", "config/dom0-cpus", "=", 'astring: "x"'), "count"),
                      (("setprop", "config/nosuch", "=", "1"), "nosuch"),
                      (("setprop", "config/dom0-cpus", "=", "-3"), "dom0-cpus"),
                      (("setprop", "config/xend-relocation-hosts-allow", "=", "^ok$ ([unclosed"), "regular expression")]:
        r = d.ctl(*args, check=False)
        assert r.returncode == 1 and msg in r.stderr, (args, r.stderr)
    d.ctl("setprop", "config/vncpasswd", "=", 'astring: "hunter2"')
    d.ctl("refresh")
    out = d.ctl("listprop").stdout
    assert "hunter2" not in out and re.search(r"config/vncpasswd +astring", out)
    assert re.search(r"config/dom0-cpus +count +1$", out, re.M)


def guest_console(d, name, line, want, timeout=20):
    """Waits for a built-in guest's prompt (its console history shows it once it has
    booted), types a line, and returns the output up to `want`."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(d.sock)
    s.sendall(b"console\t%s\n" % name.encode())
    s.settimeout(timeout)
    assert s.recv(2) == b"c\n"
    seen, end = b"", time.time() + timeout
    while b"guest> " not in seen and time.time() < end:
        seen += s.recv(4096)
    s.sendall(line.encode() + b"\r")
    got = b""
    end = time.time() + timeout
    while want.encode() not in got and time.time() < end:
        try:
            chunk = s.recv(4096)
        except socket.timeout:
            break
        if not chunk:  # the console ended (the domain went away)
            break
        got += chunk
    s.close()
    return got.decode(errors="replace")


def wait_log(d, text, timeout=60):
    """hv's log (hvctl dmesg) once it holds text."""
    end = time.time() + timeout
    while time.time() < end:
        log = d.ctl("dmesg").stdout
        if text in log:
            return log
        time.sleep(0.1)
    raise AssertionError("no %r in hv's log after %d s:\n%s" % (text, timeout, log))


def wait_state(d, name, states, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        row = d.rows().get(name)
        if row and row[1] in states:
            return row
        time.sleep(0.1)
    return d.rows().get(name)


def test_dom0_and_three_builtin_domus(daemon):
    d = daemon("--vcpus", "1", "--mem", "64M")
    for n in ("u1", "u2", "u3"):
        path = os.path.join(d.tmp, n + ".cfg")
        open(path, "w").write('name = "%s"\nmemory = 32\nvcpus = 2\non_crash = "preserve"\n' % n)
        d.ctl("create", path)
    for n in ("dom0", "u1", "u2", "u3"):
        assert "hello from %s" % n in guest_console(d, n, "echo hello from " + n, "hello from " + n), n
    # an idle guest is blocked (every vCPU halted), a spinning one running
    assert wait_state(d, "u1", ("blocked",))[1] == "blocked"
    guest_console(d, "u1", "spin", "busy-loops")
    assert wait_state(d, "u1", ("running",))[1] == "running"
    # u2 crashes: the others go on
    guest_console(d, "u2", "panic u2 goes down", "not syncing")
    assert wait_state(d, "u2", ("crashed",))[1] == "crashed"
    for n in ("dom0", "u1", "u3"):
        assert "still here" in guest_console(d, n, "echo still here", "still here"), n
    # a clean shutdown goes through "in shutdown" to gone
    assert "Domain u3 is being shutdown" in d.ctl("shutdown", "u3").stdout
    assert d.rows()["u3"][1] == "in shutdown"
    end = time.time() + 20
    while "u3" in d.rows() and time.time() < end:
        time.sleep(0.1)
    assert "u3" not in d.rows()
    assert "u3 shut off" in d.ctl("dmesg").stdout
    d.ctl("destroy", "u2")
    d.ctl("destroy", "u1")
    assert list(d.rows()) == ["dom0"]


def test_hvctl_console_on_a_terminal_and_ctrl_bracket_detaches(daemon):
    import pexpect
    d = daemon("--vcpus", "1", "--mem", "64M")
    c = pexpect.spawn(HVCTL, ["-S", d.sock, "console", "dom0"], encoding="utf-8", timeout=20)
    c.expect("guest> ")          # the console's recent history shows the prompt
    for ch in "echo over the socket\r":
        c.send(ch)
    c.expect("over the socket\r\n")
    c.send("\x1d")               # Ctrl-]
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0
    assert d.rows()["dom0"][1] in ("running", "blocked")  # detaching leaves the domain alone


def test_dom0_mem_property_sizes_dom0_at_start(tmp_path):
    import pexpect
    state = str(tmp_path / "state")
    sock = str(tmp_path / "s")
    d1 = Daemon(str(tmp_path), "--vcpus", "1")
    try:
        d1.ctl("setprop", "config/dom0-mem", "=", "48")
        d1.ctl("refresh")
    finally:
        d1.stop()
    d2 = Daemon(str(tmp_path), "--vcpus", "1")
    try:
        info = d2.ctl("dominfo", "dom0").stdout
        assert "Max memory:     49152 KiB" in info, info
    finally:
        d2.stop()


def test_console_switch_rotates_through_domus(hv, tmp_path):
    sock = str(tmp_path / "s")
    h = hv("--vcpus", "1", "--mem", "32M", "--socket", sock, "--state-dir", str(tmp_path / "st"))
    h.expect("guest> ")
    cfg = tmp_path / "u1.cfg"
    cfg.write_text('name = "u1"\nmemory = 32\n')
    r = subprocess.run([HVCTL, "-S", sock, "create", str(cfg)], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    h.send("\x01\x01\x01")
    h.expect(r"Serial input -> hv \(type 'CTRL-a' three times to switch input to u1\)")
    h.send("\x01\x01\x01")
    h.expect(r"Serial input -> u1 \(type 'CTRL-a' three times to switch input to dom0\)")
    for ch in "echo typed into u1\r":
        h.send(ch)
    h.expect("typed into u1")
    out = subprocess.run([HVCTL, "-S", sock, "dmesg"], capture_output=True, text=True).stdout
    assert "Serial input -> u1" in out
    h.send("\x01\x01\x01")
    h.expect(r"Serial input -> dom0 \(type 'CTRL-a' three times to switch input to hv\)")
    # dom0's end without --daemon: hv says it runs on for u1, and exits after u1
    h.send("poweroff\r")
    h.expect(r"dom0 is gone: hv runs on while 1 domU runs, and exits after the last one")
    r = subprocess.run([HVCTL, "-S", sock, "destroy", "u1"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    assert h.wait_exit() == 0


def test_a_console_ends_with_its_domain(daemon):
    """Issue 16: `hvctl console` stayed attached to a domain that was destroyed or shut off;
    now it ends at once with a line saying why (virsh and xl console do)."""
    d = daemon("--mem", "16M", "--vcpus", "1")
    for how in ("destroy", "poweroff"):
        cfg = os.path.join(d.tmp, "c.cfg")
        open(cfg, "w").write('name = "c"\nmemory = 16\nvcpus = 1\n')
        d.ctl("create", cfg)
        guest_console(d, "c", "echo up", "guest> ")
        p = subprocess.Popen([HVCTL, "-S", d.sock, "console", "c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(0.5)
        if how == "destroy":
            d.ctl("destroy", "c")
            want = b"(hv) c was destroyed (hvctl destroy): console closed"
        else:
            guest_console(d, "c", "poweroff", "guest> ", timeout=5)
            want = b"c shut off: console closed"
        p.wait(timeout=15)  # it ends by itself: its input stays open
        out, err = p.stdout.read(), p.stderr.read()
        p.stdin.close()
        assert p.returncode == 1 and want in out, (out[-300:], err)
        assert b"the console closed" in err
