# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
#
# kubelayout.sh — lay out a node's cgroup v2 tree the way the kubelet (and the
# container runtime) does, for scenarios in the test-bed guest.
# POSIX sh for busybox ash.   . "$VM_LIB/kubelayout.sh"
#
# Settings (environment variables, read at every call):
#   KUBE_CGROUP_ROOT      cgroup2 mount                         /sys/fs/cgroup
#   KUBE_CGROUP_DRIVER    systemd | cgroupfs                    systemd
#   KUBE_RUNTIME          containerd | crio | docker            containerd
#   KUBE_MEMORY_QOS       1 | 0  MemoryQoS feature gate          1
#   KUBE_MEMORY_THROTTLING_FACTOR  memoryThrottlingFactor        0.9
#   KUBE_POD_SANDBOX      1 | 0  create the pod's sandbox        1
#                         ("pause") container cgroup, as runtimes do
#   KUBE_SWAP_BEHAVIOR    unset | NoSwap | LimitedSwap           unset
#                         (kubelet memorySwap.swapBehavior with NodeSwap; unset
#                         = the kubelet does not touch memory.swap.max)
#   KUBE_STATE_DIR        bookkeeping (pod requests per QoS)     /run/kubelayout
#
# Layout, systemd driver (uid dashes become underscores):
#   kubepods.slice                                   memory.max = allocatable
#   kubepods.slice/kubepods-pod<uid_>.slice          Guaranteed pods
#   kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid_>.slice
#   kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid_>.slice
#   <pod>/cri-containerd-<64 hex>.scope | crio-<id>.scope | docker-<id>.scope
# cgroupfs driver:
#   kubepods, kubepods/pod<uid>, kubepods/burstable/pod<uid>,
#   kubepods/besteffort/pod<uid>, <pod>/<id> (crio: <pod>/crio-<id>)
#
# Memory values, as the kubelet writes them with cgroup v2:
#   container memory.max  = limit (else "max")
#   pod       memory.max  = sum of container limits when every container has
#                           one (Guaranteed, some Burstable), else "max"
#   with MemoryQoS on:
#   container memory.min  = request (when > 0)
#   container memory.high = floor((request + factor * (limit - request)) /
#                           page) * page, only when request != limit; with no
#                           limit, node allocatable stands in for it; written
#                           only when > request
#   pod       memory.min  = sum of container requests (when > 0)
#   kubepods-burstable memory.min = sum of Burstable pods' requests (when > 0)
#   kubepods           memory.min = Guaranteed + Burstable requests (when > 0)
#   (the kubelet leaves the QoS-level memory.min as is when the sum is 0)
#   with KUBE_SWAP_BEHAVIOR:
#   NoSwap       container memory.swap.max = 0
#   LimitedSwap  Burstable containers: memory.swap.max = request / MemTotal *
#                SwapTotal (float64, truncated); other QoS classes and
#                containers with request == limit: 0
#
# Every function prints why on stderr and returns non-zero on failure.

: "${KUBE_CGROUP_ROOT:=/sys/fs/cgroup}"
: "${KUBE_CGROUP_DRIVER:=systemd}"
: "${KUBE_RUNTIME:=containerd}"
: "${KUBE_MEMORY_QOS:=1}"
: "${KUBE_MEMORY_THROTTLING_FACTOR:=0.9}"
: "${KUBE_POD_SANDBOX:=1}"
: "${KUBE_STATE_DIR:=/run/kubelayout}"
: "${KUBE_SWAP_BEHAVIOR:=}"
: "${KUBE_PAGE_SIZE:=4096}"

_kube_err() {
	echo "kubelayout: $*" >&2
	return 1
}

# _kube_write FILE VALUE   write one value into a cgroup file, loudly on error
_kube_write() {
	if ! printf '%s\n' "$2" >"$1" 2>/dev/null; then
		_kube_err "cannot write '$2' to $1"
		return 1
	fi
}

# kube_bytes QUANTITY   Kubernetes quantity (128Mi, 1Gi, 1.5Gi, 500M, 4096) -> bytes
kube_bytes() {
	case $1 in
	'' | 0) echo 0; return 0 ;;
	esac
	awk -v q="$1" 'BEGIN {
		if (!match(q, /^[0-9]+(\.[0-9]+)?/)) { exit 1 }
		n = substr(q, 1, RLENGTH); s = substr(q, RLENGTH + 1)
		m["Ki"] = 1024; m["Mi"] = 1048576; m["Gi"] = 1073741824; m["Ti"] = 1099511627776
		m["k"] = 1000; m["K"] = 1000; m["M"] = 1000000; m["G"] = 1000000000; m["T"] = 1000000000000
		if (s == "") f = 1; else if (s in m) f = m[s]; else exit 1
		printf "%.0f\n", n * f
	}' || _kube_err "not a quantity: '$1'"
}

# kube_new_uid   a random pod UID (RFC 4122, as the API server assigns)
kube_new_uid() {
	cat /proc/sys/kernel/random/uuid
}

# kube_new_container_id   64 lowercase hex digits, like a containerd/CRI-O id
kube_new_container_id() {
	_a=$(cat /proc/sys/kernel/random/uuid)
	_b=$(cat /proc/sys/kernel/random/uuid)
	echo "$_a$_b" | tr -d '-'
}

# kube_sandbox_id UID   the id kube_pod_create gives the pod's sandbox container
kube_sandbox_id() {
	printf 'sandbox:%s' "$1" | sha256sum | cut -c1-64
}

_kube_check_qos() {
	case $1 in
	guaranteed | burstable | besteffort) return 0 ;;
	*) _kube_err "QoS class must be guaranteed, burstable or besteffort, got '$1'" ;;
	esac
}

# kube_kubepods_path   absolute path of the node-allocatable cgroup
kube_kubepods_path() {
	case $KUBE_CGROUP_DRIVER in
	systemd) echo "$KUBE_CGROUP_ROOT/kubepods.slice" ;;
	cgroupfs) echo "$KUBE_CGROUP_ROOT/kubepods" ;;
	*) _kube_err "KUBE_CGROUP_DRIVER must be systemd or cgroupfs, got '$KUBE_CGROUP_DRIVER'" ;;
	esac
}

# kube_qos_path QOS   parent cgroup of the pods of a QoS class
kube_qos_path() {
	_kube_check_qos "$1" || return 1
	_kp=$(kube_kubepods_path) || return 1
	case $KUBE_CGROUP_DRIVER:$1 in
	*:guaranteed) echo "$_kp" ;;
	systemd:*) echo "$_kp/kubepods-$1.slice" ;;
	cgroupfs:*) echo "$_kp/$1" ;;
	esac
}

# kube_pod_path QOS UID
kube_pod_path() {
	_qp=$(kube_qos_path "$1") || return 1
	[ -n "$2" ] || { _kube_err "empty pod UID"; return 1; }
	_uid_=$(echo "$2" | tr '-' '_')
	case $KUBE_CGROUP_DRIVER:$1 in
	systemd:guaranteed) echo "$_qp/kubepods-pod$_uid_.slice" ;;
	systemd:*) echo "$_qp/kubepods-$1-pod$_uid_.slice" ;;
	cgroupfs:*) echo "$_qp/pod$2" ;;
	esac
}

# kube_container_path QOS UID CONTAINER_ID
kube_container_path() {
	_pp=$(kube_pod_path "$1" "$2") || return 1
	case $3 in
	*[!0-9a-f]* | '') _kube_err "container id must be lowercase hex, got '$3'"; return 1 ;;
	esac
	case $KUBE_CGROUP_DRIVER:$KUBE_RUNTIME in
	systemd:containerd) echo "$_pp/cri-containerd-$3.scope" ;;
	systemd:crio) echo "$_pp/crio-$3.scope" ;;
	systemd:docker) echo "$_pp/docker-$3.scope" ;;
	cgroupfs:crio) echo "$_pp/crio-$3" ;;
	cgroupfs:containerd | cgroupfs:docker) echo "$_pp/$3" ;;
	*) _kube_err "KUBE_RUNTIME must be containerd, crio or docker, got '$KUBE_RUNTIME'" ;;
	esac
}

# _kube_mkdir_delegating DIR   create DIR (and parents) so that DIR's cgroup has
# the memory controller: every ancestor below the root gets +memory (and the
# other controllers the parent offers) in cgroup.subtree_control.
_kube_mkdir_delegating() {
	_d=$1
	case $_d in
	"$KUBE_CGROUP_ROOT"/*) ;;
	*) _kube_err "$_d is not under KUBE_CGROUP_ROOT=$KUBE_CGROUP_ROOT"; return 1 ;;
	esac
	_rel=${_d#"$KUBE_CGROUP_ROOT"/}
	_cur=$KUBE_CGROUP_ROOT
	_oldifs=$IFS
	IFS=/
	# shellcheck disable=SC2086
	set -- $_rel
	IFS=$_oldifs
	for _part in "$@"; do
		_kube_enable_controllers "$_cur" || return 1
		_cur=$_cur/$_part
		if [ ! -d "$_cur" ]; then
			mkdir "$_cur" 2>/dev/null || { _kube_err "cannot create cgroup $_cur"; return 1; }
		fi
	done
	grep -qw memory "$_d/cgroup.controllers" ||
		{ _kube_err "$_d has no memory controller (cgroup.controllers: $(cat "$_d/cgroup.controllers"))"; return 1; }
}

# _kube_enable_controllers DIR   +memory (required) and +cpu +io +pids (when
# offered) in DIR's subtree_control
_kube_enable_controllers() {
	_sc=$1/cgroup.subtree_control
	grep -qw memory "$_sc" || _kube_write "$_sc" "+memory" || return 1
	for _c in cpu io pids; do
		if grep -qw "$_c" "$1/cgroup.controllers" && ! grep -qw "$_c" "$_sc"; then
			_kube_write "$_sc" "+$_c" || return 1
		fi
	done
}

# kube_node_setup ALLOCATABLE
# Create kubepods (memory.max = node allocatable, as with
# enforceNodeAllocatable=[pods]) and the Burstable and BestEffort QoS cgroups.
kube_node_setup() {
	_alloc=$(kube_bytes "$1") || return 1
	[ "$_alloc" -gt 0 ] || { _kube_err "kube_node_setup: allocatable must be > 0"; return 1; }
	_kp=$(kube_kubepods_path) || return 1
	_kube_mkdir_delegating "$_kp" || return 1
	_kube_enable_controllers "$_kp" || return 1
	_kube_write "$_kp/memory.max" "$_alloc" || return 1
	for _q in burstable besteffort; do
		_qp=$(kube_qos_path $_q) || return 1
		_kube_mkdir_delegating "$_qp" || return 1
		_kube_enable_controllers "$_qp" || return 1
	done
	mkdir -p "$KUBE_STATE_DIR/pods" || return 1
	echo "$_alloc" >"$KUBE_STATE_DIR/allocatable"
}

# kube_pod_create QOS UID SPEC...
# SPEC is CONTAINER_ID:REQUEST:LIMIT (memory quantities; empty = not set).
# Creates the pod cgroup, the sandbox container (KUBE_POD_SANDBOX=1) and the
# containers, with the values the kubelet writes; checks that the specs fit
# the QoS class.  Sets KUBE_POD_PATH.
kube_pod_create() {
	_qos=$1
	_uid=$2
	shift 2
	_kube_check_qos "$_qos" || return 1
	[ $# -ge 1 ] || { _kube_err "kube_pod_create: no container specs"; return 1; }
	[ -r "$KUBE_STATE_DIR/allocatable" ] || { _kube_err "call kube_node_setup first"; return 1; }
	_alloc=$(cat "$KUBE_STATE_DIR/allocatable")

	# First pass: validate, and sum requests and limits.
	_req_sum=0
	_lim_sum=0
	_all_limits=1
	_all_eq=1
	for _spec in "$@"; do
		_cid=${_spec%%:*}
		_rest=${_spec#*:}
		[ "$_rest" != "$_spec" ] && [ "${_rest#*:}" != "$_rest" ] ||
			{ _kube_err "container spec must be ID:REQUEST:LIMIT, got '$_spec'"; return 1; }
		_req=$(kube_bytes "${_rest%%:*}") || return 1
		_lim=$(kube_bytes "${_rest#*:}") || return 1
		kube_container_path "$_qos" "$_uid" "$_cid" >/dev/null || return 1
		if [ "$_lim" -gt 0 ] && [ "$_req" -gt "$_lim" ]; then
			_kube_err "container $_cid: request $_req > limit $_lim"
			return 1
		fi
		# The API server defaults a missing request to the limit.
		[ "$_req" -eq 0 ] && [ "$_lim" -gt 0 ] && _req=$_lim
		case $_qos in
		guaranteed) [ "$_lim" -gt 0 ] && [ "$_req" -eq "$_lim" ] ||
			{ _kube_err "guaranteed pod: container $_cid needs request == limit > 0"; return 1; } ;;
		besteffort) [ "$_req" -eq 0 ] && [ "$_lim" -eq 0 ] ||
			{ _kube_err "besteffort pod: container $_cid must have no request or limit"; return 1; } ;;
		esac
		_req_sum=$((_req_sum + _req))
		_lim_sum=$((_lim_sum + _lim))
		[ "$_lim" -gt 0 ] || _all_limits=0
		[ "$_lim" -gt 0 ] && [ "$_req" -eq "$_lim" ] || _all_eq=0
	done
	if [ "$_qos" = burstable ] && [ "$_req_sum" -eq 0 ] && [ "$_lim_sum" -eq 0 ]; then
		_kube_err "burstable pod needs at least one request or limit (else it is besteffort)"
		return 1
	fi
	if [ "$_qos" = burstable ] && [ "$_all_eq" -eq 1 ]; then
		_kube_err "burstable pod: every container has request == limit > 0, that is guaranteed"
		return 1
	fi

	# The pod cgroup.
	_pp=$(kube_pod_path "$_qos" "$_uid") || return 1
	_kube_mkdir_delegating "$_pp" || return 1
	_kube_enable_controllers "$_pp" || return 1
	if [ "$_all_limits" -eq 1 ]; then
		_kube_write "$_pp/memory.max" "$_lim_sum" || return 1
	fi
	if [ "$KUBE_MEMORY_QOS" = 1 ] && [ "$_req_sum" -gt 0 ]; then
		_kube_write "$_pp/memory.min" "$_req_sum" || return 1
	fi

	# The sandbox ("pause") container: no limits of its own.  Its id is
	# derived from the pod UID so that layouts are reproducible.
	if [ "$KUBE_POD_SANDBOX" = 1 ]; then
		_sid=$(kube_sandbox_id "$_uid")
		_sp=$(kube_container_path "$_qos" "$_uid" "$_sid") || return 1
		mkdir "$_sp" || { _kube_err "cannot create $_sp"; return 1; }
		echo "$_sid" >"$KUBE_STATE_DIR/pods/$_uid.sandbox"
	fi

	# The containers.
	for _spec in "$@"; do
		_cid=${_spec%%:*}
		_rest=${_spec#*:}
		_req=$(kube_bytes "${_rest%%:*}")
		_lim=$(kube_bytes "${_rest#*:}")
		[ "$_req" -eq 0 ] && [ "$_lim" -gt 0 ] && _req=$_lim
		_cp=$(kube_container_path "$_qos" "$_uid" "$_cid") || return 1
		mkdir "$_cp" || { _kube_err "cannot create $_cp"; return 1; }
		if [ "$_lim" -gt 0 ]; then
			_kube_write "$_cp/memory.max" "$_lim" || return 1
		fi
		_swap=$(kube_swap_max "$_qos" "$_req" "$_lim") || return 1
		if [ -n "$_swap" ]; then
			_kube_write "$_cp/memory.swap.max" "$_swap" || return 1
		fi
		if [ "$KUBE_MEMORY_QOS" = 1 ]; then
			[ "$_req" -gt 0 ] && { _kube_write "$_cp/memory.min" "$_req" || return 1; }
			if [ "$_req" -ne "$_lim" ]; then
				_high=$(kube_memory_high "$_req" "$_lim" "$_alloc") || return 1
				if [ "$_high" -gt 0 ] && [ "$_high" -gt "$_req" ]; then
					_kube_write "$_cp/memory.high" "$_high" || return 1
				fi
			fi
		fi
	done

	echo "$_qos $_req_sum" >"$KUBE_STATE_DIR/pods/$_uid"
	_kube_update_qos_min || return 1
	# shellcheck disable=SC2034  # output for the caller
	KUBE_POD_PATH=$_pp
}

# kube_memory_high REQUEST LIMIT ALLOCATABLE   (bytes) the container memory.high
# the kubelet computes (float64 arithmetic, like Go; LIMIT 0 = no limit)
kube_memory_high() {
	awk -v r="$1" -v l="$2" -v a="$3" -v f="$KUBE_MEMORY_THROTTLING_FACTOR" -v p="$KUBE_PAGE_SIZE" 'BEGIN {
		if (l == 0) l = a
		if (l == 0) { print 0; exit }
		h = int((r + (l - r) * f) / p) * p
		printf "%.0f\n", h
	}'
}

# kube_swap_max QOS REQUEST LIMIT   the container memory.swap.max the kubelet
# writes for KUBE_SWAP_BEHAVIOR, or nothing when it writes none
kube_swap_max() {
	case $KUBE_SWAP_BEHAVIOR in
	'') return 0 ;;
	NoSwap) echo 0 ;;
	LimitedSwap)
		if [ "$1" != burstable ] || [ "$2" -eq "$3" ]; then
			echo 0
			return 0
		fi
		awk -v r="$2" '
			/^MemTotal:/ { mem = $2 * 1024 } /^SwapTotal:/ { swap = $2 * 1024 }
			END { if (mem == 0) exit 1; printf "%.0f\n", int(r / mem * swap) }' /proc/meminfo ||
			_kube_err "cannot read MemTotal/SwapTotal from /proc/meminfo"
		;;
	*) _kube_err "KUBE_SWAP_BEHAVIOR must be empty, NoSwap or LimitedSwap, got '$KUBE_SWAP_BEHAVIOR'" ;;
	esac
}

# Recompute the QoS-level memory.min from the pods created so far.
_kube_update_qos_min() {
	[ "$KUBE_MEMORY_QOS" = 1 ] || return 0
	_b=0
	_gu=0
	for _f in "$KUBE_STATE_DIR"/pods/*; do
		[ -f "$_f" ] || continue
		case $_f in *.sandbox) continue ;; esac
		read -r _q _r <"$_f"
		case $_q in
		burstable) _b=$((_b + _r)) ;;
		guaranteed) _gu=$((_gu + _r)) ;;
		esac
	done
	if [ "$_b" -gt 0 ]; then
		_kube_write "$(kube_qos_path burstable)/memory.min" "$_b" || return 1
	fi
	if [ $((_gu + _b)) -gt 0 ]; then
		_kube_write "$(kube_kubepods_path)/memory.min" "$((_gu + _b))" || return 1
	fi
}

# kube_pod_delete QOS UID   kill what runs in the pod and remove its cgroups
kube_pod_delete() {
	_pp=$(kube_pod_path "$1" "$2") || return 1
	[ -d "$_pp" ] || { _kube_err "no pod cgroup $_pp"; return 1; }
	if [ -f "$_pp/cgroup.kill" ]; then
		_kube_write "$_pp/cgroup.kill" 1 || return 1
	fi
	_i=0
	while [ "$(grep -c '^populated 1' "$_pp/cgroup.events")" -ne 0 ] && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	for _c in "$_pp"/*/; do
		[ -d "$_c" ] && { rmdir "$_c" || { _kube_err "cannot remove $_c"; return 1; }; }
	done
	rmdir "$_pp" || { _kube_err "cannot remove $_pp"; return 1; }
	rm -f "$KUBE_STATE_DIR/pods/$2" "$KUBE_STATE_DIR/pods/$2.sandbox"
	_kube_update_qos_min
}

# kube_systemd_unit PATH   a plain (non-Kubernetes) systemd-style group, e.g.
# system.slice/demo.service; parents get the memory controller.  Prints the
# absolute path.
kube_systemd_unit() {
	_kube_mkdir_delegating "$KUBE_CGROUP_ROOT/$1" || return 1
	echo "$KUBE_CGROUP_ROOT/$1"
}

# kube_spawn CGROUP LOGFILE CMD [ARGS...]
# Start CMD in the background inside CGROUP (absolute path); stdout and
# stderr go to LOGFILE.  Sets KUBE_PID (a child of the calling shell, so
# `wait $KUBE_PID` gives its exit status: 137 when the OOM killer took it).
# Returns once the process is confirmed in the cgroup.
kube_spawn() {
	_cg=$1
	_log=$2
	shift 2
	[ -d "$_cg" ] && [ -w "$_cg/cgroup.procs" ] || { _kube_err "kube_spawn: $_cg is not a cgroup"; return 1; }
	[ $# -ge 1 ] || { _kube_err "kube_spawn: no command"; return 1; }
	_mark=$_log.cgroup
	rm -f "$_mark"
	(
		# "0" moves the writing process itself: this subshell, which then execs.
		echo 0 >"$_cg/cgroup.procs" || exit 126
		read -r _self </proc/self/cgroup
		echo "$_self" >"$_mark"
		exec "$@"
	) >"$_log" 2>&1 </dev/null &
	KUBE_PID=$!
	_i=0
	while [ ! -s "$_mark" ] && [ $_i -lt 100 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	_want="0::${_cg#"$KUBE_CGROUP_ROOT"}"
	_got=$(cat "$_mark" 2>/dev/null)
	if [ "$_got" != "$_want" ]; then
		_kube_err "kube_spawn: pid $KUBE_PID is in '${_got:-?}', wanted '$_want' (log: $(head -c 300 "$_log"))"
		return 1
	fi
}
