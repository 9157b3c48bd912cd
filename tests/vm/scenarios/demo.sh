#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# `make demo`: a Kubernetes node's cgroup tree on a real kernel, three pods, and a BestEffort
# batch job that grows until the node's pods run out of memory. memagentd (no flags) watches and
# acts; the console shows `memagent status` every few seconds and the agent's log as it happens,
# then `memagent explain` and a summary. Also a ctest (vm.demo), so the demo stays true.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

say() { printf '\n=== %s\n' "$*" >&2; }
show_log() { # new agent log lines since the last call
	_n=$(wc -l <"$AGENT_LOG")
	if [ "$_n" -gt "${_shown:-0}" ]; then
		sed -n "$((${_shown:-0} + 1)),${_n}p" "$AGENT_LOG" | sed 's/^/  agent| /' >&2
		_shown=$_n
	fi
}

say "A node with 1 GiB of memory; the kubelet gives pods 768 MiB (kubepods.slice memory.max)"
vm_check "kube_node_setup" kube_node_setup 768Mi
db=$(kube_new_uid); dbc=$(kube_new_container_id)
web=$(kube_new_uid); webc1=$(kube_new_container_id); webc2=$(kube_new_container_id)
batch=$(kube_new_uid); batchc=$(kube_new_container_id)
vm_check "db pod" kube_pod_create guaranteed "$db" "$dbc:160Mi:160Mi"
vm_check "web pod" kube_pod_create burstable "$web" "$webc1:64Mi:256Mi" "$webc2:32Mi:128Mi"
vm_check "batch pod" kube_pod_create besteffort "$batch" "$batchc:0:0"
echo "  db    = pod $db (Guaranteed, 160Mi)" >&2
echo "  web   = pod $web (Burstable, requests 96Mi)" >&2
echo "  batch = pod $batch (BestEffort)" >&2
kube_spawn "$(kube_container_path guaranteed "$db" "$dbc")" /tmp/db.log \
	memhog --size-mib 128 --hot-pct 30 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/db.ready || vm_fail "db"
dbpid=$KUBE_PID
kube_spawn "$(kube_container_path burstable "$web" "$webc1")" /tmp/web1.log \
	memhog --size-mib 80 --hot-pct 30 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/web1.ready || vm_fail "web"
webpid=$KUBE_PID
kube_spawn "$(kube_container_path burstable "$web" "$webc2")" /tmp/web2.log \
	memhog --size-mib 40 --hot-pct 30 --pass-sleep-ms 20 --report-ms 0 --ready-file /tmp/web2.ready || vm_fail "web"
vm_wait_for 30 "pods ready" test -f /tmp/db.ready -a -f /tmp/web1.ready -a -f /tmp/web2.ready || vm_fail "pods not ready"

say "memagentd starts with no flags"
agent_start
sleep 1
show_log
say "memagent status"
memagent status >&2

say "The batch job starts and grows by 48 MiB/s with no limit"
oom0=$(oom_kills_total)
t0=$(vm_now_ms)
kube_spawn "$(kube_container_path besteffort "$batch" "$batchc")" /tmp/batch.log \
	memhog --grow-forever --rate-mib 48 --hot-pct 10 --report-ms 0 || vm_fail "batch"
bpod=$(kube_pod_path besteffort "$batch")
relief=0
while [ $(($(vm_now_ms) - t0)) -lt 60000 ]; do
	sleep 2
	say "t+$((($(vm_now_ms) - t0) / 1000))s"
	memagent status 2>&1 | grep -E '^(NODE|QOS|-|guaranteed|burstable|besteffort|  [a-z]+ +(none|low|medium|critical))' >&2
	show_log
	if [ "$relief" = 0 ] && is_empty "$bpod"; then
		relief=$(vm_now_ms)
		break
	fi
done
[ "$relief" != 0 ] || vm_fail "the batch pod was never evicted"
sleep 2
show_log
say "memagent explain: what memagentd decided, and why"
memagent explain >&2

oom1=$(oom_kills_total)
db_ok=no; web_ok=no
vm_pid_alive "$dbpid" && db_ok=yes
vm_pid_alive "$webpid" && web_ok=yes
say "Summary"
cat >&2 <<EOT
  The batch pod (BestEffort) grew until the node's pods neared their 768 MiB limit. memagentd
  saw memory.available fall through its thresholds (20% low, 10% medium: graceful, 5% critical:
  kill), ranked the pods by QoS class, and terminated the batch pod $(((relief - t0) / 1000)) s after it started.
  db (Guaranteed) still running: $db_ok.  web (Burstable) still running: $web_ok.
  Kernel OOM kills during the demo: $((oom1 - oom0)) (the kernel's OOM killer never had to act).
EOT
vm_result "batch_start_to_relief_ms=$((relief - t0))" "kernel_oom_kills=$((oom1 - oom0))" "db_alive=$db_ok" "web_alive=$web_ok"
[ "$db_ok" = yes ] && [ "$web_ok" = yes ] || vm_fail "a pod other than batch died"
[ "$oom1" = "$oom0" ] || vm_fail "the kernel OOM killer fired"
agent_stop >/dev/null 2>&1 || true
vm_pass
