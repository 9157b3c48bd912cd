#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Guest half of bench/bpf-overhead.sh (runs as a vmrun scenario).
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
D=${BENCH_DURATION_S:-10}
T=${BENCH_THRESHOLD_US:-1000}

vm_check "kube_node_setup" kube_node_setup 768Mi
uid=$(kube_new_uid)
cid=$(kube_new_container_id)
vm_check "burstable pod" kube_pod_create burstable "$uid" "$cid:16Mi:256Mi"
ctr=$(kube_container_path burstable "$uid" "$cid")
echo $((48 * 1048576)) >"$ctr/memory.high"

hog() { # hog LOG: the same hog each time, D seconds
	kube_spawn "$ctr" "$1" memhog --size-mib 128 --hot-pct 100 --duration-s "$D" --report-ms 0 ||
		vm_fail "cannot spawn the hog"
	wait "$KUBE_PID" || true
	grep '^memhog=final' "$1" | sed 's/.* avg_pages_per_s=\([0-9]*\).*/\1/'
}

base=$(hog /tmp/hog-base.log)
memagent-bpf-bench -d "$D" -t "$T" >/tmp/bench.out 2>/tmp/bench.err &
bench=$!
sleep 1
with=$(hog /tmp/hog-bpf.log)
wait "$bench" || { vm_dump /tmp/bench.err; vm_fail "memagent-bpf-bench failed"; }
cat /tmp/bench.out >&2
vm_result "$(grep '^attach=' /tmp/bench.out)"
vm_result "$(grep '^bench.bpf.runs=' /tmp/bench.out)"
grep -E '^(vmscan|oom):' /tmp/bench.out | while read -r name runs ns per_run per_s; do
	vm_result "prog=$name runs=$runs ns_per_run=$per_run runs_per_s=$per_s"
done
vm_result "hog.avg_pages_per_s.without_bpf=$base" "hog.avg_pages_per_s.with_bpf_and_stats=$with"
vm_pass
