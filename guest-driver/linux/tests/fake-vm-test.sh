#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# fake-vm-test.sh <apps bin dir> <images dir> <qemu>
# CTest wrapper of run-fake-vm.sh: boots the project's guest kernel
# ($VSST_IMAGES/vmlinuz, its modules taken from the image's initramfs) in
# QEMU with virtio_sst.ko and the software device sst_fake.ko, and runs the
# driver checks there. Environment variables VSST_BIN, VSST_IMAGES and
# VSST_QEMU override the arguments. Exit 77 when the kernel image, its
# headers or QEMU are missing (a failure when VSST_REQUIRE_ALL=1).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
apps=${VSST_BIN:-$1}
images=${VSST_IMAGES:-$2}
qemu=${VSST_QEMU:-$3}

missing() {
	if [ "${VSST_REQUIRE_ALL:-0}" = 1 ]; then echo "FAIL: $*"; exit 1; fi
	echo "SKIP: $*"
	exit 77
}
[ -x "$qemu" ] || qemu=$(command -v qemu-system-x86_64 || true)
[ -n "$qemu" ] || missing "no QEMU (neither \$VSST_QEMU nor qemu-system-x86_64)"
[ -f "$images/vmlinuz" ] && [ -f "$images/kernel-version" ] ||
	missing "no guest kernel in $images (./vsst images)"
kver=$(cat "$images/kernel-version")
kdir=/usr/src/linux-headers-$kver
[ -f "$kdir/Makefile" ] || missing "no headers for $kver in $kdir"

work=$(mktemp -d "${TMPDIR:-/tmp}/sst-fake-vm-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
modules=""
if [ -f "$images/initramfs.cpio.gz" ]; then
	mkdir -p "$work/image"
	(cd "$work/image" && gzip -dc "$images/initramfs.cpio.gz" | cpio -id --quiet 2>/dev/null) || true
	[ -d "$work/image/lib/modules/$kver" ] && modules=$work/image/lib/modules/$kver
fi
exec "$here/run-fake-vm.sh" --kernel "$images/vmlinuz" --kdir "$kdir" --apps "$apps" \
	${modules:+--modules "$modules"} --qemu "$qemu" --work "$work/vm" --timeout 900
