#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# memagentd starts before the kubelet (no kubepods yet), with no flags. Then the kubelet's tree
# appears, a BestEffort pod starts and grows fast (96 MiB/s): memagentd must learn of kubepods and
# the pod at once (inotify on the cgroup root), not at its periodic rescan, and evict the pod
# before the kernel's OOM killer fires.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

agent_start
oom0=$(oom_kills_total)
vm_check "kube_node_setup after memagentd" kube_node_setup 768Mi
e=$(kube_new_uid); ec=$(kube_new_container_id)
vm_check "besteffort pod" kube_pod_create besteffort "$e" "$ec:0:0"
epod=$(kube_pod_path besteffort "$e")
vm_check "the pod grows" kube_spawn "$(kube_container_path besteffort "$e" "$ec")" /tmp/e.log \
	memhog --grow-forever --rate-mib 96 --hot-pct 5 --report-ms 0
vm_wait_for 60 "pod evicted" is_empty "$epod" || { vm_dump "$AGENT_LOG"; vm_fail "the pod was not evicted"; }
oom1=$(oom_kills_total)
vm_check "memagentd got there before the kernel OOM killer (oom_kill $oom0 -> $oom1)" [ "$oom1" = "$oom0" ]
victim=$(memagent explain --output json | jq -r '.decisions[0].victim.cgroup')
vm_check "its decision names the pod" [ "$victim" = "${epod#/sys/fs/cgroup}" ]
agent_stop
vm_pass
