"""End to end, issue 16: hvmdb's habits. `ADDR::sym` and crash's `sym ADDR` name a return
address one past a function's end (func+size, the first address a user pastes from a
trace) as `$c` does: one symbol lookup for all; the prompt's history is kept across
sessions in ~/.hvmdb_history (HVMDB_HISTFILE names another file), as gdb and mdb keep
theirs."""
import json
import os
import re
import subprocess

import pexpect

from conftest import GUEST, ASAN_ENV, HVMDB
from test_hvmdb import mdb, hung_dump  # noqa: F401 (fixture)
from test_toolstack import daemon  # noqa: F401 (fixture)


def symbol(name):
    for l in subprocess.run(["readelf", "-sW", GUEST], capture_output=True, text=True).stdout.splitlines():
        f = l.split()
        if len(f) >= 8 and f[7] == name:
            return int(f[1], 16), int(f[2])
    raise AssertionError(name)


def test_sym_names_a_return_address_one_past_the_end(hung_dump):
    addr, size = symbol("shell_main")
    end = addr + size  # no symbol starts there: it is padding before the next function
    r = mdb(hung_dump, "%#x::sym; sym %#x; %#x::sym" % (end, end, end - 1))
    assert r.returncode == 0, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    want = "%#x is shell_main+%#x (code, size %#x; one past its end: the return address of a call that ends it)" % (
        end, size, size)
    assert lines[0] == want and lines[1] == want, r.stdout
    assert lines[2] == "%#x is shell_main+%#x (code, size %#x)" % (end - 1, size - 1, size), r.stdout
    # every return address $c shows: ::sym names it as $c does
    r = subprocess.run([HVMDB, "--json", "-s", GUEST, hung_dump, "-c", "$c"], capture_output=True, text=True,
                       env=ASAN_ENV, timeout=60)
    frames = [(int(f["pc"], 16), "%s+%#x" % (f["function"], f["offset"])) for f in json.loads(r.stdout)
              if f.get("function") and f.get("offset") is not None]
    assert len(frames) > 2, r.stdout
    r = mdb(hung_dump, "; ".join("%#x::sym" % a for a, _ in frames))
    for (a, name), line in zip(frames, r.stdout.splitlines()):
        assert line.startswith("%#x is %s " % (a, name)), (name, line)


def session(core, histfile, keys):
    p = pexpect.spawn(HVMDB, ["-s", GUEST, core], encoding="utf-8", timeout=30,
                      env=dict(ASAN_ENV, HVMDB_HISTFILE=histfile))
    p.expect("> ")
    out = ""
    for k in keys:
        p.send(k)
        if k.endswith("\r"):
            p.expect("> ")
            out += p.before
    p.send("::quit\r")
    p.expect(pexpect.EOF)
    p.close()
    assert p.exitstatus == 0
    return out


def test_history_is_kept_across_sessions(hung_dump, tmp_path):
    hist = str(tmp_path / "hist")
    session(hung_dump, hist, ["ncpus/X\r", "::status\r", "::status\r"])
    lines = open(hist).read().split("\n")
    assert lines[:3] == ["ncpus/X", "::status", "::quit"], lines  # a repeated line once
    assert os.stat(hist).st_mode & 0o777 == 0o600
    # the next session: Up Up brings back ncpus/X, as in gdb
    out = session(hung_dump, hist, ["\x1b[A\x1b[A\x1b[A", "\r"])
    assert "00000002" in out, out
    # HVMDB_HISTFILE="" keeps none; HOME's ~/.hvmdb_history by default
    home = tmp_path / "home"
    home.mkdir()
    p = pexpect.spawn(HVMDB, ["-s", GUEST, hung_dump], encoding="utf-8", timeout=30,
                      env=dict({k: v for k, v in ASAN_ENV.items() if k != "HVMDB_HISTFILE"}, HOME=str(home)))
    p.expect("> ")
    p.send("::cpus\r")
    p.expect("> ")
    p.send("::quit\r")
    p.expect(pexpect.EOF)
    assert "::cpus" in open(home / ".hvmdb_history").read()


def other_build(tmp_path):
    """A copy of the guest whose build-id note differs in its last byte (same layout)."""
    bid = subprocess.run(["readelf", "-n", GUEST], capture_output=True, text=True).stdout
    want = re.search(r"Build ID: ([0-9a-f]+)", bid).group(1)
    data = bytearray(open(GUEST, "rb").read())
    at = data.find(bytes.fromhex(want))
    assert at > 0 and data.find(bytes.fromhex(want), at + 1) < 0
    data[at + len(want) // 2 - 1] ^= 0xff
    other = tmp_path / "other.elf"
    other.write_bytes(bytes(data))
    return want, bytes(data[at:at + len(want) // 2]).hex(), str(other)


def test_live_wrong_symbol_file_is_refused_with_both_build_ids(daemon, tmp_path):
    """-s OTHER.elf on a live domain: the running kernel's build-id note is read from guest
    memory and compared, as a dump's is; the right file is taken; no -s says so once."""
    running, other_id, other = other_build(tmp_path)
    d = daemon("--vcpus", "1", "--mem", "32M")
    env = dict(ASAN_ENV, HVKIT_SOCKET=d.sock)
    r = subprocess.run([HVMDB, "-s", other, "-d", "dom0", "-c", "$c"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "does not match the running kernel" in r.stderr and running in r.stderr and other_id in r.stderr, r.stderr
    assert r.stdout == "", r.stdout
    r = subprocess.run([HVMDB, "-s", GUEST, "-d", "dom0", "-c", "$c"], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0 and "does not match" not in r.stderr, r.stderr
    assert re.search(r"\b(shell_main|idle|halt|cpu_idle)\w*\+0x", r.stdout), r.stdout
    r = subprocess.run([HVMDB, "-d", "dom0", "-c", "$c"], capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0 and r.stderr.count("no symbols loaded") == 1, r.stderr
    assert "+0x" not in r.stdout, r.stdout


def test_mdb_and_crash_spellings(hung_dump):
    """The spellings an mdb or crash user types first: EXPR=FMT, /D, *sym, ::stacks and
    foreach bt (every thread's stack), and the ways out ($q, ::quit, q, exit) that end -c."""
    ncpus, _ = symbol("ncpus")
    r = mdb(hung_dump, "0t10=X; 0t255=D; 0x10=O; 0t65=c; 0x41=U")
    assert r.returncode == 0 and r.stdout.split("\n")[:5] == ["a", "255", "20", "A", "65"], r.stdout + r.stderr
    r = mdb(hung_dump, "ncpus/D; ncpus/X; *ncpus=D")  # the guest's two CPUs, read three ways
    assert r.returncode == 0 and r.stdout == "%#x: 2\n%#x: 00000002\n2\n" % (ncpus, ncpus), r.stdout + r.stderr
    r = mdb(hung_dump, "0t10=Z")
    assert r.returncode != 0 and "FMT is X, D, U, O or c" in r.stdout, r.stdout
    stacks = mdb(hung_dump, "::stacks").stdout
    assert re.search(r"\bshell\n(.*\n)*?hang_forever\(\)", stacks) and "cmd_hang+" in stacks, stacks
    assert mdb(hung_dump, "foreach bt").stdout == stacks == mdb(hung_dump, "::findstack").stdout
    assert "only 'foreach bt'" in mdb(hung_dump, "foreach ps").stdout
    for quit in ("$q", "::quit", "q", "exit", "quit"):
        r = mdb(hung_dump, "ncpus/X; %s; ::cpus" % quit)
        assert r.returncode == 0 and r.stdout == "%#x: 00000002\n" % ncpus, (quit, r.stdout, r.stderr)
    r = subprocess.run([HVMDB, "-s", GUEST, hung_dump], input="ncpus/X\nq\n::cpus\n", capture_output=True,
                       text=True, env=ASAN_ENV, timeout=60)
    assert r.returncode == 0 and r.stdout == "%#x: 00000002\n" % ncpus, r.stdout + r.stderr


def test_tab_completes_print_members_and_walkers(hung_dump):
    """TAB after `ADDR::print struct thread ` offers its members, `::walk ` the walkers."""
    thread = mdb(hung_dump, "::walk thread").stdout.split()[0]
    c = pexpect.spawn(HVMDB, ["-s", GUEST, hung_dump], encoding="utf-8", timeout=30, env=ASAN_ENV,
                      dimensions=(40, 200))
    c.expect("> ")
    c.send("%s::print struct thread \t\t" % thread)
    c.expect(r"\btid\b")
    listed = c.before + c.after
    c.expect("> ")
    for m in ("name", "state", "cpu", "stack_size"):
        assert re.search(r"\b%s\b" % m, listed), listed
    assert "hang_forever" not in listed and "shell_main" not in listed, listed  # members, not symbols
    c.send("\x03")
    c.expect("> ")
    c.send("%s::print struct thread na\t" % thread)
    c.expect_exact("name ")
    c.send("\r")
    c.expect(r'name = "\w+"')
    c.expect("> ")
    c.send("::walk th\t")
    c.expect_exact("::walk thread ")
    c.send("\r")
    c.expect(thread)
    c.expect("> ")
    c.sendline("::quit")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 0, c.before


def test_guest_bt_all_cpus_and_threads(hung_dump):
    """On our guest, bt -a and bt TID... work as on Linux: every CPU's stack, each thread's
    (from the context its switch saved) under a header naming it; a TID not there is said."""
    r = mdb(hung_dump, "bt -a")
    assert r.returncode == 0, r.stdout + r.stderr
    cpu0, cpu1 = r.stdout.split("CPU 1:\n")
    assert cpu0.startswith("CPU 0:\nhang_forever()") and "shell_main+" in cpu0, r.stdout
    assert "cpu_idle_loop+" in cpu1 and "ap_main+" in cpu1, r.stdout
    assert cpu0[len("CPU 0:\n"):] == mdb(hung_dump, "$c").stdout  # CPU 0 is the current one
    ps = {int(l.split()[1]): l.split() for l in mdb(hung_dump, "ps").stdout.splitlines()[1:]}
    shutdown = [tid for tid, row in ps.items() if row[-1] == "kshutdown"][0]
    r = mdb(hung_dump, "bt %d 5 99" % shutdown)
    assert r.returncode == 1 and "mdb: bt: no thread with TID 99 (ps lists them)" in r.stdout, r.stdout
    heads = re.findall(r"^TID: (\d+) +THREAD: ([0-9a-f]{16})  CPU: (\d+) +STATE: (\w+) +NAME: (\S+)$", r.stdout, re.M)
    assert [(int(h[0]), h[1], h[4]) for h in heads] == [(shutdown, ps[shutdown][0], "kshutdown"), (5, ps[5][0], "shell")]
    blocked = r.stdout.split("NAME: kshutdown\n")[1]
    assert blocked.startswith("schedule+") and "shutdown_thread+" in blocked.split("TID: 5")[0], r.stdout
    assert "mdb: bt [-a] [TID...]: not 'x'" in mdb(hung_dump, "bt x").stdout


def test_crash_p_and_whatis(hung_dump):
    """crash's `p NAME` prints a global variable's value by its DWARF type, `whatis NAME` its
    type; an expression or an unknown name is one error line."""
    r = mdb(hung_dump, "p ncpus; whatis ncpus; whatis thread_list; p thread_list")
    assert r.returncode == 0, r.stdout + r.stderr
    first = mdb(hung_dump, "::walk thread").stdout.split()[0]
    assert r.stdout.splitlines() == ["ncpus = 2", "int ncpus;", "struct thread * thread_list;",
                                     "thread_list = 0x%s" % first.lstrip("0")], r.stdout
    r = mdb(hung_dump, "p nosuch; p ncpus+1")
    assert r.returncode != 0 and r.stdout.splitlines() == [
        "mdb: p: no symbol nosuch", "mdb: p NAME: a global variable's name (expressions are not read)"], r.stdout
