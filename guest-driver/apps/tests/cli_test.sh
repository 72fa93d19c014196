#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# cli_test.sh <sst-test> <sst-bench> [--expect-static]
# Command-line behaviour of the guest applications without a device: case
# listing, argument errors, a missing device node, static linking.
set -u
test_bin=$1 bench_bin=$2 expect_static=${3:-}
# shellcheck source=cli_checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_checks.sh"

list=$("$test_bin" --list)
check "--list names the cases" grep -q '^concurrent_procs ' <<<"$list"
check "--list has every case" [ "$(wc -l <<<"$list")" -ge 20 ]
check "--help exits 0" status_is 0 "$test_bin" --help
check "unknown case exits 2" status_is 2 "$test_bin" --case no_such_case
check "bad --procs exits 2" status_is 2 "$test_bin" --procs 0
out=$("$test_bin" --device /nonexistent/sst9 2>&1)
rc=$?
check "missing device exits 1" [ $rc -eq 1 ]
check "missing device prints a FAIL line" grep -q '^VSST-RESULT open FAIL ' <<<"$out"
check "missing device prints the summary" grep -q '^VSST-RESULT summary pass=0 fail=1 ' <<<"$out"

check "bench --help exits 0" status_is 0 "$bench_bin" --help
check "bench bad type exits 2" status_is 2 "$bench_bin" --type bogus
check "bench bad depth exits 2" status_is 2 "$bench_bin" --depth 0
check "bench bad mode exits 2" status_is 2 "$bench_bin" --mode nope
check "bench missing device exits 1" status_is 1 "$bench_bin" --device /nonexistent/sst9

if [ "$expect_static" = --expect-static ]; then
	for b in "$test_bin" "$bench_bin"; do
		check_static "$b"
	done
fi
checks_done cli_test
