#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# remote-swap.sh — the same job (bench-pagein: fill SIZE MiB, then read every page once in a
# random order, timing each touch) in the same two guests (tests/vm/vmrun --peer --rdma, guest b
# the consumer, guest a memschedd and two donors): all in local memory, on zram swap, on the
# remote swap over RDMA (Soft-RoCE), and on the remote swap over TCP to the same donors. Prints
# each one's job time, throughput and page-in latency p50/p99, and its slowdown against
# all-local. Under TCG the absolute figures mean little; the ratios are the result. Figures only,
# never pass/fail on them; a failed run withholds them and exits 1. Not a ctest.
#
# Usage: bench/remote-swap.sh [BUILD_DIR] [SIZE_MIB] [LIMIT]   (defaults: build, 96, 32Mi)
# Environment: MTU=N sets the guests' link MTU (vmrun --rdma sets 9000; RoCE's path MTU follows it); VMRUN_FLAGS=...
# passes more vmrun flags (e.g. --keep).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
build=${1:-$src/build}
size=${2:-96}
limit=${3:-32Mi}
for b in bench/bench-pagein agent/memagentd agent/memagent scheduler/memschedd; do
	[[ -x $build/$b ]] || {
		echo "remote-swap: $build/$b not built (cmake --build $build --target bench-pagein memagentd memschedd)" >&2
		exit 2
	}
done

rc=0
# shellcheck disable=SC2086 # VMRUN_FLAGS: extra vmrun flags, a list of words (e.g. --keep)
out=$("$src/tests/vm/vmrun" --work "$build/vm" ${VMRUN_FLAGS:-} --peer --rdma --smp 1 --numa 1 --mem 768 --peer-mem 288 \
	--timeout 1500 --modules "nbd zram" --bin "$build/bench/bench-pagein" --bin "$build/agent/memagentd" --bin "$build/agent/memagent" \
	--bin "$build/scheduler/memschedd" --env "SIZE_MIB=$size" --env "LIMIT=$limit" --env "MTU=${MTU:-}" \
	"$here/guest/remote-swap.sh" 2>&1) || rc=$?
res=$(sed -n '/^----- results (remote-swap.sh, guest b)/,/^-----$/p' <<<"$out" | tr ' ' '\n')
get() { awk -F= -v k="$1" '$1 == k { v = $2 } END { print v }' <<<"$res"; }
if ((rc != 0)) || ! grep -q '^RESULT PASS' <<<"$(sed -n '/guest b)/,/^-----$/p' <<<"$out")"; then
	grep '^vmrun: ' <<<"$out" >&2 || true
	echo "remote-swap: the guests' run FAILED (vmrun exit $rc); figures withheld" >&2
	exit 1
fi

echo "== remote swap: bench-pagein ${size} MiB, container limit $limit (swap phases), same two guests (TCG)"
printf '  %-7s %9s %9s %9s %9s %9s %8s %9s\n' phase job_ms MiB/s p50_us p99_us pswpin bad slowdown
local_ms=$(get local.job_ms)
for p in local zram rdma tcp; do
	ms=$(get "$p.job_ms")
	printf '  %-7s %9s %9s %9s %9s %9s %8s %9s\n' "$p" "$ms" "$(get "$p.job_mib_s")" "$(get "$p.p50_us")" \
		"$(get "$p.p99_us")" "$(get "$p.pswpin")" "$(get "$p.bad_pages")" \
		"$(awk -v a="$ms" -v b="$local_ms" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "n/a" }')"
done
echo "  rdma phase: $(get rdma.rxe_sent_pkts) RoCE packets sent by the consumer's rxe0"
echo "== per-donor transfers in the remote phases (memagent status: one READ/WRITE of a slab extent)"
printf '  %-7s %-10s %9s %7s %9s %9s\n' phase donor ops errors p50_us p99_us
for p in rdma tcp; do
	for d in $(grep -o "^$p\.[^=]*\.ops=" <<<"$res" | sed "s/^$p\.//; s/\.ops=\$//"); do
		printf '  %-7s %-10s %9s %7s %9s %9s\n' "$p" "$d" "$(get "$p.$d.ops")" "$(get "$p.$d.errors")" \
			"$(get "$p.$d.p50_us")" "$(get "$p.$d.p99_us")"
	done
done
