#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Eviction scenario 1: a BestEffort pod grows until the node's pods run out of memory. memagentd,
# started with no flags, kills it; the Burstable and Guaranteed pods keep running; the kernel's
# OOM killer never fires (oom_kill stays 0 everywhere). No swap.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

MiB=1048576
vm_check "kube_node_setup" kube_node_setup 768Mi
g=$(kube_new_uid); gc=$(kube_new_container_id)
b=$(kube_new_uid); bc=$(kube_new_container_id)
e=$(kube_new_uid); ec=$(kube_new_container_id)
vm_check "guaranteed pod" kube_pod_create guaranteed "$g" "$gc:96Mi:96Mi"
vm_check "burstable pod" kube_pod_create burstable "$b" "$bc:64Mi:256Mi"
vm_check "besteffort pod" kube_pod_create besteffort "$e" "$ec:0:0"
gpod=$(kube_pod_path guaranteed "$g")
bpod=$(kube_pod_path burstable "$b")
epod=$(kube_pod_path besteffort "$e")

vm_check "guaranteed workload" kube_spawn "$(kube_container_path guaranteed "$g" "$gc")" /tmp/g.log \
	memhog --size-mib 64 --hot-pct 20 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/g.ready
gpid=$KUBE_PID
vm_check "burstable workload" kube_spawn "$(kube_container_path burstable "$b" "$bc")" /tmp/b.log \
	memhog --size-mib 96 --hot-pct 20 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/b.ready
bpid=$KUBE_PID
vm_wait_for 30 "steady pods ready" test -f /tmp/g.ready -a -f /tmp/b.ready || vm_fail "steady pods not ready"

agent_start
oom0=$(oom_kills_total)

t0=$(vm_now_ms)
vm_check "besteffort grower" kube_spawn "$(kube_container_path besteffort "$e" "$ec")" /tmp/e.log \
	memhog --grow-forever --rate-mib 64 --hot-pct 10 --report-ms 0
epid=$KUBE_PID
if ! vm_wait_for 60 "besteffort pod emptied" is_empty "$epod"; then
	vm_dump "$AGENT_LOG"
	vm_fail "the besteffort pod was not killed within 60 s"
fi
t1=$(vm_now_ms)
sleep 2 # anything else that was going to die, dies now

vm_check "guaranteed workload alive" vm_pid_alive "$gpid"
vm_check "burstable workload alive" vm_pid_alive "$bpid"
vm_check "guaranteed pod populated" [ "$(populated "$gpod")" = 1 ]
vm_check "burstable pod populated" [ "$(populated "$bpod")" = 1 ]
no_kernel_oom_kill "$oom0" "$(kube_kubepods_path)" "$gpod" "$bpod" "$epod"

memagent explain --output json >/tmp/explain.json 2>/tmp/explain.err || { vm_dump /tmp/explain.err; vm_fail "memagent explain failed"; }
memagent explain >/tmp/explain.txt 2>&1
vm_dump /tmp/explain.txt
victim=$(jq -r '.decisions | last | .victim.cgroup' /tmp/explain.json)
vm_check "the first decision's victim is the besteffort pod ($victim)" [ "$victim" = "${epod#/sys/fs/cgroup}" ]
ndec=$(jq '.decisions | length' /tmp/explain.json)
vm_check "exactly one eviction decision (got $ndec)" [ "$ndec" = 1 ]
outcome=$(jq -r '.decisions | last | .outcome' /tmp/explain.json)
lat=$(jq -r '.decisions | last | .trigger_to_decision_usec' /tmp/explain.json)
empty=$(jq -r '.decisions | last | .decision_to_empty_usec' /tmp/explain.json)
vm_result "grow_to_relief_ms=$((t1 - t0))" "outcome=$outcome" "trigger_to_decision_usec=$lat" "decision_to_empty_usec=$empty"
vm_check "the explanation names the reason (besteffort)" grep -q "besteffort" /tmp/explain.txt
# Two checks, not `status && check`: with `a && b` a failing status skipped the check silently.
vm_check "memagent status succeeds" sh -c 'memagent status >/tmp/status.txt 2>&1'
vm_check "status shows the daemon's pressure view" grep -q "PRESSURE (memagentd)" /tmp/status.txt
# /metrics (memagentd serves :9808 by default) counts the eviction, and the kill when the pod did
# not leave in its grace period. The guest's loopback starts down.
ip link set lo up
vm_check "/metrics answers" wget -q -O /tmp/metrics.txt http://127.0.0.1:9808/metrics
vm_check "/healthz answers ok" sh -c 'wget -q -O - http://127.0.0.1:9808/healthz | grep -qx ok'
sum_of() { awk -v p="^$1[{ ]" '$1 ~ p || ($1 == "'"$1"'") { s += $2 } END { print s + 0 }' /tmp/metrics.txt; }
evictions=$(sum_of memagent_evictions_total)
kills=$(sum_of memagent_kills_total)
grep -E '^memagent_(decisions|evictions|kills)_total' /tmp/metrics.txt >&2
vm_check "/metrics counts one eviction (got $evictions)" [ "$evictions" = 1 ]
case $outcome in
"terminated gracefully") want_kills=0 ;;
*) want_kills=1 ;;
esac
vm_check "/metrics counts $want_kills kill(s) for outcome \"$outcome\" (got $kills)" [ "$kills" = "$want_kills" ]
vm_result "metrics_evictions=$evictions" "metrics_kills=$kills"
agent_stop
vm_pass
