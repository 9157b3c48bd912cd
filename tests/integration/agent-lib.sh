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

cp -r "$SRC/tests/fixtures/guest/systemd" "$WORK/cg"
cp -r "$SRC/tests/fixtures/guest/proc" "$WORK/proc"
cp -r "$SRC/tests/fixtures/guest/sys" "$WORK/sys"
