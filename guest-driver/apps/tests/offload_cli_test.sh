#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# offload_cli_test.sh <sst-offload> [--expect-static]
# sst-offload's command line without a device: --help at once, argument
# errors exit 2, a missing device node exits 3 with a FAIL result line.
set -u
bin=$1 expect_static=${2:-}
# shellcheck source=cli_checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/cli_checks.sh"

check "--help exits 0" status_is 0 timeout 5 "$bin" --help
check "--help documents the exit statuses" grep -q 'Exit status' <<<"$("$bin" --help)"
for bad in "--blocks 0" "--blocks 65" "--size 0" "--size x" "--depth 0" "--depth -1" "--seed -1" \
	"--model warp" "--devices ," "--devices 0,,1" "--timeout-s 0" "--blocks 1 extra"; do
	# shellcheck disable=SC2086 # the options are split on purpose
	check "$bad exits 2" status_is 2 "$bin" $bad
done
out=$("$bin" --devices /nonexistent/sst9 --blocks 1 2>&1)
rc=$?
check "missing device exits 3" [ $rc -eq 3 ]
check "missing device prints a FAIL line" grep -q '^VSST-RESULT offload FAIL .*reason=device-error' <<<"$out"
check "missing device names the node" grep -q '/nonexistent/sst9: open: No such file' <<<"$out"
if [ "$expect_static" = --expect-static ]; then
	check_static "$bin"
fi
checks_done offload_cli_test
