#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Issue 16's fault test: three etcd members and three memschedd replicas on loopback, with the
# TEST Kubernetes API server (kube-test-apiserver, not a live cluster). A client loop
# (sched_failover_etcd_client.py) filters and binds pods and creates memory leases against ALL
# replicas while:
#   1. the leader is killed with SIGKILL: a new leader is elected, the survivors keep answering
#      the extender (every non-2xx is printed), every acknowledged lease is there on both
#      survivors, no pod is bound twice and no planned migration evicts its pod twice;
#   2. one etcd member is killed too: still no acknowledged write lost;
#   3. everything (replicas, etcd) is killed and restarted: the leases and plans are back.
set -euo pipefail
MEMSCHEDD=${1:?usage: $0 MEMSCHEDD KUBE_TEST_APISERVER SOURCE_DIR}
KT_BIN=${2:?}
SRC_DIR=${3:?}
source "$SRC_DIR/tests/integration/lib.sh" "$MEMSCHEDD" "$SRC_DIR"
source "$SRC/tests/integration/etcd.sh"
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "SKIP: $PY not installed (Debian: python3)"; exit 77; }
CLIENT_PY=$SRC/tests/integration/sched_failover_etcd_client.py
LEASE_SEC=2
VICTIMS=4
CLIENT_PODS=600

KT_DIR=$WORK/kt
mkdir -p "$KT_DIR/rec" "$WORK/loop"
. "$SRC/tests/kube-apiserver/kube-test-lib.sh"

LOOP_PID=
cleanup() {
        [[ -n $LOOP_PID ]] && kill "$LOOP_PID" 2>/dev/null || true
        for n in "${!RPID[@]}"; do
                kill -KILL "${RPID[$n]}" 2>/dev/null || true
                wait "${RPID[$n]}" 2>/dev/null || true
        done
        stop_etcd
        kube_test_stop KILL
        rm -rf "$WORK"
}
trap cleanup EXIT

# The API server's pods: victim vI runs on hotI; the client loop's pods are unbound.
"$PY" "$CLIENT_PY" pods "$VICTIMS" "$CLIENT_PODS" >"$KT_DIR/pods.json"
echo "token-1" >"$KT_DIR/token"
kube_test_certs || fail "openssl could not make the certificates"
kube_test_start || fail "kube-test-apiserver did not start: $(cat "$KT_DIR/apiserver.log")"
# The nodes the API knows: memschedd places and migrates only onto these.
for n in big0 big1 $(seq -f 'hot%g' 0 $((VICTIMS - 1))); do
        kcontrol POST /control/nodes "$(kube_test_node "$n")" || fail "control/nodes $n"
done
kube_test_kubeconfig "$WORK/kubeconfig" sched kt/token
start_etcd "$WORK" 3

on() { BASE=${RBASE[$1]}; }
leaders() { # NAME... -> the names that lead
        local n out=
        for n in "$@"; do [[ $(leader_of "$n" 2>/dev/null) == 1 ]] && out+="$n "; done
        echo "$out"
}
wait_leader_among() { # SECONDS NAME...
        local deadline=$((SECONDS + $1)) l
        shift
        while ((SECONDS <= deadline)); do
                l=$(leaders "$@")
                [[ $l =~ ^[a-z]\ $ ]] && { echo "${l% }"; return 0; }
                sleep 0.1
        done
        fail "no single leader among $* within the time (leaders: '$(leaders "$@")')"
}
start_loop() { # PREFIX NAME...
        local p=$1 urls=() n
        shift
        for n in "$@"; do urls+=("${RBASE[$n]}"); done
        rm -f "$WORK/loop/stop"
        "$PY" "$CLIENT_PY" loop "$WORK/loop" "$p" "${urls[@]}" &
        LOOP_PID=$!
}
stop_loop() { # PREFIX
        touch "$WORK/loop/stop"
        wait "$LOOP_PID" || fail "the client loop failed"
        LOOP_PID=
        [[ -s $WORK/loop/$1.json ]] || fail "the client loop wrote no result"
        jq -r '"client loop \(input_filename | split("/") | last): \(.iterations) iterations, \(.binds | length) binds and \(.leases | length) leases acknowledged; answers per replica: \(.counts | tojson)"' "$WORK/loop/$1.json"
        # Every answer that was not 2xx, by replica, operation and code, with the first text.
        jq -r '.failures | group_by([.replica, .op, .code])[] | "  not 2xx: \(length) x \(.[0].op) on \(.[0].replica): \(.[0].code) \(.[0].answer)"' "$WORK/loop/$1.json"
}
check_leases() { # NAME...
        local urls=() n
        for n in "$@"; do urls+=("${RBASE[$n]}"); done
        "$PY" "$CLIENT_PY" check "$WORK/loop" "${urls[@]}" || fail "an acknowledged lease is missing"
}
# Every pod bound at most once, every acknowledged bind exactly once; every victim evicted at
# most once.
check_once() {
        local log=$KT_DIR/rec/requests.log twice
        twice=$(grep -E '^POST /api/v1/namespaces/shop/pods/[^/]+/binding 201$' "$log" | sort | uniq -d | head -5)
        [[ -z $twice ]] || fail "pods bound twice: $twice"
        for f in "$WORK"/loop/*.json; do
                for p in $(jq -r '.binds | keys[]' "$f"); do
                        grep -qx "POST /api/v1/namespaces/shop/pods/$p/binding 201" "$log" ||
                                fail "bind of $p acknowledged but no Binding created"
                done
        done
        twice=$(grep -E '^POST /api/v1/namespaces/shop/pods/v[0-9]+/eviction 201$' "$log" | sort | uniq -d | head -5)
        [[ -z $twice ]] || fail "a planned migration evicted its pod twice: $twice"
}
# The plans as the survivors see them: the same ids, one plan per victim.
check_plans() { # NAME...
        local n first=
        for n in "$@"; do
                on "$n"
                expect 200 GET /v1/migrations
                jqb "[.migrations[].pod.uid] | (length == (unique | length)) and length == $VICTIMS"
                ids=$(jq -c '[.migrations[].id] | sort' "$WORK/body")
                [[ -z $first || $ids == "$first" ]] || fail "replica $n has plans $ids, another $first"
                first=$ids
        done
}

start_replica a --kubeconfig "$WORK/kubeconfig" --sustained-pressure-sec 30 \
        --max-concurrent-migrations 10
L=$(wait_leader_among 5 a)
start_replica b --kubeconfig "$WORK/kubeconfig" --sustained-pressure-sec 30 \
        --max-concurrent-migrations 10
start_replica c --kubeconfig "$WORK/kubeconfig" --sustained-pressure-sec 30 \
        --max-concurrent-migrations 10
pass "three replicas on three etcd members with the test API server; a leads ($(date +%T))"

# Nodes report to any replica (the Service spreads them): two roomy nodes, and VICTIMS hot
# nodes under sustained pressure with no relief left, each running one movable pod. The first
# two victims' evictions are refused once (PodDisruptionBudget, retry in 2 s) so that the
# leader's death falls in the middle of carrying the plans out.
for b in 0 1; do
        on $([[ $b == 0 ]] && echo b || echo c)
        post_report "big$b" "$(node_report "big$b" $((64 * GiB)) $((48 * GiB)) $((24 * GiB)) $((24 * GiB)) none)"
done
for ((v = 0; v < 2; v++)); do
        kcontrol POST /control/evict-script "{\"namespace\":\"shop\",\"name\":\"v$v\",\"answer\":\"retry-after=2\",\"times\":1,\"pdb\":\"pdb-v$v\"}"
done
names=(a b c)
for ((v = 0; v < VICTIMS; v++)); do
        on "${names[$((v % 3))]}"
        pods="[{\"uid\":\"uid-v$v\",\"name\":\"v$v\",\"namespace\":\"shop\",\"owner_uid\":\"rs-v$v\",\"qos\":\"burstable\",\"priority\":0,\"request_bytes\":1073741824,\"limit_bytes\":null,\"memory\":{\"working_set_bytes\":1073741824}}]"
        post_report "hot$v" "$(node_report "hot$v" $((16 * GiB)) $((200 * MiB)) $((100 * MiB)) $((100 * MiB)) critical 45000 true "$pods")"
done

start_loop cl a b c
sleep 2
on a
expect 200 GET /v1/migrations
jqb ".migrations | length == $VICTIMS"
# The leader dies while the plans are being carried out and the loop writes.
kill_replica a
T0=$(date +%s%N)
NEW=$(wait_leader_among $((LEASE_SEC + 6)) b c)
TOOK_MS=$((($(date +%s%N) - T0) / 1000000))
pass "leader a killed (SIGKILL) during the client loop: $NEW leads after $TOOK_MS ms (lease $LEASE_SEC s)"
sleep 4 # the new leader carries the plans on, the loop goes on against all three
stop_loop cl
# The survivors answered every filter, whatever the failover.
bad=$(jq --arg a "${RBASE[a]}" '[.failures[] | select(.replica != $a and .op == "filter")] | length' "$WORK/loop/cl.json")
[[ $bad == 0 ]] || fail "$bad filters failed on a surviving replica"
[[ $(jq '.binds | length' "$WORK/loop/cl.json") -gt 0 && $(jq '.leases | length' "$WORK/loop/cl.json") -gt 0 ]] ||
        fail "the loop got nothing acknowledged"
check_leases b c
# Wait for the new leader to have evicted every victim (the scripted 429s retry after 2 s).
evicted() { grep -cE '^POST /api/v1/namespaces/shop/pods/v[0-9]+/eviction 201$' "$KT_DIR/rec/requests.log" || true; }
for _ in $(seq 100); do
        [[ $(evicted) -ge $VICTIMS ]] && break
        sleep 0.1
done
check_once
[[ $(evicted) == "$VICTIMS" ]] || fail "$(evicted) accepted Evictions for $VICTIMS planned migrations"
check_plans b c
pass "during the failover: every filter on the survivors answered, every acknowledged lease is on b and c, no pod bound twice, each of the $VICTIMS victims evicted once"

# An etcd member dies too (the first one every replica asks); the loop goes on.
kill_etcd_member 0
start_loop cm b c
sleep 6
stop_loop cm
check_leases b c
check_once
check_plans b c
pass "etcd member 0 killed: no acknowledged write lost"

# Everything dies, then comes back: etcd, and a fresh replica.
for n in "${!RPID[@]}"; do kill_replica "$n"; done
stop_etcd
for i in 0 1 2; do start_etcd_member $i; done
for i in 0 1 2; do wait_etcd_member $i; done
start_replica d --kubeconfig "$WORK/kubeconfig" --sustained-pressure-sec 30 \
        --max-concurrent-migrations 10
check_leases d
check_plans d
wait_leader_among $((LEASE_SEC + 8)) d >/dev/null
pass "after killing every replica and etcd member: every acknowledged lease and plan is back on a new replica, which leads"
