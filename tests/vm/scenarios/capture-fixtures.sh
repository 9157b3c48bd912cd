#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Capture real cgroup v2 / proc / sysfs files from the guest kernel for the
# unit tests (tests/fixtures/guest/).  Run it with tests/vm/capture-fixtures.
#
# For each cgroup driver (systemd, then cgroupfs) it lays out a node like the
# kubelet does (MemoryQoS on, swapBehavior LimitedSwap, zram swap), one pod
# of each QoS class plus one that gets OOM-killed, puts memhog load in them,
# waits until the kernel shows what the fixtures must show, and copies the
# whole cgroup tree (named files only, with cat) to $VM_OUT/<driver>/.
# A plain systemd service (system.slice/demo.service, with load) and an empty
# unit whose name carries a \x2d escape exist in both captures, as on a real
# node where systemd runs beside the kubelet.
#
#   guaranteed  web      1 container 128Mi:128Mi, memhog 48 MiB steady
#   guaranteed  oom      1 container  32Mi:32Mi,  memhog grows to 96 MiB -> OOM kill
#   burstable   app      2 containers: "throttled" 32Mi:128Mi with memhog 200 MiB
#                        (runs into memory.high: high events, pressure, swap),
#                        "cache" 16Mi:<none> writing 24 MiB into an ext2 file
#                        (page cache: active_file/inactive_file)
#   besteffort  batch    1 container, memhog 64 MiB, 5% hot
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"

export KUBE_MEMORY_QOS=1
export KUBE_SWAP_BEHAVIOR=LimitedSwap
MiB=1048576
ALLOCATABLE=768Mi

CGFILES="memory.current memory.stat memory.events memory.events.local memory.pressure
memory.numa_stat memory.min memory.low memory.high memory.max memory.swap.current
memory.swap.max memory.peak cgroup.procs cgroup.controllers cgroup.subtree_control
cgroup.events cgroup.type"

# Fixed ids so that re-captures produce the same paths (diffs stay readable).
UID_WEB=6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b
UID_OOM=0a9b8c7d-6e5f-4a3b-9c2d-1e0f9a8b7c6d
UID_APP=3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f
UID_BATCH=9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b
CID_WEB=1111111111111111111111111111111111111111111111111111111111111111
CID_OOM=2222222222222222222222222222222222222222222222222222222222222222
CID_THROTTLED=3333333333333333333333333333333333333333333333333333333333333333
CID_CACHE=4444444444444444444444444444444444444444444444444444444444444444
CID_BATCH=5555555555555555555555555555555555555555555555555555555555555555

[ "$(cat /sys/devices/system/node/online)" = 0-1 ] || vm_fail "capture needs 2 NUMA nodes (vmrun --numa 2)"
grep -q zram0 /proc/swaps || vm_fail "capture needs swap (vmrun --swap-mib 256)"
command -v memhog >/dev/null || vm_fail "memhog not in the initramfs (vmrun --bin memhog)"

# A real block file system for page-cache load (the initramfs root is not one).
modprobe ext4 || vm_fail "modprobe ext4 (vmrun --modules ext4)"
dev=$(cat /sys/class/zram-control/hot_add) || vm_fail "zram hot_add"
echo 64M >"/sys/block/zram$dev/disksize" || vm_fail "zram$dev disksize"
mke2fs -q -b 4096 "/dev/zram$dev" >/dev/null || vm_fail "mke2fs /dev/zram$dev"
mkdir -p /mnt/data
mount -t ext2 "/dev/zram$dev" /mnt/data || mount -t ext4 "/dev/zram$dev" /mnt/data || vm_fail "mount /dev/zram$dev"

# systemd beside the kubelet: a service with load, an empty unit with \x2d.
svc=$(kube_systemd_unit system.slice/demo.service) || vm_fail "create system.slice/demo.service"
kube_systemd_unit 'system.slice/system-serial\x2dgetty.slice/serial-getty@ttyS0.service' >/dev/null ||
	vm_fail 'create system.slice/system-serial\x2dgetty.slice/serial-getty@ttyS0.service'
kube_spawn "$svc" /tmp/demo.log memhog --size-mib 16 --hot-pct 20 --pass-sleep-ms 200 --report-ms 0 ||
	vm_fail "spawn memhog in demo.service"
DEMO_PID=$KUBE_PID

# capture_driver DRIVER   lay out, load, wait, copy, tear down
capture_driver() {
	drv=$1
	export KUBE_CGROUP_DRIVER=$drv
	rm -rf "$KUBE_STATE_DIR"
	vm_log "=== $drv driver"
	kube_node_setup "$ALLOCATABLE" || vm_fail "$drv: kube_node_setup"
	kube_pod_create guaranteed $UID_WEB "$CID_WEB:128Mi:128Mi" || vm_fail "$drv: pod web"
	kube_pod_create guaranteed $UID_OOM "$CID_OOM:32Mi:32Mi" || vm_fail "$drv: pod oom"
	kube_pod_create burstable $UID_APP "$CID_THROTTLED:32Mi:128Mi" "$CID_CACHE:16Mi:" || vm_fail "$drv: pod app"
	kube_pod_create besteffort $UID_BATCH "$CID_BATCH::" || vm_fail "$drv: pod batch"

	web=$(kube_container_path guaranteed $UID_WEB $CID_WEB)
	oom=$(kube_container_path guaranteed $UID_OOM $CID_OOM)
	thr=$(kube_container_path burstable $UID_APP $CID_THROTTLED)
	cache=$(kube_container_path burstable $UID_APP $CID_CACHE)
	batch=$(kube_container_path besteffort $UID_BATCH $CID_BATCH)

	rm -f /tmp/*.ready /mnt/data/cache.dat
	kube_spawn "$web" /tmp/web.log memhog --size-mib 48 --hot-pct 50 --pass-sleep-ms 50 --ready-file /tmp/web.ready || vm_fail "$drv: spawn web"
	pid_web=$KUBE_PID
	kube_spawn "$batch" /tmp/batch.log memhog --size-mib 64 --hot-pct 5 --pass-sleep-ms 100 --ready-file /tmp/batch.ready || vm_fail "$drv: spawn batch"
	pid_batch=$KUBE_PID
	kube_spawn "$cache" /tmp/cache.log memhog --size-mib 24 --file /mnt/data/cache.dat --hot-pct 25 --pass-sleep-ms 100 --ready-file /tmp/cache.ready || vm_fail "$drv: spawn cache"
	pid_cache=$KUBE_PID
	kube_spawn "$thr" /tmp/thr.log memhog --size-mib 200 --rate-mib 100 --hot-pct 30 || vm_fail "$drv: spawn throttled"
	pid_thr=$KUBE_PID
	kube_spawn "$oom" /tmp/oom.log memhog --grow-forever --size-mib 96 --rate-mib 64 || vm_fail "$drv: spawn oom"
	pid_oom=$KUBE_PID

	for r in web batch cache; do
		vm_wait_for 60 "$r memhog ready" test -f /tmp/$r.ready || { vm_dump /tmp/$r.log; vm_fail "$drv: $r memhog not ready"; }
	done
	vm_wait_key_ge 60 "$oom/memory.events" oom_kill 1 || { vm_dump /tmp/oom.log "$oom/memory.events"; vm_fail "$drv: no oom_kill in the oom container"; }
	rc=0
	wait "$pid_oom" || rc=$?
	[ "$rc" -eq 137 ] || vm_fail "$drv: oom memhog exited $rc, expected 137 (SIGKILL by the OOM killer)"
	vm_wait_key_ge 60 "$thr/memory.events" high 1 || { vm_dump /tmp/thr.log "$thr/memory.events"; vm_fail "$drv: no memory.high events in the throttled container"; }
	vm_wait_for 30 "pressure in the throttled container" sh -c "[ \"\$(awk '/^some/ { split(\$5, t, \"=\"); print t[2] }' '$thr/memory.pressure')\" -gt 0 ]" ||
		{ vm_dump "$thr/memory.pressure"; vm_fail "$drv: memory.pressure total stays 0 in the throttled container"; }
	vm_wait_file_ge 30 "$thr/memory.swap.current" 1 || vm_fail "$drv: the throttled container never swapped"
	# Let the 10 s averages move off zero (PSI averages update every 2 s).
	vm_wait_for 12 "avg10 > 0 in the throttled container" sh -c "! grep -q '^some avg10=0.00 ' '$thr/memory.pressure'" ||
		vm_log "$drv: avg10 still 0.00 (captured anyway; total is > 0)"
	vm_check "$drv: workloads still alive" kill -0 "$pid_web" "$pid_batch" "$pid_cache" "$pid_thr"
	file_bytes=$(vm_key "$cache/memory.stat" file)
	vm_check "$drv: cache container has page cache (file=$file_bytes)" [ "${file_bytes:-0}" -ge $((16 * MiB)) ]

	vm_result "$drv.oom_kill=$(vm_key "$oom/memory.events" oom_kill)" \
		"$drv.throttled_high=$(vm_key "$thr/memory.events" high)" \
		"$drv.throttled_swap_bytes=$(cat "$thr/memory.swap.current")" \
		"$drv.throttled_current_bytes=$(cat "$thr/memory.current")" \
		"$drv.cache_file_bytes=$file_bytes" \
		"$drv.kubepods_current_bytes=$(cat "$(kube_kubepods_path)/memory.current")"

	# The copy: the whole hierarchy, named files only.
	# shellcheck disable=SC2086
	vm_copy_cgroup_tree /sys/fs/cgroup "$drv" $CGFILES || vm_fail "$drv: copy"
	# Only this driver's tree: drop what the other driver's phase might have left.
	n=$(find "$VM_OUT/$drv" -type f | wc -l)
	vm_result "$drv.files=$n"

	# Tear down the kube tree (system.slice stays).
	for p in "guaranteed $UID_WEB" "guaranteed $UID_OOM" "burstable $UID_APP" "besteffort $UID_BATCH"; do
		# shellcheck disable=SC2086
		kube_pod_delete $p || vm_fail "$drv: delete pod $p"
	done
	wait "$pid_web" "$pid_batch" "$pid_cache" "$pid_thr" 2>/dev/null
	kp=$(kube_kubepods_path)
	rmdir "$(kube_qos_path burstable)" "$(kube_qos_path besteffort)" "$kp" || vm_fail "$drv: cannot remove $kp"
}

capture_driver systemd
capture_driver cgroupfs

# Node files.
for f in /proc/meminfo /proc/pressure/memory /proc/pressure/cpu /proc/pressure/io /proc/vmstat /proc/swaps \
	/sys/devices/system/node/online /sys/devices/system/node/possible /sys/devices/system/node/has_memory \
	/sys/devices/system/node/has_cpu; do
	vm_copy_file "$f" "${f#/}" || vm_fail "copy $f"
done
for n in 0 1; do
	for f in meminfo distance numastat vmstat cpulist; do
		vm_copy_file "/sys/devices/system/node/node$n/$f" "sys/devices/system/node/node$n/$f" ||
			vm_fail "copy node$n/$f"
	done
done
{
	echo "kernel_release=$(uname -r)"
	echo "kernel_version=$(uname -v)"
	echo "cgroup2_mount=$(grep ' /sys/fs/cgroup ' /proc/mounts)"
	echo "page_size=4096"
	echo "captured_uptime_s=$(cut -d' ' -f1 /proc/uptime)"
} >"$VM_OUT/CAPTURE-INFO"

kill -TERM "$DEMO_PID"
wait "$DEMO_PID"
vm_result "files_total=$(find "$VM_OUT" -type f | wc -l)"
vm_pass
