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
etcd_rerun_setup memsched-etcd-it

# memschedd as sched_restart.sh starts it, plus the etcd endpoints: a dead one first, to show
# that the next endpoint is tried. The --state-file it also passes must stay unused.
etcd_memschedd_wrapper "http://127.0.0.1:1,$CLIENT"
# The three nodes' reports are shared through etcd (soft state under a lease of 1.5 x the 30 s
# stale-after), so the restarted replica knows them before they report again.
NODES_AFTER_CRASH=3 bash "$SRC/tests/integration/sched_restart.sh" "$DIR/memschedd" "$SRC"

# The plans are in etcd, under memschedd's prefix.
KEYS=$(etcd_count_keys /memsched/migrations/)
[[ $KEYS -ge 1 ]] || { echo "FAIL: no plan stored in etcd" >&2; exit 1; }
echo "PASS: $KEYS plan(s) stored in etcd under /memsched/migrations/"
# The nodes' reports are shared there too.
REPORTS=$(etcd_count_keys /memsched/reports/)
[[ $REPORTS -ge 1 ]] || { echo "FAIL: no node report shared in etcd" >&2; exit 1; }
echo "PASS: $REPORTS node report(s) shared in etcd under /memsched/reports/"
