#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Kubernetes scenario 4 (issue 11): a loan through pods/resize. memagentd --kubeconfig
# --vscale-enabled against the TEST API server (kube-test-apiserver, not a live cluster) on the
# guest's loopback. As vscale-loan.sh: a Burstable container (request 64Mi, limit 256Mi, no swap)
# grows to 320 MiB on a node with headroom.
#   MODE=resize    the loan writes memory.max AND the API server gets PATCH pods/resize with the
#                  new limit (the recorded body, and the pod's spec in the server's state); when
#                  the working set recedes the return is PATCHed too, back to 256Mi.
#   MODE=noresize  the server has no pods/resize (--no-resize: 404 "the server could not find the
#                  requested resource", as before Kubernetes 1.33): the loan still happens
#                  through the cgroup, and memagentd says once that pods/resize is missing.
# Either way the container is never OOM-killed.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"
. "$VM_LIB/kubeapi.sh"

: "${MODE:=resize}"
export KUBE_SWAP_BEHAVIOR=NoSwap KUBE_MEMORY_QOS=0
vm_check "kube_node_setup" kube_node_setup 768Mi
u=$(kube_new_uid); c=$(kube_new_container_id)
vm_check "burstable pod shop/web (request 64Mi, limit 256Mi)" kubeapi_pod_create burstable "$u" shop web 0 "$c:64Mi:256Mi"
ctr=$(kube_container_path burstable "$u" "$c")
pod=$(kube_pod_path burstable "$u")
limit=$(cat "$ctr/memory.max")
if [ "$MODE" = noresize ]; then
	vm_check "kube-test-apiserver without pods/resize" kubeapi_start --no-resize
else
	vm_check "kube-test-apiserver" kubeapi_start
fi

# the memory limit of the pod's container c0 in the API server's own state, in bytes
api_limit() {
	_q=$(kubeapi_control GET /control/state |
		jq -r '.pods[] | select(.metadata.name == "web") | .spec.containers[0].resources.limits.memory') || return 1
	kube_bytes "$_q"
}
# the memory limit in a recorded resize patch, in bytes
patch_limit() {
	_q=$(jq -r '.spec.containers[] | select(.name == "c0") | .resources.limits.memory' "$1") || return 1
	kube_bytes "$_q"
}
newest_resize() {
	# shellcheck disable=SC2012  # NNNN-resize.json: sequence numbers
	ls "$KT_DIR"/rec/*-resize.json 2>/dev/null | sort | tail -1
}

# shellcheck disable=SC2046  # flags
agent_start $(kubeapi_agent_flags) --vscale-enabled --vscale-return-hold=3s
kubeapi_wait_listed 60 || kubeapi_fail "memagentd never listed its pods from the API"

vm_check "grower" kube_spawn "$ctr" /tmp/hog.log \
	memhog --size-mib 320 --rate-mib 16 --hot-pct 10 --report-ms 1000 --ready-file /tmp/hog.ready
hogpid=$KUBE_PID
grown_or_killed() { test -f /tmp/hog.ready || vm_key_ge "$ctr/memory.events" oom_kill 1; }
vm_wait_for 120 "memhog at 320 MiB, or OOM-killed" grown_or_killed || kubeapi_fail "memhog neither grew nor died in 120 s"
sleep 2
oomk=$(vm_key "$ctr/memory.events" oom_kill)
now_max=$(cat "$ctr/memory.max")
vm_result "mode=$MODE" "limit_bytes=$limit" "memory_max_bytes=$now_max" "oom_kill=$oomk"
vm_check "no OOM kill (oom_kill $oomk)" [ "$oomk" = 0 ]
vm_check "the grower is alive" vm_pid_alive "$hogpid"
vm_check "memory.max was raised ($now_max > $limit)" [ "$now_max" -gt "$limit" ]
vm_check "the pod's memory.max was raised with it" [ "$(cat "$pod/memory.max")" -ge "$now_max" ]
memagent explain --output json >/tmp/ex.json || kubeapi_fail "memagent explain failed"
nloan=$(jq '[.decisions[] | select(.action == "loan")] | length' /tmp/ex.json)
vm_check "the loans are recorded decisions ($nloan)" [ "$nloan" -ge 1 ]
memagent status --output json >/tmp/status.json || kubeapi_fail "memagent status failed"
npatch=$(grep -c '^PATCH /api/v1/namespaces/shop/pods/web/resize' "$KT_DIR/rec/requests.log")
vm_result "loans=$nloan" "patches=$npatch"

if [ "$MODE" = noresize ]; then
	vm_check "the PATCH was tried and answered 404" kubeapi_log_has '^PATCH /api/v1/namespaces/shop/pods/web/resize 404'
	vm_check "tried once only, then cgroup writes only ($npatch PATCHes for $nloan loans)" [ "$npatch" = 1 ]
	nsaid=$(grep -c 'has no pods/resize' "$AGENT_LOG")
	vm_check "memagentd said once that pods/resize is missing (said $nsaid times)" [ "$nsaid" = 1 ]
	vm_check "status: resize_supported false" [ "$(jq -r '.kubernetes.resize_supported' /tmp/status.json)" = false ]
	vm_check "the API's limit is untouched (256Mi)" [ "$(api_limit)" = "$limit" ]
	agent_stop
	kubeapi_stop
	vm_pass
fi

vm_check "every loan was PATCHed through pods/resize, 200 ($npatch for $nloan loans)" \
	[ "$(grep -c '^PATCH /api/v1/namespaces/shop/pods/web/resize 200' "$KT_DIR/rec/requests.log")" = "$nloan" ]
last=$(newest_resize) || kubeapi_fail "no recorded resize body"
vm_check "the newest resize patch asks for memory.max ($(patch_limit "$last") = $now_max)" [ "$(patch_limit "$last")" = "$now_max" ]
vm_check "the API server's pod spec has the loan's limit ($(api_limit) = $now_max)" [ "$(api_limit)" = "$now_max" ]
vm_check "status: resize_supported true" [ "$(jq -r '.kubernetes.resize_supported' /tmp/status.json)" = true ]

# The working set recedes: the loan comes back, and the API hears of each return.
kill "$hogpid"
wait "$hogpid" 2>/dev/null
kube_spawn "$ctr" /tmp/small.log memhog --size-mib 32 --hot-pct 10 --report-ms 0 || vm_fail "small hog"
back() { [ "$(cat "$ctr/memory.max")" = "$limit" ]; }
vm_wait_for 90 "memory.max back to $limit" back || kubeapi_fail "the loan was not taken back"
api_back() { [ "$(api_limit)" = "$limit" ]; }
vm_wait_for 20 "the API's limit back to $limit" api_back || kubeapi_fail "the return did not reach the API server: $(api_limit)"
last=$(newest_resize)
vm_check "the newest resize patch is the return to $limit" [ "$(patch_limit "$last")" = "$limit" ]
vm_check "still no OOM kill" [ "$(vm_key "$ctr/memory.events" oom_kill)" = 0 ]
vm_result "patches_total=$(grep -c '/pods/web/resize 200' "$KT_DIR/rec/requests.log")"
agent_stop
kubeapi_stop
vm_pass
