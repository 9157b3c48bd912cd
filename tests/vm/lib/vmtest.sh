# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
#
# Guest-side helpers for test-bed scenarios (busybox ash / POSIX sh).
# Source it:   . "$VM_LIB/vmtest.sh"
#
# Results: vm_result writes key=value lines to the results channel (ttyS1);
# vm_pass / vm_fail write the final RESULT line and exit.  Files put under
# $VM_OUT (vm_copy_out) come back to the host as a tree (vmrun --out DIR).
#
# Every helper that can fail prints why on stderr (the console) and returns
# non-zero; vm_check / vm_require turn that into RESULT FAIL.

: "${VM_RESULTS:=/dev/ttyS1}"
: "${VM_RESULTS_COPY:=/run/vmrun/results}"
: "${VM_OUT:=/vm/out}"

# Milliseconds since boot (guest clock).
vm_now_ms() {
	# /proc/uptime: "123.45 678.90"
	_u=$(cut -d' ' -f1 /proc/uptime)
	_s=${_u%.*}
	_f=${_u#*.}
	echo $((_s * 1000 + ${_f#0} * 10))
}

vm_log() {
	echo "[$(cut -d' ' -f1 /proc/uptime)] $*" >&2
}

# vm_result key=value [key=value ...]   one line on the results channel
vm_result() {
	echo "$*" >>"$VM_RESULTS_COPY"
	echo "$*" >"$VM_RESULTS"
	echo "result: $*" >&2
}

vm_pass() {
	vm_result "RESULT PASS"
	exit 0
}

# vm_fail REASON...   (one line; newlines are flattened)
vm_fail() {
	_r=$(printf '%s' "$*" | tr '\n' ' ')
	echo "FAIL: $_r" >&2
	vm_result "RESULT FAIL $_r"
	exit 1
}

# vm_check DESCRIPTION CMD [ARGS...]   run CMD; RESULT FAIL with DESCRIPTION if it fails
vm_check() {
	_d=$1
	shift
	if "$@"; then
		vm_log "ok: $_d"
	else
		vm_fail "$_d (command: $*)"
	fi
}

# vm_require_file PATH...   each must exist and be readable
vm_require_file() {
	for _f in "$@"; do
		[ -r "$_f" ] || vm_fail "required file missing: $_f"
	done
}

# vm_wait_for TIMEOUT_S DESCRIPTION CMD [ARGS...]
# Poll CMD every 100 ms until it succeeds; return 1 (after logging) on timeout.
vm_wait_for() {
	_t=$1
	_d=$2
	shift 2
	_deadline=$(($(vm_now_ms) + _t * 1000))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		if [ "$(vm_now_ms)" -ge "$_deadline" ]; then
			vm_log "timeout after ${_t}s waiting for: $_d"
			return 1
		fi
		sleep 0.1
	done
}

# vm_key FILE KEY   value of KEY in a flat keyed file ("key value" lines, as
# memory.stat / memory.events), empty if absent.
vm_key() {
	awk -v k="$2" '$1 == k { print $2; exit }' "$1"
}

# vm_psi FILE some|full avg10|avg60|avg300|total   one field of a PSI file
vm_psi() {
	awk -v l="$2" -v f="$3" '$1 == l { for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == f) { print kv[2]; exit } } }' "$1"
}

# vm_key_ge FILE KEY MIN   true when KEY's value in FILE is >= MIN
vm_key_ge() {
	_v=$(vm_key "$1" "$2")
	[ -n "$_v" ] && [ "$_v" -ge "$3" ]
}

# vm_file_ge FILE MIN   true when the single number in FILE is >= MIN
vm_file_ge() {
	_v=$(cat "$1" 2>/dev/null) || return 1
	[ -n "$_v" ] && [ "$_v" != max ] && [ "$_v" -ge "$2" ]
}

# vm_wait_key_ge TIMEOUT_S FILE KEY MIN   e.g. vm_wait_key_ge 20 $cg/memory.events oom_kill 1
vm_wait_key_ge() {
	vm_wait_for "$1" "$3 >= $4 in $2" vm_key_ge "$2" "$3" "$4"
}

# vm_wait_file_ge TIMEOUT_S FILE MIN   e.g. vm_wait_file_ge 20 $cg/memory.current 50000000
vm_wait_file_ge() {
	vm_wait_for "$1" "$2 >= $3" vm_file_ge "$2" "$3"
}

# vm_wait_file_contains TIMEOUT_S FILE REGEX
vm_wait_file_contains() {
	vm_wait_for "$1" "/$3/ in $2" grep -Eq "$3" "$2"
}

# vm_pid_alive PID   true while PID exists and is not a zombie
vm_pid_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	_st=$(sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

# vm_copy_file SRC DEST   copy a (kernel) file with cat into $VM_OUT/DEST
vm_copy_file() {
	mkdir -p "$VM_OUT/$(dirname "$2")" || return 1
	cat "$1" >"$VM_OUT/$2"
}

# vm_copy_cgroup_tree SRC_DIR DEST FILE...
# Mirror the directory tree under SRC_DIR into $VM_OUT/DEST and copy, in every
# directory, those of the named files that exist and are readable (regular
# files only, read with cat: they are kernel files).  Files the kernel refuses
# to read are reported and skipped.
vm_copy_cgroup_tree() {
	_src=$1
	_dst=$2
	shift 2
	find "$_src" -type d | while IFS= read -r _d; do
		_rel=${_d#"$_src"}
		mkdir -p "$VM_OUT/$_dst$_rel" || return 1
		for _n in "$@"; do
			[ -f "$_d/$_n" ] || continue
			if ! cat "$_d/$_n" >"$VM_OUT/$_dst$_rel/$_n" 2>/dev/null; then
				vm_log "copy: cannot read $_d/$_n, skipped"
				rm -f "$VM_OUT/$_dst$_rel/$_n"
			fi
		done
	done
}

# vm_dump FILE...   print files to the console (for debugging a failed run)
vm_dump() {
	for _f in "$@"; do
		echo "--- $_f" >&2
		cat "$_f" >&2 2>/dev/null || echo "(unreadable)" >&2
	done
}
