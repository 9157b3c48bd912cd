#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sched_restart.sh again with the state in etcd instead of SQLite: a single etcd member on
# loopback (random free ports, a temporary data dir) that this script starts and kills. The plan
# must survive SIGKILL and a clean restart of memschedd exactly as it does on SQLite.
# Without the etcd binary: a loud skip (77), or a failure under CI=true.
set -euo pipefail
MEMSCHEDD=$1
SRC=$2
ETCD=${ETCD:-etcd}

if ! command -v "$ETCD" >/dev/null 2>&1; then
        echo "*** SKIPPING: no etcd binary ($ETCD); install Debian's etcd-server" >&2
        [[ ${CI:-} == true ]] && exit 1
        exit 77
fi

DIR=$(mktemp -d /tmp/memsched-etcd-it-XXXXXX)
ETCD_PID=
cleanup() {
        if [[ -n $ETCD_PID ]]; then
                kill -KILL "$ETCD_PID" 2>/dev/null || true
                wait "$ETCD_PID" 2>/dev/null || true
        fi
        rm -rf "$DIR"
}
trap cleanup EXIT

free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
CLIENT="http://127.0.0.1:$(free_port)"
PEER="http://127.0.0.1:$(free_port)"
"$ETCD" --name it --data-dir "$DIR/data" --listen-client-urls "$CLIENT" \
        --advertise-client-urls "$CLIENT" --listen-peer-urls "$PEER" \
        --initial-advertise-peer-urls "$PEER" --initial-cluster "it=$PEER" >"$DIR/etcd.log" 2>&1 &
ETCD_PID=$!
for _ in $(seq 200); do
        curl -fsS "$CLIENT/health" >/dev/null 2>&1 && break
        kill -0 "$ETCD_PID" 2>/dev/null || { cat "$DIR/etcd.log" >&2; exit 1; }
        sleep 0.1
done
curl -fsS "$CLIENT/health" >/dev/null || { echo "etcd did not start" >&2; exit 1; }

# memschedd as sched_restart.sh starts it, plus the etcd endpoints: a dead one first, to show
# that the next endpoint is tried. The --state-file it also passes must stay unused.
cat >"$DIR/memschedd" <<WRAP
#!/bin/sh
exec "$MEMSCHEDD" "\$@" --etcd-endpoints "http://127.0.0.1:1,$CLIENT"
WRAP
chmod +x "$DIR/memschedd"
bash "$SRC/tests/integration/sched_restart.sh" "$DIR/memschedd" "$SRC"

# The plans are in etcd, under memschedd's prefix.
KEYS=$(curl -fsS -X POST "$CLIENT/v3/kv/range" \
        -d "{\"key\":\"$(printf /memsched/migrations/ | base64)\",\"range_end\":\"$(printf /memsched/migrations0 | base64)\",\"keys_only\":true}" |
        jq '.kvs | length')
[[ $KEYS -ge 1 ]] || { echo "FAIL: no plan stored in etcd" >&2; exit 1; }
echo "PASS: $KEYS plan(s) stored in etcd under /memsched/migrations/"
