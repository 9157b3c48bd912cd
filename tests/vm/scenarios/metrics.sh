#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# memagentd's /metrics on the real kernel, on its default address (:9808): a BestEffort pod deaf
# to SIGTERM grows until the node's pods are at level medium; memagentd terminates it, the grace
# period ends with the pod still there, and it is killed. /metrics then counts one kill decision
# at medium, one eviction, one kill for grace_period_over and nothing else killed; the BPF reclaim
# stall histogram is exported for each kind (BPF loads in this guest); the probes answer ok.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
v=$(kube_new_uid); vc=$(kube_new_container_id)
n=$(kube_new_uid); nc=$(kube_new_container_id)
vm_check "besteffort pod V" kube_pod_create besteffort "$v" "$vc:0:0"
vm_check "burstable pod N" kube_pod_create burstable "$n" "$nc:128Mi:256Mi"
vpod=$(kube_pod_path besteffort "$v")
vm_check "N holds 96 MiB" kube_spawn "$(kube_container_path burstable "$n" "$nc")" /tmp/n.log \
	memhog --size-mib 96 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/n.ready
npid=$KUBE_PID
vm_wait_for 30 "N ready" test -f /tmp/n.ready || vm_fail "N not ready"

# The guest's loopback starts down; memagentd listens on every address anyway.
ip link set lo up
# Medium pressure (graceful) below 30% available; critical only below 2%: V is killed because
# its grace period ran out, not because the node went critical.
agent_start --memory-available-low=40% --memory-available-medium=30% --memory-available-critical=2% \
	--grace-period=2s --kill-cooldown=30s
vm_check "/metrics on :9808 before any pressure" wget -q -O /tmp/m0.txt http://127.0.0.1:9808/metrics
# A figure, not a check (issue 13): memagentd's resident memory with its defaults and BPF loaded,
# and the part of it that is BPF maps mmap()ed into it (the ring buffer, the skeleton's data).
bpf_rss=$(awk '/^[0-9a-f]+-/ { bpf = ($6 ~ /bpf/) } /^Rss:/ && bpf { s += $2 } END { print s + 0 }' "/proc/$AGENT_PID/smaps")
vm_result "memagentd_vmrss_kib=$(vm_key "/proc/$AGENT_PID/status" VmRSS:)" "memagentd_bpf_maps_rss_kib=$bpf_rss"
vm_check "V grows to 500 MiB, deaf to SIGTERM" kube_spawn "$(kube_container_path besteffort "$v" "$vc")" /tmp/v.log \
	memhog --size-mib 500 --rate-mib 64 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ignore-sigterm
if ! vm_wait_for 60 "V killed" is_empty "$vpod"; then
	vm_dump "$AGENT_LOG"
	vm_fail "V was not killed within 60 s"
fi
sleep 1
vm_check "N alive" vm_pid_alive "$npid"
memagent explain --output json >/tmp/explain.json || vm_fail "memagent explain failed"
outcome=$(jq -r '.decisions[0].outcome' /tmp/explain.json)

vm_check "/metrics after the kill" wget -q -O /tmp/m1.txt http://127.0.0.1:9808/metrics
grep -E '^memagent_(pressure_level|decisions_total|evictions_total|kills_total)' /tmp/m1.txt >&2
# value SERIES: the sample of SERIES exactly as written, 0 when absent
value() { awk -v s="$1" '$1 == s { v = $2 } END { print v + 0 }' /tmp/m1.txt; }
sum_of() { awk -v p="^$1[{ ]" '$1 ~ p { s += $2 } END { print s + 0 }' /tmp/m1.txt; }
vm_check "one terminate decision at medium" \
	[ "$(value 'memagent_decisions_total{action="terminate",level="medium"}')" = 1 ]
vm_check "one eviction in all ($(sum_of memagent_evictions_total))" [ "$(sum_of memagent_evictions_total)" = 1 ]
vm_check "one kill, for grace_period_over (outcome: $outcome)" \
	[ "$(value 'memagent_kills_total{reason="grace_period_over"}')" = 1 ]
vm_check "one kill in all ($(sum_of memagent_kills_total))" [ "$(sum_of memagent_kills_total)" = 1 ]
vm_check "no kill counted before the pressure" [ "$(awk '$1 ~ /^memagent_kills_total[{]/ { s += $2 } END { print s + 0 }' /tmp/m0.txt)" = 0 ]
vm_check "the kernel OOM killer never fired (BPF count)" [ "$(value memagent_kernel_oom_kills_total)" = 0 ]
for k in direct memcg softlimit; do
	vm_check "BPF reclaim stall histogram for $k" grep -q "^memagent_reclaim_stall_seconds_count{kind=\"$k\"} " /tmp/m1.txt
done
steps=$(value memagent_step_duration_seconds_count)
vm_check "steps counted ($steps)" [ "$steps" -gt 0 ]
vm_check "/healthz ok" sh -c 'wget -q -O - http://127.0.0.1:9808/healthz | grep -qx ok'
vm_check "/readyz ok (standalone)" sh -c 'wget -q -O - http://127.0.0.1:9808/readyz | grep -qx ok'
vm_result "outcome=$outcome" "steps=$steps" \
	"stall_direct_count=$(value 'memagent_reclaim_stall_seconds_count{kind="direct"}')" \
	"stall_memcg_count=$(value 'memagent_reclaim_stall_seconds_count{kind="memcg"}')"
agent_stop
vm_pass
