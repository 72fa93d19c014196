# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Shared shell helpers for ./vsst and the component scripts. Source it.

VSST_ROOT=${VSST_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
# Project build trees (ignored by git) and the cache for slow artefacts
# (QEMU, images) that survives fresh clones, so CI rebuilds only what changed.
VSST_BUILD_ROOT=${VSST_BUILD_ROOT:-$VSST_ROOT/build}
VSST_CACHE=${VSST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsst}
# QEMU links this checkout's libraries, so its work copy and builds are keyed by
# the checkout (its physical path): two checkouts never link each other's code.
# Only the pristine Debian source is shared. The one place this key is made.
VSST_QEMU_DIR=${VSST_QEMU_DIR:-$VSST_CACHE/qemu/checkout-$(cd "$VSST_ROOT" && pwd -P | tr -d '\n' | sha256sum | cut -c1-12)}
export VSST_ROOT VSST_BUILD_ROOT VSST_CACHE VSST_QEMU_DIR
# This checkout's QEMU binary; $1 = "asan" for the sanitizer build.
vsst_qemu_bin() { echo "$VSST_QEMU_DIR/build${1:+-$1}/qemu-system-x86_64"; }

vsst_progress() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
vsst_die() { printf 'vsst: error: %s\n' "$*" >&2; exit 1; }

vsst_as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install Debian packages that are not installed yet (idempotent, quiet when
# nothing is missing). apt-get update runs only when something is missing.
vsst_need_pkgs() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	vsst_progress "installing ${missing[*]}"
	vsst_as_root apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null ||
		vsst_die "apt-get update failed"
	vsst_as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
		--no-install-recommends "${missing[@]}" >/dev/null ||
		vsst_die "apt-get install ${missing[*]} failed"
}

# Packages listed in every component's deps.apt (one per line, # comments).
vsst_all_deps() {
	cat "$VSST_ROOT"/*/deps.apt "$VSST_ROOT"/*/*/deps.apt 2>/dev/null |
		sed 's/#.*//' | tr -s ' \t' '\n' | grep -v '^$' | sort -u
}
