#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# sched_pools.sh again with the state in etcd: offers and leases must survive SIGKILL and a
# clean restart of memschedd there as on SQLite. One etcd member on loopback that this script
# starts and kills; without the etcd binary a loud skip (77), or a failure under CI=true.
set -euo pipefail
MEMSCHEDD=$1
SRC=$2
source "$SRC/tests/integration/etcd.sh"
etcd_rerun_setup memsched-etcd-pools
etcd_memschedd_wrapper "$CLIENT"
bash "$SRC/tests/integration/sched_pools.sh" "$DIR/memschedd" "$SRC"

# The leases are in etcd, under memschedd's prefix (the offers were withdrawn at the end).
KEYS=$(etcd_count_keys /memsched/leases/)
[[ $KEYS -ge 2 ]] || { echo "FAIL: the leases are not stored in etcd" >&2; exit 1; }
echo "PASS: $KEYS lease(s) stored in etcd under /memsched/leases/"
