#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# api/openapi.yaml against the real memschedd: documented and served routes are the same set,
# every documented operation answers the document's own examples with a documented 2xx status
# and a body that validates against the documented schema (openapi_check.py).
source "$(dirname "$0")/lib.sh"

need_python_yaml

"$MEMSCHEDD" --list-routes >"$WORK/routes" || fail "memschedd --list-routes failed"
[[ -s $WORK/routes ]] || fail "memschedd --list-routes printed nothing"

# The checker must notice a route that is served but undocumented (and the reverse): feed it a
# route list with one extra and one missing line and expect it to fail on both.
{ sed 1d "$WORK/routes"; echo "GET /v1/undocumented"; } >"$WORK/routes.bad"
if "$PY" "$SRC/tests/integration/openapi_check.py" "$SRC/api/openapi.yaml" "$WORK/routes.bad" \
        - >"$WORK/bad.out" 2>&1; then
        fail "the checker accepted a route table that differs from the document"
fi
grep -q 'served but not documented: GET /v1/undocumented' "$WORK/bad.out" ||
        fail "the checker did not report the undocumented route: $(head -c 400 "$WORK/bad.out")"
grep -q "documented but not served: $(head -n1 "$WORK/routes")" "$WORK/bad.out" ||
        fail "the checker did not report the unserved route"
pass "checker catches route table drift"

start_memschedd --threads 2 --sustained-pressure-sec 30
# A migration plan, so that GET /v1/migrations has items to validate (as in sched_restart.sh).
HOT_PODS='[{"uid":"victim-uid","name":"web-7d9f-abcde","namespace":"shop","owner_uid":"rs-web","qos":"burstable","request_bytes":1073741824,"limit_bytes":null,"memory":{"working_set_bytes":1073741824}}]'
post_report target "$(node_report target $((16 * GiB)) $((10 * GiB)) $((5 * GiB)) $((5 * GiB)) none)"
post_report hot "$(node_report hot $((16 * GiB)) $((200 * MiB)) $((100 * MiB)) $((100 * MiB)) critical 45000 true "$HOT_PODS")"
expect 200 GET '/v1/migrations?state=planned'
jqb '.migrations | length == 1'
# A donor, so that the lease example is granted (the checker sends only GET and POST).
expect 201 PUT /v1/pools/pool-1 '{"bytes":8589934592,"slab_bytes":1073741824,"transports":[{"kind":"tcp","address":"127.0.0.1","port":7472}]}'
expect 201 PUT /v1/pools/pool-2 '{"bytes":8589934592,"slab_bytes":1073741824,"transports":[{"kind":"tcp","address":"127.0.0.1","port":7473}]}'
"$PY" "$SRC/tests/integration/openapi_check.py" "$SRC/api/openapi.yaml" "$WORK/routes" "$BASE" ||
        fail "memschedd does not match api/openapi.yaml"
alive
pass "every documented operation answers its examples as documented"
