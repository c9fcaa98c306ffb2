"""End to end, issue 16: hvctl as a virsh/xl user expects it. Every verb's options and
words come from one table in hv, so a mistake is refused with one line naming the
program, the word and the verb's usage (and the closest verb for a typo); dominfo and
vcpuinfo print one record as text or JSON; dom0's end in --daemon mode and
`hvctl shutdown-hv`."""
import json
import os
import re
import subprocess
import time

from conftest import kernel
from test_toolstack import HVCTL, daemon, wait_state  # noqa: F401 (fixture)


def test_unknown_options_and_extra_words_are_refused(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    for args, want in [
            (("list", "-a"), "hvctl: list: unknown option '-a' (usage: list [--all] [--json])"),
            (("list", "--al"), "hvctl: list: unknown option '--al'; did you mean '--all'? (usage: list [--all] [--json])"),
            (("list", "--bogus"), "hvctl: list: unknown option '--bogus' (usage: list [--all] [--json])"),
            (("dominfo", "dom0", "--jsn"), "hvctl: dominfo: unknown option '--jsn'; did you mean '--json'? "
                                           "(usage: dominfo NAME [--json])"),
            (("shutdown", "web2", "now"), "hvctl: shutdown: unexpected argument 'now' (usage: shutdown NAME)"),
            (("dmesg", "-x"), "hvctl: dmesg: unknown option '-x' (usage: dmesg [-c])"),
            (("lsit",), "hvctl: unknown command 'lsit': did you mean 'list'? (hvctl --help lists the commands)"),
            (("vcpuinfo", "dom0", "extra"), "hvctl: vcpuinfo: unexpected argument 'extra'"),
            (("dump", "dom0", "/tmp/x.core", "--crash", "--reset"),
             "hvctl: dump: --live, --crash and --reset say what happens to dom0 after the dump: give one"),
            (("gdbserver", "dom0", "--port"), "hvctl: gdbserver: --port needs a value"),
            (("save", "dom0", "/tmp/x", "--kep"), "did you mean '--keep'?"),
            (("migrate", "dom0", "h", "--lve"), "did you mean '--live'?"),
            (("setprop", "config/dom0-cpus", "=", "a", "b"), "hvctl: setprop: one value after '='"),
    ]:
        r = d.ctl(*args, check=False)
        assert r.returncode == 1 and r.stderr.count("\n") == 1 and want in r.stderr, (args, r.stderr)
        assert r.stdout == "", (args, r.stdout)
    assert not os.path.exists("/tmp/x.core")
    # nothing changed, and the right spellings still work
    assert list(d.rows()) == ["dom0"]
    assert d.ctl("list", "--all", "--json").stdout.startswith("[")
    d.ctl("dmesg", "-c")


def test_a_typo_is_named_without_hv(tmp_path):
    """hv answers for its verbs; with no hv to ask, hvctl still calls a typo a typo (from
    the commands its --help lists) instead of saying that hv cannot be reached."""
    sock = str(tmp_path / "none.sock")
    r = subprocess.run([HVCTL, "-S", sock, "lsit"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 1 and r.stderr == ("hvctl: unknown command 'lsit': did you mean 'list'? "
                                              "(hvctl --help lists the commands)\n"), r.stderr
    r = subprocess.run([HVCTL, "-S", sock, "checkpoint-lst", "x"], capture_output=True, text=True, timeout=20)
    assert "did you mean 'checkpoint-list'?" in r.stderr, r.stderr
    for verb in ("list", "dump-core", "vcpu-list", "shutdown-hv", "migrate-cancel"):
        r = subprocess.run([HVCTL, "-S", sock, verb], capture_output=True, text=True, timeout=20)
        assert r.returncode == 1 and r.stderr.startswith("hvctl: cannot reach hv at %s" % sock), (verb, r.stderr)


def test_listprop_json_and_svccfg_setprop(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    # svccfg's spelling: the type a word of its own after '='
    d.ctl("setprop", "config/dom0-cpus", "=", "count:", "1")
    d.ctl("setprop", "config/dump-format", "=", "astring:", "elf")
    r = d.ctl("setprop", "config/dom0-cpus", "=", "astring:", "x", check=False)
    assert r.returncode == 1 and "config/dom0-cpus is of type count, not astring" in r.stderr, r.stderr
    props = {p["name"]: p for p in json.loads(d.ctl("listprop", "--json").stdout)}
    assert props["config/dom0-cpus"]["type"] == "count"
    assert props["config/dom0-cpus"]["value"] == "0" and props["config/dom0-cpus"]["pending"] == "1"
    assert props["config/dump-format"]["pending"] == "elf"
    assert props["config/vncpasswd"]["secret"] is True
    d.ctl("refresh")
    props = json.loads(d.ctl("listprop", "config/dom0-*", "--json").stdout)
    assert [p["name"] for p in props] == ["config/dom0-cpus", "config/dom0-mem"]
    assert props[0]["value"] == "1" and props[0]["pending"] is None


def test_help_lists_every_verb():
    out = subprocess.run([HVCTL, "--help"], capture_output=True, text=True).stdout
    for verb in ("list", "dominfo", "vcpuinfo", "define", "undefine", "create", "start", "shutdown", "reboot",
                 "destroy NAME [--force]", "suspend", "resume", "console", "dump", "kdump]", "dump-cancel",
                 "gdbserver", "gdb NAME", "save", "restore", "checkpoint", "checkpoint-list", "checkpoint-delete",
                 "rollback", "migrate", "migrate-cancel", "debug-keys", "dmesg", "setprop", "listprop [PATTERN] [--json]",
                 "delprop", "refresh", "shutdown-hv", "pause", "unpause", "dump-core", "vcpu-list"):
        assert verb in out, verb
    r = subprocess.run([HVCTL, "help", "dump"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("  dump NAME FILE") and "dump-cancel" not in r.stdout
    r = subprocess.run([HVCTL, "list", "--help"], capture_output=True, text=True)  # as virsh list --help
    assert r.returncode == 0 and r.stdout.startswith("  list [--all] [--json]"), r.stdout
    r = subprocess.run([HVCTL, "help", "nosuch"], capture_output=True, text=True)
    assert r.returncode == 1 and "hvctl: no command 'nosuch'" in r.stderr


def text_fields(out):
    return dict(re.match(r"^([^:]+): +(.*)$", l).groups() for l in out.splitlines() if l.strip())


def test_dominfo_and_vcpuinfo_text_and_json_are_one_record(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    cfg = d.cfg("bad", "panic", on_crash='"preserve"')
    d.ctl("create", cfg)
    assert wait_state(d, "bad", ("crashed",))[1] == "crashed"
    # the crashed domain's vCPU: the same state in both forms
    text = text_fields(d.ctl("vcpuinfo", "bad").stdout)
    js = json.loads(d.ctl("vcpuinfo", "bad", "--json").stdout)[0]
    assert text["State"] == "crashed" and js["state"] == "crashed", (text, js)
    assert int(text["CPU"]) == js["cpu"] and text["CPU time"] == "%.3fs" % js["cpu_time_s"]
    # every field of dominfo's text is in its JSON
    keys = {"Id": "id", "Name": "name", "OS Type": "os_type", "State": "state", "CPU(s)": "vcpus",
            "Max memory": "memory_kib", "Used memory": "used_memory_kib", "Uptime": "uptime_s",
            "Kernel": "kernel", "Scheduler": "scheduler", "On poweroff/reboot/crash": "on",
            "Persistent": "persistent", "Last event": "last_event", "Paused by": "paused_by",
            "Checkpoints": "checkpoints", "Migrated from": "migrated_from", "Job": "job"}
    text = text_fields(d.ctl("dominfo", "bad").stdout)
    js = json.loads(d.ctl("dominfo", "bad", "--json").stdout)
    for label in text:
        assert keys[label] in js, (label, js)
    assert js["state"] == text["State"] == "crashed"
    assert js["last_event"] == text["Last event"] == "Kernel panic - not syncing: test kernel says goodbye"
    assert js["on"] == {"poweroff": "destroy", "reboot": "restart", "crash": "preserve"}
    assert text["On poweroff/reboot/crash"] == "destroy/restart/preserve"
    assert js["memory_kib"] == 16384 and text["Max memory"] == "16384 KiB"
    assert js["persistent"] is False and text["Persistent"] == "no"
    # a suspended domain: paused in both, and why
    d.ctl("suspend", "dom0")
    text = text_fields(d.ctl("dominfo", "dom0").stdout)
    js = json.loads(d.ctl("dominfo", "dom0", "--json").stdout)
    assert text["State"] == js["state"] == "paused" and js["paused_by"] == "suspend"
    assert text["Paused by"].startswith("hvctl suspend")
    assert json.loads(d.ctl("vcpuinfo", "dom0", "--json").stdout)[0]["state"] == "paused"
    assert text_fields(d.ctl("vcpuinfo", "dom0").stdout)["State"] == "paused"


def test_dom0_end_in_daemon_mode_and_shutdown_hv(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    d.ctl("create", d.cfg("web1", "echo"))
    r = d.ctl("destroy", "dom0", "--force")
    assert "Domain dom0 destroyed" in r.stdout
    assert "hv (--daemon) goes on serving the domUs and the control socket; hvctl shutdown-hv stops it" in r.stdout
    assert "dom0 is gone: hv (--daemon) goes on serving the domUs" in d.ctl("dmesg").stdout
    assert list(d.rows()) == ["web1"]
    # a domU left: shutdown-hv wants --force, and says why
    r = d.ctl("shutdown-hv", check=False)
    assert r.returncode == 1 and "domUs are left (web1)" in r.stderr and "--force" in r.stderr, r.stderr
    assert d.p.poll() is None
    r = d.ctl("shutdown-hv", "--force")
    assert "hv is shutting down" in r.stdout
    assert d.p.wait(timeout=20) == 0
    out, err = d.p.communicate(timeout=10)
    assert "hvctl shutdown-hv: destroying every domain (--force); hv exits" in out + err


def test_shutdown_hv_with_only_dom0(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    assert "hv is shutting down" in d.ctl("shutdown-hv").stdout
    assert d.p.wait(timeout=20) == 0
    assert not os.path.exists(d.sock)


def test_xl_names_mean_the_same(daemon):
    d = daemon("-k", kernel("echo"), "--vcpus", "1")
    assert "Domain dom0 suspended" in d.ctl("pause", "dom0").stdout
    assert d.rows()["dom0"][1] == "paused"
    assert "Domain dom0 resumed" in d.ctl("unpause", "dom0").stdout
    core = os.path.join(d.tmp, "x.core")
    assert "Domain dom0 dumped to %s (elf)" % core in d.ctl("dump-core", "dom0", core).stdout
    # the same rows, asked of the paused domain (running, its vCPU's state, CPU, CPU time,
    # credit and UNDER/OVER priority move between the two calls; the scheduler's credit
    # refill goes on while it is paused)
    def steady(out):
        rows = json.loads(out)
        for row in rows:
            assert "cpu_time_s" in row and "credit" in row and row["priority"] in ("UNDER", "OVER"), row
            del row["credit"], row["priority"]
        return rows
    d.ctl("pause", "dom0")
    for _ in range(50):  # the vCPU leaves its physical-CPU slot just after the pause
        a = steady(d.ctl("vcpu-list", "dom0", "--json").stdout)
        b = steady(d.ctl("vcpuinfo", "dom0", "--json").stdout)
        if a == b:
            break
        time.sleep(0.1)
    assert a == b and a[0]["state"] == "paused", (a, b)
    d.ctl("unpause", "dom0")
    assert "VCPU:" in d.ctl("vcpu-list", "dom0").stdout
    assert d.ctl("help", "vcpu-list").stdout.startswith("  vcpu-list NAME")
    r = d.ctl("dump-core", "dom0", check=False)
    assert r.returncode == 1 and "usage: dump-core NAME FILE" in r.stderr, r.stderr


def test_every_program_says_its_version():
    """--version on hv, hvctl, hvmdb and hvdump: `PROG hvkit VERSION` (VERSION from the
    tree's VERSION file, and the commit in a git checkout), exit 0; --help and the man page
    mention it."""
    from conftest import BUILD
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    version = open(os.path.join(root, "VERSION")).read().strip()
    seen = set()
    for prog in ("hv", "hvctl", "hvmdb", "hvdump"):
        for path in (os.path.join(BUILD, prog), os.path.join(BUILD, "asan", prog)):
            if not os.path.exists(path):
                continue
            r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
            assert r.returncode == 0 and r.stderr == "", (path, r.stderr)
            m = re.fullmatch(r"%s hvkit (\S+)\n" % prog, r.stdout)
            assert m and (m.group(1) == version or m.group(1).startswith(version + "+g")), r.stdout
            seen.add(m.group(1))
            h = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=30)
            assert "--version" in h.stdout, (path, h.stdout)
        assert "\\-\\-version" in open(os.path.join(root, "man", prog + ".1")).read(), prog
    assert len(seen) == 1, seen  # one version for every program
