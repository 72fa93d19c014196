#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# build-qemu.sh [--asan] [--arch ARCH]... - build the project's QEMU from
# Debian's QEMU source package with the project's overlay (qemu/overlay). See
# qemu/README.md.
#
# qemu-system-x86_64 is always built: it is the device VM (no CPU) for every
# guest architecture, and the x86_64 guest VM. --arch aarch64 / --arch riscv64
# (or all) add qemu-system-aarch64 / qemu-system-riscv64, the guest VM (and
# monolithic baseline) of those architectures. One configure covers all three
# targets, so adding an architecture later builds only that target's objects.
#
# Env: VSST_CACHE (cache root: the pristine source in $VSST_CACHE/qemu),
#      VSST_QEMU_DIR (this checkout's work copy and builds, scripts/lib.sh),
#      VSST_LIB_BUILD (CMake build dir holding rpc/libvsst_rpc.a,
#      device/libvsst_device.a and trace/libvsst_trace_recorder.a),
#      VSST_JOBS (ninja -j, default nproc).
# Output: $VSST_QEMU_DIR/build/qemu-system-<arch> (build-asan/ with --asan).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../scripts/lib.sh
source "$HERE/../scripts/lib.sh"

flavour=build
# No debug info by default: it makes the cold build markedly slower on 2 cores.
extra_configure=(--disable-debug-info)
arches=(x86_64)
while [ $# -gt 0 ]; do
	case "$1" in
	--asan) flavour=build-asan; extra_configure=(--enable-sanitizers --enable-debug-info) ;;
	--arch)
		[ $# -ge 2 ] || vsst_die "build-qemu.sh: --arch needs x86_64, aarch64, riscv64 or all"
		case "$2" in
		all) arches+=(aarch64 riscv64) ;;
		x86_64 | aarch64 | riscv64) arches+=("$2") ;;
		*) vsst_die "build-qemu.sh: unknown architecture '$2' (x86_64, aarch64, riscv64, all)" ;;
		esac
		shift ;;
	*) vsst_die "build-qemu.sh: unknown flag '$1' (--asan, --arch ARCH)" ;;
	esac
	shift
done
mapfile -t arches < <(printf '%s\n' "${arches[@]}" | awk '!seen[$0]++')

VSST_LIB_BUILD=${VSST_LIB_BUILD:-$VSST_BUILD_ROOT/default}
JOBS=${VSST_JOBS:-$(nproc)}
QDIR=$VSST_CACHE/qemu
# The one place where the QEMU version is pinned.
PINNED=$(sed 's/#.*//' "$HERE/qemu.version" | tr -d ' \t\n')
[ -n "$PINNED" ] || vsst_die "qemu/qemu.version is empty"
PRISTINE=$QDIR/pristine-$PINNED
WORK=$VSST_QEMU_DIR/src
BUILD=$VSST_QEMU_DIR/$flavour
DEB_SRC_LIST=/etc/apt/sources.list.d/vsst-deb-src.sources
# Firmware for -machine pc, from the Debian packages in deps.apt.
FIRMWARE_DIRS=(/usr/share/qemu /usr/share/seabios /usr/lib/ipxe/qemu)

mkdir -p "$QDIR" "$VSST_QEMU_DIR"
# One build at a time per checkout (./vsst runs of one checkout share it).
exec 9>"$VSST_QEMU_DIR/.lock"
if ! flock -n 9; then
	vsst_progress "qemu: waiting for another QEMU build of this checkout (lock $VSST_QEMU_DIR/.lock)"
	flock 9
fi
(cd "$VSST_ROOT" && pwd -P) >"$VSST_QEMU_DIR/.checkout"

# Builds of checkouts that no longer exist take ~400 MB each (more with --asan): remove them (unless in use).
prune_gone_checkouts() {
	local d owner
	for d in "$QDIR"/checkout-*; do
		[ -d "$d" ] && [ "$d" != "$VSST_QEMU_DIR" ] || continue
		owner=$(cat "$d/.checkout" 2>/dev/null) || continue
		[ -n "$owner" ] && [ ! -e "$owner" ] || continue
		(flock -n 8 || exit 0; vsst_progress "qemu: removing the build of a deleted checkout ($owner)"; rm -rf "$d") 8>"$d/.lock"
	done
}

# deb-src entries for `apt-get source`, derived from the Debian repositories
# this machine already uses (apt-sources.py; no mirror is named anywhere).
enable_deb_src() {
	local want
	want=$(python3 "$HERE/apt-sources.py" --skip "$DEB_SRC_LIST") ||
		vsst_die "qemu: cannot derive deb-src entries from this machine's apt sources"
	if [ ! -f "$DEB_SRC_LIST" ] || [ "$(cat "$DEB_SRC_LIST")" != "$want" ]; then
		vsst_progress "qemu: enabling deb-src ($DEB_SRC_LIST)"
		printf '%s\n' "$want" | vsst_as_root tee "$DEB_SRC_LIST" >/dev/null
		vsst_as_root apt-get update -qq >/dev/null || vsst_die "apt-get update failed"
	fi
}

fetch_source() {
	[ -f "$PRISTINE/.vsst-complete" ] && return 0
	enable_deb_src
	local avail
	avail=$(apt-cache showsrc qemu 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -u | tr '\n' ' ')
	if ! grep -qxF -- "$PINNED" <<<"$(tr ' ' '\n' <<<"$avail")"; then
		apt-get update -qq >/dev/null 2>&1 || true
		avail=$(apt-cache showsrc qemu 2>/dev/null | awk '/^Version:/ { print $2 }' | sort -u | tr '\n' ' ')
		grep -qxF -- "$PINNED" <<<"$(tr ' ' '\n' <<<"$avail")" ||
			vsst_die "qemu: Debian source package qemu=$PINNED (pinned in qemu/qemu.version) is not available from the configured repositories; available: ${avail:-none}. Update qemu/qemu.version deliberately (and re-test) if the release moved on."
	fi
	vsst_progress "qemu: fetching Debian source package qemu=$PINNED"
	local dl=$QDIR/dl.tmp
	rm -rf "$dl" && mkdir -p "$dl"
	(cd "$dl" && apt-get source -qq --only-source "qemu=$PINNED" >/dev/null 2>"$dl/apt.log") || {
		cat "$dl/apt.log" >&2
		vsst_die "qemu: apt-get source qemu=$PINNED failed"
	}
	local tree
	tree=$(find "$dl" -mindepth 1 -maxdepth 1 -type d -name 'qemu-*' | head -n1)
	[ -n "$tree" ] && [ -f "$tree/VERSION" ] || vsst_die "qemu: unpacked source tree not found in $dl"
	local got
	got=$(dpkg-parsechangelog -l "$tree/debian/changelog" -S Version)
	[ "$got" = "$PINNED" ] || vsst_die "qemu: got source version $got, pinned $PINNED"
	rm -rf "$PRISTINE"
	mv "$tree" "$PRISTINE"
	touch "$PRISTINE/.vsst-complete"
	rm -rf "$dl"
}

# Work copy = pristine tree + overlay + scripted edits. Recreated only when
# the pinned version changes; otherwise only differing files are rewritten.
prepare_work_copy() {
	if [ "$(cat "$WORK/.vsst-pristine" 2>/dev/null)" != "$PINNED" ]; then
		vsst_progress "qemu: creating work copy $WORK"
		rm -rf "$WORK" "$VSST_QEMU_DIR/build" "$VSST_QEMU_DIR/build-asan"
		cp -a "$PRISTINE" "$WORK.tmp"
		echo "$PINNED" >"$WORK.tmp/.vsst-pristine"
		mv "$WORK.tmp" "$WORK"
	fi
	python3 "$HERE/apply-overlay.py" \
		--pristine "$PRISTINE" --work "$WORK" \
		--overlay "$HERE/overlay" \
		--devices-mak "x86_64=$HERE/vsst-devices.mak" \
		--devices-mak "aarch64=$HERE/vsst-devices-aarch64.mak" \
		--devices-mak "riscv64=$HERE/vsst-devices-riscv64.mak" \
		--vsst-root "$VSST_ROOT" --lib-build "$VSST_LIB_BUILD" ||
		vsst_die "qemu: applying the overlay failed"
}

ensure_libs() {
	local missing=() a
	for a in rpc/libvsst_rpc.a device/libvsst_device.a trace/libvsst_trace_recorder.a; do
		[ -f "$VSST_LIB_BUILD/$a" ] || missing+=("$a")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ -f "$VSST_LIB_BUILD/CMakeCache.txt" ]; then
		vsst_progress "qemu: building the project libraries QEMU links (${missing[*]})"
		cmake --build "$VSST_LIB_BUILD" -j "$JOBS" --target vsst_rpc vsst_device vsst_trace_recorder ||
			vsst_die "qemu: building vsst_rpc/vsst_device/vsst_trace_recorder in $VSST_LIB_BUILD failed"
	fi
	for a in rpc/libvsst_rpc.a device/libvsst_device.a trace/libvsst_trace_recorder.a; do
		[ -f "$VSST_LIB_BUILD/$a" ] ||
			vsst_die "qemu: $VSST_LIB_BUILD/$a is missing; build the C++ components first (./vsst build)"
	done
}

configure_args() {
	# Only what the project needs: x86_64, aarch64 and riscv64 system
	# emulation (all three configured, only the asked-for ones built), TCG +
	# KVM, the device sets of vsst-devices*.mak, seccomp for -sandbox, slirp
	# for -nic user, virtfs for virtio-9p (--share; needs libcap-ng, and
	# glibc's xattr calls for --enable-attr).
	printf '%s\n' \
		--target-list=x86_64-softmmu,aarch64-softmmu,riscv64-softmmu \
		--without-default-features \
		--without-default-devices \
		--with-devices-x86_64=vsst \
		--with-devices-aarch64=vsst \
		--with-devices-riscv64=vsst \
		--enable-tcg --enable-kvm --enable-seccomp --enable-slirp \
		--enable-virtfs --enable-attr --enable-cap-ng \
		--enable-fdt=system \
		--disable-docs --disable-tools --disable-guest-agent --disable-user \
		--disable-install-blobs \
		--audio-drv-list= \
		--firmwarepath="$(IFS=:; echo "${FIRMWARE_DIRS[*]}")" \
		"${extra_configure[@]}"
}

configure_qemu() {
	local args stamp=$BUILD/.vsst-configure-args
	args=$(configure_args)
	if [ -f "$BUILD/build.ninja" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$args" ]; then
		return 0
	fi
	vsst_progress "qemu: configuring $BUILD"
	rm -rf "$BUILD" && mkdir -p "$BUILD"
	local argv=()
	mapfile -t argv <<<"$args"
	(cd "$BUILD" && "$WORK/configure" "${argv[@]}" >"$BUILD/configure.log" 2>&1) || {
		tail -n 40 "$BUILD/configure.log" >&2
		rm -f "$BUILD/build.ninja"
		vsst_die "qemu: configure failed (full log: $BUILD/configure.log)"
	}
	printf '%s\n' "$args" >"$stamp"
}

# A QEMU run from its build tree looks for firmware under <build>/qemu-bundle/
# (relocated paths); point those at the system's firmware directories.
link_firmware() {
	local d
	for d in "${FIRMWARE_DIRS[@]}"; do
		[ -e "$BUILD/qemu-bundle$d" ] && continue
		mkdir -p "$(dirname "$BUILD/qemu-bundle$d")"
		ln -s "$d" "$BUILD/qemu-bundle$d"
	done
}

main() {
	# shellcheck disable=SC2046
	vsst_need_pkgs $(sed 's/#.*//' "$HERE/deps.apt")
	# riscv64 virt boots through OpenSBI, which Debian's QEMU source does not
	# ship (dfsg): the architecture-independent opensbi package has it.
	if printf '%s\n' "${arches[@]}" | grep -qx riscv64; then
		vsst_need_pkgs opensbi
	fi
	ensure_libs
	prune_gone_checkouts
	(flock 7; fetch_source) 7>"$QDIR/.fetch-lock"
	prepare_work_copy
	configure_qemu
	local t0=$SECONDS a bins=() before=() i changed=0
	for a in "${arches[@]}"; do
		bins+=("qemu-system-$a")
		before+=("$(stat -c %.9Y "$BUILD/qemu-system-$a" 2>/dev/null || true)")
	done
	ninja -C "$BUILD" -j "$JOBS" "${bins[@]}" >"$BUILD/ninja.log" 2>&1 || {
		grep -E -B2 -A12 'error|FAILED' "$BUILD/ninja.log" | head -n 80 >&2
		vsst_die "qemu: build failed (full log: $BUILD/ninja.log)"
	}
	link_firmware
	# (qemu-version.h is regenerated on every run, so ninja never says
	# "no work to do"; the binaries' mtimes tell whether anything changed.)
	for i in "${!bins[@]}"; do
		[ "$(stat -c %.9Y "$BUILD/${bins[$i]}")" = "${before[$i]}" ] || changed=1
	done
	if [ $changed = 0 ]; then
		vsst_progress "qemu: ${bins[*]} in $BUILD up to date"
	else
		vsst_progress "qemu: built ${bins[*]} in $BUILD in $((SECONDS - t0)) s"
	fi
}

main
