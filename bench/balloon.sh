#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# balloon.sh — what the balloon and vertical scaling do, measured in the test-bed guest (Debian's
# 6.1 kernel under QEMU/TCG, zram swap). Runs the issue-6 scenarios one guest at a time and
# prints, per scenario: bytes reclaimed, time to settle (90% of the cold bytes), stall time added
# (PSI some total delta of the container, or of kubepods under node pressure), and the hot loop's
# throughput without and with the agent (same guest, same process: before the agent started and
# after the balloon settled), plus the loan figures. Figures only, never pass/fail on them (TCG:
# compare runs of one guest, not with hardware). Not a ctest.
#
# Usage: bench/balloon.sh [BUILD_DIR] [SIZE_MIB] [HOT_MIB]
#        (defaults: build, 256, 32; BALLOON_FLAGS in the environment goes to memagentd in the
#        cold-memory run, e.g. BALLOON_FLAGS="" for the daemon's defaults)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
build=${1:-$src/build}
size=${2:-256}
hot=${3:-32}
for b in tests/tools/memhog agent/memagent agent/memagentd; do
	[[ -x $build/$b ]] || { echo "balloon: $build/$b not built (cmake --build $build)" >&2; exit 2; }
done
vm() { # vm SWAP_MIB TIMEOUT SCENARIO [--env K=V...]: prints the scenario's result lines
	local swap=$1 timeout=$2 scen=$3 out rc=0
	shift 3
	out=$("$src/tests/vm/vmrun" --work "$build/vm" --swap-mib "$swap" --timeout "$timeout" \
		--bin "$build/tests/tools/memhog" --bin "$build/agent/memagent" --bin "$build/agent/memagentd" \
		"$@" "$src/tests/vm/scenarios/$scen" 2>&1) || rc=$?
	sed -n '/^----- results/,/^-----$/p' <<<"$out" | grep -v '^-----' || true
	# A run that timed out or did not boot has no RESULT line of its own: it failed all the same.
	((rc == 0)) || echo "RESULT FAIL vmrun exit $rc: $(grep '^vmrun: ' <<<"$out" | tail -n 1)"
}
get() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { v = $2 } END { print v }'; }
mib() { awk -v b="${1:-0}" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }

# valid LABEL RESULTS: true when the run passed. A failed run's figures are not figures of the
# feature (a timeout, an eviction where none belonged, a daemon that died): it is counted and
# its figures withheld, and the script exits 1 at the end.
failed=0
valid() {
	local res
	res=$(grep -o 'RESULT FAIL.*' <<<"$2" | head -n 1 || true)
	[[ -z $res && $2 == *"RESULT PASS"* ]] && return 0
	failed=$((failed + 1))
	printf '  %-8s FAILED RUN, figures withheld: %s\n' "$1" "${res:-no RESULT line}"
	return 1
}

env_flags=()
[[ -n ${BALLOON_FLAGS+x} ]] && env_flags=(--env "BALLOON_FLAGS=$BALLOON_FLAGS")

echo "== 1. cold memory: ${size} MiB container, ${hot} MiB hot (balloon-cold.sh)"
r=$(vm 512 300 balloon-cold.sh --env "SIZE_MIB=$size" --env "HOT_MIB=$hot" "${env_flags[@]}")
r=$(tr '\n' ' ' <<<"$r")
cold=$(get "$r" cold_bytes)
rec=$(get "$r" reclaimed_final_bytes)
if valid cold "$r"; then
	printf '  result            %s\n' "$(grep -o 'RESULT [A-Z]*' <<<"$r" | head -1)"
	printf '  bytes reclaimed   %s of %s cold (%s%%), container %s -> %s\n' "$(mib "$rec")" "$(mib "$cold")" \
		"$(awk -v a="$rec" -v b="$cold" 'BEGIN { if (b) printf "%.0f", 100 * a / b }')" \
		"$(mib "$(get "$r" current_before_bytes)")" "$(mib "$(get "$r" current_after_bytes)")"
	printf '  time to settle    %s ms (90%% of the cold bytes)\n' "$(get "$r" time_to_90pct_ms)"
	printf '  stall added       %s us (%s%% of wall time; target %s%%)\n' "$(get "$r" stall_added_usec)" \
		"$(get "$r" stall_pct)" "$(get "$r" psi_target_pct)"
	printf '  hot loop          without agent %s pages/s, while reclaiming %s, with agent settled %s (x%s)\n' \
		"$(get "$r" rate_before_pages_per_s)" "$(get "$r" rate_during_pages_per_s)" \
		"$(get "$r" rate_after_pages_per_s)" "$(get "$r" rate_ratio)"
	printf '  working set       estimate %s, suggested request %s, limit %s (confidence %s)\n' \
		"$(mib "$(get "$r" estimate_bytes)")" "$(mib "$(get "$r" suggested_request_bytes)")" \
		"$(mib "$(get "$r" suggested_limit_bytes)")" "$(get "$r" confidence)"
	printf '  memory saved      %s%% of the container (TMO: 20-32%% fleet-wide)\n' \
		"$(awk -v a="$rec" -v b="$(get "$r" current_before_bytes)" 'BEGIN { if (b) printf "%.0f", 100 * a / b }')"
fi

echo "== 2. lend before an OOM (vscale-loan.sh)"
for mode in loan control; do
	r=$(tr '\n' ' ' <<<"$(vm 256 240 vscale-loan.sh --env MODE=$mode)")
	valid "$mode" "$r" || continue
	printf '  %-8s oom_kill %s, limit %s -> %s, peak %s, lent %s in %s loans, returned %s in %s ms\n' \
		"$mode" "$(get "$r" oom_kill)" "$(mib "$(get "$r" limit_bytes)")" \
		"$(mib "$(get "$r" memory_max_bytes)")" "$(mib "$(get "$r" peak_bytes)")" \
		"$(mib "$(get "$r" lent_bytes)")" "$(get "$r" loans)" "$(mib "$(get "$r" returned_bytes)")" \
		"$(get "$r" return_ms)"
done

echo "== 4. node pressure: balloon first, eviction only if needed (balloon-pressure.sh)"
for b in on off; do
	r=$(tr '\n' ' ' <<<"$(vm 512 240 balloon-pressure.sh --env BALLOON=$b)")
	valid "balloon $b" "$r" || continue
	printf '  balloon %-3s evictions %s, reclaimed under pressure %s (cache pod swapped %s), kubepods stall %s us, batch pod alive %s\n' \
		"$b" "$(get "$r" evictions)" "$(mib "$(get "$r" reclaim_freed_bytes)")" \
		"$(mib "$(get "$r" cache_swap_bytes)")" "$(get "$r" kubepods_stall_usec)" "$(get "$r" batch_alive)"
done
if ((failed)); then
	echo "balloon: $failed run(s) FAILED; their figures are withheld above" >&2
	exit 1
fi
