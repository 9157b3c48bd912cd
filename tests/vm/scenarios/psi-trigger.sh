#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# A PSI trigger with a 500 ms window fires under a hog in a pod, and memagent's PSI code reports
# it: `memagent psi-wait` arms "some 50 ms in 500 ms" on the pod's memory.pressure, a hog then
# thrashes against the pod's memory.high, and the notification arrives. Prints the time from the
# hog's start to the notification. The kernel must accept the 500 ms window as asked (root with
# CAP_SYS_RESOURCE in the guest): adjusted=false. Control: armed the same way with no hog, the
# trigger stays silent for 2 s.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
uid=$(kube_new_uid)
cid=$(kube_new_container_id)
vm_check "burstable pod" kube_pod_create burstable "$uid" "$cid:16Mi:256Mi"
pod=$(kube_pod_path burstable "$uid")
ctr=$(kube_container_path burstable "$uid" "$cid")
# A tight memory.high: the hog's working set does not fit, so it stalls in reclaim.
echo $((48 * 1048576)) >"$ctr/memory.high"

rc=0
memagent psi-wait --cgroup "${pod#/sys/fs/cgroup}" --kind some --stall-ms 50 --window-ms 500 \
	--timeout-ms 2000 >/tmp/quiet.out 2>/tmp/quiet.err || rc=$?
vm_dump /tmp/quiet.out
vm_check "control: no notification without a hog (psi-wait exit $rc)" [ "$rc" = 1 ]
vm_check "control: psi-wait says it timed out" grep -q "no notification within 2000 ms" /tmp/quiet.err
vm_check "control: nothing fired" sh -c '! grep -q "\"event\":\"fired\"" /tmp/quiet.out'

memagent psi-wait --cgroup "${pod#/sys/fs/cgroup}" --kind some --stall-ms 50 --window-ms 500 \
	--timeout-ms 30000 >/tmp/psi.out 2>/tmp/psi.err &
waiter=$!
vm_wait_for 10 "trigger armed" grep -q '"event":"armed"' /tmp/psi.out || { vm_dump /tmp/psi.err; vm_fail "psi-wait did not arm"; }
vm_check "the kernel took the 500 ms window as asked" grep -q '"window_usec":500000,"adjusted":false' /tmp/psi.out

t0=$(vm_now_ms)
vm_check "spawn the hog" kube_spawn "$ctr" /tmp/hog.log memhog --size-mib 160 --hot-pct 100 --report-ms 0
hog=$KUBE_PID
rc=0
wait "$waiter" || rc=$?
t1=$(vm_now_ms)
kill -KILL "$hog" 2>/dev/null
vm_dump /tmp/psi.out
[ "$rc" -eq 0 ] || { vm_dump /tmp/psi.err; vm_fail "psi-wait exited $rc: no notification"; }
vm_check "a notification was reported" grep -q '"event":"fired"' /tmp/psi.out
some_total=$(awk '/^some/ { sub("total=", "", $5); print $5 }' "$pod/memory.pressure")
vm_result "hog_start_to_notification_ms=$((t1 - t0))" "pod_some_total_usec=$some_total"
# The kernel fires on its windowed growth estimate; the cumulative total read afterwards is
# accounted separately and can be lower than the threshold, but not zero.
vm_check "the pod really stalled (some total $some_total us > 0)" [ "$some_total" -gt 0 ]
vm_pass
