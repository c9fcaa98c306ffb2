#!/usr/bin/python3
"""qmp.py: a minimal QMP client (stdlib only) used by scripts/linux-fixture.sh.

    qmp.py SOCK wait [--timeout S]          wait until QEMU accepts QMP on SOCK
    qmp.py SOCK dump PATH [--paging] [--format elf|kdump-zlib|kdump-lzo|kdump-snappy|win-dmp]
                          [--timeout S]     dump-guest-memory to PATH, wait until completed
    qmp.py SOCK quit                        ask QEMU to exit
    qmp.py SOCK cmd NAME [JSON-ARGS]        run any command, print its "return" as JSON

Exits 0 on success; on failure prints one "qmp: ..." line on stderr and exits 1.
"""
import json
import os
import socket
import sys
import time


class QMPError(Exception):
    pass


class QMP:
    def __init__(self, path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        greeting = self._read()
        if "QMP" not in greeting:
            raise QMPError("unexpected greeting: %r" % greeting)
        self.command("qmp_capabilities")

    def _read(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise QMPError("connection closed by QEMU")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def command(self, name, args=None):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            resp = self._read()
            if "event" in resp:
                continue
            if "error" in resp:
                err = resp["error"]
                raise QMPError("%s: %s" % (name, err.get("desc", err)))
            if "return" in resp:
                return resp["return"]

    def close(self):
        self.sock.close()


def opt(argv, name, default=None):
    if name in argv:
        i = argv.index(name)
        if i + 1 >= len(argv):
            raise QMPError("%s needs a value" % name)
        val = argv[i + 1]
        del argv[i:i + 2]
        return val
    return default


def flag(argv, name):
    if name in argv:
        argv.remove(name)
        return True
    return False


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    sock, verb, rest = argv[1], argv[2], argv[3:]
    timeout = float(opt(rest, "--timeout", "60"))

    if verb == "wait":
        deadline = time.monotonic() + timeout
        while True:
            try:
                QMP(sock, timeout=5).close()
                return 0
            except (OSError, QMPError) as e:
                if time.monotonic() > deadline:
                    raise QMPError("QMP socket %s not ready after %gs: %s" % (sock, timeout, e))
                time.sleep(0.1)

    q = QMP(sock, timeout=max(10.0, timeout))
    if verb == "dump":
        paging = flag(rest, "--paging")
        fmt = opt(rest, "--format", "elf")
        if len(rest) != 1:
            raise QMPError("dump needs exactly one PATH")
        path = os.path.abspath(rest[0])
        q.command("dump-guest-memory", {"paging": paging, "protocol": "file:" + path,
                                        "format": fmt, "detach": True})
        deadline = time.monotonic() + timeout
        while True:
            st = q.command("query-dump")
            if st.get("status") == "completed":
                break
            if st.get("status") == "failed":
                raise QMPError("dump-guest-memory to %s failed" % path)
            if time.monotonic() > deadline:
                raise QMPError("dump not completed after %gs (%s)" % (timeout, st))
            time.sleep(0.2)
        print(json.dumps({"path": path, "format": fmt, "paging": paging, "bytes": st.get("total")}))
    elif verb == "quit":
        try:
            q.command("quit")
        except QMPError:
            pass  # QEMU may close the socket before answering
    elif verb == "cmd":
        if not rest:
            raise QMPError("cmd needs a command name")
        args = json.loads(rest[1]) if len(rest) > 1 else None
        print(json.dumps(q.command(rest[0], args)))
    else:
        raise QMPError("unknown verb %r" % verb)
    q.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (OSError, QMPError, ValueError) as e:
        sys.stderr.write("qmp: %s\n" % e)
        sys.exit(1)
