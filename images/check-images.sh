#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Checks a built image set without booting it: kernel and modules agree on the
# version, every module /init loads is in the initramfs, the disk holds the
# file whose checksum /init verifies, the tools are static.
# usage: check-images.sh [IMAGES_DIR]   (default $VSST_IMAGES)
# Exit 0 pass, 1 fail, 77 skip (no images; a failure when VSST_REQUIRE_ALL=1).
set -uo pipefail

IMAGES=${VSST_IMAGES:-${1:-}}
FAILS=0
say() { printf 'check-images: %s\n' "$*"; }
bad() { say "FAIL: $*"; FAILS=$((FAILS + 1)); }
# Missing parts built by other components: fatal only in a full test run.
incomplete() {
	if [ "${VSST_REQUIRE_ALL:-0}" = 1 ]; then bad "$*"; else say "WARNING: $*"; fi
}

for f in vmlinuz initramfs.cpio.gz disk.img kernel-version; do
	if [ -z "$IMAGES" ] || [ ! -s "$IMAGES/$f" ]; then
		if [ "${VSST_REQUIRE_ALL:-0}" = 1 ]; then say "FAIL: no $IMAGES/$f"; exit 1; fi
		printf '\n*** SKIP: no image at %s/%s (run ./vsst images) ***\n\n' "$IMAGES" "$f"
		exit 77
	fi
done

KVER=$(cat "$IMAGES/kernel-version")
[[ "$KVER" =~ ^[0-9]+\.[0-9]+\.[0-9]+-[0-9]+-amd64$ ]] || bad "kernel-version '$KVER' is malformed"
# bzImage boot protocol magic "HdrS" at 0x202.
[ "$(dd if="$IMAGES/vmlinuz" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] ||
	bad "vmlinuz is not a bzImage"

ROOT=$(mktemp -d "${TMPDIR:-/tmp}/vsst-check-images.XXXXXX") || exit 1
trap 'rm -rf "$ROOT"' EXIT
(cd "$ROOT" && gzip -dc "$IMAGES/initramfs.cpio.gz" | cpio -idm --quiet) ||
	{ bad "initramfs.cpio.gz does not unpack"; exit 1; }

for f in init bin/busybox bin/sh etc/vsst/modules.order etc/vsst/disk.sha256 etc/vsst/build-info; do
	[ -e "$ROOT/$f" ] || bad "initramfs lacks /$f"
done
[ -x "$ROOT/init" ] || bad "/init is not executable"
sh -n "$ROOT/init" || bad "/init has a syntax error"

static() { local h; h=$(readelf -l "$1" 2>/dev/null); ! grep -q 'Requesting program interpreter' <<<"$h"; }
static "$ROOT/bin/busybox" || bad "busybox is not static"

MODDIR=$ROOT/lib/modules/$KVER
[ -d "$MODDIR" ] || bad "initramfs has no lib/modules/$KVER"
nmods=0
while read -r rel; do
	rel=${rel#\?}
	[ -n "$rel" ] || continue
	nmods=$((nmods + 1))
	if [ ! -f "$MODDIR/$rel" ]; then bad "module $rel listed but missing"; continue; fi
	magic=$(modinfo -F vermagic "$MODDIR/$rel" | cut -d' ' -f1)
	[ "$magic" = "$KVER" ] || bad "module $rel is for '$magic', kernel is $KVER"
done <"$ROOT/etc/vsst/modules.order"
for m in virtio_pci virtio_rng virtio_blk ext4 9p 9pnet_virtio; do
	grep -Eq "/${m//_/[-_]}\.ko$" "$ROOT/etc/vsst/modules.order" || bad "modules.order lacks $m"
done
grep -q '/virtio_sst\.ko$' "$ROOT/etc/vsst/modules.order" ||
	incomplete "virtio_sst.ko is not in the image (see ./vsst images)"

for a in sst-test sst-bench; do
	if [ ! -f "$ROOT/usr/bin/$a" ]; then
		incomplete "$a is not in the image"
	elif ! static "$ROOT/usr/bin/$a"; then
		say "note: $a is dynamic (its libraries were copied in)"
	fi
done

# The host's C/C++ runtime (--share programs built with plain gcc/g++): the
# loader at its ABI path, the libraries at their multiarch paths, and the
# versions the image says it carries are the host's.
for f in lib64/ld-linux-x86-64.so.2 lib/x86_64-linux-gnu/libc.so.6 lib/x86_64-linux-gnu/libm.so.6 \
	lib/x86_64-linux-gnu/libgcc_s.so.1 usr/lib/x86_64-linux-gnu/libstdc++.so.6; do
	[ -e "$ROOT/$f" ] || bad "initramfs lacks /$f (host runtime libraries)"
done
if command -v dpkg-query >/dev/null; then
	for p in libc6 libstdc++6 libgcc-s1; do
		want="$p=$(dpkg-query -W -f='${Version}' "$p:$(dpkg --print-architecture)" 2>/dev/null)"
		grep -q "^host_runtime=.*$want " "$ROOT/etc/vsst/build-info" ||
			incomplete "the image's $p is not the host's ($want); rebuild the images (./vsst images)"
	done
fi

# The disk must hold exactly the files /init checks.
while read -r sum file; do
	got=$(debugfs -R "cat /$file" "$IMAGES/disk.img" 2>/dev/null | sha256sum | cut -d' ' -f1)
	[ "$got" = "$sum" ] || bad "disk.img:/$file checksum $got, initramfs expects $sum"
done <"$ROOT/etc/vsst/disk.sha256"

say "kernel $KVER, $nmods modules, $(grep -c . "$ROOT/etc/vsst/disk.sha256") disk files checked"
if [ $FAILS -gt 0 ]; then say "FAILED ($FAILS)"; exit 1; fi
say PASS
