# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Several real memagentd processes, each on its own copy of a cgroup tree captured from the guest
# kernel, reporting to the memschedd of lib.sh. Source it with the script's arguments, MEMSCHEDD
# SOURCE_DIR MEMAGENTD [MEMAGENT]: it sources lib.sh with the first two. Gives AGENTS (their
# PIDs) and AGENT_PID (by DIR), stop_agents (also run at exit, before memschedd stops),
# start_agent, agent_status, agent_fail and free_port.
MEMSCHEDD=${1:?usage: $0 MEMSCHEDD SOURCE_DIR MEMAGENTD MEMAGENT}
SRC=${2:?}
MEMAGENTD=${3:?}
MEMAGENT=${4-}
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh" "$MEMSCHEDD" "$SRC"
AGENTS=()
declare -A AGENT_PID
stop_agents() {
	for a in "${AGENTS[@]}"; do kill -TERM "$a" 2>/dev/null || true; done
	for a in "${AGENTS[@]}"; do wait "$a" 2>/dev/null || true; done
	AGENTS=()
}
trap 'stop_agents; stop_memschedd; rm -rf "$WORK"' EXIT

# start_agent DIR NODE [memagentd flags...]: memagentd in $WORK/DIR on a private copy of
# tests/fixtures/guest/$AGENT_TREE (default systemd; cgroupfs is the other driver's), reporting
# as NODE to $BASE every second; its log in $WORK/DIR/agent.log, its state and local API socket
# in $WORK/DIR. The flags given come last, so they win over these.
start_agent() {
	local d=$WORK/$1 name=$2 dir=$1
	shift 2
	mkdir -p "$d"
	cp -r "$SRC/tests/fixtures/guest/${AGENT_TREE:-systemd}" "$d/cg"
	cp -r "$SRC/tests/fixtures/guest/proc" "$d/proc"
	cp -r "$SRC/tests/fixtures/guest/sys" "$d/sys"
	"$MEMAGENTD" --cgroup-root "$d/cg" --proc-root "$d/proc" --sys-root "$d/sys" \
		--api-socket "$d/api.sock" --state-directory "$d/state" --bpf-enabled=false \
		--balloon-enabled=false --scheduler-url "$BASE" --node-name "$name" \
		--report-heartbeat 1s --metrics-address none "$@" >"$d/agent.log" 2>&1 &
	AGENTS+=($!)
	AGENT_PID[$dir]=$!
}

# free_port: a loopback TCP port nobody listens on (now).
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# agent_status DIR: `memagent status` of that agent in $WORK/DIR/st.full, its .scheduler object
# in $WORK/DIR/st.json.
agent_status() {
	"$MEMAGENT" status --api-socket "$WORK/$1/api.sock" --output json >"$WORK/$1/st.full" ||
		fail "agent $1 stopped answering: $(tail -n 5 "$WORK/$1/agent.log")"
	jq .scheduler "$WORK/$1/st.full" >"$WORK/$1/st.json"
}

# agent_fail DIR MESSAGE: fails with that agent's log.
agent_fail() {
	echo "--- agent $1 log ---" >&2
	cat "$WORK/$1/agent.log" >&2
	fail "$2"
}

# memschedd over HTTPS for the agents to report to (agent_tls.sh, agent_token.sh). Exits 77 (skip)
# without openssl.
# agents_tls_ca: a CA ($WORK/ca.pem) and memschedd's certificate for 127.0.0.1 and localhost
# ($WORK/server.pem), made with tls-lib.sh, whose tls_ca and tls_cert it leaves defined.
agents_tls_ca() {
	command -v openssl >/dev/null || { echo "SKIP: openssl not installed"; exit 77; }
	# shellcheck source=tls-lib.sh
	source "$(dirname "$0")/tls-lib.sh"
	tls_ca "$WORK" ca test-ca
	tls_cert "$WORK" server localhost ca "IP:127.0.0.1,DNS:localhost"
	[[ -s $WORK/server.pem ]] || fail "openssl could not make the certificates"
}

# agents_start_https_memschedd [memschedd flags...]: memschedd with that certificate, trusting
# client certificates of that CA; BASE is its https:// URL, and CACERT the CA for lib.sh's http.
agents_start_https_memschedd() {
	start_memschedd --tls-cert "$WORK/server.pem" --tls-key "$WORK/server.key" \
		--client-ca "$WORK/ca.pem" "$@"
	BASE="https://127.0.0.1:$PORT"
	CACERT=$WORK/ca.pem
}
