#!/usr/bin/env bash
# linux-fixture: makes Linux crash-dump test fixtures outside the repo, in
#   ${HVKIT_CACHE:-$HOME/.cache/hvkit}/linux
# from Debian 12's cloud kernel (image + -dbg vmlinux), a busybox initramfs, and QEMU
# (TCG) dump-guest-memory dumps. See docs/linux-fixture.md.
#
#   scripts/linux-fixture.sh            the full fixture: every dump with crash's and drgn's
#                                       record, and hv's own dumps (step 5) when hv is built
#   scripts/linux-fixture.sh --compact  only what the tests read (what `make test` builds when
#                                       it is missing); step 5 only with HVKIT_FIXTURE_HV=1
#   scripts/linux-fixture.sh --check    exit 0 iff what the tests read is complete; does no work
#
# Environment: HVKIT_CACHE (cache root), HVKIT_LINUX_KVER (pin a kernel, e.g.
# 6.1.0-56-cloud-amd64; default: the newest 6.1.0-NN-cloud-amd64 with a -dbg package,
# chosen once per cache and then kept), HVKIT_FIXTURE_MEM (the QEMU guests' RAM, default
# 256M), HVKIT_QEMU_TIMEOUT (seconds per QEMU run, default 180), HVKIT_FIXTURE_JOBS (steps
# run at once, default 2), HVKIT_FIXTURE_HV (1: make step 5, 0: never; default: in the full
# fixture when hv is built), HVKIT_HV (hv for step 5, default build/hv), HVKIT_HV_TIMEOUT.
# Exit status: 0 complete; 1 on failure, with one "linux-fixture: ..." line on stderr (also
# kept in the cache's `failed` until a run succeeds, for the tests to say why).
set -eEuo pipefail

T_START=$(date +%s.%N)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HVKIT_CACHE:-$HOME/.cache/hvkit}/linux
DUMPS=$CACHE/dumps
STAMPS=$CACHE/stamps
QMP_PY=$HERE/qmp.py
PY=/usr/bin/python3
QEMU_TIMEOUT=${HVKIT_QEMU_TIMEOUT:-180}
MEM=${HVKIT_FIXTURE_MEM:-256M}
JOBS=${HVKIT_FIXTURE_JOBS:-2}

# Every dump the tests read; they rely on these names (the boots that make them are in 3).
DUMP_NAMES=(idle-vmci.elf idle-vmci-paging.elf idle-vmci.kdump idle-vmci.kdump.flat idle-novmci.elf
            idle-nokaslr.elf crash-vmci.elf busy-vmci.elf disk-vmci-paging.elf)
# The records the tests read: crash's of every dump hvmdb opens, drgn's of the two it reads.
CRASH_NEEDED=(idle-vmci.elf idle-vmci-paging.elf idle-vmci.kdump idle-novmci.elf idle-nokaslr.elf
              crash-vmci.elf busy-vmci.elf disk-vmci-paging.elf)
DRGN_NEEDED=(idle-vmci-paging.elf disk-vmci-paging.elf)
# hv's own dumps of the vmlinux booted as a domain of hv to its panic (step 5), with both
# records: not part of --check (the tests that read them skip without them).
HV_DUMPS=(hv-panic.kdump hv-panic.elf)
HV_BIN=${HVKIT_HV:-$HERE/../build/hv}
HV_TIMEOUT=${HVKIT_HV_TIMEOUT:-3600}
# The modules the disk boot loads, in load order, and where they are in the image .deb.
DISK_MODULES="drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/ata/libata drivers/ata/ata_piix drivers/scsi/sd_mod"

# die: one line on stderr, kept in $CACHE/failed; in a step run in the background (spawn)
# it ends that step, and the run stops there.
DIED=
die() {
	local msg="linux-fixture: $*"
	echo "$msg" >&2
	if [ -d "$CACHE" ] && echo "$msg" >"$CACHE/failed.$BASHPID" 2>/dev/null; then
		mv -f "$CACHE/failed.$BASHPID" "$CACHE/failed"
	fi
	DIED=1
	exit 1
}
say() { echo "linux-fixture: $*"; }

MODE=full CHECK=
for arg in "$@"; do
	case $arg in
	--check) CHECK=1 ;;
	--compact) MODE=compact ;;
	--full) MODE=full ;;
	-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
	*) echo "linux-fixture: unknown argument '$arg' (use --compact, --full or --check)" >&2; exit 1 ;;
	esac
done
[[ $MEM =~ ^[1-9][0-9]*M$ ]] || { echo "linux-fixture: HVKIT_FIXTURE_MEM='$MEM' is not a size like 256M" >&2; exit 1; }
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || { echo "linux-fixture: HVKIT_FIXTURE_JOBS='$JOBS' is not a count" >&2; exit 1; }

module_files() {   # the disk boot's modules and their debug info
	local m
	for m in $DISK_MODULES; do echo "$CACHE/modules/${m##*/}.ko" "$CACHE/modules/debug/${m##*/}.ko"; done
}

# Every file the tests read (the fixture --check answers for).
fixture_files() {
	echo "$CACHE/vmlinuz" "$CACHE/vmlinux" "$CACHE/version" "$CACHE/initramfs.cpio.gz" "$DUMPS/manifest.txt"
	module_files
	local n
	for n in "${DUMP_NAMES[@]}"; do echo "$DUMPS/$n" "$DUMPS/$n.console"; done
	for n in "${CRASH_NEEDED[@]}"; do echo "$DUMPS/$n.crash.txt"; done
	for n in "${DRGN_NEEDED[@]}"; do echo "$DUMPS/$n.drgn.txt"; done
}

is_complete() {
	[ -f "$STAMPS/complete" ] || return 1
	local f
	for f in $(fixture_files); do [ -s "$f" ] || return 1; done
	return 0
}

# Step 5 in this run? HVKIT_FIXTURE_HV=1 yes, =0 no; else in the full fixture when hv is built.
want_hv() {
	case ${HVKIT_FIXTURE_HV:-} in
	1) return 0 ;;
	0) return 1 ;;
	esac
	[ "$MODE" = full ] && [ -x "$HV_BIN" ]
}
has_hv() {
	local n
	for n in "${HV_DUMPS[@]}"; do [ -s "$DUMPS/$n" ] || return 1; done
	[ -s "$DUMPS/hv-panic.console" ]
}

# The records this run wants, as TOOL:NAME: the tests' in compact mode, both tools on every
# dump in the full one; both on hv's dumps when they are there.
wanted_records() {
	local n
	if [ "$MODE" = full ]; then
		for n in "${DUMP_NAMES[@]}"; do echo "crash:$n" "drgn:$n"; done
	else
		for n in "${CRASH_NEEDED[@]}"; do echo "crash:$n"; done
		for n in "${DRGN_NEEDED[@]}"; do echo "drgn:$n"; done
	fi
	for n in "${HV_DUMPS[@]}"; do [ -s "$DUMPS/$n" ] && echo "crash:$n" "drgn:$n"; done
	return 0
}
record_done() {   # record_done TOOL:NAME: the record is there and newer than its dump
	local tool=${1%%:*} n=${1#*:}
	[ -s "$DUMPS/$n.$tool.txt" ] && [ "$DUMPS/$n.$tool.txt" -nt "$DUMPS/$n" ]
}
records_done() {
	local r
	for r in $(wanted_records); do record_done "$r" || return 1; done
	return 0
}

nothing_to_do() { is_complete && records_done && { ! want_hv || has_hv; }; }

if [ -n "$CHECK" ]; then
	if is_complete; then echo "$CACHE"; exit 0; fi
	why="not complete in $CACHE"
	[ -s "$CACHE/failed" ] && why+=" (its last build failed: $(sed 's/^linux-fixture: //' "$CACHE/failed"))"
	echo "linux-fixture: $why; scripts/linux-fixture.sh --compact makes what the tests read" >&2
	exit 1
fi

summary() {
	say "kernel $(cat "$CACHE/version") in $CACHE ($(du -sh "$CACHE" | cut -f1))"
	ls -l "$CACHE/vmlinuz" "$CACHE/vmlinux" "$CACHE/initramfs.cpio.gz" | awk '{printf "  %12s  %s\n", $5, $NF}'
	local n
	for n in "${DUMP_NAMES[@]}" "${HV_DUMPS[@]}"; do
		if [ -f "$DUMPS/$n" ]; then printf '  %12s  %s\n' "$(stat -c %s "$DUMPS/$n")" "$DUMPS/$n"; fi
	done
	[ -f "$DUMPS/manifest.txt" ] && { echo "  manifest ($DUMPS/manifest.txt):"; sed 's/^/    /' "$DUMPS/manifest.txt"; }
	[ -f "$DUMPS/tools-summary.txt" ] && { echo "  tools:"; sed 's/^/    /' "$DUMPS/tools-summary.txt"; }
	[ -f "$CACHE/timings.txt" ] && { echo "  timings (the last run that built something):"; sed 's/^/    /' "$CACHE/timings.txt"; }
	return 0
}
done_line() {   # one line for `make test`: the compact fixture is there
	local extra=
	want_hv || has_hv || extra=" (no hv dumps: HVKIT_FIXTURE_HV=1 makes them)"
	say "complete ($MODE) in $CACHE$extra"
}
finished() { if [ "$MODE" = compact ]; then done_line; else summary; fi; }

if nothing_to_do; then finished; exit 0; fi

mkdir -p "$CACHE" "$DUMPS" "$STAMPS" 2>/dev/null || die "cannot create $CACHE"
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
	say "waiting for another run that holds $CACHE/.lock"
	flock -w "${HVKIT_FIXTURE_LOCK_WAIT:-3600}" 9 || die "another run held $CACHE/.lock for ${HVKIT_FIXTURE_LOCK_WAIT:-3600} s"
fi
if nothing_to_do; then finished; exit 0; fi   # another run finished it meanwhile
is_complete || rm -f "$STAMPS/complete"   # (a stamp without every file is no stamp)

WORK=$(mktemp -d /tmp/hvkit-linux-fixture.XXXXXX)   # short path: QMP socket name limit
QEMU_PID=
declare -A JOB_NAME=()
cleanup() {
	local pid
	for pid in "${!JOB_NAME[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${!JOB_NAME[@]}"; do wait "$pid" 2>/dev/null || true; done
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then kill "$QEMU_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
	rm -rf "$CACHE"/*.part "$DUMPS"/*.part "$CACHE"/failed.[0-9]*
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
STEP="starting"
# A failing command ends the run (or its background step) with one line; a subshell of a
# step (a pipeline, $(...)) only returns its failure to the step.
TOP=0
trap '[ "$BASH_SUBSHELL" -gt "$TOP" ] && exit 1; die "failed during: $STEP (line $LINENO)"' ERR

timed() {   # timed NAME CMD...: run CMD, note its duration for timings.txt
	local name=$1 t0 t1; shift
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN{printf "%-30s %7.1f s\n", n, b-a}' >>"$WORK/timings.txt"
}

# spawn NAME CMD...: CMD in the background as a step of its own, at most $JOBS at once.
# A step that fails stops the run: the others are ended, their QEMU and hv with them.
job_exit() {
	local rc=$?
	local p
	for p in $(jobs -p); do kill "$p" 2>/dev/null || true; done
	[ "$rc" -eq 0 ] || [ -n "$DIED" ] || echo "linux-fixture: failed during: $STEP (exit $rc)" >&2
	exit "$rc"
}
spawn() {
	local name=$1; shift
	while [ ${#JOB_NAME[@]} -ge "$JOBS" ]; do reap; done
	(
		TOP=$BASH_SUBSHELL STEP=$name QEMU_PID=
		trap job_exit EXIT
		trap 'DIED=1; exit 143' TERM
		"$@"
	) &
	JOB_NAME[$!]=$name
}
reap() {   # wait for one step; a failed one ends the run (its line is out already)
	local pid='' rc=0
	wait -n -p pid "${!JOB_NAME[@]}" || rc=$?
	if [ -z "$pid" ]; then   # (none that wait -n knows of: their statuses one by one)
		for pid in "${!JOB_NAME[@]}"; do
			rc=0; wait "$pid" || rc=$?
			unset "JOB_NAME[$pid]"
			[ "$rc" -eq 0 ] || { DIED=1; exit 1; }
		done
		return 0
	fi
	unset "JOB_NAME[$pid]"
	[ "$rc" -eq 0 ] || { DIED=1; exit 1; }
}
wait_all() { while [ ${#JOB_NAME[@]} -gt 0 ]; do reap; done; }

# ---- packages --------------------------------------------------------------------------
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
APT_UPDATED=
apt_update() {
	[ -n "$APT_UPDATED" ] && return 0
	APT_UPDATED=1
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
}
install_pkgs() {   # install_pkgs PKG...
	local p missing=()
	for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" = 0 ] || die "needs Debian packages ${missing[*]}; as root: apt-get install ${missing[*]} (or scripts/deps.sh)"
	say "installing ${missing[*]}"
	apt_update
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed"
}
STEP="installing packages"
# (crash and drgn make the records the tests compare with)
install_pkgs qemu-system-x86 busybox-static makedumpfile dpkg tar gzip xz-utils binutils e2fsprogs crash python3-drgn
[ -x "$PY" ] || die "$PY is missing (apt-get install python3)"

# Room for what this run makes: the dumps (~1.1 x RAM each), the vmlinux and the .debs.
STEP="checking the free space"
if [ ! -f "$STAMPS/boot-idle-vmci.done" ]; then
	need=$(( (${MEM%M} * 10 + 1200) * 1024 ))   # KiB
	avail=$(df -Pk "$CACHE" | awk 'NR==2{print $4}')
	[ "$avail" -ge "$need" ] || die "need $((need / 1024)) MB free in $CACHE (have $((avail / 1024)) MB)"
fi

# ---- 1. kernel ------------------------------------------------------------------------
# The image .deb gives vmlinuz, config, qemu_fw_cfg.ko and the disk modules (what the boots
# need); the -dbg .deb the vmlinux and the modules' debug info (what the records need): one
# pass over each, the -dbg one (xz, 1.7 GB unpacked) in the background while the boots run.
# A cache made before this layout has kernel.done and modules.done for both.
if [ -f "$STAMPS/kernel.done" ] && [ -f "$STAMPS/modules.done" ]; then touch "$STAMPS/image.done" "$STAMPS/dbg.done"; fi
have_image() {
	local f
	[ -f "$STAMPS/image.done" ] && [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/qemu_fw_cfg.ko" ] && [ -s "$CACHE/version" ] ||
		return 1
	for f in $(module_files); do case $f in */debug/*) ;; *) [ -s "$f" ] || return 1 ;; esac; done
}
have_dbg() {
	local f
	[ -f "$STAMPS/dbg.done" ] && [ -s "$CACHE/vmlinux" ] || return 1
	for f in $(module_files); do case $f in */debug/*) [ -s "$f" ] || return 1 ;; esac; done
}

pick_kernel() {
	local p best=
	for p in $(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-dbg$' 2>/dev/null |
	           awk '{print $1}' | sed 's/-dbg$//' | sort -V); do
		apt-cache show "$p" >/dev/null 2>&1 && best=$p
	done
	echo "${best#linux-image-}"
}

KVER=
choose_kernel() {
	KVER=${HVKIT_LINUX_KVER:-}
	[ -z "$KVER" ] && [ -s "$CACHE/version" ] && KVER=$(cat "$CACHE/version")
	[ -z "$KVER" ] && [ -s "$CACHE/debs/kver" ] && KVER=$(cat "$CACHE/debs/kver")
	if [ -z "$KVER" ]; then
		KVER=$(pick_kernel)
		if [ -z "$KVER" ] && [ "$(id -u)" = 0 ]; then apt_update; KVER=$(pick_kernel); fi
		[ -n "$KVER" ] || die "no linux-image-6.1.0-NN-cloud-amd64 with a -dbg package in apt (run apt-get update?)"
	fi
	say "kernel $KVER"
	mkdir -p "$CACHE/debs"
	echo "$KVER" >"$CACHE/debs/kver"
}

deb_of() {   # deb_of PKG: its .deb in debs/ if it is whole (one cut by a failed download is not)
	local d
	d=$(ls "$CACHE"/debs/"$1"_*.deb 2>/dev/null | head -1 || true)
	[ -n "$d" ] && dpkg-deb --info "$d" >/dev/null 2>&1 && echo "$d"
	return 0
}

download_debs() {   # download_debs PKG...: into debs/, or one line saying why not
	local p
	for p in "$@"; do rm -f "$CACHE"/debs/"$p"_*.deb; done
	say "downloading $* (the image ~27 MB, the -dbg ~283 MB)"
	local log=$WORK/apt-download.log
	if ! (cd "$CACHE/debs" && timeout "${HVKIT_DOWNLOAD_TIMEOUT:-900}" apt-get download \
	        -o Acquire::Retries=2 -o Acquire::http::Timeout=30 "$@") >"$log" 2>&1; then
		local why
		why=$(grep -m1 '^E:' "$log" || grep -m1 '^Err:' "$log" || true)
		[ -n "$why" ] || why="no answer within ${HVKIT_DOWNLOAD_TIMEOUT:-900} s"
		rm -f "$CACHE"/debs/*.deb.part
		die "apt-get download $* failed: $why"
	fi
}

# deb_tar DEB: the .deb's data tarball on stdout, xz unpacked on every core (the archive's
# .debs are in many xz blocks), else by dpkg-deb.
deb_tar() {
	case $(ar t "$1" 2>/dev/null | grep -m1 '^data\.tar') in
	data.tar.xz) ar p "$1" data.tar.xz | xz -dc -T0 ;;
	*) dpkg-deb --fsys-tarfile "$1" ;;
	esac
}
# untar DEB DIR PATH...: only PATHs; tar stops at the last one (the rest of the stream unread).
untar() {
	local deb=$1 dir=$2; shift 2
	{ deb_tar "$deb" 2>/dev/null || true; } | tar -x -C "$dir" --occurrence=1 "$@" 2>"$WORK/tar.err" ||
		die "extracting from $(basename "$deb") failed: $(head -1 "$WORK/tar.err")"
}

extract_image() {   # extract_image IMAGE.deb: vmlinuz, config, qemu_fw_cfg.ko, the disk modules
	local deb=$1 x=$CACHE/image.part m
	rm -rf "$x"; mkdir -p "$x"
	local paths=("./boot/vmlinuz-$KVER" "./boot/config-$KVER" "./lib/modules/$KVER/kernel/drivers/firmware/qemu_fw_cfg.ko")
	for m in $DISK_MODULES; do paths+=("./lib/modules/$KVER/kernel/$m.ko"); done
	untar "$deb" "$x" "${paths[@]}"
	rm -f "$STAMPS/image.done" "$STAMPS/kernel.done" "$STAMPS/modules.done" "$STAMPS/initramfs.done" "$STAMPS/initramfs-disk.done"
	mv "$x/boot/vmlinuz-$KVER" "$CACHE/vmlinuz"
	mv "$x/boot/config-$KVER" "$CACHE/config"
	mv "$x/lib/modules/$KVER/kernel/drivers/firmware/qemu_fw_cfg.ko" "$CACHE/qemu_fw_cfg.ko"
	mkdir -p "$CACHE/modules"
	for m in $DISK_MODULES; do mv "$x/lib/modules/$KVER/kernel/$m.ko" "$CACHE/modules/"; done
	rm -rf "$x"
	echo "$KVER" >"$CACHE/version"
	dpkg-deb -f "$deb" Package Version | paste -sd' ' >"$CACHE/package"
	touch "$STAMPS/image.done"
}

extract_dbg() {   # extract_dbg DBG.deb: the vmlinux (not the 1.1 GB of modules' debug info but the five)
	local deb=$1 x=$CACHE/dbg.part m
	rm -rf "$x"; mkdir -p "$x"
	local paths=("./usr/lib/debug/boot/vmlinux-$KVER")
	for m in $DISK_MODULES; do paths+=("./usr/lib/debug/lib/modules/$KVER/kernel/$m.ko"); done
	untar "$deb" "$x" "${paths[@]}"
	[ "$(head -c4 "$x/usr/lib/debug/boot/vmlinux-$KVER" | od -An -c | tr -d ' ')" = '177ELF' ] ||
		die "the extracted vmlinux is not an ELF file"
	rm -f "$STAMPS/dbg.done" "$STAMPS/kernel.done" "$STAMPS/modules.done"
	mv "$x/usr/lib/debug/boot/vmlinux-$KVER" "$CACHE/vmlinux"
	mkdir -p "$CACHE/modules/debug"
	for m in $DISK_MODULES; do mv "$x/usr/lib/debug/lib/modules/$KVER/kernel/$m.ko" "$CACHE/modules/debug/"; done
	rm -rf "$x"
	touch "$STAMPS/dbg.done"
}

# ---- 2. initramfs ---------------------------------------------------------------------
# How every /init starts: the file systems, the console, and VMCOREINFO for QEMU.
IFS= read -r -d '' INIT_START <<'EOF' || true
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
# qemu_fw_cfg writes the kernel's VMCOREINFO into QEMU's -device vmcoreinfo.
insmod /lib/modules/qemu_fw_cfg.ko 2>/dev/null
EOF
write_init() {
	{
	printf '#!/bin/sh\n# hvkit Linux fixture init: hvkit.mode=idle|busy|crash on the kernel command line.\n%s' "$INIT_START"
	cat <<'EOF'
mode=idle
for arg in $(cat /proc/cmdline); do
	case $arg in hvkit.mode=*) mode=${arg#hvkit.mode=} ;; esac
done
vmci=no
[ -e /sys/firmware/qemu_fw_cfg/by_name/etc/vmcoreinfo ] && vmci=yes
echo "hvkit: kernel $(uname -r) mode=$mode fw_cfg-vmcoreinfo=$vmci"
sleep 1000 &
sleep 2000 &
case $mode in
busy)
	sh -c 'while :; do :; done' &
	echo "hvkit: busy loop pid $!" ;;
crash)
	# on CPU 0, where the tests look for the panicking init (the scheduler may have moved it)
	taskset -p 1 $$ >/dev/null
	echo "HVKIT-READY mode=crash"
	echo c >/proc/sysrq-trigger ;;
esac
echo "HVKIT-READY mode=$mode"
while :; do sleep 3600; done
EOF
	} >"$1"
	chmod 755 "$1"
}

# A cpio "newc" writer, so that /dev/console can be made without root and the archive
# is byte-for-byte reproducible (uid/gid 0, mtime 0, sorted).
mkcpio() {   # mkcpio DIR OUT.cpio
	"$PY" - "$1" "$2" <<'EOF'
import os, stat, sys
root, out = sys.argv[1], sys.argv[2]
ino = [0]
def entry(f, name, mode, data=b"", rdev=(0, 0), nlink=1):
    ino[0] += 1
    name_b = name.encode() + b"\0"
    hdr = "070701" + "".join("%08X" % v for v in (
        ino[0], mode, 0, 0, nlink, 0, len(data), 0, 0, rdev[0], rdev[1], len(name_b), 0))
    f.write(hdr.encode() + name_b)
    f.write(b"\0" * ((4 - (110 + len(name_b)) % 4) % 4))
    f.write(data)
    f.write(b"\0" * ((4 - len(data) % 4) % 4))
with open(out, "wb") as f:
    paths = []
    for d, dirs, files in os.walk(root):
        for n in dirs + files:
            paths.append(os.path.relpath(os.path.join(d, n), root))
    for p in sorted(paths):
        full = os.path.join(root, p)
        st = os.lstat(full)
        if stat.S_ISDIR(st.st_mode):
            entry(f, p, stat.S_IFDIR | 0o755, nlink=2)
        elif stat.S_ISLNK(st.st_mode):
            entry(f, p, stat.S_IFLNK | 0o777, os.readlink(full).encode())
        else:
            entry(f, p, stat.S_IFREG | (st.st_mode & 0o777), open(full, "rb").read())
    entry(f, "dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    entry(f, "TRAILER!!!", 0, nlink=1)
EOF
}

build_initramfs() {
	local bb=/bin/busybox r=$WORK/initramfs
	[ -x "$bb" ] || die "/bin/busybox missing (apt-get install busybox-static)"
	readelf -l "$bb" 2>/dev/null | grep -q INTERP && die "/bin/busybox is not static (apt-get install busybox-static)"
	rm -rf "$r"
	mkdir -p "$r"/{bin,dev,proc,sys,tmp,lib/modules}
	cp "$bb" "$r/bin/busybox"
	local a
	for a in $("$bb" --list); do [ "$a" = busybox ] || ln -s busybox "$r/bin/$a"; done
	cp "$CACHE/qemu_fw_cfg.ko" "$r/lib/modules/"
	write_init "$r/init"
	mkcpio "$r" "$WORK/initramfs.cpio"
	gzip -9n <"$WORK/initramfs.cpio" >"$CACHE/initramfs.cpio.gz.part"
	mv "$CACHE/initramfs.cpio.gz.part" "$CACHE/initramfs.cpio.gz"
	touch "$STAMPS/initramfs.done"
}
# ---- 2b. the disk boot's modules and initramfs ----------------------------------------
# The disk boot mounts an ext4 image from QEMU's IDE disk, which in this kernel needs
# modules (ext4, jbd2, mbcache, crc16 and crc32c are built in; libata, ata_piix, scsi_mod,
# sd_mod are =m): its SCSI error-handler threads then sleep in module code. The modules
# come from the image .deb and their debug info (modules/debug/, for drgn, which cannot
# unwind a module without it) from the -dbg .deb, in step 1's one pass over each .deb (a
# cache made before the disk boot fetches both .debs again for them).
write_disk_init() {
	{
	echo '#!/bin/sh'
	echo "# hvkit Linux fixture init for the disk boot (rdinit=/init-disk): loads the IDE disk's"
	echo '# modules, mounts the ext4 image of the first disk on /mnt, and idles.'
	printf '%s' "$INIT_START"
	cat <<'EOF2'
for m in scsi_common scsi_mod libata ata_piix sd_mod; do
	insmod /lib/modules/disk/$m.ko || echo "hvkit: insmod $m failed"
done
i=0
while [ ! -b /dev/sda ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
mkdir -p /mnt
mount -t ext4 /dev/sda /mnt || echo "hvkit: mount failed"
echo "hvkit: kernel $(uname -r) mode=disk mounted: $(grep ' /mnt ' /proc/mounts)"
cat /mnt/hello.txt
sleep 1000 &
sleep 2000 &
echo "HVKIT-READY mode=disk"
while :; do sleep 3600; done
EOF2
	} >"$1"
	chmod 755 "$1"
}

# The base initramfs with a second newc archive after it (the kernel unpacks both): the
# modules and /init-disk.
build_disk_initramfs() {
	local r=$WORK/initramfs-disk
	rm -rf "$r"
	mkdir -p "$r/lib/modules/disk"
	cp "$CACHE"/modules/*.ko "$r/lib/modules/disk/"
	write_disk_init "$r/init-disk"
	mkcpio "$r" "$WORK/initramfs-disk.cpio"
	{ cat "$CACHE/initramfs.cpio.gz"; gzip -9n <"$WORK/initramfs-disk.cpio"; } >"$CACHE/initramfs-disk.cpio.gz.part"
	mv "$CACHE/initramfs-disk.cpio.gz.part" "$CACHE/initramfs-disk.cpio.gz"
	touch "$STAMPS/initramfs-disk.done"
}

# A small ext4 file system (made without root: mke2fs -d), as the disk boot's IDE disk.
make_disk_image() {   # make_disk_image OUT
	local d=$WORK/ext4-root
	rm -rf "$d"; mkdir -p "$d/dir"
	echo "hvkit ext4 fixture" >"$d/hello.txt"
	echo "a file in a directory" >"$d/dir/file.txt"
	rm -f "$1"
	/usr/sbin/mke2fs -q -F -t ext4 -L hvkit -E root_owner=0:0 -d "$d" "$1" 16M >/dev/null 2>&1 ||
		die "mke2fs -t ext4 -d failed"
}

# ---- 3+4. boots and dumps -------------------------------------------------------------
# boot NAME MODE VMCI(yes|no) KASLR(yes|no) DUMP... where DUMP is FILE:PAGING:FORMAT.
# One boot may give several dumps (of the same kernel instance, seconds apart); each
# dump gets a copy of the boot's serial log as FILE.console. BOOT_INITRD, BOOT_APPEND
# and BOOT_QEMU (an array) change the initramfs, add to the command line, add devices;
# BOOT_DISK names an ext4 image made afresh for the boot (make_disk_image).
BOOT_INITRD='' BOOT_APPEND='' BOOT_DISK='' BOOT_QEMU=()
boot() {
	local name=$1 mode=$2 vmci=$3 kaslr=$4; shift 4
	local sock=$WORK/$name.qmp con=$WORK/$name.console
	local append="console=ttyS0 panic=0 hvkit.mode=$mode${BOOT_APPEND:+ $BOOT_APPEND}"
	[ "$kaslr" = no ] && append+=" nokaslr"
	local dev=("${BOOT_QEMU[@]}")
	[ "$vmci" = yes ] && dev+=(-device vmcoreinfo)
	rm -f "$sock" "$con"
	if [ -n "$BOOT_DISK" ]; then make_disk_image "$BOOT_DISK"; fi
	say "boot $name: $append${dev:+ ${dev[*]}}"
	timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -accel tcg -m "$MEM" -smp 2 -nographic -no-reboot \
		-kernel "$CACHE/vmlinuz" -initrd "${BOOT_INITRD:-$CACHE/initramfs.cpio.gz}" -append "$append" \
		-qmp "unix:$sock,server=on,wait=off" "${dev[@]}" </dev/null >"$con" 2>&1 &
	QEMU_PID=$!
	local pat='HVKIT-READY'
	[ "$mode" = crash ] && pat='Kernel panic|sysrq: Trigger a crash'
	local rc=0
	until grep -Eq "$pat" "$con" 2>/dev/null; do
		if ! kill -0 "$QEMU_PID" 2>/dev/null; then
			wait "$QEMU_PID" || rc=$?
			QEMU_PID=
			cp "$con" "$DUMPS/$name.failed.console"
			[ $rc -eq 124 ] && die "no '$pat' from $name within the ${QEMU_TIMEOUT}s limit; log in $DUMPS/$name.failed.console"
			die "QEMU ($name) exited ($rc) before '$pat'; log in $DUMPS/$name.failed.console"
		fi
		sleep 0.2
	done
	rm -f "$DUMPS/$name.failed.console"
	sleep 1
	[ "$mode" = crash ] && sleep 1   # let the "end Kernel panic" lines out
	"$PY" "$QMP_PY" "$sock" wait --timeout 20 || die "no QMP from QEMU ($name)"
	local d file paging fmt pflag
	for d in "$@"; do
		IFS=: read -r file paging fmt <<<"$d"
		pflag=; [ "$paging" = true ] && pflag=--paging
		local to=$DUMPS/$file.part
		# QEMU 7.2 writes kdump-* in makedumpfile's *flattened* format (for pipes); it
		# is kept as FILE.flat and reassembled into a plain kdump file below.
		case $fmt in kdump-*) to=$DUMPS/$file.flat.part ;; esac
		"$PY" "$QMP_PY" "$sock" dump "$to" $pflag --format "$fmt" --timeout 120 >/dev/null ||
			die "dump-guest-memory $file (paging=$paging format=$fmt) failed"
	done
	"$PY" "$QMP_PY" "$sock" quit || true
	wait "$QEMU_PID" || rc=$?
	QEMU_PID=
	[ $rc -eq 124 ] && die "QEMU ($name) hit the ${QEMU_TIMEOUT}s time limit"
	for d in "$@"; do
		IFS=: read -r file paging fmt <<<"$d"
		local magic
		case $fmt in
		elf)
			magic=$(head -c4 "$DUMPS/$file.part" | tr -d '\0')
			[ "${magic:1:3}" = ELF ] || die "$file is not an ELF file" ;;
		kdump-*)
			[ "$(head -c12 "$DUMPS/$file.flat.part")" = makedumpfile ] ||
				die "$file: QEMU's output is not in makedumpfile's flattened format"
			makedumpfile -R "$DUMPS/$file.part" <"$DUMPS/$file.flat.part" >/dev/null 2>&1 ||
				die "makedumpfile -R (reassembling $file) failed"
			magic=$(head -c8 "$DUMPS/$file.part" | tr -d '\0')
			[ "${magic:0:5}" = KDUMP ] || die "$file has no KDUMP signature"
			chmod 644 "$DUMPS/$file.flat.part"
			mv "$DUMPS/$file.flat.part" "$DUMPS/$file.flat"
			cp "$con" "$DUMPS/$file.flat.console" ;;
		esac
		chmod 644 "$DUMPS/$file.part"   # QEMU makes it 0600; tests may not run as root
		mv "$DUMPS/$file.part" "$DUMPS/$file"
		cp "$con" "$DUMPS/$file.console"
	done
	# The stamp records what each dump is, with the KASLR offset and phys_base from the
	# VMCOREINFO text (the note, or else the kernel's own copy in the dumped memory).
	local info=$WORK/$name.info ko pb
	: >"$info"
	for d in "$@"; do
		IFS=: read -r file paging fmt <<<"$d"
		ko=$(grep -a -m1 -o 'KERNELOFFSET=[0-9a-f]*' "$DUMPS/$file" || true); ko=${ko%%$'\n'*}
		pb=$(grep -a -m1 -o 'NUMBER(phys_base)=-\?[0-9]*' "$DUMPS/$file" || true); pb=${pb%%$'\n'*}
		echo "$file boot=$name mode=$mode vmcoreinfo-device=$vmci kaslr=$kaslr mem=$MEM paging=$paging format=$fmt kerneloffset=0x${ko#*=} phys_base=${pb#*=}" >>"$info"
		case $fmt in kdump-*) echo "$file.flat boot=$name mode=$mode vmcoreinfo-device=$vmci kaslr=$kaslr mem=$MEM paging=$paging format=$fmt-flattened kerneloffset=0x${ko#*=} phys_base=${pb#*=}" >>"$info" ;; esac
	done
	mv "$info" "$STAMPS/boot-$name.done"
}

STEP="getting the kernel"
if ! have_image || ! have_dbg; then
	choose_kernel
	IMG_PKG=linux-image-$KVER DBG_PKG=linux-image-$KVER-dbg
	get=()
	have_image || [ -n "$(deb_of "$IMG_PKG")" ] || get+=("$IMG_PKG")
	have_dbg || [ -n "$(deb_of "$DBG_PKG")" ] || get+=("$DBG_PKG")
	[ ${#get[@]} -eq 0 ] || timed "1a download .debs" download_debs "${get[@]}"
	if ! have_dbg; then
		STEP="extracting the vmlinux"
		spawn "extracting the vmlinux from $DBG_PKG" timed "1c extract vmlinux (bg)" extract_dbg "$(deb_of "$DBG_PKG")"
	fi
	STEP="extracting vmlinuz and the modules"
	have_image || timed "1b extract vmlinuz+modules" extract_image "$(deb_of "$IMG_PKG")"
fi
STEP="building the initramfs"
if [ ! -f "$STAMPS/initramfs.done" ] || [ ! -s "$CACHE/initramfs.cpio.gz" ]; then
	timed "2 initramfs" build_initramfs
fi
STEP="building the disk initramfs"
if [ ! -f "$STAMPS/initramfs-disk.done" ] || [ ! -s "$CACHE/initramfs-disk.cpio.gz" ]; then
	timed "2c disk initramfs" build_disk_initramfs
fi

b() {   # b NAME MODE VMCI KASLR DUMP...: boot (a step of its own) unless done (stamp + every dump)
	local name=$1 d ok=1
	for d in "${@:5}"; do [ -s "$DUMPS/${d%%:*}" ] && [ -s "$DUMPS/${d%%:*}.console" ] || ok=; done
	[ -f "$STAMPS/boot-$name.done" ] && [ -n "$ok" ] && return 0
	rm -f "$STAMPS/boot-$name.done"
	spawn "boot $name" timed "3 boot+dump $name" boot "$@"
}
# The boots run two at a time (each is mostly one busy vCPU thread under TCG).
b idle-vmci   idle  yes yes idle-vmci.elf:false:elf idle-vmci-paging.elf:true:elf idle-vmci.kdump:false:kdump-zlib
b idle-novmci idle  no  yes idle-novmci.elf:false:elf
b idle-nokaslr idle yes no  idle-nokaslr.elf:false:elf
b crash-vmci  crash yes yes crash-vmci.elf:false:elf
b busy-vmci   busy  yes yes busy-vmci.elf:false:elf
# paging=true: drgn 0.0.22 reads only such dumps of this kernel (see the doc)
BOOT_INITRD=$CACHE/initramfs-disk.cpio.gz BOOT_APPEND=rdinit=/init-disk BOOT_DISK=$WORK/ext4.img
BOOT_QEMU=(-drive "file=$BOOT_DISK,format=raw,if=ide,index=0")
b disk-vmci   disk  yes yes disk-vmci-paging.elf:true:elf
BOOT_INITRD='' BOOT_APPEND='' BOOT_DISK='' BOOT_QEMU=()
STEP="booting QEMU"
wait_all   # every dump, and the vmlinux

# ---- the record: crash(8) and drgn on each dump ---------------------------------------
DRGN_PY='
import sys, drgn
from drgn.helpers.linux.pid import for_each_task
from drgn.helpers.linux.sched import task_state_to_char, task_cpu
from drgn.helpers.linux.cpumask import for_each_online_cpu
from drgn.helpers.linux.printk import get_dmesg
from drgn.helpers.linux.percpu import per_cpu
core, vmlinux, kos = sys.argv[1], sys.argv[2], sys.argv[3:]
prog = drgn.Program()
prog.set_core_dump(core)
try:
    prog.load_debug_info([vmlinux] + kos)
except drgn.MissingDebugInfoError as e:
    print("note: %s" % e)
print("== ps")
print("   PID  PPID CPU ST COMM")
n = 0
for t in for_each_task(prog):
    n += 1
    print("%6d %5d %3d %2s %s" % (t.pid, t.real_parent.pid, task_cpu(t), task_state_to_char(t), t.comm.string_().decode()))
print("tasks: %d" % n)
print("== bt -a")
for cpu in for_each_online_cpu(prog):
    curr = per_cpu(prog["runqueues"], cpu).curr
    print("CPU %d: PID %d %s" % (cpu, curr.pid, curr.comm.string_().decode()))
    try:
        print(prog.stack_trace(curr))
    except Exception as e:
        print("  (no stack trace: %s)" % e)
try:
    ct = prog.crashed_thread()
    print("crashed thread: tid %d" % ct.tid)
except Exception as e:
    print("crashed thread: none (%s)" % e)
print("== bt of every task")
for t in for_each_task(prog):
    print("PID %d %s" % (t.pid, t.comm.string_().decode()))
    try:
        print(prog.stack_trace(t))
    except Exception as e:
        print("  (no stack trace: %s)" % e)
print("== log")
log = get_dmesg(prog).decode(errors="replace")
sys.stdout.write(log)
print("log lines: %d" % log.count("\n"))
'
# record TOOL:NAME: NAME.crash.txt (crash's sys, ps, bt -a[, mod, sym -m scsi_mod], log) or
# NAME.drgn.txt (ps, bt of each CPU's current task and of every task, log). A record the
# tests read that the tool cannot make stops the run (kept as NAME.TOOL.failed.txt); another
# is kept as the tool left it (the summary says what it could do).
needed() {   # needed TOOL NAME: the tests read this record
	local n
	if [ "$1" = crash ]; then for n in "${CRASH_NEEDED[@]}"; do [ "$n" = "$2" ] && return 0; done
	else for n in "${DRGN_NEEDED[@]}"; do [ "$n" = "$2" ] && return 0; done; fi
	return 1
}
record() {
	local tool=${1%%:*} n=${1#*:}
	local f=$DUMPS/$n out=$DUMPS/$n.$tool.txt ok=
	rm -f "$DUMPS/$n.$tool.failed.txt"
	if [ "$tool" = crash ]; then
		# the disk dump: crash's `mod` and scsi_mod's symbols too
		local mod=''
		case $n in disk-*) mod='mod\nsym -m scsi_mod\n' ;; esac
		printf "sys\\nps\\nbt -a\\n${mod}log\\nquit\\n" >"$WORK/$n.crash.cmds"
		timeout 300 crash -s "$CACHE/vmlinux" "$f" -i "$WORK/$n.crash.cmds" </dev/null >"$out.part" 2>&1 &&
			grep -q 'PID' "$out.part" && ok=1
	else
		# drgn gets the disk modules' debug info (it cannot unwind a module without it)
		local kos=()
		case $n in disk-*) kos=("$CACHE"/modules/debug/*.ko) ;; esac
		timeout 300 "$PY" -c "$DRGN_PY" "$f" "$CACHE/vmlinux" "${kos[@]}" >"$out.part" 2>&1 && ok=1
	fi
	if [ -z "$ok" ] && needed "$tool" "$n"; then
		mv "$out.part" "$DUMPS/$n.$tool.failed.txt"
		die "$tool could not read $n: $(grep -m1 -E 'crash: |rror|invalid' "$DUMPS/$n.$tool.failed.txt" | cut -c1-120) (its output: $DUMPS/$n.$tool.failed.txt)"
	fi
	mv "$out.part" "$out"
}
summarize() {   # tools-summary.txt: what crash and drgn made of each dump
	local n c d line
	for n in "${DUMP_NAMES[@]}" "${HV_DUMPS[@]}"; do
		[ -s "$DUMPS/$n" ] || continue
		c=$DUMPS/$n.crash.txt d=$DUMPS/$n.drgn.txt line="$n:"
		if [ ! -f "$c" ]; then line+=" crash not run;"
		elif grep -q PID "$c"; then
			line+=" crash opened it: ps $(grep -cE '^[ >]+[0-9]+ +-?[0-9]+ +[0-9]+ ' "$c") tasks, log $(grep -c '^\[ *[0-9]*\.[0-9]*\]' "$c") lines, $(grep -c '^bt: ' "$c") bt errors;"
		else line+=" crash FAILED ($(grep -m1 -E 'crash: |error|invalid' "$c" | cut -c1-100));"
		fi
		if [ ! -f "$d" ]; then line+=" drgn not run"
		elif grep -q '^tasks: ' "$d"; then
			line+=" drgn opened it: $(sed -n 's/^tasks: //p' "$d") tasks, log $(sed -n 's/^log lines: //p' "$d") lines"
		else line+=" drgn FAILED ($(tail -1 "$d" | cut -c1-100))"
		fi
		echo "$line"
	done
}

# ---- 5. hv's own Linux dumps ------------------------------------------------------------
# The vmlinux as a domain of hv (256 MiB, 1 vCPU, no root disk: mount_root panics), with
# on_crash = coredump-preserve: hv sees the panic, writes its kdump-zstd dump into the
# dump-dir, keeps the crashed domain, and `hvctl dump --format elf` writes the ELF one. Under
# kvm_pvm's emulation the boot to the panic takes many minutes (HVKIT_HV_TIMEOUT, default 3600 s);
# cryptomgr.notests skips the crypto self-tests, whose software Diffie-Hellman alone takes
# minutes there (seen live: cryptomgr_test in mpi_powm from dh_compute_value).
hv_panic() {
	local w=$WORK/hv ctl sock t0 hvpid conpid k
	ctl=$(dirname "$HV_BIN")/hvctl
	sock=$w/ctl.sock
	mkdir -p "$w/state" "$w/crash"
	"$HV_BIN" --daemon --socket "$sock" --state-dir "$w/state" --kernel "$CACHE/vmlinux" --mem 256M --vcpus 1 \
		--cmdline "console=ttyS0 panic=0 cryptomgr.notests" --on-crash coredump-preserve >"$w/hv.log" 2>&1 9>&- &
	hvpid=$!
	for _ in $(seq 50); do [ -S "$sock" ] && break; sleep 0.1; done
	HVKIT_SOCKET=$sock "$ctl" setprop config/dump-dir = "$w/crash" >/dev/null
	HVKIT_SOCKET=$sock "$ctl" setprop config/dump-format = kdump-zstd >/dev/null
	HVKIT_SOCKET=$sock "$ctl" refresh >/dev/null
	# (fd 9, the cache's lock, is not theirs: a leftover must not hold it)
	{ sleep 100000 9>&- | HVKIT_SOCKET=$sock "$ctl" console dom0 >"$w/console" 2>&1; } 9>&- &
	conpid=$!
	t0=$(date +%s)
	until HVKIT_SOCKET=$sock "$ctl" list | grep -qE ' dom0 +crashed'; do
		kill -0 "$hvpid" 2>/dev/null || die "hv ended before the Linux domain panicked (see $w/hv.log)"
		[ $(( $(date +%s) - t0 )) -lt "$HV_TIMEOUT" ] || { kill "$hvpid"; cp "$w/console" "$DUMPS/hv-panic.failed.console"; die "the Linux domain did not panic within $HV_TIMEOUT s under hv"; }
		sleep 5
	done
	# the on_crash dump is written in the background: its "dumped" line ends it
	for _ in $(seq 600); do HVKIT_SOCKET=$sock "$ctl" dmesg | grep -q 'dom0: crash dump written\|dumped to' && break; sleep 1; done
	k=$(ls -t "$w/crash"/* 2>/dev/null | grep -v partial | head -1)
	[ -n "$k" ] || die "hv wrote no on_crash dump (see $w/hv.log)"
	HVKIT_SOCKET=$sock "$ctl" dump dom0 "$w/hv-panic.elf" --format elf >/dev/null
	HVKIT_SOCKET=$sock "$ctl" dmesg >"$DUMPS/hv-panic.hvlog.part"
	kill "$hvpid" 2>/dev/null || true
	wait "$hvpid" 2>/dev/null || true
	kill "$conpid" 2>/dev/null || true
	pkill -P "$conpid" 2>/dev/null || true
	mv "$k" "$DUMPS/hv-panic.kdump"
	mv "$w/hv-panic.elf" "$DUMPS/hv-panic.elf"
	cp "$w/console" "$DUMPS/hv-panic.console"
	mv "$DUMPS/hv-panic.hvlog.part" "$DUMPS/hv-panic.hvlog"
	echo "hv-panic seconds=$(( $(date +%s) - t0 ))" >"$STAMPS/hv-panic.done"
}
STEP="booting the vmlinux under hv to its panic"
if want_hv && ! has_hv; then
	[ -x "$HV_BIN" ] || die "HVKIT_FIXTURE_HV=1 needs hv built ($HV_BIN: make)"
	say "booting the vmlinux under hv to its panic (many minutes under emulation)"
	spawn "booting the vmlinux under hv" timed "5 hv boot to panic" hv_panic
fi

STEP="running crash and drgn on the dumps"
for r in $(wanted_records); do
	record_done "$r" || spawn "the ${r%%:*} record of ${r#*:}" timed "4 record ${r%%:*} ${r#*:}" record "$r"
done
wait_all
for r in $(wanted_records); do   # (hv's dumps, when step 5 ran beside the others)
	record_done "$r" || spawn "the ${r%%:*} record of ${r#*:}" timed "4 record ${r%%:*} ${r#*:}" record "$r"
done
wait_all
summarize >"$DUMPS/tools-summary.txt.part"
mv "$DUMPS/tools-summary.txt.part" "$DUMPS/tools-summary.txt"

STEP="finishing"
for n in idle-vmci idle-novmci idle-nokaslr crash-vmci busy-vmci disk-vmci; do cat "$STAMPS/boot-$n.done"; done >"$DUMPS/manifest.txt.part"
mv "$DUMPS/manifest.txt.part" "$DUMPS/manifest.txt"
for f in $(fixture_files); do [ -s "$f" ] || die "fixture incomplete after the run: $f is missing"; done
if have_image && have_dbg; then rm -f "$CACHE"/debs/*.deb; fi   # the big .debs are not needed again
if [ -s "$WORK/timings.txt" ]; then   # this run built something: its timings replace the last
	awk -v a="$T_START" -v b="$(date +%s.%N)" -v m="$MODE" 'BEGIN{printf "%-30s %7.1f s\n", "total (" m ")", b-a}' >>"$WORK/timings.txt"
	mv "$WORK/timings.txt" "$CACHE/timings.txt"
fi
touch "$STAMPS/complete"
rm -f "$CACHE/failed"
trap - ERR
summary
