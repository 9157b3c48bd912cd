#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# memagentd never evicts its own pod. It runs inside the node's only BestEffort pod (as a
# DaemonSet pod would, if someone deployed it without requests); a Burstable pod grows over its
# request. By QoS order the BestEffort pod would go first: memagentd must pass over its own pod
# and evict the grower, and keep running. The kernel's OOM killer must not have fired: a grower
# killed by the kernel empties its pod just the same.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
a=$(kube_new_uid); ac=$(kube_new_container_id)
g=$(kube_new_uid); gc=$(kube_new_container_id)
vm_check "memagentd's pod (besteffort)" kube_pod_create besteffort "$a" "$ac:0:0"
vm_check "the grower (burstable, request 32Mi)" kube_pod_create burstable "$g" "$gc:32Mi:0"
apod=$(kube_pod_path besteffort "$a")
gpod=$(kube_pod_path burstable "$g")

agent_start_in "$(kube_container_path besteffort "$a" "$ac")"
kp=$(kube_kubepods_path)
oom0=$(oom_kills_total)
vm_check "the grower grows" kube_spawn "$(kube_container_path burstable "$g" "$gc")" /tmp/g.log \
	memhog --grow-forever --rate-mib 64 --hot-pct 10 --report-ms 0
vm_wait_for 60 "the grower evicted" is_empty "$gpod" || { vm_dump "$AGENT_LOG"; vm_fail "the grower was not evicted"; }
sleep 1
no_kernel_oom_kill "$oom0" "$kp" "$apod" "$gpod"
vm_check "memagentd still running" vm_pid_alive "$AGENT_PID"
vm_check "memagentd's pod still populated" [ "$(populated "$apod")" = 1 ]
memagent explain --output json >/tmp/explain.json || vm_fail "memagent explain failed"
victim=$(jq -r '.decisions[0].victim.cgroup' /tmp/explain.json)
vm_check "the victim is the grower ($victim)" [ "$victim" = "${gpod#/sys/fs/cgroup}" ]
ex=$(jq -r '.decisions[0].excluded' /tmp/explain.json)
vm_check "memagentd's own pod was excluded (excluded=$ex)" [ "$ex" = 1 ]
agent_stop
vm_pass
