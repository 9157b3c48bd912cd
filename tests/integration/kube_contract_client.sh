#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Kubernetes client (api/kube/) against a TEST API server (tests/kube-apiserver), not a live
# cluster: LIST of 300 pods, WATCH with frames split mid-line, bookmarks, 410 Expired -> relist,
# 401 until the token file changes, and the Eviction / Event / resize answers decoded from their
# Status bodies. The client is driven by kube-client-probe (one sd-event loop, curl multi).
set -euo pipefail
SERVER=${1:?usage: $0 KUBE_TEST_APISERVER KUBE_CLIENT_PROBE SOURCE_DIR}
PROBE=${2:?usage: $0 KUBE_TEST_APISERVER KUBE_CLIENT_PROBE SOURCE_DIR}
SRC=${3:?usage: $0 KUBE_TEST_APISERVER KUBE_CLIENT_PROBE SOURCE_DIR}
source "$SRC/tests/integration/tls-lib.sh"
for tool in curl jq openssl; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
echo "kube_contract: the client against a TEST API server (kube-test-apiserver), not a live cluster"

WORK=$(mktemp -d /tmp/kube-contract.XXXXXX)
SPID= WPID=
cleanup() {
        [[ -n $WPID ]] && kill "$WPID" 2>/dev/null
        [[ -n $SPID ]] && kill "$SPID" 2>/dev/null
        wait 2>/dev/null
        rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
        echo "FAIL: $*" >&2
        for f in server.log probe.log; do
                [[ -f $WORK/$f ]] && { echo "--- $f (last 20 lines) ---" >&2; tail -n 20 "$WORK/$f" >&2; }
        done
        [[ -f $WORK/state.json ]] && jq -c 'del(.pods)' "$WORK/state.json" >&2
        exit 1
}
pass() { echo "ok: $*"; }

# ---- a CA and the server's certificate for 127.0.0.1
cd "$WORK"
mkdir certs
tls_ca certs ca kube-test-ca
tls_cert certs server kube-apiserver ca "IP:127.0.0.1,DNS:localhost"
[[ -s certs/server.pem ]] || fail "openssl could not make the certificates"

# ---- 300 pods on node-a (priorities 0..299), 5 on node-b
jq -n '{kind: "PodList", apiVersion: "v1", items: [
  (range(300) | {metadata: {name: "p-\(.)", namespace: "ns-\(. % 3)", uid: "uid-\(.)",
      ownerReferences: [{apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs", uid: "rs-1", controller: true}]},
    spec: {nodeName: "node-a", priority: ., containers: [{name: "main", image: "pause",
      resources: {requests: {memory: "64Mi"}, limits: {memory: "128Mi"}}}]},
    status: {phase: "Running", qosClass: "Burstable"}}),
  (range(5) | {metadata: {name: "b-\(.)", namespace: "ns-b", uid: "uidb-\(.)"},
    spec: {nodeName: "node-b", containers: [{name: "main", image: "pause"}]}})]}' >pods.json
echo "tok-1" >server-token
echo "tok-1" >client-token
mkdir rec

start_server() {
        rm -f port cport
        "$SERVER" --tls-cert certs/server.pem --tls-key certs/server.key --port-file port \
                --token-file server-token --pods pods.json --record-dir rec \
                --control-port-file cport "$@" >>server.log 2>&1 &
        SPID=$!
        for _ in $(seq 100); do
                [[ -s port && -s cport ]] && break
                kill -0 "$SPID" 2>/dev/null || fail "kube-test-apiserver exited at start"
                sleep 0.05
        done
        [[ -s port && -s cport ]] || fail "kube-test-apiserver did not start within 5 s"
        PORT=$(cat port) CPORT=$(cat cport)
        # A kubeconfig with paths relative to its own directory, as kubectl allows.
        cat >kubeconfig <<KC
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$PORT
    certificate-authority: certs/ca.pem
contexts:
- name: test
  context: {cluster: test, user: agent}
users:
- name: agent
  user:
    tokenFile: client-token
KC
}
stop_server() {
        kill "$SPID" 2>/dev/null || true
        wait "$SPID" 2>/dev/null || true
        SPID=
}
control() { # METHOD PATH [BODY]
        curl -sf -X "$1" --max-time 5 ${3:+-H 'Content-Type: application/json' --data-binary "$3"} \
                "http://127.0.0.1:$CPORT$2" >/dev/null || fail "control $1 $2 failed"
}
server_state() { curl -sf --max-time 5 "http://127.0.0.1:$CPORT/control/state"; }
# wait_for JQ_FILTER [SECONDS]: until the probe's state file satisfies the filter.
wait_for() {
        local deadline=$((SECONDS + ${2:-20}))
        while ((SECONDS < deadline)); do
                [[ -s state.json ]] && jq -e "$1" state.json >/dev/null 2>&1 && return 0
                kill -0 "$WPID" 2>/dev/null || fail "kube-client-probe watch exited"
                sleep 0.1
        done
        fail "timed out waiting for: $1"
}
st() { jq -r "$1" state.json; }
# wait_log ERE [SECONDS]: until the server has recorded a matching request (the probe counts a
# request when it sends it, the server when it has answered it).
wait_log() {
        local deadline=$((SECONDS + ${2:-10}))
        while ((SECONDS < deadline)); do
                grep -Eq "$1" rec/requests.log 2>/dev/null && return 0
                sleep 0.1
        done
        fail "the server recorded no request matching: $1"
}

start_server
"$PROBE" "$WORK/kubeconfig" watch node-a "$WORK/state.json" 150 >probe.log 2>&1 &
WPID=$!

# ---- LIST: 300 pods, only node-a's, decoded
wait_for '.synced and (.pods | length) == 300'
[[ $(st '[.pods[] | select(.name | startswith("b-"))] | length') == 0 ]] || fail "another node's pods listed"
[[ $(st '.pods[] | select(.name == "p-299") | "\(.namespace) \(.priority) \(.owner_kind) \(.containers[0].limit_bytes)"') == "ns-2 299 ReplicaSet 134217728" ]] ||
        fail "p-299 decoded wrong: $(st '.pods[] | select(.name == "p-299")')"
grep -q '^GET /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a 200' rec/requests.log || fail "LIST not as expected: $(head -3 rec/requests.log)"
wait_for '.stats.watches >= 1'
wait_log '^GET /api/v1/pods\?fieldSelector=spec\.nodeName%3Dnode-a&watch=true&resourceVersion=[^&]+&allowWatchBookmarks=true&timeoutSeconds=[0-9]+ 200$'
pass "LIST of 300 pods of node-a (not node-b's), then WATCH from its resourceVersion with bookmarks"

# ---- WATCH frames split mid-line: ADDED, MODIFIED, DELETED all applied, no frame error
control POST /control/split '{"bytes":7}'
pod_new='{"metadata":{"name":"p-new","namespace":"ns-0","uid":"uid-new"},"spec":{"nodeName":"node-a","priority":7,"containers":[{"name":"main","image":"pause"}]}}'
control POST /control/pods "$pod_new"
wait_for '[.pods[] | select(.uid == "uid-new")] | length == 1'
control POST /control/pods "${pod_new/\"priority\":7/\"priority\":5000}"
wait_for '.pods[] | select(.uid == "uid-new") | .priority == 5000'
control DELETE /control/pods/ns-1/p-1
wait_for '[.pods[] | select(.uid == "uid-1")] | length == 0'
[[ $(st '.stats.errors') == 0 ]] || fail "errors while frames were split: $(st '.last_error')"
[[ $(st '.stats.lists') == 1 ]] || fail "split frames caused a relist"
control POST /control/resize-condition '{"namespace":"ns-1","name":"p-16","type":"PodResizePending","reason":"Infeasible","message":"Node didn'"'"'t have enough capacity"}'
wait_for '.pods[] | select(.name == "p-16") | .resize == "Infeasible"'
control POST /control/split '{"bytes":0}'
pass "watch frames split every 7 bytes: ADDED, MODIFIED, DELETED, a PodResizePending condition applied; no error, no relist"

# ---- BOOKMARK advances the resourceVersion past changes this node never sees
rv0=$(st '.resource_version')
control POST /control/pods '{"metadata":{"name":"b-9","namespace":"ns-b","uid":"uidb-9"},"spec":{"nodeName":"node-b","containers":[{"name":"main","image":"pause"}]}}'
server_rv=$(server_state | jq -r '.resource_version')
[[ $server_rv != "$rv0" ]] || fail "the server's resourceVersion did not move"
control POST /control/bookmark
wait_for ".stats.bookmarks >= 1 and .resource_version == \"$server_rv\""
pass "BOOKMARK moved the resourceVersion from $rv0 to $server_rv with no pod change"

# ---- 410 Expired during the watch -> LIST again; nothing changed, so nothing is reported
changes=$(st '.changes')
control POST /control/expire
wait_for '.stats.relists >= 1 and .stats.lists >= 2 and .synced'
[[ $(st '.pods | length') == 300 ]] || fail "after the relist: $(st '.pods | length') pods"
[[ $(st '.changes') == "$changes" ]] || fail "the relist reported $(($(st '.changes') - changes)) changes of unchanged pods"
pass "ERROR 410 Expired on the watch: listed again ($(st '.stats.lists') LISTs), table intact, no spurious change"

# ---- 410 Gone as the WATCH's own answer -> LIST again; 503 -> backoff and WATCH again, no LIST
W='/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a&watch'
relists=$(st '.stats.relists')
control POST /control/fail-next "{\"path_prefix\":\"$W\",\"code\":410,\"times\":1}"
control POST /control/expire
wait_for ".stats.relists >= $((relists + 2)) and .synced"
grep -q "^GET $W.* 410\$" rec/requests.log || fail "no WATCH answered 410"
pass "410 Gone answering the WATCH: listed again"
errors=$(st '.stats.errors') lists=$(st '.stats.lists') watches=$(st '.stats.watches')
control POST /control/fail-next "{\"path_prefix\":\"$W\",\"code\":503,\"retry_after\":1,\"times\":2}"
control POST /control/expire
wait_for ".stats.errors >= $((errors + 2)) and .stats.watches >= $((watches + 3))"
# The property: the request after a 503 on the WATCH is a WATCH again, never a LIST. (Counting
# LISTs raced: under load the expire can find no watch open yet, and the WATCH that then starts
# from the compacted version gets a 410 and rightly lists again.)
awk -v w="GET $W" '
	index($0, "GET /api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a") != 1 { next }
	after503 { if (index($0, w) != 1) bad = 1; after503 = 0 }
	index($0, w) == 1 && / 503$/ { after503 = 1 }
	END { exit bad }' rec/requests.log || fail "a 503 on the WATCH was followed by a LIST: $(grep -n 'node-a' rec/requests.log | tail -8)"
[[ $(grep -c "^GET $W.* 503\$" rec/requests.log) == 2 ]] || fail "503s not as scripted"
pass "503 on the WATCH: backed off and watched again from the same resourceVersion"

# ---- 401: the server's token rotated; the client's file still has the old one
echo "tok-2" >server-token
errors=$(st '.stats.errors') lists=$(st '.stats.lists')
control POST /control/expire
wait_for ".client.unauthorized >= 1 and .stats.errors > $errors"
sleep 1
[[ $(st '.stats.lists') == "$lists" ]] || fail "a LIST succeeded with the old token"
echo "tok-2" >client-token
wait_for ".stats.lists > $lists and .synced" 40
grep -q ' 401$' rec/requests.log || fail "no 401 recorded"
pass "401 while the token file is stale ($(st '.client.unauthorized') times), LIST again once it changed"

# ---- rotation seen at the first 401: both files change, one retry, no failure
echo "tok-3" >server-token
echo "tok-3" >client-token
errors=$(st '.stats.errors') lists=$(st '.stats.lists') unauth=$(st '.client.unauthorized')
control POST /control/expire
wait_for ".stats.lists > $lists"
[[ $(st '.stats.errors') == "$errors" ]] || fail "the rotated token was not retried at once: $(st '.last_error')"
[[ $(st '.client.unauthorized') -gt $unauth ]] || fail "no 401 seen: the token was re-read before the request"
pass "token rotated: 401, the file re-read, the request sent once more and answered"

get_2xx=$(st '.client.by_verb.GET[2]')
(( get_2xx >= $(st '.stats.lists') + 1 )) || fail "GET 2xx count $get_2xx below LISTs + WATCHes"
(( $(st '.client.by_verb.GET[4]') >= 2 )) || fail "GET 4xx (401, 410) not counted by verb"
kill "$WPID"
wait "$WPID" 2>/dev/null || true
WPID=

# ---- the calls the agent makes, one process each
call() { "$PROBE" "$WORK/kubeconfig" "$@" 2>>probe.log || echo "{\"probe_exit\": $?}"; }
out=$(call evict ns-1 p-10 uid-10 0)
jq -e '.http_code == 201 and .by_verb.POST[2] == 1' <<<"$out" >/dev/null || fail "eviction: $out"
ev=$(ls rec/*-eviction.json | tail -n 1)
jq -e '.apiVersion == "policy/v1" and .kind == "Eviction" and .deleteOptions.preconditions.uid == "uid-10" and .deleteOptions.gracePeriodSeconds == 0' "$ev" >/dev/null ||
        fail "eviction body: $(cat "$ev")"
pass "eviction 201 (policy/v1, UID precondition, grace 0)"

control POST /control/evict-script '{"namespace":"ns-2","name":"p-11","answer":"pdb","times":1}'
out=$(call evict ns-2 p-11 uid-11 30)
jq -e '.http_code == 429 and .reason == "TooManyRequests" and .cause_reason == "DisruptionBudget" and (.cause_message | test("disruption budget")) and (.message | test("violate the pod.s disruption budget"))' <<<"$out" >/dev/null ||
        fail "PDB 429: $out"
pass "429 DisruptionBudget decoded: $(jq -r .line <<<"$out")"

control POST /control/evict-script '{"namespace":"ns-0","name":"p-12","answer":"retry-after=5","times":1}'
out=$(call evict ns-0 p-12 uid-12 30)
jq -e '.http_code == 429 and .retry_after_sec == 5' <<<"$out" >/dev/null || fail "429 Retry-After: $out"
pass "429 with Retry-After: 5 decoded"

out=$(call evict ns-0 nosuchpod uid-x 30)
jq -e '.http_code == 404 and .reason == "NotFound"' <<<"$out" >/dev/null || fail "404: $out"
out=$(call evict ns-1 p-13 uid-wrong 30)
jq -e '.http_code == 409 and .reason == "Conflict" and (.message | test("UID in precondition: uid-wrong"))' <<<"$out" >/dev/null ||
        fail "409: $out"
pass "404 NotFound for a missing pod, 409 Conflict for a wrong UID precondition"

out=$(call event ns-2 p-14 uid-14 Evict MemoryPressure "memagent evicted p-14: node memory pressure")
jq -e '.http_code == 201 and (.name | startswith("p-14."))' <<<"$out" >/dev/null || fail "event: $out"
evb=$(ls rec/*-event.json | tail -n 1)
jq -e '.apiVersion == "events.k8s.io/v1" and .reportingController == "memagent.io/agent" and .regarding.uid == "uid-14" and (.eventTime | test("^[0-9-]+T[0-9:]+\\.[0-9]{6}Z$"))' "$evb" >/dev/null ||
        fail "event body: $(cat "$evb")"
pass "event 201, named from generateName"

out=$(call resize ns-0 p-15 main 268435456)
jq -e '.http_code == 200 and .body.spec.containers[0].resources.limits.memory != "128Mi" and .by_verb.PATCH[2] == 1' <<<"$out" >/dev/null || fail "resize: $out"
grep -q '^PATCH /api/v1/namespaces/ns-0/pods/p-15/resize 200' rec/requests.log || fail "resize not recorded"
pass "resize 200 (strategic merge patch of the memory limit)"

out=$(call get /api/v1/namespaces/ns-0/pods/p-15)
jq -e '.http_code == 200 and (.body.spec.containers[0].resources.limits.memory | tostring | test("^268435456$|^256Mi$"))' <<<"$out" >/dev/null ||
        fail "the resized pod: $out"

stop_server
start_server --no-resize
out=$(call resize ns-0 p-15 main 268435456)
jq -e '.http_code == 404 and .reason == "NotFound" and .message == "the server could not find the requested resource"' <<<"$out" >/dev/null ||
        fail "resize without the subresource: $out"
pass "resize 404 NotFound on a server without pods/resize"

# ---- every body the client sent, against the official Kubernetes OpenAPI schemas
V="$SRC/tests/openapi/validate-bodies.mjs"
if command -v node >/dev/null && [[ -d $SRC/tests/openapi/node_modules/kubernetes-models ]]; then
        node "$V" rec >validate.out 2>&1 || fail "bodies refused by the OpenAPI schemas: $(grep INVALID validate.out)"
        for kind in eviction event resize; do
                grep -q "^ok $kind " validate.out || fail "no $kind body validated: $(cat validate.out)"
        done
        pass "the $(grep -c '^ok ' validate.out) Eviction, Event and resize bodies sent are valid against the Kubernetes OpenAPI schemas"
elif [[ ${CI:-} == true ]]; then
        fail "tests/openapi/node_modules missing under CI=true (scripts/install-deps.sh installs it)"
else
        echo "SKIP (this step only): the bodies sent are NOT validated against the OpenAPI schemas; run scripts/install-deps.sh"
fi

stop_server
out=$(call get /api/v1/pods)
jq -e '.http_code == 0 and .transport_errno < 0 and (.line | startswith("unreachable"))' <<<"$out" >/dev/null || fail "unreachable: $out"
pass "API server down: no answer, said as unreachable"
echo "kube_contract: all checks passed against a TEST API server"
