#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Peak memory of memschedd per request body: a fresh daemon on 127.0.0.1 per case, one POST,
# then VmHWM from /proc/PID/status. Prints body size, HTTP status, answer size and peak RSS, and
# the peak over the body (the bound is 4x the body plus a constant). Figures only.
#   bench/memschedd/peak-rss.sh MEMSCHEDD [CASES...]   (CASES like array:20 names:60 nodes:5000)
set -euo pipefail
MEMSCHEDD=${1:?usage: peak-rss.sh MEMSCHEDD [KIND:SIZE...]}
shift
CASES=("$@")
((${#CASES[@]})) || CASES=(array:5 array:20 array:60 names:20 names:60 nodes:1000 nodes:5000)
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/memsched-rss.XXXXXX)
PID=
trap '[[ -n $PID ]] && kill $PID 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

hwm_kib() { awk '$1 == "VmHWM:" { print $2 }' "/proc/$1/status"; }

printf '%-12s %10s %5s %12s %10s %8s\n' case body_MiB code answer_MiB peak_MiB peak/body
for c in "${CASES[@]}"; do
        kind=${c%%:*} size=${c#*:}
        body=$WORK/$kind-$size.json
        [[ -f $body ]] || python3 "$HERE/gen-bodies.py" "$WORK" "$kind" "$size"
        rm -f "$WORK/port" "$WORK"/state.db*
        "$MEMSCHEDD" --listen 127.0.0.1:0 --state-file "$WORK/state.db" --port-file "$WORK/port" \
                --threads 2 --log-level warning &
        PID=$!
        for _ in $(seq 100); do [[ -s $WORK/port ]] && break; sleep 0.05; done
        base=$(hwm_kib "$PID")
        out=$(curl -s -o "$WORK/answer" -w '%{http_code}' --max-time 120 \
                --data-binary "@$body" "http://127.0.0.1:$(cat "$WORK/port")/extender/filter") || true
        peak=$(hwm_kib "$PID")
        bytes=$(stat -c %s "$body")
        ans=$(stat -c %s "$WORK/answer" 2>/dev/null || echo 0)
        awk -v c="$c" -v b="$bytes" -v code="$out" -v a="$ans" -v p="$peak" -v base="$base" 'BEGIN {
                printf "%-12s %10.1f %5s %12.1f %10.1f %8.1f\n", c, b / 1048576, code, a / 1048576,
                        p / 1024, (p - base) * 1024 / b }'
        kill "$PID"
        wait "$PID" 2>/dev/null || true
        PID=
done
