"""The tiny init's initramfs (newc cpio, gzip): /init, /proc, /dev/console, made without
root and byte for byte the same each time (uid 0, mtime 0)."""
import gzip
import os

from conftest import BUILD

TINYINIT = os.path.join(BUILD, "tests", "tinyinit")
TINYINIT_INT80 = os.path.join(BUILD, "tests", "tinyinit-int80")  # int $0x80 system calls


def _entry(name, mode, data=b"", rdev=(0, 0), ino=1):
    name_b = name.encode() + b"\0"
    fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0]
    hdr = b"070701" + b"".join(b"%08x" % f for f in fields)
    out = hdr + name_b
    out += b"\0" * (-len(out) % 4)
    out += data + b"\0" * (-len(data) % 4)
    return out


def initramfs(path, init=TINYINIT):
    with open(init, "rb") as f:
        init = f.read()
    archive = (_entry("dev", 0o40755, ino=1) + _entry("dev/console", 0o20600, rdev=(5, 1), ino=2) +
               _entry("proc", 0o40755, ino=3) + _entry("init", 0o100755, init, ino=4) +
               _entry("TRAILER!!!", 0, ino=0))
    with open(path, "wb") as f:
        f.write(gzip.compress(archive, mtime=0))
    return path
