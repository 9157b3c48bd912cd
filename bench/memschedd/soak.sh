#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Load and soak test of memschedd on 127.0.0.1, bounded in time: 1,000 reporting nodes, then
# wrk with CONNECTIONS connections for DURATION_SEC seconds each on filter, prioritize (names
# mode, bench/extender's payloads) and node reports; then the same again while SLOW clients
# trickle request headers a byte a second from 127.0.0.2 (tests/integration/slow_clients.py,
# which also measures /healthz). Prints throughput, latency, RSS along the way and the
# peak RSS per body size (peak-rss.sh). Exits 1 on any non-2xx answer or if RSS grows more than
# 20% + 8 MiB from the first load phase to the last.
#   bench/memschedd/soak.sh BUILD_DIR [DURATION_SEC=60] [CONNECTIONS=20] [SLOW=1000]
set -euo pipefail
BUILD=${1:?usage: soak.sh BUILD_DIR [DURATION_SEC] [CONNECTIONS] [SLOW]}
DUR=${2:-60}
CONN=${3:-20}
SLOW=${4:-1000}
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
MEMSCHEDD=$BUILD/scheduler/memschedd
for t in wrk curl jq python3; do command -v $t >/dev/null || { echo "$t is required" >&2; exit 2; }; done
ulimit -n 8192 2>/dev/null || true
WORK=$(mktemp -d /tmp/memsched-soak.XXXXXX)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

"$MEMSCHEDD" --listen 127.0.0.1:0 --state-file "$WORK/state.db" --port-file "$WORK/port" \
        --threads 2 --stale-after-sec 3600 --log-level warning &
PID=$!
for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.05; done
PORT=$(cat "$WORK/port")
BASE="http://127.0.0.1:$PORT"
N=1000
"$SRC/bench/extender/gen-payloads.sh" "$N" "$WORK/p" "$BASE"
curl -s -K "$WORK/p/reports.curl"
rss_mib() { awk '$1 == "VmRSS:" { printf "%.1f", $2 / 1024 }' "/proc/$PID/status"; }

bad=0
first_rss=
printf '%-6s %-11s %5s %10s %9s %9s %9s %8s %9s\n' phase verb conns req/s p50_ms p99_ms max_ms errors rss_MiB
phase() { # NAME
        for verb in filter prioritize report; do
                if [[ $verb == report ]]; then
                        out=$(BENCH_NODES=$N wrk -t1 -c"$CONN" -d"${DUR}s" --latency \
                                -s "$HERE/report.lua" "$BASE/v1/nodes" | grep '^RESULT')
                else
                        out=$(BENCH_BODY="$WORK/p/args.json" wrk -t1 -c"$CONN" -d"${DUR}s" \
                                --latency -s "$SRC/bench/extender/post.lua" \
                                "$BASE/extender/$verb" | grep '^RESULT')
                fi
                eval "$(echo "$out" | sed 's/^RESULT //' | tr ' ' '\n' | sed 's/^/r_/')"
                rss=$(rss_mib)
                [[ -n $first_rss ]] || first_rss=$rss
                # shellcheck disable=SC2154
                printf '%-6s %-11s %5s %10s %9s %9s %9s %8s %9s\n' "$1" "$verb" "$CONN" "$r_rps" \
                        "$r_p50_ms" "$r_p99_ms" "$r_max_ms" "$r_errors" "$rss"
                # shellcheck disable=SC2154
                ((r_errors == 0)) || bad=1
        done
}
phase load
python3 "$SRC/tests/integration/slow_clients.py" "$PORT" "$SLOW" $((3 * DUR + 5)) 127.0.0.2 \
        >"$WORK/slow.out" &
SLOWPID=$!
sleep 2
phase slow
wait $SLOWPID || true
echo "slow clients ($SLOW from 127.0.0.2): $(cat "$WORK/slow.out")"
last_rss=$(rss_mib)
echo "RSS: first load phase $first_rss MiB, at the end $last_rss MiB"
awk -v a="$first_rss" -v b="$last_rss" 'BEGIN { exit !(b <= a * 1.2 + 8) }' ||
        { echo "RSS grew from $first_rss to $last_rss MiB"; bad=1; }
kill "$PID"
wait "$PID" 2>/dev/null || true
PID=
echo
"$HERE/peak-rss.sh" "$MEMSCHEDD"
exit $bad
