# SPDX-License-Identifier: Apache-2.0
# Sourced by the scripts that run memagentd as a process on a copy of the cgroup tree captured
# from the guest kernel. Needs SRC (the source tree) and WORK_NAME; gives WORK (a temp dir with
# cg/, proc/ and sys/ copied, removed at exit), PID (memagentd's, killed at exit when set),
# fail (prints memagentd's log, exits 1) and pass. Exits 77 (skip) without jq.
command -v jq >/dev/null || { echo "SKIP: jq not installed"; exit 77; }
WORK=$(mktemp -d "/tmp/$WORK_NAME.XXXXXX")
PID=
cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	[ -f "$WORK/agent.log" ] && { echo "--- memagentd log ---" >&2; cat "$WORK/agent.log" >&2; }
	exit 1
}
pass() { echo "ok: $*"; }

# agent_wait_metrics_port [TRIES]: MPORT is the port memagentd ($PID, started with
# --metrics-address 127.0.0.1:0 and logging to $WORK/agent.log) says it serves /metrics on,
# within TRIES x 50 ms (default 100); fails if it exits first, or never names a bound port.
agent_wait_metrics_port() {
	MPORT=
	for _ in $(seq "${1:-100}"); do
		MPORT=$(sed -n 's|.*Serving /metrics, /healthz and /readyz on http://127.0.0.1:\([0-9]*\).*|\1|p' "$WORK/agent.log")
		[ -n "$MPORT" ] && break
		kill -0 "$PID" 2>/dev/null || fail "memagentd exited at start"
		sleep 0.05
	done
	[ -n "$MPORT" ] && [ "$MPORT" != 0 ] ||
		fail "no 'Serving ... on http://127.0.0.1:PORT' line with the bound port"
}

cp -r "$SRC/tests/fixtures/guest/systemd" "$WORK/cg"
cp -r "$SRC/tests/fixtures/guest/proc" "$WORK/proc"
cp -r "$SRC/tests/fixtures/guest/sys" "$WORK/sys"
