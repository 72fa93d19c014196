#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One fuzz.<target> CTest test: replays every committed regression input,
# then fuzzes briefly from a scratch copy of the committed seed corpus
# (fixed seed, fixed run count, bounded time).
# usage: ctest-fuzz.sh <fuzzer> <corpus-dir> <regressions-dir> <work-dir> <runs> <seconds> <max-len>
set -euo pipefail
fuzzer=$1 corpus=$2 regressions=$3 work=$4 runs=$5 seconds=$6 max_len=$7

# UBSan findings must fail like ASan's (the fuzz flavour compiles with recovery on).
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts"

shopt -s nullglob
inputs=()
for f in "$regressions"/*; do
	case "${f##*/}" in README* | *.md) continue ;; esac
	[ -f "$f" ] && inputs+=("$f")
done
if [ ${#inputs[@]} -gt 0 ]; then
	echo "== replaying ${#inputs[@]} regression input(s) from $regressions"
	# Each file runs once; any crash fails the test (exit 1: 77 would read as SKIP).
	"$fuzzer" -timeout=10 -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 "${inputs[@]}"
fi

seeds=("$corpus"/*)
[ ${#seeds[@]} -gt 0 ] || { echo "no seed corpus in $corpus" >&2; exit 1; }
cp -- "${seeds[@]}" "$work/corpus/"
echo "== fuzzing ${#seeds[@]} seeds + $runs runs (seed 1, at most $seconds s)"
# libFuzzer's per-input progress lines would bury a crash report in CI's
# excerpt: keep the full log in the work dir and print only what matters.
log=$work/fuzz.log
rc=0
"$fuzzer" -seed=1 -runs="$runs" -max_total_time="$seconds" -max_len="$max_len" \
	-timeout=10 -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
	-artifact_prefix="$work/artifacts/" "$work/corpus" >"$log" 2>&1 || rc=$?
if [ $rc -ne 0 ]; then
	echo "FAIL: $fuzzer exited $rc; its report (progress lines left out; full log: $log):"
	grep -v -E '^#[0-9]+[[:space:]]' "$log" | grep -v -E '^(INFO|MS):|^"' | tail -n 80
	exit 1
fi
grep -E '^(Done|stat::)' "$log"
