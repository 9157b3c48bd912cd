#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Eviction scenario 3: a protected pod is never killed, even when it is the largest. Two
# BestEffort pods: P (protected with --protected-cgroups) grows to 520 MiB, the largest on the
# node; Q holds 160 MiB. Under pressure memagentd kills Q, and P keeps running.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
p=$(kube_new_uid); pc=$(kube_new_container_id)
q=$(kube_new_uid); qc=$(kube_new_container_id)
vm_check "besteffort pod P" kube_pod_create besteffort "$p" "$pc:0:0"
vm_check "besteffort pod Q" kube_pod_create besteffort "$q" "$qc:0:0"
ppod=$(kube_pod_path besteffort "$p")
qpod=$(kube_pod_path besteffort "$q")

vm_check "Q holds 160 MiB" kube_spawn "$(kube_container_path besteffort "$q" "$qc")" /tmp/q.log \
	memhog --size-mib 160 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/q.ready
qpid=$KUBE_PID
vm_wait_for 30 "Q ready" test -f /tmp/q.ready || vm_fail "Q not ready"

# The pattern matches P's pod cgroup (the systemd driver writes the uid with _ for -).
agent_start --protected-cgroups="/kubepods.slice/*pod$(echo "$p" | tr - _)*"
oom0=$(oom_kills_total)
vm_check "P grows to 560 MiB" kube_spawn "$(kube_container_path besteffort "$p" "$pc")" /tmp/p.log \
	memhog --size-mib 560 --rate-mib 64 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/p.ready
ppid=$KUBE_PID
if ! vm_wait_for 60 "pod Q emptied" is_empty "$qpod"; then
	vm_dump "$AGENT_LOG"
	vm_fail "pod Q was not evicted within 60 s"
fi
vm_wait_for 30 "P reached its size" test -f /tmp/p.ready || { vm_dump "$AGENT_LOG"; vm_fail "P never reached 560 MiB"; }
sleep 2
vm_check "protected P alive" vm_pid_alive "$ppid"
vm_check "protected P's pod populated" [ "$(populated "$ppod")" = 1 ]
vm_check "the kernel OOM killer never fired" [ "$(oom_kills_total)" = "$oom0" ]
memagent explain --output json >/tmp/explain.json || vm_fail "memagent explain failed"
memagent explain >/tmp/explain.txt 2>&1
vm_dump /tmp/explain.txt
for v in $(jq -r '.decisions[] | .victim.cgroup // empty' /tmp/explain.json); do
	vm_check "no decision ever chose P (chose $v)" [ "$v" != "${ppod#/sys/fs/cgroup}" ]
done
victim=$(jq -r '.decisions | last | .victim.cgroup' /tmp/explain.json)
vm_check "the first victim is Q" [ "$victim" = "${qpod#/sys/fs/cgroup}" ]
ex=$(jq -r '.decisions | last | .excluded' /tmp/explain.json)
vm_check "one candidate excluded as protected (got $ex)" [ "$ex" = 1 ]
pcur=$(cat "$ppod/memory.current")
vm_result "protected_current_bytes=$pcur"
agent_stop
vm_pass
