#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Monolithic baseline figures: boots the guest once with virtio-sst-pci inside
# the guest QEMU (TCG) and runs sst-bench at queue depth 1 (latency) and at
# depth 32 (throughput). Prints sst-bench's machine-readable lines for each.
# usage: bench-mono.sh [--console FILE] [--timeout S]
# Environment: VSST_BENCH_ARGS_D1, VSST_BENCH_ARGS_D32 (sst-bench arguments),
#   plus everything mono-boot.sh reads (VSST_QEMU, VSST_IMAGES, VSST_BIN).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

CONSOLE="" TIMEOUT=600
while [ $# -gt 0 ]; do
	case "$1" in
	--console) CONSOLE=$2; shift ;;
	--timeout) TIMEOUT=$2; shift ;;
	-h | --help) sed -n '3,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-mono: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

ARGS_D1=${VSST_BENCH_ARGS_D1:---depth 1 --requests 2000}
ARGS_D32=${VSST_BENCH_ARGS_D32:---depth 32 --requests 20000}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/vsst-bench-mono.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
LOG=${CONSOLE:-$TMP/console.log}

rc=0
"$HERE/mono-boot.sh" --sst 1 --run sst-bench.d1,sst-bench.d32 \
	--append " vsst.args.sst-bench.d1=\"$ARGS_D1\" vsst.args.sst-bench.d32=\"$ARGS_D32\"" \
	--expect sst-bench.d1.exit --expect sst-bench.d32.exit \
	--timeout "$TIMEOUT" --console "$LOG" --quiet >"$TMP/run.log" 2>&1 || rc=$?
if [ $rc -ne 0 ]; then
	cat "$TMP/run.log"
	echo "bench-mono: the benchmark run failed (status $rc)" >&2
	exit $rc
fi
grep '^mono-boot: boot:' "$TMP/run.log" || true

# The lines sst-bench printed in each instance's begin/end bracket.
for inst in sst-bench.d1 sst-bench.d32; do
	args=$ARGS_D1; [ $inst = sst-bench.d32 ] && args=$ARGS_D32
	echo "== monolithic $inst: sst-bench $args"
	tr -d '\r' <"$LOG" | awk -v i="$inst" '
		$0 ~ "VSST-RUN begin " i " " { on = 1; next }
		$0 ~ "VSST-RUN end " i " " { on = 0 }
		on && /VSST-(RESULT|BENCH)/ { sub(/^.*VSST-/, "VSST-"); print "  " $0 }'
done
