"""Shared fixtures for the end-to-end tests: where the binaries are, and a helper that
runs build/hv on a pseudo-terminal with pexpect, as a user at a terminal would."""
import atexit
import os
import shutil
import signal
import subprocess
import tempfile

import pexpect
import pytest

from linuxfix import linux_fixture, linux_hv_dumps  # noqa: F401 (fixtures of the Linux tests)

BUILD = os.environ.get("HVKIT_BUILD", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
# The end-to-end tests run the ASan/UBSan build of hv unless HVKIT_HV names another.
HV = os.environ.get("HVKIT_HV", os.path.join(BUILD, "asan", "hv"))
if not os.path.exists(HV):
    HV = os.path.join(BUILD, "hv")
# hvdump and hvmdb: their ASan/UBSan builds when there, else the release ones.
HVDUMP = os.path.join(BUILD, "asan", "hvdump")
if not os.path.exists(HVDUMP):
    HVDUMP = os.path.join(BUILD, "hvdump")
HVMDB = os.path.join(BUILD, "asan", "hvmdb")
if not os.path.exists(HVMDB):
    HVMDB = os.path.join(BUILD, "hvmdb")
KERNELS = os.path.join(BUILD, "tests", "kernels")
GUEST = os.path.join(BUILD, "guest.elf")
# hvmdb's type cache (mdb/debuginfo/type_cache.c) in a directory of this run, not the user's ~/.cache.
TYPE_CACHE = tempfile.mkdtemp(prefix="hvkit-types-")
atexit.register(shutil.rmtree, TYPE_CACHE, True)
os.environ["HVKIT_TYPE_CACHE"] = TYPE_CACHE  # also for the tests that build their env from os.environ
os.environ["HVMDB_HISTFILE"] = ""  # no test's hvmdb session adds to the user's ~/.hvmdb_history
ASAN_ENV = dict(os.environ, ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=99",
                UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=98", HVKIT_TYPE_CACHE=TYPE_CACHE)


def kernel(name):
    return os.path.join(KERNELS, name + ".elf")


class Hv:
    """build/hv on a pty. `expect` waits for a pattern; `line` types a line."""

    def __init__(self, args, timeout=30):
        self.p = pexpect.spawn(HV, args, env=ASAN_ENV, timeout=timeout, encoding="utf-8",
                               codec_errors="replace", dimensions=(50, 200))
        self.log = []

    def expect(self, pattern, timeout=-1):
        i = self.p.expect(pattern, timeout=timeout)
        self.log.append(self.p.before + (self.p.after if isinstance(self.p.after, str) else ""))
        return i

    def send(self, s):
        self.p.send(s)

    def line(self, s):
        # Type slowly enough for a 16-byte FIFO drained by an emulated guest.
        for ch in s:
            self.p.send(ch)
        self.p.send("\r")

    def wait_exit(self, timeout=30):
        self.p.expect(pexpect.EOF, timeout=timeout)
        self.log.append(self.p.before)
        self.p.close()
        return self.p.exitstatus if self.p.exitstatus is not None else 128 + (self.p.signalstatus or 0)

    def output(self):
        return "".join(self.log)

    def kill(self):
        if self.p.isalive():
            self.p.kill(signal.SIGKILL)
        self.p.close(force=True)


@pytest.fixture
def hv():
    started = []

    def start(*args, timeout=30):
        h = Hv(list(args), timeout=timeout)
        started.append(h)
        return h

    yield start
    for h in started:
        h.kill()


_RUN_HV_DIR = []


def _run_hv_dir():
    if not _RUN_HV_DIR:
        _RUN_HV_DIR.append(tempfile.mkdtemp(prefix="hvkit-run-hv-"))
        atexit.register(shutil.rmtree, _RUN_HV_DIR[0], True)
    return _RUN_HV_DIR[0]


def run_hv(args, timeout=20, **kw):
    """Runs hv without a terminal; returns CompletedProcess with text output. Its control
    socket is a private one (unless args name one), so that another hv on this machine
    (the default socket's) is not in its output."""
    env = kw.pop("env", ASAN_ENV)
    if "--socket" not in args and "HVKIT_SOCKET" not in env:
        env = dict(env, HVKIT_SOCKET=os.path.join(_run_hv_dir(), "ctl.sock"))
    return subprocess.run([HV] + args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, env=env, **kw)
