#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# memagentd as a real process on this host, on a temp copy of the cgroup tree captured from the
# guest kernel (never on the committed fixtures: PSI triggers are written into the files):
# READY=1 through a real NOTIFY_SOCKET, the local API (status, explain, mode 0600), SIGHUP
# reload of a changed config file, refusal of a bad one at start (exit 2 naming file, line and
# key), a bad reload that keeps the running config, and a clean exit on SIGTERM.
set -euo pipefail
MEMAGENTD=${1:?usage: $0 MEMAGENTD MEMAGENT NOTIFY_LISTEN SOURCE_DIR}
MEMAGENT=${2:?}
NOTIFY=${3:?}
SRC=${4:?}
WORK_NAME=memagentd-it
. "$SRC/tests/integration/agent-lib.sh"
SOCK=$WORK/api.sock
cat >"$WORK/memagentd.yaml" <<EOT
cgroupRoot: $WORK/cg
procRoot: $WORK/proc
sysRoot: $WORK/sys
apiSocket: $SOCK
stateDirectory: $WORK/state
bpfEnabled: false
sampleInterval: 200ms
metricsAddress: none
EOT

# 1. A bad config file is refused at start: exit 2, one line naming file, line and key.
printf 'sampleInterval: 1s\nkillCooldown: 5x\n' >"$WORK/bad.yaml"
rc=0
"$MEMAGENTD" --config "$WORK/bad.yaml" >"$WORK/bad.out" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "bad config: exit $rc, wanted 2"
grep -q "$WORK/bad.yaml:2: key \"killCooldown\"" "$WORK/bad.out" || fail "bad config message: $(cat "$WORK/bad.out")"
pass "bad config refused: $(cat "$WORK/bad.out")"

# 2. Start under a notify socket: READY=1 arrives once the first sample is in.
"$NOTIFY" "$WORK/notify.sock" 10000 >"$WORK/notify.out" 2>&1 &
NPID=$!
for _ in $(seq 100); do [ -S "$WORK/notify.sock" ] && break; sleep 0.05; done
NOTIFY_SOCKET=$WORK/notify.sock "$MEMAGENTD" --config "$WORK/memagentd.yaml" >"$WORK/agent.log" 2>&1 &
PID=$!
wait "$NPID" || fail "no READY=1 from memagentd: $(cat "$WORK/notify.out")"
grep -q "READY=1" "$WORK/notify.out" || fail "notify: $(cat "$WORK/notify.out")"
pass "sd_notify: $(cat "$WORK/notify.out")"

# 3. The local API: a 0600 socket; status through the daemon carries its pressure view.
[ -S "$SOCK" ] || fail "no API socket at $SOCK"
mode=$(stat -c %a "$SOCK")
[ "$mode" = 600 ] || fail "API socket mode $mode, wanted 600"
"$MEMAGENT" status --api-socket "$SOCK" --output json >"$WORK/status.json" || fail "memagent status via the daemon"
jq -e '.pressure.node.level == "none" and .pressure.kubepods.level == "none"' "$WORK/status.json" >/dev/null ||
	fail "pressure view: $(jq -c .pressure "$WORK/status.json")"
jq -e '.daemon.dry_run == false and .daemon.kills_total == 0' "$WORK/status.json" >/dev/null || fail "daemon view"
npods=$(jq '.pods | length' "$WORK/status.json")
[ "$npods" = 4 ] || fail "the daemon sees $npods pods, wanted the fixture's 4"
"$MEMAGENT" explain --api-socket "$SOCK" >"$WORK/explain.txt" || fail "memagent explain"
grep -q "No decisions yet" "$WORK/explain.txt" || fail "explain: $(cat "$WORK/explain.txt")"
pass "local API: socket $mode, $npods pods, pressure none, no decisions"

# 3b. The socket's mode is not the only guard: opened to everyone, a client that is neither root
# nor memagentd's user is still refused (SO_PEERCRED), and the daemon keeps serving.
if [ "$(id -u)" = 0 ]; then
	chmod o+x "$WORK" && chmod 666 "$SOCK"
	answer=$(setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1]); s.sendall(b"status\n"); s.shutdown(socket.SHUT_WR)
print(s.recv(4096).decode())' "$SOCK") || fail "could not connect as uid 65534 to a 0666 socket"
	chmod 600 "$SOCK" && chmod o-x "$WORK"
	grep -q "permission denied" <<<"$answer" || fail "uid 65534 was answered: ${answer:0:200}"
	"$MEMAGENT" status --api-socket "$SOCK" --output json | jq -e '.daemon != null' >/dev/null ||
		fail "root no longer served after the refusal"
	pass "local API: uid 65534 refused by its credentials, root still served"
else
	echo "SKIP: the peer-credentials check needs root to act as another user" >&2
fi

# 4. SIGHUP reload: a reloadable key changes (dryRun), a restart-only one is reported.
echo "dryRun: true" >>"$WORK/memagentd.yaml"
echo "decisionLogSize: 5" >>"$WORK/memagentd.yaml"
kill -HUP "$PID"
ok=
for _ in $(seq 50); do
	if "$MEMAGENT" status --api-socket "$SOCK" --output json | jq -e '.daemon.dry_run == true' >/dev/null; then
		ok=1
		break
	fi
	sleep 0.1
done
[ -n "$ok" ] || fail "dryRun was not applied by SIGHUP"
grep -q "decisionLogSize" "$WORK/agent.log" || fail "no word about decisionLogSize needing a restart"
pass "SIGHUP applied dryRun=true and reported decisionLogSize as restart-only"

# 5. A broken reload keeps the running configuration.
echo "sampleInterval: fast" >>"$WORK/memagentd.yaml"
kill -HUP "$PID"
sleep 0.5
kill -0 "$PID" || fail "memagentd died on a bad reload"
grep -q "keeping the previous one" "$WORK/agent.log" || fail "no word about keeping the old config"
"$MEMAGENT" status --api-socket "$SOCK" --output json | jq -e '.daemon.dry_run == true' >/dev/null ||
	fail "the running config changed after a bad reload"
pass "a bad reload kept the running configuration"

# 6. SIGTERM: exit 0, socket removed.
kill -TERM "$PID"
rc=0
wait "$PID" || rc=$?
PID=
[ "$rc" = 0 ] || fail "exit $rc on SIGTERM"
[ ! -e "$SOCK" ] || fail "API socket left behind"
pass "SIGTERM: exit 0, socket removed"
echo "1 passed, 0 failed"
