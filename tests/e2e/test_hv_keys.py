"""End to end: the serial console switch (three Ctrl-A) and the debug keys, typed on the
pty of build/hv, against small test kernels (a hung one with interrupts off, an echo one)."""
import re
import time

CTRL_A = "\x01"
SEED_KEYS = "%CHNRadhimnqrtuvz"


def to_hv(h):
    h.send(CTRL_A * 3)
    h.expect(r"\*\*\* Serial input -> hv \(type 'CTRL-a' three times to switch input to dom0\)")


def test_switch_banner_and_back(hv):
    from conftest import kernel
    h = hv("-k", kernel("echo"), "--vcpus", "1")
    h.expect("E>")
    to_hv(h)
    h.send(CTRL_A * 3)
    h.expect(r"\*\*\* Serial input -> dom0 \(type 'CTRL-a' three times to switch input to hv\)")
    h.send("z")  # goes to the guest again
    h.expect("<7a>")
    h.send("q")
    assert h.wait_exit() == 0


def test_broken_sequence_passes_ctrl_a_through(hv):
    from conftest import kernel
    h = hv("-k", kernel("echo"), "--vcpus", "1")
    h.expect("E>")
    h.send(CTRL_A + CTRL_A + "x")
    h.expect(r"<01><01><78>")
    h.send(CTRL_A)
    time.sleep(0.2)
    h.send("y")
    h.expect(r"<01><79>")
    h.send("q")
    assert h.wait_exit() == 0
    assert "Serial input -> hv" not in h.output()


def test_h_lists_every_key_in_seed_format(hv):
    from conftest import kernel
    h = hv("-k", kernel("spinner"))
    h.expect("S")
    to_hv(h)
    h.send("h")
    h.expect(r"'h' pressed -> showing installed handlers")
    h.expect(r"key 'z' \(ascii '7a'\) => print ioapic info")
    out = h.output()
    for k in SEED_KEYS + "0w*":
        assert re.search(r"\(hv\) key '%s' \(ascii '%02x'\) => \S" % (re.escape(k), ord(k)), out), k
    assert "key 'd' (ascii '64') => dump registers" in out


def test_d_on_a_hung_guest_shows_its_registers(hv):
    from conftest import kernel
    h = hv("-k", kernel("spinner"), "--vcpus", "2")
    h.expect("S")
    time.sleep(0.3)
    to_hv(h)
    h.send("d")
    h.expect(r"\*\*\* Dumping dom0 vCPU 1: not started by the guest")
    out = h.output()
    # spinner: cli; 1: jmp 1b  at 0x100008, in _start, 32-bit protected mode, rdx = 0x3f8
    assert re.search(r"RIP:    0008:\[<0000000000100008>\] _start\+0x8", out), out
    assert "CONTEXT: guest 32-bit protected mode, CPL 0" in out
    assert re.search(r"rdx: 00000000000003f8", out)
    assert "*** Dumping dom0 vCPU 0: runnable, held out of the guest" in out
    # the guest still runs afterwards: hv is alive and answers another key
    h.send("0")
    h.expect(r"'0' pressed -> dumping dom0's registers")
    h.expect(r"vCPU 1: not started")


def test_z_prints_the_ioapic_table(hv):
    from conftest import kernel
    h = hv("-k", kernel("spinner"))
    h.expect("S")
    to_hv(h)
    h.send("z")
    h.expect(r" NR Dst Msk Trg IRR Pol Stat DstM DelM Vec")
    h.expect(r"8259 slave")
    rows = re.findall(r"\(hv\)  ([0-9a-f]{2}) [0-9a-f]{3}  [01]   [01]", h.output())
    assert rows == ["%02x" % i for i in range(24)]


def test_R_reboots_dom0(hv):
    from conftest import kernel
    h = hv("-k", kernel("echo"), "--vcpus", "1")
    h.expect("E>")
    to_hv(h)
    h.send("R")
    h.expect(r"'R' pressed -> rebooting dom0")
    h.expect("E>")  # the kernel booted again
    h.send(CTRL_A * 3)
    h.expect("Serial input -> dom0")
    h.send("k")
    h.expect("<6b>")


def test_every_diagnostic_key_runs_on_a_hung_guest(hv):
    from conftest import kernel
    h = hv("-k", kernel("spinner"), "--vcpus", "2")
    h.expect("S")
    to_hv(h)
    h.send("*")
    h.expect(r"\*\*\* done with all diagnostic keyhandlers", timeout=60)
    out = h.output()
    for banner in ["dumping registers", "dumping VMCS-equivalent guest state", "printing IOAPIC info",
                   "dumping interrupt bindings", "NMI statistics", "dumping domain info", "memory info",
                   "dumping hv's heap", "dumping NUMA info", "displaying multi-cpu clock info",
                   "dumping timer queues", "dumping run queues"]:
        assert banner in out, banner
    assert "host-state and VM-execution control fields belong to KVM" in out
    assert re.search(r"dom0 +RAM +128 MiB, resident", out)
    assert re.search(r"VCPU0: CPU\d+ \[has=T\] runnable", out)
    assert "COM1 16550A (hv, the console)" in out
    assert re.search(r"hypervisor console ring +1 +\d+", out) and re.search(r"vCPU structures +2 +\d+", out)
    h.send("w")
    h.expect(r"'w' pressed -> dumping the console ring")
    h.expect(r"\| \*\*\* done with all diagnostic keyhandlers")
    h.send("Q")
    h.expect(r"'Q' pressed -> no such key")
