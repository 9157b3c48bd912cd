#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Extender benchmark: memschedd on 127.0.0.1 with 100, 1,000 and 5,000 reporting nodes; wrk
# against /extender/filter and /extender/prioritize in node-names mode (nodeCacheCapable: true).
# Prints throughput and p50/p99 latency. Target: filter p99 + prioritize p99 < 5 ms at 5,000
# nodes on a 2-core machine. Figures only; never pass/fail.
#   bench/extender/run.sh BUILD_DIR [DURATION_SEC] [CONNECTIONS]
set -euo pipefail
BUILD=${1:?usage: run.sh BUILD_DIR [DURATION_SEC] [CONNECTIONS]}
DUR=${2:-10}
CONN=${3:-1}
HERE=$(cd "$(dirname "$0")" && pwd)
MEMSCHEDD=$BUILD/scheduler/memschedd
for t in wrk curl jq; do command -v $t >/dev/null || { echo "$t is required" >&2; exit 2; }; done
WORK=$(mktemp -d /tmp/memsched-bench.XXXXXX)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

printf '%-7s %-11s %5s %10s %9s %9s %9s\n' nodes verb conns req/s p50_ms p99_ms max_ms
for N in 100 1000 5000; do
        rm -f "$WORK/port" "$WORK"/state.db*
        "$MEMSCHEDD" --listen 127.0.0.1:0 --state-file "$WORK/state.db" --port-file "$WORK/port" \
                --threads 2 --stale-after-sec 3600 --log-level warning &
        PID=$!
        for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.05; done
        BASE="http://127.0.0.1:$(cat "$WORK/port")"
        "$HERE/gen-payloads.sh" "$N" "$WORK/p$N" "$BASE"
        curl -s -K "$WORK/p$N/reports.curl"
        got=$(curl -s "$BASE/metrics" | awk '$1 == "memsched_nodes" { print $2 }')
        [[ $got == "$N" ]] || { echo "only $got of $N nodes ingested" >&2; exit 1; }
        declare -A p99=()
        for verb in filter prioritize; do
                out=$(BENCH_BODY="$WORK/p$N/args.json" wrk -t1 -c"$CONN" -d"${DUR}s" --latency \
                        -s "$HERE/post.lua" "$BASE/extender/$verb" | grep '^RESULT')
                eval "$(echo "$out" | sed 's/^RESULT //' | tr ' ' '\n' | sed 's/^/r_/')"
                # shellcheck disable=SC2154
                printf '%-7s %-11s %5s %10s %9s %9s %9s\n' "$N" "$verb" "$CONN" "$r_rps" "$r_p50_ms" \
                        "$r_p99_ms" "$r_max_ms"
                # shellcheck disable=SC2154
                [[ $r_errors == 0 ]] || echo "  ($r_errors errors)"
                p99[$verb]=$r_p99_ms
        done
        printf '%-7s filter p99 + prioritize p99 = %.3f ms\n' "$N" \
                "$(echo "${p99[filter]} + ${p99[prioritize]}" | awk '{ print $1 + $3 }')"
        kill "$PID"
        wait "$PID" 2>/dev/null || true
        PID=
done
