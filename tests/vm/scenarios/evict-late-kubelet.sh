#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# memagentd starts before the kubelet (no kubepods yet), with no flags. Then the kubelet's tree
# appears, a BestEffort pod starts and grows fast (96 MiB/s): memagentd must learn of kubepods and
# the pod at once (inotify on the cgroup root), not at its periodic rescan, and evict the pod
# before the kernel's OOM killer fires.
# "At once" is measured: from the pod's creation, the daemon is asked (memagent status --output
# json, the daemon's own document: it has .daemon) every 100 ms until it lists the pod's cgroup.
# Target 2 s of guest time (inotify, then the next 1 s sample tick, then one CLI round trip, all
# under TCG); FOUND_BOUND_MS (default 3000) is the bound that fails it. The periodic rescan is
# every 10 s, so a daemon without the inotify watches fails the bound.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

agent_start
oom0=$(oom_kills_total)
vm_check "kube_node_setup after memagentd" kube_node_setup 768Mi
e=$(kube_new_uid); ec=$(kube_new_container_id)
: "${FOUND_BOUND_MS:=3000}"
epod=$(kube_pod_path besteffort "$e")
# daemon_knows_pod REL   memagentd (not the CLI's own fallback read) lists the pod's cgroup
daemon_knows_pod() {
	memagent status --output json 2>/dev/null |
		jq -e --arg cg "$1" '.daemon != null and any(.pods[]; .cgroup == $cg)' >/dev/null
}
t_create=$(vm_now_ms)
vm_check "besteffort pod" kube_pod_create besteffort "$e" "$ec:0:0"
vm_wait_for 15 "memagentd lists the pod" daemon_knows_pod "${epod#/sys/fs/cgroup}" ||
	{ vm_dump "$AGENT_LOG"; vm_fail "memagentd did not list the new pod within 15 s"; }
found_ms=$(($(vm_now_ms) - t_create))
vm_result "pod_found_ms=$found_ms" "pod_found_bound_ms=$FOUND_BOUND_MS"
[ "$found_ms" -le 2000 ] || vm_log "note: pod found in $found_ms ms, over the 2 s target (bound $FOUND_BOUND_MS ms)"
vm_check "memagentd found the pod at once: $found_ms ms after its creation (bound $FOUND_BOUND_MS ms; rescan is every 10 s)" \
	[ "$found_ms" -le "$FOUND_BOUND_MS" ]
vm_check "the pod grows" kube_spawn "$(kube_container_path besteffort "$e" "$ec")" /tmp/e.log \
	memhog --grow-forever --rate-mib 96 --hot-pct 5 --report-ms 0
vm_wait_for 60 "pod evicted" is_empty "$epod" || { vm_dump "$AGENT_LOG"; vm_fail "the pod was not evicted"; }
no_kernel_oom_kill "$oom0" "$(kube_kubepods_path)" "$epod"
victim=$(memagent explain --output json | jq -r '.decisions[0].victim.cgroup')
vm_check "its decision names the pod" [ "$victim" = "${epod#/sys/fs/cgroup}" ]
agent_stop
vm_pass
