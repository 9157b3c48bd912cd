#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Remote swap over RDMA between two guests (issue 14), Soft-RoCE (rxe0 on eth0) on both
# (vmrun --peer --rdma):
#   guest a  memschedd and three memagentd donors (--pool-donate) that serve their locked memory
#            over RDMA (rdma_cm, one-sided READ/WRITE) beside TCP;
#   guest b  the consumer memagentd (--remote-swap-bytes, --remote-swap-level none: leased while a
#            container may swap, whatever the node's level): a durable lease, every chunk on both
#            donors, as /dev/nbdN swap. A Burstable container limited to 64 MiB runs memhog
#            --verify over more memory than guest b has: it must finish with every page
#            checksummed and no OOM kill, the swap traffic must have gone over RDMA (rxe0's packet
#            counters, the donors' log of RDMA connections, no fallback to TCP in the consumer's
#            log), and a donor killed mid-run (b asks a) must cost no page: the consumer copies
#            each chunk that lost its replica from the survivor onto a NEW slab (on the third
#            donor, or the survivor's other), and memagent status shows it healthy again.
# The guests talk over their link only: b asks a to kill the donor and says when it is done
# (busybox nc on port 9000); a keeps its donors until then.
set -u
. "$VM_LIB/vmtest.sh"

: "${ROLE:?run with vmrun --peer (ROLE=a|b)}"
: "${HOG_MIB:=256}"
: "${LEASE:=224Mi}"
SCHED_PORT=7400
CTL_PORT=9000
URL="http://192.0.2.1:$SCHED_PORT"

rxe_counter() { cat "/sys/class/infiniband/rxe0/ports/1/hw_counters/$1" 2>/dev/null || echo 0; }

if [ "$ROLE" = a ]; then
	vm_check "rxe0 active" grep -q ACTIVE /sys/class/infiniband/rxe0/ports/1/state
	memschedd --listen "$VMRUN_ADDRESS:$SCHED_PORT" --insecure --state-file /tmp/memschedd.db \
		--pool-offer-ttl-sec 10 >/tmp/memschedd.log 2>&1 &
	# Three donors of LEASE each: after donor-2 dies, donor-1 and donor-3 can hold both replicas
	# of every chunk again.
	. "$VM_LIB/agent.sh"
	for d in 1 2 3; do
		donor_start "$d" "$URL" "$VMRUN_ADDRESS" "$LEASE"
	done
	donors_wait "$URL" 3 60
	for d in 1 2 3; do
		vm_check "donor-$d serves RDMA" grep -q "Serving slabs over RDMA" "/tmp/donor-$d.log"
	done
	vm_check "the broker hands out RDMA transports" sh -c "wget -q -O - '$URL/v1/pools' | grep -q '\"kind\":\"rdma\"'"
	rx0=$(rxe_counter rcvd_pkts)
	# b's requests, until it is done (or the scenario's limit).
	killed=0
	while :; do
		msg=$(timeout 600 nc -l -p "$CTL_PORT" 2>/dev/null) || { vm_log "control: listener ended"; break; }
		vm_log "control: '$msg'"
		case $msg in
		kill-donor-2)
			# shellcheck disable=SC2154  # DONOR_2 set by donor_start
			kill -KILL "$DONOR_2" && killed=1
			vm_result "donor_2_killed_at_ms=$(vm_now_ms)"
			;;
		done*) break ;;
		esac
	done
	conns1=$(grep -c "over RDMA to" /tmp/donor-1.log)
	conns2=$(grep -c "over RDMA to" /tmp/donor-2.log)
	conns3=$(grep -c "over RDMA to" /tmp/donor-3.log)
	vm_result "rdma_connections_donor_1=$conns1" "rdma_connections_donor_2=$conns2" \
		"rdma_connections_donor_3=$conns3" \
		"rxe_rcvd_pkts=$(($(rxe_counter rcvd_pkts) - rx0))" "b_said=$(echo "$msg" | tr ' ' ',')"
	tail -n 30 /tmp/donor-1.log
	tail -n 30 /tmp/donor-2.log
	tail -n 30 /tmp/donor-3.log
	vm_check "b finished well ($msg)" [ "$msg" = "done pass" ]
	vm_check "both donors served the consumer over RDMA" [ "$conns1" -ge 1 ] && [ "$conns2" -ge 1 ]
	vm_check "donor-2 was killed mid-run" [ "$killed" = 1 ]
	vm_pass
fi

# ---- guest b: the consumer
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"
outcome=fail
# a keeps its donors until told: tell it on every way out.
tell_a() { echo "$1" | nc -w 5 "$VMRUN_PEER_ADDRESS" "$CTL_PORT" >/dev/null 2>&1; }
trap '[ "$outcome" = pass ] || tail -n 40 "$AGENT_LOG" >&2; tell_a "done $outcome"' EXIT

vm_check "rxe0 active" grep -q ACTIVE /sys/class/infiniband/rxe0/ports/1/state
vm_check "kube_node_setup" kube_node_setup 224Mi
u=$(kube_new_uid); c=$(kube_new_container_id)
vm_check "burstable pod (request 32Mi, limit 64Mi)" kube_pod_create burstable "$u" "$c:32Mi:64Mi"
ctr=$(kube_container_path burstable "$u" "$c")
mem_total_kib=$(vm_key /proc/meminfo MemTotal:)
vm_result "guest_mem_kib=$mem_total_kib" "hog_mib=$HOG_MIB" "limit_bytes=$(cat "$ctr/memory.max")"
vm_check "the working set exceeds what this guest holds" [ $((HOG_MIB * 1024)) -gt "$mem_total_kib" ]
vm_check "nbd module" modprobe nbd
# Each swap read is a round trip to a donor: read ahead 32 pages instead of 8, as a node swapping
# over the network would be tuned (the verify pass reads in address order).
vm_check "swap readahead of 32 pages" sh -c 'echo 5 >/proc/sys/vm/page-cluster'
donors_wait "$URL" 3 120

agent_start --node-name consumer --dry-run --bpf-enabled=false --scheduler-url "$URL" \
	--remote-swap-bytes "$LEASE" --remote-swap-priority 100 --remote-swap-lease-ttl 30s \
	--remote-swap-level none
nbd_swapon() { grep -q '^/dev/nbd' /proc/swaps; }
vm_wait_for 120 "remote swap on /dev/nbdN" nbd_swapon || { vm_dump "$AGENT_LOG"; vm_fail "no remote swap"; }
vm_result "swaps=$(grep nbd /proc/swaps | tr -s ' \t' ',')"

oom0=$(awk '$1 == "oom_kill" { print $2 }' /proc/vmstat)
pswpout0=$(vm_key /proc/vmstat pswpout)
tx0=$(rxe_counter sent_pkts)
rx0=$(rxe_counter rcvd_pkts)
vm_check "memhog --verify $HOG_MIB MiB" kube_spawn "$ctr" /tmp/hog.log \
	memhog --size-mib "$HOG_MIB" --rate-mib 16 --hot-pct 10 --verify --hold-s 3 --report-ms 5000
hogpid=$KUBE_PID
# Progress on the console: a slow run under TCG is told from a stuck one.
(
	while kill -0 "$hogpid" 2>/dev/null; do
		sleep 15
		vm_log "progress: pswpout +$(($(vm_key /proc/vmstat pswpout) - pswpout0)) pswpin $(vm_key /proc/vmstat pswpin) rxe sent +$(($(rxe_counter sent_pkts) - tx0)) rcvd +$(($(rxe_counter rcvd_pkts) - rx0)); $(grep '^memhog=' /tmp/hog.log | tail -n 1 | cut -c1-120)"
	done
) &

# Mid-run, once 32 MiB went out to the donors: a kills donor-2.
swapped_32m() { [ $(($(vm_key /proc/vmstat pswpout) - pswpout0)) -ge 8192 ]; }
if vm_wait_for 300 "32 MiB swapped out" swapped_32m; then
	vm_check "asked a to kill donor-2" tell_a kill-donor-2
	vm_result "donor_kill_asked_at_ms=$(vm_now_ms)"
fi
rc=0
wait "$hogpid" || rc=$?
oomk=$(vm_key "$ctr/memory.events" oom_kill)
verify=$(grep '^memhog=verify' /tmp/hog.log)
swapped_out=$(($(vm_key /proc/vmstat pswpout) - pswpout0))
swapped_in=$(vm_key /proc/vmstat pswpin)
tx=$(($(rxe_counter sent_pkts) - tx0))
rx=$(($(rxe_counter rcvd_pkts) - rx0))
vm_result "memhog_rc=$rc" "oom_kill=$oomk" "verify=$(echo "$verify" | tr ' ' ',')" \
	"pswpout_pages=$swapped_out" "pswpin_pages=$swapped_in" "rxe_sent_pkts=$tx" "rxe_rcvd_pkts=$rx" \
	"replica_failures=$(grep -c 'Replica .* failed\|replica is lost' "$AGENT_LOG")"

vm_check "memhog finished (rc $rc)" [ "$rc" = 0 ]
vm_check "no OOM kill" [ "${oomk:-0}" = 0 ] && [ "$(awk '$1 == "oom_kill" { print $2 }' /proc/vmstat)" = "$oom0" ]
vm_check "every page checked, none bad: $verify" \
	sh -c "echo '$verify' | grep -q 'pages=$((HOG_MIB * 256)) bad_pages=0'"
vm_check "the container's pages went to the remote swap ($swapped_out pages out)" [ "$swapped_out" -gt 16384 ]
# Over TCP rxe0 would carry nothing: every page written out is at least one RoCE packet out
# (two replicas, 1 KiB MTU: about eight), every page read back at least one in.
vm_check "the swap traffic went over RDMA ($tx packets out for $swapped_out pages)" [ "$tx" -ge "$swapped_out" ]
vm_check "pages came back over RDMA ($rx packets in for $swapped_in pages)" [ "$rx" -ge "$swapped_in" ]
vm_check "the consumer did not fall back to TCP" sh -c "! grep -q 'reaching RDMA donors over TCP' '$AGENT_LOG'"
vm_check "the killed donor's replicas failed over to the survivor" grep -q 'Replica .* failed\|replica is lost' "$AGENT_LOG"
# Re-replication: the renewal re-grants donor-2's slabs elsewhere and the consumer copies them from
# the survivors while the job runs on; by the end (or soon after) every chunk has two replicas
# again, none on donor-2, and memagent status says so.
vm_check "chunks copied onto new slabs" grep -q 'onto a new slab on donor-' "$AGENT_LOG"
vm_result "new_slabs_on=$(grep -o 'onto a new slab on donor-[0-9]*' "$AGENT_LOG" | sort | uniq -c | tr -s ' \n' ',')"
rereplicated() {
	memagent status --output json >/tmp/status.json 2>/dev/null &&
		[ "$(jq '[.remote_swap.donors[]? | select(.donor != "donor-2") | .syncing + .failed] | add' /tmp/status.json)" = 0 ] &&
		[ "$(jq '[.remote_swap.donors[]? | select(.donor != "donor-2") | .healthy] | add' /tmp/status.json)" -ge 28 ]
}
vm_wait_for 240 "every chunk on two live donors again" rereplicated
vm_result "status_donors=$(jq -c '[.remote_swap.donors[]? | {donor, slabs, healthy, syncing, failed, ops, errors, latency_p50_usec, latency_p99_usec}]' /tmp/status.json)"
vm_check "re-replicated: two healthy replicas of every chunk on donor-1 and donor-3" rereplicated
vm_check "the copies went through" grep -q 'has two replicas again' "$AGENT_LOG"

# Drain before release: swapoff reads every page back (from the surviving donor).
agent_stop
vm_check "the remote swap is off" sh -c '! grep -q "^/dev/nbd" /proc/swaps'
vm_check "drained, then released" grep -q "Released lease" "$AGENT_LOG"
outcome=pass
vm_pass
