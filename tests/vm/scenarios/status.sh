#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# `memagent status --output json` on a real kernel, with the kubelet's layout for the driver in
# KUBE_CGROUP_DRIVER (systemd or cgroupfs): every pod and container is present with the right
# QoS class and cgroup path, and its numbers equal what the kernel's own files say at that
# moment (within what a steady workload changes in between). The table output lists them too.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"

MiB=1048576
ROOT=/sys/fs/cgroup
driver=${KUBE_CGROUP_DRIVER:-systemd}
vm_result "driver=$driver"

vm_check "kube_node_setup" kube_node_setup 768Mi
g=$(kube_new_uid); gc=$(kube_new_container_id)
b=$(kube_new_uid); bc1=$(kube_new_container_id); bc2=$(kube_new_container_id)
e=$(kube_new_uid); ec=$(kube_new_container_id)
vm_check "guaranteed pod" kube_pod_create guaranteed "$g" "$gc:64Mi:64Mi"
vm_check "burstable pod" kube_pod_create burstable "$b" "$bc1:32Mi:128Mi" "$bc2:16Mi:0"
vm_check "besteffort pod" kube_pod_create besteffort "$e" "$ec:0:0"

n=0
for spec in "guaranteed $g $gc 40" "burstable $b $bc1 60" "besteffort $e $ec 30"; do
	set -- $spec
	n=$((n + 1))
	vm_check "spawn memhog in $1" kube_spawn "$(kube_container_path "$1" "$2" "$3")" /tmp/hog$n.log \
		memhog --size-mib "$4" --hot-pct 5 --pass-sleep-ms 50 --report-ms 0 --ready-file /tmp/hog$n.ready
done
for i in 1 2 3; do
	vm_wait_for 60 "memhog $i ready" test -f /tmp/hog$i.ready || { vm_dump /tmp/hog$i.log; vm_fail "memhog $i never got ready"; }
done

t0=$(vm_now_ms)
cp /proc/meminfo /tmp/meminfo.before
memagent status --output json --workload-root none >/tmp/s.json 2>/tmp/s.err || { vm_dump /tmp/s.err; vm_fail "memagent status --output json failed"; }
cp /proc/meminfo /tmp/meminfo.after
vm_result "status_ms=$(($(vm_now_ms) - t0))" "status_json_bytes=$(wc -c </tmp/s.json)"
jq -e . /tmp/s.json >/dev/null || vm_fail "status output is not JSON"

# near A B TOL: |A-B| <= TOL
near() {
	_d=$(($1 - $2))
	[ "${_d#-}" -le "$3" ]
}
# file value, with "max" as null (the JSON contract)
fval() {
	_v=$(cat "$1")
	[ "$_v" = max ] && echo null || echo "$_v"
}

# check_cgroup JQ_OBJECT_EXPR DIR: the cgroup's fields against the kernel's files. One jq call
# per cgroup: under TCG every process costs.
check_cgroup() {
	_sel=$1
	_dir=$2
	_rel=${_dir#"$ROOT"}
	# shellcheck disable=SC2046
	set -- $(jq -r "$_sel | [.cgroup, .memory.max_bytes, .memory.high_bytes, .memory.min_bytes,
		.memory.low_bytes, .memory.swap_max_bytes, .memory.current_bytes,
		.memory.inactive_file_bytes, .memory.working_set_bytes, .memory.anon_bytes,
		.events.oom_kill, .events.max, .events.high, .psi.some.total_usec, (.numa | length),
		.cgroup_id] | map(tostring) | join(\" \")" /tmp/s.json)
	[ $# -eq 16 ] || vm_fail "status JSON of $_rel: expected 16 fields, got $# ($*)"
	vm_check "cgroup path of $_rel (got $1)" [ "$1" = "$_rel" ]
	for f in max high min low swap.max; do
		case $f in
		max) got=$2 ;; high) got=$3 ;; min) got=$4 ;; low) got=$5 ;; swap.max) got=$6 ;;
		esac
		[ -e "$_dir/memory.$f" ] || continue
		want=$(fval "$_dir/memory.$f")
		vm_check "memory.$f of $_rel: json $got = file $want" [ "$got" = "$want" ]
	done
	cur=$7 inact=$8 ws=$9
	shift 9
	want=$(cat "$_dir/memory.current")
	vm_check "memory.current of $_rel: json $cur ~ file $want" near "$cur" "$want" $((2 * MiB))
	if [ "$cur" -ge "$inact" ]; then exp=$((cur - inact)); else exp=0; fi
	vm_check "working set of $_rel = current - inactive_file ($ws = $cur - $inact)" [ "$ws" = "$exp" ]
	want=$(vm_key "$_dir/memory.stat" anon)
	vm_check "anon of $_rel: json $1 ~ file $want" near "$1" "$want" $((2 * MiB))
	want=$(vm_key "$_dir/memory.events" oom_kill)
	vm_check "memory.events oom_kill of $_rel: $2 = $want" [ "$2" = "$want" ]
	want=$(vm_key "$_dir/memory.events" max)
	vm_check "memory.events max of $_rel: $3 = $want" [ "$3" = "$want" ]
	want=$(vm_key "$_dir/memory.events" high)
	vm_check "memory.events high of $_rel: $4 = $want" [ "$4" = "$want" ]
	want=$(awk '/^some/ { sub("total=", "", $5); print $5 }' "$_dir/memory.pressure")
	vm_check "psi some total of $_rel: json $5 <= file $want (read later)" [ "$5" -le "$want" ]
	vm_check "numa_stat of $_rel has 2 nodes (got $6)" [ "$6" = 2 ]
	id=$(stat -c %i "$_dir")
	vm_check "cgroup_id of $_rel is its inode ($7 = $id)" [ "$7" = "$id" ]
}

npods=$(jq '.pods | length' /tmp/s.json)
vm_check "three pods (got $npods)" [ "$npods" = 3 ]
for spec in "guaranteed $g" "burstable $b" "besteffort $e"; do
	set -- $spec
	qos=$1 uid=$2
	sel=".pods[] | select(.uid == \"$uid\")"
	got=$(jq -r "$sel | .qos" /tmp/s.json)
	vm_check "pod $uid is $qos (got $got)" [ "$got" = "$qos" ]
	got=$(jq -r "$sel | .driver" /tmp/s.json)
	vm_check "pod $uid driver $driver (got $got)" [ "$got" = "$driver" ]
	pod=$(kube_pod_path "$qos" "$uid")
	check_cgroup "$sel" "$pod"
	# every container directory the runtime made (the sandbox too) is a container
	ndirs=$(find "$pod" -mindepth 1 -maxdepth 1 -type d | wc -l)
	nc=$(jq -r "$sel | .containers | length" /tmp/s.json)
	vm_check "pod $uid has $ndirs containers (got $nc)" [ "$nc" = "$ndirs" ]
	for d in $(find "$pod" -mindepth 1 -maxdepth 1 -type d); do
		cid=$(basename "$d" | sed 's/^cri-containerd-//; s/\.scope$//')
		check_cgroup "$sel | .containers[] | select(.id == \"$cid\")" "$d"
	done
done
kp=$(kube_kubepods_path)
check_cgroup ".kubepods" "$kp"

# the node
# (meminfo read just before and just after the status command: available lies in between,
# give or take what the command itself allocated)
total=$(($(awk '/^MemTotal:/ { print $2 }' /tmp/meminfo.after) * 1024))
a0=$(($(awk '/^MemAvailable:/ { print $2 }' /tmp/meminfo.before) * 1024))
a1=$(($(awk '/^MemAvailable:/ { print $2 }' /tmp/meminfo.after) * 1024))
got=$(jq -r .node.memory_total_bytes /tmp/s.json)
vm_check "node total $got = $total" [ "$got" = "$total" ]
got=$(jq -r .node.memory_available_bytes /tmp/s.json)
vm_check "node available $got between $a0 and $a1 (+-4 MiB)" near "$got" $(((a0 + a1) / 2)) $(((a0 > a1 ? a0 - a1 : a1 - a0) / 2 + 4 * MiB))
got=$(jq -r '.node.numa | length' /tmp/s.json)
vm_check "two NUMA zones (got $got)" [ "$got" = 2 ]
for z in 0 1; do
	want=$(($(awk '/MemTotal:/ { print $4 }' /sys/devices/system/node/node$z/meminfo) * 1024))
	got=$(jq -r ".node.numa[] | select(.id == $z) | .total_bytes" /tmp/s.json)
	vm_check "numa zone $z total $got = $want" [ "$got" = "$want" ]
	d=$(jq -r ".node.numa[] | select(.id == $z) | .distances | join(\" \")" /tmp/s.json)
	vm_check "numa zone $z distances '$d' = sysfs" [ "$d" = "$(cat /sys/devices/system/node/node$z/distance)" ]
done
got=$(jq -r .node.psi.some.avg10 /tmp/s.json)
vm_check "node psi present (some avg10 $got)" [ "$got" != null ]

# the table
memagent status >/tmp/s.txt 2>&1 || { vm_dump /tmp/s.txt; vm_fail "memagent status (table) failed"; }
for uid in "$g" "$b" "$e"; do
	vm_check "table lists pod $uid" grep -q "pod $uid" /tmp/s.txt
done
vm_check "table has IEC units" grep -q ' MiB' /tmp/s.txt
vm_dump /tmp/s.txt
vm_pass
