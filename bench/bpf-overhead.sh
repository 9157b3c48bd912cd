#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# bpf-overhead.sh — what the BPF memory signals cost, measured in the test-bed guest (Debian's
# 6.1 kernel under QEMU/TCG): a hog thrashes against memory.high in a pod while
# memagent-bpf-bench holds BPF run-time statistics on (BPF_ENABLE_STATS) with the programs
# attached; it prints, per program, runs, run time per run and runs per second. The hog runs
# once without and once with the programs loaded, and its page-touch rate is printed for both.
# Figures only (TCG: compare runs of the same guest, not with hardware). Not a ctest.
#
# Usage: bench/bpf-overhead.sh [BUILD_DIR] [DURATION_S] [STALL_THRESHOLD_US]
#        (defaults: build, 10, 1000; a huge threshold measures the programs without ring buffer
#        events)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
build=${1:-$src/build}
duration=${2:-10}
threshold=${3:-1000}
for b in bpf/memagent-bpf-bench tests/tools/memhog; do
	[[ -x $build/$b ]] || { echo "bpf-overhead: $build/$b not built (cmake --build $build --target $(basename "$b"))" >&2; exit 2; }
done
exec "$src/tests/vm/vmrun" --work "$build/vm" --swap-mib 256 --timeout $((duration * 2 + 90)) \
	--bin "$build/bpf/memagent-bpf-bench" --bin "$build/tests/tools/memhog" \
	--env "BENCH_DURATION_S=$duration" --env "BENCH_THRESHOLD_US=$threshold" --keep "$here/bpf/guest-overhead.sh"
