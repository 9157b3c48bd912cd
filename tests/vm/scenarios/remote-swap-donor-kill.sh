#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# A donor dies mid-run and no swapped page is lost (issue 14), in ONE guest over loopback TCP:
# memschedd brokers, three memagentd donors lend memory, the consumer memagentd leases a durable
# device (every chunk on two donors) and swapons it. A Burstable container limited to 48 MiB runs
# memhog --verify over 96 MiB, swapping in and out all along; once it has allocated, donor 1's
# memagentd is SIGKILLed. Reads fail over to the other replica, memschedd withdraws the dead
# offer (its TTL) and revokes its slabs, the consumer's renewal is re-granted slabs on the other
# donors and copies the chunks there from the survivors: "two replicas again" in its log, the
# revocation in `memagent explain`. memhog must find every page intact, with no OOM kill.
# Without re-replication the log line never comes; without the second replica the reads of the
# dead donor's chunks fail and memhog's pages are lost.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

vm_check "kube_node_setup" kube_node_setup 640Mi
u=$(kube_new_uid); c=$(kube_new_container_id)
vm_check "burstable pod (request 16Mi, limit 48Mi)" kube_pod_create burstable "$u" "$c:16Mi:48Mi"
ctr=$(kube_container_path burstable "$u" "$c")

vm_check "nbd module" modprobe nbd
vm_check "loopback up" ip link set lo up
memschedd --listen 127.0.0.1:0 --state-file /tmp/memschedd.db --port-file /tmp/memschedd.port \
	--pool-offer-ttl-sec 6 >/tmp/memschedd.log 2>&1 &
vm_wait_for 20 "memschedd port" test -s /tmp/memschedd.port || { vm_dump /tmp/memschedd.log; vm_fail "memschedd did not start"; }
URL="http://127.0.0.1:$(cat /tmp/memschedd.port)"
for d in 1 2 3; do
	donor_start "$d" "$URL" 127.0.0.1 128Mi
done
donors_wait "$URL" 3 60

agent_start --node-name consumer --dry-run --bpf-enabled=false --balloon-enabled=false \
	--scheduler-url "$URL" --remote-swap-bytes 96Mi --remote-swap-lease-ttl 30s \
	--remote-swap-level none
nbd_swapon() { grep -q '^/dev/nbd' /proc/swaps; }
vm_wait_for 60 "remote swap on /dev/nbdN" nbd_swapon || { vm_dump "$AGENT_LOG"; vm_fail "no remote swap"; }
lease=$(wget -q -O - "$URL/v1/leases")
on_d1=$(echo "$lease" | grep -o '"donor": *"donor-1"' | wc -l)
vm_result "slabs_on_donor1=$on_d1"
vm_check "donor 1 holds replicas ($on_d1 slabs)" [ "$on_d1" -gt 0 ]

oom0=$(oom_kills_total)
vm_check "memhog --verify 96 MiB" kube_spawn "$ctr" /tmp/hog.log \
	memhog --size-mib 96 --rate-mib 32 --hot-pct 10 --verify --hold-s 30 --report-ms 5000 \
	--ready-file /tmp/hog.ready
hogpid=$KUBE_PID
vm_wait_for 120 "memhog allocated" test -s /tmp/hog.ready || { vm_dump /tmp/hog.log; vm_fail "memhog did not allocate"; }
used=$(awk '/^\/dev\/nbd/ { print $4 }' /proc/swaps)
vm_result "swapped_remote_kib_at_kill=$used"
# shellcheck disable=SC2154  # DONOR_1 set by donor_start
kill -KILL "$DONOR_1"
vm_log "donor-1's memagentd (pid $DONOR_1) SIGKILLed"

again() { grep -q "has two replicas again" "$AGENT_LOG"; }
vm_wait_for 120 "re-replicated onto the other donors" again || { vm_dump "$AGENT_LOG"; vm_dump /tmp/memschedd.log; vm_fail "no re-replication"; }
vm_result "copies=$(grep -c 'onto a new slab' "$AGENT_LOG")" "repaired=$(grep -c 'two replicas again' "$AGENT_LOG")"

rc=0
wait "$hogpid" || rc=$?
oomk=$(vm_key "$ctr/memory.events" oom_kill)
verify=$(grep '^memhog=verify' /tmp/hog.log)
vm_result "memhog_rc=$rc" "oom_kill=$oomk" "verify=$(echo "$verify" | tr ' ' ',')"
vm_check "memhog finished (rc $rc)" [ "$rc" = 0 ]
vm_check "no OOM kill" [ "${oomk:-0}" = 0 ] && [ "$(oom_kills_total)" = "$oom0" ]
vm_check "every page checked, none bad: $verify" \
	sh -c "echo '$verify' | grep -q 'pages=24576 bad_pages=0'"
actions=$(memagent explain --output json --last 50 | grep -o '"action": *"[a-z-]*"' | sed 's/.*"\([a-z-]*\)"$/\1/' | tac | tr '\n' ',')
vm_result "explain_actions=$actions"
vm_check "explain: the revocation recorded" sh -c "echo '$actions' | grep -q revoke"
status=$(memagent status --output json | tr -d ' \n' | grep -o '"remote_swap":{.*"donors":\[[^]]*\]')
vm_result "status=$status"
vm_check "status: no donor-1 replica left in use" sh -c "! echo '$status' | grep -q '\"donor\":\"donor-1\",[^}]*\"healthy\":[1-9]'"
agent_stop
vm_pass
