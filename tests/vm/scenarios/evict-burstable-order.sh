#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Eviction scenario 2: a Burstable pod using more than its request dies before a Burstable pod
# under its request, even though the one under its request is larger. Pod A (request 32Mi) grows;
# pod B (request 500Mi) holds 380 MiB, more than A can reach before pressure. A Guaranteed pod holds steady.
# "Larger" is the kernel's word, not the daemon's: A's memory.peak (the most A ever held, so also
# when it was chosen) is under B's memory.current, read from the cgroup files.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
a=$(kube_new_uid); ac=$(kube_new_container_id)
b=$(kube_new_uid); bc=$(kube_new_container_id)
g=$(kube_new_uid); gc=$(kube_new_container_id)
vm_check "burstable pod A (request 32Mi)" kube_pod_create burstable "$a" "$ac:32Mi:0"
vm_check "burstable pod B (request 500Mi)" kube_pod_create burstable "$b" "$bc:500Mi:0"
vm_check "guaranteed pod" kube_pod_create guaranteed "$g" "$gc:96Mi:96Mi"
apod=$(kube_pod_path burstable "$a")
bpod=$(kube_pod_path burstable "$b")
gpod=$(kube_pod_path guaranteed "$g")

vm_check "B holds 380 MiB" kube_spawn "$(kube_container_path burstable "$b" "$bc")" /tmp/b.log \
	memhog --size-mib 380 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/b.ready
bpid=$KUBE_PID
vm_check "G holds 64 MiB" kube_spawn "$(kube_container_path guaranteed "$g" "$gc")" /tmp/g.log \
	memhog --size-mib 64 --hot-pct 10 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/g.ready
gpid=$KUBE_PID
vm_wait_for 30 "steady pods ready" test -f /tmp/b.ready -a -f /tmp/g.ready || vm_fail "steady pods not ready"

agent_start
oom0=$(oom_kills_total)
vm_check "A grows" kube_spawn "$(kube_container_path burstable "$a" "$ac")" /tmp/a.log \
	memhog --grow-forever --rate-mib 48 --hot-pct 10 --report-ms 0
if ! vm_wait_for 60 "pod A emptied" is_empty "$apod"; then
	vm_dump "$AGENT_LOG"
	vm_fail "pod A was not evicted within 60 s"
fi
sleep 2
vm_check "B (larger, under its request) alive" vm_pid_alive "$bpid"
vm_check "G alive" vm_pid_alive "$gpid"
no_kernel_oom_kill "$oom0" "$(kube_kubepods_path)" "$apod" "$bpod" "$gpod"
a_peak=$(cat "$apod/memory.peak")
b_cur=$(cat "$bpod/memory.current")
b_peak=$(cat "$bpod/memory.peak")
vm_result "a_peak_bytes=$a_peak" "b_current_bytes=$b_cur" "b_peak_bytes=$b_peak"
vm_check "B is larger than A ever was, by the kernel (A memory.peak $a_peak < B memory.current $b_cur)" \
	[ "$a_peak" -lt "$b_cur" ]

memagent explain --output json >/tmp/explain.json || vm_fail "memagent explain failed"
memagent explain >/tmp/explain.txt 2>&1
vm_dump /tmp/explain.txt
victim=$(jq -r '.decisions | last | .victim.cgroup' /tmp/explain.json)
vm_check "victim is pod A" [ "$victim" = "${apod#/sys/fs/cgroup}" ]
vws=$(jq -r '.decisions | last | .victim.working_set_bytes' /tmp/explain.json)
runner=$(jq -r '.decisions | last | .runners_up[0].cgroup' /tmp/explain.json)
rws=$(jq -r '.decisions | last | .runners_up[0].working_set_bytes' /tmp/explain.json)
vm_check "runner-up is pod B" [ "$runner" = "${bpod#/sys/fs/cgroup}" ]
vm_check "the reason says A was over its request" grep -q "burstable over request" /tmp/explain.txt
# The daemon's own view of the sizes, for the record only: the size check above is the kernel's.
vm_result "victim_working_set_bytes=$vws" "runner_up_working_set_bytes=$rws"
agent_stop
vm_pass
