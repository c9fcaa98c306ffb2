"""End to end, issue 16: hvmdb's habits. `ADDR::sym` and crash's `sym ADDR` name a return
address one past a function's end (func+size, the first address a user pastes from a
trace) as `$c` does: one symbol lookup for all; the prompt's history is kept across
sessions in ~/.hvmdb_history (HVMDB_HISTFILE names another file), as gdb and mdb keep
theirs."""
import calendar
import json
import os
import re
import subprocess
import time

import pexpect

from conftest import GUEST, ASAN_ENV, HVMDB
from test_hvmdb import mdb, hung_dump  # noqa: F401 (fixture)
from test_toolstack import daemon, guest_console  # noqa: F401 (fixture)


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
    guest_console(d, "dom0", "uptime", " CPUs, ")  # booted (under load $c could catch kmain still starting)
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
    assert stacks == mdb(hung_dump, "::findstack").stdout
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
    """crash's `p EXPR` prints an expression's value as crash does ($N, decimal, pointers
    with their type and symbol), `whatis` a variable's, function's or type's declaration;
    each value checked against what other commands read."""
    first = mdb(hung_dump, "::walk thread").stdout.split()[0]
    ps = {int(l.split()[1]): l.split() for l in mdb(hung_dump, "ps").stdout.splitlines()[1:]}
    cpus, _ = symbol("cpus")
    r = mdb(hung_dump, "p ncpus; whatis ncpus; whatis thread_list; p thread_list; p thread_list->tid; "
                       "p thread_list->name; p &cpus[1]; p cpus[1].current->name; p sizeof(struct thread); "
                       "p/x ncpus + 14; px ncpus; p -d ncpus; p cpus[0].online; p thread_list->entry; p *&ncpus; "
                       "whatis kmain; p (struct thread *)0x%s; p ((struct thread *)0x%s)->tid" % (first, first))
    assert r.returncode == 0, r.stdout + r.stderr
    tid = [t for t, row in ps.items() if row[0] == first][0]  # the first thread's
    on1 = [row[-1] for row in ps.values() if row[2] == "RUN" and row[3] == "1"][0]  # running on CPU 1
    want = ["ncpus = $1 = 2", "int ncpus;", "struct thread *thread_list;",
            "thread_list = $2 = (struct thread *) 0x%s" % first.lstrip("0"),
            "$3 = %d" % tid,
            '$4 = "%s%s"' % (ps[tid][-1], "\\000" * (15 - len(ps[tid][-1]))),
            "$5 = (struct cpu *) %#x <cpus+88>" % (cpus + 88),
            '$6 = "%s%s"' % (on1, "\\000" * (15 - len(on1))),
            "$7 = %d" % int(re.search(r"\((\d+)\)", mdb(hung_dump, "::sizeof struct thread").stdout).group(1)),
            "$8 = 0x10", "ncpus = $9 = 0x2", "ncpus = $10 = 2", "$11 = true"]
    lines = r.stdout.splitlines()
    assert lines[:len(want)] == want, r.stdout
    m = re.match(r"^\$12 = \(void \(\*\)\(void \*\)\) (0x[0-9a-f]+) <(\w+)>$", lines[len(want)])
    assert m and int(m.group(1), 16) == symbol(m.group(2))[0], lines[len(want)]  # the entry function
    assert lines[len(want) + 1:] == ["$13 = 2", "void kmain(uint32_t);", "$14 = (struct thread *) 0x%s" % first.lstrip("0"),
                                     "$15 = %d" % tid], r.stdout
    r = mdb(hung_dump, "p nosuch; p ncpus +; p thread_list->nosuch; p ncpus.x; p *ncpus; whatis nosuch")
    assert r.returncode != 0 and r.stdout.splitlines() == [
        "mdb: p: no symbol nosuch", "mdb: p: an expression expected",
        "mdb: p: struct thread has no member named nosuch",
        "mdb: p: there is no member named x: not a struct or union", "mdb: p: not a pointer or an array",
        "mdb: whatis: no type or symbol 'nosuch' in the symbol file's DWARF"], r.stdout


def test_whatis_types_and_print_t(hung_dump):
    """whatis of a struct as crash shows it (-o: each member's offset, as ::offsetof says),
    a typedef, an enum; mdb's ::print -t: each member with its type, and with a member path."""
    r = mdb(hung_dump, "whatis -o struct thread")
    assert r.returncode == 0, r.stdout
    lines = r.stdout.splitlines()
    assert lines[0] == "struct thread {" and lines[-2] == "}", lines
    size = int(re.search(r"\((\d+)\)", mdb(hung_dump, "::sizeof struct thread").stdout).group(1))
    assert lines[-1] == "SIZE: %d" % size
    members = [re.match(r"^ +\[(\d+)\] (.+);$", l) for l in lines[1:-2]]
    assert all(members) and len(members) > 8, lines
    decl = {}
    for m in members:  # each offset as ::offsetof reads it
        name = (re.search(r"\(\*(\w+)\)", m.group(2)) or re.search(r"(\w+)(\[\d+\])?$", m.group(2))).group(1)
        decl[name] = m.group(2)
        off = mdb(hung_dump, "::offsetof struct thread %s" % name).stdout
        assert off.strip().endswith("= %#x" % int(m.group(1))), (m.group(0), off)
    assert decl["tid"] == "int tid" and decl["next"] == "struct thread *next" and decl["name"] == "char name[16]", decl
    assert decl["entry"] == "void (*entry)(void *)", decl  # a function pointer as C writes it
    plain = mdb(hung_dump, "whatis struct thread").stdout.splitlines()
    assert plain[1] == "    int tid;" and plain[-1] == "SIZE: %d" % size
    r = mdb(hung_dump, "whatis uint64_t; whatis enum thread_state; whatis spinlock_t")
    out = r.stdout
    assert out.startswith("typedef unsigned long uint64_t;\nSIZE: 8\nenum thread_state {\n  THREAD_RUNNING = 0\n"), out
    assert "typedef struct {\n    volatile uint32_t locked;\n" in out and "} spinlock_t;\nSIZE: " in out
    # ::print -t
    cur = mdb(hung_dump, "p cpus[0].current").stdout.split(") ")[1].split()[0]
    r = mdb(hung_dump, "cpus::print -t struct cpu; cpus::print -t struct cpu current id online")
    assert r.returncode == 0, r.stdout
    out = r.stdout.splitlines()
    assert out[0] == "struct cpu at %#x = {" % symbol("cpus")[0] and "    int id = 0" in out, out
    assert "    struct thread *current = %s" % cur in out and "    _Bool online = true" in out, out
    assert any(l.startswith("    uint64_t ticks = 0x") for l in out), out
    assert out[-3:] == ["struct thread *current = %s" % cur, "int id = 0", "_Bool online = true"], out
    assert "unknown option '-z'" in mdb(hung_dump, "cpus::print -z struct cpu").stdout


def test_foreach_verbs_on_our_guest(hung_dump):
    """crash's foreach on our guest: ps rows, bt stacks (as bt TID), task (the struct thread,
    as crash's p prints it), for every thread or those the selectors pick."""
    ps = mdb(hung_dump, "ps").stdout
    assert mdb(hung_dump, "foreach ps").stdout == ps
    rows = {int(l.split()[1]): l for l in ps.splitlines()[1:]}
    shell = [t for t, l in rows.items() if l.endswith(" shell")][0]
    r = mdb(hung_dump, "foreach %d kshutdown ps" % shell)
    kshutdown = [t for t, l in rows.items() if l.endswith(" kshutdown")][0]
    assert r.stdout.splitlines()[1:] == [rows[t] for t in sorted(rows, key=list(rows).index) if t in (shell, kshutdown)]
    running = mdb(hung_dump, "foreach RUN ps").stdout.splitlines()[1:]
    assert running and all(" RUN " in l for l in running) and len(running) == ps.count(" RUN ")
    assert mdb(hung_dump, "foreach active ps").stdout.splitlines()[1:] == running
    assert mdb(hung_dump, "foreach %d bt" % kshutdown).stdout == mdb(hung_dump, "bt %d" % kshutdown).stdout
    r = mdb(hung_dump, "foreach shell task")
    assert r.returncode == 0 and r.stdout.splitlines()[1] == "struct thread {", r.stdout
    assert "  tid = %d,\n  name = \"shell" % shell in r.stdout
    r = mdb(hung_dump, "foreach files; foreach \\ps ps; foreach nobody ps; foreach bt -l")  # \\ps: the name ps
    assert r.returncode == 1 and r.stdout.splitlines() == [
        "mdb: foreach: crash's 'files' is not here: the verbs are bt, ps and task",
        "mdb: foreach: no thread is one of those asked for (ps lists them)",
        "mdb: foreach: no thread is one of those asked for (ps lists them)",
        "mdb: foreach bt: no flags on our guest, not '-l'"], r.stdout


def test_sys_on_our_guest(hung_dump):
    """sys on our guest, in crash's layout, each value read another way."""
    r = mdb(hung_dump, "sys; sys --json")
    assert r.returncode == 0, r.stdout + r.stderr
    text, js = r.stdout.split("{", 1)
    f = dict(re.findall(r"^ *([A-Z]+): (.*)$", text, re.M))
    j = json.loads("{" + js)
    assert f["KERNEL"] == GUEST and f["DUMPFILE"] == hung_dump and f["CPUS"] == "2", f
    assert f["TASKS"] == str(len(mdb(hung_dump, "::walk thread").stdout.split())) == str(j["tasks"])
    jiffies = int(mdb(hung_dump, "jiffies/J").stdout.split()[-1], 16)
    assert f["UPTIME"] == "%02d:%02d:%02d" % (jiffies // 100 // 3600, jiffies // 100 // 60 % 60, jiffies // 100 % 60)
    ram = int(mdb(hung_dump, "total_ram/J").stdout.split()[-1], 16)
    assert j["memory_bytes"] == ram and f["MEMORY"] in ("%d MB" % (ram >> 20), "%.1f MB" % (ram / 1048576))
    assert abs(j["date"] - os.stat(hung_dump).st_mtime) < 120  # the dump's instant
    assert f["DATE"] == time.strftime("%a %b %e %H:%M:%S UTC %Y", time.gmtime(j["date"]))
    banner = re.search(r"hvkit guest kernel (.*) booting", mdb(hung_dump, "log").stdout).group(1)
    assert f["VERSION"] == banner == j["version"] and f["RELEASE"] == "hvkit-guest" and f["MACHINE"] == "x86_64"
    assert f["DOMAIN"] == "0 (dom0)" and f["PANIC"] == '""' and j["panic_cpu"] == -1


def test_sys_on_a_live_guest(daemon):
    """sys on a live domain of our guest: no DUMPFILE, DATE now, the threads counted."""
    d = daemon("--vcpus", "2", "--mem", "32M")
    guest_console(d, "dom0", "uptime", " CPUs, ")  # booted: its shell answers
    env = dict(ASAN_ENV, HVKIT_SOCKET=d.sock)
    r = subprocess.run([HVMDB, "-s", GUEST, "-d", "dom0", "-c", "sys; ::walk thread"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    f = dict(re.findall(r"^ *([A-Z]+): (.*)$", r.stdout, re.M))
    assert "DUMPFILE" not in f and f["KERNEL"] == GUEST and f["CPUS"] == "2", r.stdout
    when = calendar.timegm(time.strptime(f["DATE"], "%a %b %d %H:%M:%S UTC %Y"))
    assert abs(when - time.time()) < 120, f["DATE"]
    threads = re.findall(r"^[0-9a-f]{16}$", r.stdout, re.M)
    assert f["TASKS"] == str(len(threads)) and len(threads) >= 4, r.stdout
    assert re.match(r"\d+(\.\d)? MB$", f["MEMORY"]) and f["VERSION"].startswith("0."), f
