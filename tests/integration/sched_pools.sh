#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The lease broker against the real memschedd: donors offer pool memory, a consumer leases,
# renews and releases it, a short pool refuses, a withdrawn donor revokes its slabs (the epoch
# grows, the renewal re-grants them elsewhere), an unrenewed lease expires; offers and leases
# survive a SIGKILL of memschedd. Every answer is validated against api/openapi.yaml.
source "$(dirname "$0")/lib.sh"

need_python_yaml

# valid SCHEMA: the last body validates against components/schemas/SCHEMA of the document,
# with the checker's own validator (openapi_check.py).
valid() {
        "$PY" - "$SRC/api/openapi.yaml" "$1" "$WORK/body" <<'PYEOF' || fail "answer is not a valid $1: $(head -c 600 "$WORK/body")"
import json, sys
sys.path.insert(0, sys.argv[1].rsplit("/api/", 1)[0] + "/tests/integration")
import yaml
import openapi_check
doc = yaml.safe_load(open(sys.argv[1]))
errs = []
openapi_check.validate(doc, {"$ref": "#/components/schemas/" + sys.argv[2]},
                       json.load(open(sys.argv[3])), "", errs)
for e in errs:
    print(e, file=sys.stderr)
sys.exit(1 if errs else 0)
PYEOF
}

# err STATUS METHOD PATH BODY FIELD: an ErrorReply naming FIELD.
err() {
        local status=$1 method=$2 path=$3 body=$4 field=$5
        expect "$status" "$method" "$path" "$body"
        valid ErrorReply
        jqb ".field == \"$field\""
}

offer() { # NODE SLABS PORT
        echo "{\"bytes\":$(($2 * GiB)),\"slab_bytes\":$GiB,\"transports\":[{\"kind\":\"tcp\",\"address\":\"127.0.0.1\",\"port\":$3},{\"kind\":\"rdma\",\"address\":\"10.9.0.1\",\"port\":7471}]}"
}

start_memschedd
expect 201 PUT /v1/pools/d1 "$(offer d1 4 7001)"
valid PoolDonorGrants
jqb '.slabs == 4 and .free_slabs == 4 and .grants == []'
expect 201 PUT /v1/pools/d2 "$(offer d2 4 7002)"
expect 200 PUT /v1/pools/d1 "$(offer d1 4 7001)"
valid PoolDonorGrants
expect 200 GET /v1/pools
valid PoolList
jqb ".donor_count == 2 and .offered_bytes == $((8 * GiB)) and .free_bytes == $((8 * GiB))"
pass "two donors offer 4 GiB each; a renewal answers 200"

# Bad input names the field; unknown leases are 404.
err 400 PUT /v1/pools/d3 "{\"bytes\":$GiB,\"slab_bytes\":1000,\"transports\":[]}" slab_bytes
err 400 PUT /v1/pools/d3 "{\"bytes\":$GiB,\"slab_bytes\":$GiB,\"transports\":[{\"kind\":\"ib\",\"address\":\"a\",\"port\":1}]}" 'transports[0].kind'
err 400 PUT /v1/pools/d3 "{\"node\":\"d4\",\"bytes\":$GiB,\"slab_bytes\":$GiB,\"transports\":[{\"kind\":\"tcp\",\"address\":\"a\",\"port\":1}]}" node
err 400 POST /v1/leases '{"node":"c1","bytes":"2Gi","ttl_seconds":30}' bytes
err 400 POST /v1/leases '{"bytes":1,"ttl_seconds":30}' node
err 400 POST /v1/leases '{"node":"c1","bytes":1,"ttl_seconds":86401}' ttl_seconds
err 404 GET /v1/leases/no-such-lease '' id
err 404 POST /v1/leases/no-such-lease/renew '' id
err 404 DELETE /v1/leases/no-such-lease '' id
err 400 GET /v1/leases/Not_A_Label '' id
err 404 DELETE /v1/pools/d9 '' node
expect 405 PUT /v1/leases '{}'
pass "bad input: 400 naming the field; unknown lease or donor: 404"

# A durable lease: two replicas of every chunk on two different donors, with tokens.
expect 201 POST /v1/leases '{"node":"c1","bytes":2147483648,"ttl_seconds":60}'
valid Lease
jqb '.state == "active" and .durable and .epoch == 1 and (.slabs | length) == 4'
jqb '[.slabs | group_by(.chunk)[] | map(.donor) | unique | length] == [2, 2]'
jqb '[.slabs[].token | test("^[0-9a-f]{32}$")] | all'
jqb '[.slabs[] | .transport == "rdma" and .address == "10.9.0.1"] | all'
LEASE=$(jq -r .id "$WORK/body")
TOKENS=$(jq -c '[.slabs[].token]' "$WORK/body")
EXPIRES=$(jq .expires_at_usec "$WORK/body")
expect 200 GET "/v1/leases/$LEASE"
valid Lease
jqb '[.slabs[].token == null] | all'
expect 200 GET /v1/leases
valid LeaseList
jqb ".lease_count == 1 and .leases[0].id == \"$LEASE\" and .leases[0].slabs[0].token == null"
# The donors learn their grants (token and epoch) from their own offer's answer.
expect 200 PUT /v1/pools/d1 "$(offer d1 4 7001)"
valid PoolDonorGrants
jqb "(.grants | length) == 2 and all(.grants[]; .lease == \"$LEASE\" and .epoch == 1 and .consumer == \"c1\")"
jqb ".free_slabs == 2 and .leased_bytes == $((2 * GiB))"
pass "durable lease $LEASE: replicas on two donors, tokens only to the consumer and the donors"

# Idempotent create with an id; another node may not take that id.
expect 201 POST /v1/leases '{"id":"swap-c2","node":"c2","bytes":1073741824,"ttl_seconds":60,"durable":false}'
valid Lease
expect 200 POST /v1/leases '{"id":"swap-c2","node":"c2","bytes":1073741824,"ttl_seconds":60,"durable":false}'
valid Lease
err 409 POST /v1/leases '{"id":"swap-c2","node":"c3","bytes":1073741824,"ttl_seconds":60}' id
# The pool is short: 507, nothing granted.
err 507 POST /v1/leases '{"node":"c1","bytes":4294967296,"ttl_seconds":60}' bytes
jqb '.error | test("free")'
expect 200 GET /v1/pools
valid PoolList
jqb ".leased_bytes == $((5 * GiB)) and .free_bytes == $((3 * GiB))"
pass "create with an id is idempotent; a short pool answers 507 and grants nothing"

# Renew extends.
sleep 1
expect 200 POST "/v1/leases/$LEASE/renew"
valid Lease
jqb ".expires_at_usec > $EXPIRES and .epoch == 1 and [.slabs[].token] == $TOKENS"
pass "renewal extends the lease and keeps its tokens"

# Crash: the store alone brings back offers and leases, tokens and all.
stop_memschedd KILL
start_memschedd
expect 200 GET /v1/pools
valid PoolList
jqb ".donor_count == 2 and .leased_bytes == $((5 * GiB))"
expect 200 GET "/v1/leases/$LEASE"
valid Lease
jqb '.state == "active" and .epoch == 1'
expect 200 POST "/v1/leases/$LEASE/renew"
jqb "[.slabs[].token] == $TOKENS"
pass "after SIGKILL: offers and leases back from the store, same tokens"

# A third donor, then d2 withdraws: its slabs are revoked (epoch 2); the renewal shows the
# revoked replicas and re-grants them on d3 (epoch 3), away from the surviving replica.
expect 201 PUT /v1/pools/d3 "$(offer d3 4 7003)"
expect 200 GET "/v1/leases/$LEASE"
HELD=$(jq '[.slabs[] | select(.donor == "d2")] | length' "$WORK/body")
expect 200 DELETE /v1/pools/d2
jqb ".node == \"d2\" and .revoked_slabs >= $HELD"
expect 200 GET "/v1/leases/$LEASE"
jqb ".epoch == $((HELD > 0 ? 2 : 1)) and ([.slabs[] | select(.revoked)] | length) == $HELD"
# The consumer's next report answer already tells it.
expect 200 POST /v1/nodes/c1/report "$(node_report c1 $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
valid NodeReportAck
jqb ".leases | map(select(.id == \"$LEASE\"))[0] | .state == \"active\" and .revoked_slabs == $HELD and .epoch == 2"
expect 200 POST "/v1/leases/$LEASE/renew"
valid Lease
if ((HELD > 0)); then
        jqb '.epoch == 3 and ([.slabs[] | select(.revoked and .donor == "d2")] | length) > 0'
        jqb '[.slabs[] | select(.revoked | not)] | group_by(.chunk) | map(map(.donor) | unique | length) == [2, 2]'
        jqb '[.slabs[] | select(.revoked | not) | .donor] | index("d2") == null'
fi
expect 200 POST "/v1/leases/$LEASE/renew"
jqb '([.slabs[] | select(.revoked)] | length) == 0 and (.slabs | length) == 4'
pass "withdrawal revoked $HELD slab(s) of $LEASE; renewal re-granted them on other donors"

# An unrenewed lease expires; the consumer learns it from its renewal.
expect 201 POST /v1/leases '{"node":"c4","bytes":1073741824,"ttl_seconds":1,"durable":false}'
SHORT=$(jq -r .id "$WORK/body")
sleep 2
expect 200 POST "/v1/leases/$SHORT/renew"
valid Lease
jqb '.state == "expired" and ([.slabs[].revoked] | all) and .epoch == 2'
err 507 POST /v1/leases "{\"node\":\"c1\",\"bytes\":$((64 * GiB)),\"ttl_seconds\":60}" bytes
curl -fsS "$BASE/metrics" >"$WORK/metrics"
grep -q '^memsched_lease_expirations_total 1$' "$WORK/metrics" || fail "expiration not counted"
grep -q '^memsched_pool_donors 2$' "$WORK/metrics" || fail "donors gauge wrong"
grep -q '^memsched_leases_active 2$' "$WORK/metrics" || fail "active leases gauge wrong"
grep -Eq '^memsched_lease_revocations_total [1-9]' "$WORK/metrics" || fail "revocations not counted"
expect 200 GET /v1/pools
grep -q "^memsched_pool_leased_bytes $(jq .leased_bytes "$WORK/body")$" "$WORK/metrics" ||
        fail "leased bytes differ between /metrics and GET /v1/pools"
grep -q "^memsched_pool_free_bytes $(jq .free_bytes "$WORK/body")$" "$WORK/metrics" ||
        fail "free bytes differ between /metrics and GET /v1/pools"
grep -q '^memsched_http_requests_total{route="leases",code="507"} 1$' "$WORK/metrics" ||
        fail "507 not counted under its own code"
pass "an unrenewed lease expires, its renewal says so; /metrics has the pool figures"

# Placement: a pod that does not fit a node's memory fits it with a lease of the shortfall,
# when the pools hold that twice (durable); not a Guaranteed pod, nor a node under pressure.
post_report small "$(node_report small $((8 * GiB)) $((2 * GiB)) $GiB $GiB none)"
post_report hot "$(node_report hot $((8 * GiB)) $((2 * GiB)) $GiB $GiB medium)"
expect 200 GET /v1/pools
FREE=$(jq .free_bytes "$WORK/body")
expect 200 POST /v1/placement "{\"pod\":{\"request_bytes\":$((3 * GiB)),\"qos\":\"burstable\"},\"nodes\":[\"small\",\"hot\"]}"
valid PlacementResponse
jqb ".pool_free_bytes == $FREE"
jqb '.candidates[] | select(.node == "small") | .fits == false and .lease_bytes == 1073741824'
jqb '.candidates[] | select(.node == "hot") | .fits == false and .lease_bytes == null'
expect 200 POST /v1/placement "{\"pod\":{\"request_bytes\":$((3 * GiB)),\"qos\":\"guaranteed\",\"numa_policy\":\"any\"},\"nodes\":[\"small\"]}"
jqb '.candidates[0].lease_bytes == null'
expect 200 POST /v1/placement "{\"pod\":{\"request_bytes\":$GiB},\"nodes\":[\"small\"]}"
jqb '.candidates[0].fits and .candidates[0].lease_bytes == 0'
pass "placement: fits small only with 1 GiB leased ($FREE bytes free in the pools)"

# Release: gone, its slabs free again.
expect 200 DELETE "/v1/leases/$LEASE"
jqb ".id == \"$LEASE\" and .released"
err 404 GET "/v1/leases/$LEASE" '' id
expect 200 GET /v1/pools
jqb ".leased_bytes <= $((1 * GiB))" # swap-c2 alone (0 when its slab was on d2)
stop_memschedd TERM
start_memschedd
err 404 GET "/v1/leases/$LEASE" '' id
expect 200 GET /v1/leases/swap-c2
jqb '.state == "active"'
alive
pass "release frees the slabs, durably"

# An offer not renewed within poolOfferTtlSec is withdrawn: its slabs are revoked.
stop_memschedd TERM
start_memschedd --pool-offer-ttl-sec 4
# The offers restored from the store live a full TTL from the restart; withdraw them first.
expect 200 GET /v1/pools
for d in $(jq -r '.donors[].node' "$WORK/body"); do expect 200 DELETE "/v1/pools/$d"; done
expect 201 PUT /v1/pools/d5 "$(offer d5 2 7005)"
expect 201 PUT /v1/pools/d6 "$(offer d6 2 7006)"
expect 201 POST /v1/leases '{"node":"c5","bytes":1073741824,"ttl_seconds":600}'
SLOW=$(jq -r .id "$WORK/body")
post_report d7 "$(node_report d7 $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
valid NodeReportAck
jqb 'has("leases") | not' # a node holding no lease gets the answer it always got
# d6 keeps reporting, which renews its offer; d5 falls silent (a TTL of 4 s leaves room for a
# slow store under load: etcd syncs every write).
for _ in 1 2 3 4 5 6; do
        sleep 1
        post_report d6 "$(node_report d6 $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
done
expect 200 GET /v1/pools
valid PoolList
jqb '.donor_count == 1 and .donors[0].node == "d6"'
expect 200 POST "/v1/leases/$SLOW/renew"
jqb '.state == "active" and .epoch == 2 and ([.slabs[] | select(.revoked) | .donor] == ["d5"])'
jqb '[.slabs[] | select(.revoked | not) | .donor] == ["d6"]'
pass "an offer not renewed within --pool-offer-ttl-sec is withdrawn, its slabs revoked; reports renew"
