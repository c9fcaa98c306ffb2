"""End to end: the built-in guest kernel on build/hv, driven through its console on a
pty: boot with 1 and 4 vCPUs, the shell, threads on every vCPU, panic and oops making
the domain crashed, reboot, poweroff; and the same kernel under QEMU."""
import os
import re
import shutil
import time

import pexpect
import pytest

from conftest import GUEST

PROMPT = "guest> "


def boot(hv, vcpus, *extra):
    h = hv("--vcpus", str(vcpus), "--mem", "64M", *extra, timeout=60)
    h.expect(r"hvkit guest kernel [\d.]+ \(gcc [^)]*\) booting on %d CPUs?, \d+ MiB RAM, under hv" % vcpus)
    h.expect(PROMPT)
    return h


def cmd(h, line, until=PROMPT, timeout=30):
    h.line(line)
    h.expect(until, timeout=timeout)
    return h.p.before


def test_one_vcpu_shell_and_poweroff(hv):
    h = boot(hv, 1)
    assert "hi there" in cmd(h, "echo hi there")
    out = cmd(h, "help")
    for c in ["ps", "dmesg", "uptime", "panic", "oops", "hang", "spin", "deadlock", "mem", "reboot", "poweroff"]:
        assert c in out
    assert re.search(r"up \d+\.\d\d s, 1 CPUs, 6\d MiB RAM", cmd(h, "uptime"))
    assert "hvkit guest kernel" in cmd(h, "dmesg")
    assert "unknown command: frob" in cmd(h, "frob")
    m = re.search(r"mem: 4 MiB at physical ([0-9a-f]+)-([0-9a-f]+) filled with 68766b6974000000", cmd(h, "mem 4"))
    assert m and int(m.group(2), 16) - int(m.group(1), 16) == 4 << 20
    assert "ACPI: S5 through the sleep control register 0x520, SLP_TYP 5" in cmd(h, "dmesg")
    assert "usage: poweroff [acpi|hv]" in cmd(h, "poweroff now")
    h.line("poweroff")
    h.expect("Power down.")
    # as a PC kernel does: SLP_TYP from the DSDT's \_S5, written to the FADT's register
    h.expect(r"\(hv\) dom0 shut off \(vCPU 0: ACPI S5 poweroff\)")
    assert h.wait_exit() == 0


def test_poweroff_through_hvs_port(hv):
    h = boot(hv, 1)
    h.line("poweroff hv")
    h.expect("Power down.")
    h.expect(r"\(hv\) dom0 shut off \(vCPU 0: poweroff\)")
    assert h.wait_exit() == 0


def test_sysrq_keys_through_a_serial_break(hv, tmp_path):
    """hvctl sysrq (xl sysrq): a break on the serial line, then the key, which the kernel's
    serial driver takes as magic SysRq, as Linux's 8250 console does; typed input is not
    disturbed; c crashes the domain from the serial interrupt."""
    import subprocess
    from conftest import BUILD
    sock = str(tmp_path / "s")
    h = boot(hv, 2, "--socket", sock, "--state-dir", str(tmp_path / "st"), "--on-crash", "preserve")

    def sysrq(*args):
        return subprocess.run([os.path.join(BUILD, "hvctl"), "-S", sock, "sysrq", "dom0"] + list(args),
                              capture_output=True, text=True, timeout=20)
    r = sysrq("t")
    assert r.returncode == 0 and r.stdout == "Domain dom0: SysRq 't' sent (a break and 't' on its serial console)\n"
    h.expect("sysrq: Show State")
    h.expect(r"\s+\d+ (RUN|READY|SLEEP|BLOCK)\s+\d+\s+\d+ shell")
    sysrq("?")
    h.expect(r"sysrq: HELP : reboot\(b\) crash\(c\)")
    sysrq("l")
    h.expect(r"NMI received on CPU 1 at rip [0-9a-f]+")
    for bad in ("tt", " "):
        r = sysrq(bad)
        assert r.returncode == 1 and "sysrq: the key is one letter or digit" in r.stderr, r.stderr
    assert "break" not in cmd(h, "echo still typed"), "the break or the key leaked into typed input"
    sysrq("c")
    h.expect("sysrq: Trigger a crash")
    h.expect(r"\(hv\) dom0 crashed: sysrq triggered crash")
    r = sysrq("t")
    assert r.returncode == 1 and "dom0 is crashed: no kernel to take a SysRq key" in r.stderr, r.stderr


def test_four_vcpus_threads_on_every_cpu(hv):
    h = boot(hv, 4)
    out = cmd(h, "ps")
    rows = re.findall(r"^\s*(\d+) (RUN|READY|SLEEP|BLOCK|DEAD)\s+(\d+)\s+\d+ (\S+)\s*$", out, re.M)
    names = {r[3]: int(r[2]) for r in rows}
    for cpu in range(4):
        assert names.get("idle/%d" % cpu) == cpu, out
        assert names.get("kworker/%d" % cpu) == cpu, out
    assert names["shell"] == 0
    assert set(int(r[2]) for r in rows) == {0, 1, 2, 3}
    out = cmd(h, "cpus")
    assert len(re.findall(r"^\s+\d+\s+\d+\s+yes ", out, re.M)) == 4
    out = cmd(h, "spin")
    assert re.search(r"spin: thread \d+ busy-loops on CPU 3", out)
    assert re.search(r"\d+ (RUN|READY)\s+3\s+\d+ spin", cmd(h, "ps"))  # the shell still answers


def test_panic_makes_the_domain_crashed(hv):
    h = boot(hv, 2)
    h.line("panic the roof is on fire")
    h.expect("Kernel panic - not syncing: the roof is on fire")
    h.expect(r"\(hv\) dom0 crashed: the roof is on fire")
    assert h.wait_exit() == 3


def test_oops_report_then_crash(hv):
    h = boot(hv, 2)
    h.line("oops")
    h.expect(r"\(hv\) dom0 crashed: Fatal exception \(page fault\) in shell")
    out = h.output()
    assert "BUG: unable to handle page fault for address: 0000000000000000" in out
    assert re.search(r"RIP: \[<ffffffff801[0-9a-f]+>\] cmd_oops\+0x", out)
    assert re.search(r"RAX: [0-9a-f]{16} RBX: [0-9a-f]{16}", out) and "CR2: 0000000000000000" in out
    trace = out[out.index("Call Trace:"):]
    assert "cmd_oops" in trace and "shell_main" in trace and "thread_start" in trace
    assert h.wait_exit() == 3


def test_reboot_boots_again(hv):
    h = boot(hv, 2)
    h.line("reboot")
    h.expect("Restarting system.")
    h.expect(r"\(hv\) dom0 rebooting")
    h.expect("booting on 2 CPUs")
    h.expect(PROMPT)
    h.line("poweroff")
    assert h.wait_exit() == 0


@pytest.mark.skipif(not shutil.which("qemu-system-x86_64"), reason="no QEMU")
@pytest.mark.parametrize("smp", [1, 2])
def test_qemu_boots_the_same_kernel(smp):
    p = pexpect.spawn("qemu-system-x86_64", ["-accel", "tcg", "-M", "pc", "-m", "128", "-smp", str(smp),
                                             "-kernel", GUEST, "-nographic", "-no-reboot"],
                      encoding="utf-8", timeout=60)
    try:
        p.expect(r"booting on %d CPUs?, 12\d MiB RAM\r" % smp)
        p.expect(PROMPT)
        p.send("ps\r")
        p.expect(PROMPT)
        assert "kworker/%d" % (smp - 1) in p.before
        p.send("panic under qemu\r")
        p.expect("end Kernel panic - not syncing: under qemu")
    finally:
        p.terminate(force=True)


@pytest.mark.skipif(not shutil.which("qemu-system-x86_64"), reason="no QEMU")
def test_qemu_boot_with_firmware_interrupts_pending():
    """SeaBIOS's PIT tick (IRQ 0 through the 8259 and LINT0 in ExtINT mode) raised while the
    kernel starts with interrupts off must not survive the switch to the IOAPIC: it used to
    reach the first sti as an interrupt with no vector, a #GP "in kworker/0" in about one
    QEMU boot of twelve. earlywait=200 makes that tick certain."""
    p = pexpect.spawn("qemu-system-x86_64", ["-accel", "tcg", "-M", "pc", "-m", "64", "-smp", "2",
                                             "-kernel", GUEST, "-append", "earlywait=200", "-nographic",
                                             "-no-reboot"], encoding="utf-8", timeout=60)
    try:
        p.expect("earlywait: 200 ms with interrupts off")
        i = p.expect([PROMPT, "Oops[^\n]*"])
        assert i == 0, p.before + p.after
        p.send("uptime\r")
        p.expect(PROMPT)
        assert "Oops" not in p.before
        # QEMU's tables (PIIX4: PM1a control at 0x604, \_S5 = 0): QEMU exits at the write
        p.send("dmesg\r")
        p.expect(PROMPT)
        assert "ACPI: S5 through PM1a control 0x604, SLP_TYP 0" in p.before
        p.send("poweroff acpi\r")
        p.expect("Power down.")
        p.expect(pexpect.EOF, timeout=20)
    finally:
        p.terminate(force=True)


def test_insns(hv):
    """int3, int N, fwait, ldmxcsr and stmxcsr, which kvm_pvm's emulator rejects, run as
    the CPU runs them: the guest's IDT handlers are reached and return to the next
    instruction, MXCSR reads back what was written; hv says once per instruction that it
    completed it. On hardware KVM the CPU runs them and hv says nothing."""
    h = boot(hv, 1)
    out = cmd(h, "insns")
    assert "int3: ok (trap returned to the next instruction)" in out
    assert "int $35: ok (trap returned to the next instruction)" in out
    assert "fwait: ok" in out
    assert "ldmxcsr/stmxcsr: wrote 0x1fc0, read 0x1fc0: ok" in out
    out2 = cmd(h, "insns")  # again: the same results, and hv's log line is not repeated
    assert out2.count(": ok") == 4
    if os.path.exists("/sys/module/kvm_pvm"):
        for name in ["int3", "int", "wait", "ldmxcsr", "stmxcsr"]:
            assert re.search(r"\(hv\) dom0: vCPU 0: %s at 0x[0-9a-f]+ completed by hv" % name, out), name
        assert "completed by hv" not in out2
    h.line("poweroff")
    h.expect(r"\(hv\) dom0 shut off")
    assert h.wait_exit() == 0
