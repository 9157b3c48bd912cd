#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Eviction scenario 4: --dry-run kills nothing and records the decision it would have made.
# A BestEffort pod grows to a size that puts the pods at critical pressure but stops short of
# the kubepods limit, so nothing but memagentd could kill it.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
e=$(kube_new_uid); ec=$(kube_new_container_id)
vm_check "besteffort pod" kube_pod_create besteffort "$e" "$ec:0:0"
epod=$(kube_pod_path besteffort "$e")

agent_start --dry-run
oom0=$(oom_kills_total)
vm_check "the pod grows to 740 MiB" kube_spawn "$(kube_container_path besteffort "$e" "$ec")" /tmp/e.log \
	memhog --size-mib 740 --rate-mib 64 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/e.ready
epid=$KUBE_PID
vm_wait_for 40 "the pod reached its size" test -f /tmp/e.ready || { vm_dump "$AGENT_LOG"; vm_fail "memhog never reached 740 MiB"; }
if ! vm_wait_for 20 "a recorded decision" sh -c 'memagent explain --output json | jq -e ".decisions | length > 0" >/dev/null'; then
	vm_dump "$AGENT_LOG"
	vm_fail "no decision recorded"
fi
sleep 3
vm_check "the pod is alive: nothing was killed" vm_pid_alive "$epid"
vm_check "the pod is populated" [ "$(populated "$epod")" = 1 ]
vm_check "the kernel OOM killer never fired" [ "$(oom_kills_total)" = "$oom0" ]
memagent explain --output json >/tmp/explain.json || vm_fail "memagent explain failed"
memagent explain >/tmp/explain.txt 2>&1
vm_dump /tmp/explain.txt
victim=$(jq -r '.decisions | last | .victim.cgroup' /tmp/explain.json)
vm_check "the decision names the pod it would have killed" [ "$victim" = "${epod#/sys/fs/cgroup}" ]
dry=$(jq -r '.decisions | last | .dry_run' /tmp/explain.json)
vm_check "the decision is marked dry run" [ "$dry" = true ]
outcome=$(jq -r '.decisions | last | .outcome' /tmp/explain.json)
vm_check "the outcome says nothing was done ($outcome)" [ "$outcome" = "not acted: dry run" ]
kills=$(memagent status --output json | jq -r .daemon.kills_total)
vm_check "the daemon counts no kills (got $kills)" [ "$kills" = 0 ]
vm_check "the log says DRY RUN" grep -q "DRY RUN" "$AGENT_LOG"
agent_stop
vm_pass
