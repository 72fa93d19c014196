#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the vsst guest images from Debian packages into $VSST_CACHE/images:
#   vmlinuz            Debian's amd64 kernel (linux-image-<ver>-amd64-unsigned)
#   initramfs.cpio.gz  busybox-static, /init, virtio modules, virtio_sst.ko, apps
#   disk.img           small ext4 disk with a known file (virtio-blk tests)
#   kernel-version     the kernel release the three were built for
# Everything is cached: a stamp holds the hash of all inputs and nothing is
# rebuilt while it matches. See images/README.md.
set -euo pipefail
IMAGES_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../scripts/lib.sh
source "$IMAGES_SRC/../scripts/lib.sh"

usage() {
	cat <<USAGE
usage: images/build-images.sh [--force] [--out DIR] [--arch ARCH]
  --force     rebuild even when the input hash matches the stamp
  --out DIR   output directory (default \$VSST_CACHE/images, or
              \$VSST_CACHE/images/ARCH for another architecture)
  --arch ARCH x86_64 (default), aarch64 or riscv64: the guest architecture
              (images/foreign-arch.sh: Debian packages of that architecture,
              a private apt configuration, cross-built module and apps)
Environment: VSST_CACHE, VSST_LIB_BUILD (CMake build dir whose bin/ holds
  sst-test and sst-bench), VSST_KERNEL_VERSION (override, e.g. 6.1.0-56-amd64).
USAGE
}

ORIG_ARGS=("$@")
FORCE=0
OUT=""
ARCH=x86_64
while [ $# -gt 0 ]; do
	case "$1" in
	--force) FORCE=1 ;;
	--out) OUT=${2:?--out needs a directory}; shift ;;
	--arch)
		ARCH=${2:?--arch needs x86_64, aarch64 or riscv64}; shift
		case "$ARCH" in x86_64 | aarch64 | riscv64) ;; *) usage >&2; exit 2 ;; esac ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$OUT" ]; then
	OUT=$VSST_CACHE/images
	[ "$ARCH" = x86_64 ] || OUT=$VSST_CACHE/images/$ARCH
fi
LIB_BUILD=${VSST_LIB_BUILD:-$VSST_BUILD_ROOT/default}
WORK=$OUT/work
APPS=(sst-test sst-bench sst-fault sst-offload vsst-io)
# Modules the guest needs that Debian builds as modules (checked against the
# kernel's config in check_builtin_config). Dependencies and soft
# dependencies are resolved with modprobe --show-depends.
# 9p and 9pnet_virtio: the --share folder (virtio-9p in the device VM, /init's
# mount_share); their hard dependencies (9pnet, netfs, fscache) come along.
# virtio_net (with net_failover) and virtio_console: vmm-proxy's virtio-net LAN and
# virtio-console (/dev/hvc0).
MODULES=(virtio_pci virtio_rng virtio_blk crc32c_generic ext4 9p 9pnet_virtio virtio_net virtio_console)
# Debian packages whose shared libraries the image carries, at the host's
# installed versions, so that programs built on the host with plain gcc/g++
# run in the guest (install_host_runtime).
HOST_RUNTIME_PKGS=(libc6 libstdc++6 libgcc-s1)
APT_LOCK=(-o DPkg::Lock::Timeout=600)

log() { printf 'images: %s\n' "$*" >&2; }
loud() {
	printf '\n\033[1;31m' >&2
	printf 'images: ************************************************************\n' >&2
	printf 'images: *** %s\n' "$@" >&2
	printf 'images: ************************************************************\033[0m\n\n' >&2
}
sha() { sha256sum "$@" | cut -d' ' -f1; }

# shellcheck disable=SC2046 # one package name per word
vsst_need_pkgs $(sed 's/#.*//' "$IMAGES_SRC/deps.apt")
mkdir -p "$OUT" "$WORK"
# One build at a time per output directory (./vsst test and a developer may
# run it together).
exec 9>"$OUT/.lock"
flock -w 1800 9 || vsst_die "images: another build holds $OUT/.lock"

if [ "$ARCH" = x86_64 ]; then
# ------------------------------------------------------------ kernel version
# "linux-headers-<ver>-amd64 <source version>" from the metapackage's
# dependency. One apt-cache call: without apt's on-disk cache (as in Debian's
# container images) each call rebuilds it, which takes seconds.
headers_dep() {
	apt-cache show --no-all-versions linux-headers-amd64 2>/dev/null |
		sed -n 's/^Depends:.*\(linux-headers-[0-9][^ ,]*\) (= \([^)]*\)).*/\1 \2/p' | head -n 1
}

kernel_version() {
	local dep
	dep=$(headers_dep)
	if [ -z "$dep" ]; then
		log "linux-headers-amd64 unknown to apt; running apt-get update"
		vsst_as_root apt-get update -qq >/dev/null || vsst_die "apt-get update failed"
		dep=$(headers_dep)
	fi
	[ -n "$dep" ] || vsst_die "images: cannot find the kernel linux-headers-amd64 depends on"
	echo "${dep#linux-headers-}"
}

# The image and headers packages come from the same source package, so they
# share its version.
read -r KVER IMG_VER <<<"$(kernel_version)"
if [ -n "${VSST_KERNEL_VERSION:-}" ]; then
	KVER=$VSST_KERNEL_VERSION
	IMG_VER=$(apt-cache show --no-all-versions "linux-image-$KVER-unsigned" 2>/dev/null |
		awk '/^Version:/ { print $2; exit }')
fi
case "$KVER" in *-amd64) ;; *) vsst_die "images: unexpected kernel version '$KVER'" ;; esac
[ -n "$IMG_VER" ] || vsst_die "images: apt knows no package linux-image-$KVER-unsigned"
IMG_PKG=linux-image-$KVER-unsigned
HDR_PKG=linux-headers-$KVER
KDIR=/usr/src/linux-headers-$KVER
log "kernel $KVER ($IMG_PKG $IMG_VER), headers $KDIR"

	# ------------------------------------------------------------------ headers
if [ "$(dpkg-query -W -f='${Status}' "$HDR_PKG" 2>/dev/null)" != "install ok installed" ]; then
	vsst_progress "installing $HDR_PKG (to build virtio_sst.ko)"
	vsst_as_root env DEBIAN_FRONTEND=noninteractive apt-get install "${APT_LOCK[@]}" -y -qq \
		--no-install-recommends "$HDR_PKG" >/dev/null || vsst_die "apt-get install $HDR_PKG failed"
fi

fi

# ----------------------------------------------------- kernel image package
# Downloaded and unpacked into the cache, never installed on the host.
fetch_kernel() {
	local debdir=$WORK/debs deb
	mkdir -p "$debdir"
	deb=$(find "$debdir" -maxdepth 1 -name "${IMG_PKG}_*.deb" | head -n 1)
	if [ -n "$deb" ] && [ "$(dpkg-deb -f "$deb" Version)" != "$IMG_VER" ]; then
		rm -f "$deb"; deb=""
	fi
	if [ -z "$deb" ]; then
		log "downloading $IMG_PKG $IMG_VER"
		# apt's sandbox user cannot write to a root-only cache; that is fine.
		(cd "$debdir" && apt-get download -q "$IMG_PKG=$IMG_VER" 2>&1 |
			grep -v 'unsandboxed' >&2) || true
		deb=$(find "$debdir" -maxdepth 1 -name "${IMG_PKG}_*.deb" | head -n 1)
		if [ -z "$deb" ] && [ -z "${VSST_IMAGES_RETRIED:-}" ]; then
			# A stale package index names versions the mirror no longer has:
			# refresh it and start over (the kernel version may change too).
			log "apt-get download $IMG_PKG failed; running apt-get update and retrying"
			vsst_as_root apt-get update -qq >/dev/null || vsst_die "apt-get update failed"
			exec 9>&-
			VSST_IMAGES_RETRIED=1 exec "$IMAGES_SRC/build-images.sh" "${ORIG_ARGS[@]}"
		fi
		[ -n "$deb" ] || vsst_die "images: apt-get download $IMG_PKG failed"
	fi
	KROOT=$WORK/kernel-$KVER
	local want id
	# Hashing 70 MB on every call is slow: reuse the hash while the file's
	# identity (name, size, mtime) is unchanged.
	id="$(stat -c '%n %s %Y' "$deb")"
	if [ "$(head -n 1 "$debdir/.sha-cache" 2>/dev/null)" = "$id" ]; then
		want=$(sed -n 2p "$debdir/.sha-cache")
	else
		want=$(sha "$deb")
		printf '%s\n%s\n' "$id" "$want" >"$debdir/.sha-cache"
	fi
	if [ "$(cat "$KROOT/.deb-sha256" 2>/dev/null)" != "$want" ]; then
		log "unpacking $(basename "$deb")"
		rm -rf "$KROOT"
		dpkg-deb -x "$deb" "$KROOT"
		echo "$want" >"$KROOT/.deb-sha256"
	fi
	KDEB_SHA=$want
	[ -f "$KROOT/boot/vmlinuz-$KVER" ] || vsst_die "images: no vmlinuz in $deb"
}

# Fails when the config disagrees with what /init expects to be built in.
check_builtin_config() {
	local cfg=$KROOT/boot/config-$KVER opt console=SERIAL_8250_CONSOLE
	[ "$ARCH" != aarch64 ] || console=SERIAL_AMBA_PL011_CONSOLE
	for opt in PCI PCI_MSI DEVTMPFS BLK_DEV_INITRD RD_GZIP $console HW_RANDOM; do
		grep -q "^CONFIG_$opt=y" "$cfg" || vsst_die "images: $KVER lacks built-in CONFIG_$opt"
	done
}

# ----------------------------------------------------------- virtio_sst.ko
MODULE_KO=""
MODULE_NOTE=""
build_module() {
	local script=$VSST_ROOT/guest-driver/linux/build.sh
	local out=$WORK/module-$KVER stamp
	# The module's sources plus the shared headers build.sh stages with them.
	stamp=$( (echo "$KVER"; cd "$VSST_ROOT" && find guest-driver/linux guest-driver/include \
		protocol/include/vsst/sst-protocol.h -type f \( -name '*.[ch]' -o -name 'Makefile' -o -name 'Kbuild' \
		-o -name '*.sh' \) -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha)
	if [ -f "$out/virtio_sst.ko" ] && [ "$(cat "$out/.src-sha256" 2>/dev/null)" = "$stamp" ]; then
		MODULE_KO=$out/virtio_sst.ko
		log "virtio_sst.ko up to date ($out)"
		return
	fi
	log "building virtio_sst.ko against $KDIR"
	rm -rf "$out"; mkdir -p "$out"
	local cross=()
	if [ "$ARCH" != x86_64 ]; then
		# No BTF for the module: it would need pahole (dwarves) on the host, and the
		# guest needs no type information for virtio_sst.
		cross=(--make-arg "CROSS_COMPILE=$CROSS" --make-arg "CONFIG_DEBUG_INFO_BTF_MODULES=")
		# The kernel's build tree names its compiler (gcc-<major>); the machine's
		# cross compiler may be older (trixie's kernels are built with gcc-14,
		# bookworm cross-compiles with gcc-12): use the machine's.
		local kcc
		kcc=$(sed -n 's/^CC = .*)gcc-\([0-9]*\).*/\1/p' "$KDIR/.kernelvariables" 2>/dev/null)
		if [ -n "$kcc" ] && ! command -v "${CROSS}gcc-$kcc" >/dev/null; then
			log "$KVER was built with gcc-$kcc; building virtio_sst.ko with $("${CROSS}gcc" -dumpfullversion) (${CROSS}gcc)"
			cross+=(--make-arg "CC=${CROSS}gcc")
		fi
	fi
	if ! bash "$script" --kdir "$KDIR" --out "$out" "${cross[@]}" >"$WORK/module-build.log" 2>&1; then
		tail -n 30 "$WORK/module-build.log" >&2
		MODULE_NOTE="guest-driver/linux/build.sh FAILED (log: $WORK/module-build.log)"
		return
	fi
	MODULE_KO=$(find "$out" -name virtio_sst.ko | head -n 1)
	if [ -z "$MODULE_KO" ]; then
		MODULE_NOTE="guest-driver/linux/build.sh produced no virtio_sst.ko in $out"
		return
	fi
	[ "$MODULE_KO" = "$out/virtio_sst.ko" ] || cp "$MODULE_KO" "$out/virtio_sst.ko"
	MODULE_KO=$out/virtio_sst.ko
	echo "$stamp" >"$out/.src-sha256"
}

# Prints the module paths (relative to lib/modules/$KVER) to load, in order,
# each once. virtio_sst goes into the unpacked tree's extra/ so that depmod
# resolves its dependencies like any other module.
module_load_order() {
	local m mods=("${MODULES[@]}")
	rm -rf "$KROOT/lib/modules/$KVER/extra"
	if [ -n "$MODULE_KO" ]; then
		mkdir -p "$KROOT/lib/modules/$KVER/extra"
		cp "$MODULE_KO" "$KROOT/lib/modules/$KVER/extra/virtio_sst.ko"
		mods+=(virtio_sst)
	fi
	depmod -b "$KROOT" "$KVER"
	local mdir=$KROOT/lib/modules/$KVER required
	# Named modules and their hard dependencies must load; soft dependencies
	# (e.g. crc32c-intel, which needs SSE4.2) are marked optional with '?'.
	required=$(for m in "${mods[@]}"; do
		modinfo -b "$KROOT" -k "$KVER" -n "$m" | sed "s|^$mdir/||"
	done)
	required=$(printf '%s\n' "$required" | while read -r m; do
		echo "$m"
		awk -v m="$m:" '$1 == m { for (i = 2; i <= NF; i++) print $i }' "$mdir/modules.dep"
	done)
	for m in "${mods[@]}"; do
		modprobe -d "$KROOT" -S "$KVER" --show-depends "$m" ||
			vsst_die "images: cannot resolve module $m"
	done | awk '$1 == "insmod" { print $2 }' | sed "s|^$mdir/||" | awk '!seen[$0]++' |
		while read -r m; do
			if grep -qxF "$m" <<<"$required"; then echo "$m"; else echo "?$m"; fi
		done
}

# ------------------------------------------------------------------- apps
APP_NOTE=""
app_path() { echo "$LIB_BUILD/bin/$1"; }

is_static() { local h; h=$(readelf -l "$1" 2>/dev/null); ! grep -q 'Requesting program interpreter' <<<"$h"; }

# Copies a binary and, when it is dynamic, its shared libraries and loader.
install_binary() {
	local bin=$1 root=$2 lib
	# Stripped: debug info would triple the initramfs the guest unpacks.
	install -D -m 0755 "$bin" "$root/usr/bin/$(basename "$bin")"
	"$STRIP" "$root/usr/bin/$(basename "$bin")"
	is_static "$bin" && return 0
	log "warning: $bin is not static; copying its shared libraries"
	for lib in $(ldd "$bin" | awk '/=>/ { print $3 } /^\t\/.*ld-linux/ { print $1 }'); do
		[ -f "$lib" ] && install -D -m 0755 "$lib" "$root$lib"
	done
	# The loader is looked up at its canonical path.
	if [ -f /lib64/ld-linux-x86-64.so.2 ]; then
		install -D -m 0755 "$(readlink -f /lib64/ld-linux-x86-64.so.2)" "$root/lib64/ld-linux-x86-64.so.2"
	fi
}

# ------------------------------------------------------- host runtime libs
# The shared libraries of HOST_RUNTIME_PKGS, taken from the host's installed
# copies of those packages: the files dpkg -L lists, each checked against the
# package's own md5sums, so the image holds exactly what the .deb of the host's
# version holds. (apt-get download would have to find that exact version on a
# mirror, which fails once a point release moves on; the installed files are
# what the host's gcc linked against, by definition the matching version.)
# Paths are kept: the loader at /lib64/ld-linux-x86-64.so.2 and the libraries
# at their multiarch paths, where the loader looks without an ld.so.cache.
# libc6's gconv modules (iconv charsets, ~8 MB) are left out.
host_arch() { dpkg --print-architecture; }

host_runtime_versions() {
	local p arch
	arch=$(host_arch)
	for p in "${HOST_RUNTIME_PKGS[@]}"; do
		printf '%s=%s\n' "$p" "$(dpkg-query -W -f='${Version}' "$p:$arch" 2>/dev/null)"
	done
}

runtime_versions() {
	if [ "$ARCH" = x86_64 ]; then host_runtime_versions; else foreign_runtime_versions; fi
}

# Prints "path" lines: the package's shared objects (files and symlinks).
host_runtime_files() {
	dpkg -L "$1" | grep -E '^(/usr)?/lib(64)?/([a-z0-9_]+-linux-gnu/)?[^/]*\.so(\.[0-9.]+)?$'
}

install_host_runtime() {
	local root=$1 p arch md5 f rel want got multiarch n=0
	arch=$(host_arch)
	for p in "${HOST_RUNTIME_PKGS[@]}"; do
		[ "$(dpkg-query -W -f='${Status}' "$p:$arch" 2>/dev/null)" = "install ok installed" ] ||
			vsst_die "images: $p:$arch is not installed on the host (it provides the guest's shared libraries)"
		md5=$(dpkg-query --control-path "$p:$arch" md5sums)
		[ -f "$md5" ] || vsst_die "images: no md5sums for $p:$arch"
		while read -r f; do
			if [ -L "$f" ]; then
				mkdir -p "$root$(dirname "$f")"
				ln -sfn "$(readlink "$f")" "$root$f"
				continue
			fi
			[ -f "$f" ] || continue
			rel=${f#/}
			want=$(awk -v f="$rel" '$2 == f { print $1 }' "$md5")
			got=$(md5sum <"$f" | cut -d' ' -f1)
			[ -n "$want" ] && [ "$want" = "$got" ] ||
				vsst_die "images: $f differs from package $p:$arch (md5 ${got} != ${want:-none}); reinstall $p"
			install -D -m "$(stat -c %a "$f")" "$f" "$root$f"
			n=$((n + 1))
		done < <(host_runtime_files "$p:$arch")
	done
	# The loader at its ABI path even where the package ships it elsewhere.
	multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
	if [ ! -e "$root/lib64/ld-linux-x86-64.so.2" ]; then
		for f in "/lib/$multiarch/ld-linux-x86-64.so.2" "/usr/lib/$multiarch/ld-linux-x86-64.so.2"; do
			[ -e "$root$f" ] && { mkdir -p "$root/lib64"; ln -sfn "$f" "$root/lib64/ld-linux-x86-64.so.2"; break; }
		done
	fi
	[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || vsst_die "images: no dynamic loader from libc6"
	log "host runtime: $n shared objects of ${HOST_RUNTIME_PKGS[*]} ($(host_runtime_versions | tr '\n' ' '))"
}

# ------------------------------------------------------------ disk content
# Deterministic, so the checksum in the initramfs always matches the disk.
make_disk_tree() {
	local d=$1
	mkdir -p "$d/vsst"
	printf 'hello from the vsst virtio-blk test disk\n' >"$d/vsst/hello.txt"
	seq -f 'vsst virtio-blk test data line %06g' 1 8192 >"$d/vsst/data.txt"
	(cd "$d" && sha256sum vsst/hello.txt vsst/data.txt >vsst/SHA256SUMS)
}

# ------------------------------------------------------------ input hash
input_manifest() {
	echo "kernel $KVER $IMG_VER $KDEB_SHA"
	echo "module ${MODULE_KO:+$(sha "$MODULE_KO")}"
	echo "modules ${LOAD_ORDER//$'\n'/ }"
	local a p
	for a in "${APPS[@]}"; do
		p=$(app_path "$a")
		echo "app $a $([ -f "$p" ] && sha "$p")"
	done
	echo "arch $ARCH"
	echo "busybox $(sha "$BUSYBOX")"
	runtime_versions | sed 's/^/hostlib /'
	echo "mke2fs $(mke2fs -V 2>&1 | head -n 1)"
	for p in build-images.sh init.sh $([ "$ARCH" = x86_64 ] || echo foreign-arch.sh); do
		echo "src $p $(sha "$IMAGES_SRC/$p")"
	done
}

outputs_present() {
	local f
	for f in vmlinuz initramfs.cpio.gz disk.img kernel-version; do
		[ -s "$OUT/$f" ] || return 1
	done
}

# ----------------------------------------------------------- initramfs
build_initramfs() {
	local root=$1 dest=$2 rel applet a p f
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,run,tmp,mnt,root,etc/vsst}
	install -m 0755 "$BUSYBOX" "$root/bin/busybox"
	# The applet list of the host's busybox (another architecture's cannot run
	# here); an applet a foreign busybox lacks would just say so.
	for applet in $(/bin/busybox --list-full); do
		[ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
	done
	install -m 0755 "$IMAGES_SRC/init.sh" "$root/init"

	# Modules at their usual paths, so modprobe works from the shell too.
	while read -r rel; do
		rel=${rel#\?}
		install -D -m 0644 "$KROOT/lib/modules/$KVER/$rel" "$root/lib/modules/$KVER/$rel"
	done <<<"$LOAD_ORDER"
	# Debian's modules come without debug info; the project's module does not.
	[ ! -f "$root/lib/modules/$KVER/extra/virtio_sst.ko" ] ||
		"$STRIP" --strip-debug "$root/lib/modules/$KVER/extra/virtio_sst.ko"
	printf '%s\n' "$LOAD_ORDER" >"$root/etc/vsst/modules.order"
	for f in modules.order modules.builtin modules.builtin.modinfo; do
		cp "$KROOT/lib/modules/$KVER/$f" "$root/lib/modules/$KVER/$f"
	done
	depmod -b "$root" "$KVER"

	if [ "$ARCH" = x86_64 ]; then install_host_runtime "$root"; else install_foreign_runtime "$root"; fi
	for a in "${APPS[@]}"; do
		p=$(app_path "$a")
		[ -f "$p" ] && install_binary "$p" "$root"
	done

	cp "$DISK_TREE/vsst/SHA256SUMS" "$root/etc/vsst/disk.sha256"
	cat >"$root/etc/vsst/build-info" <<INFO
kernel=$KVER
kernel_package=$IMG_PKG $IMG_VER
virtio_sst=$([ -n "$MODULE_KO" ] && echo present || echo absent)
apps=$(for a in "${APPS[@]}"; do [ -f "$(app_path "$a")" ] && printf '%s ' "$a"; done)
arch=$ARCH
host_runtime=$(runtime_versions | tr '\n' ' ')
inputs=$INPUT_HASH
INFO
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'export PS1="vsst# "' >"$root/etc/profile"

	# Fixed owners and times: the archive depends on the inputs only.
	find "$root" -exec touch -h -d @0 {} +
	(cd "$root" && find . -print0 | LC_ALL=C sort -z |
		cpio --null --quiet -o -H newc --reproducible --owner=0:0) | gzip -9n >"$dest"
}

build_disk() {
	local tree=$1 dest=$2
	find "$tree" -exec touch -h -d @0 {} +
	E2FSPROGS_FAKE_TIME=1 mke2fs -q -F -t ext4 -L vsst-test \
		-U 5e55e55e-0000-4000-8000-000000000001 \
		-E root_owner=0:0,hash_seed=5e55e55e-0000-4000-8000-000000000002 \
		-d "$tree" "$dest" 16M >/dev/null
}

# -------------------------------------------------------------------- main
if [ "$ARCH" = x86_64 ]; then
	BUSYBOX=/bin/busybox STRIP=strip
	fetch_kernel
else
	# shellcheck source-path=SCRIPTDIR source=foreign-arch.sh
	source "$IMAGES_SRC/foreign-arch.sh"
	foreign_prepare
	build_cross_apps
fi
check_builtin_config
build_module
# Resolving the load order runs depmod over the whole kernel: cache it per
# kernel package and module.
ORDER_CACHE=$WORK/load-order-$(printf '%s %s %s' "$KDEB_SHA" "${MODULE_KO:+$(sha "$MODULE_KO")}" \
	"${MODULES[*]}" | sha)
if [ ! -s "$ORDER_CACHE" ]; then
	rm -f "$WORK"/load-order-*
	module_load_order >"$ORDER_CACHE.tmp"
	mv "$ORDER_CACHE.tmp" "$ORDER_CACHE"
fi
LOAD_ORDER=$(cat "$ORDER_CACHE")
INPUT_HASH=$(input_manifest | sha)

if [ -z "$MODULE_KO" ]; then
	loud "virtio_sst.ko is NOT in the initramfs: $MODULE_NOTE" \
		"the image boots and runs rng/blk, but sst-* workloads will fail"
fi
for a in "${APPS[@]}"; do
	[ -f "$(app_path "$a")" ] || APP_NOTE="$APP_NOTE $a"
done
[ -z "$APP_NOTE" ] || loud "not in the initramfs (missing in $LIB_BUILD/bin):$APP_NOTE"

if [ $FORCE = 0 ] && outputs_present && [ "$(cat "$OUT/.inputs-sha256" 2>/dev/null)" = "$INPUT_HASH" ]; then
	log "up to date: $OUT (kernel $(cat "$OUT/kernel-version"))"
	exit 0
fi

STAGE=$(mktemp -d "$OUT/.build.XXXXXX")
trap 'rm -rf "$STAGE"' EXIT
DISK_TREE=$STAGE/disk-tree
make_disk_tree "$DISK_TREE"
build_disk "$DISK_TREE" "$STAGE/disk.img"
build_initramfs "$STAGE/initramfs-root" "$STAGE/initramfs.cpio.gz"
cp "$KROOT/boot/vmlinuz-$KVER" "$STAGE/vmlinuz"
echo "$KVER" >"$STAGE/kernel-version"
input_manifest >"$STAGE/inputs.txt"

# Stamp last: an interrupted build is never taken for a finished one.
rm -f "$OUT/.inputs-sha256"
for f in vmlinuz initramfs.cpio.gz disk.img kernel-version inputs.txt; do
	mv -f "$STAGE/$f" "$OUT/$f"
done
echo "$INPUT_HASH" >"$OUT/.inputs-sha256"
log "built $OUT: kernel $KVER, initramfs $(du -h "$OUT/initramfs.cpio.gz" | cut -f1)," \
	"virtio_sst.ko $([ -n "$MODULE_KO" ] && echo included || echo MISSING)"
