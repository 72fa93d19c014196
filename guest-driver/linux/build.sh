#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Builds virtio_sst.ko out of tree with kbuild and copies it to --out.
#
#   build.sh --kdir <kernel headers/build dir> --out <dir> [options]
#
# The sources are staged in a scratch folder together with the two shared
# headers (protocol/include/vsst/sst-protocol.h and
# guest-driver/include/vsst/sst-ioctl.h), so the source tree never holds
# build products. See README.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

usage() {
	cat <<USAGE
usage: $0 --kdir DIR --out DIR [--jobs N] [--no-werror] [--keep-build DIR]
  --kdir DIR        kernel build tree, e.g. /usr/src/linux-headers-6.1.0-N-amd64
                    (default: the headers linux-headers-amd64 depends on)
  --out DIR         where virtio_sst.ko is copied (created if missing)
  --jobs N          parallel make jobs (default 2)
  --no-werror       do not turn compiler warnings into errors
  --keep-build DIR  stage and build in DIR and keep it (default: a temp dir)
  --with-fake       also build tests/sst_fake.ko, the software test device
  --make-arg VAR=V  passed to make (repeatable), e.g. CROSS_COMPILE=aarch64-linux-gnu-
                    for a cross build against another architecture's headers
  --print-kdir      print the default --kdir and exit
USAGE
}

die() {
	echo "build.sh: error: $*" >&2
	exit 1
}

# The headers package that Debian's linux-headers-amd64 pulls in.
default_kdir() {
	local dep
	dep=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null |
		sed -n 's/^\(linux-headers-[^ ,]*\).*/\1/p') || true
	[ -n "$dep" ] || return 1
	echo "/usr/src/$dep"
}

kdir="" out="" jobs=2 werror=1 keep="" fake=0 make_args=()
while [ $# -gt 0 ]; do
	case "$1" in
	--kdir) kdir=${2:?--kdir needs a value}; shift 2 ;;
	--out) out=${2:?--out needs a value}; shift 2 ;;
	--jobs) jobs=${2:?--jobs needs a value}; shift 2 ;;
	--no-werror) werror=0; shift ;;
	--with-fake) fake=1; shift ;;
	--make-arg) make_args+=("${2:?--make-arg needs VAR=VALUE}"); shift 2 ;;
	--keep-build) keep=${2:?--keep-build needs a value}; shift 2 ;;
	--print-kdir) default_kdir || die "linux-headers-amd64 is not installed"; exit 0 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; die "unknown argument: $1" ;;
	esac
done

if [ -z "$kdir" ]; then
	kdir=$(default_kdir) || die "no --kdir and linux-headers-amd64 is not installed"
fi
[ -n "$out" ] || { usage >&2; die "--out is required"; }
[ -f "$kdir/Makefile" ] || die "$kdir is not a kernel build tree (no Makefile)"
case "$jobs" in '' | *[!0-9]*) die "--jobs must be a number" ;; esac

protocol_h=$root/protocol/include/vsst/sst-protocol.h
ioctl_h=$root/guest-driver/include/vsst/sst-ioctl.h
for f in "$protocol_h" "$ioctl_h"; do
	[ -f "$f" ] || die "missing shared header $f"
done

if [ -n "$keep" ]; then
	stage=$keep
	mkdir -p "$stage"
else
	stage=$(mktemp -d "${TMPDIR:-/tmp}/virtio-sst-build.XXXXXX")
	trap 'rm -rf "$stage"' EXIT
fi
stage=$(cd "$stage" && pwd)

mkdir -p "$stage/include/vsst"
cp "$here"/Kbuild "$here"/*.c "$here"/*.h "$stage/"
cp "$protocol_h" "$ioctl_h" "$stage/include/vsst/"
rm -f "$stage/sst_fake.c"
[ "$fake" = 1 ] && cp "$here/tests/sst_fake.c" "$stage/"

extra=""
[ "$werror" = 1 ] && extra="-Werror"

echo "build.sh: building virtio_sst.ko against $kdir" >&2
make -C "$kdir" M="$stage" VSST_EXTRA_CFLAGS="$extra" "${make_args[@]}" -j "$jobs" modules >&2 ||
	die "kbuild failed for $kdir"

[ -f "$stage/virtio_sst.ko" ] || die "kbuild produced no virtio_sst.ko"
mkdir -p "$out"
cp "$stage/virtio_sst.ko" "$out/virtio_sst.ko"
if [ "$fake" = 1 ]; then
	[ -f "$stage/sst_fake.ko" ] || die "kbuild produced no sst_fake.ko"
	cp "$stage/sst_fake.ko" "$out/sst_fake.ko"
fi
vermagic=$(modinfo -F vermagic "$out/virtio_sst.ko" 2>/dev/null || true)
echo "build.sh: $out/virtio_sst.ko${vermagic:+ (vermagic $vermagic)}" >&2
