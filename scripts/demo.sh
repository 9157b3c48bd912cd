#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# `make demo`: boots Debian's kernel in QEMU with a Kubernetes node's cgroup tree and shows
# memagentd protecting it (tests/vm/scenarios/demo.sh). Run by `make demo` after the build.
set -euo pipefail
build=${1:-build}
top=$(cd "$(dirname "$0")/.." && pwd)
for b in agent/memagent agent/memagentd tests/tools/memhog; do
	[ -x "$build/$b" ] || { echo "demo: $build/$b is missing; run 'make build' first" >&2; exit 2; }
done
cat <<'EOT'
memagent demo: a real Linux kernel (Debian's, under QEMU) with the cgroup tree the kubelet makes,
three pods and a batch job that eats memory. Takes about a minute; the guest's console follows.
EOT
exec "$top/tests/vm/vmrun" --work "$build/vm" --timeout 180 --verbose \
	--bin "$build/agent/memagent" --bin "$build/agent/memagentd" --bin "$build/tests/tools/memhog" \
	demo.sh
