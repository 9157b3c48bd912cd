#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Eviction scenario 5: the chosen pod exits on its own between the decision and the kill, and
# nothing else is killed in its place within the cooldown. The victim ignores SIGTERM and
# leaves by itself 1.5 s after reaching its size, inside a 10 s grace period; a second
# BestEffort pod, the next candidate, must survive.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
v=$(kube_new_uid); vc=$(kube_new_container_id)
n=$(kube_new_uid); nc=$(kube_new_container_id)
vm_check "besteffort pod V" kube_pod_create besteffort "$v" "$vc:0:0"
vm_check "besteffort pod N" kube_pod_create besteffort "$n" "$nc:0:0"
vpod=$(kube_pod_path besteffort "$v")
npod=$(kube_pod_path besteffort "$n")
vm_check "N holds 96 MiB" kube_spawn "$(kube_container_path besteffort "$n" "$nc")" /tmp/n.log \
	memhog --size-mib 96 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/n.ready
npid=$KUBE_PID
vm_wait_for 30 "N ready" test -f /tmp/n.ready || vm_fail "N not ready"

# Medium pressure (graceful) starts below 30% available; critical only below 2%.
agent_start --memory-available-low=40% --memory-available-medium=30% --memory-available-critical=2% \
	--grace-period=10s --kill-cooldown=5s
oom0=$(oom_kills_total)
vm_check "V grows to 500 MiB, deaf to SIGTERM" kube_spawn "$(kube_container_path besteffort "$v" "$vc")" /tmp/v.log \
	memhog --size-mib 500 --rate-mib 64 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ignore-sigterm --hold-s 1.5
vpid=$KUBE_PID
if ! vm_wait_for 60 "a decision against V" sh -c "memagent explain --output json | jq -e '.decisions | length > 0' >/dev/null"; then
	vm_dump "$AGENT_LOG"
	vm_fail "no decision within 60 s"
fi
vm_wait_for 30 "V gone" is_empty "$vpod" || { vm_dump "$AGENT_LOG"; vm_fail "V never left"; }
vm_check "V left on its own, by its deadline" grep -q 'reason=hold-done' /tmp/v.log
sleep 6 # the whole cooldown
vm_check "N alive after the cooldown" vm_pid_alive "$npid"
vm_check "the kernel OOM killer never fired" [ "$(oom_kills_total)" = "$oom0" ]
memagent explain --output json >/tmp/explain.json || vm_fail "memagent explain failed"
memagent explain >/tmp/explain.txt 2>&1
vm_dump /tmp/explain.txt
nd=$(jq '.decisions | length' /tmp/explain.json)
vm_check "exactly one decision (got $nd)" [ "$nd" = 1 ]
victim=$(jq -r '.decisions[0].victim.cgroup' /tmp/explain.json)
vm_check "it chose V" [ "$victim" = "${vpod#/sys/fs/cgroup}" ]
outcome=$(jq -r '.decisions[0].outcome' /tmp/explain.json)
vm_check "its outcome: gone within the grace period, no kill ($outcome)" [ "$outcome" = "terminated gracefully" ]
vm_result "outcome=$outcome"
agent_stop
vm_pass
