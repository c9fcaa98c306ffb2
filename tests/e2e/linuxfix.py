"""Where the Linux fixture is (scripts/linux-fixture.sh; `make test` builds its compact form
when it is missing) and what a Linux test does without it: it skips only when asked
(HVKIT_NO_LINUX=1), else fails saying why and how to make it. hv's own Linux dumps (the
fixture's step 5, HVKIT_FIXTURE_HV=1) are optional: their tests skip naming that switch."""
import functools
import os
import subprocess

import pytest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
CACHE = os.path.join(os.environ.get("HVKIT_CACHE", os.path.expanduser("~/.cache/hvkit")), "linux")
VMLINUX = os.path.join(CACHE, "vmlinux")
DUMPS = os.path.join(CACHE, "dumps")
HV_DUMPS = ["hv-panic.kdump", "hv-panic.elf"]


@functools.lru_cache(maxsize=None)
def missing():
    """None when what the tests read is complete (linux-fixture.sh --check), else why not."""
    try:
        r = subprocess.run(["bash", os.path.join(ROOT, "scripts", "linux-fixture.sh"), "--check"],
                           capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "scripts/linux-fixture.sh --check failed: %s" % e
    if r.returncode == 0:
        return None
    lines = r.stderr.strip().splitlines()
    return lines[-1] if lines else "scripts/linux-fixture.sh --check exited %d" % r.returncode


def require(hv_dumps=False):
    if os.environ.get("HVKIT_NO_LINUX") == "1":
        pytest.skip("HVKIT_NO_LINUX=1: the Linux tests are skipped, as asked")
    why = missing()
    if why:
        pytest.fail("no Linux fixture: %s (make test builds it; HVKIT_NO_LINUX=1 skips the Linux tests)" % why,
                    pytrace=False)
    if hv_dumps and not all(os.path.exists(os.path.join(DUMPS, n)) for n in HV_DUMPS):
        pytest.skip("no hv Linux dumps: HVKIT_FIXTURE_HV=1 make test (or HVKIT_FIXTURE_HV=1 "
                    "scripts/linux-fixture.sh --compact) makes them by booting the vmlinux under hv to its panic "
                    "(~15 min under emulation)")


@pytest.fixture
def linux_fixture():
    require()


@pytest.fixture
def linux_hv_dumps():
    require(hv_dumps=True)
