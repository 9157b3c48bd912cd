#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Eviction scenario 6, side by side: the same node, the same pods, the same BestEffort grower,
# handled by memagentd, by earlyoom (Debian's), and by nobody (the kernel's OOM killer). For
# each, which pod died and the time from pressure onset (node MemAvailable under 20%) to relief
# (the grower's pod empty). Allocatable is set above the node's memory, so the pressure is the
# node's own and all three see the same thing.
#
# PEER=memagentd|earlyoom|none (vmrun --env), one per boot so that no run leaves traces for the
# next. Asserts: the grower's pod is what died; with memagentd and earlyoom, no kernel OOM kill.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

peer=${PEER:-memagentd}
vm_check "kube_node_setup" kube_node_setup 4Gi
g=$(kube_new_uid); gc=$(kube_new_container_id)
b=$(kube_new_uid); bc=$(kube_new_container_id)
e=$(kube_new_uid); ec=$(kube_new_container_id)
vm_check "guaranteed pod" kube_pod_create guaranteed "$g" "$gc:160Mi:160Mi"
vm_check "burstable pod" kube_pod_create burstable "$b" "$bc:64Mi:0"
vm_check "besteffort pod" kube_pod_create besteffort "$e" "$ec:0:0"
gpod=$(kube_pod_path guaranteed "$g")
bpod=$(kube_pod_path burstable "$b")
epod=$(kube_pod_path besteffort "$e")
vm_check "G holds 128 MiB" kube_spawn "$(kube_container_path guaranteed "$g" "$gc")" /tmp/g.log \
	memhog --size-mib 128 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/g.ready
gpid=$KUBE_PID
vm_check "B holds 96 MiB" kube_spawn "$(kube_container_path burstable "$b" "$bc")" /tmp/b.log \
	memhog --size-mib 96 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/b.ready
bpid=$KUBE_PID
vm_wait_for 30 "steady pods ready" test -f /tmp/g.ready -a -f /tmp/b.ready || vm_fail "steady pods not ready"

case $peer in
memagentd) agent_start ;;
earlyoom)
	# Debian's defaults: SIGTERM below 10% available memory (and swap), SIGKILL below 5%.
	earlyoom -r 0 >/tmp/earlyoom.log 2>&1 &
	sleep 1
	;;
none) ;;
*) vm_fail "PEER must be memagentd, earlyoom or none" ;;
esac
oom0=$(oom_kills_total)

total_kb=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
vm_check "the grower starts" kube_spawn "$(kube_container_path besteffort "$e" "$ec")" /tmp/e.log \
	memhog --grow-forever --rate-mib 64 --hot-pct 10 --report-ms 0
t_start=$(vm_now_ms)
t_onset=0
t_relief=0
while [ $(($(vm_now_ms) - t_start)) -lt 60000 ]; do
	if [ "$t_onset" = 0 ]; then
		avail_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
		[ $((avail_kb * 5)) -lt "$total_kb" ] && t_onset=$(vm_now_ms)
	fi
	if is_empty "$epod"; then
		t_relief=$(vm_now_ms)
		break
	fi
	sleep 0.05
done
[ "$t_relief" != 0 ] || vm_fail "$peer: the grower's pod was not emptied within 60 s"
[ "$t_onset" != 0 ] || t_onset=$t_relief
sleep 2
oom1=$(oom_kills_total)
died=""
vm_pid_alive "$gpid" || died="$died guaranteed"
vm_pid_alive "$bpid" || died="$died burstable"
died="besteffort$died"
vm_result "peer=$peer" "died=$(echo "$died" | tr ' ' ',')" "onset_to_relief_ms=$((t_relief - t_onset))" \
	"start_to_relief_ms=$((t_relief - t_start))" "kernel_oom_kills=$((oom1 - oom0))"
vm_check "$peer: the guaranteed pod survived" vm_pid_alive "$gpid"
vm_check "$peer: the burstable pod survived" vm_pid_alive "$bpid"
case $peer in
memagentd)
	vm_check "memagentd: no kernel OOM kill" [ "$oom1" = "$oom0" ]
	agent_stop
	;;
earlyoom)
	vm_dump /tmp/earlyoom.log
	vm_check "earlyoom: no kernel OOM kill" [ "$oom1" = "$oom0" ]
	;;
none)
	vm_check "nobody: the kernel OOM killer did it" [ "$oom1" -gt "$oom0" ]
	;;
esac
vm_pass
