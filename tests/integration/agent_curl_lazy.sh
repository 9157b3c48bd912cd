#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# libcurl is loaded only when a feature that needs it is configured (issue 13; api/curl-dl.h): no
# binary lists libcurl among its DT_NEEDED libraries, memagentd and memschedd name it in their
# .note.dlopen note (tests/vm/vmrun reads it), a calm memagentd with defaults never maps it, and
# memagentd with a schedulerUrl maps it and reports through it. The same for libibverbs and
# librdmacm (agent/remote/rdma-dl.h), which only a node lending or borrowing memory over RDMA
# loads: not linked, named in memagentd's note, not mapped by a calm memagentd (nor libnl, which
# they bring). Their loading itself: agent_rdma_lazy.sh.
set -euo pipefail
MEMAGENTD=${1:?usage: $0 MEMAGENTD MEMAGENT MEMSCHEDD SOURCE_DIR}
MEMAGENT=${2:?}
MEMSCHEDD=${3:?}
SRC=${4:?}
WORK_NAME=memagentd-curl-lazy
. "$SRC/tests/integration/agent-lib.sh"
command -v curl >/dev/null || { echo "SKIP: curl not installed"; exit 77; }
command -v readelf >/dev/null && command -v objcopy >/dev/null ||
	{ echo "SKIP: binutils (readelf, objcopy) not installed"; exit 77; }

for b in "$MEMAGENTD" "$MEMAGENT" "$MEMSCHEDD"; do
	if readelf -d "$b" | grep -q 'NEEDED.*libcurl'; then
		fail "$(basename "$b") links libcurl (readelf -d): it must dlopen it (api/curl-dl.h)"
	fi
done
pass "no binary links libcurl"
for b in "$MEMAGENTD" "$MEMSCHEDD"; do
	objcopy -O binary --only-section=.note.dlopen "$b" "$WORK/note"
	grep -aq '"soname":\["libcurl.so.4"\]' "$WORK/note" ||
		fail "$(basename "$b") has no .note.dlopen naming libcurl.so.4: $(tr -d '\0' <"$WORK/note")"
done
pass "memagentd and memschedd name libcurl.so.4 in .note.dlopen"

# RDMA: only where memagentd was built with it, which the name of an rdma_cm call it makes says
# (dlsym's argument, or the symbol it links); a build without RDMA has neither it nor the note.
objcopy -O binary --only-section=.note.dlopen "$MEMAGENTD" "$WORK/note"
RDMA=
if grep -aq 'rdma_resolve_route' "$MEMAGENTD"; then
	RDMA=1
	for so in libibverbs.so.1 librdmacm.so.1; do
		grep -aq "\"soname\":\[\"$so\"\]" "$WORK/note" ||
			fail "memagentd has the RDMA transport but its .note.dlopen does not name $so: $(tr -d '\0' <"$WORK/note")"
	done
	pass "memagentd names libibverbs.so.1 and librdmacm.so.1 in .note.dlopen"
fi
for b in "$MEMAGENTD" "$MEMAGENT" "$MEMSCHEDD"; do
	if readelf -d "$b" | grep -Eq 'NEEDED.*(libibverbs|librdmacm|libnl-)'; then
		fail "$(basename "$b") links $(readelf -d "$b" | grep -Eo '(libibverbs|librdmacm|libnl-)[^]]*' | head -n 1) (readelf -d): it must dlopen libibverbs and librdmacm (agent/remote/rdma-dl.h)"
	fi
done
# A symbol left undefined would need the library at start, NEEDED or not (a verbs.h inline that
# calls an exported function, say): every call goes through a sym_ pointer.
if undef=$(nm -D --undefined-only "$MEMAGENTD" | grep -E ' (ibv|rdma)_'); then
	fail "memagentd leaves verbs or rdma_cm symbols to the dynamic loader: $(echo $undef)"
fi
pass "no binary links libibverbs, librdmacm or libnl, and memagentd leaves no ibv_/rdma_ symbol undefined"

# start [ARGS]: memagentd on the copy with its defaults plus ARGS; waits until /metrics is served.
start() {
	"$MEMAGENTD" --cgroup-root "$WORK/cg" --proc-root "$WORK/proc" --sys-root "$WORK/sys" \
		--api-socket "$WORK/api.sock" --state-directory= --bpf-enabled=false \
		--metrics-address 127.0.0.1:0 --sample-interval 200ms "$@" >"$WORK/agent.log" 2>&1 &
	PID=$!
	for _ in $(seq 100); do
		grep -q 'Serving /metrics' "$WORK/agent.log" && return 0
		kill -0 "$PID" 2>/dev/null || fail "memagentd exited at start"
		sleep 0.05
	done
	fail "memagentd did not start serving /metrics"
}
stop() {
	kill "$PID"
	wait "$PID" || true
	PID=
}

start
sleep 1 # a few ticks
grep -q 'libcurl' "/proc/$PID/maps" && fail "calm memagentd with defaults mapped libcurl: $(grep libcurl "/proc/$PID/maps" | head -n 1)"
if grep -Eq 'libibverbs|librdmacm|libnl-' "/proc/$PID/maps"; then
	fail "calm memagentd with defaults mapped an RDMA library: $(grep -E 'libibverbs|librdmacm|libnl-' "/proc/$PID/maps" | head -n 1)"
fi
stop
pass "calm memagentd with defaults maps neither libcurl nor libibverbs, librdmacm, libnl${RDMA:+ (built with RDMA)}"

start --scheduler-url http://127.0.0.1:1 --node-name it-curl --report-heartbeat 1s
PORT=$(sed -n 's|.*Serving /metrics, /healthz and /readyz on http://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/agent.log")
failed=0
for _ in $(seq 50); do
	# The report to a closed port fails through libcurl and is counted.
	failed=$(curl -fsS --max-time 5 "http://127.0.0.1:$PORT/metrics" |
		awk '$1 == "memagent_report_failed_total" { print $2 }')
	[ "${failed:-0}" -ge 1 ] && break
	sleep 0.2
done
[ "${failed:-0}" -ge 1 ] || fail "no report attempt was counted (memagent_report_failed_total=${failed:-none})"
grep -q 'libcurl' "/proc/$PID/maps" || fail "memagentd with a schedulerUrl did not map libcurl"
stop
pass "memagentd with a schedulerUrl maps libcurl and reports through it"
