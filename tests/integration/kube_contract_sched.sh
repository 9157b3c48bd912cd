#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# kube_contract: memschedd with --kubeconfig against a TEST API server (kube-test-apiserver), not
# a live cluster. Checks that memschedd:
#   - binds through pods/binding: a bind creates exactly one Binding (the pod gets spec.nodeName)
#     and a bind of a pod that is already bound answers kube-scheduler's ExtenderBindingResult
#     with the API's error;
#   - carries a planned migration out: exactly one accepted Eviction, with the pod's UID as a
#     precondition; a 429 (PodDisruptionBudget) keeps the plan pending and it is retried; the
#     replacement (same controller) is steered by /extender/filter and /extender/prioritize to
#     the reserved node; its bind completes the migration; each step is visible in
#     GET /v1/migrations and is an Event on the pod;
#   - keeps at most maxConcurrentMigrations under way: a second plan waits for the first;
#   - lets a reservation whose replacement never comes expire, with an Event;
#   - watches nodes and pods (LIST+WATCH): a node the API does not know, that is not Ready or is
#     tainted against the pod is no placement target whatever its agent reports; a pod the API
#     shows bound to a node that the node's report does not count yet is deducted there; after a
#     410 it lists again and goes on; /metrics says so (requests, relists, objects, sync age);
#   - binds only pods the API shows Pending and unbound with that uid: others are refused in
#     ExtenderBindingResult.Error without any Binding;
#   - tells the end of a migration evicted before a restart (its Event comes after it);
#   - refuses to start (exit 2) with a kubeconfig it cannot use;
#   - sends only bodies the official Kubernetes OpenAPI schemas accept (tests/openapi).
set -euo pipefail
MEMSCHEDD=${1:?usage: $0 MEMSCHEDD KUBE_TEST_APISERVER SOURCE_DIR}
KT_BIN=${2:?}
SRC_DIR=${3:?}
source "$SRC_DIR/tests/integration/lib.sh" "$MEMSCHEDD" "$SRC_DIR"
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
echo "kube_contract: memschedd against a TEST API server (kube-test-apiserver), not a live cluster"
KT_DIR=$WORK/kt
mkdir -p "$KT_DIR/rec"
. "$SRC/tests/kube-apiserver/kube-test-lib.sh"
trap 'kube_test_stop KILL; stop_memschedd; rm -rf "$WORK"' EXIT

# The pods as the API server knows them: the victim runs on "hot"; "web-new" and the victim's
# replacement are not bound yet (no spec.nodeName, and the server runs without --node).
api_pod() { # NAME UID NODE|""
	jq -n --arg name "$1" --arg uid "$2" --arg node "$3" '{
		metadata: {name: $name, namespace: "shop", uid: $uid,
			ownerReferences: [{apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs-web",
				uid: "rs-web", controller: true}]},
		spec: ((if $node == "" then {} else {nodeName: $node} end) + {
			terminationGracePeriodSeconds: 30,
			containers: [{name: "app", image: "registry.k8s.io/pause:3.10",
				resources: {requests: {memory: "1Gi"}}}]}),
		status: {phase: (if $node == "" then "Pending" else "Running" end), qosClass: "Burstable"}}'
}
{
	api_pod web-new uid-web-new ""
	api_pod web-7d9f-abcde victim-uid hot
	api_pod web-7d9f-xyz12 uid-web-7d9f-xyz12 ""
} | jq -s '{kind: "PodList", apiVersion: "v1", metadata: {}, items: .}' >"$KT_DIR/pods.json"
echo "token-1" >"$KT_DIR/token"
kube_test_certs || fail "openssl could not make the certificates"
kube_test_start || fail "kube-test-apiserver did not start: $(cat "$KT_DIR/apiserver.log")"
# The nodes the API knows (memschedd watches them): every node that reports below, Ready.
for n in target other hot hot2 hot3 hot4; do
	kcontrol POST /control/nodes "$(kube_test_node "$n")" || fail "control/nodes $n"
done
kube_test_kubeconfig "$WORK/kubeconfig" sched kt/token

# requests METHOD PATH-REGEX CODE: how many such requests the API server answered.
# The server appends the line as it answers, so a client may see the answer a moment before it:
# waits up to 2 s for at least one such line.
requests() {
	local _
	for _ in $(seq 20); do
		grep -qE "^$1 $2 $3\$" "$KT_DIR/rec/requests.log" && break
		sleep 0.1
	done
	grep -cE "^$1 $2 $3\$" "$KT_DIR/rec/requests.log" || true
}

# A kubeconfig that cannot be used is refused at start: exit 2, one line that names it.
rc=0
"$MEMSCHEDD" --listen 127.0.0.1:0 --state-file "$WORK/refused.db" --kubeconfig "$WORK/missing" \
	>"$WORK/refused.out" 2>&1 || rc=$?
[[ $rc == 2 ]] && grep -q "kubeconfig $WORK/missing" "$WORK/refused.out" ||
	fail "a missing kubeconfig: exit $rc, $(cat "$WORK/refused.out")"
pass "a kubeconfig that cannot be read is refused (exit 2): $(cat "$WORK/refused.out")"

start_memschedd --kubeconfig "$WORK/kubeconfig" --sustained-pressure-sec 30
grep -q "Kubernetes API at $KT_BASE" "$WORK/memschedd.log" || fail "memschedd did not say it uses the API"
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
post_report other "$(node_report other $((16 * GiB)) $((3 * GiB)) $((1 * GiB)) $((2 * GiB)) none)"

# metric NAME LABELS: the sample's value in memschedd's /metrics ("" when absent).
metric() {
	http GET /metrics >/dev/null
	local k=$1
	[[ -n $2 ]] && k="$1{$2}"
	awk -v k="$k" '$1 == k {print $2}' "$WORK/body"
}
# wait_metric SECONDS NAME LABELS JQ-CONDITION-ON-.: polls /metrics.
wait_metric() {
	local _ v
	for _ in $(seq $(($1 * 10))); do
		v=$(metric "$2" "$3")
		[[ -n $v ]] && jq -en "$v | $4" >/dev/null && return 0
		sleep 0.1
	done
	fail "after $1 s, $2{$3} is '${v:-absent}', not $4"
}
wait_metric 10 memsched_kubernetes_informer_objects 'resource="nodes"' '. == 6'
wait_metric 10 memsched_kubernetes_informer_objects 'resource="pods"' '. == 3'
wait_metric 5 memsched_kubernetes_views_published_total '' '. >= 1'
pass "memschedd lists and watches the API's nodes (6) and pods (3), and hands placement their view"

# ---- the API's word on placement targets ----
post_report ghost "$(node_report ghost $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
post_report sick "$(node_report sick $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
post_report gpu "$(node_report gpu $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
kcontrol POST /control/nodes "$(kube_test_node sick False)" || fail "control/nodes sick"
kcontrol POST /control/nodes "$(kube_test_node gpu True nvidia.com/gpu)" || fail "control/nodes gpu"
wait_metric 10 memsched_kubernetes_informer_objects 'resource="nodes"' '. == 8'
SMALL=$(k8s_pod small 256Mi "" Burstable rs-small)
for _ in $(seq 20); do # the view is published within SCHED_KUBE_VIEW_DELAY_USEC of the change
	expect 200 POST /extender/filter "$(extender_args "$SMALL" names target ghost sick gpu)"
	jq -e '.FailedAndUnresolvableNodes | has("sick") and has("gpu")' "$WORK/body" >/dev/null && break
	sleep 0.1
done
jqb '.NodeNames == ["target"] and
	.FailedAndUnresolvableNodes.ghost == "memsched: node ghost is not known to the Kubernetes API" and
	.FailedAndUnresolvableNodes.sick == "memsched: node sick is not Ready (Kubernetes API)" and
	.FailedAndUnresolvableNodes.gpu == "memsched: node gpu has taint nvidia.com/gpu=yes:NoSchedule that the pod does not tolerate"'
TOLERANT=$(k8s_pod tolerant 256Mi "" Burstable rs-small | jq -c '.spec.tolerations = [{key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule"}]')
expect 200 POST /extender/filter "$(extender_args "$TOLERANT" names gpu ghost)"
jqb '.NodeNames == ["gpu"] and (.FailedAndUnresolvableNodes | keys) == ["ghost"]'
expect 200 POST /extender/prioritize "$(extender_args "$SMALL" names target ghost sick)"
jqb '(map(select(.Host != "target") | .Score) | max) == 0 and (map(select(.Host == "target"))[0].Score) > 0'
expect 200 POST /v1/placement '{"pod":{"request_bytes":"256Mi"},"nodes":["ghost","target"]}'
jqb '.candidates[0].node == "target" and .candidates[0].fits and (.candidates[1] | .node == "ghost" and (.fits | not) and (.reason | test("not known to the Kubernetes API")))'
pass "reported by their agents, still no target: unknown to the API, not Ready, tainted (a pod that tolerates the taint may go); filter, prioritize and /v1/placement agree"

# A pod the API shows bound to target that target's report does not count yet (the kubelet is
# starting it) is deducted there: 10 GiB available, 2 GiB of it taken.
avail() { # NODE: available_bytes of a 1-byte pod there
	expect 200 POST /v1/placement "{\"pod\":{\"request_bytes\":\"1\"},\"nodes\":[\"$1\"]}"
	jq -r '.candidates[0].available_bytes' "$WORK/body"
}
A0=$(avail target)
kcontrol POST /control/pods "$(api_pod starting uid-starting target | jq -c '.status.phase = "Pending" | .spec.containers[0].resources.requests.memory = "2Gi"')"
for _ in $(seq 30); do
	[[ $(avail target) == $((A0 - 2 * GiB)) ]] && break
	sleep 0.1
done
[[ $(avail target) == $((A0 - 2 * GiB)) ]] || fail "a pod bound by the API and not reported: available $A0 -> $(avail target), expected 2 GiB less"
# Once target reports it, it is counted by the report, not twice.
STARTING='[{"uid":"uid-starting","name":"starting","namespace":"shop","owner_uid":"rs-web","qos":"burstable","priority":0,"request_bytes":2147483648,"limit_bytes":null,"memory":{"working_set_bytes":1048576}}]'
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none 0 false "$STARTING")"
[[ $(avail target) == "$A0" ]] || fail "a reported pod counted twice: $(avail target), expected $A0"
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
curl -s -X DELETE "$KT_CONTROL/control/pods/shop/starting" -o /dev/null
pass "a pod the API shows bound to a node and not yet in its report is deducted there (2 GiB), once"

# ---- bind ----
expect 200 POST /extender/bind '{"PodName":"web-new","PodNamespace":"shop","PodUID":"uid-web-new","Node":"target"}'
jqb '.Error == ""'
[[ $(requests POST /api/v1/namespaces/shop/pods/web-new/binding 201) == 1 ]] ||
	fail "expected exactly one Binding: $(cat "$KT_DIR/rec/requests.log")"
[[ $(kcurl /api/v1/namespaces/shop/pods/web-new) == 200 ]] || fail "GET web-new"
jq -e '.spec.nodeName == "target"' "$KT_DIR/body" >/dev/null || fail "web-new not on target: $(cat "$KT_DIR/body")"
b=$(grep -l '"kind":"Binding"' "$KT_DIR"/rec/*-binding.json | head -1)
jq -e '.metadata == {name: "web-new", namespace: "shop", uid: "uid-web-new"} and .target == {apiVersion: "v1", kind: "Node", name: "target"}' "$b" >/dev/null ||
	fail "Binding body: $(cat "$b")"
pass "a bind creates exactly one Binding, with the UID and the node"

# Issue 15: binds only for pods the API shows Pending. Once the watch has shown web-new bound, a
# second bind is refused by memschedd itself, without a Binding.
for _ in $(seq 50); do
	expect 200 POST /extender/bind '{"PodName":"web-new","PodNamespace":"shop","PodUID":"uid-web-new","Node":"other"}'
	jq -e '.Error | test("already")' "$WORK/body" >/dev/null && break
	sleep 0.1
done
jqb '.Error == "memsched: pod shop/web-new is already bound to node target (Kubernetes API)" or (.Error | test("pods/binding \"web-new\": pod web-new is already assigned to node \"target\""))'
B0=$(grep -c "/binding " "$KT_DIR/rec/requests.log")
expect 200 POST /extender/bind '{"PodName":"web-new","PodNamespace":"shop","PodUID":"uid-web-new","Node":"other"}'
jqb '.Error == "memsched: pod shop/web-new is already bound to node target (Kubernetes API)"'
expect 200 POST /extender/bind '{"PodName":"web-7d9f-xyz12","PodNamespace":"shop","PodUID":"uid-forged","Node":"target"}'
jqb '.Error == "memsched: pod shop/web-7d9f-xyz12 has uid uid-web-7d9f-xyz12 in the Kubernetes API, not uid-forged"'
kcontrol POST /control/pods "$(api_pod finished uid-finished "" | jq -c '.status.phase = "Succeeded"')"
for _ in $(seq 30); do
	expect 200 POST /extender/bind '{"PodName":"finished","PodNamespace":"shop","PodUID":"uid-finished","Node":"target"}'
	jq -e '.Error | test("Succeeded")' "$WORK/body" >/dev/null && break
	sleep 0.1
done
jqb '.Error == "memsched: pod shop/finished is Succeeded in the Kubernetes API, not Pending"'
[[ $(grep -c "/binding " "$KT_DIR/rec/requests.log") == "$B0" ]] || fail "a refused bind sent a Binding: $(grep binding "$KT_DIR/rec/requests.log")"
wait_metric 3 memsched_kubernetes_bind_refusals_total '' '. >= 3' # copied for /metrics every second
# A pod the watch has not shown: one GET, whose 404 is the answer.
expect 200 POST /extender/bind '{"PodName":"gone","PodNamespace":"shop","PodUID":"uid-gone","Node":"target"}'
jqb '.Error == "pods \"gone\" not found"'
[[ $(requests GET /api/v1/namespaces/shop/pods/gone 404) == 1 && $(grep -c "/pods/gone/binding" "$KT_DIR/rec/requests.log") == 0 ]] ||
	fail "a pod the informer does not know: expected one GET and no Binding: $(grep gone "$KT_DIR/rec/requests.log")"
pass "binds only for pods the API shows Pending: already bound, another uid, Succeeded refused with no Binding; an unknown pod checked with one GET (404)"

# ---- migration ----
# The first eviction is refused by a PodDisruptionBudget (429, Retry-After: 3), the next one
# goes through.
kcontrol POST /control/evict-script '{"namespace":"shop","name":"web-7d9f-abcde","answer":"retry-after=3","times":1,"pdb":"web-pdb"}'
HOT_PODS='[{"uid":"victim-uid","name":"web-7d9f-abcde","namespace":"shop","owner_uid":"rs-web","qos":"burstable","priority":0,"request_bytes":1073741824,"limit_bytes":null,"memory":{"working_set_bytes":1073741824}},
 {"uid":"bare-uid","name":"bare","namespace":"shop","owner_uid":null,"qos":"besteffort","priority":0,"request_bytes":0,"limit_bytes":null,"memory":{"working_set_bytes":1048576}}]'
post_report hot "$(node_report hot $((16 * GiB)) $((200 * MiB)) $((100 * MiB)) $((100 * MiB)) critical 45000 true "$HOT_PODS")"
expect 200 GET /v1/migrations
jqb '.migrations | length == 1 and .[0].pod.uid == "victim-uid" and .[0].target_node == "target"'
ID=$(jq -r '.migrations[0].id' "$WORK/body")
pass "plan $ID: the controlled pod moves, the bare pod (no controller) stays"

wait_until 20 /v1/migrations '.migrations[0] | .step == "pending" and .state == "planned" and (.step_message | test("retrying in 3 s: 429 TooManyRequests \\(DisruptionBudget\\)"))'
pass "a 429 from the disruption budget keeps the plan pending: $(jq -r '.migrations[0].step_message' "$WORK/body")"
wait_until 15 /v1/migrations '.migrations[0] | .step == "evicted" and .state == "planned" and .eviction_attempts == 2 and .evicted_at_usec > 0'
ev=/api/v1/namespaces/shop/pods/web-7d9f-abcde/eviction
[[ $(requests POST $ev 429) == 1 && $(requests POST $ev 201) == 1 && $(grep -c " $ev " "$KT_DIR/rec/requests.log") == 2 ]] ||
	fail "expected one 429 then exactly one accepted Eviction: $(grep eviction "$KT_DIR/rec/requests.log")"
for f in "$KT_DIR"/rec/*-eviction.json; do
	jq -e '.deleteOptions.preconditions.uid == "victim-uid" and .metadata.name == "web-7d9f-abcde"' "$f" >/dev/null ||
		fail "eviction without the UID precondition: $(cat "$f")"
done
[[ $(kcurl /api/v1/namespaces/shop/pods/web-7d9f-abcde) == 200 ]] || fail "GET the victim"
jq -e '.metadata.deletionTimestamp != null' "$KT_DIR/body" >/dev/null || fail "the victim is not terminating"
pass "retried after the 429: exactly one accepted Eviction, with the UID precondition"

# The replacement (same controller) is steered to the reserved node, then bound there.
REPL=$(k8s_pod web-7d9f-xyz12 1Gi "" Burstable rs-web)
STRANGER=$(k8s_pod big 9728Mi "" Burstable rs-other)
expect 200 POST /extender/filter "$(extender_args "$STRANGER" names target other)"
jqb '.NodeNames == [] and (.FailedNodes.target | test("insufficient"))'
expect 200 POST /extender/filter "$(extender_args "$REPL" names target other)"
jqb '.NodeNames | index("target") != null'
expect 200 POST /extender/prioritize "$(extender_args "$REPL" names other target)"
jqb '(map(select(.Host == "target"))[0].Score) == 10 and (map(select(.Host == "other"))[0].Score) < 10'
expect 200 POST /extender/bind '{"PodName":"web-7d9f-xyz12","PodNamespace":"shop","PodUID":"uid-web-7d9f-xyz12","Node":"target"}'
jqb '.Error == ""'
[[ $(requests POST /api/v1/namespaces/shop/pods/web-7d9f-xyz12/binding 201) == 1 ]] || fail "the replacement's Binding"
expect 200 GET /v1/migrations
jqb ".migrations[0] | .id == \"$ID\" and .state == \"bound\" and .replacement_pod == \"shop/web-7d9f-xyz12\""
pass "the replacement is steered to the reserved node and its bind completes the migration"

# Each step is an Event on the moved pod.
# Each Event is its own request, and two sent close together may reach the server in either
# order: compared as sorted lists.
reasons() { cat "$KT_DIR"/rec/*-event.json 2>/dev/null | jq -rs '[.[] | select(.regarding.uid == "victim-uid") | .reason] | sort | join(",")'; }
for _ in $(seq 50); do
	[[ $(reasons) == "DisruptionBudget,Evicted,Migrated,Migrating" ]] && break
	sleep 0.1
done
[[ $(reasons) == "DisruptionBudget,Evicted,Migrated,Migrating" ]] || fail "Events on the pod: $(reasons)"
cat "$KT_DIR"/rec/*-event.json | jq -es 'all(.reportingController == "memagent.io/scheduler" and (.reportingInstance | startswith("memschedd-")))' >/dev/null ||
	fail "Events not reported as memschedd's: $(cat "$KT_DIR"/rec/*-event.json | jq -c '[.reportingController, .reportingInstance]')"
pass "an Event per step on the pod: $(reasons)"

# ---- at most maxConcurrentMigrations under way ----
# Two more nodes under pressure; with a limit of 1, the second plan waits until the first one
# is done (its replacement bound), then goes.
stop_memschedd TERM
for p in "a2 a2-uid hot2" "a3 a3-uid hot3" "a2-new uid-a2-new "; do
	read -r name uid node <<<"$p"
	kcontrol POST /control/pods "$(api_pod "$name" "$uid" "$node")"
done
start_memschedd --kubeconfig "$WORK/kubeconfig" --sustained-pressure-sec 30 --max-concurrent-migrations 1
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
post_report other "$(node_report other $((16 * GiB)) $((3 * GiB)) $((1 * GiB)) $((2 * GiB)) none)"
hot_pods() { # NAME UID OWNER
	echo "[{\"uid\":\"$2\",\"name\":\"$1\",\"namespace\":\"shop\",\"owner_uid\":\"$3\",\"qos\":\"burstable\",\"priority\":0,\"request_bytes\":$GiB,\"limit_bytes\":null,\"memory\":{\"working_set_bytes\":$GiB}}]"
}
post_report hot2 "$(node_report hot2 $((16 * GiB)) $((200 * MiB)) $((100 * MiB)) $((100 * MiB)) critical 45000 true "$(hot_pods a2 a2-uid rs-a)")"
post_report hot3 "$(node_report hot3 $((16 * GiB)) $((200 * MiB)) $((100 * MiB)) $((100 * MiB)) critical 45000 true "$(hot_pods a3 a3-uid rs-b)")"
wait_until 10 /v1/migrations '[.migrations[] | select(.pod.uid == "a2-uid")][0].step == "evicted"'
sleep 2 # two more rounds of the API thread: the second plan must still wait
expect 200 GET /v1/migrations
jqb '[.migrations[] | select(.pod.uid == "a3-uid")][0] | .state == "planned" and .step == null'
[[ $(grep -c "/pods/a3/eviction" "$KT_DIR/rec/requests.log") == 0 ]] || fail "a3 evicted beyond the limit"
T2=$(jq -r '[.migrations[] | select(.pod.uid == "a2-uid")][0].target_node' "$WORK/body")
expect 200 POST /extender/filter "$(extender_args "$(k8s_pod a2-new 1Gi "" Burstable rs-a)" names "$T2")"
expect 200 POST /extender/bind "{\"PodName\":\"a2-new\",\"PodNamespace\":\"shop\",\"PodUID\":\"uid-a2-new\",\"Node\":\"$T2\"}"
jqb '.Error == ""'
wait_until 10 /v1/migrations '[.migrations[] | select(.pod.uid == "a3-uid")][0].step == "evicted"'
[[ $(requests POST /api/v1/namespaces/shop/pods/a3/eviction 201) == 1 ]] || fail "a3 not evicted once"
pass "with maxConcurrentMigrations 1 the second plan waited for the first to complete, then went"

# ---- a replacement that never comes ----
stop_memschedd TERM
kcontrol POST /control/pods "$(api_pod a4 a4-uid hot4)"
start_memschedd --kubeconfig "$WORK/kubeconfig" --sustained-pressure-sec 30 --reservation-ttl-sec 5
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
post_report hot4 "$(node_report hot4 $((16 * GiB)) $((200 * MiB)) $((100 * MiB)) $((100 * MiB)) critical 45000 true "$(hot_pods a4 a4-uid rs-c)")"
wait_until 15 /v1/migrations '[.migrations[] | select(.pod.uid == "a4-uid")][0] | .step == "evicted"'
# Restarted between the eviction and the end of the reservation: the new memschedd tells it.
stop_memschedd TERM
L0=$(wc -l <"$WORK/memschedd.log")
start_memschedd --kubeconfig "$WORK/kubeconfig" --sustained-pressure-sec 30 --reservation-ttl-sec 5
tail -n +$((L0 + 1)) "$WORK/memschedd.log" | grep -qE "[1-9][0-9]* migration\(s\) evicted before this start" ||
	fail "the restart did not take up the evicted plan: $(tail -n +$((L0 + 1)) "$WORK/memschedd.log" | head -5)"
wait_until 15 /v1/migrations '[.migrations[] | select(.pod.uid == "a4-uid")][0] | .state == "expired" and .step == "evicted"'
a4_reasons() { cat "$KT_DIR"/rec/*-event.json | jq -rs '[.[] | select(.regarding.uid == "a4-uid") | .reason] | sort | join(",")'; }
for _ in $(seq 30); do
	[[ $(a4_reasons) == "Evicted,Migrating,MigrationExpired" ]] && break
	sleep 0.1
done
[[ $(a4_reasons) == "Evicted,Migrating,MigrationExpired" ]] || fail "Events on a4: $(a4_reasons)"
pass "no replacement within reservationTtlSec, memschedd restarted after the eviction: the plan expires, said in an Event by the new process ($(a4_reasons))"

# ---- 410: the informers list again and go on ----
R0=$(metric memsched_kubernetes_watch_relists_total 'resource="nodes"')
P0=$(metric memsched_kubernetes_watch_relists_total 'resource="pods"')
kcontrol POST /control/expire || fail "expire"
wait_metric 10 memsched_kubernetes_watch_relists_total 'resource="nodes"' ". > $R0"
wait_metric 10 memsched_kubernetes_watch_relists_total 'resource="pods"' ". > $P0"
kcontrol POST /control/nodes "$(kube_test_node late)" || fail "control/nodes late"
post_report late "$(node_report late $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
for _ in $(seq 50); do
	expect 200 POST /extender/filter "$(extender_args "$SMALL" names late)"
	jq -e '.NodeNames == ["late"]' "$WORK/body" >/dev/null && break
	sleep 0.1
done
jqb '.NodeNames == ["late"]'
grep -qE "^GET /api/v1/nodes\?watch=true&resourceVersion=[0-9]+&allowWatchBookmarks=true&timeoutSeconds=[0-9]+ 200$" "$KT_DIR/rec/requests.log" ||
	fail "no node WATCH with bookmarks: $(grep nodes "$KT_DIR/rec/requests.log" | head -5)"
http GET /metrics >/dev/null
grep -qE '^memsched_kubernetes_api_requests_total\{verb="get",code="2xx"\} [1-9]' "$WORK/body" &&
	grep -qE '^memsched_kubernetes_api_requests_total\{verb="create",code="2xx"\} [1-9]' "$WORK/body" &&
	grep -qE '^memsched_kubernetes_informer_last_sync_age_seconds\{resource="nodes"\} [0-9.]+$' "$WORK/body" ||
	fail "API metrics: $(grep memsched_kubernetes "$WORK/body")"
pass "after a 410 both informers listed again (relists counted) and a node added since is a target; requests by verb and code, sync age in /metrics"

V="$SRC/tests/openapi/validate-bodies.mjs"
if command -v node >/dev/null && [ -d "$SRC/tests/openapi/node_modules/kubernetes-models" ]; then
	node "$V" "$KT_DIR/rec" >"$WORK/validate.out" 2>&1 || fail "bodies not valid: $(cat "$WORK/validate.out")"
	pass "every body memschedd sent is valid against the Kubernetes OpenAPI schemas ($(grep -c '^ok' "$WORK/validate.out") bodies)"
elif [ "${CI:-}" = true ]; then
	fail "tests/openapi/node_modules missing under CI=true (scripts/install-deps.sh installs it)"
else
	echo "SKIPPED STEP (loud): OpenAPI validation of the bodies: node or tests/openapi/node_modules missing"
fi

stop_memschedd TERM
grep -q "Received SIGTERM, stopping" "$WORK/memschedd.log" || fail "memschedd did not stop cleanly"
pass "memschedd stops cleanly with its API thread"
