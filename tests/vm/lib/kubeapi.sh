# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=sh
#
# kubeapi.sh — the TEST Kubernetes API server (kube-test-apiserver, not a live cluster) inside
# the guest, on its loopback (the guest has no network to the host), for memagentd
# --kubeconfig. POSIX sh for busybox ash; source after vmtest.sh and kubelayout.sh.
#
#   kubeapi_pod_add QOS UID NAMESPACE NAME PRIORITY SPEC...
#                              the pod as the API server knows it; SPEC as kube_pod_create's
#                              (CONTAINER_ID:REQUEST:LIMIT): the containers' requests and limits,
#                              and containerStatuses[].containerID "containerd://<id>"
#   kubeapi_pod_create QOS UID NAMESPACE NAME PRIORITY SPEC...
#                              kube_pod_create's cgroups and kubeapi_pod_add's API pod, alike
#   kubeapi_start [FLAGS...]   writes pods.json, starts the server (certificates made by the
#                              server itself: no openssl in the guest) and the kubeconfig; sets
#                              KT_PID, KT_PORT, KT_CONTROL; flags go to the server (--no-resize)
#   kubeapi_stop [SIGNAL]      SIGTERM by default; waits for the exit
#   kubeapi_restart [FLAGS...] on the same port with the same certificate
#   kubeapi_control METHOD PATH [BODY]   the control port (POST or GET); the answer on stdout
#   kubeapi_agent_flags        memagentd's flags for this server (--kubeconfig, --node-name)
#   kubeapi_wait_listed TIMEOUT_S   memagentd listed the pods (.kubernetes.pods_listed)
#   kubeapi_log_has REGEX      a line of requests.log ("METHOD PATH?QUERY CODE") matches
#   kubeapi_body KIND NAME     the newest recorded body of KIND (eviction, event, resize) that
#                              names NAME; its path on stdout
#   kubeapi_event_seen JQ_FILTER   a recorded Event body matches (jq -e boolean filter)
#   kubeapi_dump               requests.log and the server's stderr, to the console
#   kubeapi_fail REASON...     memagentd's log (AGENT_LOG, agent.sh) and kubeapi_dump, then vm_fail
#
# Files under KT_DIR: pods.json, token, ca.pem, server.pem/.key, kubeconfig, port, cport,
# apiserver.log, rec/ (requests.log, NNNN-KIND.json).

: "${KT_DIR:=/tmp/kubeapi}"
: "${KT_NODE:=vm-node}"
KT_PID=
KT_PORT=
KT_CONTROL=
KT_KUBECONFIG=$KT_DIR/kubeconfig
KT_TOKEN=vm-test-token

_kt_err() {
	echo "kubeapi: $*" >&2
	return 1
}

# _kt_qos_class QOS   the API's name of kubelayout's QoS class
_kt_qos_class() {
	case $1 in
	guaranteed) echo Guaranteed ;;
	burstable) echo Burstable ;;
	besteffort) echo BestEffort ;;
	*) _kt_err "QoS class must be guaranteed, burstable or besteffort, got '$1'" ;;
	esac
}

kubeapi_pod_add() {
	_kta_qc=$(_kt_qos_class "$1") || return 1
	_kta_uid=$2
	_kta_ns=$3
	_kta_name=$4
	_kta_prio=$5
	shift 5
	mkdir -p "$KT_DIR/items" || return 1
	_kta_ctrs='[]'
	_kta_sts='[]'
	_kta_i=0
	for _kta_spec in "$@"; do
		_kta_cid=${_kta_spec%%:*}
		_kta_rest=${_kta_spec#*:}
		_kta_req=${_kta_rest%%:*}
		_kta_lim=${_kta_rest#*:}
		[ "$_kta_req" != 0 ] || _kta_req=
		[ "$_kta_lim" != 0 ] || _kta_lim=
		# Guaranteed needs cpu too (requests = limits for every resource), as the kubelet's QoS.
		_kta_ctrs=$(echo "$_kta_ctrs" | jq -c --arg n "c$_kta_i" --arg req "$_kta_req" --arg lim "$_kta_lim" --arg qc "$_kta_qc" '
			. + [{name: $n, image: "registry.k8s.io/pause:3.10",
				resources: ({}
					+ (if $req != "" then {requests: ({memory: $req} + (if $qc == "Guaranteed" then {cpu: "100m"} else {} end))} else {} end)
					+ (if $lim != "" then {limits: ({memory: $lim} + (if $qc == "Guaranteed" then {cpu: "100m"} else {} end))} else {} end))}]') ||
			return 1
		_kta_sts=$(echo "$_kta_sts" | jq -c --arg n "c$_kta_i" --arg id "containerd://$_kta_cid" '
			. + [{name: $n, containerID: $id, ready: true, restartCount: 0, image: "registry.k8s.io/pause:3.10",
				imageID: "", started: true, state: {running: {startedAt: "2026-01-01T00:00:00Z"}}}]') || return 1
		_kta_i=$((_kta_i + 1))
	done
	jq -n --arg uid "$_kta_uid" --arg ns "$_kta_ns" --arg name "$_kta_name" --argjson prio "$_kta_prio" \
		--arg node "$KT_NODE" --arg qc "$_kta_qc" --argjson ctrs "$_kta_ctrs" --argjson sts "$_kta_sts" '{
		metadata: {name: $name, namespace: $ns, uid: $uid,
			ownerReferences: [{apiVersion: "apps/v1", kind: "ReplicaSet", name: "\($name)-rs",
				uid: "\($uid)-rs", controller: true}]},
		spec: {nodeName: $node, priority: $prio, containers: $ctrs},
		status: {phase: "Running", qosClass: $qc, containerStatuses: $sts}}' \
		>"$KT_DIR/items/$_kta_ns.$_kta_name.json" || _kt_err "cannot write the pod $_kta_ns/$_kta_name"
}

kubeapi_pod_create() {
	# kubelayout's functions share sh's one namespace: names of our own, kept across the call.
	_ktc_qos=$1
	_ktc_uid=$2
	_ktc_ns=$3
	_ktc_name=$4
	_ktc_prio=$5
	shift 5
	kube_pod_create "$_ktc_qos" "$_ktc_uid" "$@" &&
		kubeapi_pod_add "$_ktc_qos" "$_ktc_uid" "$_ktc_ns" "$_ktc_name" "$_ktc_prio" "$@"
}

_kt_wait_port() {
	test -s "$KT_DIR/port" && test -s "$KT_DIR/cport"
}

# _kt_run FLAGS...   start the server, wait for its port files
_kt_run() {
	rm -f "$KT_DIR/port" "$KT_DIR/cport"
	kube-test-apiserver --port-file "$KT_DIR/port" --control-port-file "$KT_DIR/cport" \
		--token-file "$KT_DIR/token" --pods "$KT_DIR/pods.json" --record-dir "$KT_DIR/rec" \
		--node "$KT_NODE" "$@" 2>>"$KT_DIR/apiserver.log" &
	KT_PID=$!
	if ! vm_wait_for 20 "kube-test-apiserver port files" _kt_wait_port; then
		kubeapi_dump
		_kt_err "kube-test-apiserver did not start"
		return 1
	fi
	KT_PORT=$(cat "$KT_DIR/port")
	KT_CONTROL=http://127.0.0.1:$(cat "$KT_DIR/cport")
	vm_log "kube-test-apiserver (a TEST API server) on https://127.0.0.1:$KT_PORT, pid $KT_PID"
}

kubeapi_start() {
	# The guest's loopback starts down; the server and memagentd meet on it.
	ip link set lo up || return 1
	mkdir -p "$KT_DIR/rec" "$KT_DIR/items" || return 1
	# shellcheck disable=SC2046  # one file per pod; none is a valid (empty) list
	jq -s '{kind: "PodList", apiVersion: "v1", metadata: {}, items: .}' $(ls "$KT_DIR"/items/*.json 2>/dev/null) \
		</dev/null >"$KT_DIR/pods.json" || return 1
	echo "$KT_TOKEN" >"$KT_DIR/token"
	echo "$KT_TOKEN" >"$KT_DIR/client-token"
	_kt_run --self-signed-ca-out "$KT_DIR/ca.pem" --self-signed-cert-out "$KT_DIR/server.pem" \
		--self-signed-key-out "$KT_DIR/server.key" "$@" || return 1
	cat >"$KT_KUBECONFIG" <<EOF
apiVersion: v1
kind: Config
current-context: vm
clusters:
- name: vm
  cluster:
    server: https://127.0.0.1:$KT_PORT
    certificate-authority: $KT_DIR/ca.pem
users:
- name: memagentd
  user:
    tokenFile: $KT_DIR/client-token
contexts:
- name: vm
  context:
    cluster: vm
    user: memagentd
EOF
}

kubeapi_stop() {
	[ -n "$KT_PID" ] || return 0
	kill "-${1:-TERM}" "$KT_PID" 2>/dev/null
	wait "$KT_PID" 2>/dev/null
	vm_log "kube-test-apiserver pid $KT_PID stopped (SIG${1:-TERM})"
	KT_PID=
}

kubeapi_restart() {
	[ -n "$KT_PORT" ] || { _kt_err "kubeapi_restart before kubeapi_start"; return 1; }
	_kt_run --tls-cert "$KT_DIR/server.pem" --tls-key "$KT_DIR/server.key" --port "$KT_PORT" "$@" || return 1
	[ "$(cat "$KT_DIR/port")" = "$KT_PORT" ] || _kt_err "restarted on port $(cat "$KT_DIR/port"), not $KT_PORT"
}

kubeapi_control() {
	case $1 in
	GET) wget -q -O - "$KT_CONTROL$2" ;;
	POST) wget -q -O - --header "Content-Type: application/json" --post-data "${3:-}" "$KT_CONTROL$2" ;;
	*) _kt_err "kubeapi_control: $1: busybox wget sends GET and POST only" ;;
	esac
}

kubeapi_agent_flags() {
	echo "--kubeconfig=$KT_KUBECONFIG --node-name=$KT_NODE"
}

_kt_listed() {
	[ "$(memagent status --output json 2>/dev/null | jq -r '.kubernetes.pods_listed')" = true ]
}

kubeapi_wait_listed() {
	vm_wait_for "$1" "memagentd listed its pods from the API" _kt_listed
}

kubeapi_log_has() {
	grep -Eq "$1" "$KT_DIR/rec/requests.log" 2>/dev/null
}

kubeapi_body() {
	# shellcheck disable=SC2012  # NNNN-KIND.json: sequence numbers, no odd names
	for _f in $(ls "$KT_DIR"/rec/*-"$1".json 2>/dev/null | sort -r); do
		if grep -q "\"$2\"" "$_f"; then
			echo "$_f"
			return 0
		fi
	done
	return 1
}

kubeapi_event_seen() {
	set -- "$1" "$KT_DIR"/rec/*-event.json
	[ -e "$2" ] || return 1
	_kte_f=$1
	shift
	jq -e -s "map(select($_kte_f)) | length >= 1" "$@" >/dev/null
}

kubeapi_dump() {
	vm_dump "$KT_DIR/rec/requests.log" "$KT_DIR/apiserver.log"
}

kubeapi_fail() {
	[ -z "${AGENT_LOG:-}" ] || vm_dump "$AGENT_LOG"
	kubeapi_dump
	vm_fail "$@"
}
