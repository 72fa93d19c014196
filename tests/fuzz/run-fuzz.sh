#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ./vsst fuzz [seconds-per-target] [target...]
# Builds the fuzz flavour if needed, then runs each libFuzzer target for the
# given time (default 60 s) on a working copy of its corpus, which grows
# across runs: <build>/fuzz/corpus/<target> (seeded from tests/fuzz/corpus).
# Crash inputs are kept in <build>/fuzz/crashes/<target>/, full logs in
# <build>/fuzz/logs/. Prints execs, time, coverage, new corpus entries and
# crashes per target; exits 1 if any target crashed.
# Environment: VSST_BUILD_ROOT (default <repo>/build), VSST_JOBS (build jobs),
# VSST_FUZZ_FLAGS (extra libFuzzer flags, e.g. "-seed=7"), VSST_FUZZ_NO_BUILD=1
# (run the binaries already built).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
all_targets=(rpc_ring device_request virtqueue_chain sim_framing trace_reader sim_link sim_server bridge_intake)

seconds=${1:-60}
[[ $seconds =~ ^[0-9]+$ ]] || { echo "usage: $0 [seconds-per-target] [target...]" >&2; exit 2; }
[ $# -gt 0 ] && shift
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all_targets[@]}")

build=${VSST_BUILD_ROOT:-$root/build}/fuzz
if [ -n "${VSST_FUZZ_NO_BUILD:-}" ]; then
	: # use the binaries already in $build/bin
elif [ ! -f "$build/CMakeCache.txt" ]; then
	echo "==> configuring the fuzz flavour (clang, libFuzzer, ASan+UBSan) in $build" >&2
	cmake -S "$root" -B "$build" -G Ninja -DVSST_SANITIZE= -DCMAKE_C_COMPILER=clang \
		-DCMAKE_CXX_COMPILER=clang++ -DVSST_FUZZ=ON \
		-DVSST_CACHE="${VSST_CACHE:-$HOME/.cache/vsst}" >/dev/null
fi
if [ -z "${VSST_FUZZ_NO_BUILD:-}" ]; then
	echo "==> building vsst-fuzz-all" >&2
	cmake --build "$build" --target vsst-fuzz-all -j "${VSST_JOBS:-$(nproc)}" >&2
fi

# UBSan findings must stop the fuzzer like ASan's do.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
mkdir -p "$build/logs"
count() { find "$1" -maxdepth 1 -type f | wc -l; }
# libFuzzer artifacts that are failures: slow-unit-* files only say an input ran long
# (under load they are often the machine, not the code), so they are not counted.
failures() { find "$1" -maxdepth 1 -type f ! -name 'slow-unit-*' | wc -l; }

printf '%-16s %12s %8s %9s %8s %10s %8s  %s\n' target execs seconds exec/s cov features new crashes
failed=0
results=()
for t in "${targets[@]}"; do
	bin=$build/bin/fuzz-$t
	if [ ! -x "$bin" ]; then
		echo "$t: not built (its library is missing?)" >&2
		failed=1
		continue
	fi
	case $t in sim_framing) max_len=40000 ;; trace_reader) max_len=65536 ;; device_request | sim_server | bridge_intake) max_len=16384 ;; *) max_len=4096 ;; esac
	work=$build/corpus/$t crashes=$build/crashes/$t log=$build/logs/$t.log
	mkdir -p "$work" "$crashes"
	cp -n "$here/corpus/$t"/* "$work/" 2>/dev/null || true
	corpus_before=$(count "$work") crashes_before=$(failures "$crashes")
	t0=$SECONDS rc=0
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$crashes/" ${VSST_FUZZ_FLAGS:-} "$work" >"$log" 2>&1 || rc=$?
	secs=$((SECONDS - t0))
	# A crash while loading the corpus leaves some of these out of the log.
	execs=$(awk '/stat::number_of_executed_units/ {v = $2} END {print v}' "$log")
	rate=$(awk '/stat::average_exec_per_sec/ {v = $2} END {print v}' "$log")
	cov=$(awk '{for (i = 1; i < NF; i++) if ($i == "cov:") v = $(i + 1)} END {print v}' "$log")
	ft=$(awk '{for (i = 1; i < NF; i++) if ($i == "ft:") v = $(i + 1)} END {print v}' "$log")
	new=$(($(count "$work") - corpus_before))
	found=$(($(failures "$crashes") - crashes_before))
	[ $rc -ne 0 ] && [ "$found" -eq 0 ] && found=1 # died without an artifact: still a failure
	printf '%-16s %12s %8s %9s %8s %10s %8s  %s\n' "$t" "${execs:-?}" "$secs" "${rate:-?}" "${cov:-?}" \
		"${ft:-?}" "$new" "$found"
	if [ "$found" -gt 0 ]; then
		failed=1
		results+=("$t: CRASH (exit $rc), inputs in $crashes/, log $log")
	fi
done
for r in "${results[@]}"; do echo "$r" >&2; done
[ $failed -eq 0 ] || echo "fuzz: FAILED (see above; turn each crash into a regression, tests/fuzz/README.md)" >&2
exit $failed
