#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Kubernetes scenario 3 (issue 11): the node guard never waits on the API. memagentd
# --kubeconfig lists its pods from the TEST API server (kube-test-apiserver, not a live cluster)
# on the guest's loopback; then the server is stopped (SIGTERM). A BestEffort pod grows without
# bound: the pods reach level critical, and memagentd kills it through the cgroup (emptied, the
# kernel's OOM killer never fires). The server comes back on the same port: the eviction of the
# killed pod (so that the kubelet does not restart it on this node) arrives, 201, within 60 s,
# and so does the kill's Event, kept while the server was away.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"
. "$VM_LIB/kubeapi.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
e=$(kube_new_uid); ec=$(kube_new_container_id)
s=$(kube_new_uid); sc=$(kube_new_container_id)
vm_check "besteffort pod jobs/grower" kubeapi_pod_create besteffort "$e" jobs grower 0 "$ec:0:0"
vm_check "burstable pod shop/steady" kubeapi_pod_create burstable "$s" shop steady 1000 "$sc:64Mi:256Mi"
epod=$(kube_pod_path besteffort "$e")
spod=$(kube_pod_path burstable "$s")
vm_check "kube-test-apiserver" kubeapi_start

vm_check "steady holds 96 MiB" kube_spawn "$(kube_container_path burstable "$s" "$sc")" /tmp/s.log \
	memhog --size-mib 96 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/s.ready
spid=$KUBE_PID
vm_wait_for 60 "steady ready" test -f /tmp/s.ready || vm_fail "steady not ready"

# No level medium from available memory (0 disables it): the grower is caught at critical (below
# 5% available, the default), where the kill never waits for the API anyway.
# shellcheck disable=SC2046  # flags
agent_start $(kubeapi_agent_flags) --memory-available-medium=0 --grace-period=2s
kubeapi_wait_listed 60 || kubeapi_fail "memagentd never listed its pods from the API"
vm_check "memagentd knows the grower as jobs/grower" \
	[ "$(memagent status --output json | jq -r --arg u "$e" '.pods[] | select(.uid == $u) | "\(.namespace)/\(.name)"')" = jobs/grower ]

kubeapi_stop TERM
vm_check "the API server is unreachable" sh -c "! wget -q -T 2 -O /dev/null --no-check-certificate https://127.0.0.1:$KT_PORT/api 2>/dev/null"
oom0=$(oom_kills_total)
vm_check "grower grows without bound" kube_spawn "$(kube_container_path besteffort "$e" "$ec")" /tmp/e.log \
	memhog --grow-forever --rate-mib 64 --hot-pct 10 --report-ms 0
t0=$(vm_now_ms)
vm_wait_for 60 "grower emptied through the cgroup" is_empty "$epod" ||
	kubeapi_fail "with the API server down the grower was not killed within 60 s"
t1=$(vm_now_ms)
sleep 2
vm_check "no eviction could reach the stopped server" sh -c "! grep -q 'grower/eviction' '$KT_DIR/rec/requests.log'"
vm_check "steady's workload alive" vm_pid_alive "$spid"
vm_check "steady's pod populated" [ "$(populated "$spod")" = 1 ]
no_kernel_oom_kill "$oom0" "$(kube_kubepods_path)" "$epod" "$spod"
memagent explain --output json >/tmp/explain.json || kubeapi_fail "memagent explain failed"
memagent explain >&2
vm_check "the decision's victim is the grower" \
	[ "$(jq -r '.decisions[0].victim.cgroup' /tmp/explain.json)" = "${epod#/sys/fs/cgroup}" ]
level=$(jq -r '.decisions[0].level' /tmp/explain.json)
vm_check "the kill was decided at level critical ($level)" [ "$level" = critical ]
vm_result "kill_ms=$((t1 - t0))" "level=$level" "api_down=$(jq -r '.decisions[0].api // "null"' /tmp/explain.json | tr ' ' '_')"

vm_check "kube-test-apiserver back on port $KT_PORT" kubeapi_restart
t2=$(vm_now_ms)
vm_wait_for 60 "the grower's eviction after the API came back" \
	kubeapi_log_has '^POST /api/v1/namespaces/jobs/pods/grower/eviction 201' ||
	kubeapi_fail "the killed pod's eviction did not arrive within 60 s of the API server's return"
vm_result "eviction_after_return_ms=$(($(vm_now_ms) - t2))"
body=$(kubeapi_body eviction grower) || kubeapi_fail "no recorded Eviction body for jobs/grower"
vm_check "its UID precondition is the grower's" [ "$(jq -r '.deleteOptions.preconditions.uid' "$body")" = "$e" ]
vm_check "exactly one eviction of the grower ($(grep -c 'grower/eviction' "$KT_DIR/rec/requests.log"))" \
	[ "$(grep -c 'grower/eviction' "$KT_DIR/rec/requests.log")" = 1 ]
# The kill's Event found the API down: it was kept and goes out now (the retry is every 10 s).
vm_wait_for 40 "the kill's Event, kept while the API was down" kubeapi_event_seen \
	'.reason == "MemoryPressureKill" and .regarding.name == "grower" and .reportingController == "memagent.io/agent"' ||
	kubeapi_fail "the kill's Event (MemoryPressureKill regarding jobs/grower) never reached the server"
vm_check "steady still alive" vm_pid_alive "$spid"
agent_stop
kubeapi_stop
vm_pass
