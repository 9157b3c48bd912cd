#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# What calm memagentd costs: memagentd with its defaults as a process on a generated tree of
# PODS pods x 3 containers (kubepods and every pod/container directory holds copies of the guest
# capture's real cgroup files, tests/fixtures/guest/), calm for SECONDS. Prints CPU time
# (utime+stime over wall time, % of one core), VmRSS and VmHWM, beside a floor measured in the
# same run (bench-calm-floor: pread() of every cgroup's memory.current once per sample interval),
# for each size given; then growth per tracked cgroup of memagentd's own memory (Private_Dirty)
# between the smallest and largest size.
# With --nofile N, memagentd runs under `ulimit -n N` (soft and hard): the fd budget (issue 15)
# keeps it within them; printed: the fds it holds (/proc/PID/fd) and the warnings it logged.
# With --maps, also memagentd's resident memory by mapping (file name, [heap], [anon], [stack]):
# Rss and Private_Dirty in KiB, largest first, to say where the RSS goes.
# With --callgrind, also instructions per tick (manager_run_tick, inclusive) under valgrind: the
# repeatable figure when wall-clock CPU is noisy.
# With --massif, also what memagentd's heap holds by allocation site, under valgrind's massif for
# SECONDS: at the peak and at the last detailed snapshot (steady state, after the walks and
# malloc_trim()), bytes per call chain to MASSIF_DEPTH frames (default 4) above the allocation,
# those over 1% of the heap. valgrind serves malloc itself, so the [heap] mapping is not measured
# there: the figures are bytes asked for (useful) plus malloc's bookkeeping (extra).
#
# The copies live on tmpfs/disk, not kernfs: a read there costs less than the kernel's
# memory.stat (which walks per-CPU counters), so compare ratios to the floor, not absolutes.
#
#   cmake --build BUILD --target memagentd bench-calm-floor
#   bench/calm.sh BUILD [--seconds 60] [--pods "250 1000"] [--nofile N] [--maps] [--callgrind] [--massif]
set -eu
BUILD=${1:?usage: $0 BUILD [--seconds S] [--pods "N ..."] [--callgrind]}
shift
SECONDS_RUN=60
PODS="250 1000"
CALLGRIND=
MASSIF=
NOFILE=
MAPS=
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECONDS_RUN=$2; shift 2 ;;
	--pods) PODS=$2; shift 2 ;;
	--callgrind) CALLGRIND=1; shift ;;
	--massif) MASSIF=1; shift ;;
	--maps) MAPS=1; shift ;;
	--nofile) NOFILE=$2; shift 2 ;;
	*) echo "unknown option $1" >&2; exit 2 ;;
	esac
done
SRC=$(cd "$(dirname "$0")/.." && pwd)
FIX=$SRC/tests/fixtures/guest
KP=$FIX/systemd/kubepods.slice
POD=$KP/kubepods-burstable.slice/kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice
# The capture's calm container (26 MiB, no memory.max): its sibling 3333... sits at 98% of its
# limit, where the balloon and vertical scaling are at work, which is not calm.
CTR=$POD/cri-containerd-4444444444444444444444444444444444444444444444444444444444444444.scope
MEMAGENTD=$BUILD/agent/memagentd
FLOOR=$BUILD/bench/bench-calm-floor
[ -x "$MEMAGENTD" ] && [ -x "$FLOOR" ] ||
	{ echo "build memagentd and bench-calm-floor first (see the header)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/memagent-calm.XXXXXX)
PID=
cleanup() {
	[ -n "$PID" ] && kill "$PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT

# Copies the regular files of $1 (not its subdirectories) into the new directory $2.
files() {
	mkdir -p "$2"
	find "$1" -maxdepth 1 -type f -exec cp {} "$2/" \;
}

# The tree: the capture's root files, kubepods, its QoS slices, n burstable pods of 3 containers.
make_tree() {
	root=$1 n=$2
	files "$FIX/systemd" "$root"
	files "$KP" "$root/kubepods.slice"
	for q in burstable besteffort; do
		files "$KP/kubepods-$q.slice" "$root/kubepods.slice/kubepods-$q.slice"
	done
	files "$POD" "$WORK/tpl-pod"
	files "$CTR" "$WORK/tpl-ctr"
	i=0
	while [ "$i" -lt "$n" ]; do
		p=$root/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod$(printf '%08x_1111_4222_8333_%012x' "$i" "$i").slice
		cp -r "$WORK/tpl-pod" "$p"
		for j in 0 1 2; do
			cp -r "$WORK/tpl-ctr" "$p/cri-containerd-$(printf '%056x%08x' "$i" "$j").scope"
		done
		i=$((i + 1))
	done
}

# massif_print PODS FILE: the peak and the last detailed snapshot of a massif.out, as lines
# "massif: pods=N snapshot=peak|steady heap_bytes=B extra_bytes=E", then one line per call chain
# (frames joined by " < ", allocation site first) holding at least 1% of that heap.
massif_print() {
	snaps=$(awk '/^snapshot=/ { split($0, a, "="); k = a[2] }
		/^heap_tree=peak/ { p = k } /^heap_tree=detailed/ { d = k } END { print p, d }' "$2")
	set -- "$1" "$2" $snaps
	massif_tree "$1" "$2" "$3" peak
	massif_tree "$1" "$2" "$4" steady
}

# massif_tree PODS FILE SNAPSHOT KIND: one snapshot's tree, as described above.
massif_tree() {
	awk -v n="$1" -v want="$3" -v kind="$4" -v depth="${MASSIF_DEPTH:-4}" '
		/^snapshot=/ { split($0, a, "="); on = (a[2] == want) }
		!on { next }
		/^mem_heap_B=/ { split($0, a, "="); heap = a[2] }
		/^mem_heap_extra_B=/ { split($0, a, "=")
			printf "massif: pods=%s snapshot=%s heap_bytes=%d extra_bytes=%d\n", n, kind, heap, a[2] }
		/^ *n[0-9]+: / {
			match($0, /^ */); lvl = RLENGTH
			if (lvl == 0) next
			kids = $1; sub(/^n/, "", kids); kids += 0
			bytes = $2 + 0
			fn = $0; sub(/^ *n[0-9]+: [0-9]+ (0x[0-9A-Fa-f]+: )?/, "", fn); sub(/ \(in \/.*\)$/, "", fn)
			frame[lvl] = fn
			if (lvl > depth || bytes * 100 < heap || fn ~ /^in [0-9]+ place/) next
			if (lvl < depth && kids > 0) next
			chain = frame[1]; for (i = 2; i <= lvl; i++) chain = chain " < " frame[i]
			printf "massif:   %9d %s\n", bytes, chain
		}' "$2"
}

# under_valgrind DIR VALGRIND_OPTIONS...: memagentd with DIR's configuration under valgrind for
# SECONDS, then stopped.
under_valgrind() {
	vd=$1
	shift
	valgrind "$@" "$MEMAGENTD" --config "$vd/memagentd.yaml" >"$vd/vg.log" 2>&1 &
	PID=$!
	sleep "$SECONDS_RUN"
	kill "$PID"
	wait "$PID" || true
	PID=
}

ticks_of() { # $1: /proc/PID/stat -> utime+stime in clock ticks
	awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "$1"
}

run_one() {
	n=$1
	d=$WORK/n$n
	rm -rf "$d"
	mkdir -p "$d"
	make_tree "$d/cg" "$n"
	cp -r "$FIX/proc" "$d/proc"
	cp -r "$FIX/sys" "$d/sys"
	cgroups=$(find "$d/cg" -name memory.current | wc -l)
	# Defaults, but for where the files are, BPF (it would watch this host's real kernel) and the
	# /metrics port (served as by default, on an ephemeral port: another memagentd on this host
	# may hold 9808).
	cat >"$d/memagentd.yaml" <<EOT
cgroupRoot: $d/cg
procRoot: $d/proc
sysRoot: $d/sys
apiSocket: $d/api.sock
stateDirectory: $d/state
bpfEnabled: false
metricsAddress: 127.0.0.1:0
EOT
	if [ -n "$NOFILE" ]; then
		(ulimit -n "$NOFILE" && exec "$MEMAGENTD" --config "$d/memagentd.yaml") >"$d/agent.log" 2>&1 &
	else
		"$MEMAGENTD" --config "$d/memagentd.yaml" >"$d/agent.log" 2>&1 &
	fi
	PID=$!
	sleep 3 # start-up and the first refreshes are not calm
	hz=$(getconf CLK_TCK)
	t0=$(ticks_of "/proc/$PID/stat")
	w0=$(date +%s.%N)
	"$FLOOR" "$d/cg" 1000 "$SECONDS_RUN" >"$d/floor.out"
	t1=$(ticks_of "/proc/$PID/stat")
	w1=$(date +%s.%N)
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$PID/status")
	hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$PID/status")
	# RSS counts every shared library page mapped (libcurl's TLS stack is most of it): Pss shares
	# them out, Private_Dirty is memagentd's own.
	pss=$(awk '/^Pss:/ { print $2 }' "/proc/$PID/smaps_rollup")
	priv=$(awk '/^Private_Dirty:/ { print $2 }' "/proc/$PID/smaps_rollup")
	# The [heap] and anonymous mappings (large allocations, thread stacks), resident.
	heap=$(awk '/^[0-9a-f]+-/ { name = $6 } /^Rss:/ && name == "[heap]" { s += $2 } END { print s + 0 }' "/proc/$PID/smaps")
	anon=$(awk '/^[0-9a-f]+-/ { name = $6 } /^Rss:/ && name == "" { s += $2 } END { print s + 0 }' "/proc/$PID/smaps")
	fds=$(ls "/proc/$PID/fd" | wc -l)
	if [ -n "$MAPS" ]; then
		awk -v n="$n" '/^[0-9a-f]+-/ { name = $6; if (name == "") name = "[anon]"; sub(/.*\//, "", name) }
			/^Rss:/ { rss[name] += $2 } /^Private_Dirty:/ { pd[name] += $2 }
			END { for (k in rss) if (rss[k] > 0) printf "map: pods=%s rss_kib=%d private_dirty_kib=%d %s\n", n, rss[k], pd[k], k }' \
			"/proc/$PID/smaps" | sort -t= -k3 -rn >"$d/maps"
	fi
	kill "$PID"
	wait "$PID" || true
	PID=
	cpu=$(echo "$t0 $t1 $w0 $w1 $hz" | awk '{ printf "%.3f", 100 * ($2 - $1) / $5 / ($4 - $3) }')
	warnings=$(grep -c 'warning' "$d/agent.log" || true)
	echo "pods=$n cgroups=$cgroups seconds=$SECONDS_RUN memagentd_cpu_pct=$cpu vmrss_kib=$rss vmhwm_kib=$hwm pss_kib=$pss private_dirty_kib=$priv heap_kib=$heap anon_kib=$anon fds=$fds${NOFILE:+ nofile=$NOFILE} warnings=$warnings $(cat "$d/floor.out")"
	[ -z "$MAPS" ] || cat "$d/maps"
	echo "per_pod: pods=$n cpu_pct_per_1000_pods=$(echo "$cpu $n" | awk '{ printf "%.3f", 1000 * $1 / $2 }')"
	echo "$n $cgroups $priv" >>"$WORK/rss"
	if [ -n "$CALLGRIND" ]; then
		under_valgrind "$d" --tool=callgrind --callgrind-out-file="$d/cg.out"
		# Inclusive cost of manager_run_tick and its number of calls, from the call records.
		callgrind_annotate --inclusive=yes --auto=no "$d/cg.out" 2>/dev/null |
			awk '/%\).*:manager_run_tick / { gsub(",", "", $1); ir = $1 } END { printf "%s ", ir }' >"$d/ir"
		calls=$(awk '/^c?fn=\([0-9]+\) manager_run_tick$/ { id = $1; sub(/^c?fn=/, "", id) }
			/^cfn=/ { c = $1; sub(/^cfn=/, "", c); want = (c == id) }
			/^calls=/ && want { split($1, a, "="); n += a[2]; want = 0 }
			END { print n + 0 }' "$d/cg.out")
		echo "$(cat "$d/ir") $calls" | awk -v n="$n" '{ printf "pods=%s callgrind_ticks=%d instructions_per_tick=%.0f\n", n, $2, $2 ? $1 / $2 : 0 }'
	fi
	if [ -n "$MASSIF" ]; then
		rm -rf "$d/state"
		under_valgrind "$d" --tool=massif --massif-out-file="$d/massif.out" --depth=12
		massif_print "$n" "$d/massif.out"
	fi
	rm -rf "$d"
}

echo "# memagentd calm, defaults (bpfEnabled: false); files on tmpfs/disk, not kernfs: compare ratios to the floor"
for n in $PODS; do
	run_one "$n"
done
sort -n "$WORK/rss" | awk 'NR == 1 { c0 = $2; r0 = $3 } { c1 = $2; r1 = $3 }
	END { if (c1 > c0) printf "private_dirty_growth_per_cgroup_bytes=%.0f (from %d to %d cgroups)\n", 1024 * (r1 - r0) / (c1 - c0), c0, c1 }'
