#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Kubernetes scenario 1 (issue 11): memagentd --kubeconfig against the TEST API server
# (kube-test-apiserver, not a live cluster) on the guest's loopback. Two BestEffort pods; the API
# gives them different priorities: shop/low (priority 100) grows to 200 MiB, shop/high (priority
# 1000) holds 320 MiB, more than low ever does. At level medium the ranking (usage over request,
# then priority, as the kubelet) picks low: it is evicted through the Eviction API (POST eviction
# 201 with its UID as the precondition), and high keeps running. The kernel's OOM killer never
# fires. Without the API's priorities, the larger pod (high) would go first.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"
. "$VM_LIB/kubeapi.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
lo=$(kube_new_uid); loc=$(kube_new_container_id)
hi=$(kube_new_uid); hic=$(kube_new_container_id)
vm_check "besteffort pod shop/low, priority 100" kubeapi_pod_create besteffort "$lo" shop low 100 "$loc:0:0"
vm_check "besteffort pod shop/high, priority 1000" kubeapi_pod_create besteffort "$hi" shop high 1000 "$hic:0:0"
lopod=$(kube_pod_path besteffort "$lo")
hipod=$(kube_pod_path besteffort "$hi")
vm_check "kube-test-apiserver" kubeapi_start

vm_check "high holds 320 MiB" kube_spawn "$(kube_container_path besteffort "$hi" "$hic")" /tmp/hi.log \
	memhog --size-mib 320 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/hi.ready
hipid=$KUBE_PID
vm_wait_for 60 "high ready" test -f /tmp/hi.ready || vm_fail "high not ready"

# Medium (graceful, through the API) below 30% of the pods' 768 MiB available; critical (kill at
# once) only below 2%: the victim is chosen at medium, where the API is asked.
# shellcheck disable=SC2046  # flags
agent_start $(kubeapi_agent_flags) --memory-available-low=40% --memory-available-medium=30% \
	--memory-available-critical=2% --grace-period=2s --kill-cooldown=30s
kubeapi_wait_listed 60 || kubeapi_fail "memagentd never listed its pods from the API"
memagent status --output json >/tmp/status.json || kubeapi_fail "memagent status failed"
vm_check "status names low shop/low with priority 100" [ "$(jq -r --arg u "$lo" '.pods[] | select(.uid == $u) | "\(.namespace)/\(.name)/\(.priority)"' /tmp/status.json)" = shop/low/100 ]
vm_check "status names high shop/high with priority 1000" [ "$(jq -r --arg u "$hi" '.pods[] | select(.uid == $u) | "\(.namespace)/\(.name)/\(.priority)"' /tmp/status.json)" = shop/high/1000 ]
oom0=$(oom_kills_total)

vm_check "low grows to 200 MiB" kube_spawn "$(kube_container_path besteffort "$lo" "$loc")" /tmp/lo.log \
	memhog --size-mib 200 --rate-mib 32 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0
lopid=$KUBE_PID
vm_wait_for 90 "an eviction of shop/low accepted" kubeapi_log_has '^POST /api/v1/namespaces/shop/pods/low/eviction 201' ||
	kubeapi_fail "no eviction of shop/low accepted by the API in 90 s"
vm_wait_for 30 "low emptied (evicted, then killed after its grace period: no kubelet here)" is_empty "$lopod" ||
	kubeapi_fail "shop/low still runs 30 s after its eviction"
sleep 2 # anything else that was going to go, goes now

vm_check "no eviction of shop/high was asked" sh -c "! grep -q '/pods/high/eviction' '$KT_DIR/rec/requests.log'"
vm_check "high's workload alive" vm_pid_alive "$hipid"
vm_check "high's pod populated" [ "$(populated "$hipod")" = 1 ]
vm_check "low's workload gone" sh -c "! kill -0 $lopid 2>/dev/null"
body=$(kubeapi_body eviction low) || kubeapi_fail "no recorded Eviction body for shop/low"
vm_check "the Eviction's UID precondition is low's uid" [ "$(jq -r '.deleteOptions.preconditions.uid' "$body")" = "$lo" ]
vm_check "the Eviction is policy/v1" [ "$(jq -r '"\(.apiVersion)/\(.kind)"' "$body")" = policy/v1/Eviction ]
vm_check "high used more memory than low (so priority decided): $(cat "$hipod/memory.current") bytes" \
	vm_file_ge "$hipod/memory.current" $((300 * 1048576))
vm_wait_for 20 "an Event regarding shop/low" kubeapi_event_seen \
	".regarding.uid == \"$lo\" and .reportingController == \"memagent.io/agent\" and (.reason | test(\"^MemoryPressure\"))" || kubeapi_fail "no Event regarding shop/low reached the server"
no_kernel_oom_kill "$oom0" "$(kube_kubepods_path)" "$lopod" "$hipod"

memagent explain --output json >/tmp/explain.json || kubeapi_fail "memagent explain failed"
memagent explain >&2
vm_check "the first decision's victim is shop/low" \
	[ "$(jq -r '.decisions[0].victim.cgroup' /tmp/explain.json)" = "${lopod#/sys/fs/cgroup}" ]
vm_check "the decision carries the API's answer (201)" \
	jq -e '.decisions[0].api // "" | test("201")' /tmp/explain.json
vm_result "api=$(jq -r '.decisions[0].api' /tmp/explain.json | tr ' ' '_')" \
	"outcome=$(jq -r '.decisions[0].outcome' /tmp/explain.json | tr ' ' '_')" \
	"evictions=$(grep -c '/eviction ' "$KT_DIR/rec/requests.log")"
agent_stop
kubeapi_stop
vm_pass
