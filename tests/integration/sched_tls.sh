#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memschedd over HTTPS with client certificates (issue 15): reads stay open, state changes need a
# certificate signed by --client-ca, and a node reports only for itself; plain HTTP is refused on
# a non-loopback address unless --insecure, which it says at start.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }

# A CA, the server's certificate for 127.0.0.1, and client certificates for node w1 and for
# kube-scheduler; one more client from a CA memschedd does not trust.
source "$(dirname "$0")/tls-lib.sh"
tls_ca "$WORK" ca test-ca
tls_ca "$WORK" rogue rogue-ca
cert() { tls_cert "$WORK" "$@"; } # NAME CN CA [SAN]
cert server localhost ca "IP:127.0.0.1,DNS:localhost"
cert w1 w1 ca
cert sched kube-scheduler ca
cert evil w1 rogue
[[ -s $WORK/w1.pem && -s $WORK/server.pem ]] || fail "openssl could not make the certificates"

# ---- configuration: the TLS keys go together; plain HTTP off loopback needs --insecure
for bad in "--tls-cert $WORK/server.pem" "--tls-cert $WORK/server.pem --tls-key $WORK/server.key" \
        "--client-ca $WORK/ca.pem"; do
        # shellcheck disable=SC2086
        if "$MEMSCHEDD" --listen 127.0.0.1:0 --state-file "$WORK/x.db" $bad >"$WORK/out" 2>&1; then
                fail "memschedd started with only $bad"
        fi
done
if timeout 5 "$MEMSCHEDD" --listen 0.0.0.0:0 --state-file "$WORK/x.db" >"$WORK/out" 2>&1; then
        fail "plain HTTP on 0.0.0.0 without --insecure started"
fi
grep -q -- '--insecure' "$WORK/out" || fail "refusal does not name --insecure: $(cat "$WORK/out")"
start_memschedd --listen 0.0.0.0:0 --insecure
grep -q 'without authentication (--insecure)' "$WORK/memschedd.log" || fail "--insecure not said at start"
stop_memschedd
pass "TLS keys checked together; plain HTTP off loopback refused unless --insecure (and said)"

# ---- HTTPS
start_memschedd --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" --client-ca "$WORK/ca.pem"
BASE="https://127.0.0.1:$PORT"
C=(-s -o "$WORK/body" -w '%{http_code}' --max-time 10 --cacert "$WORK/ca.pem")
code() { curl "${C[@]}" "$@"; }
REP=$(node_report w1 $((8 * GiB)) $((4 * GiB)) $((2 * GiB)) $((2 * GiB)) none)
[[ $(code "$BASE/healthz") == 200 ]] || fail "GET /healthz over HTTPS without a client certificate"
got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/healthz" || true)
[[ $got != 200 ]] || fail "plain HTTP answered on the HTTPS port"
got=$(code --data-binary "$REP" "$BASE/v1/nodes/w1/report")
[[ $got == 403 ]] || fail "report without a client certificate: HTTP $got"
jqb '.error | test("certificate")'
got=$(code --cert "$WORK/evil.pem" --key "$WORK/evil.key" --data-binary "$REP" "$BASE/v1/nodes/w1/report")
[[ $got == 403 ]] || fail "report with a certificate from another CA: HTTP $got"
got=$(code --cert "$WORK/w1.pem" --key "$WORK/w1.key" --data-binary "$REP" "$BASE/v1/nodes/w1/report")
[[ $got == 200 ]] || fail "w1 reporting for itself: HTTP $got $(head -c 300 "$WORK/body")"
REP2=$(node_report w2 $((8 * GiB)) $((4 * GiB)) $((2 * GiB)) $((2 * GiB)) none)
got=$(code --cert "$WORK/w1.pem" --key "$WORK/w1.key" --data-binary "$REP2" "$BASE/v1/nodes/w2/report")
[[ $got == 403 ]] || fail "w1 reporting for w2: HTTP $got"
jqb '.field == "name"'
BIND='{"PodName":"p","PodNamespace":"shop","PodUID":"u","Node":"w1"}'
got=$(code --data-binary "$BIND" "$BASE/extender/bind")
[[ $got == 403 ]] || fail "bind without a client certificate: HTTP $got"
got=$(code --cert "$WORK/sched.pem" --key "$WORK/sched.key" --data-binary "$BIND" "$BASE/extender/bind")
[[ $got == 200 ]] || fail "bind by kube-scheduler's certificate: HTTP $got $(head -c 300 "$WORK/body")"
POD=$(k8s_pod p 1Gi "" Burstable)
got=$(code --data-binary "$(extender_args "$POD" names w1)" "$BASE/extender/filter")
[[ $got == 200 ]] || fail "filter (a read) without a client certificate: HTTP $got"
[[ $(code "$BASE/v1/nodes/w1") == 200 ]] || fail "GET /v1/nodes/w1 over HTTPS"
pass "HTTPS: reads open; reports and binds need a certificate from the CA; a node reports only for itself"

# ---- memory pools and leases: the same rules (a node offers, leases, renews and releases only
# for itself; reads stay open)
W1=(--cert "$WORK/w1.pem" --key "$WORK/w1.key")
OFFER='{"bytes":2147483648,"slab_bytes":1073741824,"transports":[{"kind":"tcp","address":"127.0.0.1","port":7472}]}'
got=$(code -X PUT --data-binary "$OFFER" "$BASE/v1/pools/w1")
[[ $got == 403 ]] || fail "pool offer without a client certificate: HTTP $got"
got=$(code "${W1[@]}" -X PUT --data-binary "$OFFER" "$BASE/v1/pools/w2")
[[ $got == 403 ]] || fail "w1 offering for w2: HTTP $got"
jqb '.field == "node"'
got=$(code "${W1[@]}" -X PUT --data-binary "$OFFER" "$BASE/v1/pools/w1")
[[ $got == 201 ]] || fail "w1 offering for itself: HTTP $got $(head -c 300 "$WORK/body")"
got=$(code "${W1[@]}" --data-binary '{"node":"w2","bytes":1,"ttl_seconds":60,"durable":false}' "$BASE/v1/leases")
[[ $got == 403 ]] || fail "w1 leasing for w2: HTTP $got"
jqb '.field == "node"'
got=$(code "${W1[@]}" --data-binary '{"node":"w1","bytes":1,"ttl_seconds":60,"durable":false}' "$BASE/v1/leases")
[[ $got == 201 ]] || fail "w1 leasing for itself: HTTP $got $(head -c 300 "$WORK/body")"
ID=$(jq -r .id "$WORK/body")
got=$(code --cert "$WORK/sched.pem" --key "$WORK/sched.key" -X POST "$BASE/v1/leases/$ID/renew")
[[ $got == 403 ]] || fail "another client renewing w1's lease: HTTP $got"
got=$(code "${W1[@]}" -X POST "$BASE/v1/leases/$ID/renew")
[[ $got == 200 ]] || fail "w1 renewing its lease: HTTP $got"
[[ $(code "$BASE/v1/leases/$ID") == 200 ]] || fail "GET a lease (a read) without a certificate"
got=$(code -X DELETE "$BASE/v1/leases/$ID")
[[ $got == 403 ]] || fail "releasing a lease without a client certificate: HTTP $got"
got=$(code "${W1[@]}" -X DELETE "$BASE/v1/leases/$ID")
[[ $got == 200 ]] || fail "w1 releasing its lease: HTTP $got"
pass "HTTPS: pool offers and leases only by the node itself; reads open"
