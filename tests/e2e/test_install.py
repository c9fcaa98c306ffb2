"""End to end, issue 16: what a Debian user expects to find. `make install` with PREFIX
and DESTDIR puts the programs, their man pages, hvctl's bash completion and the systemd
unit (hv --daemon, Type=simple) in place; the completion offers hvctl's commands, each
command's options and the running hv's domains and properties."""
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, kernel
from test_toolstack import HVCTL, daemon  # noqa: F401 (fixture)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
PROGS = ("hv", "hvctl", "hvdump", "hvmdb")


def test_make_install_with_prefix_and_destdir(tmp_path):
    dest = str(tmp_path / "root")
    r = subprocess.run(["make", "-s", "-C", ROOT, "BUILD=" + os.path.abspath(BUILD), "install", "DESTDIR=" + dest,
                        "PREFIX=/usr"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    for p in PROGS:
        assert os.access(os.path.join(dest, "usr/bin", p), os.X_OK), p
        page = os.path.join(dest, "usr/share/man/man1", p + ".1")
        assert open(page).read().startswith(".TH %s 1" % p.upper()), p
        if shutil.which("man"):
            m = subprocess.run(["man", "--warnings", "-l", page], capture_output=True, text=True,
                               env=dict(os.environ, MANWIDTH="80", MANPAGER="cat", PAGER="cat"))
            assert m.returncode == 0 and m.stderr == "" and "SYNOPSIS" in m.stdout, (p, m.stderr)
    unit = open(os.path.join(dest, "usr/lib/systemd/system/hvkit.service")).read()
    assert "Type=simple" in unit and "ExecStart=/usr/bin/hv --daemon" in unit and "@BINDIR@" not in unit
    assert "ExecStop=/usr/bin/hvctl -S /run/hvkit/ctl.sock shutdown-hv --force" in unit
    for c in ("hvctl", "hvmdb"):
        assert os.path.exists(os.path.join(dest, "usr/share/bash-completion/completions", c))
    r = subprocess.run(["make", "-s", "-C", ROOT, "BUILD=" + os.path.abspath(BUILD), "uninstall", "DESTDIR=" + dest,
                        "PREFIX=/usr"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not os.path.exists(os.path.join(dest, "usr/bin/hv")), r.stderr


def complete(words, env=None):
    """What the completion of words[0] offers for the last of words (bash, as at a TAB)."""
    script = ("source %s/dist/%s.bash; COMP_WORDS=(%s); COMP_CWORD=%d; _%s; printf '%%s\\n' \"${COMPREPLY[@]}\""
              % (ROOT, words[0], " ".join("'%s'" % w for w in words), len(words) - 1, words[0]))
    env = dict(os.environ, PATH=os.path.abspath(BUILD) + ":" + os.environ["PATH"], **(env or {}))
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env, timeout=30)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.split("\n") if w]


def test_bash_completion_of_commands_options_domains_and_properties(daemon):
    verbs = complete(["hvctl", ""])
    for v in ("list", "dominfo", "vcpuinfo", "resume", "checkpoint-delete", "dump", "shutdown-hv", "listprop"):
        assert v in verbs, (v, verbs)
    assert complete(["hvctl", "li"]) == ["list", "listprop"]
    assert complete(["hvctl", "list", "--"]) == ["--all", "--json"]
    assert set(complete(["hvctl", "dump", "dom0", "x", "--"])) == {"--format", "--live", "--crash", "--reset"}
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    d.ctl("define", d.cfg("web1", "echo"))
    assert complete(["hvctl", "-S", d.sock, "dominfo", ""]) == ["dom0"]
    assert complete(["hvctl", "-S", d.sock, "start", "w"]) == ["web1"]
    assert "config/dom0-cpus" in complete(["hvctl", "-S", d.sock, "setprop", "config/dom0-"])
    # hvmdb: its options, and -d's domains from the running hv
    assert complete(["hvmdb", "--no"]) == ["--no-pause"]
    assert complete(["hvmdb", "-S", d.sock, "-d", ""]) == ["dom0"]
    # every command the completion (hvctl --help) offers is one hv knows, with its options
    for v in verbs:
        if v.startswith("-") or v == "help":
            continue
        r = d.ctl(v, "--zzzz", check=False)
        assert r.returncode == 1 and "%s: unknown option '--zzzz'" % v in r.stderr, (v, r.stderr)
