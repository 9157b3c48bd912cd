#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# libibverbs and librdmacm are loaded only by a node that lends or borrows memory over RDMA
# (agent/remote/rdma-dl.h; issue 13). Runs the RDMA transport's unit test (a donor started, a
# consumer reaching its RDMA transport, rdma_link_open() and rdma_listener_new() called directly)
# three times: on this host as it is, which has no verbs device: nothing loads them and the
# consumer speaks TCP; in a mount namespace whose /sys/class holds a verbs device
# (infiniband_verbs/uverbs0) and whose libibverbs.so.1 cannot be loaded: the same TCP, after one
# log line naming the library and the feature, and no crash; and with that device and the real
# libraries: both are dlopen()ed (the device is no real one, so the consumer still speaks TCP).
# Needs root and unshare(1) for the namespace (skips without).
set -euo pipefail
TEST_BIN=${1:?usage: $0 TEST_REMOTE_RDMA}
WORK=$(mktemp -d /tmp/memagent-rdma-lazy.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail() {
	echo "FAIL: $*" >&2
	for f in "$WORK"/*.log; do
		[ -f "$f" ] && { echo "--- $(basename "$f") ---" >&2; cat "$f" >&2; }
	done
	exit 1
}
pass() { echo "ok: $*"; }

grep -aq 'rdma_resolve_route' "$TEST_BIN" || { echo "SKIP: built without RDMA"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (a mount namespace)"; exit 77; }
command -v unshare >/dev/null || { echo "SKIP: unshare not installed (util-linux)"; exit 77; }
LIBIBVERBS=$(ldconfig -p | awk '!f && $1 == "libibverbs.so.1" && /x86-64/ { print $NF; f = 1 }')
[ -n "$LIBIBVERBS" ] || { echo "SKIP: libibverbs.so.1 is not installed"; exit 77; }
LIBIBVERBS=$(realpath "$LIBIBVERBS")

# run NAME [unshare MOUNTS...]: the unit test, its output in $WORK/NAME.log and the libraries the
# dynamic loader opened in $WORK/NAME.ld.*; fails when the test fails.
run() {
	local name=$1
	shift
	env -u JOURNAL_STREAM LD_DEBUG=files LD_DEBUG_OUTPUT="$WORK/$name.ld" "$@" "$TEST_BIN" \
		>"$WORK/$name.log" 2>&1 || fail "$name: the unit test failed (exit $?)"
}
# loaded NAME SONAME: whether the run NAME opened SONAME.
loaded() { cat "$WORK/$1".ld.* | grep -q "file=$2 \[0\]"; }
# in_namespace MASK_LIBIBVERBS: a command that runs its arguments where /sys/class holds a verbs
# device, and libibverbs.so.1 is /dev/null when MASK_LIBIBVERBS is 1.
mkdir -p "$WORK/class/infiniband_verbs/uverbs0"
cat >"$WORK/ns.sh" <<'NS'
set -e
mount --bind "$CLASS" /sys/class
[ "$MASK" = 1 ] && mount --bind /dev/null "$LIBIBVERBS"
exec "$@"
NS
in_namespace() {
	echo env CLASS="$WORK/class" MASK="$1" LIBIBVERBS="$LIBIBVERBS" \
		unshare --mount --propagation private bash "$WORK/ns.sh"
}

if compgen -G '/sys/class/infiniband_verbs/uverbs*' >/dev/null; then
	echo "this host has a verbs device: the run without one is left out"
else
	run host
	for so in libibverbs.so.1 librdmacm.so.1 libnl-3.so.200; do
		loaded host "$so" && fail "host: $so was loaded on a node without a verbs device"
	done
	pass "without a verbs device, a donor and a consumer load neither libibverbs, librdmacm nor libnl, and reach each other over TCP"
fi

# shellcheck disable=SC2046 # in_namespace's words are the command
run missing $(in_namespace 1)
n=$(grep -c 'remote memory over RDMA needs libibverbs.so.1, which could not be loaded' "$WORK/missing.log" || true)
[ "$n" = 1 ] || fail "missing: $n lines (want 1) saying that remote memory over RDMA needs libibverbs.so.1, which could not be loaded"
loaded missing librdmacm.so.1 && fail "missing: librdmacm was loaded although libibverbs was not"
pass "libibverbs that cannot be loaded: one line naming it and the feature, then TCP (the unit tests pass)"

# shellcheck disable=SC2046
run present $(in_namespace 0)
for so in libibverbs.so.1 librdmacm.so.1; do
	loaded present "$so" || fail "present: $so was not loaded although /sys/class has a verbs device"
done
grep -q 'could not be loaded' "$WORK/present.log" && fail "present: a library could not be loaded"
pass "with a verbs device, libibverbs and librdmacm are dlopen()ed"
