#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Remote swap on the real kernel's NBD driver (issue 14), in ONE guest over loopback TCP:
# memschedd brokers; two memagentd donors (--pool-donate) lend locked memory; the consumer
# memagentd (--remote-swap-bytes; --remote-swap-level none: leased while a container may swap,
# without waiting for node pressure, which a container at its own limit does not cause) leases a
# durable device (every chunk on both donors), connects
# /dev/nbdN over netlink and swapons it. A Burstable container limited to 96 MiB (swap allowed:
# memory.swap.max stays "max") runs memhog --verify over 192 MiB: it must finish with every page
# checksummed after the round trip through the donors, and no OOM kill.
#   MODE=swap      as above; then the consumer stops cleanly: swapoff drains, the lease goes.
#   MODE=control   the same container without the pool: the kernel OOM-kills it.
# RDMA (Soft-RoCE between two guests) is a later step; this runs the TCP transport.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

: "${MODE:=swap}"
vm_check "kube_node_setup" kube_node_setup 768Mi
u=$(kube_new_uid); c=$(kube_new_container_id)
vm_check "burstable pod (request 32Mi, limit 96Mi)" kube_pod_create burstable "$u" "$c:32Mi:96Mi"
ctr=$(kube_container_path burstable "$u" "$c")
vm_result "mode=$MODE" "limit_bytes=$(cat "$ctr/memory.max")" "swap_max=$(cat "$ctr/memory.swap.max")"

if [ "$MODE" = swap ]; then
	vm_check "nbd module" modprobe nbd
	vm_check "loopback up" ip link set lo up
	memschedd --listen 127.0.0.1:0 --state-file /tmp/memschedd.db --port-file /tmp/memschedd.port \
		--pool-offer-ttl-sec 10 >/tmp/memschedd.log 2>&1 &
	vm_wait_for 20 "memschedd port" test -s /tmp/memschedd.port || { vm_dump /tmp/memschedd.log; vm_fail "memschedd did not start"; }
	URL="http://127.0.0.1:$(cat /tmp/memschedd.port)"

	donor_start 1 "$URL" 127.0.0.1 176Mi
	donor_start 2 "$URL" 127.0.0.1 176Mi
	donors_wait "$URL" 2 60

	agent_start --node-name consumer --dry-run --bpf-enabled=false --scheduler-url "$URL" \
		--remote-swap-bytes 160Mi --remote-swap-priority 100 --remote-swap-lease-ttl 30s \
		--remote-swap-level none
	nbd_swapon() { grep -q '^/dev/nbd' /proc/swaps; }
	vm_wait_for 60 "remote swap on /dev/nbdN" nbd_swapon || { vm_dump "$AGENT_LOG"; vm_fail "no remote swap"; }
	vm_result "swaps=$(grep nbd /proc/swaps | tr -s ' \t' ',')"
fi

oom0=$(oom_kills_total)
pswpout0=$(vm_key /proc/vmstat pswpout)
vm_check "memhog --verify 192 MiB" kube_spawn "$ctr" /tmp/hog.log \
	memhog --size-mib 192 --rate-mib 32 --hot-pct 10 --verify --hold-s 3 --report-ms 2000
hogpid=$KUBE_PID
rc=0
wait "$hogpid" || rc=$?
oomk=$(vm_key "$ctr/memory.events" oom_kill)
verify=$(grep '^memhog=verify' /tmp/hog.log)
# Pages written to swap meanwhile (the NBD device is the guest's only swap).
swapped_out=$(($(vm_key /proc/vmstat pswpout) - pswpout0))
vm_result "memhog_rc=$rc" "oom_kill=$oomk" "verify=$(echo "$verify" | tr ' ' ',')" \
	"pswpout_pages=$swapped_out" "peak_bytes=$(cat "$ctr/memory.peak")"

if [ "$MODE" = control ]; then
	vm_check "without the pool the container is OOM-killed (oom_kill $oomk, rc $rc)" [ "${oomk:-0}" -ge 1 ]
	vm_pass
fi

vm_check "memhog finished (rc $rc)" [ "$rc" = 0 ]
vm_check "no OOM kill" [ "${oomk:-0}" = 0 ] && [ "$(oom_kills_total)" = "$oom0" ]
vm_check "every page checked, none bad: $verify" \
	sh -c "echo '$verify' | grep -q 'pages=49152 bad_pages=0'"
vm_check "the container's pages went to the remote swap ($swapped_out pages out)" [ "$swapped_out" -gt 8192 ]

# memagent status: per donor, its transfers and their latency (issue 14), in the JSON and the table.
memagent status --output json >/tmp/status.json 2>&1 || vm_dump /tmp/status.json
donors_timed=$(jq '[.remote_swap.donors[]? | select(.ops > 0 and .errors == 0 and .latency_p50_usec > 0 and .latency_p99_usec >= .latency_p50_usec)] | length' /tmp/status.json)
vm_result "status_donors=$(jq -c '[.remote_swap.donors[]? | {donor, ops, errors, latency_p50_usec, latency_p99_usec}]' /tmp/status.json)"
vm_check "memagent status times both donors ($donors_timed with ops, no errors, p50 <= p99)" [ "${donors_timed:-0}" = 2 ]
vm_check "the status table shows the donors' latency" sh -c "memagent status | grep -A3 '^ *DONOR ' | grep -q 'donor-1 .*ms'"

# Drain before release: the consumer stops, swapoff reads everything back, the lease goes.
agent_stop
vm_check "the remote swap is off" sh -c '! grep -q "^/dev/nbd" /proc/swaps'
vm_check "drained, then released" grep -q "Released lease" "$AGENT_LOG"
vm_pass
