#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# A PSI trigger with a 500 ms window fires under a hog in a pod, and memagent's PSI code reports
# it: `memagent psi-wait` arms "some 50 ms in 500 ms" on the pod's memory.pressure, a hog then
# thrashes against the pod's memory.high, and the notification arrives. Prints the time from the
# hog's start to the notification. The kernel must accept the 500 ms window as asked (root with
# CAP_SYS_RESOURCE in the guest): adjusted=false. Control: armed the same way with no hog, the
# trigger stays silent for 2 s.
# Then memagentd, with its defaults (but --dry-run, so that it does not end the stall): it arms a PSI trigger of its own on the pod (it has a memory
# limit), the hog runs again, and the pod's trigger wakes memagentd: /metrics counts the wake as
# memagent_wakeups_total{source="psi_pod"}, which only that trigger's handler counts (the node's
# and kubepods' triggers, which fire too, count as psi_node and psi_kubepods). Without pod triggers
# the count stays 0 and the scenario fails.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

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
psi_wait_ms=$((t1 - t0))
vm_result "hog_start_to_notification_ms=$psi_wait_ms" "pod_some_total_usec=$some_total"
# The kernel fires on its windowed growth estimate; the cumulative total read afterwards is
# accounted separately and can be lower than the threshold, but not zero.
vm_check "the pod really stalled (some total $some_total us > 0)" [ "$some_total" -gt 0 ]
vm_wait_for 10 "the hog is gone" sh -c '! kill -0 '"$hog"' 2>/dev/null' || vm_fail "the hog did not exit"

# wakeups SOURCE: memagent_wakeups_total{source="SOURCE"} from memagentd's /metrics, 0 when absent
wakeups() {
	wget -q -O - http://127.0.0.1:9808/metrics 2>/dev/null |
		awk -v s="memagent_wakeups_total{source=\"$1\"}" '$1 == s { v = $2 } END { print v + 0 }'
}
vm_check "loopback up (for /metrics)" ip link set lo up
# --dry-run: the hog drives kubepods to critical, and a kill would end the stall it is here for.
agent_start --dry-run
# The trigger is chosen after the first full sample (it needs the pod's memory.max): its fd is the
# pod's memory.pressure opened read-write (agent/kernel/psi.c), where a cached read fd is read-only.
pod_trigger_armed() {
	for _f in /proc/"$AGENT_PID"/fd/*; do
		[ "$(readlink "$_f")" = "$pod/memory.pressure" ] || continue
		_fl=$(awk '/^flags:/ { print $2 }' "/proc/$AGENT_PID/fdinfo/${_f##*/}")
		[ $((0$_fl & 3)) -eq 2 ] && return 0 # O_RDWR
	done
	return 1
}
vm_wait_for 20 "memagentd armed the pod's trigger" pod_trigger_armed || {
	vm_dump "$AGENT_LOG"
	vm_fail "memagentd holds no trigger on $pod/memory.pressure"
}
w0=$(wakeups psi_pod)
vm_check "no pod trigger wake before the hog (got $w0)" [ "$w0" = 0 ]
t0=$(vm_now_ms)
vm_check "spawn the hog again" kube_spawn "$ctr" /tmp/hog2.log memhog --size-mib 160 --hot-pct 100 --report-ms 0
hog=$KUBE_PID
pod_woke() { [ "$(wakeups psi_pod)" -gt 0 ]; }
woke=0
vm_wait_for 30 "the pod's trigger woke memagentd" pod_woke && woke=1
t1=$(vm_now_ms)
kill -KILL "$hog" 2>/dev/null
wget -q -O /tmp/metrics.txt http://127.0.0.1:9808/metrics
grep '^memagent_wakeups_total' /tmp/metrics.txt >&2
agent_stop
psi_pod=$(awk '$1 == "memagent_wakeups_total{source=\"psi_pod\"}" { print $2 }' /tmp/metrics.txt)
timer=$(awk '$1 == "memagent_wakeups_total{source=\"timer\"}" { print $2 }' /tmp/metrics.txt)
vm_result "hog_start_to_notification_ms=$psi_wait_ms" "pod_some_total_usec=$some_total" \
	"agent_hog_start_to_pod_wake_ms=$((t1 - t0))" "agent_psi_pod_wakeups=$psi_pod" "agent_timer_wakeups=$timer"
vm_check "memagentd was woken by the pod's own PSI trigger (psi_pod=$psi_pod)" [ "$woke" = 1 ]
vm_pass
