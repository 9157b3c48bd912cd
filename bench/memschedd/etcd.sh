#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memschedd replicated on etcd vs the single SQLite replica, in the same run, on 127.0.0.1 only
# and bounded in time: three etcd members (tests/integration/etcd.sh), three replicas (a leads)
# and one SQLite memschedd, 100 reporting nodes. Prints:
#   - node reports: 100 agents every 2 s spread over the replicas (etcd writes/s that costs,
#     every replica knowing every node), then wrk as fast as it goes on a follower;
#   - extender filter p50/p99 on a follower vs on SQLite; then on the follower again while one
#     etcd member is stopped (SIGSTOP: it accepts connections and never answers);
#   - durable writes (POST /v1/leases) per second on a follower vs on SQLite;
#   - failover: the leader SIGKILLed -> another replica leads -> it plans a migration for a hot
#     node reported to a follower just after the kill.
#   bench/memschedd/etcd.sh BUILD_DIR [DURATION_SEC=10] [CONNECTIONS=4]
set -euo pipefail
BUILD=${1:?usage: etcd.sh BUILD_DIR [DURATION_SEC] [CONNECTIONS]}
DUR=${2:-10}
CONN=${3:-4}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
MEMSCHEDD=$BUILD/scheduler/memschedd
for t in wrk curl jq python3 etcd; do command -v $t >/dev/null || { echo "$t is required" >&2; exit 2; }; done
WORK=$(mktemp -d /tmp/memsched-etcd-bench.XXXXXX)
source "$SRC/tests/integration/etcd.sh"
declare -A RPID RBASE
cleanup() {
        for n in "${!RPID[@]}"; do kill -KILL "${RPID[$n]}" 2>/dev/null || true; done
        for i in "${!ETCD_PIDS[@]}"; do [[ -n ${ETCD_PIDS[$i]} ]] && kill -CONT "${ETCD_PIDS[$i]}" 2>/dev/null || true; done
        stop_etcd
        wait 2>/dev/null || true
        rm -rf "$WORK"
}
trap cleanup EXIT
N=100
GiB=1073741824
LEASE_SEC=2

start() { # NAME ARGS...
        local n=$1
        shift
        "$MEMSCHEDD" --listen 127.0.0.1:0 --port-file "$WORK/$n.port" --threads 2 \
                --log-level warning --sustained-pressure-sec 30 "$@" >>"$WORK/$n.log" 2>&1 &
        RPID[$n]=$!
        for _ in $(seq 100); do [[ -s $WORK/$n.port ]] && break; sleep 0.05; done
        [[ -s $WORK/$n.port ]] || { echo "memschedd $n did not start: $(tail -5 "$WORK/$n.log")" >&2; exit 1; }
        RBASE[$n]="http://127.0.0.1:$(cat "$WORK/$n.port")"
}
leader_of() { curl -fsS --max-time 2 "${RBASE[$1]}/metrics" 2>/dev/null | awk '$1 == "memsched_leader" { print $2 }'; }
etcd_revision() { # the store's revision, from any member that answers
        local i
        for i in 1 2 0; do
                curl -fsS --max-time 1 -X POST "${ETCD_CLIENTS[$i]}/v3/kv/range" -d '{"key":"AA==","count_only":true}' 2>/dev/null |
                        jq -r '.header.revision' && return 0
        done
}
now_ms() { echo $(($(date +%s%N) / 1000000)); }
wrk_run() { # LUA URL [BODY]
        BENCH_BODY=${3:-} BENCH_NODES=$N wrk -t1 -c"$CONN" -d"${DUR}s" --latency -s "$1" "$2" | grep '^RESULT' | sed 's/^RESULT //'
}
field() { tr ' ' '\n' | awk -F= -v k="$1" '$1 == k { print $2 }'; }

start_etcd "$WORK" 3
start a --state-file "$WORK/unused.db" --etcd-endpoints "$ETCD_CLIENT" --leader-lease-sec $LEASE_SEC
for _ in $(seq 100); do [[ $(leader_of a) == 1 ]] && break; sleep 0.1; done
start b --state-file "$WORK/unused.db" --etcd-endpoints "$ETCD_CLIENT" --leader-lease-sec $LEASE_SEC
start c --state-file "$WORK/unused.db" --etcd-endpoints "$ETCD_CLIENT" --leader-lease-sec $LEASE_SEC
start s --state-file "$WORK/state.db"
echo "etcd: 3 members on loopback; replicas a (leader), b, c (lease $LEASE_SEC s); s: SQLite, one replica"
echo "host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); wrk: $CONN connections, ${DUR} s per run"

# 100 nodes, reported once to a only (the others learn them through etcd) and to s.
"$SRC/bench/extender/gen-payloads.sh" "$N" "$WORK/pa" "${RBASE[a]}"
"$SRC/bench/extender/gen-payloads.sh" "$N" "$WORK/ps" "${RBASE[s]}"
curl -s -K "$WORK/pa/reports.curl"
curl -s -K "$WORK/ps/reports.curl"
t0=$(now_ms)
for _ in $(seq 100); do
        [[ $(curl -fsS "${RBASE[b]}/v1/nodes" | jq .node_count) == "$N" ]] && break
        sleep 0.05
done
echo "reports: $N nodes reported to a reached follower b within $(($(now_ms) - t0)) ms"

# Heartbeats as agents send them: every node every 2 s, each to one replica.
r0=$(etcd_revision)
t0=$(now_ms)
out=$(python3 "$HERE/etcd-reporters.py" "$N" 2 $((DUR * 2)) "${RBASE[a]}" "${RBASE[b]}" "${RBASE[c]}")
t1=$(now_ms)
sleep 0.5
r1=$(etcd_revision)
acc=$(echo "$out" | field accepted)
secs=$(echo "scale=2; ($t1 - $t0) / 1000" | bc)
printf 'reports: %s agents every 2 s for %s s over 3 replicas: %s (%.1f reports/s), etcd writes %d (%.1f/s, %.2f per report)\n' \
        "$N" "$secs" "$out" "$(echo "$acc / $secs" | bc -l)" $((r1 - r0)) "$(echo "($r1 - $r0) / $secs" | bc -l)" \
        "$(echo "($r1 - $r0) / $acc" | bc -l)"
for n in a b c; do
        curl -fsS "${RBASE[$n]}/v1/nodes" | jq -r --arg n "$n" '"  replica \($n): \(.node_count) nodes, \(.stale_count) stale, oldest report \([.nodes[].last_report_age_ms] | max) ms"'
done

# As fast as wrk sends them, to follower b: coalescing bounds the etcd writes.
r0=$(etcd_revision)
res=$(wrk_run "$HERE/report.lua" "${RBASE[b]}/v1/nodes")
sleep 0.5
r1=$(etcd_revision)
printf 'reports: wrk on follower b: %s; etcd writes %.1f/s (the rest coalesced per node)\n' "$res" \
        "$(echo "($r1 - $r0) / $DUR" | bc -l)"
res=$(wrk_run "$HERE/report.lua" "${RBASE[s]}/v1/nodes")
echo "reports: wrk on SQLite s:     $res"

# The extender's filter reads the model only.
printf '%-32s %s\n' "filter on follower b (etcd):" "$(wrk_run "$SRC/bench/extender/post.lua" "${RBASE[b]}/extender/filter" "$WORK/pa/args.json")"
printf '%-32s %s\n' "filter on SQLite s:" "$(wrk_run "$SRC/bench/extender/post.lua" "${RBASE[s]}/extender/filter" "$WORK/ps/args.json")"

# Durable writes: leases on a pool of two donors.
offer='{"bytes":8796093022208,"slab_bytes":1073741824,"transports":[{"kind":"tcp","address":"127.0.0.1","port":7001}]}'
for n in b s; do
        for d in d1 d2; do curl -fsS -o /dev/null -X PUT "${RBASE[$n]}/v1/pools/$d" -d "$offer"; done
done
printf '%-32s %s\n' "leases on follower b (etcd):" "$(wrk_run "$HERE/etcd-lease.lua" "${RBASE[b]}/v1/leases")"
printf '%-32s %s\n' "leases on SQLite s:" "$(wrk_run "$HERE/etcd-lease.lua" "${RBASE[s]}/v1/leases")"

# A stalled etcd member (the first endpoint every replica asks): filter does not wait on it, while
# heartbeats keep the replicas writing to etcd.
kill -STOP "${ETCD_PIDS[0]}"
printf '%-32s %s\n' "filter on b, etcd m0 stopped:" "$(wrk_run "$SRC/bench/extender/post.lua" "${RBASE[b]}/extender/filter" "$WORK/pa/args.json")"
# The same with heartbeats arriving meanwhile: a report holds its HTTP thread while the lease
# broker (pools-service.c) reads etcd, so on a 2-thread replica filters can queue behind it.
python3 "$HERE/etcd-reporters.py" "$N" 2 "$DUR" "${RBASE[a]}" "${RBASE[b]}" "${RBASE[c]}" >"$WORK/stalled-reports" &
rep=$!
printf '%-32s %s\n' "  ... and heartbeats coming in:" "$(wrk_run "$SRC/bench/extender/post.lua" "${RBASE[b]}/extender/filter" "$WORK/pa/args.json")"
wait $rep || true
echo "  heartbeats meanwhile: $(cat "$WORK/stalled-reports"); b /readyz: $(curl -s "${RBASE[b]}/readyz")"
kill -CONT "${ETCD_PIDS[0]}"
sleep 1

# Failover: the leader dies; a hot node keeps reporting (every 500 ms, as an agent under pressure
# would) to a survivor; the new leader plans its migration from the first report after it leads.
L=
for n in a b c; do [[ $(leader_of $n) == 1 ]] && L=$n; done
[[ -n $L ]] || { echo "no leader before the failover" >&2; exit 1; }
hot='{"node_name":"hot","seq":%d,"node":{"memory_total_bytes":17179869184,"memory_available_bytes":209715200,"pressure":{"level":"critical","duration_ms":45000,"relief_exhausted":true},"numa":[{"id":0,"total_bytes":8589934592,"free_bytes":104857600},{"id":1,"total_bytes":8589934592,"free_bytes":104857600}]},"pods":[{"uid":"victim","name":"web-1","namespace":"shop","owner_uid":"rs-web","qos":"burstable","request_bytes":1073741824,"memory":{"working_set_bytes":1073741824}}]}'
survivors=()
for n in a b c; do [[ $n != "$L" ]] && survivors+=("$n"); done
t0=$(now_ms)
kill -KILL "${RPID[$L]}"
wait "${RPID[$L]}" 2>/dev/null || true
unset "RPID[$L]"
NEW= t_lead= t_plan= next_report=0
while (($(now_ms) - t0 < 20000)); do
        if (($(now_ms) >= next_report)); then
                # shellcheck disable=SC2059
                curl -sS -o /dev/null --max-time 2 -X POST "${RBASE[${survivors[1]}]}/v1/nodes/hot/report" \
                        -d "$(printf "$hot" "$(date +%s%N)")" || true
                next_report=$(($(now_ms) + 500))
        fi
        if [[ -z $NEW ]]; then
                for n in "${survivors[@]}"; do [[ $(leader_of "$n") == 1 ]] && NEW=$n; done
                [[ -n $NEW ]] && t_lead=$(($(now_ms) - t0))
        fi
        if [[ -n $NEW ]] && curl -fsS "${RBASE[$NEW]}/v1/migrations" | jq -e '[.migrations[] | select(.source_node == "hot")] | length > 0' >/dev/null; then
                t_plan=$(($(now_ms) - t0))
                break
        fi
        sleep 0.05
done
echo "failover: leader $L SIGKILLed; $NEW leads after ${t_lead:-?} ms and has planned the hot node's migration after ${t_plan:-?} ms (lease $LEASE_SEC s)"
