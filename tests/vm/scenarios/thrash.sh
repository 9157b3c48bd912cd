#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# Thrashing is pressure (issue 17). A 1 GiB node, no swap: a Burstable "db" pod re-reads a
# 256 MiB file on ext4 (a virtio disk: its working set is page cache that can be evicted and read
# back), a Guaranteed pod holds its own memory, then a BestEffort pod fills BE_MIB (500) MiB of
# anonymous memory (at once; BE_RATE_MIB MiB/s if set) and keeps it hot. MemAvailable stays near 18% (page
# cache counts as available), so nothing that watches MemAvailable acts, while the db's cache is
# evicted under it and read back from disk: the db thrashes (measured without a guard: 6,000-7,700
# refaults/s, stalled 16% of the time, under 1% of its calm rate). The Guaranteed pod is a service
# busy on its own memory (it never stalls: anonymous, resident). PSI counts full per CPU: the db
# alone on its vCPU, stalled, is a full stall of kubepods and of the node (12-50% seen) even while
# the BestEffort pod is small, and the db, whose hot cache counts in its working set, then ranks
# first. memagentd runs with its DEFAULTS: a full stall that is one refaulting pod's own is not the
# scope's (agent/decide/thrash-step.c), so the full-stall levels act only on a stall beyond the
# db's (the BestEffort pod's own reclaim as it fills), and the thrash signal on the db's. The
# issue's 400 MiB leaves this guest (whose initramfs is smaller) room for the whole file: no
# refaults, the db loses only CPU time; 600 MiB takes MemAvailable to 8%, where level medium comes
# from MemAvailable alone.
#
# GUARDS (env, default "none memagentd") are run one after the other in this boot, each with its
# own squeeze: the db's calm rate just before, then the BestEffort pod; the squeeze begins when the
# node turns tight (MemAvailable under 30%, where the db's file no longer fits: 10-25 s into the
# fill under TCG) and lasts SQUEEZE_S (30) seconds with the guard (none: nobody; earlyoom:
# Debian's, as packaged; memagentd: its defaults, see above). After
# each, the BestEffort pod is gone (evicted, or killed here) and the db reads its whole file back
# before the next.
#
# vm.thrash-roomy (GUARDS=memagentd ROOMY_S=60 SQUEEZE_S=0): the db runs 60 s with memagentd on
# the roomy node, no squeeze: its balloon must not make the db refault (at most 256 pages).
#
# Checks (CHECK=1, with none and memagentd among GUARDS): with memagentd, the BestEffort pod is
# evicted and, within SQUEEZE_S of the squeeze, the db's rate over 2 s is back to 0.9x its calm
# rate (recovered_ms); `memagent explain` records the BestEffort pod's eviction (on the thrash
# signal, "thrashing of ... relieved by evicting ...", or on the full stall of the fill); the db's
# file refaults over the squeeze are no higher than without a guard; no kernel OOM kill; without a
# guard the db stays squeezed (the premise: its last 5 s under 0.9x calm). With the stall signals
# off (MEMAGENTD_FLAGS="--thrash-stall-some=0 --psi-medium-full=0 --psi-critical-full=0")
# MemAvailable alone never calls for an eviction and the scenario fails.
set -u
. "$VM_LIB/vmtest.sh"
. "$VM_LIB/kubelayout.sh"
. "$VM_LIB/agent.sh"

MiB=1048576
: "${GUARDS:=none memagentd}"
: "${CHECK:=1}"
: "${SQUEEZE_S:=30}"
: "${ROOMY_S:=0}"
: "${DB_MIB:=256}"
: "${BE_MIB:=500}"
: "${BE_RATE_MIB:=0}"
: "${G_MIB:=96}"
: "${CALM_S:=8}"
: "${TRACE:=0}" # 1: a series every 500 ms (MemAvailable, the pods' memory, stall, refaults) dumped at the end
: "${AGENT_FLAGS:=}" # memagentd's own flags: none, its defaults

for m in virtio_pci virtio_blk crc32c_generic ext4; do
	modprobe "$m" || vm_fail "modprobe $m (vmrun --modules)"
done
vm_wait_for 10 "virtio disk /dev/vda" test -b /dev/vda || vm_fail "no /dev/vda (vmrun --disk-ext4)"
mkdir -p /mnt/data
mount -t ext4 /dev/vda /mnt/data || vm_fail "mount ext4 /dev/vda"

vm_check "kube_node_setup" kube_node_setup 1Gi
# the db: Burstable, request 128Mi, limit 768Mi (far above what it uses: never its own limit)
udb=$(kube_new_uid); cdb=$(kube_new_container_id)
vm_check "db pod (burstable 128Mi/768Mi)" kube_pod_create burstable "$udb" "$cdb:128Mi:768Mi"
db=$(kube_container_path burstable "$udb" "$cdb")
dbpod=$(kube_pod_path burstable "$udb")
vm_check "db reading its file" kube_spawn "$db" /tmp/db.log \
	memhog --size-mib "$DB_MIB" --file /mnt/data/db --fill pattern --touch read --report-ms 500 \
	--ready-file /tmp/db.ready
dbpid=$KUBE_PID
vm_wait_for 120 "db ready" test -f /tmp/db.ready || { vm_dump /tmp/db.log; vm_fail "db not ready"; }
sync
# a Guaranteed pod, 128Mi, a service busy on its own 96 MiB (see the header)
ug=$(kube_new_uid); cg=$(kube_new_container_id)
vm_check "guaranteed pod (128Mi)" kube_pod_create guaranteed "$ug" "$cg:128Mi:128Mi"
gctr=$(kube_container_path guaranteed "$ug" "$cg")
vm_check "guaranteed workload" kube_spawn "$gctr" /tmp/g.log \
	memhog --size-mib "$G_MIB" --hot-pct 10 --report-ms 0 --ready-file /tmp/g.ready
vm_wait_for 60 "guaranteed ready" test -f /tmp/g.ready || vm_fail "guaranteed pod not ready"
oom0=$(oom_kills_total)

# db_mark: "t_ms touched_pages" of the db's latest report
db_mark() {
	awk '/^memhog=report/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } t = v["t_ms"]; p = v["touched_pages"] }
		END { print t, p }' /tmp/db.log
}
# rate FROM TO: pages per second between two marks
rate() {
	echo "$1 $2" | awk '{ if ($3 > $1) printf "%.0f\n", ($4 - $2) * 1000 / ($3 - $1); else print 0 }'
}
refaults() { vm_key "$db/memory.stat" workingset_refault_file; }
stall() { vm_psi "$db/memory.pressure" "$1" total; }
# db_settled: the db read its whole file back (its page cache holds it, no refaults for 2 s)
db_settled() {
	[ "$(vm_key "$db/memory.stat" file)" -ge $((DB_MIB * MiB * 97 / 100)) ] || return 1
	_r0=$(refaults)
	sleep 2
	[ "$(refaults)" -le $((_r0 + 16)) ]
}
calm_rate() {
	_m0=$(db_mark)
	sleep "$CALM_S"
	rate "$_m0" "$(db_mark)"
}

guard_start() {
	case $1 in
	none) ;;
	earlyoom)
		earlyoom -r 0 >/tmp/earlyoom.log 2>&1 &
		GUARD_PID=$!
		;;
	# shellcheck disable=SC2086  # AGENT_FLAGS is a list of words
	memagentd) agent_start $AGENT_FLAGS ;;
	*) vm_fail "unknown guard '$1' (none, earlyoom, memagentd)" ;;
	esac
}
guard_stop() {
	case $1 in
	earlyoom)
		kill "$GUARD_PID" 2>/dev/null
		wait "$GUARD_PID" 2>/dev/null
		;;
	memagentd) agent_stop ;;
	esac
}

for g in $GUARDS; do
	guard_start "$g"
	if [ "$g" = memagentd ] && [ "$ROOMY_S" -gt 0 ]; then
		# the db alone on a roomy node, memagentd's balloon running
		r0=$(refaults)
		sleep "$ROOMY_S"
		roomy_refaults=$(($(refaults) - r0))
		vm_result "roomy_refaults=$roomy_refaults" "roomy_s=$ROOMY_S"
	fi
	if [ "$SQUEEZE_S" = 0 ]; then
		guard_stop "$g"
		continue
	fi
	calm=$(calm_rate)
	vm_result "${g}_calm_pages_per_s=$calm"
	r0=$(refaults); s0=$(stall some); f0=$(stall full)
	tfill=$(vm_now_ms)
	ube=$(kube_new_uid); cbe=$(kube_new_container_id)
	vm_check "besteffort pod" kube_pod_create besteffort "$ube" "$cbe:0:0"
	bectr=$(kube_container_path besteffort "$ube" "$cbe")
	bepod=$(kube_pod_path besteffort "$ube")
	vm_check "besteffort filling $BE_MIB MiB" kube_spawn "$bectr" "/tmp/be-$g.log" \
		memhog --size-mib "$BE_MIB" --rate-mib "$BE_RATE_MIB" --fill pattern --report-ms 0 \
		--ready-file "/tmp/be-$g.ready"
	bepid=$KUBE_PID
	if [ "$TRACE" = 1 ]; then
		(
			while :; do
				echo "t=$(($(vm_now_ms) - tfill)) avail_kib=$(vm_key /proc/meminfo MemAvailable:)" \
					"free_kib=$(vm_key /proc/meminfo MemFree:) be=$(cat "$bectr/memory.current" 2>/dev/null)" \
					"db=$(cat "$db/memory.current") db_ws_file=$(vm_key "$db/memory.stat" active_file)" \
					"db_refaults=$(refaults) db_some=$(stall some) db_full=$(stall full)" \
					"kp_full=$(vm_psi "$(kube_kubepods_path)/memory.pressure" full total)" \
					"node_some=$(vm_psi /proc/pressure/memory some total) node_full=$(vm_psi /proc/pressure/memory full total)"
				sleep 0.5
			done
		) >"/tmp/trace-$g.log" 2>&1 &
		TRACE_PID=$!
	fi
	# The squeeze begins when the node turns tight: MemAvailable under 30% (the db's file no
	# longer fits), or the BestEffort pod filled, or it is gone (evicted on the way). Then, within
	# SQUEEZE_S: the first time, once the BestEffort pod is gone, that the db's rate over its last
	# 2 s is back to 0.9x calm (recovered_ms), and its rate over the last 5 s (squeezed).
	tight() {
		[ "$(vm_key /proc/meminfo MemAvailable:)" -lt $(($(vm_key /proc/meminfo MemTotal:) * 30 / 100)) ] ||
			[ -f "/tmp/be-$g.ready" ] || is_empty "$bectr"
	}
	vm_wait_for 120 "the squeeze (node tight)" tight || vm_fail "the node did not turn tight in 120 s"
	t0=$(vm_now_ms)
	vm_result "${g}_tight_after_ms=$((t0 - tfill))"
	recovered_ms=""
	marks=$(db_mark)
	while [ $(($(vm_now_ms) - t0)) -lt $((SQUEEZE_S * 1000)) ]; do
		sleep 1
		m=$(db_mark)
		marks="$m|$marks"
		m2=$(echo "$marks" | cut -d'|' -f3) # two marks back: ~2 s
		if [ -z "$recovered_ms" ] && [ -n "$m2" ] && is_empty "$bectr"; then
			r2=$(rate "$m2" "$m")
			awk -v a="$r2" -v b="$calm" 'BEGIN { exit !(a >= 0.9 * b) }' && recovered_ms=$(($(vm_now_ms) - t0))
		fi
	done
	m1=$(echo "$marks" | cut -d'|' -f1)
	m0=$(echo "$marks" | cut -d'|' -f6)
	t1=$(vm_now_ms)
	squeezed=$(rate "$m0" "$m1")
	ratio=$(awk -v a="$squeezed" -v b="$calm" 'BEGIN { r = 0; if (b > 0) r = a / b; printf "%.3f", r }')
	vm_log "$(grep -E 'MemAvailable|^Active|^Inactive|^Cached' /proc/meminfo | tr -s ' \n' '  ')"
	vm_log "db: $(grep -E 'workingset_refault_file|^file ' "$db/memory.stat" | tr '\n' ' ') $(cat "$db/memory.pressure" | tr '\n' ' ')"
	evicted=0
	is_empty "$bectr" && evicted=1
	vm_result "${g}_squeezed_pages_per_s=$squeezed" "${g}_ratio=$ratio" \
		"${g}_refaults=$(($(refaults) - r0))" "${g}_stall_some_usec=$(($(stall some) - s0))" \
		"${g}_stall_full_usec=$(($(stall full) - f0))" "${g}_besteffort_gone=$evicted" \
		"${g}_window_ms=$((t1 - t0))" "${g}_mem_available_kib=$(vm_key /proc/meminfo MemAvailable:)" \
		"${g}_recovered_ms=${recovered_ms:-never}"
	if [ "$g" = memagentd ]; then
		memagent explain --output json >/tmp/explain.json 2>&1
		memagent explain >/tmp/explain.txt 2>&1
		vm_dump /tmp/explain.txt
	fi
	if [ "$TRACE" = 1 ]; then
		kill "$TRACE_PID" 2>/dev/null
		vm_dump "/tmp/trace-$g.log"
		dmesg | grep -i -A3 'invoked oom-killer\|out of memory' | head -40 >/tmp/oom.log
		vm_dump /tmp/oom.log
	fi
	kill -KILL "$bepid" 2>/dev/null
	wait "$bepid" 2>/dev/null
	kube_pod_delete besteffort "$ube" >/dev/null 2>&1
	guard_stop "$g"
	vm_wait_for 90 "the db read its file back" db_settled || vm_fail "the db still refaults 90 s after the squeeze"
done

[ "$CHECK" = 1 ] || vm_pass
res() { tr ' ' '\n' <"$VM_RESULTS_COPY" | awk -F= -v k="$1" '$1 == k { v = $2 } END { print v }'; }
if [ "$GUARDS" = memagentd ] && [ "$ROOMY_S" -gt 0 ]; then # vm.thrash-roomy
	vm_check "on the roomy node the db hardly refaulted ($(res roomy_refaults) pages in ${ROOMY_S}s)" \
		[ "$(res roomy_refaults)" -le 256 ]
	vm_pass
fi
vm_check "the db kept running" vm_pid_alive "$dbpid"
vm_check "without a guard the db is squeezed (ratio $(res none_ratio) < 0.9)" \
	awk -v r="$(res none_ratio)" 'BEGIN { exit !(r < 0.9) }'
vm_check "with memagentd the BestEffort pod was evicted within ${SQUEEZE_S}s" [ "$(res memagentd_besteffort_gone)" = 1 ]
vm_check "with memagentd the db is back to 0.9x its calm rate within ${SQUEEZE_S}s (after $(res memagentd_recovered_ms) ms; last 5 s at $(res memagentd_ratio)x)" \
	[ "$(res memagentd_recovered_ms)" != never ]
vm_check "with memagentd the db refaulted no more than without ($(res memagentd_refaults) <= $(res none_refaults))" \
	[ "$(res memagentd_refaults)" -le "$(res none_refaults)" ]
# the eviction on record: the BestEffort pod, on the thrash signal (with its relief) or the fill's
# full stall
vm_check "explain records the BestEffort pod's eviction ($(jq -r '[.decisions[] | (.trigger // "?") + ": " + (.thrash // .signals // "")] | join("; ")' /tmp/explain.json))" \
	jq -e --arg be "$ube" '[.decisions[] | select((.victim.cgroup // "") | test($be | gsub("-"; "_")))
		| select(.thrash == null or (.thrash | test("thrashing of .*relieved by evicting")))] | length > 0' /tmp/explain.json
no_kernel_oom_kill "$oom0" "$db" "$gctr"
vm_pass
