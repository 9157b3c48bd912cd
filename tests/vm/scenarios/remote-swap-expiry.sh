#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# A remote swap lease that stops being renewed is drained before its slabs go (issue 14), in ONE
# guest over loopback TCP: memschedd brokers, two memagentd donors lend memory, the consumer
# memagentd leases a 60 s lease and swapons it. A Burstable container (memhog --verify) has
# pages pushed to the remote swap (memory.reclaim). Then memschedd is frozen (SIGSTOP): no
# renewal can come, and the donors stop serving the slabs at the lease's deadline on their own.
# The consumer must see the lease ending (half its TTL left without a renewal), drain it
# (swapoff reads every page back) BEFORE that deadline, record revoke -> drain -> release in
# `memagent explain`, and memhog must find every page intact. memschedd then thaws, sweeps the
# lease, and the slabs are free for others.
# Without the feature (no drain before expiry) /dev/nbdN is still swapped on at the deadline,
# the "drained before the deadline" check fails, and the pages the donors no longer serve are
# lost (memhog's verify or its swap-ins fail).
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

vm_check "kube_node_setup" kube_node_setup 768Mi
u=$(kube_new_uid); c=$(kube_new_container_id)
vm_check "burstable pod (request 32Mi, limit 512Mi)" kube_pod_create burstable "$u" "$c:32Mi:512Mi"
ctr=$(kube_container_path burstable "$u" "$c")
# A Guaranteed pod: kept off the remote swap (memory.swap.max 0) while it is on, by default.
gu=$(kube_new_uid); gc=$(kube_new_container_id)
vm_check "guaranteed pod (64Mi)" kube_pod_create guaranteed "$gu" "$gc:64Mi:64Mi"
gctr=$(kube_container_path guaranteed "$gu" "$gc")

vm_check "nbd module" modprobe nbd
vm_check "loopback up" ip link set lo up
memschedd --listen 127.0.0.1:0 --state-file /tmp/memschedd.db --port-file /tmp/memschedd.port \
	--pool-offer-ttl-sec 60 >/tmp/memschedd.log 2>&1 &
SCHED_PID=$!
vm_wait_for 20 "memschedd port" test -s /tmp/memschedd.port || { vm_dump /tmp/memschedd.log; vm_fail "memschedd did not start"; }
URL="http://127.0.0.1:$(cat /tmp/memschedd.port)"
for d in 1 2; do
	donor_start "$d" "$URL" 127.0.0.1 112Mi
done
donors_wait "$URL" 2 60

# --remote-swap-level none: leased while a container may swap (no node pressure needed here).
agent_start --node-name consumer --dry-run --bpf-enabled=false --balloon-enabled=false \
	--scheduler-url "$URL" --remote-swap-bytes 96Mi --remote-swap-lease-ttl 60s \
	--remote-swap-level none --remote-swap-drain-margin 16Mi
nbd_swapon() { grep -q '^/dev/nbd' /proc/swaps; }
vm_wait_for 60 "remote swap on /dev/nbdN" nbd_swapon || { vm_dump "$AGENT_LOG"; vm_fail "no remote swap"; }
swap_max_is() { [ "$(cat "$1/memory.swap.max")" = "$2" ]; }
vm_wait_for 20 "Guaranteed container: memory.swap.max 0 while the remote swap is on" swap_max_is "$gctr" 0 || vm_fail "Guaranteed swap.max is $(cat "$gctr/memory.swap.max")"
vm_result "swap_max_guaranteed=$(cat "$gctr/memory.swap.max")" "swap_max_burstable=$(cat "$ctr/memory.swap.max")"
vm_check "Burstable container may swap (max)" swap_max_is "$ctr" max

vm_check "memhog --verify 64 MiB" kube_spawn "$ctr" /tmp/hog.log \
	memhog --size-mib 64 --hot-pct 5 --pass-sleep-ms 200 --verify --ready-file /tmp/hog.ready \
	--report-ms 5000
hogpid=$KUBE_PID
vm_wait_for 60 "memhog allocated" test -s /tmp/hog.ready || { vm_dump /tmp/hog.log; vm_fail "memhog did not allocate"; }
# Not too much: swapoff reads the pages back one request at a time, slow under TCG.
echo 8M >"$ctr/memory.reclaim" 2>/dev/null || true
nbd_used_kib() { awk '/^\/dev\/nbd/ { print $4 }' /proc/swaps; }
used=$(nbd_used_kib)
vm_result "swapped_remote_kib=$used" "swaps=$(grep nbd /proc/swaps | tr -s ' \t' ',')"
vm_check "pages on the remote swap (${used:-0} KiB)" [ "${used:-0}" -gt 2048 ]

# Right after a renewal (the deadline moves), memschedd freezes: no renewal can come, and the
# lease has its whole TTL left, as a lease whose memschedd just went away.
lease_expires() { wget -q -O - "$URL/v1/leases" | grep -o '"expires_at_usec": *[0-9]*' | head -n 1 | sed 's/.*[^0-9]//'; }
e0=$(lease_expires)
renewed() { expires_usec=$(lease_expires); [ -n "$expires_usec" ] && [ "$expires_usec" != "$e0" ]; }
vm_wait_for 60 "a renewal" renewed || vm_fail "the lease was not renewed"
# The donors learn the new deadline with their next offer renewal (every 2 s here): until then
# they hold the previous one. Let them (a known lag: see the lease notes in README).
sleep 5
kill -STOP "$SCHED_PID"
lease_id=$(grep -o 'Remote swap on /dev/nbd[0-9]*: lease [a-z0-9]*' "$AGENT_LOG" | sed 's/.* //' | head -n 1)
vm_check "lease $lease_id, deadline known ($expires_usec)" [ -n "$lease_id" ] && [ -n "$expires_usec" ]
t_stop=$(date +%s)
expires_s=$((expires_usec / 1000000))
vm_result "t_freeze=$t_stop" "lease_expires_at=$expires_s"

nbd_off() { ! grep -q '^/dev/nbd' /proc/swaps; }
vm_wait_for 120 "the consumer drained the remote swap" nbd_off || { vm_dump "$AGENT_LOG"; kill -CONT "$SCHED_PID"; vm_fail "not drained"; }
t_drained=$(date +%s)
vm_result "t_drained=$t_drained" "seconds_before_deadline=$((expires_s - t_drained))"
[ "$t_drained" -lt "$expires_s" ] || vm_dump "$AGENT_LOG"
vm_check "drained before the deadline ($t_drained < $expires_s)" [ "$t_drained" -lt "$expires_s" ]

# The order, from memagent explain (newest first: reversed).
# (the release follows the drain by a sample or two)
order_ok() {
	actions=$(memagent explain --output json --last 50 | grep -o '"action": *"[a-z-]*"' | sed 's/.*"\([a-z-]*\)"$/\1/' | tac | tr '\n' ',')
	echo "$actions" | grep -q 'lease,.*revoke,.*drain,.*release'
}
actions=
vm_wait_for 20 "explain: lease, then revoke (ending), drain, release" order_ok || { vm_result "explain_actions=$actions"; vm_fail "not in that order: $actions"; }
vm_result "explain_actions=$actions"
vm_check "the drain in the log" grep -q "Drained remote swap" "$AGENT_LOG"
vm_wait_for 20 "Guaranteed container: memory.swap.max back to max once the device is gone" swap_max_is "$gctr" max || vm_fail "Guaranteed swap.max is $(cat "$gctr/memory.swap.max")"

# memschedd thaws: the old lease is expired (or released) and its slabs are free for others (the
# consumer, still allowed to swap, may lease again: a new lease).
kill -CONT "$SCHED_PID"
old_gone() { ! wget -q -O - "$URL/v1/leases/$lease_id" 2>/dev/null | grep -q '"state": *"active"'; }
vm_wait_for 60 "lease $lease_id no longer active" old_gone || { vm_dump /tmp/memschedd.log; vm_fail "the lease is still active"; }

kill -TERM "$hogpid"
rc=0
wait "$hogpid" || rc=$?
verify=$(grep '^memhog=verify' /tmp/hog.log)
vm_result "memhog_rc=$rc" "verify=$(echo "$verify" | tr ' ' ',')"
vm_check "every page intact: $verify" sh -c "echo '$verify' | grep -q 'pages=16384 bad_pages=0'"
agent_stop
vm_pass
