#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# After a kill relieves the pressure, the level is held up by hysteresis for clearHold, but
# nothing else may die for it. clearHold 20 s, killCooldown 1 s: once the grower is killed, a
# second BestEffort pod (the next candidate) must survive the next 8 s, and exactly one decision
# is recorded. The premise is checked while it runs: the daemon itself reports the level of the
# scope that decided the kill (node or kubepods, from the decision) still at medium or above (the
# levels that evict) in every sample of those 8 s, so the test cannot pass because the level fell. And the kernel's OOM killer never fired: the grower's pod
# emptied by the kernel would look the same.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
g=$(kube_new_uid); gc=$(kube_new_container_id)
s=$(kube_new_uid); sc=$(kube_new_container_id)
vm_check "grower pod" kube_pod_create besteffort "$g" "$gc:0:0"
vm_check "bystander pod" kube_pod_create besteffort "$s" "$sc:0:0"
gpod=$(kube_pod_path besteffort "$g")
vm_check "the bystander holds 64 MiB" kube_spawn "$(kube_container_path besteffort "$s" "$sc")" /tmp/s.log \
	memhog --size-mib 64 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/s.ready
spid=$KUBE_PID
vm_wait_for 30 "bystander ready" test -f /tmp/s.ready || vm_fail "bystander not ready"

agent_start --clear-hold=20s --kill-cooldown=1s
kp=$(kube_kubepods_path)
oom0=$(oom_kills_total)
vm_check "the grower grows" kube_spawn "$(kube_container_path besteffort "$g" "$gc")" /tmp/g.log \
	memhog --grow-forever --rate-mib 64 --hot-pct 10 --report-ms 0
vm_wait_for 60 "grower evicted" is_empty "$gpod" || { vm_dump "$AGENT_LOG"; vm_fail "the grower was not evicted"; }
# 8 s of guest time after the kill, asking the daemon for the level about twice a second.
t_end=$(($(vm_now_ms) + 8000))
scope=$(memagent explain --output json | jq -r '.decisions[0].scope') || vm_fail "memagent explain failed"
dlevel=$(memagent explain --output json | jq -r '.decisions[0].level')
vm_result "decision_scope=$scope" "decision_level=$dlevel"
samples=0
levels=""
while [ "$(vm_now_ms)" -lt "$t_end" ]; do
	level=$(memagent status --output json | jq -r --arg s "$scope" '.pressure[$s].level') || level="status-failed"
	samples=$((samples + 1))
	levels="$levels $level"
	case $level in
	medium | critical) ;;
	*)
		vm_dump "$AGENT_LOG"
		vm_fail "premise lost: the $scope level (decision at $dlevel) was '$level' within 8 s of the kill (clearHold 20 s; levels so far:$levels)"
		;;
	esac
	vm_check "the bystander is alive while the level is still $level" vm_pid_alive "$spid"
	sleep 0.5
done
vm_result "levels_after_kill=$(echo "${levels# }" | tr ' ' ',')" "level_samples=$samples"
vm_check "the level was asked at least 4 times in 8 s (got $samples)" [ "$samples" -ge 4 ]
vm_check "the bystander is alive 8 s after the kill" vm_pid_alive "$spid"
no_kernel_oom_kill "$oom0" "$kp"
nd=$(memagent explain --output json | jq '.decisions | length')
vm_check "exactly one decision (got $nd)" [ "$nd" = 1 ]
agent_stop
vm_pass
