#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
#
# /init of the test-bed guest (busybox ash, PID 1).  Installed by tests/vm/vmrun.
#
# Mounts the kernel file systems, enables the cgroup v2 controllers at the root,
# optionally sets up zram swap, runs the scenario under a time limit and powers
# the machine off.  The run's settings come from /vm/run.conf, a small cpio that
# vmrun appends to the cached initramfs for each run.
#
# Channels:
#   ttyS0 (/dev/console)  console: kernel log, init and scenario stdout/stderr
#   ttyS1                 results: key=value lines, ends with one RESULT line
#   ttyS2                 a tar of /vm/out (files the scenario copies out), raw
#
# Protocol on ttyS1 written by this init (vmrun parses it):
#   vmrun.boot_ms=<guest uptime when the scenario starts>
#   ...lines from the scenario...
#   vmrun.scenario_ms=<scenario wall time> vmrun.scenario_rc=<exit code>
#   RESULT PASS | RESULT FAIL <reason>
#   vmrun.out_bytes=<size of the tar sent on ttyS2>
#   vmrun.end

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
umask 022

say() { echo "vmrun-init: $*" >/dev/console 2>/dev/null || echo "vmrun-init: $*"; }
die_early() {
	say "FATAL: $*"
	# Results channel may not be up yet; try anyway so vmrun gets a reason.
	printf 'RESULT FAIL init: %s\nvmrun.end\n' "$*" >/dev/ttyS1 2>/dev/null
	sync
	poweroff -f
	sleep 5
	exit 1
}

uptime_ms() {
	read -r up _ </proc/uptime
	# "12.34" -> 12340
	s=${up%.*}
	f=${up#*.}
	echo $((s * 1000 + ${f#0} * 10))
}

mount -t proc proc /proc || die_early "mount proc"
mount -t sysfs sysfs /sys || die_early "mount sysfs"
mount -t devtmpfs devtmpfs /dev || die_early "mount devtmpfs"
mkdir -p /dev/pts /dev/shm /run /tmp /sys/fs/cgroup
mount -t devpts devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t tmpfs -o mode=0755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
# Options as systemd mounts it on a real node.
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
	mount -t cgroup2 cgroup2 /sys/fs/cgroup || die_early "mount cgroup2"
mount -t tracefs tracefs /sys/kernel/tracing || say "warning: tracefs not mounted"
mount -t debugfs debugfs /sys/kernel/debug || say "warning: debugfs not mounted"
mount -t bpf bpf /sys/fs/bpf 2>/dev/null || true
ln -sf /proc/self/fd /dev/fd 2>/dev/null
hostname vmguest

[ -r /vm/run.conf ] || die_early "/vm/run.conf missing (vmrun did not append the run cpio)"
. /vm/run.conf

# Raw mode on the side channels: no \n -> \r\n, no echo, binary-safe.
for t in /dev/ttyS1 /dev/ttyS2; do
	[ -c "$t" ] || die_early "$t missing: qemu must be started with three -serial ports"
	stty -F "$t" raw -echo -echoe -echok -echoctl -echoke 115200 || die_early "stty $t"
done
export VM_RESULTS=/dev/ttyS1
export VM_OUT=/vm/out
export VM_RESULTS_COPY=/run/vmrun/results
export VM_LIB=/vm/lib
mkdir -p /run/vmrun "$VM_OUT"
: >"$VM_RESULTS_COPY"

emit() {
	echo "$*" >>"$VM_RESULTS_COPY"
	echo "$*" >"$VM_RESULTS"
}

# Controllers at the root, as systemd enables them on a node.
for c in memory cpu pids io; do
	grep -qw "$c" /sys/fs/cgroup/cgroup.controllers || die_early "cgroup2 controller '$c' not available in this kernel"
done
echo "+memory +cpu +pids +io" >/sys/fs/cgroup/cgroup.subtree_control || die_early "enable +memory +cpu +pids +io at the cgroup root"
# Nice to have; not fatal.
echo "+cpuset" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
echo "+hugetlb" >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true

if [ "${VMRUN_SWAP_MIB:-0}" -gt 0 ]; then
	modprobe zram num_devices=1 || die_early "modprobe zram (is it in --modules? vmrun adds it for --swap-mib)"
	i=0
	while [ ! -e /sys/block/zram0/disksize ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	echo "${VMRUN_SWAP_MIB}M" >/sys/block/zram0/disksize || die_early "zram0 disksize"
	mkswap /dev/zram0 >/dev/null || die_early "mkswap /dev/zram0"
	swapon /dev/zram0 || die_early "swapon /dev/zram0"
	say "swap: zram0 ${VMRUN_SWAP_MIB} MiB"
fi

# Two guests (vmrun --peer): eth0 on the link between them, and with --rdma Soft-RoCE on it.
if [ -n "${VMRUN_ADDRESS:-}" ]; then
	hostname "vmguest-$VMRUN_ROLE"
	modprobe virtio_pci && modprobe virtio_net || die_early "modprobe virtio_pci virtio_net"
	i=0
	while [ ! -e /sys/class/net/eth0 ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	ip link set lo up
	ip link set eth0 up || die_early "no eth0: the guests' link (virtio-net) did not come up"
	ip addr add "$VMRUN_ADDRESS/24" dev eth0 || die_early "address $VMRUN_ADDRESS on eth0"
	if [ "${VMRUN_RDMA:-0}" = 1 ]; then
		modprobe crc32_generic && modprobe rdma_rxe && modprobe rdma_ucm ||
			die_early "modprobe crc32_generic rdma_rxe rdma_ucm"
		# Jumbo frames, as RoCE fabrics run: RoCE's path MTU follows the link's, 1024 bytes at
		# 1500 and 4096 at 9000; with 1024-byte packets, page-ins over rxe took 37 times as long
		# (bench/remote-swap.sh: p50 45 ms against 1.2 ms) and were slower than NBD over TCP.
		ip link set eth0 mtu 9000 || die_early "mtu 9000 on eth0"
		rdma link add rxe0 type rxe netdev eth0 || die_early "rdma link add rxe0 type rxe netdev eth0"
		i=0
		until grep -q ACTIVE /sys/class/infiniband/rxe0/ports/1/state 2>/dev/null || [ $i -ge 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		grep -q ACTIVE /sys/class/infiniband/rxe0/ports/1/state || die_early "rxe0 is not ACTIVE"
	fi
	# The other guest boots at the same time; the scenario starts once it answers (or after
	# 60 s, and then the scenario's own waits say what is missing).
	i=0
	until ping -c 1 -W 1 "$VMRUN_PEER_ADDRESS" >/dev/null 2>&1 || [ $i -ge 60 ]; do
		sleep 0.5
		i=$((i + 1))
	done
	say "link: eth0 $VMRUN_ADDRESS, peer $VMRUN_PEER_ADDRESS $([ $i -lt 60 ] && echo reachable || echo UNREACHABLE)${VMRUN_RDMA:+, rdma $VMRUN_RDMA}"
fi

boot_ms=$(uptime_ms)
emit "vmrun.boot_ms=$boot_ms"
say "booted in ${boot_ms} ms; kernel $(uname -r); running ${VMRUN_SCENARIO} (limit ${VMRUN_SCENARIO_TIMEOUT_S}s)"

cd /vm || die_early "cd /vm"
# The scenario's stdout/stderr go to the console; its results go to ttyS1.
timeout -s KILL "${VMRUN_SCENARIO_TIMEOUT_S}" sh "/vm/scenario/${VMRUN_SCENARIO}" </dev/null >/dev/console 2>&1
rc=$?
end_ms=$(uptime_ms)
emit "vmrun.scenario_ms=$((end_ms - boot_ms)) vmrun.scenario_rc=$rc"

if grep -q '^RESULT ' "$VM_RESULTS_COPY"; then
	last=$(grep '^RESULT ' "$VM_RESULTS_COPY" | tail -n 1)
	if [ "$last" = "RESULT PASS" ] && [ "$rc" -ne 0 ]; then
		emit "RESULT FAIL scenario said PASS but exited with status $rc"
	fi
elif [ "$rc" -eq 137 ]; then
	emit "RESULT FAIL scenario timed out after ${VMRUN_SCENARIO_TIMEOUT_S}s (killed)"
else
	emit "RESULT FAIL scenario exited with status $rc without a RESULT line"
fi

# Copy-out: one tar of /vm/out on ttyS2, its size announced on ttyS1.
out_bytes=0
if [ -n "$(ls -A "$VM_OUT" 2>/dev/null)" ]; then
	if tar -c -f /run/vmrun/out.tar -C "$VM_OUT" .; then
		out_bytes=$(wc -c </run/vmrun/out.tar)
		cat /run/vmrun/out.tar >/dev/ttyS2 || say "writing the copy-out tar to ttyS2 failed"
	else
		say "tar of $VM_OUT failed"
	fi
fi
emit "vmrun.out_bytes=$out_bytes"
emit "vmrun.end"
sync
poweroff -f
sleep 10
