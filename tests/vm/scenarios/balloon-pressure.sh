#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Balloon scenario 4: the first rung of the escalation ladder. A Burstable "cache" pod holds
# 320 MiB, nearly all of it cold; a BestEffort batch pod then grows to 400 MiB. Together they
# would take the node's pods (kubepods, 768 MiB) past the medium level, where memagentd evicts.
#   BALLOON=on   memagentd with its defaults: at level low the balloon reclaims from the coldest
#                container first (the cache pod, to zram) and frees enough that medium never
#                comes: no eviction, both pods alive, and one "reclaim" decision reports what
#                was freed.
#   BALLOON=off  the same with --balloon-enabled=false (the eviction scenarios alone): the batch
#                pod is evicted.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

MiB=1048576
: "${BALLOON:=on}"
grep -q zram0 /proc/swaps || vm_fail "no swap in the guest (run with --swap-mib)"
vm_check "kube_node_setup" kube_node_setup 768Mi
a=$(kube_new_uid); ac=$(kube_new_container_id)
e=$(kube_new_uid); ec=$(kube_new_container_id)
vm_check "cache pod (burstable, request 32Mi)" kube_pod_create burstable "$a" "$ac:32Mi:0"
vm_check "batch pod (besteffort)" kube_pod_create besteffort "$e" "$ec:0:0"
actr=$(kube_container_path burstable "$a" "$ac")
apod=$(kube_pod_path burstable "$a")
epod=$(kube_pod_path besteffort "$e")
vm_check "cache workload" kube_spawn "$actr" /tmp/a.log \
	memhog --size-mib 320 --hot-pct 5 --fill pattern --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/a.ready
apid=$KUBE_PID
vm_wait_for 60 "cache pod ready" test -f /tmp/a.ready || vm_fail "cache pod not ready"

if [ "$BALLOON" = on ]; then agent_start; else agent_start --balloon-enabled=false; fi
kp=$(kube_kubepods_path)
oom0=$(oom_kills_total)
psi0=$(vm_psi "$kp/memory.pressure" some total)
t0=$(vm_now_ms)
vm_check "batch grows" kube_spawn "$(kube_container_path besteffort "$e" "$ec")" /tmp/e.log \
	memhog --size-mib 400 --rate-mib 12 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/e.ready
epid=$KUBE_PID
# Done when the batch pod finished growing (and held 5 s), or was evicted.
grown() { test -f /tmp/e.ready; }
vm_wait_for 120 "batch pod grown or evicted" sh -c "test -f /tmp/e.ready || ! grep -q 'populated 1' $epod/cgroup.events" ||
	{ vm_dump "$AGENT_LOG"; vm_fail "the batch pod neither grew nor was evicted in 120 s"; }
grown && sleep 5
t1=$(vm_now_ms)
psi1=$(vm_psi "$kp/memory.pressure" some total)

memagent explain --output json >/tmp/ex.json || vm_fail "memagent explain failed"
memagent explain >&2
kills=$(jq '[.decisions[] | select(.action == "kill" or .action == "terminate")] | length' /tmp/ex.json)
freed=$(jq '[.decisions[] | select(.action == "reclaim") | .freed_bytes] | add // 0' /tmp/ex.json)
rlevel=$(jq -r '[.decisions[] | select(.action == "reclaim")][0].level // "none"' /tmp/ex.json)
# The containers the balloon reclaimed from under pressure: the record's victim and runners-up.
rfrom=$(jq -r '[.decisions[] | select(.action == "reclaim") | .victim.cgroup, .runners_up[].cgroup] | join(" ")' /tmp/ex.json)
vm_result "balloon=$BALLOON" "evictions=$kills" "reclaim_freed_bytes=$freed" "reclaim_level=$rlevel" \
	"elapsed_ms=$((t1 - t0))" "kubepods_stall_usec=$((psi1 - psi0))" "cache_swap_bytes=$(cat "$actr/memory.swap.current")" \
	"kubepods_current_bytes=$(cat "$kp/memory.current")" "kernel_oom_kills=$(($(oom_kills_total) - oom0))" \
	"batch_alive=$(vm_pid_alive "$epid" && echo yes || echo no)"
if [ "$BALLOON" = off ]; then
	vm_check "without the balloon, eviction had to act ($kills)" [ "$kills" -ge 1 ]
	vm_check "the batch pod was evicted" is_empty "$epod"
	agent_stop
	vm_pass
fi
vm_check "no eviction was needed ($kills)" [ "$kills" = 0 ]
vm_check "the batch pod grew to its size and lives" vm_pid_alive "$epid"
vm_check "the cache pod lives" vm_pid_alive "$apid"
vm_check "the balloon reclaimed under pressure and said how much ($freed bytes)" [ "$freed" -ge $((32 * MiB)) ]
vm_check "the reclaim decision came at level low ($rlevel)" [ "$rlevel" = low ]
# Which container is coldest changes during the run: the cache pod's cold tail at first (the
# batch pod's new pages are young while it grows), the batch pod's untouched pages once it
# stopped. The cache pod must be among those reclaimed from, and its cold tail mostly gone.
case " $rfrom " in
*" ${actr#/sys/fs/cgroup} "*) vm_log "ok: the cache pod is in the reclaim record" ;;
*) vm_fail "the cache pod is not among the containers reclaimed from under pressure ($rfrom)" ;;
esac
vm_check "the cache pod's cold tail went to swap ($(cat "$actr/memory.swap.current") bytes)" \
	vm_file_ge "$actr/memory.swap.current" $((160 * MiB))
vm_check "the kernel OOM killer never fired" [ "$(oom_kills_total)" = "$oom0" ]
agent_stop
vm_pass
