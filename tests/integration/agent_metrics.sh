#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memagentd's /metrics, /healthz and /readyz, as a real process on a temp copy of the cgroup tree
# captured from the guest kernel: the exposition is valid (promtool check metrics when installed,
# and always the strict prom_text_check.py), every family is there with HELP and TYPE, the step
# histogram grows, a decision induced through the copy's /proc/meminfo moves the decision,
# eviction and kill counters, the node report's failures are counted, the probes answer 200,
# other methods 405 and other paths 404, the connection limit and idle timeout hold, HTTP/1.1
# keep-alive, pipelining, HEAD and refusals behave, slow clients are closed by their deadline,
# --metrics-address none serves nothing, and a port already taken stops memagentd at start with a
# message naming the address.
set -euo pipefail
MEMAGENTD=${1:?usage: $0 MEMAGENTD MEMAGENT SOURCE_DIR}
MEMAGENT=${2:?}
SRC=${3:?}
WORK_NAME=memagentd-metrics
. "$SRC/tests/integration/agent-lib.sh"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
CHECK="$SRC/tests/integration/prom_text_check.py"
PID2=
trap '[ -n "$PID2" ] && kill -KILL "$PID2" 2>/dev/null; cleanup' EXIT

# The captured tree lists the guest's pids in cgroup.procs: empty them all, so that an eviction
# on this copy can never signal a process of this host.
find "$WORK/cg" -name cgroup.procs -exec truncate -s 0 {} +
# The capture has no cgroup.kill or cgroup.freeze (write-only files are not copied): give every
# cgroup empty ones for the kill to write into.
find "$WORK/cg" -name cgroup.events -execdir touch cgroup.kill cgroup.freeze \;

"$MEMAGENTD" --cgroup-root "$WORK/cg" --proc-root "$WORK/proc" --sys-root "$WORK/sys" \
	--api-socket "$WORK/api.sock" --state-directory= --bpf-enabled=false --balloon-enabled=false \
	--sample-interval 200ms --kill-cooldown 10m --grace-period 0s \
	--scheduler-url http://127.0.0.1:1 --node-name it-metrics --report-heartbeat 1s \
	--metrics-address 127.0.0.1:0 >"$WORK/agent.log" 2>&1 &
PID=$!
agent_wait_metrics_port
PORT=$MPORT
BASE=http://127.0.0.1:$PORT
pass "an ephemeral port was bound and logged: $PORT"

# scrape N [quick]: /metrics into $WORK/mN.txt, checked (quick: by the strict checker only),
# normalised samples in $WORK/mN.samples
scrape() {
	local n=$1 quick=${2:-}
	# A kill waits for its cgroup to empty on the loop (up to 5 s, agent/kernel/kill.c): a scrape
	# meanwhile waits too.
	curl -fsS --max-time 15 -D "$WORK/m$n.headers" "$BASE/metrics" -o "$WORK/m$n.txt" || fail "GET /metrics"
	python3 "$CHECK" "$WORK/m$n.txt" >"$WORK/m$n.samples" 2>"$WORK/m$n.err" ||
		fail "scrape $n is not a valid exposition: $(cat "$WORK/m$n.err")"
	if [ -z "$quick" ] && command -v promtool >/dev/null; then
		promtool check metrics <"$WORK/m$n.txt" >"$WORK/m$n.promtool" 2>&1 ||
			fail "promtool check metrics: $(cat "$WORK/m$n.promtool")"
	fi
}
# value N SERIES: the value of SERIES (labels sorted by name) in scrape N, empty when absent
value() { awk -v s="$2" '$1 == s { print $2 }' "$WORK/m$1.samples"; }

# 1. The exposition is valid, with its content type.
sleep 0.5
scrape 1
grep -qi '^content-type: text/plain; version=0.0.4' "$WORK/m1.headers" ||
	fail "content type: $(grep -i content-type "$WORK/m1.headers")"
if command -v promtool >/dev/null; then
	pass "scrape valid for promtool check metrics and the strict checker"
else
	pass "scrape valid for the strict checker (promtool not installed)"
fi

# 2. Every family is there with HELP and TYPE (the checker refuses a family without both).
for f in memagent_pressure_level:gauge memagent_memory_available_bytes:gauge \
	memagent_decisions_total:counter memagent_evictions_total:counter memagent_kills_total:counter \
	memagent_balloon_reclaimed_bytes_total:counter memagent_vscale_lent_bytes:gauge \
	memagent_vscale_loans_total:counter memagent_vscale_returns_total:counter \
	memagent_report_sent_total:counter memagent_report_failed_total:counter \
	memagent_reclaim_stall_seconds:histogram memagent_step_duration_seconds:histogram \
	memagent_tracked_cgroups:gauge memagent_kubernetes_api_requests_total:counter \
	process_resident_memory_bytes:gauge; do
	grep -qx "# family ${f%%:*} ${f##*:}" "$WORK/m1.samples" || fail "family ${f%%:*} (${f##*:}) missing"
	grep -q "^# HELP ${f%%:*} ." "$WORK/m1.txt" || fail "no HELP text for ${f%%:*}"
done
[ "$(value 1 'memagent_pressure_level{scope="node"}')" = 0 ] || fail "node level not 0 at rest"
[ "$(value 1 'memagent_tracked_cgroups{kind="pod"}')" = 4 ] || fail "pods tracked: $(value 1 'memagent_tracked_cgroups{kind="pod"}'), wanted the fixture's 4"
# No Kubernetes API client yet: the family is declared, with no series.
! grep -q '^memagent_kubernetes_api_requests_total{' "$WORK/m1.samples" || fail "API requests counted without a client"
pass "every family present with HELP and TYPE; 4 pods tracked, level 0"

# 3. The step histogram grows with the loop (200 ms samples).
c1=$(value 1 memagent_step_duration_seconds_count)
sleep 1
scrape 2
c2=$(value 2 memagent_step_duration_seconds_count)
[ "${c1:-0}" -ge 1 ] && [ "${c2:-0}" -gt "$c1" ] || fail "step count did not grow: $c1 -> $c2"
pass "memagent_step_duration_seconds_count grew $c1 -> $c2"

# 4. The probes, methods and paths.
code() { curl -s -o "$WORK/body" -w '%{http_code}' --max-time 5 "$@"; }
[ "$(code "$BASE/healthz")" = 200 ] && grep -qx ok "$WORK/body" || fail "/healthz: $(cat "$WORK/body")"
[ "$(code "$BASE/readyz")" = 200 ] && grep -qx ok "$WORK/body" || fail "/readyz standalone: $(cat "$WORK/body")"
[ "$(code -I "$BASE/metrics")" = 200 ] || fail "HEAD /metrics"
[ "$(code -X POST -d x "$BASE/metrics")" = 405 ] || fail "POST /metrics not 405"
curl -s -D - -o /dev/null -X DELETE "$BASE/healthz" | grep -qi '^allow: GET, HEAD' || fail "405 without Allow: GET, HEAD"
[ "$(code "$BASE/")" = 404 ] || fail "/ not 404"
[ "$(code "$BASE/metrics/x")" = 404 ] || fail "/metrics/x not 404"
pass "/healthz and /readyz 200 ok, HEAD 200, POST and DELETE 405 with Allow, other paths 404"

# 5. Bounded: one client opens 20 idle connections; the server keeps its per-client share (8)
# and closes the rest at once; once they go, it serves again. An idle connection is closed by
# the server after its timeout.
timeout 30 python3 - "$PORT" <<'EOF' || fail "connection limit"
import select, socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
time.sleep(1.0)
closed = 0
for s in socks:
    r, _, _ = select.select([s], [], [], 0)
    if r and s.recv(1) == b"":
        closed += 1
print(f"server closed {closed} of 20 idle connections at once")
for s in socks:
    s.close()
sys.exit(0 if closed == 20 - 8 else 1)
EOF
[ "$(code "$BASE/healthz")" = 200 ] || fail "/healthz after the connection burst"
timeout 30 python3 - "$PORT" <<'EOF' || fail "idle timeout"
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
s.settimeout(20)
t = time.monotonic()
try:
    data = s.recv(1)
except socket.timeout:
    sys.exit("an idle connection was kept 20 s")
print(f"idle connection closed by the server after {time.monotonic() - t:.1f} s")
sys.exit(0 if data == b"" else 1)
EOF
pass "per-client connection limit (8 of 20 kept) and idle timeout hold"

# 5b. HTTP/1.1 as clients speak it, on raw sockets: keep-alive (two requests, one connection),
# pipelining in order with HEAD (the head with the body's length, no body), refusals that
# answer and close (a garbage request line 400, 9 KiB of headers 431, a POST with a body 405 with
# Allow) while /healthz still answers, and 100 pipelined scrapes (~650 KiB: /metrics alone is
# ~7 KiB at any number of pods) to a client that reads nothing for a second through a 4 KiB
# receive buffer, so that answers are written in parts: every body arrives whole, in order.
timeout 60 python3 - "$PORT" <<'EOF' || fail "HTTP/1.1 behaviour"
import socket, sys, time
port = int(sys.argv[1])

def connect(rcvbuf=None):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.settimeout(10)
    s.connect(("127.0.0.1", port))
    return s, s.makefile("rb")

def response(f, head=False):
    status = f.readline()
    assert status.startswith(b"HTTP/1.1 "), f"status line {status!r}"
    h = {}
    while True:
        line = f.readline()
        if line in (b"\r\n", b""):
            break
        k, v = line.decode().split(":", 1)
        h[k.strip().lower()] = v.strip()
    n = int(h["content-length"])
    body = b"" if head else f.read(n)
    assert len(body) == (0 if head else n), f"body {len(body)} of {n} bytes"
    return int(status.split()[1]), h, body

def closed(f):
    return f.read(1) == b""

def get(path, extra=""):
    return f"GET {path} HTTP/1.1\r\nHost: it\r\n{extra}\r\n".encode()

s, f = connect()
s.sendall(get("/healthz"))
st, h, body = response(f)
assert (st, body) == (200, b"ok\n"), (st, body)
assert "connection" not in h and h["date"].endswith(" GMT"), h
s.sendall(get("/readyz"))
assert response(f)[0] == 200
s.close()
print("keep-alive: two requests answered on one connection")

s, f = connect()
s.sendall(get("/healthz") + b"HEAD /metrics HTTP/1.1\r\nHost: it\r\n\r\n" +
          get("/nope", "Connection: close\r\n"))
st, h, body = response(f)
assert (st, body) == (200, b"ok\n"), (st, body)
st, h, _ = response(f, head=True)
length = int(h["content-length"])
assert st == 200 and length > 1000, h
assert h["content-type"].startswith("text/plain; version=0.0.4"), h
st, h, body = response(f)
assert st == 404 and b"/metrics, /healthz and /readyz" in body and h["connection"] == "close", (st, h)
assert closed(f), "connection kept after Connection: close"
print(f"pipelined GET /healthz, HEAD /metrics (Content-Length {length}, no body), 404, then closed")

for name, req, want in (
        ("garbage request line", b"\x16\x03\x01\x00\xa5\x01\x00 garbage\r\n\r\n", 400),
        ("9 KiB of headers",
         b"GET /metrics HTTP/1.1\r\nHost: it\r\nX-Pad: " + b"p" * 9216 + b"\r\n\r\n", 431),
        ("POST with a body",
         b"POST /metrics HTTP/1.1\r\nHost: it\r\nContent-Length: 11\r\n\r\nhello=world", 405)):
    s, f = connect()
    s.sendall(req)
    st, h, body = response(f)
    assert st == want and h.get("connection") == "close", (name, st, h, body)
    if want == 405:
        assert h["allow"] == "GET, HEAD", h
    assert closed(f), f"{name}: connection kept"
    s.close()
    s, f = connect()
    s.sendall(get("/healthz", "Connection: close\r\n"))
    assert response(f)[0] == 200, f"/healthz after {name}"
    s.close()
    print(f"{name}: {st}, closed; /healthz answers after it")

s, f = connect(rcvbuf=4096)
s.sendall(get("/metrics") * 100)
time.sleep(1.0)
total = 0
for i in range(100):
    st, h, body = response(f)
    assert st == 200 and body.endswith(b"\n") and b"\nmemagent_build_info{" in body, (i, st)
    total += len(body)
s.close()
assert total > 100 * 1024, total
print(f"100 pipelined scrapes through a 4 KiB receive buffer: {total} bytes of bodies, each whole")
EOF
pass "keep-alive, pipelining, HEAD, 400/431/405 answered and closed, 100 pipelined scrapes whole"

# 5c. Slow clients (slowloris): 20 connections from 127.0.0.2 trickle a request's headers a byte
# a second; the server keeps its per-client share (8) and closes each that has not completed a
# request in 10 s, however steadily it trickles; /healthz from 127.0.0.1 answers throughout.
# (Under load a connect can time out in the backlog: it counts as refused, not as kept.)
out=$(python3 "$SRC/tests/integration/slow_clients.py" "$PORT" 20 12 127.0.0.2 /healthz)
echo "$out"
fig() { echo "$out" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
[ "$(fig opened)" -ge 8 ] && [ "$(fig closed_by_server)" = "$(fig opened)" ] &&
	[ "$(fig healthz_failed)" = 0 ] && [ "$(fig healthz_ok)" -ge 10 ] || fail "slow clients: $out"
pass "slow clients closed by their request deadline, /healthz answered throughout"

# 6. Induce a decision: the copy's MemAvailable falls to about 1% (critical is below 5%). With
# gracePeriod 0 at level critical the victim is killed at once (cgroup.kill on the copy; the
# copy's cgroup.events never says empty, so the kill ends in its timeout, which counts).
sed -i 's/^MemAvailable:.*/MemAvailable:      10000 kB/' "$WORK/proc/meminfo"
ok=
for _ in $(seq 100); do
	sleep 0.2
	scrape 3 quick
	k=$(value 3 'memagent_kills_total{reason="critical"}')
	if [ "${k:-0}" -ge 1 ]; then
		ok=1
		break
	fi
done
[ -n "$ok" ] || fail "no kill counted after MemAvailable fell: $(grep -E 'decisions|kills|evictions|level' "$WORK/m3.samples")"
scrape 3
[ "$(value 3 'memagent_pressure_level{scope="node"}')" = 3 ] || fail "node level not 3 (critical)"
[ "$(value 3 'memagent_decisions_total{action="kill",level="critical"}')" = 1 ] || fail "decision not counted: $(grep decisions "$WORK/m3.samples")"
[ "$(value 3 'memagent_evictions_total{level="critical",scope="node"}')" = 1 ] || fail "eviction not counted: $(grep evictions "$WORK/m3.samples")"
[ "$(value 3 'memagent_kills_total{reason="grace_period_over"}')" = 0 ] || fail "kill counted under the wrong reason"
status_kills=$("$MEMAGENT" status --api-socket "$WORK/api.sock" --output json | jq .daemon.kills_total)
[ "$status_kills" = "$k" ] || fail "memagent status says $status_kills kills, /metrics $k"
pass "induced critical: level 3, decisions{kill,critical} 1, evictions{node,critical} 1, kills{critical} $k (= memagent status)"

# 7. The node report's stats: memschedd at a closed port, so attempts fail and are counted.
f=$(value 3 memagent_report_failed_total)
[ "${f:-0}" -ge 1 ] || fail "report failures not counted: $(grep report "$WORK/m3.samples")"
[ "$(value 3 memagent_report_reachable)" = 0 ] || fail "memschedd at a closed port counted reachable"
pass "node report: $f failed attempts counted, not reachable"

# 8. metricsAddress none: no listening socket at all.
"$MEMAGENTD" --cgroup-root "$WORK/cg" --proc-root "$WORK/proc" --sys-root "$WORK/sys" \
	--api-socket= --state-directory= --bpf-enabled=false --metrics-address none \
	>"$WORK/none.log" 2>&1 &
PID2=$!
for _ in $(seq 100); do grep -q "memagentd .* watching" "$WORK/none.log" && break; sleep 0.05; done
kill -0 "$PID2" 2>/dev/null || fail "memagentd with metricsAddress none exited: $(cat "$WORK/none.log")"
grep -q "metricsAddress none" "$WORK/none.log" || fail "no line saying the endpoints are off"
listening=$(ss -Hltnp 2>/dev/null | grep "pid=$PID2," || true)
[ -z "$listening" ] || fail "metricsAddress none listens: $listening"
kill -TERM "$PID2"
wait "$PID2" || fail "memagentd (none) exited $? on SIGTERM"
PID2=
pass "--metrics-address none: no listening socket, off said once"

# 9. The port taken (by the first memagentd): exit non-zero at start, naming the address.
rc=0
timeout 10 "$MEMAGENTD" --cgroup-root "$WORK/cg" --proc-root "$WORK/proc" --sys-root "$WORK/sys" \
	--api-socket= --state-directory= --bpf-enabled=false --metrics-address "127.0.0.1:$PORT" \
	>"$WORK/taken.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || fail "memagentd on a taken port: exit $rc"
grep -q "127.0.0.1:$PORT.*Address already in use" "$WORK/taken.log" || fail "message: $(cat "$WORK/taken.log")"
pass "taken port: exit $rc, $(grep -o "Cannot serve.*in use" "$WORK/taken.log")"

kill -TERM "$PID"
wait "$PID" || fail "memagentd exited $? on SIGTERM"
PID=
pass "clean exit on SIGTERM"
