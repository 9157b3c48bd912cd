#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memschedd's bearer tokens (issue 15): --token-file in kube-apiserver's static token file format,
# as an alternative to client certificates. Over HTTPS: no credential is 401 with the Bearer
# challenge, an unknown token 401 invalid_token, a token for another node 403, the node's own
# token 200, for reports, pool offers, leases and binds; a certificate still works. The file is
# re-read when it changes (old token refused, new one accepted, no restart); a broken rewrite
# keeps the previous tokens. Tokens never reach the log. Over plain HTTP: tokens are checked on
# loopback; plain HTTP off loopback with tokens is refused at start (tokens in clear) unless
# --insecure, and then other hosts need a token.
source "$(dirname "$0")/lib.sh"
command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
source "$(dirname "$0")/tls-lib.sh"
tls_ca "$WORK" ca test-ca
tls_cert "$WORK" server localhost ca "IP:127.0.0.1,DNS:localhost"
tls_cert "$WORK" w1 w1 ca
[[ -s $WORK/server.pem && -s $WORK/w1.pem ]] || fail "openssl could not make the certificates"

# Random tokens, as an operator makes them; the third is quoted in the file, with groups.
tok() { openssl rand -hex 24; }
T_W1=$(tok) T_W2=$(tok) T_SCHED=$(tok) T_NEW=$(tok)
TOKENS=$WORK/tokens.csv
printf '%s,w1,uid-w1\n%s,w2,uid-w2\n"%s",kube-scheduler,uid-ks,"system:a,system:b"\n' \
        "$T_W1" "$T_W2" "$T_SCHED" >"$TOKENS"
chmod 600 "$TOKENS"

# ---- configuration: the file must parse; no tokens in clear off loopback
printf 'ok1,w1,u\nsecret-in-line-2,w2\n' >"$WORK/bad.csv"
if "$MEMSCHEDD" --listen 127.0.0.1:0 --state-file "$WORK/x.db" --token-file "$WORK/bad.csv" \
        >"$WORK/out" 2>&1; then
        fail "memschedd started with a malformed token file"
else
        rc=$?
fi
[[ $rc == 2 ]] || fail "a malformed token file: exit $rc, not 2 (refused)"
grep -q 'bad.csv: line 2: 2 fields' "$WORK/out" || fail "the refusal does not name the line: $(cat "$WORK/out")"
grep -q 'secret-in-line-2' "$WORK/out" && fail "the refusal shows the token"
if "$MEMSCHEDD" --listen 127.0.0.1:0 --state-file "$WORK/x.db" --token-file "$WORK/missing.csv" \
        >"$WORK/out" 2>&1; then
        fail "memschedd started with a missing token file"
fi
grep -q 'missing.csv: No such file' "$WORK/out" || fail "missing file not said: $(cat "$WORK/out")"
if timeout 5 "$MEMSCHEDD" --listen 0.0.0.0:0 --state-file "$WORK/x.db" --token-file "$TOKENS" \
        >"$WORK/out" 2>&1; then
        fail "plain HTTP on 0.0.0.0 with tokens started without --insecure"
fi
grep -q 'in clear' "$WORK/out" || fail "the refusal does not say tokens would go in clear: $(cat "$WORK/out")"
"$MEMSCHEDD" --help | grep -q -- '--token-file' || fail "--help does not list --token-file"
pass "token file checked at start (line named, token not shown); no tokens over plain HTTP off loopback"

# ---- HTTPS with client certificates and tokens
start_memschedd --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" \
        --client-ca "$WORK/ca.pem" --token-file "$TOKENS"
BASE="https://127.0.0.1:$PORT"
grep -q "Bearer tokens from $TOKENS: 3 identities" "$WORK/memschedd.log" ||
        fail "the start does not say how many tokens it read"
# code [curl args...] URL -> status; body in $WORK/body, headers in $WORK/hdr
code() {
        curl -s -o "$WORK/body" -D "$WORK/hdr" -w '%{http_code}' --max-time 10 \
                --cacert "$WORK/ca.pem" "$@"
}
bearer() { echo "Authorization: Bearer $1"; }
report() { node_report "$1" $((8 * GiB)) $((4 * GiB)) $((2 * GiB)) $((2 * GiB)) none; }

got=$(code --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 401 ]] || fail "report without certificate or token: HTTP $got"
grep -qi '^WWW-Authenticate: Bearer realm="memschedd"' "$WORK/hdr" || fail "401 without the Bearer challenge"
jqb '.error | test("certificate") and test("bearer token")'
got=$(code -H "$(bearer "$(tok)")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 401 ]] || fail "report with an unknown token: HTTP $got"
grep -qi '^WWW-Authenticate: Bearer .*error="invalid_token"' "$WORK/hdr" ||
        fail "unknown token: no invalid_token challenge: $(cat "$WORK/hdr")"
got=$(code -H "Authorization: Basic dzE6cHc=" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 401 ]] || fail "report with Basic credentials: HTTP $got"
got=$(code -H "$(bearer "$T_W2")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 403 ]] || fail "w2's token reporting for w1: HTTP $got"
jqb '.field == "name" and (.error | test("token for \"w2\""))'
got=$(code -H "$(bearer "$T_W1")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 200 ]] || fail "w1's token reporting for w1: HTTP $got $(head -c 300 "$WORK/body")"
got=$(code --cert "$WORK/w1.pem" --key "$WORK/w1.key" --data-binary "$(report w1)" \
        "$BASE/v1/nodes/w1/report")
[[ $got == 200 ]] || fail "w1's certificate beside tokens: HTTP $got"
[[ $(code "$BASE/v1/nodes/w1") == 200 ]] || fail "GET (a read) without credentials"
BIND='{"PodName":"p","PodNamespace":"shop","PodUID":"u","Node":"w1"}'
got=$(code --data-binary "$BIND" "$BASE/extender/bind")
[[ $got == 401 ]] || fail "bind without credentials: HTTP $got"
got=$(code -H "$(bearer "$T_SCHED")" --data-binary "$BIND" "$BASE/extender/bind")
[[ $got == 200 ]] || fail "bind with kube-scheduler's token: HTTP $got $(head -c 300 "$WORK/body")"
pass "HTTPS: none 401 (Bearer challenge), unknown 401 invalid_token, another node's 403, own token 200; certificates still work"

OFFER='{"bytes":2147483648,"slab_bytes":1073741824,"transports":[{"kind":"tcp","address":"127.0.0.1","port":7472}]}'
W1=(-H "$(bearer "$T_W1")")
got=$(code "${W1[@]}" -X PUT --data-binary "$OFFER" "$BASE/v1/pools/w2")
[[ $got == 403 ]] || fail "w1's token offering for w2: HTTP $got"
got=$(code "${W1[@]}" -X PUT --data-binary "$OFFER" "$BASE/v1/pools/w1")
[[ $got == 201 ]] || fail "w1's token offering for w1: HTTP $got $(head -c 300 "$WORK/body")"
got=$(code "${W1[@]}" --data-binary '{"node":"w2","bytes":1,"ttl_seconds":60,"durable":false}' "$BASE/v1/leases")
[[ $got == 403 ]] || fail "w1's token leasing for w2: HTTP $got"
got=$(code "${W1[@]}" --data-binary '{"node":"w1","bytes":1,"ttl_seconds":60,"durable":false}' "$BASE/v1/leases")
[[ $got == 201 ]] || fail "w1's token leasing for w1: HTTP $got $(head -c 300 "$WORK/body")"
ID=$(jq -r .id "$WORK/body")
got=$(code -H "$(bearer "$T_W2")" -X POST "$BASE/v1/leases/$ID/renew")
[[ $got == 403 ]] || fail "w2's token renewing w1's lease: HTTP $got"
got=$(code "${W1[@]}" -X DELETE "$BASE/v1/leases/$ID")
[[ $got == 200 ]] || fail "w1's token releasing its lease: HTTP $got"
pass "HTTPS: pool offers and leases with a token only for the token's node"

# ---- rotation: w1's token replaced (a rename over the file, as a Secret volume does); then a
# rewrite in place; then a broken rewrite, which keeps the tokens read before.
printf '%s,w1,uid-w1\n%s,w2,uid-w2\n' "$T_NEW" "$T_W2" >"$TOKENS.new"
mv "$TOKENS.new" "$TOKENS"
got=$(code -H "$(bearer "$T_W1")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 401 ]] || fail "the rotated-out token still accepted: HTTP $got"
got=$(code -H "$(bearer "$T_NEW")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 200 ]] || fail "the rotated-in token refused: HTTP $got $(head -c 300 "$WORK/body")"
printf '%s,w1,uid-w1\n' "$T_W1" >"$TOKENS"
got=$(code -H "$(bearer "$T_NEW")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 401 ]] || fail "a token removed by a rewrite in place still accepted: HTTP $got"
got=$(code -H "$(bearer "$T_W1")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 200 ]] || fail "a token added by a rewrite in place refused: HTTP $got"
printf 'half-written' >"$TOKENS"
for _ in 1 2; do
        got=$(code -H "$(bearer "$T_W1")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
        [[ $got == 200 ]] || fail "a broken token file dropped the tokens read before: HTTP $got"
done
n=$(grep -c 'Failed to re-read the token file' "$WORK/memschedd.log" || true)
[[ $n == 1 ]] || fail "the broken token file was said $n times, not once"
grep -q 'changed: 2 tokens now' "$WORK/memschedd.log" || fail "the rotation is not logged"
alive
stop_memschedd
for t in "$T_W1" "$T_W2" "$T_SCHED" "$T_NEW" half-written; do
        grep -q -- "$t" "$WORK/memschedd.log" && fail "a token is in memschedd's log"
done
pass "rotation without restart: renamed-over and rewritten files used at the next request, a broken one keeps the old tokens (said once); no token in the log"

# ---- plain HTTP on loopback: the local host is trusted, but a token sent is checked
printf '%s,w1,uid-w1\n%s,w2,uid-w2\n' "$T_W1" "$T_W2" >"$TOKENS"
chmod 644 "$TOKENS"
start_memschedd --token-file "$TOKENS"
grep -q 'can be read by others or written by group or others (mode 0644)' "$WORK/memschedd.log" ||
        fail "a token file readable by others is not warned about"
P=(-s -o "$WORK/body" -w '%{http_code}' --max-time 10)
got=$(curl "${P[@]}" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 200 ]] || fail "loopback report without a token: HTTP $got"
got=$(curl "${P[@]}" -H "$(bearer "$(tok)")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 401 ]] || fail "loopback report with an unknown token: HTTP $got"
got=$(curl "${P[@]}" -H "$(bearer "$T_W2")" --data-binary "$(report w1)" "$BASE/v1/nodes/w1/report")
[[ $got == 403 ]] || fail "loopback: w2's token reporting for w1: HTTP $got"
stop_memschedd
pass "plain HTTP on loopback: no token trusted, an unknown token 401, another node's 403"

# ---- --insecure on every address with tokens: said at start; other hosts need a token
ADDR=$(ip -4 -o addr show scope global 2>/dev/null | awk '{sub("/.*", "", $4); print $4; exit}')
start_memschedd --listen 0.0.0.0:0 --insecure --token-file "$TOKENS"
grep -q 'bearer tokens cross the network in clear' "$WORK/memschedd.log" ||
        fail "--insecure with tokens is not said at start"
got=$(curl "${P[@]}" --data-binary "$(report w1)" "http://127.0.0.1:$PORT/v1/nodes/w1/report")
[[ $got == 200 ]] || fail "--insecure, loopback, no token: HTTP $got"
if [[ -n $ADDR ]]; then
        got=$(curl "${P[@]}" --data-binary "$(report w1)" "http://$ADDR:$PORT/v1/nodes/w1/report")
        [[ $got == 401 ]] || fail "--insecure, from $ADDR without a token: HTTP $got"
        jqb '.error | test("another host")'
        got=$(curl "${P[@]}" -H "$(bearer "$T_W1")" --data-binary "$(report w1)" \
                "http://$ADDR:$PORT/v1/nodes/w1/report")
        [[ $got == 200 ]] || fail "--insecure, from $ADDR with w1's token: HTTP $got"
        pass "--insecure with tokens: said at start; from $ADDR a token is needed (401 without, 200 with)"
else
        pass "--insecure with tokens: said at start (no non-loopback address here to test from)"
fi
stop_memschedd
echo "sched_token: all passed"
