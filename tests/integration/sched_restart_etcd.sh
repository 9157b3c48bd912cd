#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sched_restart.sh again with the state in etcd instead of SQLite: a single etcd member on
# loopback (random free ports, a temporary data dir) that this script starts and kills. The plan
# must survive SIGKILL and a clean restart of memschedd exactly as it does on SQLite.
# Without the etcd binary: a loud skip (77), or a failure under CI=true.
set -euo pipefail
MEMSCHEDD=$1
SRC=$2
source "$SRC/tests/integration/etcd.sh"
DIR=$(mktemp -d /tmp/memsched-etcd-it-XXXXXX)
trap 'stop_etcd; rm -rf "$DIR"' EXIT
start_etcd "$DIR"
CLIENT=$ETCD_CLIENT

# memschedd as sched_restart.sh starts it, plus the etcd endpoints: a dead one first, to show
# that the next endpoint is tried. The --state-file it also passes must stay unused.
cat >"$DIR/memschedd" <<WRAP
#!/bin/sh
exec "$MEMSCHEDD" "\$@" --etcd-endpoints "http://127.0.0.1:1,$CLIENT"
WRAP
chmod +x "$DIR/memschedd"
# The three nodes' reports are shared through etcd (soft state under a lease of 1.5 x the 30 s
# stale-after), so the restarted replica knows them before they report again.
NODES_AFTER_CRASH=3 bash "$SRC/tests/integration/sched_restart.sh" "$DIR/memschedd" "$SRC"

# The plans are in etcd, under memschedd's prefix.
KEYS=$(curl -fsS -X POST "$CLIENT/v3/kv/range" \
        -d "{\"key\":\"$(printf /memsched/migrations/ | base64)\",\"range_end\":\"$(printf /memsched/migrations0 | base64)\",\"keys_only\":true}" |
        jq '.kvs | length')
[[ $KEYS -ge 1 ]] || { echo "FAIL: no plan stored in etcd" >&2; exit 1; }
echo "PASS: $KEYS plan(s) stored in etcd under /memsched/migrations/"
# The nodes' reports are shared there too.
REPORTS=$(curl -fsS -X POST "$CLIENT/v3/kv/range" \
        -d "{\"key\":\"$(printf /memsched/reports/ | base64)\",\"range_end\":\"$(printf /memsched/reports0 | base64)\",\"keys_only\":true}" |
        jq '.kvs | length')
[[ $REPORTS -ge 1 ]] || { echo "FAIL: no node report shared in etcd" >&2; exit 1; }
echo "PASS: $REPORTS node report(s) shared in etcd under /memsched/reports/"
