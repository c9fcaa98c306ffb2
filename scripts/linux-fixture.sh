#!/usr/bin/env bash
# linux-fixture: makes Linux crash-dump test fixtures outside the repo, in
#   ${HVKIT_CACHE:-$HOME/.cache/hvkit}/linux
# from Debian 12's cloud kernel (image + -dbg vmlinux), a busybox initramfs, and QEMU
# (TCG) dump-guest-memory dumps. See docs/linux-fixture.md.
#
#   scripts/linux-fixture.sh           build what is missing (fast when complete)
#   scripts/linux-fixture.sh --check   exit 0 iff the fixture is complete; does no work
#
# Environment: HVKIT_CACHE (cache root), HVKIT_LINUX_KVER (pin a kernel, e.g.
# 6.1.0-56-cloud-amd64; default: the newest 6.1.0-NN-cloud-amd64 with a -dbg package,
# chosen once per cache and then kept), HVKIT_QEMU_TIMEOUT (seconds per QEMU run, default 180).
# Exit status: 0 complete; 1 on failure, with one "linux-fixture: ..." line on stderr.
set -eEuo pipefail

T_START=$(date +%s.%N)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=${HVKIT_CACHE:-$HOME/.cache/hvkit}/linux
DUMPS=$CACHE/dumps
STAMPS=$CACHE/stamps
QMP_PY=$HERE/qmp.py
PY=/usr/bin/python3
QEMU_TIMEOUT=${HVKIT_QEMU_TIMEOUT:-180}

# Every dump the fixture promises; tests rely on these names.
DUMP_NAMES=(idle-vmci.elf idle-vmci-paging.elf idle-vmci.kdump idle-vmci.kdump.flat idle-novmci.elf
            idle-nokaslr.elf crash-vmci.elf busy-vmci.elf)
# Added later, so not part of --check (a cache made before them still counts as complete;
# the tests that need one skip without it), but made by a run when missing.
EXTRA_DUMPS=(disk-vmci-paging.elf)
# hv's own dumps of the vmlinux booted as a domain of hv to its panic (step 5): made when
# hv is built (HVKIT_HV, default build/hv), not part of --check either.
HV_DUMPS=(hv-panic.kdump hv-panic.elf)
HV_BIN=${HVKIT_HV:-$HERE/../build/hv}
HV_TIMEOUT=${HVKIT_HV_TIMEOUT:-3600}
# The modules the disk boot loads, in load order, and where they are in the image .deb.
DISK_MODULES="drivers/scsi/scsi_common drivers/scsi/scsi_mod drivers/ata/libata drivers/ata/ata_piix drivers/scsi/sd_mod"

die() { echo "linux-fixture: $*" >&2; exit 1; }
say() { echo "linux-fixture: $*"; }

# Every file a complete fixture has (the tool transcripts are optional).
fixture_files() {
	echo "$CACHE/vmlinuz" "$CACHE/vmlinux" "$CACHE/version" "$CACHE/initramfs.cpio.gz" "$DUMPS/manifest.txt"
	local n
	for n in "${DUMP_NAMES[@]}"; do echo "$DUMPS/$n" "$DUMPS/$n.console"; done
}

is_complete() {
	[ -f "$STAMPS/complete" ] || return 1
	local f
	for f in $(fixture_files); do [ -s "$f" ] || return 1; done
	return 0
}

has_extras() {   # every extra dump and its log are there (hv's: when hv is built)
	local n
	for n in "${EXTRA_DUMPS[@]}"; do [ -s "$DUMPS/$n" ] && [ -s "$DUMPS/$n.console" ] || return 1; done
	[ -x "$HV_BIN" ] || return 0
	for n in "${HV_DUMPS[@]}"; do [ -s "$DUMPS/$n" ] || return 1; done
	[ -s "$DUMPS/hv-panic.console" ]
}

case "${1:-}" in
--check)
	if is_complete; then echo "$CACHE"; exit 0; fi
	echo "linux-fixture: not complete in $CACHE (run scripts/linux-fixture.sh)" >&2
	exit 1 ;;
-h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
"") ;;
*) die "unknown argument '$1' (use --check or nothing)" ;;
esac

summary() {
	say "kernel $(cat "$CACHE/version") in $CACHE"
	ls -l "$CACHE/vmlinuz" "$CACHE/vmlinux" "$CACHE/initramfs.cpio.gz" | awk '{printf "  %12s  %s\n", $5, $NF}'
	local n
	for n in "${DUMP_NAMES[@]}" "${EXTRA_DUMPS[@]}"; do
		if [ -f "$DUMPS/$n" ]; then printf '  %12s  %s\n' "$(stat -c %s "$DUMPS/$n")" "$DUMPS/$n"; fi
	done
	[ -f "$DUMPS/manifest.txt" ] && { echo "  manifest ($DUMPS/manifest.txt):"; sed 's/^/    /' "$DUMPS/manifest.txt"; }
	[ -f "$DUMPS/tools-summary.txt" ] && { echo "  tools:"; sed 's/^/    /' "$DUMPS/tools-summary.txt"; }
	[ -f "$CACHE/timings.txt" ] && { echo "  timings (the last run that built something):"; sed 's/^/    /' "$CACHE/timings.txt"; }
	return 0
}

if is_complete && has_extras && [ -f "$STAMPS/tools.done" ]; then summary; exit 0; fi

mkdir -p "$CACHE" "$DUMPS" "$STAMPS" 2>/dev/null || die "cannot create $CACHE"
exec 9>"$CACHE/.lock"
flock 9 || die "cannot lock $CACHE/.lock"
if is_complete && has_extras && [ -f "$STAMPS/tools.done" ]; then summary; exit 0; fi   # another run finished it meanwhile

WORK=$(mktemp -d /tmp/hvkit-linux-fixture.XXXXXX)   # short path: QMP socket name limit
QEMU_PID=
cleanup() {
	if [ -n "$QEMU_PID" ] && kill -0 "$QEMU_PID" 2>/dev/null; then kill "$QEMU_PID" 2>/dev/null || true; fi
	rm -rf "$WORK"
	rm -rf "$CACHE"/*.part "$DUMPS"/*.part
}
trap cleanup EXIT
STEP="starting"
trap '[ "$BASH_SUBSHELL" -eq 0 ] || exit 1; die "failed during: $STEP (line $LINENO)"' ERR

timed() {   # timed NAME CMD...: run CMD, note its duration for timings.txt
	local name=$1 t0 t1; shift
	t0=$(date +%s.%N)
	"$@"
	t1=$(date +%s.%N)
	awk -v n="$name" -v a="$t0" -v b="$t1" 'BEGIN{printf "%-30s %7.1f s\n", n, b-a}' >>"$WORK/timings.txt"
}

# ---- packages --------------------------------------------------------------------------
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
APT_UPDATED=
apt_update() {
	[ -n "$APT_UPDATED" ] && return 0
	APT_UPDATED=1
	DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null 2>&1 || true
}
install_pkgs() {   # install_pkgs required|optional PKG...
	local kind=$1 p missing=(); shift
	for p in "$@"; do have_pkg "$p" || missing+=("$p"); done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		[ "$kind" = required ] && die "needs Debian packages ${missing[*]}; as root: apt-get install ${missing[*]}"
		say "note: optional packages missing (${missing[*]}), not root: skipping them"
		return 0
	fi
	say "installing ${missing[*]}"
	apt_update
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
		[ "$kind" = required ] && die "apt-get install ${missing[*]} failed"
		say "note: could not install ${missing[*]}"
	fi
	return 0
}
STEP="installing packages"
install_pkgs required qemu-system-x86 busybox-static makedumpfile dpkg tar gzip e2fsprogs
install_pkgs optional crash python3-drgn
[ -x "$PY" ] || die "$PY is missing (apt-get install python3)"

# ---- 1. kernel ------------------------------------------------------------------------
pick_kernel() {
	local p best=
	for p in $(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-cloud-amd64-dbg$' 2>/dev/null |
	           awk '{print $1}' | sed 's/-dbg$//' | sort -V); do
		apt-cache show "$p" >/dev/null 2>&1 && best=$p
	done
	echo "${best#linux-image-}"
}

get_kernel() {
	local kver=${HVKIT_LINUX_KVER:-}
	[ -z "$kver" ] && [ -s "$CACHE/debs/kver" ] && kver=$(cat "$CACHE/debs/kver")
	if [ -z "$kver" ]; then
		kver=$(pick_kernel)
		if [ -z "$kver" ] && [ "$(id -u)" = 0 ]; then apt_update; kver=$(pick_kernel); fi
		[ -n "$kver" ] || die "no linux-image-6.1.0-NN-cloud-amd64 with a -dbg package in apt (run apt-get update?)"
	fi
	say "kernel $kver"
	mkdir -p "$CACHE/debs"
	echo "$kver" >"$CACHE/debs/kver"
	local img=linux-image-$kver dbg=linux-image-$kver-dbg
	local img_deb dbg_deb
	img_deb=$(ls "$CACHE"/debs/"${img}"_*.deb 2>/dev/null | head -1 || true)
	dbg_deb=$(ls "$CACHE"/debs/"${dbg}"_*.deb 2>/dev/null | head -1 || true)
	# A .deb left by an interrupted download fails dpkg-deb --info and is fetched again.
	if [ -z "$img_deb" ] || ! dpkg-deb --info "$img_deb" >/dev/null 2>&1 ||
	   [ -z "$dbg_deb" ] || ! dpkg-deb --info "$dbg_deb" >/dev/null 2>&1; then
		timed "1a download .debs" download_debs "$img" "$dbg"
		img_deb=$(ls "$CACHE"/debs/"${img}"_*.deb | head -1)
		dbg_deb=$(ls "$CACHE"/debs/"${dbg}"_*.deb | head -1)
	fi
	timed "1b extract vmlinuz+vmlinux" extract_kernel "$kver" "$img_deb" "$dbg_deb"
	rm -f "$STAMPS/initramfs-disk.done"
	timed "1c extract disk modules" extract_disk_modules "$kver" "$img_deb" "$dbg_deb"
	rm -f "$img_deb" "$dbg_deb"   # extraction succeeded: the big .debs are not needed again
}

download_debs() {   # download_debs PKG...
	rm -f "$CACHE"/debs/*.deb
	say "downloading $* (~310 MB)"
	(cd "$CACHE/debs" && apt-get download "$@" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2) ||
		die "apt-get download $* failed"
}

extract_kernel() {   # extract_kernel KVER IMAGE.deb DBG.deb
	local kver=$1 img_deb=$2 dbg_deb=$3 x=$CACHE/extract.part
	rm -rf "$x"; mkdir -p "$x"
	dpkg-deb --fsys-tarfile "$img_deb" | tar -x -C "$x" "./boot/vmlinuz-$kver" "./boot/config-$kver" \
		"./lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko" ||
		die "extracting vmlinuz from $img_deb failed"
	# Only the vmlinux: the -dbg package also holds ~1.1 GB of module debug info.
	dpkg-deb --fsys-tarfile "$dbg_deb" | tar -x -C "$x" "./usr/lib/debug/boot/vmlinux-$kver" ||
		die "extracting vmlinux from $dbg_deb failed"
	[ "$(head -c4 "$x/usr/lib/debug/boot/vmlinux-$kver" | od -An -c | tr -d ' ')" = '177ELF' ] ||
		die "extracted vmlinux is not an ELF file"
	mv "$x/boot/vmlinuz-$kver" "$CACHE/vmlinuz"
	mv "$x/usr/lib/debug/boot/vmlinux-$kver" "$CACHE/vmlinux"
	mv "$x/boot/config-$kver" "$CACHE/config"
	mv "$x/lib/modules/$kver/kernel/drivers/firmware/qemu_fw_cfg.ko" "$CACHE/qemu_fw_cfg.ko"
	rm -rf "$x"
	echo "$kver" >"$CACHE/version"
	dpkg-deb -f "$img_deb" Package Version | paste -sd' ' >"$CACHE/package"
	touch "$STAMPS/kernel.done"
}
# The disk boot's modules (see 2b below).
get_disk_modules() {
	local kver
	kver=$(cat "$CACHE/version")
	rm -rf "$WORK/deb"; mkdir -p "$WORK/deb"
	say "downloading linux-image-$kver and its -dbg again for the disk modules (~310 MB)"
	(cd "$WORK/deb" && apt-get download "linux-image-$kver" "linux-image-$kver-dbg" 2>&1 |
		grep -v '^W: Download is performed unsandboxed' >&2) || die "apt-get download linux-image-$kver(-dbg) failed"
	extract_disk_modules "$kver" "$(ls "$WORK"/deb/linux-image-"$kver"_*.deb | head -1)" \
		"$(ls "$WORK"/deb/linux-image-"$kver"-dbg_*.deb | head -1)"
	rm -rf "$WORK/deb"
}

extract_disk_modules() {   # extract_disk_modules KVER IMAGE.deb DBG.deb
	local kver=$1 img_deb=$2 dbg_deb=$3 m x=$CACHE/modules.part
	rm -rf "$x"; mkdir -p "$x"
	local paths=() dpaths=()
	for m in $DISK_MODULES; do
		paths+=("./lib/modules/$kver/kernel/$m.ko")
		dpaths+=("./usr/lib/debug/lib/modules/$kver/kernel/$m.ko")
	done
	dpkg-deb --fsys-tarfile "$img_deb" | tar -x -C "$x" "${paths[@]}" || die "extracting the disk modules from $img_deb failed"
	dpkg-deb --fsys-tarfile "$dbg_deb" | tar -x -C "$x" "${dpaths[@]}" ||
		die "extracting the disk modules' debug info from $dbg_deb failed"
	rm -rf "$CACHE/modules"
	mkdir -p "$CACHE/modules/debug"
	for m in $DISK_MODULES; do
		mv "$x/lib/modules/$kver/kernel/$m.ko" "$CACHE/modules/"
		mv "$x/usr/lib/debug/lib/modules/$kver/kernel/$m.ko" "$CACHE/modules/debug/"
	done
	rm -rf "$x"
	touch "$STAMPS/modules.done"
}

STEP="getting the kernel"
if [ ! -f "$STAMPS/kernel.done" ] || [ ! -s "$CACHE/vmlinux" ] || [ ! -s "$CACHE/vmlinuz" ]; then
	rm -f "$STAMPS/kernel.done" "$STAMPS/initramfs.done"
	get_kernel
fi

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
STEP="building the initramfs"
if [ ! -f "$STAMPS/initramfs.done" ] || [ ! -s "$CACHE/initramfs.cpio.gz" ]; then
	timed "2 initramfs" build_initramfs
fi

# ---- 2b. the disk boot's modules and initramfs ----------------------------------------
# The disk boot mounts an ext4 image from QEMU's IDE disk, which in this kernel needs
# modules (ext4, jbd2, mbcache, crc16 and crc32c are built in; libata, ata_piix, scsi_mod,
# sd_mod are =m): its SCSI error-handler threads then sleep in module code. The modules
# come from the image .deb and their debug info (modules/debug/, for drgn, which cannot
# unwind a module without it) from the -dbg .deb (~30 s to read its xz stream): in the
# kernel step, or for a cache made before the disk boot, from both .debs fetched again.
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

STEP="getting the disk modules"
if [ ! -f "$STAMPS/modules.done" ] || [ ! -d "$CACHE/modules" ]; then
	rm -f "$STAMPS/initramfs-disk.done"
	timed "2b disk modules" get_disk_modules
fi
STEP="building the disk initramfs"
if [ ! -f "$STAMPS/initramfs-disk.done" ] || [ ! -s "$CACHE/initramfs-disk.cpio.gz" ]; then
	timed "2c disk initramfs" build_disk_initramfs
fi

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
	timeout "$QEMU_TIMEOUT" qemu-system-x86_64 -accel tcg -m 512M -smp 2 -nographic -no-reboot \
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
		echo "$file boot=$name mode=$mode vmcoreinfo-device=$vmci kaslr=$kaslr paging=$paging format=$fmt kerneloffset=0x${ko#*=} phys_base=${pb#*=}" >>"$info"
		case $fmt in kdump-*) echo "$file.flat boot=$name mode=$mode vmcoreinfo-device=$vmci kaslr=$kaslr paging=$paging format=$fmt-flattened kerneloffset=0x${ko#*=} phys_base=${pb#*=}" >>"$info" ;; esac
	done
	mv "$info" "$STAMPS/boot-$name.done"
	rm -f "$STAMPS/tools.done"   # the crash/drgn record is redone for new dumps
}

b() {   # b NAME MODE VMCI KASLR DUMP...: boot unless done (stamp + every dump present)
	local name=$1 d ok=1
	for d in "${@:5}"; do [ -s "$DUMPS/${d%%:*}" ] || ok=; done
	[ -f "$STAMPS/boot-$name.done" ] && [ -n "$ok" ] && return 0
	STEP="boot $name"
	timed "3 boot+dump $name" boot "$@"
}
need=$(( 4 * 1024 * 1024 ))   # KiB: the dumps take ~3.4 GB
avail=$(df -Pk "$DUMPS" | awk 'NR==2{print $4}')
[ "$avail" -ge "$need" ] || [ -f "$STAMPS/boot-idle-vmci.done" ] || die "need 4 GB free in $DUMPS (have $((avail / 1024)) MB)"

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
# A dump's record is made once: kept while NAME.crash.txt and NAME.drgn.txt are newer than
# the dump and tools-summary.txt has its line.
record_tools() {
	local sum=$DUMPS/tools-summary.txt n out old
	: >"$sum.part"
	for n in "${DUMP_NAMES[@]}" "${EXTRA_DUMPS[@]}" "${HV_DUMPS[@]}"; do
		local f=$DUMPS/$n line="$n:"
		[ -s "$f" ] || continue   # hv's, when hv is not built
		old=$(grep -m1 "^$n: " "$sum" 2>/dev/null || true)
		if [ -n "$old" ] && [ "$DUMPS/$n.crash.txt" -nt "$f" ] && [ "$DUMPS/$n.drgn.txt" -nt "$f" ]; then
			echo "$old" >>"$sum.part"
			continue
		fi
		# the disk dump: crash's `mod` and scsi_mod's symbols too; drgn gets the modules' debug info
		local crash_mod='' drgn_kos=()
		case $n in disk-*) crash_mod='mod\nsym -m scsi_mod\n'; drgn_kos=("$CACHE"/modules/debug/*.ko) ;; esac
		if command -v crash >/dev/null; then
			out=$DUMPS/$n.crash.txt
			printf "sys\\nps\\nbt -a\\n${crash_mod}log\\nquit\\n" >"$WORK/crash.cmds"
			if timeout 300 crash -s "$CACHE/vmlinux" "$f" -i "$WORK/crash.cmds" </dev/null >"$out" 2>&1 &&
			   grep -q 'PID' "$out"; then
				line+=" crash opened it: ps $(grep -cE '^[ >]+[0-9]+ +-?[0-9]+ +[0-9]+ ' "$out") tasks, log $(grep -c '^\[ *[0-9]*\.[0-9]*\]' "$out") lines, $(grep -c '^bt: ' "$out") bt errors;"
			else
				line+=" crash FAILED ($(grep -m1 -E 'crash: |error|invalid' "$out" | cut -c1-100));"
			fi
		else
			line+=" crash not installed;"
		fi
		if "$PY" -c 'import drgn' 2>/dev/null; then
			out=$DUMPS/$n.drgn.txt
			if timeout 300 "$PY" -c "$DRGN_PY" "$f" "$CACHE/vmlinux" "${drgn_kos[@]}" >"$out" 2>&1; then
				line+=" drgn opened it: $(sed -n 's/^tasks: //p' "$out") tasks, log $(sed -n 's/^log lines: //p' "$out") lines"
			else
				line+=" drgn FAILED ($(tail -1 "$out" | cut -c1-100))"
			fi
		else
			line+=" drgn not installed"
		fi
		echo "$line" >>"$sum.part"
	done
	mv "$sum.part" "$sum"
	touch "$STAMPS/tools.done"
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
	rm -f "$STAMPS/tools.done"   # the crash/drgn record is redone for the new dumps
}
STEP="booting the vmlinux under hv to its panic"
if [ -x "$HV_BIN" ] && { [ ! -s "$DUMPS/hv-panic.kdump" ] || [ ! -s "$DUMPS/hv-panic.elf" ]; }; then
	say "booting the vmlinux under hv to its panic (many minutes under emulation)"
	timed "5 hv boot to panic" hv_panic
fi

STEP="running crash and drgn on the dumps"
if [ ! -f "$STAMPS/tools.done" ]; then
	timed "4 crash+drgn record" record_tools || say "note: the crash/drgn record failed (not fatal)"
fi

STEP="finishing"
for n in idle-vmci idle-novmci idle-nokaslr crash-vmci busy-vmci disk-vmci; do cat "$STAMPS/boot-$n.done"; done >"$DUMPS/manifest.txt"
for f in $(fixture_files); do [ -s "$f" ] || die "fixture incomplete after the run: $f is missing"; done
if [ -s "$WORK/timings.txt" ]; then   # this run built something: its timings replace the last
	awk -v a="$T_START" -v b="$(date +%s.%N)" 'BEGIN{printf "%-30s %7.1f s\n", "total", b-a}' >>"$WORK/timings.txt"
	mv "$WORK/timings.txt" "$CACHE/timings.txt"
fi
touch "$STAMPS/complete"
trap - ERR
summary
