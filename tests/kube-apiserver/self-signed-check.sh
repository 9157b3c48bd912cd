#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# kube-test-apiserver --self-signed-ca-out (the TEST API server, not a live cluster): the CA it
# writes before its port file verifies the certificate it serves, for 127.0.0.1 and localhost;
# without that CA curl refuses the server, so the check would fail with any other certificate.
set -euo pipefail
KT_BIN=${1:?usage: $0 KUBE_TEST_APISERVER}
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
dir=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*"; [ -f "$dir/log" ] && cat "$dir/log"; exit 1; }
echo t >"$dir/token"
echo '{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}' >"$dir/pods.json"
"$KT_BIN" --self-signed-ca-out "$dir/ca.pem" --self-signed-cert-out "$dir/server.pem" \
	--self-signed-key-out "$dir/server.key" --port-file "$dir/port" --token-file "$dir/token" \
	--pods "$dir/pods.json" --record-dir "$dir/rec" 2>"$dir/log" &
pid=$!
for _ in $(seq 200); do
	[ -s "$dir/port" ] && break
	kill -0 "$pid" 2>/dev/null || fail "kube-test-apiserver exited at start"
	sleep 0.05
done
[ -s "$dir/port" ] || fail "no port file"
[ -s "$dir/ca.pem" ] || fail "the CA was not written before the port file"
grep -q -- "-----BEGIN CERTIFICATE-----" "$dir/ca.pem" || fail "ca.pem is not PEM: $(head -c 200 "$dir/ca.pem")"
port=$(cat "$dir/port")
for host in 127.0.0.1 localhost; do
	code=$(curl -sS -o "$dir/body" -w '%{http_code}' --max-time 10 --cacert "$dir/ca.pem" \
		-H "Authorization: Bearer t" "https://$host:$port/api/v1/pods") ||
		fail "curl --cacert ca.pem https://$host:$port refused the server"
	[ "$code" = 200 ] || fail "https://$host:$port/api/v1/pods answered $code"
	grep -q '"PodList"' "$dir/body" || fail "not a PodList: $(cat "$dir/body")"
	echo "ok: https://$host:$port verified with the written CA"
done
# Without the CA (the system's trust store only) curl must refuse it as unverified: exit 60.
rc=0
curl -sS -o /dev/null --max-time 10 "https://127.0.0.1:$port/api/v1/pods" 2>"$dir/curl.err" || rc=$?
[ "$rc" = 60 ] || fail "without the CA curl exited $rc, not 60 (peer certificate not verified): $(cat "$dir/curl.err")"
echo "ok: without the CA curl refuses it ($(head -c 120 "$dir/curl.err"))"
# A restart with the certificate and key written out serves the same certificate: the old CA
# still verifies it.
kill "$pid"
wait "$pid" 2>/dev/null || true
rm -f "$dir/port"
"$KT_BIN" --tls-cert "$dir/server.pem" --tls-key "$dir/server.key" --port "$port" \
	--port-file "$dir/port" --token-file "$dir/token" --pods "$dir/pods.json" --record-dir "$dir/rec" 2>>"$dir/log" &
pid=$!
for _ in $(seq 200); do
	[ -s "$dir/port" ] && break
	kill -0 "$pid" 2>/dev/null || fail "kube-test-apiserver did not restart with the written certificate"
	sleep 0.05
done
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 --cacert "$dir/ca.pem" \
	-H "Authorization: Bearer t" "https://localhost:$port/api/v1/pods") || fail "the restarted server is not verified by the first CA"
[ "$code" = 200 ] || fail "restarted: answered $code"
echo "ok: restarted with --self-signed-cert-out/--self-signed-key-out's files on port $port, same CA"
# Neither both ways at once nor neither: the options say which certificate is served.
if "$KT_BIN" --self-signed-ca-out "$dir/x" --tls-cert "$dir/ca.pem" --tls-key "$dir/ca.pem" \
	--port-file "$dir/p2" --token-file "$dir/token" --pods "$dir/pods.json" --record-dir "$dir/r2" 2>/dev/null; then
	fail "--self-signed-ca-out together with --tls-cert/--tls-key was accepted"
fi
echo "ok: --self-signed-ca-out excludes --tls-cert/--tls-key"
echo PASS
