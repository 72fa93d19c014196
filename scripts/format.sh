#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Formats the project's C/C++ files (those git tracks) with the root .clang-format.
#   scripts/format.sh [--check] [PATHSPEC...]
# Default: rewrite the files in place. --check: change nothing, list the files
# that differ from the style and exit 1 if there is any.
# Folders whose .clang-format says DisableFormat: true (the kernel module, the
# QEMU overlay) keep their own style and are skipped.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(cd "$(dirname "$0")" && pwd)/lib.sh"

check=0
if [ "${1:-}" = --check ]; then
	check=1
	shift
fi
case "${1:-}" in
-h | --help)
	sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
-*) vsst_die "format: unknown flag $1 (usage: scripts/format.sh [--check] [PATHSPEC...])" ;;
esac

command -v clang-format >/dev/null || vsst_need_pkgs clang-format
cd "$VSST_ROOT"

# Folders that opt out: every tracked .clang-format with DisableFormat: true.
skip=()
while IFS= read -r -d '' cfg; do
	grep -Eq '^DisableFormat:[[:space:]]*true' "$cfg" && skip+=("$(dirname "$cfg")/")
done < <(git ls-files -z --cached --others --exclude-standard -- '.clang-format' '*/.clang-format')

skipped() {
	local dir
	for dir in "${skip[@]}"; do
		case "$1" in "$dir"*) return 0 ;; esac
	done
	return 1
}

files=()
while IFS= read -r -d '' f; do
	[ -f "$f" ] && ! skipped "$f" && files+=("$f")
done < <(git ls-files -z -- "${@:-.}" | grep -zE '\.(c|cc|cpp|h|hh|hpp)$' || true)

differ=()
for f in "${files[@]}"; do
	if [ $check -eq 1 ]; then
		clang-format --style=file "$f" | cmp -s "$f" - || differ+=("$f")
	else
		clang-format --style=file -i "$f"
	fi
done

if [ $check -eq 1 ]; then
	if [ ${#differ[@]} -gt 0 ]; then
		printf '%s\n' "${differ[@]}"
		echo "format: ${#differ[@]} of ${#files[@]} files differ from .clang-format (run scripts/format.sh)" >&2
		exit 1
	fi
	echo "format: ${#files[@]} files follow .clang-format" >&2
else
	echo "format: ${#files[@]} files formatted" >&2
fi
