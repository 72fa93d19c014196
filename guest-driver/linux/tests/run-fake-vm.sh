#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boots a throw-away guest that tests virtio_sst.ko against the software
# device tests/sst_fake.ko (no virtio-sst QEMU device needed).
#
#   run-fake-vm.sh --kernel VMLINUZ --kdir HEADERS --apps BINDIR [options]
#
# --modules DIR   kernel modules tree of that kernel (lib/modules/<release>),
#                 for virtio.ko/virtio_ring.ko when they are modules
# --qemu BIN      default qemu-system-x86_64
# --smp N         guest CPUs (default 2), --timeout S (default 900)
# --work DIR      scratch folder (default a temp dir, removed)
# Prints the guest's VSST-RESULT lines; exit 0 iff the guest's summary has
# fail=0. Exit 77 (skip) when QEMU or the kernel is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)

kernel="" kdir="" apps="" modules="" qemu=qemu-system-x86_64 smp=2 timeout_s=900 work=""
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--kdir) kdir=$2; shift 2 ;;
	--apps) apps=$2; shift 2 ;;
	--modules) modules=$2; shift 2 ;;
	--qemu) qemu=$2; shift 2 ;;
	--smp) smp=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--work) work=$2; shift 2 ;;
	*) echo "run-fake-vm.sh: unknown argument $1" >&2; exit 2 ;;
	esac
done
skip() { echo "SKIP: $*" >&2; exit 77; }
[ -n "$kernel" ] && [ -f "$kernel" ] || skip "no guest kernel (--kernel)"
command -v "$qemu" >/dev/null || skip "no $qemu"
[ -n "$kdir" ] && [ -f "$kdir/Makefile" ] || skip "no kernel headers (--kdir)"
for b in sst-test sst-bench; do
	[ -x "$apps/$b" ] || { echo "run-fake-vm.sh: $apps/$b missing" >&2; exit 2; }
done
busybox=$(command -v busybox) || skip "no busybox"

if [ -z "$work" ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/sst-fake-vm.XXXXXX")
	trap 'rm -rf "$work"' EXIT
fi
mkdir -p "$work"
"$here/../build.sh" --kdir "$kdir" --out "$work/ko" --with-fake >"$work/build.log" 2>&1 || {
	cat "$work/build.log" >&2
	exit 1
}
cc -static -pthread -O2 -Wall -Wextra -Werror -I"$root/protocol/include" -I"$root/guest-driver/include" \
	"$here/sst_fault_test.c" -o "$work/sst_fault_test"

rd=$work/initramfs
rm -rf "$rd"
mkdir -p "$rd/bin" "$rd/lib/modules" "$rd/dev" "$rd/proc" "$rd/sys" "$rd/tmp"
cp "$busybox" "$rd/bin/busybox"
cp "$apps/sst-test" "$apps/sst-bench" "$work/sst_fault_test" "$rd/bin/"
cp "$work/ko/virtio_sst.ko" "$work/ko/sst_fake.ko" "$rd/lib/modules/"
if [ -n "$modules" ]; then
	for m in virtio virtio_ring; do
		f=$(find "$modules" -name "$m.ko*" | head -1)
		[ -n "$f" ] || continue
		case "$f" in
		*.xz) xz -dc "$f" >"$rd/lib/modules/$m.ko" ;;
		*.zst) zstd -qdc "$f" >"$rd/lib/modules/$m.ko" ;;
		*) cp "$f" "$rd/lib/modules/$m.ko" ;;
		esac
	done
fi
install -m 0755 "$here/fake-vm-init.sh" "$rd/init"
(cd "$rd" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

log=$work/serial.log
echo "run-fake-vm.sh: booting $(basename "$kernel") with $smp CPUs (log $log)" >&2
timeout "$timeout_s" "$qemu" -machine pc -accel tcg -cpu max -smp "$smp" -m 1024 \
	-nodefaults -display none -serial stdio -no-reboot -kernel "$kernel" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 quiet loglevel=4" >"$log" 2>&1 || true
grep -a -E '^(VSST-|sst-|VSST-BENCH)' "$log" | tr -d '\r' || true
summary=$(grep -a '^VSST-RESULT summary ' "$log" | tr -d '\r' | tail -1)
if [ -z "$summary" ]; then
	echo "run-fake-vm.sh: no summary from the guest; serial log tail:" >&2
	tail -40 "$log" >&2
	exit 1
fi
case "$summary" in *" fail=0"*) exit 0 ;; *) exit 1 ;; esac
