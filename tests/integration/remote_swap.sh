#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Remote swap's data plane on loopback (issue 14): three real memagentd donors (--pool-donate,
# each on its own copy of a captured cgroup tree) offer locked memory to a real memschedd; the
# consumer's block layer (remote_blockcheck, the library memagentd links) leases a durable
# device, the donor holding most of it is SIGKILLed mid-write, memschedd revokes and re-grants,
# the lost replicas are copied from the survivors while writes go on, a second donor is killed,
# and every block of the device must read back as written. A donor stopped cleanly withdraws
# its offer.
BLOCKCHECK=${4:?usage: $0 MEMSCHEDD SOURCE_DIR MEMAGENTD REMOTE_BLOCKCHECK}
# shellcheck source=agents-lib.sh
. "$(dirname "$0")/agents-lib.sh" "$1" "$2" "$3"

# Each donor locks 4 MiB: within the usual 8 MiB RLIMIT_MEMLOCK of an unprivileged user.
lim=$(ulimit -l)
if [[ $lim != unlimited && $lim -lt 6144 ]]; then
	echo "SKIP: RLIMIT_MEMLOCK is ${lim} KiB, the donors lock 4 MiB each"
	exit 77
fi

start_memschedd --pool-offer-ttl-sec 2

# start_donor NODE: a donor of 4 MiB in 1 MiB slabs, served on a port nobody listens on.
start_donor() {
	start_agent "$1" "$1" --pool-donate 4Mi --pool-slab-size 1Mi \
		--pool-donate-address 127.0.0.1 --pool-donate-port "$(free_port)"
}
start_donor it-donor-a
start_donor it-donor-b
start_donor it-donor-c

# 1. The three offers arrive, over TCP at the address and port each was given.
ok=
for _ in $(seq 100); do
	[[ $(http GET /v1/pools) == 200 ]] && [[ $(jq '.donor_count' "$WORK/body") == 3 ]] && { ok=1; break; }
	sleep 0.1
done
[[ -n $ok ]] || { tail -n 20 "$WORK"/it-donor-*/agent.log >&2; fail "the three donors never offered: $(cat "$WORK/body")"; }
jqb '.offered_bytes == 3 * 4194304 and ([.donors[].transports[0].kind] | unique) == ["tcp"]'
# AddressSanitizer intercepts mlock() and ignores it ("AddressSanitizer ignores mlock"): under
# it nothing can be seen locked, so that one check is left out, and said so.
if [[ $(ldd "$MEMAGENTD" 2>/dev/null) == *libasan* ]]; then
	echo "NOT CHECKED under ASan (it ignores mlock): the donors' VmLck"
	pass "three memagentd donors offer 4 MiB each over tcp"
else
	for n in it-donor-a it-donor-b it-donor-c; do
		lck=$(awk '/^VmLck:/ {print $2}' "/proc/${AGENT_PID[$n]}/status")
		[[ $lck -ge 4096 ]] || fail "donor $n has $lck KiB locked, it offered 4096"
	done
	pass "three memagentd donors offer 4 MiB each of locked memory over tcp"
fi

# 2. The consumer: a durable 2 MiB device on two replicas; two donors killed in turn.
out=$("$BLOCKCHECK" "$BASE" it-consumer 2097152 \
	"it-donor-a=${AGENT_PID[it-donor-a]}" "it-donor-b=${AGENT_PID[it-donor-b]}" \
	"it-donor-c=${AGENT_PID[it-donor-c]}" 2>"$WORK/blockcheck.err") || {
	cat "$WORK/blockcheck.err" >&2
	fail "the block check failed: $out"
}
echo "$out" | jq -e '.repaired and .read == 0 and .bad_blocks == 0 and .blocks == 512' >/dev/null ||
	fail "blocks lost: $out"
echo "$out" | jq -e '.epoch_after > .epoch_before and .synced_bytes > 0 and .replica_failures > 0' >/dev/null ||
	fail "no revocation, re-grant or copy happened: $out"
pass "donor $(echo "$out" | jq -r .first_killed) killed mid-write, replicas copied onto re-granted slabs, $(echo "$out" | jq -r .second_killed) killed too: all 512 blocks read back ($(echo "$out" | jq -c '{writes, synced_bytes, replica_failures, epoch_before, epoch_after}'))"
expect 404 GET /v1/leases/swap-blockcheck
pass "the drained lease was released"

# 3. The donor left alive stops cleanly and withdraws its offer at once.
for n in it-donor-a it-donor-b it-donor-c; do
	kill -0 "${AGENT_PID[$n]}" 2>/dev/null || continue
	kill -TERM "${AGENT_PID[$n]}"
	wait "${AGENT_PID[$n]}" 2>/dev/null || true
	grep -q "Withdrew the pool offer of $n" "$WORK/$n/agent.log" ||
		fail "donor $n did not withdraw its offer: $(tail -n 5 "$WORK/$n/agent.log")"
	expect 200 GET /v1/pools
	jqb "[.donors[].node] | index(\"$n\") == null"
	pass "donor $n withdrew its offer on SIGTERM"
done
