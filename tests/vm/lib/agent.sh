# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
#
# Guest-side helpers for scenarios that run memagentd. Source after vmtest.sh.

: "${AGENT_SOCKET:=/run/memagent/memagentd.sock}"
: "${AGENT_LOG:=/tmp/memagentd.log}"
# MEMAGENTD_FLAGS (vmrun --env) go after the scenario's own flags, the later winning: a way to
# break a scenario's premise by hand (e.g. --dry-run) and see that its checks fail.
: "${MEMAGENTD_FLAGS:=}"

# agent_up   the socket is there; fails at once (and the wait ends) if memagentd exited
agent_up() {
	vm_pid_alive "$AGENT_PID" || vm_fail "memagentd exited at start: $(tr '\n' ' ' <"$AGENT_LOG")"
	test -S "$AGENT_SOCKET"
}

# agent_start [FLAGS...]   start memagentd in the background, wait for its API socket
agent_start() {
	[ -z "$MEMAGENTD_FLAGS" ] || vm_log "memagentd: extra flags from MEMAGENTD_FLAGS: $MEMAGENTD_FLAGS"
	# shellcheck disable=SC2086  # MEMAGENTD_FLAGS is a list of words
	memagentd "$@" $MEMAGENTD_FLAGS >"$AGENT_LOG" 2>&1 &
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

# no_kernel_oom_kill OOM0 CGROUP_DIR...   fail the scenario if the kernel's OOM killer fired: the
# node's vmstat oom_kill moved from OOM0, or a cgroup's memory.events (hierarchical: the cgroup
# and everything under it) counts an oom_kill. A pod emptied by the kernel instead of memagentd
# looks the same from outside, so every eviction scenario asks this.
no_kernel_oom_kill() {
	_o0=$1
	shift
	for _cg in "$@"; do
		[ -r "$_cg/memory.events" ] || continue # gone with its pod: the node's counter still tells
		_n=$(vm_key "$_cg/memory.events" oom_kill)
		vm_check "no kernel OOM kill in ${_cg#/sys/fs/cgroup} (memory.events oom_kill ${_n:-?})" [ "${_n:-0}" = 0 ]
	done
	_o1=$(oom_kills_total)
	vm_check "the kernel OOM killer never fired (vmstat oom_kill $_o0 -> $_o1)" [ "$_o1" = "$_o0" ]
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
	[ -z "$MEMAGENTD_FLAGS" ] || vm_log "memagentd: extra flags from MEMAGENTD_FLAGS: $MEMAGENTD_FLAGS"
	# shellcheck disable=SC2086  # MEMAGENTD_FLAGS is a list of words
	kube_spawn "$_cg" "$AGENT_LOG" memagentd "$@" $MEMAGENTD_FLAGS || vm_fail "cannot start memagentd in $_cg"
	AGENT_PID=$KUBE_PID
	if ! vm_wait_for 20 "memagentd API socket" agent_up; then
		vm_dump "$AGENT_LOG"
		vm_fail "memagentd did not start"
	fi
	vm_log "memagentd running in ${_cg#/sys/fs/cgroup}, pid $AGENT_PID"
}

# donor_start N URL ADDRESS BYTES [FLAGS...]   start memagentd as pool donor "donor-N": it lends
# BYTES (locked, in 16Mi slabs) to the pool of memschedd at URL, served at ADDRESS port 761N over
# TCP and, where the node has an RDMA device, RDMA; nothing else acted on (dry run, no balloon, no
# BPF). Log /tmp/donor-N.log (appended: a donor started again keeps its history); pid in DONOR_N.
# The one donor setup of the remote swap scenarios and bench.
donor_start() {
	_n=$1 _url=$2 _addr=$3 _bytes=$4
	shift 4
	memagentd --node-name "donor-$_n" --api-socket "/run/memagent/donor-$_n.sock" \
		--state-directory "/tmp/donor-$_n" --dry-run --balloon-enabled=false \
		--bpf-enabled=false --scheduler-url "$_url" --report-heartbeat 2s \
		--pool-donate "$_bytes" --pool-slab-size 16Mi --pool-donate-address "$_addr" \
		--pool-donate-port "761$_n" --metrics-address none "$@" >>"/tmp/donor-$_n.log" 2>&1 &
	eval "DONOR_$_n=\$!"
}

# donors_offering URL COUNT   true when memschedd at URL has COUNT donors offering
donors_offering() {
	wget -q -O - "$1/v1/pools" 2>/dev/null | grep -q "\"donor_count\":$2"
}

# donors_wait URL COUNT SECONDS   wait until COUNT donors offer; else fail with what the donors and
# memschedd (when it runs here) logged
donors_wait() {
	vm_wait_for "$3" "$2 donors offering" donors_offering "$1" "$2" && return 0
	for _f in /tmp/donor-1.log /tmp/memschedd.log; do
		[ ! -e "$_f" ] || vm_dump "$_f"
	done
	vm_fail "the donors did not offer ($2 wanted at $1)"
}
