#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Kubernetes scenario 2 (issue 11): a PodDisruptionBudget answer. memagentd --kubeconfig against
# the TEST API server (kube-test-apiserver, not a live cluster) on the guest's loopback. Two
# BestEffort pods: shop/guarded (priority 100) holds 120 MiB and its evictions are scripted "pdb"
# (429 TooManyRequests, cause DisruptionBudget), shop/batch (priority 1000) grows to 500 MiB. At
# level medium guarded ranks first (lower priority); the API refuses it; the same decision moves
# on to batch, which is evicted through the API (201). `memagent explain` shows the 429; guarded
# keeps running; the kernel's OOM killer never fires.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"
. "$VM_LIB/kubeapi.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
g=$(kube_new_uid); gc=$(kube_new_container_id)
b=$(kube_new_uid); bc=$(kube_new_container_id)
vm_check "besteffort pod shop/guarded, priority 100" kubeapi_pod_create besteffort "$g" shop guarded 100 "$gc:0:0"
vm_check "besteffort pod shop/batch, priority 1000" kubeapi_pod_create besteffort "$b" shop batch 1000 "$bc:0:0"
gpod=$(kube_pod_path besteffort "$g")
bpod=$(kube_pod_path besteffort "$b")
vm_check "kube-test-apiserver" kubeapi_start
vm_check "guarded's evictions answer 429 (PodDisruptionBudget)" \
	kubeapi_control POST /control/evict-script '{"namespace":"shop","name":"guarded","answer":"pdb","times":0}'

vm_check "guarded holds 120 MiB" kube_spawn "$(kube_container_path besteffort "$g" "$gc")" /tmp/g.log \
	memhog --size-mib 120 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/g.ready
gpid=$KUBE_PID
vm_wait_for 60 "guarded ready" test -f /tmp/g.ready || vm_fail "guarded not ready"

# Medium below 30% of the pods' 768 MiB available, critical only below 2% (never reached: at
# most 620 MiB are used): every decision is made at medium, where the API is asked.
# shellcheck disable=SC2046  # flags
agent_start $(kubeapi_agent_flags) --memory-available-low=40% --memory-available-medium=30% \
	--memory-available-critical=2% --grace-period=2s --kill-cooldown=30s
kubeapi_wait_listed 60 || kubeapi_fail "memagentd never listed its pods from the API"
oom0=$(oom_kills_total)

vm_check "batch grows to 500 MiB" kube_spawn "$(kube_container_path besteffort "$b" "$bc")" /tmp/b.log \
	memhog --size-mib 500 --rate-mib 32 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0
vm_wait_for 90 "an eviction of shop/batch accepted" kubeapi_log_has '^POST /api/v1/namespaces/shop/pods/batch/eviction 201' ||
	kubeapi_fail "no eviction of shop/batch accepted by the API in 90 s"
vm_wait_for 30 "batch emptied (evicted, then killed after its grace period: no kubelet here)" is_empty "$bpod" ||
	kubeapi_fail "shop/batch still runs 30 s after its eviction"
sleep 2

vm_check "guarded was tried first and refused (429)" kubeapi_log_has '^POST /api/v1/namespaces/shop/pods/guarded/eviction 429'
first429=$(grep -n 'guarded/eviction 429' "$KT_DIR/rec/requests.log" | head -1 | cut -d: -f1)
first201=$(grep -n 'batch/eviction 201' "$KT_DIR/rec/requests.log" | head -1 | cut -d: -f1)
vm_check "the 429 came before batch's 201 (lines $first429, $first201)" [ "$first429" -lt "$first201" ]
vm_check "guarded was never evicted" sh -c "! grep -q 'guarded/eviction 2' '$KT_DIR/rec/requests.log'"
vm_check "guarded's workload alive" vm_pid_alive "$gpid"
vm_check "guarded's pod populated" [ "$(populated "$gpod")" = 1 ]
body=$(kubeapi_body eviction batch) || kubeapi_fail "no recorded Eviction body for shop/batch"
vm_check "batch's Eviction has its UID as the precondition" [ "$(jq -r '.deleteOptions.preconditions.uid' "$body")" = "$b" ]
no_kernel_oom_kill "$oom0" "$(kube_kubepods_path)" "$gpod" "$bpod"

memagent explain --output json >/tmp/explain.json || kubeapi_fail "memagent explain failed"
memagent explain >&2
vm_check "explain shows the API's 429 for guarded" \
	jq -e '[.decisions[] | .api // "" | select(test("429"))] | length >= 1' /tmp/explain.json
vm_check "explain shows the DisruptionBudget answer" grep -q "DisruptionBudget\|disruption budget" /tmp/explain.json
vm_check "a decision evicted batch" \
	jq -e --arg c "${bpod#/sys/fs/cgroup}" '[.decisions[] | select(.victim.cgroup == $c)] | length >= 1' /tmp/explain.json
vm_result "decisions=$(jq '.decisions | length' /tmp/explain.json)" \
	"api=$(jq -r '[.decisions[] | .api // ""] | join("|")' /tmp/explain.json | tr ' ' '_')"
agent_stop
kubeapi_stop
vm_pass
