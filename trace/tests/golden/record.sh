#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Re-records the golden traces in this folder from real device-VM runs:
#   trace/tests/golden/record.sh [sst|rng|blk|guest]...     (default: all four)
# sst, rng, blk: the guest is played by the host-side virtio driver
#   (guest-driver/lib, vsst-record-driver) through the real backend QEMU
#   (-machine rpc-backend -accel rpc) over the RPC channel; sst additionally
#   runs the real sst-sim behind the recorder's socket relay.
# guest: a real Linux guest (the bundled image) through vmm-proxy --trace
#   --isolate per-device, one device VM per device, each recording its own
#   trace: guest-sst.vtrace (sst-test, one request at a time),
#   guest-rng.vtrace (/dev/hwrng), guest-blk.vtrace (md5sum of blk-disk.img).
# Needs: $VSST_BIN/vsst-record-driver, vsst-trace, sst-sim, vmm-proxy (default
# build/default/bin), $VSST_QEMU (default: this checkout's QEMU build),
# for guest also $VSST_IMAGES (default ~/.cache/vsst/images).
# Each recording is replayed once before it replaces the old golden trace.
# VSST_TRACES_OUT=DIR writes the new traces there instead (the disk image is
# still taken from this folder).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${VSST_TRACES_OUT:-$here}
root=$(cd "$here/../../.." && pwd)
bin=${VSST_BIN:-$root/build/default/bin}
cache=${VSST_CACHE:-$HOME/.cache/vsst}
source "$root/scripts/lib.sh"
qemu=${VSST_QEMU:-$(vsst_qemu_bin)}
images=${VSST_IMAGES:-$cache/images}
rec=$bin/vsst-record-driver
tool=$bin/vsst-trace
for b in "$rec" "$tool" "$bin/sst-sim"; do
	[ -x "$b" ] || { echo "record.sh: $b missing (build the project first)" >&2; exit 1; }
done
scenarios=("$@")
[ ${#scenarios[@]} -gt 0 ] || scenarios=(sst rng blk guest)
# World-searchable: the device VM may run as nobody and must reach sst-sim's socket.
tmp=$(mktemp -d /tmp/vsst-record-XXXXXX)
chmod 755 "$tmp"
sim_pid=
cleanup() {
	[ -z "$sim_pid" ] || kill "$sim_pid" 2>/dev/null || true
	[ -z "$sim_pid" ] || wait "$sim_pid" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT

# sst-test cases that keep one request in flight at a time, so that the
# device's completion order (and so the trace) is fixed by its inputs.
GUEST_SST_CASES="noop echo get_info compute configure reset invalid_type out_of_range"

record_guest() {
	for b in "$bin/vmm-proxy" "$qemu" "$images/vmlinuz" "$images/initramfs.cpio.gz"; do
		[ -e "$b" ] || { echo "record.sh: $b missing (./vsst build, ./vsst images)" >&2; exit 1; }
	done
	local args="" c
	for c in $GUEST_SST_CASES; do args+="--case $c "; done
	(umask 000; exec "$bin/sst-sim" --socket "$tmp/sim.sock" --status-interval 0 >"$tmp/sst-sim.log" 2>&1) &
	sim_pid=$!
	for _ in $(seq 100); do [ -S "$tmp/sim.sock" ] && break; sleep 0.1; done
	[ -S "$tmp/sim.sock" ] || { echo "record.sh: sst-sim did not start" >&2; cat "$tmp/sst-sim.log" >&2; exit 1; }
	# One device VM per device: each trace holds one device. The disk is the
	# small raw image kept here; the guest reads all of it once (md5sum).
	if ! "$bin/vmm-proxy" --qemu "$qemu" --kernel "$images/vmlinuz" --initrd "$images/initramfs.cpio.gz" \
		--memory 256M --isolate per-device --timeout 600 --quiet-console --console "$tmp/console.log" \
		--device "virtio-sst,sim=$tmp/sim.sock" --device virtio-rng \
		--device "virtio-blk,file=$here/blk-disk.img,readonly=on" \
		--append "vsst.run=sst-test,rng,md5sum vsst.args.sst-test=\"${args% }\" vsst.args.md5sum=/dev/vda" \
		--trace "$tmp/guest.vtrace"; then
		echo "record.sh: the guest run failed; console tail:" >&2
		tail -n 40 "$tmp/console.log" >&2
		exit 1
	fi
	local n=0 name
	for name in sst rng blk; do
		"$tool" replay "$tmp/guest.$n.vtrace" --image-dir "$here" --repeat 2
		mv "$tmp/guest.$n.vtrace" "$out/guest-$name.vtrace"
		echo "record.sh: $out/guest-$name.vtrace ($(stat -c %s "$out/guest-$name.vtrace") bytes)"
		n=$((n + 1))
	done
}

for s in "${scenarios[@]}"; do
	if [ "$s" = guest ]; then
		record_guest
		continue
	fi
	extra=()
	if [ "$s" = blk ]; then
		# The disk image is generated (deterministic) and kept next to the trace.
		[ -f "$here/blk-disk.img" ] || "$rec" --make-image "$here/blk-disk.img"
		extra=(--image "$here/blk-disk.img")
	fi
	VSST_BIN=$bin "$rec" --scenario "$s" --out "$tmp/$s.vtrace" --log-dir "$tmp" "${extra[@]}"
	"$tool" replay "$tmp/$s.vtrace" --image-dir "$here"
	mv "$tmp/$s.vtrace" "$out/$s.vtrace"
	echo "record.sh: $out/$s.vtrace ($(stat -c %s "$out/$s.vtrace") bytes)"
done
