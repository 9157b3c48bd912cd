#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# BPF OOM-victim signal on the real kernel: a hog in one pod's container is pushed past its
# memory.max and OOM-killed; `memagent trace` reports one oom_victim event that names the hog
# (pid, comm), its container's cgroup, the pod's uid and QoS class and the container id, with
# the victim's memory as the kernel saw it. The count of victims per cgroup equals the kernel's
# own memory.events oom_kill for that cgroup; a second pod, idle, gets no victim.
#
# Needs: memagent trace, memhog.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
uid_a=$(kube_new_uid)
cid_a=$(kube_new_container_id)
uid_b=$(kube_new_uid)
cid_b=$(kube_new_container_id)
vm_check "guaranteed pod A (64Mi)" kube_pod_create guaranteed "$uid_a" "$cid_a:64Mi:64Mi"
vm_check "burstable pod B" kube_pod_create burstable "$uid_b" "$cid_b:16Mi:128Mi"
ctr_a=$(kube_container_path guaranteed "$uid_a" "$cid_a")
ctr_b=$(kube_container_path burstable "$uid_b" "$cid_b")
id_a=$(stat -c %i "$ctr_a")
vm_log "pod A container $ctr_a (id $id_a)"

memagent trace --duration-s 60 --stall-threshold-us 1000000 --log-level info \
	>/tmp/trace.out 2>/tmp/trace.err &
tracer=$!
vm_wait_for 30 "trace attached" grep -q '"event":"attached"' /tmp/trace.out ||
	{ vm_dump /tmp/trace.err; vm_fail "memagent trace did not attach"; }

vm_check "spawn a quiet workload in pod B" kube_spawn "$ctr_b" /tmp/hog-b.log memhog --size-mib 8 \
	--hot-pct 100 --duration-s 30 --report-ms 0 --pass-sleep-ms 100
hog_b=$KUBE_PID
vm_check "spawn the hog in pod A" kube_spawn "$ctr_a" /tmp/hog-a.log memhog --size-mib 200 \
	--hot-pct 100 --duration-s 30 --report-ms 0
hog_a=$KUBE_PID
rc=0
wait "$hog_a" || rc=$?
vm_result "hog_exit=$rc"
vm_check "the hog was killed by SIGKILL (exit $rc)" [ "$rc" -eq 137 ]
vm_wait_for 10 "oom_victim event" grep -q '"event":"oom_victim"' /tmp/trace.out ||
	{ vm_dump /tmp/trace.err /tmp/trace.out; vm_fail "no oom_victim event from BPF"; }
kill -TERM "$tracer"
wait "$tracer" || { vm_dump /tmp/trace.err; vm_fail "memagent trace failed at SIGTERM"; }
kill -KILL "$hog_b" 2>/dev/null
wait "$hog_b" 2>/dev/null
oom_kill_a=$(vm_key "$ctr_a/memory.events" oom_kill)
oom_kill_b=$(vm_key "$ctr_b/memory.events" oom_kill)
vm_copy_file /tmp/trace.out bpf-oom-victim/trace.jsonl

ev=$(jq -c 'select(.event == "oom_victim")' /tmp/trace.out | head -n 1)
vm_log "event: $ev"
n_a=$(jq -c "select(.event == \"oom_victim\" and .cgroup_id == $id_a)" /tmp/trace.out | wc -l)
n_all=$(jq -c 'select(.event == "oom_victim")' /tmp/trace.out | wc -l)
sum_a=$(jq -r "select(.event == \"cgroup_summary\" and .cgroup_id == $id_a) | .oom_victims" /tmp/trace.out)
get() { echo "$ev" | jq -r "$1"; }
vm_result "bpf.oom_victim_events=$n_all" "bpf.oom_victim_events_pod_a=$n_a" \
	"bpf.oom_victims_pod_a=${sum_a:-none}" "kernel.oom_kill_pod_a=$oom_kill_a" \
	"kernel.oom_kill_pod_b=$oom_kill_b"
vm_result "bpf.victim_pid=$(get .victim_pid)" "bpf.victim_comm=$(get .victim_comm)" \
	"bpf.cgroup_source=$(get .cgroup_source)" "bpf.anon_rss_bytes=$(get .anon_rss_bytes)" \
	"bpf.trigger_pid=$(get .trigger_pid)" "bpf.oom_score_adj=$(get .oom_score_adj)"

vm_check "the victim is the hog (pid $(get .victim_pid) == $hog_a)" [ "$(get .victim_pid)" = "$hog_a" ]
vm_check "victim comm memhog" [ "$(get .victim_comm)" = memhog ]
vm_check "victim cgroup read from its task" [ "$(get .cgroup_source)" = task ]
vm_check "victim cgroup is pod A's container" [ "$(get .cgroup_id)" = "$id_a" ]
vm_check "victim cgroup path" [ "/sys/fs/cgroup$(get .cgroup)" = "$ctr_a" ]
vm_check "event names pod A" [ "$(get .pod_uid)" = "$uid_a" ]
vm_check "event names the QoS class" [ "$(get .qos)" = guaranteed ]
vm_check "event names the container" [ "$(get .container_id)" = "$cid_a" ]
# The hog filled its 64 MiB limit with anonymous memory before the kill.
vm_check "victim anon rss >= 32 MiB ($(get .anon_rss_bytes))" [ "$(get .anon_rss_bytes)" -ge 33554432 ]
vm_check "the hog triggered its own OOM (memcg OOM)" [ "$(get .trigger_cgroup_id)" = "$id_a" ]
vm_check "kernel counted the kill (oom_kill $oom_kill_a)" [ "$oom_kill_a" -ge 1 ]
vm_check "BPF victims in pod A ($n_a) == memory.events oom_kill ($oom_kill_a)" [ "$n_a" -eq "$oom_kill_a" ]
vm_check "BPF aggregate oom_victims ($sum_a) == oom_kill ($oom_kill_a)" [ "${sum_a:-0}" -eq "$oom_kill_a" ]
vm_check "every victim is pod A's ($n_all events)" [ "$n_all" -eq "$n_a" ]
vm_check "pod B untouched (oom_kill $oom_kill_b)" [ "$oom_kill_b" -eq 0 ]
vm_pass
