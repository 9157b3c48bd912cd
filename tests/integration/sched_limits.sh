#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memschedd's limits against a hostile client on the same host (issue 15): strings that are not
# UTF-8 or hide a NUL, a NUL in the path, duplicate pods, replayed report sequence numbers, the
# state file's mode, request memory (per body, the global budget, answer size) and slow clients.
source "$(dirname "$0")/lib.sh"

# Under ASan (redzones, a quarantine of freed memory) RSS says nothing about the code: the
# peak figures are printed but not checked, and the address space limit is not usable.
ASAN=false
[[ $(ldd "$MEMSCHEDD" 2>/dev/null) == *libasan* ]] && ASAN=true # (not grep -q: under pipefail, ldd killed by SIGPIPE would fail the pipe)
hwm_kib() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$PID/status"; }
REPORT='{"node_name":"w1","seq":%s%s,"node":{"memory_total_bytes":8589934592,"memory_available_bytes":4294967296},"pods":%s}'
report() { # SEQ PODS [RUN_ID]
        local run=${3:+,\"run_id\":\"$3\"}
        # shellcheck disable=SC2059
        printf "$REPORT" "$1" "$run" "$2"
}

# ---- the state file and its directory are private
start_memschedd --state-file "$WORK/private/state.db" --client-timeout-sec 2 --threads 2
mode=$(stat -c %a "$WORK/private/state.db")
[[ $mode == 600 ]] || fail "state file mode $mode, expected 600"
mode=$(stat -c %a "$WORK/private")
[[ $mode == 700 ]] || fail "state directory mode $mode, expected 700"
pass "state file 0600, its directory 0700"

# ---- input hygiene: 400 naming the field
POD1='[{"uid":"p1","qos":"burstable","memory":{"working_set_bytes":1}}]'
expect 400 POST /v1/nodes/w1/report "$(report 1 "$(printf '[{"uid":"p\xff\xfe1","qos":"burstable","memory":{"working_set_bytes":1}}]')")"
jqb '.field == "pods[0].uid" and (.error | test("UTF-8"))'
expect 400 POST /v1/nodes/w1/report "$(report 1 '[{"uid":"worker-uid\u0000HIDDEN","qos":"burstable","memory":{"working_set_bytes":1}}]')"
jqb '.field == "pods[0].uid" and (.error | test("u0000"))'
expect 400 POST /v1/nodes/w1/report "$(report 1 '[{"uid":"p1","qos":"burstable","memory":{"working_set_bytes":1}},{"uid":"p2","qos":"burstable","memory":{"working_set_bytes":1}},{"uid":"p1","qos":"burstable","memory":{"working_set_bytes":1}}]')"
jqb '.field == "pods[2].uid" and (.error | test("twice"))'
# An overlong encoding of "/" and a lone surrogate are not UTF-8 either.
expect 400 POST /v1/nodes/w1/report "$(report 1 "$(printf '[{"uid":"\xc0\xaf","qos":"burstable","memory":{"working_set_bytes":1}}]')")"
expect 400 POST /v1/nodes/w1/report "$(report 1 "$(printf '[{"uid":"\xed\xa0\x80","qos":"burstable","memory":{"working_set_bytes":1}}]')")"
# Strings memschedd never reads but would echo (a v1.Node in Nodes mode) are checked too.
POD=$(k8s_pod p 1Gi "" Burstable)
body=$(extender_args "$POD" nodes w1 | sed 's/"podCIDR":"10.0.0.0\/24"/"podCIDR":"10\\u0000"/')
expect 400 POST /extender/filter "$body"
jqb '.field == "Nodes.items[0].spec.podCIDR"'
expect 200 POST /v1/nodes/w1/report "$(report 1 "$POD1")"
expect 400 GET '/v1/nodes/w1%00evil'
jqb '.field == "name"'
expect 200 GET /v1/nodes/w1
pass "invalid UTF-8, \\u0000, duplicate pod uids, %00 in the path: 400 naming the field"

# ---- report sequence numbers increase within one agent run
expect 200 POST /v1/nodes/w1/report "$(report 5 "$POD1")"
expect 409 POST /v1/nodes/w1/report "$(report 5 "$POD1")"
jqb '.field == "seq" and (.error | test("5"))'
expect 409 POST /v1/nodes/w1/report "$(report 4 "$POD1")"
expect 200 POST /v1/nodes/w1/report "$(report 6 "$POD1")"
# A restarted agent (a new run_id) starts again at 1; its run's order is then enforced.
expect 200 POST /v1/nodes/w1/report "$(report 1 "$POD1" run-b)"
expect 409 POST /v1/nodes/w1/report "$(report 1 "$POD1" run-b)"
expect 200 POST /v1/nodes/w1/report "$(report 2 "$POD1" run-b)"
expect 200 GET /v1/nodes/w1
jqb '.seq == 2'
pass "replayed or older seq: 409 naming seq; a new agent run starts again"
stop_memschedd

# ---- memory: per request, the global budget, answers
command -v python3 >/dev/null || { echo "SKIP: python3 not installed"; exit 77; }
GEN=$SRC/bench/memschedd/gen-bodies.py
python3 "$GEN" "$WORK" array 20
python3 "$GEN" "$WORK" nodes 5000
python3 "$GEN" "$WORK" names 60
start_memschedd --threads 2
base=$(hwm_kib)
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 60 --data-binary "@$WORK/array-20.json" "$BASE/extender/filter")
peak=$(($(hwm_kib) - base))
echo "20 MiB array of zeros: HTTP $code, peak RSS +$((peak / 1024)) MiB"
[[ $code == 413 ]] || fail "20 MiB array of zeros: HTTP $code, expected 413: $(head -c 300 "$WORK/body")"
$ASAN || ((peak <= 4 * 20 * 1024 + 16 * 1024)) || fail "20 MiB body took +$((peak / 1024)) MiB"
for n in 1 2 3; do post_report "node-0000$n" "$(node_report "node-0000$n" $((8 * GiB)) $((6 * GiB)) $((3 * GiB)) $((3 * GiB)) none)"; done
size=$(stat -c %s "$WORK/nodes-5000.json")
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 60 --data-binary "@$WORK/nodes-5000.json" "$BASE/extender/filter")
peak=$(($(hwm_kib) - base))
echo "5,000-node Nodes body of $((size / MiB)) MiB: HTTP $code, peak RSS +$((peak / 1024)) MiB"
[[ $code == 200 ]] || fail "5,000-node Nodes body: HTTP $code: $(head -c 300 "$WORK/body")"
jqb '(.Nodes.items | length) == 3 and .Nodes.items[0].metadata.name == "node-00001" and (.Nodes.items[0].status.images | length) == 18'
jqb '(.FailedAndUnresolvableNodes | length) == 4997'
$ASAN || ((peak * 1024 <= 4 * size + 16 * MiB)) || fail "5,000-node body took +$((peak / 1024)) MiB"
size=$(stat -c %s "$WORK/names-60.json")
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 60 --data-binary "@$WORK/names-60.json" "$BASE/extender/filter")
ans=$(stat -c %s "$WORK/body")
echo "$((size / MiB)) MiB NodeNames body: HTTP $code, answer $((ans / 1024)) KiB"
((ans <= 4 * size + MiB)) || fail "a $((size / MiB)) MiB NodeNames body got a $((ans / MiB)) MiB answer"
# Within the name limit, many short unknown names: every one fails with a reason, and the
# reasons shrink so that the answer stays within 4 times the request.
python3 -c 'import json,sys; print(json.dumps({"Pod": json.load(open(sys.argv[1]))["Pod"], "Nodes": None, "NodeNames": ["n%d" % (k % 1000) for k in range(90000)]}))' \
        "$WORK/names-60.json" >"$WORK/names-90k.json" 2>/dev/null ||
        python3 -c 'import json; print(json.dumps({"Pod": {"metadata": {"name": "p"}, "spec": {"containers": [{}]}}, "Nodes": None, "NodeNames": ["n%d" % (k % 1000) for k in range(90000)]}))' >"$WORK/names-90k.json"
size=$(stat -c %s "$WORK/names-90k.json")
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 60 --data-binary "@$WORK/names-90k.json" "$BASE/extender/filter")
ans=$(stat -c %s "$WORK/body")
echo "90,000 short NodeNames ($((size / 1024)) KiB): HTTP $code, answer $((ans / 1024)) KiB"
[[ $code == 200 ]] || fail "90,000 names: HTTP $code: $(head -c 300 "$WORK/body")"
((ans <= 4 * size + MiB)) || fail "a $((size / 1024)) KiB NodeNames body got a $((ans / 1024)) KiB answer"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' --max-time 60 --data-binary "@$WORK/names-90k.json" "$BASE/extender/prioritize")
ans=$(stat -c %s "$WORK/body")
[[ $code == 200 || $code == 413 ]] || fail "prioritize 90,000 names: HTTP $code"
((ans <= 4 * size + MiB)) || fail "prioritize: a $((size / 1024)) KiB body got a $((ans / 1024)) KiB answer"
expect 200 GET /healthz
if $ASAN; then
        pass "bodies of many tiny values refused (413), a 5,000-node Nodes body served (RSS bounds NOT CHECKED under ASan: its shadow and quarantine)"
else
        pass "bodies of many tiny values refused (413), a 5,000-node Nodes body served within 4x + 16 MiB"
fi
stop_memschedd

# Out of memory while decoding is a 5xx that says so (it was a 400 "invalid JSON: trailing
# data"): a 40 MiB string under a 146 MiB address space limit. Not under ASan, whose shadow
# memory needs terabytes of address space.
if ! $ASAN; then
        python3 -c 'import sys; sys.stdout.write("{\"pod\":{\"request_bytes\":1},\"pad\":\"" + "a" * (40 << 20) + "\"}")' >"$WORK/big-string.json"
        (ulimit -v 150000 && start_memschedd --threads 2 && echo "$PID $PORT" >"$WORK/oom-pid") ||
                fail "memschedd under ulimit -v"
        [[ -s $WORK/oom-pid ]] || fail "memschedd under ulimit -v did not start"
        read -r PID PORT <"$WORK/oom-pid"
        BASE="http://127.0.0.1:$PORT"
        # memschedd may answer and close before the whole body is in (it cannot hold it): curl
        # then fails sending (exit 55) though the answer came. Read the answer whatever happens
        # to the rest of the body.
        code=$(timeout 60 python3 - "$PORT" "$WORK/big-string.json" "$WORK/body" <<'PY'
import socket, sys
port, path, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
body = open(path, "rb").read()
s = socket.create_connection(("127.0.0.1", port), timeout=60)
s.sendall(b"POST /v1/placement HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
          b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body))
try:
    s.sendall(body)
except (BrokenPipeError, ConnectionResetError):
    pass
data = b""
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except ConnectionResetError:
    pass
head, _, rest = data.partition(b"\r\n\r\n")
open(out, "wb").write(rest)
print(head.split(b" ")[1].decode() if head.startswith(b"HTTP/") else "000")
PY
)
        echo "40 MiB string with 146 MiB of address space: HTTP $code $(head -c 100 "$WORK/body")"
        [[ $code == 503 ]] || fail "out of memory decoding: HTTP $code: $(head -c 300 "$WORK/body")"
        jqb '.error | test("out of memory")'
        alive
        stop_memschedd
        pass "out of memory while decoding: 503 saying so"
fi

# The budget: a body being received holds its share; the next one beyond it gets 503.
start_memschedd --threads 2 --request-memory-budget 8Mi --client-timeout-sec 20
head -c $((3 * MiB)) /dev/zero | tr '\0' ' ' >"$WORK/slow-body"
curl -s -o /dev/null --limit-rate 300k --max-time 15 --data-binary "@$WORK/slow-body" "$BASE/v1/placement" &
slow=$!
sleep 1
code=$(curl -s -o "$WORK/body" -D "$WORK/headers" -w '%{http_code}' --max-time 10 --data-binary "$(report 1 "$POD1")" "$BASE/v1/nodes/w1/report")
kill "$slow" 2>/dev/null || true
wait "$slow" 2>/dev/null || true
[[ $code == 503 ]] || fail "second body beyond the budget: HTTP $code, expected 503"
grep -qi '^retry-after: [0-9]' "$WORK/headers" || fail "503 without Retry-After"
jqb '.error | test("budget")'
sleep 0.5
expect 200 POST /v1/nodes/w1/report "$(report 2 "$POD1")"
pass "bodies beyond the memory budget: 503 with Retry-After; served once it frees"
stop_memschedd

# ---- slow clients: 100 connections trickling headers at a byte a second from one address
start_memschedd --threads 2 --max-connections 64 --max-connections-per-client 16 --client-timeout-sec 2
out=$(python3 "$SRC/tests/integration/slow_clients.py" "$PORT" 100 8 127.0.0.2)
echo "slow clients: $out"
eval "$out"
# shellcheck disable=SC2154
((closed_by_server == opened)) || fail "$((opened - closed_by_server)) trickling connections still open after 8 s"
# shellcheck disable=SC2154
((healthz_failed == 0)) || fail "/healthz failed $healthz_failed times under slow clients"
# shellcheck disable=SC2154
awk -v m="$healthz_max_ms" 'BEGIN { exit !(m < 1000) }' || fail "/healthz took $healthz_max_ms ms"
alive
pass "slow clients dropped after the deadline; /healthz served throughout (max $healthz_max_ms ms)"
