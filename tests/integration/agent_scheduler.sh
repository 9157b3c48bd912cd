#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Several real memagentd processes (each on its own copy of a cgroup tree captured from the
# guest kernel: two with the systemd driver, one with cgroupfs) report to one real memschedd on
# loopback with --scheduler-url. Checks: every node appears with the pods its tree holds; the
# extender, in node-names mode, places a pod on those nodes using what they reported; memschedd
# goes down and the agents keep serving their local API (and say memschedd is unreachable); it
# comes back on the same port and the reports arrive again.
: "${4:?usage: $0 MEMSCHEDD SOURCE_DIR MEMAGENTD MEMAGENT}"
# shellcheck source=agents-lib.sh
. "$(dirname "$0")/agents-lib.sh" "$@"

start_memschedd
PORT0=$PORT

# agent NAME TREE: memagentd on a private copy of tests/fixtures/guest/TREE, in $WORK/NAME
agent() { AGENT_TREE=$2 start_agent "$1" "$1" --metrics-address=127.0.0.1:0; }
agent it-node-a systemd
agent it-node-b systemd
agent it-node-c cgroupfs

# 1. Every node reports, with the pods of its tree.
for n in it-node-a it-node-b it-node-c; do
	wait_get "/v1/nodes/$n" || { cat "$WORK/$n/agent.log" >&2; fail "node $n never reported"; }
	pods=$(jq '.pods | length' "$WORK/body")
	[[ $pods == 4 ]] || fail "node $n reported $pods pods, its tree holds 4"
	avail=$(jq '.numa | map(.free_bytes) | add' "$WORK/body" 2>/dev/null || echo "?")
	pass "node $n reported 4 pods (NUMA free $avail)"
done
expect 200 GET /v1/nodes
n=$(jq '[.nodes[] | select(.name | startswith("it-node-"))] | length' "$WORK/body")
[[ $n == 3 ]] || fail "GET /v1/nodes lists $n of the 3 agents"
pass "GET /v1/nodes lists all three agents"

# 2. The extender places a small pod on the reporting nodes; a pod larger than any node's
#    reported memory fits nowhere.
args=$(extender_args "$(k8s_pod small 64Mi 64Mi Guaranteed)" names it-node-a it-node-b it-node-c)
expect 200 POST /extender/filter "$args"
fit=$(jq '.NodeNames | length' "$WORK/body")
[[ $fit == 3 ]] || fail "a 64Mi pod fits $fit of 3 nodes: $(cat "$WORK/body")"
args=$(extender_args "$(k8s_pod huge 64Gi 64Gi Guaranteed)" names it-node-a it-node-b it-node-c)
expect 200 POST /extender/filter "$args"
fit=$(jq '.NodeNames | length' "$WORK/body")
[[ $fit == 0 ]] || fail "a 64Gi pod fits $fit nodes that reported under 1 GiB"
pass "filter: 64Mi fits all three reported nodes, 64Gi none"

# 3. memschedd goes away: the agents keep protecting (their API answers) and say so.
stop_memschedd
sleep 2.5
for n in it-node-a it-node-c; do
	"$MEMAGENT" status --api-socket "$WORK/$n/api.sock" --output json >"$WORK/st.json" ||
		fail "agent $n stopped answering while memschedd was down"
	jq -e '.scheduler.reachable == false and .scheduler.failed > 0' "$WORK/st.json" >/dev/null ||
		fail "agent $n does not say memschedd is unreachable: $(jq -c .scheduler "$WORK/st.json")"
done
grep -q "unreachable" "$WORK/it-node-a/agent.log" || fail "no log line about memschedd being unreachable"
lines=$(grep -c "unreachable" "$WORK/it-node-a/agent.log")
[[ $lines == 1 ]] || fail "the unreachable state was logged $lines times, not once"
pass "memschedd down: agents answer, report it unreachable, logged once"

# 4. memschedd comes back on the same port: the reports arrive again (state is soft).
rm -f "$WORK/state.db"
"$MEMSCHEDD" --listen "127.0.0.1:$PORT0" --state-file "$WORK/state.db" >>"$WORK/memschedd.log" 2>&1 &
PID=$!
for n in it-node-a it-node-b it-node-c; do
	wait_get "/v1/nodes/$n" 150 || fail "node $n did not report again after memschedd came back"
done
grep -q "reachable again" "$WORK/it-node-a/agent.log" || fail "no log line about memschedd being back"
pass "memschedd back: all three nodes reported again"
for a in "${AGENTS[@]}"; do kill -0 "$a" || fail "an agent died"; done
echo "1 passed, 0 failed"
