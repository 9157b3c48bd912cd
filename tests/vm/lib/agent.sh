# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
#
# Guest-side helpers for scenarios that run memagentd. Source after vmtest.sh.

: "${AGENT_SOCKET:=/run/memagent/memagentd.sock}"
: "${AGENT_LOG:=/tmp/memagentd.log}"

# agent_up   the socket is there; fails at once (and the wait ends) if memagentd exited
agent_up() {
	vm_pid_alive "$AGENT_PID" || vm_fail "memagentd exited at start: $(tr '\n' ' ' <"$AGENT_LOG")"
	test -S "$AGENT_SOCKET"
}

# agent_start [FLAGS...]   start memagentd in the background, wait for its API socket
agent_start() {
	memagentd "$@" >"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	if ! vm_wait_for 20 "memagentd API socket" agent_up; then
		vm_dump "$AGENT_LOG"
		vm_fail "memagentd did not start"
	fi
	vm_log "memagentd running, pid $AGENT_PID"
}

# agent_stop   SIGTERM, wait, and check it exited cleanly (exit 0)
agent_stop() {
	kill -TERM "$AGENT_PID" 2>/dev/null
	_rc=0
	wait "$AGENT_PID" || _rc=$?
	vm_dump "$AGENT_LOG"
	[ "$_rc" -eq 0 ] || vm_fail "memagentd exited $_rc on SIGTERM"
}

# populated CGROUP_DIR   prints 1 or 0 (0 also when the cgroup is gone)
populated() {
	if [ -r "$1/cgroup.events" ]; then
		awk '$1 == "populated" { print $2 }' "$1/cgroup.events"
	else
		echo 0
	fi
}

# oom_kills_total   the kernel's OOM kill counter for the whole machine
oom_kills_total() {
	awk '$1 == "oom_kill" { print $2 }' /proc/vmstat
}

# is_empty CGROUP_DIR   true when nothing runs in the cgroup (or it is gone)
is_empty() {
	[ "$(populated "$1")" = 0 ]
}

# agent_start_in CGROUP_DIR [FLAGS...]   like agent_start, with memagentd inside CGROUP_DIR (a
# container scope: memagentd deployed as a pod)
agent_start_in() {
	_cg=$1
	shift
	kube_spawn "$_cg" "$AGENT_LOG" memagentd "$@" || vm_fail "cannot start memagentd in $_cg"
	AGENT_PID=$KUBE_PID
	if ! vm_wait_for 20 "memagentd API socket" agent_up; then
		vm_dump "$AGENT_LOG"
		vm_fail "memagentd did not start"
	fi
	vm_log "memagentd running in ${_cg#/sys/fs/cgroup}, pid $AGENT_PID"
}
