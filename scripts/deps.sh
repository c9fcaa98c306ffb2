#!/usr/bin/env bash
# deps: installs the Debian packages hvkit needs to build, test and benchmark.
# As root it runs apt-get; otherwise it prints the apt-get line to run and fails.
set -euo pipefail
pkgs=(gcc make binutils libc6-dev pkg-config acpica-tools
      libelf-dev libdwarf-dev libcapstone-dev libreadline-dev
      libzstd-dev liblz4-dev zlib1g-dev liblzo2-dev libsnappy-dev libxxhash-dev libsqlite3-dev libcmocka-dev libssl-dev
      python3 python3-pytest python3-pexpect qemu-system-x86 qemu-utils time clang libclang-rt-14-dev openssl iproute2 gdb
      busybox-static makedumpfile crash python3-drgn xz-utils e2fsprogs)   # (the last: the Linux fixture)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
line="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "hvkit needs these Debian packages; run as root:" >&2
	echo "  apt-get update && $line" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
