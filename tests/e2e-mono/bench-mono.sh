#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Monolithic baseline figures: boots the guest once with virtio-sst-pci inside
# the guest QEMU (TCG) and runs sst-bench at queue depth 1 (latency) and at
# depth 32 (throughput). Prints sst-bench's VSST-BENCH line for each and
# "VSST-BENCH-MONO p50_us_depth1=<us> rps_depth32=<n>" last.
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
	-h | --help) sed -n '3,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench-mono: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

ARGS_D1=${VSST_BENCH_ARGS_D1:---depth 1 --count 2000}
ARGS_D32=${VSST_BENCH_ARGS_D32:---depth 32 --count 20000}
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

# The two figures the split is compared with, on one machine-readable line.
field() { tr -d '\r' <"$LOG" | awk -v i="$1" -v k="$2" '
	$0 ~ "VSST-RUN begin " i " " { on = 1; next }
	$0 ~ "VSST-RUN end " i " " { on = 0 }
	on && /VSST-BENCH/ { for (f = 1; f <= NF; f++) if (index($f, k "=") == 1) v = substr($f, length(k) + 2) }
	END { print v }'; }
p50=$(field sst-bench.d1 p50_us)
rps=$(field sst-bench.d32 rps)
if [ -z "$p50" ] || [ -z "$rps" ]; then
	echo "bench-mono: no VSST-BENCH figures in the console" >&2
	exit 1
fi
echo "VSST-BENCH-MONO p50_us_depth1=$p50 rps_depth32=$rps"
