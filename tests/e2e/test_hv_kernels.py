"""End to end: build/hv boots small PVH kernels and reflects what they do in the domain's
state and in its exit status; guest misbehaviour never takes hv down."""
import os
import signal
import subprocess
import time

from conftest import HV, ASAN_ENV, kernel, run_hv


def test_trivial_kernel_boots_and_powers_off():
    r = run_hv(["-k", kernel("trivial"), "--vcpus", "1", "--mem", "16M"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert "trivial PVH kernel: hello" in r.stdout
    assert "(hv) dom0 shut off (vCPU 0: poweroff)" in r.stdout
    assert r.stderr == ""


def test_panic_port_marks_domain_crashed():
    r = run_hv(["-k", kernel("panic")])
    assert r.returncode == 3
    assert "(hv) dom0 crashed: Kernel panic - not syncing: test kernel says goodbye" in r.stdout


def test_triple_fault_is_a_crash_not_an_hv_failure():
    r = run_hv(["-k", kernel("triplefault"), "--vcpus", "4"])
    assert r.returncode == 3
    assert "(hv) dom0 crashed: vCPU 0: triple fault" in r.stdout


def test_unhandled_io_is_logged_once_and_ignored():
    r = run_hv(["-k", kernel("badio"), "--vcpus", "1"])
    assert r.returncode == 0, r.stdout
    assert r.stdout.count("unhandled I/O port write 0x1234") == 1
    assert "unhandled I/O port read 0x1234" not in r.stdout  # one line per port
    assert "unhandled MMIO write 0xd0000000 (4 bytes)" in r.stdout
    # the guest read back HVKIT_ERR_INVAL (1) for an unknown command, and all ones from MMIO
    assert "s1" in r.stdout and "\nF" in r.stdout


def test_restart_on_crash_reboots_the_domain():
    p = subprocess.Popen([HV, "-k", kernel("panic"), "--on-crash", "restart"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ASAN_ENV)
    time.sleep(1.0)
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 128 + signal.SIGTERM
    assert out.count("(hv) dom0 crashed: Kernel panic") >= 2, out  # it crashed, rebooted, crashed again


def test_preserve_on_crash_keeps_hv_running():
    p = subprocess.Popen([HV, "-k", kernel("panic"), "--on-crash", "preserve"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ASAN_ENV)
    time.sleep(1.0)
    assert p.poll() is None
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 128 + signal.SIGINT
    assert "dom0 is kept crashed (on_crash=preserve)" in out


def test_vcpu_that_never_exits_is_stopped_by_a_signal():
    p = subprocess.Popen([HV, "-k", kernel("spinner"), "--vcpus", "2"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ASAN_ENV)
    time.sleep(1.0)
    t = time.monotonic()
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=20)
    assert time.monotonic() - t < 5
    assert p.returncode == 128 + signal.SIGTERM, err
    assert out.startswith("(hv)") and "S" in out
    assert err == ""
