#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Guest job of bench/evict-latency.sh: RUNS times, a BestEffort pod grows until memagentd
# (flags in AGENT_FLAGS) evicts it; each run's latencies come out as result lines.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

runs=${RUNS:-20}
vm_check "kube_node_setup" kube_node_setup 768Mi
# shellcheck disable=SC2086
agent_start --kill-cooldown=1s --clear-hold=1s ${AGENT_FLAGS:-}
i=1
while [ $i -le "$runs" ]; do
	uid=$(kube_new_uid)
	cid=$(kube_new_container_id)
	kube_pod_create besteffort "$uid" "$cid:0:0" || vm_fail "pod $i"
	pod=$(kube_pod_path besteffort "$uid")
	t0=$(vm_now_ms)
	kube_spawn "$(kube_container_path besteffort "$uid" "$cid")" /tmp/hog.log \
		memhog --grow-forever --rate-mib 96 --hot-pct 5 --report-ms 0 || vm_fail "hog $i"
	vm_wait_for 60 "run $i evicted" is_empty "$pod" || { vm_dump "$AGENT_LOG"; vm_fail "run $i: not evicted"; }
	t1=$(vm_now_ms)
	rel=${pod#/sys/fs/cgroup}
	vm_wait_for 10 "run $i decision done" sh -c \
		"memagent explain --output json --last 1 | jq -e '.decisions[0].done and .decisions[0].victim.cgroup == \"$rel\"' >/dev/null" ||
		{ vm_dump "$AGENT_LOG"; memagent explain >&2; vm_fail "run $i: no finished decision against its pod"; }
	memagent explain --output json --last 1 >/tmp/d.json
	# A figure the decision lacks is "missing", never 0: a 0 would pull p50/p99 down.
	vm_result "run=$i" \
		"trigger_to_decision_usec=$(jq -r '.decisions[0].trigger_to_decision_usec // "missing"' /tmp/d.json)" \
		"sample_to_decision_usec=$(jq -r '.decisions[0].sample_to_decision_usec // "missing"' /tmp/d.json)" \
		"decision_to_empty_usec=$(jq -r '.decisions[0].decision_to_empty_usec // "missing"' /tmp/d.json)" \
		"action=$(jq -r '.decisions[0].action' /tmp/d.json)" \
		"start_to_empty_ms=$((t1 - t0))" "oom_kills=$(oom_kills_total)"
	kube_pod_delete besteffort "$uid" || vm_fail "delete pod $i"
	sleep 1.5 # the cooldown
	i=$((i + 1))
done
vm_pass
