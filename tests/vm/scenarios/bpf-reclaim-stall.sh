#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# BPF reclaim-stall signals on the real kernel: a hog in one pod's container, held by a tight
# memory.high, stalls in memcg reclaim; `memagent trace` (the BPF programs) reports the stalls
# attributed to that container's cgroup id, and to no other cgroup (a second pod runs a small,
# unconstrained workload at the same time). The BPF aggregates must agree with the kernel's own
# accounting of the same cgroup: memory.events (high + max: one memcg reclaim each) and
# memory.stat (pgsteal: pages the reclaim took). While trace runs, its per-cgroup map is pinned
# for `memagent status` and disappears when it exits.
#
# Needs: memagent trace, memhog; swap (vmrun --swap-mib) so anonymous pages can be reclaimed.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"

HOG_S=${BPF_HOG_S:-8}
PIN=/sys/fs/bpf/memagent

vm_check "kube_node_setup" kube_node_setup 768Mi
uid_a=$(kube_new_uid)
cid_a=$(kube_new_container_id)
uid_b=$(kube_new_uid)
cid_b=$(kube_new_container_id)
vm_check "burstable pod A" kube_pod_create burstable "$uid_a" "$cid_a:16Mi:256Mi"
vm_check "burstable pod B" kube_pod_create burstable "$uid_b" "$cid_b:16Mi:256Mi"
ctr_a=$(kube_container_path burstable "$uid_a" "$cid_a")
ctr_b=$(kube_container_path burstable "$uid_b" "$cid_b")
# The hog's working set does not fit under memory.high: it reclaims (to swap) on every charge.
echo $((48 * 1048576)) >"$ctr_a/memory.high"
id_a=$(stat -c %i "$ctr_a")
id_b=$(stat -c %i "$ctr_b")
vm_log "pod A container $ctr_a (id $id_a), pod B container $ctr_b (id $id_b)"

memagent trace --duration-s $((HOG_S + 6)) --stall-threshold-us 0 --pin-dir "$PIN" \
	--log-level info >/tmp/trace.out 2>/tmp/trace.err &
tracer=$!
vm_wait_for 30 "trace attached" grep -q '"event":"attached"' /tmp/trace.out ||
	{ vm_dump /tmp/trace.err; vm_fail "memagent trace did not attach"; }
attach=$(jq -r 'select(.event == "attached") | .attach' /tmp/trace.out)
vm_result "bpf.attach=$attach" "bpf.mark_victim_task=$(jq -r 'select(.event == "attached") | .mark_victim_task' /tmp/trace.out)"
vm_log "attached: $(head -n 1 /tmp/trace.out)"
vm_check "the map is pinned while trace runs" [ -e "$PIN/cgroup_stats_v1" ]

vm_check "spawn the hog in pod A" kube_spawn "$ctr_a" /tmp/hog-a.log memhog --size-mib 128 \
	--hot-pct 100 --duration-s "$HOG_S" --report-ms 0
hog_a=$KUBE_PID
vm_check "spawn a quiet workload in pod B" kube_spawn "$ctr_b" /tmp/hog-b.log memhog --size-mib 16 \
	--hot-pct 100 --duration-s "$HOG_S" --report-ms 0 --pass-sleep-ms 50
hog_b=$KUBE_PID
wait "$hog_a" || vm_log "hog A exited $?"
wait "$hog_b" || vm_log "hog B exited $?"
# The kernel's view of the same cgroup, once the hog is done (nothing else runs in it).
high_a=$(vm_key "$ctr_a/memory.events" high)
max_a=$(vm_key "$ctr_a/memory.events" max)
pgscan_a=$(vm_key "$ctr_a/memory.stat" pgscan)
pgsteal_a=$(vm_key "$ctr_a/memory.stat" pgsteal)
pgscan_b=$(vm_key "$ctr_b/memory.stat" pgscan)
rc=0
wait "$tracer" || rc=$?
[ "$rc" -eq 0 ] || { vm_dump /tmp/trace.err; vm_fail "memagent trace exited $rc"; }
vm_check "the pin is gone with the loader" [ ! -e "$PIN/cgroup_stats_v1" ]

vm_copy_file /tmp/trace.out bpf-reclaim-stall/trace.jsonl
vm_copy_file /tmp/trace.err bpf-reclaim-stall/trace.err
stalls_a=$(jq -c "select(.event == \"reclaim_stall\" and .cgroup_id == $id_a)" /tmp/trace.out | wc -l)
stalls_all=$(jq -c 'select(.event == "reclaim_stall")' /tmp/trace.out | wc -l)
stalls_b=$(jq -c "select(.event == \"reclaim_stall\" and .pod_uid == \"$uid_b\")" /tmp/trace.out | wc -l)
others=$(jq -r "select(.event == \"reclaim_stall\" and .cgroup_id != $id_a) | \"\\(.cgroup) \\(.comm) \\(.kind)\"" /tmp/trace.out | sort | uniq -c | head -n 5)
sum_a=$(jq -c "select(.event == \"cgroup_summary\" and .cgroup_id == $id_a)" /tmp/trace.out)
[ -n "$sum_a" ] || { vm_dump /tmp/trace.out; vm_fail "no BPF aggregates for pod A's container (id $id_a)"; }
memcg_count=$(echo "$sum_a" | jq .memcg.count)
memcg_reclaimed=$(echo "$sum_a" | jq .memcg.nr_reclaimed)
stall_usec=$(echo "$sum_a" | jq .reclaim_stall_usec)
sum_b=$(jq -c "select(.event == \"cgroup_summary\" and .pod_uid == \"$uid_b\")" /tmp/trace.out | wc -l)
ev_pod=$(jq -r "select(.event == \"reclaim_stall\" and .cgroup_id == $id_a) | \"\\(.pod_uid) \\(.qos) \\(.container_id)\"" /tmp/trace.out | sort -u)
dropped=$(jq -r 'select(.event == "end") | .dropped_events' /tmp/trace.out)

vm_result "bpf.stall_events_pod_a=$stalls_a" "bpf.stall_events_total=$stalls_all" \
	"bpf.stall_events_pod_b=$stalls_b" "bpf.dropped=$dropped"
vm_result "bpf.memcg_count=$memcg_count" "kernel.events_high=$high_a" "kernel.events_max=$max_a"
vm_result "bpf.memcg_nr_reclaimed=$memcg_reclaimed" "kernel.pgsteal=$pgsteal_a" \
	"kernel.pgscan=$pgscan_a" "kernel.pgscan_pod_b=$pgscan_b" "bpf.reclaim_stall_usec=$stall_usec"
[ -z "$others" ] || vm_log "stalls outside pod A (cgroup comm kind): $others"

vm_check "attached with tp_btf on this kernel (got $attach)" [ "$attach" = tp_btf ]
vm_check "stall events for pod A's container ($stalls_a)" [ "$stalls_a" -ge 1 ]
vm_check "stall events name pod A, burstable, its container ($ev_pod)" \
	[ "$ev_pod" = "$uid_a burstable $cid_a" ]
vm_check "no stall event for pod B ($stalls_b)" [ "$stalls_b" -eq 0 ]
vm_check "no BPF aggregates for pod B ($sum_b)" [ "$sum_b" -eq 0 ]
vm_check "every stall event is pod A's (others: $others)" [ "$stalls_all" -eq "$stalls_a" ]
vm_check "no events dropped ($dropped)" [ "$dropped" -eq 0 ]
vm_check "the hog really was over memory.high (events high $high_a)" [ "$high_a" -ge 1 ]
# One memcg reclaim per memory.high (reclaim_high) or memory.max (try_charge) event.
vm_check "BPF memcg reclaims ($memcg_count) == memory.events high+max ($((high_a + max_a)))" \
	[ "$memcg_count" -eq $((high_a + max_a)) ]
# Pages reclaimed by the hog's own reclaim = pages stolen from its cgroup (memory.stat pgsteal);
# nothing else reclaims from it here. Allow 5% for slab pages reclaim may credit.
vm_check "pgsteal > 0 (swap is there)" [ "$pgsteal_a" -gt 0 ]
vm_check "BPF nr_reclaimed ($memcg_reclaimed) matches memory.stat pgsteal ($pgsteal_a) within 5%" \
	awk -v a="$memcg_reclaimed" -v b="$pgsteal_a" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d * 20 <= b) }'
vm_check "stall time was measured ($stall_usec us)" [ "$stall_usec" -gt 0 ]
vm_pass
