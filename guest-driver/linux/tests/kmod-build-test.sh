#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# kmod-build-test.sh: builds virtio_sst.ko (and the test device) with
# build.sh against the headers linux-headers-amd64 depends on, with
# -Werror, and checks the result's license, alias and vermagic.
# Also runs checkpatch.pl when one is available ($CHECKPATCH, or taken from
# /usr/src/linux-source-*.tar.xz). Exit 77 when no headers are installed
# (a failure when VSST_REQUIRE_ALL=1).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
linux=$(cd "$here/.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/kmod-build-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
fails=0
check() {
	local what=$1; shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}

kdir=$("$linux/build.sh" --print-kdir 2>/dev/null) || kdir=""
if [ -z "$kdir" ] || [ ! -f "$kdir/Makefile" ]; then
	if [ "${VSST_REQUIRE_ALL:-0}" = 1 ]; then
		echo "FAIL: linux-headers-amd64 is not installed"; exit 1
	fi
	echo "SKIP: linux-headers-amd64 is not installed (apt-get install linux-headers-amd64)"
	exit 77
fi

check "build.sh builds against $kdir" "$linux/build.sh" --kdir "$kdir" --out "$work/out" --with-fake
ko=$work/out/virtio_sst.ko
if [ -f "$ko" ]; then
	check "license GPL" [ "$(modinfo -F license "$ko")" = GPL ]
	check "virtio alias for device 63" grep -q 'virtio:d0000003Fv' <(modinfo -F alias "$ko")
	rel=$(basename "$kdir" | sed 's/^linux-headers-//')
	check "vermagic $rel" grep -q "^$rel " <(modinfo -F vermagic "$ko")
	check "test device built" [ -f "$work/out/sst_fake.ko" ]
fi
check "build.sh rejects a bad kdir" bash -c "! '$linux/build.sh' --kdir /nonexistent --out '$work/x' 2>/dev/null"
check "source tree holds no build products" \
	bash -c "[ -z \"\$(find '$linux' -name '*.o' -o -name '*.ko' -o -name '*.mod*' | head -1)\" ]"

checkpatch=${CHECKPATCH:-}
if [ -z "$checkpatch" ]; then
	src=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | head -1)
	if [ -n "$src" ]; then
		top=$(basename "$src" .tar.xz)
		tar -xJf "$src" -C "$work" "$top/scripts/checkpatch.pl" "$top/scripts/spelling.txt" \
			"$top/scripts/const_structs.checkpatch" 2>/dev/null &&
			checkpatch=$work/$top/scripts/checkpatch.pl
	fi
fi
if [ -n "$checkpatch" ] && [ -f "$checkpatch" ]; then
	# From the scratch folder: checkpatch.pl (--strict) writes a camel-case cache
	# (.checkpatch-camelcase.*) into the current directory.
	check "checkpatch clean" env -C "$work" perl "$checkpatch" --no-tree --quiet -f \
		"$linux"/*.c "$linux"/*.h "$linux/tests/sst_fake.c" \
		"$linux/../include/vsst/sst-ioctl.h"
elif [ "${VSST_REQUIRE_ALL:-}" = 1 ]; then
	echo "FAIL: checkpatch.pl not found (deps.apt installs linux-source-6.1; or set CHECKPATCH)"
	fails=$((fails + 1))
else
	echo "SKIP: checkpatch.pl not found (install linux-source-6.1 or set CHECKPATCH); style not checked"
fi
[ $fails -eq 0 ] && echo "kmod-build-test: all passed"
[ $fails -eq 0 ]
