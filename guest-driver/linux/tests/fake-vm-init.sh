#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
# /init of the driver test guest built by run-fake-vm.sh: loads virtio_sst.ko
# and the software device sst_fake.ko, runs sst-test, sst-bench and the
# fault checks (timeouts, bad responses, hot removal and module unload with
# requests in flight, unbind with submitters stalled in user copies), scans
# the kernel log for warnings and leaks, prints "VSST-RESULT kmod.<case>
# PASS|FAIL ..." lines and a summary, powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs tmpfs /tmp

RES=/tmp/results
: >$RES
P=/sys/module/sst_fake/parameters
result() { echo "VSST-RESULT $*" | tee -a $RES; }
# collect <prefix>: copies an app's result lines with a prefix; drops its summary.
collect() {
	sed -n "s/^VSST-RESULT \([^ ]*\)/VSST-RESULT $1.\1/p" | grep -v "^VSST-RESULT $1.summary " |
		tee -a $RES
}
wait_for() { # wait_for <path> <tenths>
	i=0
	while [ ! -e "$1" ] && [ $i -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ]
}
check() { # check <name> <detail> <command...>
	name=$1 detail=$2; shift 2
	if "$@"; then result "kmod.$name PASS $detail"; else result "kmod.$name FAIL $detail"; fi
}
sysval() { cat "/sys/class/misc/$1/$2" 2>/dev/null; }

echo "VSST-BOOT kernel=$(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"
for m in virtio_ring virtio; do
	[ -f /lib/modules/$m.ko ] && insmod /lib/modules/$m.ko
done
insmod /lib/modules/virtio_sst.ko timeout_ms=5000
insmod /lib/modules/sst_fake.ko count=2
check load "two devices appear" wait_for /dev/sst1 50
check sysfs "identity and stats in sysfs" \
	sh -c '[ "$(cat /sys/class/misc/sst1/device_id)" = 1 ] &&
	       [ "$(cat /sys/class/misc/sst0/stats/in_flight)" = 0 ] &&
	       [ -n "$(cat /sys/class/misc/sst0/features)" ]'

sst-test -d /dev/sst0 -p 4 -n 100 | collect sst0
sst-test -d /dev/sst1 -c noop -c echo -c write_read -c batch_ioctl | collect sst1

# Both devices under load at once.
sst-bench -d /dev/sst0 -p 2 -q 8 -n 2000 >/tmp/b0 2>&1 &
b0=$!
sst-bench -d /dev/sst1 -p 2 -q 8 -n 2000 >/tmp/b1 2>&1 &
b1=$!
wait $b0; r0=$?
wait $b1; r1=$?
cat /tmp/b0 /tmp/b1
check two_devices_load "rc=$r0/$r1" [ $((r0 + r1)) -eq 0 ]
for args in "-t noop -q 1 -n 2000" "-t noop -q 16 -n 5000" "-t noop -q 16 -n 5000 -m ioctl" \
	"-t echo -q 8 -n 2000" "-t write -s 4068 -q 8 -n 2000" "-t noop -q 8 -p 4 -n 2000"; do
	# shellcheck disable=SC2086
	sst-bench -d /dev/sst0 $args
	check bench "$args" [ $? -eq 0 ]
done

# Timeouts: the device holds requests; they complete with TIMEOUT once.
echo 1 >$P/hold
sst_fault_test timeout /dev/sst0 4 | tee -a $RES
echo 0 >$P/hold
sst_fault_test late /dev/sst0 4 | tee -a $RES

# Bad responses: short length, wrong id, length beyond the buffer.
for f in 1 2 3; do
	echo $f >$P/fault
	sst_fault_test badresp /dev/sst0 | sed "s/kmod.badresp/kmod.badresp$f/" | tee -a $RES
done
echo 4 >$P/fault
sst_fault_test badevent /dev/sst0 | tee -a $RES
echo 0 >$P/fault

# A process exits with requests in flight; they drain later.
echo 1 >$P/hold
sst_fault_test orphan /dev/sst0 8 | tee -a $RES
echo 0 >$P/hold
sst-test -d /dev/sst0 -c noop | collect orphan_after
sleep 0.5
check orphan_drained "in_flight=$(sysval sst0 stats/in_flight)" [ "$(sysval sst0 stats/in_flight)" = 0 ]

# Hot removal with requests in flight and a reader blocked.
echo 1 >$P/hold
sst_fault_test inflight /dev/sst1 8 >/tmp/inflight &
inf=$!
wait_for_ready() { i=0; while ! grep -q READY /tmp/inflight && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done; }
wait_for_ready
check remove_device "rmmod sst_fake with 8 in flight" rmmod sst_fake
wait $inf
grep VSST-RESULT /tmp/inflight | tee -a $RES
check nodes_gone "/dev/sst* removed" sh -c '! ls /dev/sst* 2>/dev/null'

# Re-plug: a new device binds and works.
insmod /lib/modules/sst_fake.ko count=1
check replug "device back" wait_for /dev/sst0 50
sst-test -d /dev/sst0 -c noop -c echo -c pipelined | collect replug

# Removal (sysfs unbind) while one submitter is stuck copying its request in
# from a userfaultfd page nobody resolves and another copying its ids out:
# removal must not wait for user memory.
echo 1 >$P/hold
vdev=$(basename "$(readlink /sys/class/misc/sst0/device)")
sst_fault_test stall /dev/sst0 "$vdev" | tee -a $RES
echo 0 >$P/hold
[ -e /dev/sst0 ] || echo "$vdev" >/sys/bus/virtio/drivers/virtio_sst/bind
check rebind "$vdev bound again" wait_for /dev/sst0 50
sst-test -d /dev/sst0 -c noop | collect rebind

# Module unload with requests in flight (no file open).
echo 1 >$P/hold
sst_fault_test orphan /dev/sst0 8 | sed 's/kmod.orphan/kmod.orphan_unload/' | tee -a $RES
check unload_inflight "rmmod virtio_sst with 8 in flight" rmmod virtio_sst
echo 0 >$P/hold
insmod /lib/modules/virtio_sst.ko
check reload "driver binds again" wait_for /dev/sst0 50
sst-test -d /dev/sst0 -c noop -c get_info | collect reload
check final_unload "rmmod both" sh -c 'rmmod virtio_sst && rmmod sst_fake'

# The kernel log must show no warning, oops or leaked request objects.
bad=$(dmesg | grep -E 'BUG|WARNING|Oops|Call Trace|general protection|remaining|refcount' |
	head -5)
[ -n "$bad" ] && dmesg | tail -60
check kernel_log "no warnings${bad:+: $bad}" [ -z "$bad" ]
dmesg | grep -E 'virtio_sst|sst[0-9]' | tail -20

pass=$(grep -c ' PASS' $RES)
fail=$(grep -c ' FAIL' $RES)
echo "VSST-RESULT summary pass=$pass fail=$fail"
poweroff -f
