#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# kube_contract: memagentd with --kubeconfig against a TEST API server (kube-test-apiserver), not
# a live cluster, on a copy of the guest's captured cgroup tree (pressure is induced through the
# copy's /proc/meminfo; the cgroups' files are plain files, so no process is ever signalled).
# Checks that memagentd:
#   - lists and watches its node's pods (readyz turns 200 once listed), and names them
#     namespace/name with their priority in `memagent status`;
#   - at level medium evicts through the Eviction API with the pod's UID as a precondition; a 429
#     (PodDisruptionBudget) on the first candidate moves to the next one in the same decision, and
#     `memagent explain` shows the API's answers;
#   - with the API server down at level critical, still kills through the cgroup, and sends the
#     eviction once the server is back;
#   - records Events for what it did; counts API requests by verb and code in /metrics;
#   - sends only bodies the official Kubernetes OpenAPI schemas accept (tests/openapi).
set -euo pipefail
MEMAGENTD=${1:?usage: $0 MEMAGENTD MEMAGENT KUBE_TEST_APISERVER SOURCE_DIR}
MEMAGENT=${2:?}
KT_BIN=${3:?}
SRC=${4:?}
WORK_NAME=kube-contract-agent
. "$SRC/tests/integration/agent-lib.sh"
for tool in curl openssl; do
	command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
echo "kube_contract: memagentd against a TEST API server (kube-test-apiserver), not a live cluster"
KT_DIR=$WORK/kt
mkdir -p "$KT_DIR/rec"
. "$SRC/tests/kube-apiserver/kube-test-lib.sh"
trap 'kube_test_stop KILL; cleanup' EXIT

find "$WORK/cg" -name cgroup.procs -exec truncate -s 0 {} +
find "$WORK/cg" -name cgroup.events -execdir touch cgroup.kill cgroup.freeze \;

# The fixture's pods, as the API server knows them: uid from the slice name, QoS from its parent.
NODE=it-kube-node
pods_json() {
	local n=0
	find "$WORK/cg" -type d -name '*-pod*.slice' | sort | while read -r d; do
		local base uid qos
		base=$(basename "$d" .slice)
		uid=$(echo "${base##*-pod}" | tr _ -)
		case $base in
		*besteffort*) qos=BestEffort ;;
		*burstable*) qos=Burstable ;;
		*) qos=Guaranteed ;;
		esac
		jq -n --arg uid "$uid" --arg qos "$qos" --arg node "$NODE" --argjson i "$n" '{
			metadata: {name: "pod-\($qos | ascii_downcase)-\($i)", namespace: "shop", uid: $uid,
				ownerReferences: [{apiVersion: "apps/v1", kind: "ReplicaSet", name: "rs-\($i)",
					uid: "rs-uid-\($i)", controller: true}]},
			spec: {nodeName: $node, priority: (100 * $i),
				containers: [{name: "main", image: "registry.k8s.io/pause:3.10",
					resources: (if $qos == "BestEffort" then {}
						elif $qos == "Burstable" then {requests: {memory: "16Mi"}, limits: {memory: "512Mi"}}
						else {requests: {memory: "64Mi", cpu: "100m"}, limits: {memory: "64Mi", cpu: "100m"}} end)}]},
			status: {phase: "Running", qosClass: $qos}}'
		n=$((n + 1))
	done | jq -s '{kind: "PodList", apiVersion: "v1", metadata: {}, items: .}'
}
pods_json >"$KT_DIR/pods.json"
npods=$(jq '.items | length' "$KT_DIR/pods.json")
[ "$npods" = 4 ] || fail "expected the fixture's 4 pods, found $npods"
be_uid=$(jq -r '.items[] | select(.status.qosClass == "BestEffort") | .metadata.uid' "$KT_DIR/pods.json")
be_name=$(jq -r '.items[] | select(.status.qosClass == "BestEffort") | .metadata.name' "$KT_DIR/pods.json")

echo "token-1" >"$KT_DIR/token"
echo "token-1" >"$WORK/client-token"
kube_test_certs || fail "openssl could not make the certificates"
kube_test_start || fail "kube-test-apiserver did not start: $(cat "$KT_DIR/apiserver.log")"
PORT=$(cat "$KT_DIR/port")
kube_test_kubeconfig "$WORK/kubeconfig" agent client-token

"$MEMAGENTD" --cgroup-root "$WORK/cg" --proc-root "$WORK/proc" --sys-root "$WORK/sys" \
	--api-socket "$WORK/api.sock" --state-directory= --bpf-enabled=false --balloon-enabled=false \
	--sample-interval 200ms --kill-cooldown 2s --grace-period 1s --node-name "$NODE" \
	--kubeconfig "$WORK/kubeconfig" --metrics-address 127.0.0.1:0 >"$WORK/agent.log" 2>&1 &
PID=$!
agent_wait_metrics_port 200
MBASE=http://127.0.0.1:$MPORT

ready=
for _ in $(seq 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$MBASE/readyz")" = 200 ] && { ready=1; break; }
	sleep 0.1
done
[ -n "$ready" ] || fail "/readyz never 200 after the pods were listed"
grep -q "GET /api/v1/pods?fieldSelector=spec.nodeName%3D$NODE" "$KT_DIR/rec/requests.log" ||
	fail "no LIST of this node's pods: $(cat "$KT_DIR/rec/requests.log")"
pass "memagentd listed its node's pods from the test API server; /readyz 200"

status() { "$MEMAGENT" status --api-socket "$WORK/api.sock" --output json; }
for _ in $(seq 50); do
	status >"$WORK/status.json"
	[ "$(jq '[.pods[] | select(.namespace == "shop")] | length' "$WORK/status.json")" = 4 ] && break
	sleep 0.1
done
[ "$(jq -r --arg u "$be_uid" '.pods[] | select(.uid == $u) | "\(.namespace)/\(.name)"' "$WORK/status.json")" = "shop/$be_name" ] ||
	fail "status does not name the BestEffort pod shop/$be_name: $(jq -c '.pods' "$WORK/status.json")"
[ "$(jq -r '.kubernetes.pods_listed' "$WORK/status.json")" = true ] || fail "status: pods not listed: $(jq -c .kubernetes "$WORK/status.json")"
pass "memagent status names every pod namespace/name with its priority, and shows the API"

# The kubelet's answer to a resize arrives as a pod condition through the watch.
kcontrol POST /control/resize-condition "{\"namespace\":\"shop\",\"name\":\"$be_name\",\"type\":\"PodResizePending\",\"reason\":\"Infeasible\",\"message\":\"Node didn't have enough capacity: memory\"}" ||
	fail "control resize-condition"
ok=
for _ in $(seq 50); do
	grep -q "resize of shop/$be_name is infeasible: Node didn't have enough capacity: memory" "$WORK/agent.log" && { ok=1; break; }
	sleep 0.1
done
[ -n "$ok" ] || fail "memagentd did not say that the resize is infeasible"
pass "a PodResizePending Infeasible condition from the watch is reported"

# Level medium (below 10% of MemTotal available, above 5%): the BestEffort pod goes first, but a
# PodDisruptionBudget protects it (429): the next candidate is evicted in the same decision.
kcontrol POST /control/evict-script "{\"namespace\":\"shop\",\"name\":\"$be_name\",\"answer\":\"pdb\",\"times\":0}" ||
	fail "control evict-script"
sed -i 's/^MemAvailable:.*/MemAvailable:      70000 kB/' "$WORK/proc/meminfo"
ok=
for _ in $(seq 100); do
	sleep 0.2
	grep -q "^POST /api/v1/namespaces/shop/pods/[^/]*/eviction 201" "$KT_DIR/rec/requests.log" && { ok=1; break; }
done
[ -n "$ok" ] || fail "no eviction accepted: $(cat "$KT_DIR/rec/requests.log")"
grep -q "^POST /api/v1/namespaces/shop/pods/$be_name/eviction 429" "$KT_DIR/rec/requests.log" ||
	fail "the BestEffort pod was not tried first: $(grep eviction "$KT_DIR/rec/requests.log")"
second=$(sed -n 's|^POST /api/v1/namespaces/shop/pods/\([^/]*\)/eviction 201.*|\1|p' "$KT_DIR/rec/requests.log" | head -1)
[ "$second" != "$be_name" ] || fail "the PDB-protected pod was evicted"
first_line=$(grep -n "eviction 429" "$KT_DIR/rec/requests.log" | head -1 | cut -d: -f1)
second_line=$(grep -n "eviction 201" "$KT_DIR/rec/requests.log" | head -1 | cut -d: -f1)
[ "$first_line" -lt "$second_line" ] || fail "429 was not before the 201"
second_uid=$(jq -r --arg n "$second" '.items[] | select(.metadata.name == $n) | .metadata.uid' "$KT_DIR/pods.json")
body=$(grep -l "\"name\": *\"$second\"" "$KT_DIR"/rec/*-eviction.json | head -1)
[ -n "$body" ] || fail "no recorded Eviction body for $second"
[ "$(jq -r '.deleteOptions.preconditions.uid' "$body")" = "$second_uid" ] ||
	fail "the Eviction's UID precondition is not the pod's: $(cat "$body")"
"$MEMAGENT" explain --api-socket "$WORK/api.sock" --output json >"$WORK/explain.json"
jq -e '[.decisions[] | .api // "" | select(test("429"))] | length >= 1' "$WORK/explain.json" >/dev/null ||
	fail "explain does not show the 429: $(jq -c '[.decisions[] | {victim: .victim.name, api, outcome}]' "$WORK/explain.json")"
pass "PDB 429 on shop/$be_name, then shop/$second evicted through the Eviction API with its UID precondition; explain shows the 429"
sed -i 's/^MemAvailable:.*/MemAvailable:      776448 kB/' "$WORK/proc/meminfo"
# The kubelet removes the evicted pod's cgroups (here: the copy's directory goes).
rm -rf "$(find "$WORK/cg" -type d -name "*-pod$(echo "$second_uid" | tr - _).slice")"
for _ in $(seq 100); do
	[ "$(status | jq --arg u "$second_uid" '[.pods[] | select(.uid == $u)] | length')" = 0 ] && break
	sleep 0.2
done
[ "$(status | jq --arg u "$second_uid" '[.pods[] | select(.uid == $u)] | length')" = 0 ] ||
	fail "the evicted pod's cgroup is gone but memagentd still lists it"
sleep 3 # the cooldown runs out at level none

# The API server goes away; the node reaches critical: the cgroup kill does not wait for it.
kube_test_stop TERM
kills0=$(status | jq .daemon.kills_total)
sed -i 's/^MemAvailable:.*/MemAvailable:      10000 kB/' "$WORK/proc/meminfo"
ok=
for _ in $(seq 100); do
	sleep 0.2
	[ "$(status | jq .daemon.kills_total)" -gt "$kills0" ] && { ok=1; break; }
done
[ -n "$ok" ] || fail "no cgroup kill at critical with the API server down"
pass "API server down, level critical: killed through the cgroup ($kills0 -> $(status | jq .daemon.kills_total) kills)"
sed -i 's/^MemAvailable:.*/MemAvailable:      776448 kB/' "$WORK/proc/meminfo"
# The restarted server records afresh: keep the first run's records for the OpenAPI check.
mv "$KT_DIR/rec" "$KT_DIR/rec-first"
mkdir "$KT_DIR/rec"
kube_test_start --port "$PORT" || fail "kube-test-apiserver did not come back on port $PORT"
ok=
for _ in $(seq 200); do
	sleep 0.2
	grep -q "^POST /api/v1/namespaces/shop/pods/[^/]*/eviction \(201\|404\|409\)" "$KT_DIR/rec/requests.log" 2>/dev/null && { ok=1; break; }
done
[ -n "$ok" ] || fail "the eviction of the pod killed while the API was down never came: $(cat "$KT_DIR/rec/requests.log")"
pass "the API server back: the killed pod's eviction was sent ($(grep eviction "$KT_DIR/rec/requests.log" | tail -1))"

# Events: sent for the evictions and the kill (those made while the server was down arrive late).
# The kill's Event found the API down: it is kept and sent once the server answers again.
ok=
for _ in $(seq 150); do
	if ls "$KT_DIR"/rec/*-event.json >/dev/null 2>&1 &&
		jq -e -s 'map(select(.reason == "MemoryPressureKill")) | length >= 1' "$KT_DIR"/rec/*-event.json >/dev/null; then
		ok=1
		break
	fi
	sleep 0.2
done
[ -n "$ok" ] || fail "the kill's Event (made while the API was down) never arrived: $(cat "$KT_DIR/rec/requests.log")"
jq -e -s 'map(select(.reportingController == "memagent.io/agent" and .regarding.kind == "Pod")) | length >= 1' \
	"$KT_DIR"/rec*/*-event.json >/dev/null || fail "Events without reportingController/regarding"
pass "Events recorded: $(jq -r -s 'map(.reason) | join(", ")' "$KT_DIR"/rec*/*-event.json)"

curl -fsS "$MBASE/metrics" >"$WORK/metrics.txt" || fail "GET /metrics"
grep -q '^memagent_kubernetes_api_requests_total{verb="list",code="200"} [1-9]' "$WORK/metrics.txt" ||
	fail "API LISTs not counted: $(grep kubernetes_api "$WORK/metrics.txt")"
grep -q '^memagent_kubernetes_api_requests_total{verb="create",code="201"} [1-9]' "$WORK/metrics.txt" ||
	fail "the 201s not counted: $(grep kubernetes_api "$WORK/metrics.txt")"
grep -q '^memagent_kubernetes_api_requests_total{verb="create",code="429"} [1-9]' "$WORK/metrics.txt" ||
	fail "the 429 not counted: $(grep kubernetes_api "$WORK/metrics.txt")"
pass "/metrics counts API requests by verb and code"

V="$SRC/tests/openapi/validate-bodies.mjs"
if command -v node >/dev/null && [ -d "$SRC/tests/openapi/node_modules/kubernetes-models" ]; then
	for d in "$KT_DIR/rec-first" "$KT_DIR/rec"; do
		node "$V" "$d" >>"$WORK/validate.out" 2>&1 || fail "bodies not valid: $(cat "$WORK/validate.out")"
	done
	pass "every body memagentd sent is valid against the Kubernetes OpenAPI schemas ($(grep -c '^ok' "$WORK/validate.out") bodies)"
elif [ "${CI:-}" = true ]; then
	fail "tests/openapi/node_modules missing under CI=true (scripts/install-deps.sh installs it)"
else
	echo "SKIPPED STEP (loud): OpenAPI validation of the bodies: node or tests/openapi/node_modules missing"
fi

kill -TERM "$PID"
wait "$PID" || fail "memagentd exited $? on SIGTERM"
PID=
pass "memagentd stopped cleanly"
