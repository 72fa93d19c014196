#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sim.sst_element: runs the SST-core element library under `sst` with each
# python config that fits one process, drives it with sim_smoke, and checks
# that the bridge ends the run when its client disconnects.
# usage: sst_element_test.sh <sim_smoke> <libvsst dir or "none"> <configs dir>
set -euo pipefail
smoke=$1 libdir=$2 configs=$3
if ! command -v sst-config >/dev/null 2>&1 || ! command -v sst >/dev/null 2>&1; then
	echo "SKIP: SST-core not found (no sst-config/sst in PATH): libvsst.so is not built and the element cannot run"
	exit 77
fi
if [ "$libdir" = none ] || [ ! -f "$libdir/libvsst.so" ]; then
	echo "FAIL: sst-config is present but libvsst.so was not built (reconfigure the build)"
	exit 1
fi
work=$(mktemp -d /tmp/vsst-sst-element-XXXXXX)
trap 'rm -rf "$work"' EXIT
rc=0
run_config() {
	local config=$1; shift
	local log=$work/$(basename "$config").log
	VSST_SOCKET_DIR=$work timeout 120 sst --add-lib-path "$libdir" "$config" >"$log" 2>&1 &
	local pid=$!
	for sock in "$@"; do
		if ! "$smoke" "$sock" framed; then
			echo "FAIL: $config: smoke session on $sock"; rc=1
		fi
	done
	if ! wait $pid; then
		echo "FAIL: $config: sst did not end cleanly after the clients left"; cat "$log"; rc=1
	else
		echo "ok: $config"; grep -i "vsst" "$log" | head -20 || true
	fi
}
run_config "$configs/single_device.py" "$work/sst0.sock"
run_config "$configs/two_devices.py" "$work/sst0.sock" "$work/sst1.sock"
if command -v mpirun >/dev/null 2>&1; then
	VSST_SOCKET_DIR=$work timeout 120 mpirun --allow-run-as-root -np 2 sst --add-lib-path "$libdir" \
		"$configs/compute_on_rank1.py" >"$work/mpi.log" 2>&1 &
	pid=$!
	"$smoke" "$work/sst0.sock" framed || { echo "FAIL: multi-rank smoke"; rc=1; }
	wait $pid || { echo "FAIL: multi-rank sst run"; cat "$work/mpi.log"; rc=1; }
else
	echo "note: mpirun not found, multi-rank config not exercised"
fi
exit $rc
