#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Bad input gets a clear 4xx naming the field, and never hurts the daemon or other clients:
# malformed JSON, wrong types, missing fields, huge bodies (with and without Content-Length),
# unknown paths and nodes, wrong methods, and slow clients holding connections open.
source "$(dirname "$0")/lib.sh"

start_memschedd --max-body-bytes 64Ki --client-timeout-sec 2 --threads 2
post_report w1 "$(node_report w1 $((8 * GiB)) $((4 * GiB)) $((2 * GiB)) $((2 * GiB)) none)"
POD=$(k8s_pod p 1Gi "" Burstable)

# ---- malformed JSON
for path in /extender/filter /extender/prioritize /extender/bind /v1/placement /v1/nodes/w1/report; do
        for body in '{' '{"Pod":' 'not json' '[1,]' '{"a":1} trailing' '""'; do
                expect 400 POST "$path" "$body"
                jqb '(.error | type) == "string" and (.error | length) > 0'
        done
done
pass "malformed JSON: 400 with a message on every POST route"

# ---- wrong types and missing fields: the field is named
check_field() { # path body field
        expect 400 POST "$1" "$2"
        jqb ".field == \"$3\""
        jqb ".error | contains(\"$3\")"
}
check_field /extender/filter '{"Pod":{"metadata":{"name":"p"},"spec":{"containers":[{}]}},"NodeNames":"w1"}' NodeNames
check_field /extender/filter '{"Pod":{"metadata":{"name":"p"},"spec":{"containers":[{}]}},"NodeNames":[1]}' 'NodeNames[0]'
check_field /extender/filter '{"NodeNames":["w1"]}' Pod
check_field /extender/filter '{"Pod":{"metadata":{"name":7},"spec":{"containers":[{}]}},"NodeNames":[]}' Pod.metadata.name
check_field /extender/prioritize '{"Pod":{"metadata":{"name":"p"},"spec":{"containers":[{"resources":{"requests":{"memory":"12 bytes"}}}]}},"NodeNames":["w1"]}' 'Pod.spec.containers[0].resources.requests.memory'
check_field /extender/prioritize '{"Pod":{"metadata":{"name":"p"},"spec":{"containers":[{"resources":{"limits":{"memory":5.5}}}]}},"NodeNames":["w1"]}' 'Pod.spec.containers[0].resources.limits.memory'
check_field /extender/bind '{"PodName":"p","PodNamespace":"d","PodUID":"u"}' Node
check_field /extender/bind '{"PodName":["p"],"Node":"w1"}' PodName
check_field /v1/placement '{"pod":{"request_bytes":-5}}' pod.request_bytes
check_field /v1/placement '{"pod":{"request_bytes":"1Gi","qos":"platinum"}}' pod.qos
check_field /v1/nodes/w1/report '{"node":{"memory_total_bytes":"8Gi"}}' node.memory_total_bytes
check_field /v1/nodes/w1/report '{"node":{"memory_total_bytes":10,"memory_available_bytes":20}}' node.memory_available_bytes
check_field /v1/nodes/w1/report '{"node":{"memory_total_bytes":10,"memory_available_bytes":1},"pods":[{"uid":"a","qos":"burstable","memory":{"working_set_bytes":true}}]}' 'pods[0].memory.working_set_bytes'
check_field /v1/nodes/w1/report '{"node_name":"w2","node":{"memory_total_bytes":10,"memory_available_bytes":1}}' node_name
# Unknown fields are ignored, as Kubernetes clients do.
expect 200 POST /v1/nodes/w1/report "$(node_report w1 $((8 * GiB)) $((4 * GiB)) $((2 * GiB)) $((2 * GiB)) none | jq -c '. + {"shiny_new_field": {"x": 1}}')"
pass "wrong types and missing fields: 400 naming the field; unknown fields ignored"

# ---- unknown paths, names and nodes; wrong methods
expect 404 GET /nope
expect 404 GET /v1/nodes/w1/report/extra
expect 404 GET /v1/nodes/ghost
jqb '.field == "name"'
expect 400 GET /v1/nodes/Not_A_Node
expect 400 POST /v1/nodes/bad..name/report '{}'
expect 405 GET /extender/filter
expect 405 POST /v1/nodes '{}'
expect 405 DELETE /v1/migrations
expect 405 PUT /v1/nodes/w1/report '{}'
allow=$(curl -s -o /dev/null -D - "$BASE/extender/bind" | tr -d '\r' | awk -F': ' 'tolower($1) == "allow" { print $2 }')
[[ $allow == POST ]] || fail "405 without Allow: POST (got '$allow')"
expect 400 GET '/v1/migrations?state=lost'
jqb '.field == "state"'
expect 200 POST /extender/filter "$(extender_args "$POD" names ghost)"
jqb '.NodeNames == [] and (.FailedAndUnresolvableNodes.ghost | test("no report"))'
pass "404 / 405 / 400 on paths, methods, names; unknown nodes fail unresolvably"

# ---- huge bodies: 413 with and without Content-Length, then the daemon still serves
head -c $((1024 * 1024)) /dev/zero | tr '\0' ' ' >"$WORK/huge"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 10 --data-binary "@$WORK/huge" "$BASE/extender/filter")
[[ $code == 413 ]] || fail "1 MiB body with Content-Length: HTTP $code"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 10 -H 'Transfer-Encoding: chunked' \
        --data-binary "@$WORK/huge" "$BASE/v1/nodes/w1/report")
[[ $code == 413 ]] || fail "1 MiB chunked body: HTTP $code"
jqb '.error | test("limit")'
# Just under the limit is fine (a padded valid report).
printf '{"pad":"%s","node":{"memory_total_bytes":10,"memory_available_bytes":1}}' \
        "$(head -c 60000 /dev/zero | tr '\0' a)" >"$WORK/big-ok"
expect 200 POST /v1/nodes/w2/report "@$WORK/big-ok"
pass "bodies over the limit get 413, just under is served"

# ---- slow clients: connections that trickle or stall do not block others
slow_pids=()
for i in 1 2 3 4 5 6; do
        (
                exec 3<>/dev/tcp/127.0.0.1/"$PORT"
                printf 'POST /extender/filter HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n{"Pod":' >&3
                sleep 4
        ) 2>/dev/null &
        slow_pids+=($!)
done
sleep 0.3
args=$(extender_args "$POD" names w1)
start=$(date +%s%N)
for i in $(seq 30); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --data-binary "$args" "$BASE/extender/filter")
        [[ $code == 200 ]] || fail "filter #$i while slow clients hang: HTTP $code"
done
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
# No bound on the total (a time limit fails on a loaded machine, not on a blocked server): each
# call above has 2 s to answer while the six stalled connections hold the server's two threads'
# worth of slots, which a server that waited on them could not do.
kill "${slow_pids[@]}" 2>/dev/null || true
wait "${slow_pids[@]}" 2>/dev/null || true
pass "6 stalled clients; 30 filter calls answered in $elapsed_ms ms"

# A client that sends half a request and goes quiet is dropped after --client-timeout-sec.
exec 4<>/dev/tcp/127.0.0.1/"$PORT"
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&4
if timeout 5 cat <&4 >/dev/null; then
        pass "idle half-request closed by the server"
else
        fail "idle connection not closed within 5 s"
fi
exec 4<&-

expect 200 GET /healthz
expect 200 GET /metrics
grep -Eq 'memsched_http_requests_total\{route="extender_filter",code="413"\} [1-9]' "$WORK/body" || fail "413 not counted"
grep -q 'memsched_http_requests_total{route="unknown",code="404"}' "$WORK/body" || fail "404 not counted"
alive
pass "daemon alive and serving after all of it"
