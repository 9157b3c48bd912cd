#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kube_contract: tests/openapi/validate-bodies.mjs, the check of the bodies memagentd sends to
# the (test) API server against the official Kubernetes OpenAPI schemas, itself tested: correct
# Eviction, Event and resize patch pass; a broken one of each fails with the error named; exit
# codes 0 / 1 (any invalid) / 2 (no body). Without node or node_modules this test fails under
# CI=true (scripts/install-deps.sh installs them) and skips loudly elsewhere.
set -euo pipefail
SRC=${1:?usage: $0 SOURCE_DIR [KUBE_TEST_APISERVER]}
KT_BIN=${2-}
V="$SRC/tests/openapi/validate-bodies.mjs"
missing() {
        if [[ ${CI:-} == true ]]; then
                echo "FAIL: $* (CI=true: scripts/install-deps.sh must have installed it)" >&2
                exit 1
        fi
        echo "SKIP: $*; run scripts/install-deps.sh (it runs npm ci in tests/openapi)" >&2
        echo "SKIP: the bodies memagentd sends are NOT validated against the Kubernetes OpenAPI schemas"
        exit 77
}
command -v node >/dev/null || missing "node is not installed"
[[ -d $SRC/tests/openapi/node_modules/kubernetes-models ]] || missing "tests/openapi/node_modules is missing"

WORK=$(mktemp -d /tmp/kube-openapi.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() {
        echo "FAIL: $*" >&2
        exit 1
}
pass() { echo "ok: $*"; }
# run DIR: the validator's output in $WORK/out, its exit code printed
run() {
        local rc=0
        node "$V" "$1" >"$WORK/out" 2>&1 || rc=$?
        echo "$rc"
}

echo "kube_contract: the OpenAPI validator of the bodies sent to a test API server (not a live cluster)"
# What memagentd sends, in the shapes of issue 11.
EVICTION='{"apiVersion":"policy/v1","kind":"Eviction","metadata":{"name":"web-1","namespace":"shop"},"deleteOptions":{"gracePeriodSeconds":30,"preconditions":{"uid":"0d7c5c4e-1f7a-4c8e-9d1b-6a0c2b7e9f10"}}}'
EVENT='{"apiVersion":"events.k8s.io/v1","kind":"Event","metadata":{"generateName":"web-1.","namespace":"shop"},"eventTime":"2026-01-01T10:00:00.000000Z","reportingController":"memagent.io/agent","reportingInstance":"memagent.io/agent-node-1","action":"Evict","reason":"MemoryPressure","type":"Warning","note":"evicted: usage 1.2Gi over request 512Mi at level medium","regarding":{"apiVersion":"v1","kind":"Pod","namespace":"shop","name":"web-1","uid":"0d7c5c4e-1f7a-4c8e-9d1b-6a0c2b7e9f10"}}'
RESIZE='{"spec":{"containers":[{"name":"app","resources":{"limits":{"memory":"768Mi"}}}]}}'

mkdir "$WORK/good"
printf '%s' "$EVICTION" >"$WORK/good/0003-eviction.json"
printf '%s' "$EVENT" >"$WORK/good/0004-event.json"
printf '%s' "$RESIZE" >"$WORK/good/0007-resize.json"
echo "GET /api/v1/pods 200" >"$WORK/good/requests.log"
rc=$(run "$WORK/good")
[[ $rc == 0 ]] || fail "correct bodies: exit $rc: $(cat "$WORK/out")"
diff <(printf 'ok eviction 0003-eviction.json\nok event 0004-event.json\nok resize 0007-resize.json\n') "$WORK/out" >/dev/null ||
        fail "correct bodies, output: $(cat "$WORK/out")"
pass "a correct Eviction, Event and resize patch: one 'ok KIND FILE' line each, exit 0"

# bad NAME KIND BODY EXPECTED-ERROR-TEXT: alone in a directory it fails, naming the error.
bad() {
        local d="$WORK/$1"
        mkdir "$d"
        printf '%s' "$3" >"$d/0001-$2.json"
        local rc
        rc=$(run "$d")
        [[ $rc == 1 ]] || fail "$1: exit $rc, expected 1: $(cat "$WORK/out")"
        grep -qF "INVALID $2 0001-$2.json: " "$WORK/out" || fail "$1: no INVALID line: $(cat "$WORK/out")"
        grep -qF "$4" "$WORK/out" || fail "$1: the error does not name '$4': $(cat "$WORK/out")"
        pass "$1: INVALID, $(grep -F "$4" "$WORK/out" | sed 's/^.*: //' | cut -c1-110)"
}
jqs() { jq -c "$1" <<<"$2"; }
bad eviction_grace_string eviction "$(jqs '.deleteOptions.gracePeriodSeconds = "30"' "$EVICTION")" \
        "data/deleteOptions/gracePeriodSeconds must be integer"
bad eviction_v1beta1 eviction "$(jqs '.apiVersion = "policy/v1beta1"' "$EVICTION")" \
        "data/apiVersion must be equal to one of the allowed values"
bad eviction_uid_number eviction "$(jqs '.deleteOptions.preconditions.uid = 7' "$EVICTION")" \
        "data/deleteOptions/preconditions/uid must be string"
# The events.k8s.io/v1 schema requires eventTime (and, here, apiVersion and kind); that
# reportingController is set is checked by kube-apiserver's validation, not by the schema.
bad event_no_event_time event "$(jqs 'del(.eventTime)' "$EVENT")" \
        "data must have required property eventTime"
bad event_note_object event "$(jqs '.note = {"text": "x"}' "$EVENT")" "data/note must be string"
bad event_series_count event "$(jqs '.series = {"count": "2", "lastObservedTime": "2026-01-01T10:00:00.000000Z"}' "$EVENT")" \
        "data/series/count must be integer"
bad resize_memory_bool resize "$(jqs '.spec.containers[0].resources.limits.memory = true' "$RESIZE")" \
        "data/spec/containers/0/resources/limits/memory must be"
bad resize_no_name resize "$(jqs 'del(.spec.containers[0].name)' "$RESIZE")" \
        "data/spec/containers/0 must have required property name"
bad resize_containers_object resize '{"spec":{"containers":{"name":"app"}}}' "data/spec/containers must be array"
bad not_json eviction '{"apiVersion":' "not JSON"

# One invalid body among valid ones still fails the whole directory.
cp "$WORK/good/"*.json "$WORK/eviction_grace_string/"
rc=$(run "$WORK/eviction_grace_string")
[[ $rc == 1 && $(grep -c '^ok ' "$WORK/out") == 3 && $(grep -c '^INVALID ' "$WORK/out") == 1 ]] ||
        fail "mixed directory: exit $rc: $(cat "$WORK/out")"
pass "one invalid body among three valid ones: exit 1, all four reported"

mkdir "$WORK/empty"
echo "GET /api/v1/pods 200" >"$WORK/empty/requests.log"
rc=$(run "$WORK/empty")
[[ $rc == 2 ]] || fail "no body: exit $rc: $(cat "$WORK/out")"
rc=$(run "$WORK/does-not-exist")
[[ $rc == 2 ]] || fail "missing directory: exit $rc"
pass "a directory without a body (or none at all): exit 2"
# The whole path: bodies sent to the test API server, recorded by it, read by the validator.
if [[ -n $KT_BIN ]] && command -v curl >/dev/null && command -v openssl >/dev/null; then
        KT_DIR="$WORK/server"
        mkdir "$KT_DIR"
        # shellcheck source=SCRIPTDIR/../kube-apiserver/kube-test-lib.sh
        source "$SRC/tests/kube-apiserver/kube-test-lib.sh"
        trap 'kube_test_stop; rm -rf "$WORK"' EXIT
        kube_test_certs || fail "openssl could not make the certificates"
        echo "t0k3n" >"$KT_DIR/token"
        echo '{"items":[{"metadata":{"name":"web-1","namespace":"shop","uid":"0d7c5c4e-1f7a-4c8e-9d1b-6a0c2b7e9f10"},"spec":{"nodeName":"node-1","containers":[{"name":"app"}]},"status":{"phase":"Running"}}]}' >"$KT_DIR/pods.json"
        kube_test_start || fail "kube-test-apiserver did not start"
        J=(-X POST -H 'Content-Type: application/json')
        [[ $(kcurl -X PATCH -H 'Content-Type: application/strategic-merge-patch+json' --data-binary "$RESIZE" /api/v1/namespaces/shop/pods/web-1/resize) == 200 ]] || fail "resize: $(cat "$KT_DIR/body")"
        [[ $(kcurl "${J[@]}" --data-binary "$EVENT" /apis/events.k8s.io/v1/namespaces/shop/events) == 201 ]] || fail "event: $(cat "$KT_DIR/body")"
        [[ $(kcurl "${J[@]}" --data-binary "$EVICTION" /api/v1/namespaces/shop/pods/web-1/eviction) == 201 ]] || fail "eviction: $(cat "$KT_DIR/body")"
        kube_test_stop
        rc=$(run "$KT_DIR/rec")
        [[ $rc == 0 ]] || fail "recorded bodies: exit $rc: $(cat "$WORK/out")"
        diff <(printf 'ok resize 0001-resize.json\nok event 0002-event.json\nok eviction 0003-eviction.json\n') "$WORK/out" >/dev/null ||
                fail "recorded bodies: $(cat "$WORK/out")"
        pass "bodies sent to the test API server, recorded as NNNN-KIND.json, all valid"
fi
echo "kube_contract: validator checks passed"
