"""End to end: debug keys against the built-in guest: 'd' on a hung vCPU names the hang
function and shows both vCPUs' different stacks; 'z' shows the serial pin as the guest
programmed it; 'n' makes the guest print its NMI line; 'R' brings a hung dom0 back."""
import re
import time

CTRL_A = "\x01"
PROMPT = "guest> "


def boot(hv, vcpus=2):
    h = hv("--vcpus", str(vcpus), "--mem", "64M", timeout=60)
    h.expect(PROMPT)
    return h


def to_hv(h):
    h.send(CTRL_A * 3)
    h.expect(r"Serial input -> hv")


def key_output(h, key, until):
    h.send(key)
    h.expect(until, timeout=30)
    return h.log[-1]


def test_d_on_a_hung_guest_names_the_hang_function(hv):
    h = boot(hv)
    h.line("hang")
    h.expect("hang: interrupts off, spinning forever on CPU 0")
    time.sleep(0.5)
    to_hv(h)
    h.send("d")
    h.expect(r"\*\*\* Dumping dom0 vCPU 1")
    h.send("h")  # the end of 'd' is the next key's banner
    h.expect("'h' pressed")
    out = h.log[-2] + h.log[-1]
    v0 = out[out.index("Dumping dom0 vCPU 0"):out.index("Dumping dom0 vCPU 1")]
    v1 = out[out.index("Dumping dom0 vCPU 1"):]
    assert re.search(r"RIP:    0008:\[<ffffffff801[0-9a-f]+>\] hang_forever", v0), v0
    assert re.search(r"CONTEXT: guest 64-bit mode, CPL 0", v0)
    assert re.search(r"RFLAGS: [0-9a-f]{13}0[0-9a-f]{2}", v0)  # IF (bit 9) clear: interrupts off
    assert "cmd_hang" in v0 and "shell_main" in v0               # the frame-pointer trace
    assert re.search(r"RIP:    0008:\[<ffffffff801[0-9a-f]+>\] (cpu_idle_loop|schedule|sched_tick|trap_)", v1), v1
    rsp0 = re.search(r"rsp: ([0-9a-f]{16})", v0).group(1)
    rsp1 = re.search(r"rsp: ([0-9a-f]{16})", v1).group(1)
    assert rsp0 != rsp1


def test_z_shows_the_serial_pin_the_guest_programmed(hv):
    h = boot(hv, 1)
    to_hv(h)
    h.send("z")
    h.expect(r" NR Dst Msk Trg IRR Pol Stat DstM DelM Vec")
    h.expect(r"8259 slave")
    rows = dict(re.findall(r"\(hv\)  ([0-9a-f]{2}) (\d{3}  [01] .*)", h.output()))
    assert re.match(r"000  0   0   0   0   0    0    0   21", rows["04"]), rows["04"]  # vector 0x21, unmasked
    assert rows["05"].split()[1] == "1"  # other pins masked
    assert re.search(r"8259 master: IRR 00 ISR 00 IMR ff base [0-9a-f]{2} \(all masked\)", h.output())


def test_n_makes_the_guest_print_its_nmi_line(hv):
    h = boot(hv, 1)
    to_hv(h)
    h.send("n")
    h.expect(r"NMI received on CPU 0 at rip ffffffff801[0-9a-f]+ \(count 1\)")
    h.send("N")
    h.expect(r"dom0 +0 +1 +0 +0 +no")


def test_R_brings_a_hung_dom0_back(hv):
    h = boot(hv)
    h.line("hang")
    h.expect("hang: interrupts off")
    to_hv(h)
    h.send("R")
    h.expect(r"'R' pressed -> rebooting dom0")
    h.expect("booting on 2 CPUs")
    h.expect(PROMPT)
    h.send(CTRL_A * 3)
    h.expect("Serial input -> dom0")
    h.line("echo back again")
    h.expect("back again\r\n")


def test_keys_answer_while_the_guest_floods_its_console(hv):
    h = boot(hv, 2)
    h.line("flood")
    h.expect(r"flood \d+: the quick brown fox")
    to_hv(h)
    h.send("q")
    h.expect(r"'q' pressed -> dumping domain info", timeout=30)
    h.expect(r"VCPU1: CPU-?\d+ \[has=T\]", timeout=30)


def test_q_opens_the_kmdb_prompt_on_a_hung_dom0(hv):
    """q: every domain stops and the console becomes the debugger prompt; $c names the
    hang function; :c gives the keyboard back to dom0 and the guest's other vCPU runs on."""
    h = boot(hv)
    h.line("hang")
    h.expect("hang: interrupts off, spinning forever on CPU 0")
    time.sleep(0.5)
    to_hv(h)
    h.send("q")
    h.expect(r"\[dom0:0\]> ", timeout=30)
    h.send("$c\r")
    h.expect(r"\[dom0:0\]> ", timeout=30)
    out = h.log[-1]
    assert re.search(r"hang_forever(\+0x[0-9a-f]+)?\(\) at shell.c:\d+", out), out
    assert "cmd_hang" in out, out
    h.send("::switch 1\r")
    h.expect(r"\[dom0:1\]> ", timeout=30)
    h.send("::status\r")
    h.expect(r"\[dom0:1\]> ", timeout=30)
    assert "debugging live domain dom0 (id 0), stopped at the kmdb prompt" in h.log[-1], h.log[-1]
    h.send("jiffies/J\r")
    h.expect(r"\[dom0:1\]> ", timeout=30)
    j0 = int(re.search(r"0xffffffff[0-9a-f]+:\s+([0-9a-f]+)", h.log[-1]).group(1), 16)
    h.send(":c\r")
    h.expect("kmdb: every domain resumed; the keyboard is dom0's again")
    time.sleep(1.5)
    # back to the hypervisor: keys work, and vCPU 1 keeps the clock going
    to_hv(h)
    h.send("q")
    h.expect(r"\[dom0:0\]> ", timeout=30)
    h.send("jiffies/J\r")
    h.expect(r"\[dom0:0\]> ", timeout=30)
    j1 = int(re.search(r"0xffffffff[0-9a-f]+:\s+([0-9a-f]+)", h.log[-1]).group(1), 16)
    assert j1 > j0, (j0, j1)
    h.send(":c\r")
    h.expect("kmdb: every domain resumed")


def test_c_at_the_q_prompt_gives_the_keyboard_to_the_prompts_domain(hv):
    """Issue 16: `:c` said it gave the console back but left the keyboard with the
    hypervisor, where the next word typed ran debug keys (R reboots dom0). Now the
    keyboard goes back to the domain the prompt was on, and the line says so."""
    h = boot(hv)
    to_hv(h)
    h.send("q")
    h.expect(r"\[dom0:0\]> ", timeout=30)
    h.send(":c\r")
    h.expect(r"kmdb: every domain resumed; the keyboard is dom0's again \(Ctrl-A three times: the hypervisor\)")
    h.line("echo Right-back")  # 'R' at the debug keys would reboot dom0
    h.expect("Right-back")
    h.expect(PROMPT)
    out = h.output()
    assert "key 'R'" not in out and "rebooting" not in out, out[-2000:]
    assert "*** Serial input -> dom0" in out[out.rindex("[dom0:0]> "):], out[-2000:]
