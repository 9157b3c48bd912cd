#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Eviction latency on the real kernel (QEMU guest): RUNS episodes of a BestEffort pod growing at
# 96 MiB/s until memagentd evicts it, with the daemon's defaults (graceful SIGTERM at medium) and
# with the medium level disabled (immediate kill at critical). Prints p50/p99 of:
#   trigger -> decision   from the first sample over a threshold (hysteresis included)
#   sample  -> decision   the cost of one tick: sampling, detection, ranking
#   decision -> empty     until the victim's cgroup is empty
# Figures, never pass/fail. Usage: bench/evict-latency.sh [BUILD_DIR] [RUNS]
set -euo pipefail
build=${1:-build}
runs=${2:-20}
top=$(cd "$(dirname "$0")/.." && pwd)

pct() { # pct P < numbers
	sort -n | awk -v p="$1" '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit }
		i = int((p / 100) * NR + 0.999999); if (i < 1) i = 1; if (i > NR) i = NR; print a[i] }'
}

for mode in graceful kill; do
	flags=""
	[ "$mode" = kill ] && flags="--memory-available-medium=0"
	out=$(mktemp)
	"$top/tests/vm/vmrun" --work "$build/vm" --timeout $((60 + runs * 20)) \
		--bin "$build/agent/memagent" --bin "$build/agent/memagentd" --bin "$build/tests/tools/memhog" \
		--env "RUNS=$runs" --env "AGENT_FLAGS=$flags" "$top/bench/guest/evict-latency.sh" >"$out" 2>&1 ||
		{ cat "$out"; exit 1; }
	echo "== $mode ($runs runs, memagentd ${flags:-defaults}; guest under TCG, several times slower than a host)"
	for k in trigger_to_decision_usec sample_to_decision_usec decision_to_empty_usec; do
		# Percentiles over the runs that have the figure; the others are counted, not zeroed.
		all=$(grep -o "$k=[^ ]*" "$out" | cut -d= -f2)
		vals=$(grep -E '^[0-9]+$' <<<"$all" || true)
		missing=$(grep -cvE '^[0-9]+$' <<<"$all" || true)
		[ -n "$all" ] || missing=$runs
		ms() { if [ -n "$vals" ]; then echo "$vals" | pct "$1" | awk '{ printf "%8.1f", $1 / 1000 }'; else printf '%8s' -; fi; }
		printf '  %-26s p50 %s ms   p99 %s ms   (%d of %d runs missing the figure)\n' "${k%_usec}" \
			"$(ms 50)" "$(ms 99)" "$missing" "$runs"
	done
	vals=$(grep -o "start_to_empty_ms=[0-9]*" "$out" | cut -d= -f2)
	printf '  %-26s p50 %8s ms   p99 %8s ms\n' "hog start -> empty" "$(echo "$vals" | pct 50)" "$(echo "$vals" | pct 99)"
	echo "  actions: $(grep -o 'action=[a-z]*' "$out" | sort | uniq -c | tr '\n' ' ')"
	echo "  kernel OOM kills at the end: $(grep -o 'oom_kills=[0-9]*' "$out" | tail -1 | cut -d= -f2)"
	rm -f "$out"
done
echo "(kubelet reference: eviction housekeeping runs every 10 s)"
