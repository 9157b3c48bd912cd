#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Vertical scaling scenarios 2 and 3: a Burstable container (request 64Mi, limit 256Mi, no swap
# for it: the kubelet's NoSwap) grows to 320 MiB while the node has headroom.
#   MODE=loan       memagentd --vscale-enabled lends it memory before it hits its limit: no
#                   oom_kill in its memory.events, the loan is a recorded decision; when its
#                   working set recedes, the loan is taken back step by step to the original
#                   limit (recorded too).
#   MODE=control    the same without memagentd: the kernel OOM-kills it at 256 MiB.
#   MODE=standback  during the loan an operator writes memory.max: memagentd records that it
#                   stood back, and never touches the limits again (no return, no new loan).
#   MODE=restart    memagentd restarts while the loan is out: the new process resumes the loan
#                   from its state file and takes it back as in MODE=loan, to the last byte.
# The kubelet's MemoryQoS is off (its default): no memory.min/high, as on most clusters.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

MiB=1048576
: "${MODE:=loan}"
export KUBE_SWAP_BEHAVIOR=NoSwap KUBE_MEMORY_QOS=0
vm_check "kube_node_setup" kube_node_setup 768Mi
u=$(kube_new_uid); c=$(kube_new_container_id)
vm_check "burstable pod (request 64Mi, limit 256Mi)" kube_pod_create burstable "$u" "$c:64Mi:256Mi"
ctr=$(kube_container_path burstable "$u" "$c")
pod=$(kube_pod_path burstable "$u")
limit=$(cat "$ctr/memory.max")
vm_result "mode=$MODE" "limit_bytes=$limit" "pod_limit_bytes=$(cat "$pod/memory.max")" \
	"swap_max=$(cat "$ctr/memory.swap.max")"

STATE_DIR=/tmp/memagent-state
[ "$MODE" = control ] || agent_start --vscale-enabled --vscale-return-hold=3s --state-directory="$STATE_DIR"

vm_check "grower" kube_spawn "$ctr" /tmp/hog.log \
	memhog --size-mib 320 --rate-mib 16 --hot-pct 10 --report-ms 1000 --ready-file /tmp/hog.ready
hogpid=$KUBE_PID
t0=$(vm_now_ms)
grown_or_killed() { test -f /tmp/hog.ready || vm_key_ge "$ctr/memory.events" oom_kill 1; }
vm_wait_for 90 "memhog at 320 MiB, or OOM-killed" grown_or_killed || vm_fail "memhog neither grew nor died in 90 s"
sleep 2
oomk=$(vm_key "$ctr/memory.events" oom_kill)
vm_result "oom_kill=$oomk" "max_events=$(vm_key "$ctr/memory.events" max)" \
	"memory_max_bytes=$(cat "$ctr/memory.max")" "peak_bytes=$(cat "$ctr/memory.peak")" \
	"grow_ms=$(($(vm_now_ms) - t0))"

if [ "$MODE" = control ]; then
	vm_check "without the agent the container is OOM-killed (oom_kill $oomk)" [ "$oomk" -ge 1 ]
	vm_pass
fi

vm_check "no OOM kill with the agent (oom_kill $oomk)" [ "$oomk" = 0 ]
vm_check "the grower is alive" vm_pid_alive "$hogpid"
now_max=$(cat "$ctr/memory.max")
vm_check "memory.max was raised ($now_max > $limit)" [ "$now_max" -gt "$limit" ]
vm_check "the pod's memory.max was raised with it" [ "$(cat "$pod/memory.max")" -ge "$now_max" ]
memagent explain --output json >/tmp/ex.json || vm_fail "memagent explain failed"
nloan=$(jq '[.decisions[] | select(.action == "loan")] | length' /tmp/ex.json)
lent=$(jq '[.decisions[] | select(.action == "loan") | .amount_bytes] | add' /tmp/ex.json)
vm_result "loans=$nloan" "lent_bytes=$lent"
vm_check "the loans are recorded decisions ($nloan)" [ "$nloan" -ge 1 ]
vm_check "the recorded loans add up to the raise ($lent = $now_max - $limit)" [ "$lent" = $((now_max - limit)) ]
vm_check "the loan names the container" \
	[ "$(jq -r '[.decisions[] | select(.action == "loan")][0].victim.cgroup' /tmp/ex.json)" = "${ctr#/sys/fs/cgroup}" ]

if [ "$MODE" = standback ]; then
	# An operator (or the kubelet) sets the limit itself.
	echo $((400 * MiB)) >"$ctr/memory.max" || vm_fail "cannot write memory.max"
	sb() { memagent explain --output json | jq -e '[.decisions[] | select(.action == "stand-back")] | length == 1' >/dev/null; }
	vm_wait_for 20 "a stand-back decision" sb || { vm_dump "$AGENT_LOG"; vm_fail "memagentd did not record that it stood back"; }
	# The working set recedes: a return would be due after 3 s, but the limit is not ours now.
	kill "$hogpid"
	wait "$hogpid" 2>/dev/null
	kube_spawn "$ctr" /tmp/small.log memhog --size-mib 32 --hot-pct 10 --report-ms 0 || vm_fail "small hog"
	sleep 12
	memagent explain --output json >/tmp/ex2.json || vm_fail "memagent explain failed"
	memagent explain >&2
	vm_check "memory.max stays what the operator wrote" [ "$(cat "$ctr/memory.max")" = $((400 * MiB)) ]
	after=$(jq '[.decisions[] | select(.action == "return" or .action == "loan")] | length' /tmp/ex2.json)
	vm_check "no loan or return after standing back ($after = $nloan)" [ "$after" = "$nloan" ]
	vm_result "stand_back_reason=$(jq -r '[.decisions[] | select(.action == "stand-back")][0].victim.reason' /tmp/ex2.json | tr ' ' '_')"
	agent_stop
	vm_pass
fi

if [ "$MODE" = restart ]; then
	# The process that lent is gone; the limits it raised stay. Its successor must return them.
	agent_stop
	vm_check "the state file names the loan" \
		jq -e --arg p "${ctr#/sys/fs/cgroup}" '[.units[] | select(.cgroup == $p and (.standBack | not))] | length == 1' "$STATE_DIR/state.json"
	vm_result "state_file_mode=$(stat -c %a "$STATE_DIR/state.json")"
	agent_start --vscale-enabled --vscale-return-hold=3s --state-directory="$STATE_DIR"
	vm_check "the new memagentd resumed the loan" grep -q "resumed from $STATE_DIR/state.json: the loan to ${ctr#/sys/fs/cgroup}" "$AGENT_LOG"
	vm_check "memory.max is still the loan's ($now_max)" [ "$(cat "$ctr/memory.max")" = "$now_max" ]
fi

# The working set recedes: the loan comes back, one step per hold period, to the original limit.
# After a restart, every return is the new process's: its own record adds up to the old loans.
kill "$hogpid"
wait "$hogpid" 2>/dev/null
t2=$(vm_now_ms)
kube_spawn "$ctr" /tmp/small.log memhog --size-mib 32 --hot-pct 10 --report-ms 0 || vm_fail "small hog"
back() { [ "$(cat "$ctr/memory.max")" = "$limit" ]; }
vm_wait_for 60 "memory.max back to $limit" back || { vm_dump "$AGENT_LOG"; vm_fail "the loan was not taken back"; }
memagent explain >&2
memagent explain --output json >/tmp/ex3.json || vm_fail "memagent explain failed"
nret=$(jq '[.decisions[] | select(.action == "return")] | length' /tmp/ex3.json)
ret=$(jq '[.decisions[] | select(.action == "return") | .amount_bytes] | add' /tmp/ex3.json)
vm_result "returns=$nret" "returned_bytes=$ret" "return_ms=$(($(vm_now_ms) - t2))"
vm_check "every byte lent came back ($ret = $lent)" [ "$ret" = "$lent" ]
vm_check "the pod's limit is back too" [ "$(cat "$pod/memory.max")" = "$limit" ]
vm_check "still no OOM kill" [ "$(vm_key "$ctr/memory.events" oom_kill)" = 0 ]
agent_stop
vm_pass
