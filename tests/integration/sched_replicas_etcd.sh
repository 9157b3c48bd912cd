#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Three memschedd replicas on a three-member etcd cluster (all on loopback, started here): one
# leads; a plan the leader makes reaches the followers; a follower does not plan; the leader is
# killed with SIGKILL and another replica takes over within the lease; an etcd member is killed
# and the migration still completes on the new leader; then everything (replicas and etcd) is
# killed and restarted, and the state is back.
source "$(dirname "$0")/lib.sh"
source "$SRC/tests/integration/etcd.sh"
LEASE_SEC=2

on() { BASE=${RBASE[$1]}; }
wait_leader() { # NAME SECONDS
        local deadline=$((SECONDS + $2))
        while ((SECONDS <= deadline)); do
                [[ $(leader_of "$1") == 1 ]] && return 0
                sleep 0.1
        done
        fail "replica $1 did not become leader within $2 s"
}
cleanup() {
        for n in "${!RPID[@]}"; do
                kill -KILL "${RPID[$n]}" 2>/dev/null || true
                wait "${RPID[$n]}" 2>/dev/null || true
        done
        stop_etcd
        rm -rf "$WORK"
}
trap cleanup EXIT
start_etcd "$WORK" 3

start_replica a --sustained-pressure-sec 30
wait_leader a 5
start_replica b --sustained-pressure-sec 30
start_replica c --sustained-pressure-sec 30
sleep 1
[[ $(leader_of b)$(leader_of c) == 00 ]] || fail "b or c leads while a does"
[[ $(leader_of a) == 1 ]] || fail "a lost leadership to a healthy replica"
pass "one leader of three replicas on three etcd members (memsched_leader 1 on a, 0 on b and c)"

# /readyz says who leads and how far behind the store each replica is.
# (The role read from /metrics just before: on a loaded machine a renewal can come late and the
# leader step down for a moment.)
for n in a b c; do
        for _ in $(seq 10); do
                want=follower
                [[ $(leader_of $n) == 1 ]] && want=leader
                code=$(curl -s -o "$WORK/readyz" -w '%{http_code}' --max-time 5 "${RBASE[$n]}/readyz" || true)
                [[ $code == 200 ]] && grep -q "^ready: $want, lag [0-9.]* s$" "$WORK/readyz" && break
                sleep 0.2
        done
        [[ $code == 200 ]] || fail "replica $n not ready: $code $(cat "$WORK/readyz")"
        grep -q "^ready: $want, lag [0-9.]* s$" "$WORK/readyz" || fail "replica $n /readyz: $(cat "$WORK/readyz") (memsched_leader says $want)"
        curl -fsS --max-time 5 "${RBASE[$n]}/metrics" | grep -q '^memsched_store_lag_seconds ' ||
                fail "replica $n has no memsched_store_lag_seconds"
done
pass "/readyz: 200 \"ready: leader\" on a, \"ready: follower\" on b and c, with the lag; memsched_store_lag_seconds"

# Agents report through the Service to any one replica: every replica must know every node.
HOT_PODS='[{"uid":"victim-uid","name":"web-7d9f-abcde","namespace":"shop","owner_uid":"rs-web","qos":"burstable","priority":0,"request_bytes":1073741824,"limit_bytes":null,"memory":{"working_set_bytes":1073741824}}]'
on c
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
wait_node() { # REPLICA NODE JQ
        on "$1"
        for _ in $(seq 100); do
                code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 5 "$BASE/v1/nodes/$2")
                [[ $code == 200 ]] && jq -e "$3" "$WORK/body" >/dev/null && return 0
                sleep 0.1
        done
        fail "replica $1 does not know $2 as $3 within 10 s (last: $code $(cat "$WORK/body"))"
}
wait_node a target '.memory_available_bytes == 10737418240'
wait_node b target '.memory_available_bytes == 10737418240'
pass "target reported to c only: a and b hold its report too (shared through etcd)"
# Only the follower b gets the hot node's report: it does not plan, the leader does, from the
# report it learnt through etcd.
on b
post_report hot "$(node_report hot $((16 * GiB)) $((200 * MiB)) $((100 * MiB)) $((100 * MiB)) critical 45000 true "$HOT_PODS")"
on a
wait_until 10 /v1/migrations '.migrations | length == 1'
jqb '.migrations | length == 1 and .[0].state == "planned" and .[0].target_node == "target" and .[0].source_node == "hot"'
ID=$(jq -r '.migrations[0].id' "$WORK/body")
for n in b c; do
        on $n
        wait_until 10 /v1/migrations ".migrations | length == 1 and .[0].id == \"$ID\""
        jqb ".migrations | length == 1 and .[0].id == \"$ID\" and .[0].state == \"planned\""
        expect 200 GET /v1/nodes/target
        jqb ".reservation_bytes == $GiB"
done
# An older report of target (a replayed seq) sent to b must not replace the newer one anywhere.
OLD=$(node_report target $((16 * GiB)) $((1 * GiB)) $((1 * GiB)) $((1 * GiB)) none | jq -c '.seq = 1')
on b
expect 409 POST /v1/nodes/target/report "$OLD"
on a
post_report target "$(node_report target $((16 * GiB)) $((9 * GiB)) $((5 * GiB)) $((4 * GiB)) none)"
wait_node c target '.memory_available_bytes == 9663676416'
wait_node b target '.memory_available_bytes == 9663676416'
pass "hot reported to the follower b only: the leader a planned $ID from the shared report; b and c hold the reservation; a newer report of target reached every replica"

# The leader dies.
kill -KILL "${RPID[a]}"
wait "${RPID[a]}" 2>/dev/null || true
unset 'RPID[a]'
T0=$(date +%s%N)
NEW=
deadline=$((SECONDS + LEASE_SEC + 5))
while [[ -z $NEW ]] && ((SECONDS <= deadline)); do
        for n in b c; do [[ $(leader_of $n) == 1 ]] && NEW=$n; done
        sleep 0.1
done
[[ -n $NEW ]] || fail "no replica took over within $((LEASE_SEC + 5)) s"
TOOK_MS=$((($(date +%s%N) - T0) / 1000000))
# The lease, etcd's 500 ms expiry check, a third of the lease between campaign steps, and slack
# for a loaded machine.
((TOOK_MS <= (LEASE_SEC + 4) * 1000)) || fail "failover took $TOOK_MS ms with a $LEASE_SEC s lease"
[[ $(leader_of b)$(leader_of c) == 10 || $(leader_of b)$(leader_of c) == 01 ]] ||
        fail "not exactly one leader after the failover"
pass "a killed (SIGKILL): $NEW leads after $TOOK_MS ms (lease $LEASE_SEC s)"

# An etcd member dies too, the first one every replica asks. If it was etcd's raft leader, the
# other two elect another first (writes fail meanwhile, as kube-scheduler would see and retry):
# wait for that, then the write must go through the members that remain.
kill_etcd_member 0
for _ in $(seq 100); do
        etcd_healthy 1 && etcd_healthy 2 && break
        sleep 0.1
done
etcd_healthy 1 && etcd_healthy 2 || fail "etcd did not recover from losing one member of three"
on $NEW

# The replacement is steered to the target and bound on b: the migration completes once.
REPL=$(k8s_pod web-7d9f-xyz12 1Gi "" Burstable rs-web)
expect 200 POST /extender/filter "$(extender_args "$REPL" names target)"
jqb '.NodeNames == ["target"]'
expect 200 POST /extender/bind '{"PodName":"web-7d9f-xyz12","PodNamespace":"shop","PodUID":"uid-web-7d9f-xyz12","Node":"target"}'
jqb '.Error == ""'
expect 200 GET "/v1/migrations?state=bound"
jqb ".migrations | length == 1 and .[0].id == \"$ID\" and .[0].replacement_pod == \"shop/web-7d9f-xyz12\""
pass "etcd member 0 killed: replacement bound on the new leader, $ID done"

# Everything dies: replicas and etcd members; then etcd and one replica come back.
for n in "${!RPID[@]}"; do
        kill -KILL "${RPID[$n]}" 2>/dev/null || true
        wait "${RPID[$n]}" 2>/dev/null || true
        unset "RPID[$n]"
done
stop_etcd
for i in 0 1 2; do start_etcd_member $i; done
for i in 0 1 2; do wait_etcd_member $i; done
start_replica d --sustained-pressure-sec 30
on d
expect 200 GET "/v1/migrations?state=bound"
jqb ".migrations | length == 1 and .[0].id == \"$ID\" and .[0].replacement_pod == \"shop/web-7d9f-xyz12\""
wait_leader d $((LEASE_SEC + 8)) # the old leader's lease, renewed by etcd's restart, runs out
pass "after killing every replica and etcd member: $ID is back, done, and a new replica leads"

# Every etcd member stalls (SIGSTOP: connections taken, no answer): d's watches break and it is
# not ready until they have caught up again.
for i in 0 1 2; do kill -STOP "${ETCD_PIDS[$i]}"; done
ok=
for _ in $(seq 150); do
        code=$(curl -s -o "$WORK/readyz" -w '%{http_code}' --max-time 5 "${RBASE[d]}/readyz" || true)
        [[ $code == 503 ]] && grep -q '^not ready: .*broken' "$WORK/readyz" && { ok=1; break; }
        sleep 0.1
done
for i in 0 1 2; do kill -CONT "${ETCD_PIDS[$i]}"; done
[[ -n $ok ]] || fail "d stayed ready with etcd stalled: $code $(cat "$WORK/readyz")"
NOT_READY=$(cat "$WORK/readyz")
for _ in $(seq 150); do
        code=$(curl -s -o "$WORK/readyz" -w '%{http_code}' --max-time 5 "${RBASE[d]}/readyz" || true)
        [[ $code == 200 ]] && break
        sleep 0.1
done
[[ $code == 200 ]] || fail "d not ready again after etcd resumed: $code $(cat "$WORK/readyz")"
pass "etcd stalled: /readyz 503 \"${NOT_READY%$'\n'}\"; resumed: 200 \"$(cat "$WORK/readyz")\""
