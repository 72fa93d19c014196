# SPDX-License-Identifier: Apache-2.0
# split-lib.sh - shell helpers shared by run-main.sh, bench-guest.sh and
# tests/e2e-split/: finding the pieces, simulators, a work directory the
# unprivileged device VM can reach, vmm-proxy runs, result checks, and making
# sure nothing is left running. Source it; it defines functions only.

SPLIT_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SPLIT_ROOT=$(cd "$SPLIT_LIB_DIR/.." && pwd)
# shellcheck source=../scripts/lib.sh
source "$SPLIT_ROOT/scripts/lib.sh"

# split_show <vmm-proxy log> <console> [title]: what helps when a case fails, the log's
# last 40 lines and the console's last 60 (carriage returns dropped).
split_show() {
	local title=${3:+$3: }
	echo "---- ${title}vmm-proxy log (last 40 lines)"
	tail -n 40 "$1" 2>/dev/null
	echo "---- ${title}guest console (last 60 lines)"
	tr -d '\r' <"$2" 2>/dev/null | tail -n 60
}

split_say() { printf '%s: %s\n' "${SPLIT_NAME:-split}" "$*"; }
split_progress() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
# Callers with exit statuses of their own (run.sh: 125) set SPLIT_FAIL_STATUS.
split_fail() { split_say "FAIL: $*" >&2; exit "${SPLIT_FAIL_STATUS:-1}"; }

# A missing prerequisite skips (exit 77), loudly; under VSST_REQUIRE_ALL=1 it fails.
split_need() {
	if [ "${VSST_REQUIRE_ALL:-0}" = 1 ]; then
		split_say "FAIL: missing prerequisite (VSST_REQUIRE_ALL=1): $*" >&2
		exit "${SPLIT_FAIL_STATUS:-1}"
	fi
	printf '\n*** SKIP: %s ***\n\n' "$*"
	exit 77
}

# Sets QEMU, IMAGES, BIN, VMM_PROXY, SIM from the environment ./vsst exports
# (VSST_QEMU, VSST_IMAGES, VSST_BIN), falling back to VSST_DEFAULT_* (ctest)
# and the usual places. $1 = "split" also checks the split pieces in QEMU.
# VSST_ARCH (x86_64, riscv64, aarch64; default x86_64) picks the guest
# architecture: its images (the ARCH subfolder of the images folder, as
# images/build-images.sh --arch ARCH writes them) and its guest QEMU
# (GUEST_QEMU: qemu-system-ARCH beside QEMU, which stays the device VM).
split_find_pieces() {
	local cache=${VSST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsst}
	ARCH=${VSST_ARCH:-x86_64}
	case "$ARCH" in x86_64 | riscv64 | aarch64) ;; *) split_fail "VSST_ARCH: want x86_64, riscv64 or aarch64, not '$ARCH'" ;; esac
	QEMU=${VSST_QEMU:-${VSST_DEFAULT_QEMU:-$(vsst_qemu_bin)}}
	GUEST_QEMU=$QEMU
	[ "$ARCH" = x86_64 ] || GUEST_QEMU=$(dirname "$QEMU")/qemu-system-$ARCH
	IMAGES=${VSST_IMAGES:-${VSST_DEFAULT_IMAGES:-$cache/images}}
	local hint=""
	[ "$ARCH" = x86_64 ] || { IMAGES=$IMAGES/$ARCH; hint=" --arch $ARCH"; }
	BIN=${VSST_BIN:-${VSST_DEFAULT_BIN:-$SPLIT_ROOT/build/default/bin}}
	VMM_PROXY=$BIN/vmm-proxy
	SIM=$BIN/sst-sim
	[ -x "$QEMU" ] || split_need "no QEMU at '$QEMU' (run ./vsst qemu)"
	[ -x "$GUEST_QEMU" ] || split_need "no $ARCH guest QEMU at '$GUEST_QEMU' (run ./vsst qemu --arch $ARCH)"
	local f
	for f in vmlinuz initramfs.cpio.gz disk.img; do
		[ -s "$IMAGES/$f" ] || split_need "no $IMAGES/$f (run ./vsst images$hint)"
	done
	[ -x "$VMM_PROXY" ] || split_need "no vmm-proxy at '$VMM_PROXY' (run ./vsst build)"
	[ -x "$SIM" ] || split_need "no sst-sim at '$SIM' (run ./vsst build)"
	local devices machines
	devices=$(timeout 30 "$QEMU" -device help 2>/dev/null)
	grep -q '"virtio-sst-pci"' <<<"$devices" || split_need "$QEMU has no virtio-sst-pci device"
	if [ "${1:-}" = split ]; then
		[ "$ARCH" = x86_64 ] || devices=$(timeout 30 "$GUEST_QEMU" -device help 2>/dev/null)
		grep -q '"rpc-proxy-pci"' <<<"$devices" || split_need "$GUEST_QEMU has no rpc-proxy-pci device"
		machines=$(timeout 30 "$QEMU" -machine help 2>/dev/null)
		grep -q '^rpc-backend' <<<"$machines" || split_need "$QEMU has no rpc-backend machine"
	fi
	# (No grep -q at the end of a pipe: under pipefail, cpio's SIGPIPE would fail it.)
	local listing
	listing=$(gzip -dc "$IMAGES/initramfs.cpio.gz" | cpio -t --quiet 2>/dev/null)
	grep -q 'virtio_sst\.ko$' <<<"$listing" || split_need "$IMAGES/initramfs.cpio.gz has no virtio_sst.ko"
}

# A work directory the device VM (user nobody when we are root) can traverse.
# Everything started from here is stopped by split_cleanup (set as EXIT trap).
split_workdir() {
	WORK=$(mktemp -d "${TMPDIR:-/tmp}/vsst-split.XXXXXX") || split_fail "mktemp"
	chmod 755 "$WORK"
	SPLIT_PIDS=()
	SIM_PIDS=()
	trap split_cleanup EXIT
	trap 'split_say "interrupted"; exit 130' INT TERM HUP
}

split_cleanup() {
	local pid i alive
	for pid in "${SPLIT_PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
	for i in $(seq 50); do
		alive=0
		for pid in "${SPLIT_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
		[ $alive = 0 ] && break
		sleep 0.1
	done
	for pid in "${SPLIT_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	done
	if [ "${VSST_E2E_KEEP:-0}" = 1 ]; then
		split_say "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
}

# split_start_sim <i>: sst-sim on $WORK/sim<i>.sock, reachable by an
# unprivileged device VM (umask 000). Bounded wait for the socket.
# --idle-timeout 0: the run's device VM is sst-sim's only client and its link
# is silent whenever the guest is (an interactive console can idle for hours);
# an idle close would make it reconnect to a fresh device, losing device memory
# and CONFIGUREd parameters. VSST_SIM_ARGS come later and may set one.
split_start_sim() {
	local i=$1 sock=$WORK/sim$1.sock n=100
	rm -f "$sock"
	# shellcheck disable=SC2086 # VSST_SIM_ARGS is a list of words
	(umask 000 && exec timeout -k 5 "${SPLIT_CHILD_BOUND:-900}" "$SIM" --socket "$sock" \
		--idle-timeout 0 ${VSST_SIM_ARGS:-}) >>"$WORK/sim$i.log" 2>&1 &
	SIM_PIDS[$i]=$!
	SPLIT_PIDS+=($!)
	while [ ! -S "$sock" ]; do
		kill -0 "${SIM_PIDS[$i]}" 2>/dev/null || { cat "$WORK/sim$i.log"; split_fail "sst-sim $i exited at start"; }
		[ $n -le 0 ] && { cat "$WORK/sim$i.log"; split_fail "sst-sim $i did not create $sock in 10 s"; }
		n=$((n - 1))
		sleep 0.1
	done
}

# Kills sst-sim <i> the hard way (a crash). SIM_PIDS holds timeout(1), which
# does not pass SIGKILL on: kill its child, sst-sim itself.
split_kill_sim() {
	local i=$1 child
	child=$(pgrep -P "${SIM_PIDS[$i]}")
	[ -n "$child" ] && kill -KILL $child 2>/dev/null
	wait "${SIM_PIDS[$i]}" 2>/dev/null
	rm -f "$WORK/sim$i.sock"
}

# split_vmm_proxy <console> <stderr-log> <args...>: runs vmm-proxy in the
# background with the bundled image; sets VMM_PID. A unique token on the guest
# and device command lines lets split_leftovers find strays.
split_vmm_proxy() {
	local console=$1 log=$2
	shift 2
	SPLIT_TOKEN=vsst-split-$$-$RANDOM
	timeout -k 5 "${SPLIT_CHILD_BOUND:-900}" "$VMM_PROXY" --qemu "$QEMU" \
		--arch "${ARCH:-x86_64}" --guest-qemu "${GUEST_QEMU:-$QEMU}" \
		--kernel "$IMAGES/vmlinuz" --initrd "$IMAGES/initramfs.cpio.gz" \
		--console "$console" --guest-arg -name --guest-arg "guest,process=$SPLIT_TOKEN" \
		--device-arg -name --device-arg "device,process=$SPLIT_TOKEN" \
		"$@" >"$log.out" 2>"$log" &
	VMM_PID=$!
	SPLIT_PIDS+=($VMM_PID)
}

# Waits for VMM_PID; sets VMM_RC. Optional $1: seconds (default 600).
split_wait_vmm() {
	local bound=${1:-600} t=0
	while kill -0 "$VMM_PID" 2>/dev/null; do
		if [ $t -ge $((bound * 10)) ]; then
			split_say "vmm-proxy did not finish in $bound s; stopping it"
			kill -TERM "$VMM_PID"
			sleep 5
			kill -KILL "$VMM_PID" 2>/dev/null
		fi
		sleep 0.1
		t=$((t + 1))
	done
	wait "$VMM_PID"
	VMM_RC=$?
}

# split_wait_console <file> <regex> <seconds>: bounded wait for a console line.
split_wait_console() {
	local file=$1 re=$2 n=$(($3 * 10))
	until grep -aqE "$re" "$file" 2>/dev/null; do
		kill -0 "$VMM_PID" 2>/dev/null || return 1
		[ $n -le 0 ] && return 1
		n=$((n - 1))
		sleep 0.1
	done
}

# Processes carrying the last run's token (QEMU renames its threads, not its
# command line, so -name ...,process= does not hide it from /proc/*/cmdline).
split_leftovers() {
	[ -n "${SPLIT_TOKEN:-}" ] || return 0
	local p n=0 cmd
	for p in /proc/[0-9]*; do
		cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		if [[ $cmd == *"$SPLIT_TOKEN"* ]]; then
			split_say "still running: pid ${p#/proc/}: ${cmd:0:120}"
			n=$((n + 1))
		fi
	done
	return $n
}

# split_result <console> <name>: prints the status word of VSST-RESULT <name>.
split_result() {
	tr -d '\r' <"$1" | sed -n "s/^.*VSST-RESULT $(printf '%s' "$2" | sed 's/[.[\*^$]/\\&/g') \([A-Za-z]*\).*$/\1/p" | tail -n 1
}

# split_expect <console> <name>...: each named result must say PASS.
split_expect() {
	local console=$1 name st bad=0
	shift
	for name in "$@"; do
		st=$(split_result "$console" "$name")
		if [ "$st" != PASS ]; then
			split_say "expected VSST-RESULT $name PASS, got '${st:-nothing}'"
			bad=1
		fi
	done
	return $bad
}

# The guest summary line's counts: sets SUM_PASS SUM_FAIL SUM_SKIP (empty if none).
split_summary() {
	local line
	line=$(tr -d '\r' <"$1" | grep -ao 'VSST-RESULT summary .*' | tail -n 1)
	SUM_PASS=$(sed -n 's/.*pass=\([0-9]*\).*/\1/p' <<<"$line")
	SUM_FAIL=$(sed -n 's/.*fail=\([0-9]*\).*/\1/p' <<<"$line")
	SUM_SKIP=$(sed -n 's/.*skip=\([0-9]*\).*/\1/p' <<<"$line")
}

# The VSST-BENCH line printed inside the VSST-RUN bracket of instance $2.
split_bench_line() {
	tr -d '\r' <"$1" | awk -v i="$2" '
		$0 ~ "VSST-RUN begin " i " " { on = 1; next }
		$0 ~ "VSST-RUN end " i " " { on = 0 }
		on && /VSST-BENCH/ { sub(/^.*VSST-BENCH/, "VSST-BENCH"); print; exit }'
}

# split_field <line> <key>: value of key=value in a line.
split_field() { sed -n "s/.*[ ]$2=\([^ ]*\).*/\1/p" <<<"$1"; }
