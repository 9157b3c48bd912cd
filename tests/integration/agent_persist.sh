#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memagentd's state file across a restart, on a temp copy of the captured cgroup tree: a loan
# left by the previous run whose limit is still ours is resumed and returned, one whose
# container is another cgroup now is dropped, one whose limit someone else changed becomes a
# stand-back (and stays one in the file); a corrupt file is logged with its path and reason,
# and the agent starts fresh; with nothing to remember, nothing is written.
set -euo pipefail
MEMAGENTD=${1:?usage: $0 MEMAGENTD SOURCE_DIR}
SRC=${2:?}
WORK_NAME=memagentd-persist
. "$SRC/tests/integration/agent-lib.sh"
POD=/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice
IDLE=$POD/cri-containerd-7bb4cecd9dc08b93c415ecd2433a608b02be18b10e3a6eb54332f1e379516bbf.scope
NEAR=$POD/cri-containerd-3333333333333333333333333333333333333333333333333333333333333333.scope
OTHER=$POD/cri-containerd-4444444444444444444444444444444444444444444444444444444444444444.scope
MiB=1048576
# The idle container (nothing in use) holds a loan of 128 MiB over its original 128 MiB.
echo $((256 * MiB)) >"$WORK/cg$IDLE/memory.max"
mkdir -m 0700 "$WORK/state"
loan() { # PATH ID OUR_MAX
	printf '{"cgroupId":%s,"cgroup":"%s","standBack":false,"origMax":%s,"origHigh":null,' "$2" "$1" $((128 * MiB))
	printf '"origPodMax":null,"ourMax":%s,"ourHigh":null,"ourPodMax":null,"lentBytes":%s,' "$3" $(($3 - 128 * MiB))
	printf '"lastChangeUsec":%s}' "$(($(date +%s) - 60))000000"
}
cat >"$WORK/state/state.json" <<EOT
{"version":1,"savedAtUsec":1,"cooldownUntilUsec":0,"killsUsec":[],"units":[
 $(loan "$IDLE" "$(stat -c %i "$WORK/cg$IDLE")" $((256 * MiB))),
 $(loan "$OTHER" 1 $((256 * MiB))),
 $(loan "$NEAR" "$(stat -c %i "$WORK/cg$NEAR")" $((256 * MiB)))
]}
EOT
cat >"$WORK/memagentd.yaml" <<EOT
cgroupRoot: $WORK/cg
procRoot: $WORK/proc
sysRoot: $WORK/sys
apiSocket: $WORK/api.sock
stateDirectory: $WORK/state
bpfEnabled: false
balloonEnabled: false
vscaleReturnHold: 0s
sampleInterval: 200ms
metricsAddress: none
EOT
start() {
	"$MEMAGENTD" --config "$WORK/memagentd.yaml" >"$WORK/agent.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		[ -S "$WORK/api.sock" ] && return 0
		kill -0 "$PID" 2>/dev/null || fail "memagentd exited at start"
		sleep 0.1
	done
	fail "memagentd never answered"
}
stop() {
	kill -TERM "$PID"
	wait "$PID" || fail "memagentd exited $? on SIGTERM"
	PID=
}

# 1. The loans of the previous run, reconciled before the first step.
start
grep -q "resumed from $WORK/state/state.json: the loan to $IDLE" "$WORK/agent.log" || fail "the idle container's loan not resumed"
grep -q "dropped from .*: the loan to $OTHER" "$WORK/agent.log" || fail "a loan to another cgroup not dropped"
grep -q "stood back from .*: the loan to $NEAR" "$WORK/agent.log" || fail "a changed limit not stood back from"
pass "reconciled: resumed, dropped, stood back"

# 2. The resumed loan is returned by the normal logic, step by step, down to the original.
for _ in $(seq 100); do
	[ "$(cat "$WORK/cg$IDLE/memory.max")" = $((128 * MiB)) ] && break
	sleep 0.1
done
[ "$(cat "$WORK/cg$IDLE/memory.max")" = $((128 * MiB)) ] || fail "the loan was not returned: memory.max $(cat "$WORK/cg$IDLE/memory.max")"
[ "$(cat "$WORK/cg$NEAR/memory.max")" = $((128 * MiB)) ] || fail "the stood-back container's limit was touched"
pass "the resumed loan was returned: memory.max back to 128 MiB"

# 3. The file follows: the loan is gone, the stand-back stays; 0600 in a 0700 directory.
for _ in $(seq 50); do
	jq -e '.units | length == 1' "$WORK/state/state.json" >/dev/null 2>&1 && break
	sleep 0.1
done
jq -e --arg p "$NEAR" '.units == [.units[0]] and .units[0].cgroup == $p and .units[0].standBack' \
	"$WORK/state/state.json" >/dev/null || fail "state file: $(cat "$WORK/state/state.json")"
[ "$(stat -c %a "$WORK/state/state.json")" = 600 ] || fail "state file mode $(stat -c %a "$WORK/state/state.json")"
[ ! -e "$WORK/state/state.json.tmp" ] || fail "temporary file left behind"
stop
pass "state file: the stand-back alone, mode 600"

# 4. A corrupt file: one line with its path and why, and the agent runs on.
printf '{"version":1,"cooldownUntilUsec":' >"$WORK/state/state.json"
start
grep -q "Ignoring the state file $WORK/state/state.json: not JSON" "$WORK/agent.log" || fail "no word about the corrupt file"
for _ in $(seq 50); do
	jq -e '.units == []' "$WORK/state/state.json" >/dev/null 2>&1 && break
	sleep 0.1
done
jq -e '.units == []' "$WORK/state/state.json" >/dev/null 2>&1 || fail "the corrupt file was not replaced"
stop
pass "corrupt state file ignored and replaced: $(grep -o 'Ignoring the state file.*' "$WORK/agent.log")"

# 5. Nothing to remember: nothing written (the file is written on change, not every tick).
rm -rf "$WORK/state"
start
sleep 1
stop
[ ! -e "$WORK/state/state.json" ] || fail "a state file without anything to remember: $(cat "$WORK/state/state.json")"
pass "nothing lent, nothing written"
echo "1 passed, 0 failed"
