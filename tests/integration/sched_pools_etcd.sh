#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sched_pools.sh again with the state in etcd: offers and leases must survive SIGKILL and a
# clean restart of memschedd there as on SQLite. One etcd member on loopback that this script
# starts and kills; without the etcd binary a loud skip (77), or a failure under CI=true.
set -euo pipefail
MEMSCHEDD=$1
SRC=$2
source "$SRC/tests/integration/etcd.sh"
DIR=$(mktemp -d /tmp/memsched-etcd-pools-XXXXXX)
trap 'stop_etcd; rm -rf "$DIR"' EXIT
start_etcd "$DIR"
CLIENT=$ETCD_CLIENT

cat >"$DIR/memschedd" <<WRAP
#!/bin/sh
exec "$MEMSCHEDD" "\$@" --etcd-endpoints "$CLIENT"
WRAP
chmod +x "$DIR/memschedd"
bash "$SRC/tests/integration/sched_pools.sh" "$DIR/memschedd" "$SRC"

# The leases are in etcd, under memschedd's prefix (the offers were withdrawn at the end).
KEYS=$(curl -fsS -X POST "$CLIENT/v3/kv/range" \
        -d "{\"key\":\"$(printf /memsched/leases/ | base64)\",\"range_end\":\"$(printf /memsched/leases0 | base64)\",\"keys_only\":true}" |
        jq '.kvs | length')
[[ $KEYS -ge 2 ]] || { echo "FAIL: the leases are not stored in etcd" >&2; exit 1; }
echo "PASS: $KEYS lease(s) stored in etcd under /memsched/leases/"
