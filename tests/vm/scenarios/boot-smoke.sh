#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Scenario 0: the test bed itself works.  The guest has cgroup v2 with the
# memory controller, PSI, two NUMA nodes in sysfs; the kubelet layout helper
# builds a Burstable pod with the values the kubelet writes; memhog runs in
# the container's scope and its memory shows up in that scope's
# memory.current (and the pod's, hierarchically), then leaves with it.
#
# vmrun --bin memhog boot-smoke.sh   (memhog from tests/tools)
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"

MiB=1048576

# --- the kernel
vm_check "cgroup2 mounted at /sys/fs/cgroup" grep -q '^cgroup2 /sys/fs/cgroup cgroup2 ' /proc/mounts
vm_check "memory controller offered at the root" grep -qw memory /sys/fs/cgroup/cgroup.controllers
vm_check "memory controller enabled for children" grep -qw memory /sys/fs/cgroup/cgroup.subtree_control
vm_check "PSI present" grep -q '^some avg10=' /proc/pressure/memory
online=$(cat /sys/devices/system/node/online)
vm_check "NUMA nodes online are 0-1 (got '$online')" [ "$online" = "0-1" ]
for n in 0 1; do
	total_kb=$(awk '/MemTotal:/ { print $4 }' "/sys/devices/system/node/node$n/meminfo")
	vm_check "node$n has memory (MemTotal ${total_kb:-?} kB)" [ "${total_kb:-0}" -gt 100000 ]
done
vm_result "kernel=$(uname -r)" "numa_online=$online"

# --- the shipped binaries find all their libraries (memagent, memagentd when built)
command -v memhog >/dev/null || vm_fail "memhog not in the initramfs (vmrun --bin path/to/memhog)"
for b in memhog memagent memagentd; do
	p=$(command -v "$b") || continue
	if ! /lib64/ld-linux-x86-64.so.2 --list "$p" >/tmp/ldd.$b 2>&1 || grep -q 'not found' /tmp/ldd.$b; then
		vm_dump /tmp/ldd.$b
		vm_fail "$b cannot be loaded in the guest (missing shared libraries)"
	fi
	vm_result "binary.$b=ok"
done

# --- the kubelet's layout
vm_check "kube_node_setup" kube_node_setup 768Mi
uid=$(kube_new_uid)
cid=$(kube_new_container_id)
vm_check "kube_pod_create burstable" kube_pod_create burstable "$uid" "$cid:64Mi:256Mi"
pod=$(kube_pod_path burstable "$uid")
ctr=$(kube_container_path burstable "$uid" "$cid")
uid_=$(echo "$uid" | tr - _)
vm_check "pod path is the systemd driver's" [ "$pod" = "/sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$uid_.slice" ]
vm_check "container scope exists" [ -d "$ctr" ]
vm_check "container scope is named cri-containerd-<id>.scope" [ "${ctr##*/}" = "cri-containerd-$cid.scope" ]
vm_check "kubepods memory.max = allocatable" [ "$(cat /sys/fs/cgroup/kubepods.slice/memory.max)" = $((768 * MiB)) ]
vm_check "container memory.max = limit" [ "$(cat "$ctr/memory.max")" = $((256 * MiB)) ]
vm_check "container memory.min = request" [ "$(cat "$ctr/memory.min")" = $((64 * MiB)) ]
# floor((64Mi + 0.9 * 192Mi) / 4096) * 4096 = 248299520
vm_check "container memory.high = request + 0.9*(limit-request), page-aligned (got $(cat "$ctr/memory.high"))" [ "$(cat "$ctr/memory.high")" = 248299520 ]
vm_check "pod memory.max = sum of limits" [ "$(cat "$pod/memory.max")" = $((256 * MiB)) ]
vm_check "burstable memory.min = sum of burstable requests" [ "$(cat "$(kube_qos_path burstable)/memory.min")" = $((64 * MiB)) ]
vm_check "container has the memory controller" grep -qw memory "$ctr/cgroup.controllers"

# --- a workload in the container scope
before=$(cat "$ctr/memory.current")
t0=$(vm_now_ms)
vm_check "spawn memhog in the container scope" kube_spawn "$ctr" /tmp/memhog.log \
	memhog --size-mib 96 --hot-pct 10 --report-ms 500 --ready-file /tmp/memhog.ready
hog=$KUBE_PID
vm_check "memhog pid $hog listed in the scope's cgroup.procs" grep -qx "$hog" "$ctr/cgroup.procs"
vm_wait_for 60 "memhog allocated 96 MiB" test -f /tmp/memhog.ready || { vm_dump /tmp/memhog.log; vm_fail "memhog never got ready"; }
alloc_ms=$(($(vm_now_ms) - t0))
cur=$(cat "$ctr/memory.current")
pod_cur=$(cat "$pod/memory.current")
anon=$(vm_key "$ctr/memory.stat" anon)
vm_result memhog_alloc_ms=$alloc_ms container_current_bytes=$cur pod_current_bytes=$pod_cur container_anon_bytes=$anon before_bytes=$before
vm_check "container memory.current >= 96 MiB (got $cur)" [ "$cur" -ge $((96 * MiB)) ]
vm_check "container memory.current < 160 MiB (got $cur)" [ "$cur" -lt $((160 * MiB)) ]
vm_check "pod memory.current >= container's" [ "$pod_cur" -ge "$cur" ]
vm_check "container anon >= 90 MiB (got $anon)" [ "$anon" -ge $((90 * MiB)) ]
vm_check "numa_stat has per-node anon" grep -Eq '^anon N0=[0-9]+ N1=[0-9]+' "$ctr/memory.numa_stat"
vm_wait_for 10 "memhog periodic report" grep -q '^memhog=report ' /tmp/memhog.log || vm_fail "memhog printed no periodic report"

# --- it leaves, and takes its memory with it
kill -TERM "$hog"
rc=0
wait "$hog" || rc=$?
vm_check "memhog exited 0 on SIGTERM (rc $rc)" [ "$rc" -eq 0 ]
final=$(grep '^memhog=final ' /tmp/memhog.log)
vm_check "memhog final report says reason=signal" test -n "$(echo "$final" | grep 'reason=signal')"
pps=$(echo "$final" | sed -n 's/.* avg_pages_per_s=\([0-9]*\).*/\1/p')
vm_check "memhog touched pages (avg_pages_per_s=$pps)" [ "${pps:-0}" -gt 0 ]
after=$(cat "$ctr/memory.current")
vm_result memhog_avg_pages_per_s=$pps after_exit_bytes=$after
vm_check "container memory.current back under 8 MiB after exit (got $after)" [ "$after" -lt $((8 * MiB)) ]
vm_check "container cgroup.events populated 0" grep -qx 'populated 0' "$ctr/cgroup.events"
vm_pass
