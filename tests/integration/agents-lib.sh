# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Several real memagentd processes, each on its own copy of a cgroup tree captured from the guest
# kernel, reporting to the memschedd of lib.sh. Source after lib.sh, with MEMAGENTD and MEMAGENT
# set. Gives AGENTS (their PIDs), stop_agents (also run at exit, before memschedd stops),
# start_agent, agent_status and agent_fail.
AGENTS=()
stop_agents() {
	for a in "${AGENTS[@]}"; do kill -TERM "$a" 2>/dev/null || true; done
	for a in "${AGENTS[@]}"; do wait "$a" 2>/dev/null || true; done
	AGENTS=()
}
trap 'stop_agents; stop_memschedd; rm -rf "$WORK"' EXIT

# start_agent DIR NODE [memagentd flags...]: memagentd in $WORK/DIR on a private copy of
# tests/fixtures/guest/systemd, reporting as NODE to $BASE every second; its log in
# $WORK/DIR/agent.log, its state and local API socket in $WORK/DIR.
start_agent() {
	local d=$WORK/$1 name=$2
	shift 2
	mkdir -p "$d"
	cp -r "$SRC/tests/fixtures/guest/systemd" "$d/cg"
	cp -r "$SRC/tests/fixtures/guest/proc" "$d/proc"
	cp -r "$SRC/tests/fixtures/guest/sys" "$d/sys"
	"$MEMAGENTD" --cgroup-root "$d/cg" --proc-root "$d/proc" --sys-root "$d/sys" \
		--api-socket "$d/api.sock" --state-directory "$d/state" --bpf-enabled=false \
		--balloon-enabled=false --scheduler-url "$BASE" --node-name "$name" \
		--report-heartbeat 1s --metrics-address none "$@" >"$d/agent.log" 2>&1 &
	AGENTS+=($!)
}

# agent_status DIR: `memagent status` of that agent in $WORK/DIR/st.full, its .scheduler object
# in $WORK/DIR/st.json.
agent_status() {
	"$MEMAGENT" status --api-socket "$WORK/$1/api.sock" --output json >"$WORK/$1/st.full" ||
		fail "agent $1 stopped answering: $(tail -n 5 "$WORK/$1/agent.log")"
	jq .scheduler "$WORK/$1/st.full" >"$WORK/$1/st.json"
}

# agent_fail DIR MESSAGE: fails with that agent's log.
agent_fail() {
	echo "--- agent $1 log ---" >&2
	cat "$WORK/$1/agent.log" >&2
	fail "$2"
}
