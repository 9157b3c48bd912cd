#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Guest job of bench/remote-swap.sh, on two guests (vmrun --peer --rdma). Guest a: memschedd and
# two donors (a durable lease puts a replica on each). Guest b: the same job (bench-pagein, SIZE_MIB
# in a container limited to LIMIT) four times: all in local memory (no limit), on the remote swap
# over RDMA, on the remote swap over TCP to the same donors (a drops rxe0 and restarts them, b
# drops its own: where no RDMA device exists, TCP), and on zram swap. Figures come out as result
# lines PHASE.KEY=VALUE; b tells a what to do over busybox nc on port 9000.
set -u
. "$VM_LIB/vmtest.sh"

: "${ROLE:?run with vmrun --peer (ROLE=a|b)}"
: "${SIZE_MIB:=96}"
: "${LIMIT:=32Mi}"
: "${LEASE:=128Mi}"
URL="http://192.0.2.1:7400"
CTL_PORT=9000
: "${MTU:=}"
# MTU: the link's on both guests, before anything connects, to compare with vmrun's 9000 (RoCE's
# path MTU follows it: 1024 bytes at Ethernet's 1500, 4096 from about 4200 on).
if [ -n "$MTU" ]; then
	ip link set eth0 mtu "$MTU" || vm_fail "mtu $MTU on eth0"
fi
vm_result "$ROLE.mtu=$(cat /sys/class/net/eth0/mtu)" "$ROLE.rxe_active_mtu=$(tr ' ' _ </sys/class/infiniband/rxe0/ports/1/active_mtu 2>/dev/null)"

if [ "$ROLE" = a ]; then
	memschedd --listen "$VMRUN_ADDRESS:7400" --insecure --state-file /tmp/memschedd.db \
		--pool-offer-ttl-sec 10 >/tmp/memschedd.log 2>&1 &
	. "$VM_LIB/agent.sh"
	donors_start() {
		donor_start 1 "$URL" "$VMRUN_ADDRESS" "$LEASE"
		donor_start 2 "$URL" "$VMRUN_ADDRESS" "$LEASE"
	}
	donors_start
	while :; do
		msg=$(timeout 1200 nc -l -p "$CTL_PORT" 2>/dev/null) || break
		vm_log "control: '$msg'"
		case $msg in
		tcp)
			# Withdraw cleanly, lose the RDMA device, offer again: TCP only now.
			# shellcheck disable=SC2153,SC2154  # DONOR_1, DONOR_2: set by donor_start
			kill -TERM "$DONOR_1" "$DONOR_2"
			# shellcheck disable=SC2153
			wait "$DONOR_1" "$DONOR_2"
			rdma link delete rxe0 || vm_log "rdma link delete rxe0 failed"
			donors_start
			;;
		done*) break ;;
		esac
	done
	vm_result "b_said=$msg"
	[ "$msg" = "done pass" ] || vm_fail "guest b: $msg"
	vm_pass
fi

. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"
outcome=fail
tell_a() { echo "$1" | nc -w 5 "$VMRUN_PEER_ADDRESS" "$CTL_PORT" >/dev/null 2>&1; }
trap 'tell_a "done $outcome"' EXIT
vm_check "kube_node_setup" kube_node_setup "$((VMRUN_MEM_MIB - 32))Mi"
vm_check "nbd module" modprobe nbd

# job PHASE LIMIT: bench-pagein in a fresh Burstable pod limited to LIMIT; its figures as results.
job() {
	u=$(kube_new_uid)
	c=$(kube_new_container_id)
	kube_pod_create burstable "$u" "$c:16Mi:$2" || vm_fail "$1: pod"
	ctr=$(kube_container_path burstable "$u" "$c")
	in0=$(vm_key /proc/vmstat pswpin)
	kube_spawn "$ctr" "/tmp/$1.log" bench-pagein --size-mib "$SIZE_MIB" || vm_fail "$1: spawn"
	wait "$KUBE_PID" || { cat "/tmp/$1.log" >&2; vm_fail "$1: bench-pagein failed"; }
	line=$(grep '^pagein=result' "/tmp/$1.log") || vm_fail "$1: no result"
	res=""
	for kv in $line; do
		case $kv in pagein=*) ;; *) res="$res $1.$kv" ;; esac
	done
	# shellcheck disable=SC2086
	vm_result $res "$1.pswpin=$(($(vm_key /proc/vmstat pswpin) - in0))" \
		"$1.oom_kill=$(vm_key "$ctr/memory.events" oom_kill)"
}
# donor_figures PHASE: memagent status's per-donor transfers (ops, errors, latency p50/p99) as
# results, beside the job's page-in figures: what the wire costs and what the rest of the path.
donor_figures() {
	memagent status --output json >"/tmp/$1-status.json" 2>&1 ||
		vm_log "memagent status failed: $(head -c 300 "/tmp/$1-status.json")"
	kvs=$(jq -r '.remote_swap.donors[]? |
		"\(.donor).ops=\(.ops) \(.donor).errors=\(.errors) \(.donor).p50_us=\(.latency_p50_usec) \(.donor).p99_us=\(.latency_p99_usec)"' "/tmp/$1-status.json")
	[ -n "$kvs" ] || vm_log "no per-donor figures in: $(jq -c .remote_swap "/tmp/$1-status.json" 2>&1 | head -c 600)"
	for kv in $kvs; do
		vm_result "$1.$kv"
	done
}
remote_on() {
	agent_start --node-name consumer --dry-run --bpf-enabled=false --scheduler-url "$URL" \
		--remote-swap-bytes "$LEASE" --remote-swap-priority 100 --remote-swap-lease-ttl 30s \
		--remote-swap-level none
	vm_wait_for 180 "remote swap on /dev/nbdN" sh -c "grep -q '^/dev/nbd' /proc/swaps" ||
		{ vm_dump "$AGENT_LOG"; vm_fail "no remote swap"; }
}
donors_wait "$URL" 2 120

job local 0

tx0=$(cat /sys/class/infiniband/rxe0/ports/1/hw_counters/sent_pkts)
remote_on
job rdma "$LIMIT"
donor_figures rdma
agent_stop
vm_result "rdma.rxe_sent_pkts=$(($(cat /sys/class/infiniband/rxe0/ports/1/hw_counters/sent_pkts) - tx0))"
grep -q 'reaching RDMA donors over TCP' "$AGENT_LOG" && vm_fail "rdma phase fell back to TCP"

vm_check "asked a for TCP donors" tell_a tcp
rdma link delete rxe0 || vm_fail "rdma link delete rxe0"
sleep 5 # a's donors withdraw (SIGTERM) and offer again
vm_wait_for 120 "two TCP donors" sh -c "wget -q -O - '$URL/v1/pools' | grep -q '\"donor_count\":2' && ! wget -q -O - '$URL/v1/pools' | grep -q '\"kind\":\"rdma\"'" ||
	vm_fail "no TCP donors"
AGENT_LOG=/tmp/memagentd-tcp.log
remote_on
job tcp "$LIMIT"
donor_figures tcp
agent_stop

# zram last, with the remote swap off: each phase has its one kind of swap.
modprobe zram num_devices=1 || vm_fail "modprobe zram"
echo "${LEASE%i}" >/sys/block/zram0/disksize && mkswap /dev/zram0 >/dev/null && swapon /dev/zram0 ||
	vm_fail "zram swap"
job zram "$LIMIT"
swapoff /dev/zram0

outcome=pass
vm_pass
