#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Several reporters post node reports to one memschedd while kube-scheduler-shaped extender
# calls (both nodeCacheCapable modes) are served: filter results and reasons, scores, bind,
# stale and unknown nodes, placement hints, node views and metrics.
source "$(dirname "$0")/lib.sh"

start_memschedd --stale-after-sec 2 --threads 2

# name total available zone0_free zone1_free pressure
declare -A NODES=(
        [n-balanced]="$((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none"
        [n-numa]="$((16 * GiB)) $((9 * GiB)) $((8 * GiB)) $((1 * GiB)) none"
        [n-pressure]="$((16 * GiB)) $((12 * GiB)) $((6 * GiB)) $((6 * GiB)) medium"
        [n-small]="$((16 * GiB)) $((1 * GiB)) $((512 * MiB)) $((512 * MiB)) none"
)
for n in "${!NODES[@]}"; do
        # shellcheck disable=SC2086
        node_report "$n" ${NODES[$n]} >"$WORK/report-$n.json"
done
node_report n-stale $((16 * GiB)) $((15 * GiB)) $((7 * GiB)) $((7 * GiB)) none >"$WORK/report-n-stale.json"
post_report n-stale "@$WORK/report-n-stale.json"

# Three reporters, each keeping some nodes fresh; they stop on their own after 30 s at most.
reporter() {
        local fails=0
        for _ in $(seq 150); do
                [[ -e $WORK/stop ]] && break
                for n in "$@"; do
                        # Each post a later report (memschedd refuses a replayed seq); two
                        # reporters share n-numa, so one may lose the race: 409 is no failure.
                        code=$(sed "s/\"seq\":[0-9]*/\"seq\":$(date +%s%N)/" "$WORK/report-$n.json" |
                                curl -s -o /dev/null -w '%{http_code}' --max-time 5 \
                                --data-binary @- "$BASE/v1/nodes/$n/report")
                        [[ $code == 200 || $code == 409 ]] || fails=$((fails + 1))
                done
                sleep 0.2
        done
        echo "$fails" >"$WORK/reporter-$BASHPID.fails"
}
reporter n-balanced n-numa &
R1=$!
reporter n-pressure &
R2=$!
reporter n-small n-numa &
R3=$!
stop_reporters() {
        touch "$WORK/stop"
        wait $R1 $R2 $R3 || true
}

# Until every reporter has been heard, then long enough for n-stale to go stale.
for _ in $(seq 50); do
        http GET /v1/nodes >/dev/null
        [[ $(jq .node_count "$WORK/body") == 5 ]] && break
        sleep 0.1
done
sleep 2.5

ALL=(n-balanced n-numa n-pressure n-small n-stale n-ghost)
GUAR=$(k8s_pod guar 6Gi 6Gi Guaranteed)
BURST=$(k8s_pod burst 2Gi "" Burstable)

# ---- filter, NodeNames mode (nodeCacheCapable: true)
expect 200 POST /extender/filter "$(extender_args "$GUAR" names "${ALL[@]}")"
jqb '.NodeNames == ["n-numa"] and .Nodes == null and .Error == ""'
jqb '.FailedNodes | keys == ["n-balanced","n-pressure","n-small"]'
jqb '.FailedNodes["n-balanced"] | test("NUMA")'
jqb '.FailedNodes["n-pressure"] | test("medium")'
jqb '.FailedNodes["n-small"] | test("insufficient")'
jqb '.FailedAndUnresolvableNodes | keys == ["n-ghost","n-stale"]'
jqb '.FailedAndUnresolvableNodes["n-stale"] | test("stale")'
pass "filter (NodeNames): Guaranteed pod only on the node with a NUMA zone big enough"

# ---- filter, Nodes mode (nodeCacheCapable: false): full v1.Node objects echoed back
expect 200 POST /extender/filter "$(extender_args "$GUAR" nodes "${ALL[@]}")"
jqb '.NodeNames == null and ([.Nodes.items[].metadata.name] == ["n-numa"])'
jqb '.Nodes.items[0].status.allocatable.memory == "15Gi" and .Nodes.items[0].spec.podCIDR == "10.0.0.0/24"'
jqb '.FailedNodes | keys == ["n-balanced","n-pressure","n-small"]'
pass "filter (Nodes): same decision, node objects returned intact"

expect 200 POST /extender/filter "$(extender_args "$BURST" names "${ALL[@]}")"
jqb '.NodeNames == ["n-balanced","n-numa"]'
pass "filter: Burstable pod needs no single zone"

# ---- prioritize, both modes
for mode in names nodes; do
        expect 200 POST /extender/prioritize "$(extender_args "$BURST" $mode "${ALL[@]}")"
        jqb 'type == "array" and length == 6 and all(.[]; (.Host|type) == "string" and (.Score|type) == "number" and .Score >= 0 and .Score <= 10)'
        jqb '[.[].Host] == ["n-balanced","n-numa","n-pressure","n-small","n-stale","n-ghost"]'
        jqb 'map(select(.Host == "n-pressure" or .Host == "n-small" or .Host == "n-stale" or .Host == "n-ghost") | .Score) == [0,0,0,0]'
        # n-numa keeps its free memory in one zone: less fragmentation, higher score.
        jqb '(map(select(.Host == "n-numa"))[0].Score) > (map(select(.Host == "n-balanced"))[0].Score)'
done
pass "prioritize: HostPriorityList in both modes, scores 0-10, least fragmentation wins"

# ---- placement hints
expect 200 POST /v1/placement '{"pod":{"request_bytes":"6Gi","qos":"guaranteed"}}'
jqb '.single_numa == true and .candidates[0].node == "n-numa" and .candidates[0].fits and .candidates[0].numa_zone == 0'
jqb '(.candidates | map(select(.fits)) | length) == 1'
jqb '.candidates | map(select(.node == "n-balanced"))[0].reason | test("NUMA zone")'
jqb 'all(.candidates[]; (.reason | length) > 0)'
expect 200 POST /v1/placement '{"pod":{"request_bytes":1073741824},"nodes":["n-numa","n-ghost"],"limit":1}'
jqb '.candidates | length == 1 and .[0].node == "n-numa"'
pass "placement hints: ranked with zone and reason"

# ---- bind records the decision and charges the node
expect 200 POST /extender/bind '{"PodName":"guar","PodNamespace":"shop","PodUID":"uid-guar","Node":"n-numa"}'
jqb '. == {"Error":""}'
expect 200 GET /v1/nodes/n-numa
jqb ".assumed_bytes == $((6 * GiB)) and .stale == false and (.numa | length) == 2"
expect 404 POST /extender/bind '{"PodName":"x","PodNamespace":"shop","PodUID":"u","Node":"n-ghost"}'
jqb '.field == "Node"'
pass "bind: decision recorded, request charged until reported"

# ---- views and metrics
expect 200 GET /v1/nodes
jqb '.node_count == 5 and .stale_count == 1 and ([.nodes[] | select(.stale) | .name] == ["n-stale"])'
expect 200 GET /metrics
grep -q '^memsched_nodes 5$' "$WORK/body" || fail "memsched_nodes"
grep -q '^memsched_nodes_stale 1$' "$WORK/body" || fail "memsched_nodes_stale"
grep -q '^memsched_bind_decisions_total 1$' "$WORK/body" || fail "bind decisions"
grep -q '^memsched_http_requests_total{route="extender_filter",code="200"} 3$' "$WORK/body" ||
        fail "filter request count"
grep -q '^memsched_http_request_duration_seconds_count{route="extender_prioritize"} 2$' "$WORK/body" ||
        fail "prioritize latency count"
grep -Eq '^memsched_reports_total [0-9]+$' "$WORK/body" || fail "reports_total"
pass "node views and Prometheus metrics"

stop_reporters
fails=$(cat "$WORK"/reporter-*.fails | awk '{ s += $1 } END { print s + 0 }')
[[ $fails == 0 ]] || fail "$fails reports were refused"
expect 200 GET /healthz
expect 200 GET /readyz
alive
pass "three reporters, no refused report"
