#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# ./vsst bench device: throughput of the virtio-sst device core (local
# answers, framed and acalsim simulator round trips at several depths).
set -euo pipefail
bin=${VSST_BIN:-${VSST_BUILD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)/build}/default/bin}
[ -x "$bin/device_bench" ] || { echo "device_bench not built in $bin (libbenchmark-dev missing?)" >&2; exit 1; }
exec "$bin/device_bench" --benchmark_min_time=0.5 "$@"
