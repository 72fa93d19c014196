#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# /init of the vsst guest initramfs (busybox sh). Brings the guest up, loads
# the modules listed at build time, waits for /dev/sstN, runs the workloads
# named by vsst.run= on the kernel command line, prints one VSST-RESULT line
# per test plus a summary, and powers off. See images/README.md for the
# parameters and the line format.

PATH=/usr/sbin:/usr/bin:/sbin:/bin
export PATH

# The initramfs carries no device nodes (it is built without root), so the
# console is opened only once devtmpfs is mounted.
mount -t devtmpfs -o mode=0755 devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp

uptime_s() { cut -d' ' -f1 /proc/uptime; }
echo "VSST-BOOT init uptime=$(uptime_s) kernel=$(uname -r)"

RUN=/run/vsst
RESULTS=$RUN/results
mkdir -p "$RUN/param" "$RUN/out"
: >"$RESULTS"

# ---------------------------------------------------------------- parameters
# Split /proc/cmdline the way the kernel does (spaces separate parameters,
# double quotes protect spaces) and store every key=value as a file, so that
# values never pass through eval.
awk '
{
	line = $0; tok = ""; inq = 0
	for (i = 1; i <= length(line); i++) {
		c = substr(line, i, 1)
		if (c == "\"") { inq = !inq; continue }
		if (c == " " && !inq) { emit(tok); tok = ""; continue }
		tok = tok c
	}
	emit(tok)
}
function emit(t,   k, v, p) {
	if (t == "") return
	p = index(t, "=")
	if (p == 0) { k = t; v = "" } else { k = substr(t, 1, p - 1); v = substr(t, p + 1) }
	if (k ~ /^[A-Za-z0-9_.:-]+$/) printf "%s\t%s\n", k, v
}' /proc/cmdline | while IFS='	' read -r key value; do
	printf '%s' "$value" >"$RUN/param/$key"
done

# param <key> [default]
param() {
	if [ -f "$RUN/param/$1" ]; then cat "$RUN/param/$1"; else printf '%s' "${2-}"; fi
}

is_uint() { case "$1" in '' | *[!0-9]*) return 1 ;; *) return 0 ;; esac; }

# uint_param <key> <default>: a non-negative integer parameter.
uint_param() {
	v=$(param "$1" "$2")
	if is_uint "$v"; then echo "$v"; else
		echo "vsst-init: ignoring $1=$v (not a number), using $2" >&2
		echo "$2"
	fi
}

# ------------------------------------------------------------------ results
# result <name> <PASS|FAIL|SKIP> [key=value ...]
result() {
	echo "VSST-RESULT $*"
	echo "VSST-RESULT $*" >>"$RESULTS"
}

# Adds the VSST-RESULT lines an application printed (at the start of a line)
# to the tally. Its own "summary" line is not a test and is left out.
collect_results() {
	grep '^VSST-RESULT ' "$1" | grep -v '^VSST-RESULT summary ' >>"$RESULTS"
}

summary() {
	awk '
	{ s = toupper($3) }
	s == "PASS" || s == "OK" { p++; next }
	s == "SKIP" { k++; next }
	{ f++ }
	END { printf "VSST-RESULT summary pass=%d fail=%d skip=%d\n", p, f, k }' "$RESULTS"
}

# ------------------------------------------------------------------ modules
KVER=$(uname -r)
MODDIR=/lib/modules/$KVER

# Module parameters given on the command line as <module>.<param>=<value>.
mod_args() {
	for f in "$RUN/param/$1".*; do
		[ -f "$f" ] || continue
		printf '%s=%s ' "${f##*/"$1".}" "$(cat "$f")"
	done
}

load_modules() {
	loaded=0 failed="" skipped=""
	# One module path per line, relative to $MODDIR; a leading '?' marks an
	# optional one (a soft dependency such as crc32c-intel, which needs a CPU
	# feature the emulated CPU may lack).
	while read -r rel; do
		case "$rel" in '' | '#'*) continue ;; esac
		optional=0
		case "$rel" in '?'*) optional=1; rel=${rel#?} ;; esac
		mod=${rel##*/}; mod=${mod%.ko}; mod=$(echo "$mod" | tr - _)
		grep -q "^$mod " /proc/modules && continue
		# shellcheck disable=SC2046 # word splitting of key=value pairs is wanted
		if insmod "$MODDIR/$rel" $(mod_args "$mod") 2>"$RUN/insmod.err"; then
			loaded=$((loaded + 1))
		elif [ "$optional" = 1 ]; then
			skipped="$skipped${skipped:+,}$mod"
		else
			cat "$RUN/insmod.err"
			failed="$failed${failed:+,}$mod"
		fi
	done </etc/vsst/modules.order
	if [ -n "$failed" ]; then
		result init.modules FAIL "loaded=$loaded" "failed=$failed" ${skipped:+"optional_not_loaded=$skipped"}
	else
		result init.modules PASS "loaded=$loaded" ${skipped:+"optional_not_loaded=$skipped"}
	fi
}

# ------------------------------------------------------------------- share
# vsst.share=rw|ro (vmm-proxy --share DIR[:ro]): the host folder, served by a
# virtio-9p in the device VM with mount tag vsst-host, mounted at /mnt/host;
# PATH gets /mnt/host appended so its programs run by name. The virtio-9p
# channel appears when 9pnet_virtio has probed the device: bounded retry.
mount_share() {
	mode=$(param vsst.share "")
	case "$mode" in
	"") return 0 ;;
	rw) opts=trans=virtio,version=9p2000.L,msize=262144 ;;
	ro) opts=trans=virtio,version=9p2000.L,msize=262144,ro ;;
	*)
		echo "vsst-init: vsst.share=$mode is not rw or ro; the host share is NOT mounted"
		result init.share FAIL "mode=$mode" reason=bad-mode
		return 1
		;;
	esac
	mkdir -p /mnt/host
	n=50
	until mount -t 9p -o "$opts" vsst-host /mnt/host 2>"$RUN/share.err"; do
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			echo "vsst-init: cannot mount the host share (9p tag vsst-host, $mode) at /mnt/host: $(cat "$RUN/share.err")"
			result init.share FAIL "mode=$mode" reason=mount-failed
			return 1
		fi
		usleep 100000
	done
	PATH=$PATH:/mnt/host
	export PATH
	echo "vsst-init: host share mounted at /mnt/host ($mode)"
	result init.share PASS "mode=$mode"
}

# ------------------------------------------------------------------ network
# A virtio-net (vmm-proxy --device virtio-net,lan=SOCKET; ./vsst run --net) is eth0:
# it comes up with its IPv6 link-local address, plus the IPv4 address of
# vsst.net.addr=A.B.C.D/N when given (the documentation range 192.0.2.0/24: the
# virtual LAN has no route anywhere else). No default route, no DNS.
setup_net() {
	ip link set lo up 2>/dev/null
	addr=$(param vsst.net.addr "")
	if [ ! -e /sys/class/net/eth0 ]; then
		[ -n "$addr" ] && result init.net FAIL "addr=$addr" reason=no-eth0
		return 0
	fi
	case "$addr" in
	'' | [0-9]*.[0-9]*.[0-9]*.[0-9]*/[0-9]*) ;;
	*)
		result init.net FAIL "addr=$addr" reason=bad-vsst.net.addr
		return 1
		;;
	esac
	case "$addr" in *[!0-9./]*)
		result init.net FAIL "addr=$addr" reason=bad-vsst.net.addr
		return 1
		;;
	esac
	if ! ip link set eth0 up || { [ -n "$addr" ] && ! ip addr add "$addr" dev eth0; }; then
		result init.net FAIL "addr=$addr" reason=ip-failed
		return 1
	fi
	result init.net PASS "addr=${addr:-none}" "mac=$(cat /sys/class/net/eth0/address)"
}

# ------------------------------------------------------------------ helpers
# wait_for <path> <seconds>: bounded wait for a device node.
wait_for() {
	n=$(($2 * 10))
	while [ ! -e "$1" ]; do
		[ "$n" -le 0 ] && return 1
		n=$((n - 1))
		usleep 100000
	done
}

has_module() { [ -n "$(find "$MODDIR" -name "$1.ko" 2>/dev/null | head -n 1)" ]; }

wait_sst_devices() {
	want=$1 secs=$2
	if ! has_module virtio_sst; then
		result init.sst-devices FAIL want="$want" reason=virtio_sst.ko-not-in-image
		return 1
	fi
	t0=$(uptime_s)
	i=0
	while [ "$i" -lt "$want" ]; do
		if ! wait_for "/dev/sst$i" "$secs"; then
			result init.sst-devices FAIL want="$want" found="$i" reason=timeout-"$secs"s
			return 1
		fi
		i=$((i + 1))
	done
	result init.sst-devices PASS "count=$want" "waited_s=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN{printf "%.2f", b-a}')"
}

# ---------------------------------------------------------------- workloads
# Reads a few bytes from /dev/hwrng and checks that virtio-rng backs it.
run_rng() {
	name=$1 bytes=$(uint_param vsst.rng.bytes 64)
	if ! wait_for /dev/hwrng 10; then
		result "$name" FAIL reason=no-/dev/hwrng
		return
	fi
	current=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
	case "$current" in
	virtio_rng*) ;;
	*) result "$name" FAIL "reason=rng_current=${current:-none}"; return ;;
	esac
	timeout 20 dd if=/dev/hwrng of="$RUN/rng.bin" bs="$bytes" count=1 2>/dev/null
	got=$(wc -c <"$RUN/rng.bin")
	# All-zero output would mean the device answered without data.
	nonzero=$(od -An -v -tx1 "$RUN/rng.bin" | tr -d ' \n' | tr -d 0 | wc -c)
	if [ "$got" -eq "$bytes" ] && [ "$nonzero" -gt 0 ]; then
		result "$name" PASS "bytes=$got" "source=$current"
	else
		result "$name" FAIL "bytes=$got" "want=$bytes" "nonzero_digits=$nonzero"
	fi
}

# Mounts the ext4 test disk read-only and checks the known file's checksum.
run_blk() {
	name=$1 dev=$(param vsst.blk.dev /dev/vda)
	if ! wait_for "$dev" 10; then
		result "$name" FAIL "reason=no-$dev"
		return
	fi
	mkdir -p /mnt/blk
	if ! mount -t ext4 -o ro,noload "$dev" /mnt/blk; then
		result "$name" FAIL "reason=mount-failed dev=$dev"
		return
	fi
	if (cd /mnt/blk && sha256sum -c -s /etc/vsst/disk.sha256); then
		result "$name" PASS "dev=$dev" "files=$(wc -l </etc/vsst/disk.sha256)"
	else
		result "$name" FAIL "dev=$dev" reason=checksum-mismatch
	fi
	umount /mnt/blk
}

# Runs a guest application: <instance> is <app> or <app>.<tag>; its arguments
# come from vsst.args.<instance>, its time bound from vsst.timeout.<instance>
# or vsst.timeout.
run_app() {
	inst=$1 app=${1%%.*}
	bin=$(command -v "$app")
	if [ -z "$bin" ]; then
		result "$inst.exit" FAIL reason=not-in-image
		return
	fi
	args=$(param "vsst.args.$inst")
	limit=$(uint_param "vsst.timeout.$inst" "$(uint_param vsst.timeout 600)")
	out=$RUN/out/$inst
	echo "VSST-RUN begin $inst args=\"$args\" timeout=${limit}s uptime=$(uptime_s)"
	t0=$(uptime_s)
	# The app's output is shown live and kept for the tally; its exit status
	# comes back through a file because a pipeline loses it.
	# shellcheck disable=SC2086 # args are split on spaces on purpose
	{
		timeout -s KILL "$limit" "$bin" $args 2>&1
		echo $? >"$out.rc"
	} | tee "$out"
	rc=$(cat "$out.rc" 2>/dev/null)
	secs=$(awk -v a="$t0" -v b="$(uptime_s)" 'BEGIN{printf "%.2f", b-a}')
	echo "VSST-RUN end $inst rc=$rc secs=$secs"
	collect_results "$out"
	if [ "$rc" = 0 ]; then
		result "$inst.exit" PASS rc=0 "secs=$secs"
	elif [ "$rc" = 137 ]; then
		result "$inst.exit" FAIL rc=137 reason=timeout-"$limit"s
	else
		result "$inst.exit" FAIL "rc=${rc:-unknown}" "secs=$secs"
	fi
}

# The user's command (vmm-proxy ... -- CMD): vsst.cmd holds its arguments, each
# base64-encoded, comma-separated. Its output is framed by two OSC sequences
# that terminals ignore (vmm-proxy/src/guest_command.h cuts it out of the
# console); its exit status travels in the second one.
run_command() {
	encoded=$1
	set --
	old_ifs=$IFS
	IFS=,
	# shellcheck disable=SC2086 # split on commas on purpose
	for word in $encoded; do
		case "$word" in *[!A-Za-z0-9+/=]*)
			IFS=$old_ifs
			result cmd.exit FAIL reason=bad-vsst.cmd
			printf '\033]vsst-cmd;begin\007vsst-init: vsst.cmd is not base64\n\033]vsst-cmd;end;rc=125\007\n'
			return
			;;
		esac
		# The trailing x keeps an argument's trailing newlines from $(...).
		arg=$(printf '%s' "$word" | base64 -d; echo x)
		set -- "$@" "${arg%x}"
	done
	IFS=$old_ifs
	dir=/
	grep -q ' /mnt/host ' /proc/mounts && dir=/mnt/host
	cd "$dir" || cd /
	echo "VSST-RUN begin cmd dir=$dir uptime=$(uptime_s)"
	printf '\033]vsst-cmd;begin\007'
	# stdin is not the console: nothing types into it (vmm-proxy --interactive is
	# the shell's way in).
	"$@" </dev/null
	rc=$?
	printf '\033]vsst-cmd;end;rc=%d\007\n' "$rc"
	echo "VSST-RUN end cmd rc=$rc uptime=$(uptime_s)"
	cd /
	if [ "$rc" = 0 ]; then result cmd.exit PASS rc=0; else result cmd.exit FAIL "rc=$rc"; fi
}

shell() {
	echo "vsst-init: starting a shell (exit it to power off)"
	setsid cttyhack sh -l
}

power_off() {
	sync
	echo "VSST-BOOT poweroff uptime=$(uptime_s)"
	poweroff -f
	# poweroff -f does not return; if it ever does, never let init exit
	# (that would panic the kernel).
	while :; do sleep 3600; done
}

# --------------------------------------------------------------------- main
# Kernel messages below error level would interleave with the result lines.
uint_param vsst.printk 4 >/proc/sys/kernel/printk 2>/dev/null
hostname vsst-guest
load_modules
setup_net
mount_share

WORKLOADS=$(param vsst.run "" | tr ',' ' ')
needs_sst=0
for w in $WORKLOADS; do
	case "$w" in sst-*) needs_sst=1 ;; esac
done
NDEV=$(uint_param vsst.ndev "$needs_sst")
if [ "$NDEV" -gt 0 ]; then
	wait_sst_devices "$NDEV" "$(uint_param vsst.wait 30)"
fi

CMD=$(param vsst.cmd "")
if [ -n "$CMD" ]; then
	run_command "$CMD"
	summary
	power_off
fi

if [ -z "$WORKLOADS" ]; then
	shell
	power_off
fi

for w in $WORKLOADS; do
	case "$w" in
	rng | rng.*) run_rng "$w" ;;
	blk | blk.*) run_blk "$w" ;;
	shell) shell ;;
	*[!A-Za-z0-9_.-]*) result "$w" FAIL reason=bad-workload-name ;;
	*) run_app "$w" ;;
	esac
done

[ "$(param vsst.dmesg 0)" = 1 ] && dmesg | tail -n 50
summary
[ "$(param vsst.shell 0)" = 1 ] && shell
power_off
