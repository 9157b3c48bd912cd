#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# thrash.sh — issue 17's scenario side by side: a Burstable "db" re-reading a 256 MiB file on
# ext4 (a virtio disk), a Guaranteed pod, then a BestEffort pod filling hot anonymous memory, no
# swap, on a 1 GiB guest (Debian's 6.1 kernel under QEMU/TCG). One guest runs the squeeze three
# times, one guard each (tests/vm/scenarios/thrash.sh with GUARDS="none earlyoom memagentd"):
# no guard, Debian's earlyoom as packaged (earlyoom -r 0), memagentd with its defaults. Prints,
# per guard: the db's throughput over the last 5 s of the 30 s after the node turned tight
# (MemAvailable under 30%), as a share of its calm throughput just before; its file refaults
# (memory.stat workingset_refault_file) and its memory stall (memory.pressure some / full) from the
# BestEffort pod's start to the end of those 30 s; whether the BestEffort pod was gone by then. Figures only, never pass/fail on them (TCG: compare the guards of one run, not
# with hardware). Not a ctest; the checks are vm.thrash's.
#
# Usage: bench/thrash.sh [BUILD_DIR] [BE_MIB]
#        (defaults: build, 500; the BestEffort pod's size, see thrash.sh for why not 400 here)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/.." && pwd)
build=${1:-$src/build}
be=${2:-500}
for b in tests/tools/memhog agent/memagent agent/memagentd; do
	[[ -x $build/$b ]] || { echo "thrash: $build/$b not built (cmake --build $build)" >&2; exit 2; }
done
earlyoom=$(command -v earlyoom || true)
[[ -n $earlyoom ]] || { echo "thrash: earlyoom not installed (apt-get install earlyoom)" >&2; exit 2; }

rc=0
out=$("$src/tests/vm/vmrun" --work "$build/vm" --timeout 900 --mem 1024 --numa 1 --disk-ext4 512 \
	--modules "virtio_pci virtio_blk crc32c_generic ext4" \
	--bin "$build/tests/tools/memhog" --bin "$build/agent/memagent" --bin "$build/agent/memagentd" \
	--host-bin "$earlyoom" \
	--env "GUARDS=none earlyoom memagentd" --env CHECK=0 --env ROOMY_S=0 --env "BE_MIB=$be" \
	"$src/tests/vm/scenarios/thrash.sh" 2>&1) || rc=$?
res=$(sed -n '/^----- results/,/^-----$/p' <<<"$out" | grep -v '^-----' | tr '\n' ' ')
if ((rc != 0)) || [[ $res != *"RESULT PASS"* ]]; then
	echo "thrash: the guest run failed (vmrun exit $rc), no figures:" >&2
	tail -n 40 <<<"$out" >&2
	exit 1
fi
get() { tr ' ' '\n' <<<"$res" | awk -F= -v k="$1" '$1 == k { v = $2 } END { print v }'; }
ms() { awk -v u="${1:-0}" 'BEGIN { printf "%.0f ms", u / 1000 }'; }

echo "== issue 17: db (256 MiB file on ext4) squeezed by a ${be} MiB BestEffort pod, 1 GiB, no swap"
printf '  %-10s %-14s %-12s %-22s %-16s %s\n' guard "db vs calm" refaults "stall some / full" \
	"BestEffort gone" "db back to 0.9x"
for g in none earlyoom memagentd; do
	rec=$(get "${g}_recovered_ms")
	[[ $rec == never || -z $rec ]] || rec="after $rec ms"
	printf '  %-10s %-14s %-12s %-22s %-16s %s\n' "$g" "$(get "${g}_ratio")x" "$(get "${g}_refaults")" \
		"$(ms "$(get "${g}_stall_some_usec")") / $(ms "$(get "${g}_stall_full_usec")")" \
		"$([[ $(get "${g}_besteffort_gone") == 1 ]] && echo yes || echo no)" "${rec:-never}"
done
echo "  (db throughput over the last 5 s of the 30 s after the node turned tight, vs its calm rate"
echo "   just before; refaults and stall from the BestEffort pod's start to the end of those 30 s)"
