#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A node under sustained pressure gets a migration plan with a reservation on a target; the
# plan survives a crash (SIGKILL) and a clean restart of memschedd, keeps steering the
# replacement pod to the target, and completes when the replacement is bound there.
source "$(dirname "$0")/lib.sh"

HOT_PODS='[{"uid":"victim-uid","name":"web-7d9f-abcde","namespace":"shop","owner_uid":"rs-web","qos":"burstable","priority":0,"request_bytes":1073741824,"limit_bytes":null,"memory":{"working_set_bytes":1073741824}},
 {"uid":"db-uid","name":"db-0","namespace":"shop","owner_uid":"sts-db","qos":"guaranteed","memory":{"working_set_bytes":4294967296}}]'

start_memschedd --sustained-pressure-sec 30
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
post_report other "$(node_report other $((16 * GiB)) $((3 * GiB)) $((1 * GiB)) $((2 * GiB)) none)"
# Pressure not yet sustained long enough: no plan.
post_report hot "$(node_report hot $((16 * GiB)) $((200 * MiB)) $((100 * MiB)) $((100 * MiB)) critical 10000 true "$HOT_PODS")"
expect 200 GET /v1/migrations
jqb '.migrations == []'
post_report hot "$(node_report hot $((16 * GiB)) $((200 * MiB)) $((100 * MiB)) $((100 * MiB)) critical 45000 true "$HOT_PODS")"
expect 200 GET /v1/migrations
jqb '.migrations | length == 1'
jqb '.migrations[0] | .state == "planned" and .source_node == "hot" and .target_node == "target" and .pod.uid == "victim-uid" and .reservation_bytes == 1073741824 and (.reason | test("critical"))'
ID=$(jq -r '.migrations[0].id' "$WORK/body")
pass "sustained pressure with relief exhausted: plan $ID (the Guaranteed pod stays)"

# Crash: nothing but the SQLite file remains.
stop_memschedd KILL
start_memschedd --sustained-pressure-sec 30
expect 200 GET /v1/migrations
jqb ".migrations | length == 1 and .[0].id == \"$ID\" and .[0].state == \"planned\""
expect 200 GET /v1/nodes
# On SQLite reports are memory only; on etcd they are shared soft state that outlives a replica
# (sched_restart_etcd.sh sets NODES_AFTER_CRASH).
jqb ".node_count == ${NODES_AFTER_CRASH:-0}"
pass "after SIGKILL: plan and reservation back before any new report (${NODES_AFTER_CRASH:-0} nodes known)"

# Reports come back; the reservation is held on the target.
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
post_report other "$(node_report other $((16 * GiB)) $((3 * GiB)) $((1 * GiB)) $((2 * GiB)) none)"
expect 200 GET /v1/nodes/target
jqb ".reservation_bytes == $GiB and .allocatable_bytes == $((9 * GiB))"

# A stranger asking for 9.5 GiB no longer fits the target; the replacement (same controller) is
# steered there with the top score.
STRANGER=$(k8s_pod big 9728Mi "" Burstable rs-other)
expect 200 POST /extender/filter "$(extender_args "$STRANGER" names target other)"
jqb '.NodeNames == [] and (.FailedNodes.target | test("insufficient"))'
REPL=$(k8s_pod web-7d9f-xyz12 1Gi "" Burstable rs-web)
expect 200 POST /extender/prioritize "$(extender_args "$REPL" names other target)"
jqb '(map(select(.Host == "target"))[0].Score) == 10 and (map(select(.Host == "other"))[0].Score) < 10'
expect 200 POST /v1/placement '{"pod":{"request_bytes":"1Gi","namespace":"shop","owner_uid":"rs-web"}}'
jqb ".candidates[0].node == \"target\" and (.candidates[0].reason | test(\"$ID\"))"
pass "reservation held: strangers kept off, the replacement steered to the target"

# Clean restart, then the replacement is bound: the migration completes, durably.
stop_memschedd TERM
start_memschedd --sustained-pressure-sec 30
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
expect 200 POST /extender/filter "$(extender_args "$REPL" names target)"
jqb '.NodeNames == ["target"]'
expect 200 POST /extender/bind '{"PodName":"web-7d9f-xyz12","PodNamespace":"shop","PodUID":"uid-web-7d9f-xyz12","Node":"target"}'
jqb '.Error == ""'
expect 200 GET /v1/migrations?state=bound
jqb ".migrations | length == 1 and .[0].id == \"$ID\" and .[0].replacement_pod == \"shop/web-7d9f-xyz12\""
stop_memschedd TERM
start_memschedd
expect 200 GET /v1/migrations
jqb ".migrations[0].state == \"bound\" and ([.migrations[] | select(.state == \"planned\")] | length) == 0"
pass "replacement bound on the target: migration done, and still done after a restart"
