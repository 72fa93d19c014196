#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The monolithic smoke runs registered with ctest (e2e.mono_<case>); each is
# one mono-boot.sh invocation. usage: e2e-mono.sh boot|sst_test|two_devices|sst_bench
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BOOT=$HERE/mono-boot.sh
# How sst-test and sst-bench are pointed at a device other than /dev/sst0.
DEV_FLAG=${VSST_APP_DEVICE_FLAG:---device}

case "${1:-}" in
boot)
	# The image itself, with QEMU's stock virtio-rng and virtio-blk only.
	exec "$BOOT" --run rng,blk --rng --blk --expect init.modules --expect rng --expect blk \
		--min-pass 3 --timeout 300 ;;
sst_test)
	# init.modules, init.sst-devices, sst-test.exit and at least 10 of the
	# app's cases passing (none failing): a run that lists no cases fails.
	exec "$BOOT" --sst 1 --run sst-test --expect init.modules --expect init.sst-devices \
		--expect sst-test.exit --min-pass 13 --timeout 400 ;;
two_devices)
	exec "$BOOT" --sst 2 --run sst-test,sst-test.1 \
		--append " vsst.args.sst-test.1=\"$DEV_FLAG /dev/sst1\"" \
		--expect init.sst-devices --expect sst-test.exit --expect sst-test.1.exit \
		--min-pass 24 --timeout 500 ;;
sst_bench)
	# A short run; the figures come from bench-mono.sh.
	exec "$BOOT" --sst 1 --run sst-bench.noop,sst-bench.write \
		--append ' vsst.args.sst-bench.noop="--depth 8 --count 2000"' \
		--append ' vsst.args.sst-bench.write="--type write --size 4000 --depth 4 --count 500"' \
		--expect init.sst-devices --expect sst-bench.noop.exit --expect sst-bench.write.exit \
		--expect-line 'VSST-BENCH type=noop .*rps=[0-9.]+ errors=0' \
		--expect-line 'VSST-BENCH type=write .*rps=[0-9.]+ errors=0' \
		--min-pass 4 --timeout 400 ;;
*)
	echo "usage: e2e-mono.sh boot|sst_test|two_devices|sst_bench" >&2
	exit 2 ;;
esac
