# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Helpers for tests that run against kube-test-apiserver, the TEST Kubernetes API server (not a
# live cluster). Source it after setting KT_BIN (the server binary) and KT_DIR (a scratch
# directory that the caller removes). Needs openssl and curl. Every wait is bounded.
# Certificates come from tests/integration/tls-lib.sh, like those of the other TLS tests.
#
#   kube_test_certs                 a CA and a server certificate for 127.0.0.1 and localhost:
#                                   $KT_DIR/ca.pem, server.pem, server.key
#   kube_test_start [FLAGS...]      starts the server on $KT_DIR/token and $KT_DIR/pods.json,
#                                   recording into $KT_DIR/rec; sets KT_PID, KT_BASE, KT_CONTROL
#   kube_test_stop [SIGNAL]
#   kcurl CURL-ARGS... URL-PATH     curl to the API with the CA and the current token; the body
#                                   goes to $KT_DIR/body, the headers to $KT_DIR/headers, and
#                                   the HTTP code is printed
#   kcontrol METHOD PATH [BODY]     the control port; fails the test unless it answers 200

: "${KT_BIN:?set KT_BIN to the kube-test-apiserver binary}"
: "${KT_DIR:?set KT_DIR to a scratch directory}"
KT_PID=
KT_BASE=
KT_CONTROL=

# shellcheck source=SCRIPTDIR/../integration/tls-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../integration/tls-lib.sh"
kube_test_certs() {
        tls_ca "$KT_DIR" ca kube-test-ca &&
                tls_cert "$KT_DIR" server localhost ca "IP:127.0.0.1,DNS:localhost" &&
                [[ -s $KT_DIR/server.pem && -s $KT_DIR/server.key ]]
}

kube_test_start() {
        rm -f "$KT_DIR/port" "$KT_DIR/cport"
        "$KT_BIN" --tls-cert "$KT_DIR/server.pem" --tls-key "$KT_DIR/server.key" \
                --port-file "$KT_DIR/port" --control-port-file "$KT_DIR/cport" \
                --token-file "$KT_DIR/token" --pods "$KT_DIR/pods.json" \
                --record-dir "$KT_DIR/rec" "$@" 2>>"$KT_DIR/apiserver.log" &
        KT_PID=$!
        local _
        for _ in $(seq 200); do
                [[ -s $KT_DIR/port && -s $KT_DIR/cport ]] && break
                kill -0 "$KT_PID" 2>/dev/null || return 1
                sleep 0.05
        done
        [[ -s $KT_DIR/port ]] || return 1
        KT_BASE="https://127.0.0.1:$(cat "$KT_DIR/port")"
        KT_CONTROL="http://127.0.0.1:$(cat "$KT_DIR/cport")"
}

kube_test_stop() {
        [[ -n ${KT_PID:-} ]] || return 0
        kill "-${1:-TERM}" "$KT_PID" 2>/dev/null || true
        local _
        for _ in $(seq 100); do
                kill -0 "$KT_PID" 2>/dev/null || break
                sleep 0.05
        done
        kill -KILL "$KT_PID" 2>/dev/null || true
        wait "$KT_PID" 2>/dev/null || true
        KT_PID=
}

kcurl() {
        local path=${*: -1}
        local args=("${@:1:$#-1}")
        curl -s -o "$KT_DIR/body" -D "$KT_DIR/headers" -w '%{http_code}' --max-time 10 \
                --cacert "$KT_DIR/ca.pem" -H "Authorization: Bearer $(cat "$KT_DIR/token")" \
                "${args[@]}" "$KT_BASE$path"
}

kcontrol() {
        local args=(-s -o "$KT_DIR/control.out" -w '%{http_code}' --max-time 10 -X "$1")
        [[ -n ${3-} ]] && args+=(--data-binary "$3")
        local code
        code=$(curl "${args[@]}" "$KT_CONTROL$2")
        [[ $code == 200 ]] || {
                echo "control $1 $2: HTTP $code $(cat "$KT_DIR/control.out")" >&2
                return 1
        }
}

# A v1 Node as the kubelet registers it, for POST /control/nodes: NAME [READY] [TAINT-KEY]
# (a NoSchedule taint), 16Gi allocatable.
kube_test_node() {
        jq -cn --arg n "$1" --arg r "${2:-True}" --arg t "${3-}" '{metadata: {name: $n, labels: {"kubernetes.io/hostname": $n}},
                spec: (if $t == "" then {} else {taints: [{key: $t, value: "yes", effect: "NoSchedule"}]} end),
                status: {allocatable: {memory: "16Gi", cpu: "4", pods: "110"},
                        conditions: [{type: "MemoryPressure", status: "False", reason: "KubeletHasSufficientMemory"},
                        	{type: "Ready", status: $r, reason: "KubeletReady"}]}}'
}

# Writes a kubeconfig for the test API server to FILE: user NAME with the token file TOKEN-FILE,
# and the CA, both as paths relative to FILE's directory (resolved as kubectl does).
kube_test_kubeconfig() { # FILE NAME TOKEN-FILE
        cat >"$1" <<EOF
apiVersion: v1
kind: Config
current-context: test
clusters:
- name: test
  cluster:
    server: $KT_BASE
    certificate-authority: kt/ca.pem
users:
- name: $2
  user:
    tokenFile: $3
contexts:
- name: test
  context:
    cluster: test
    user: $2
EOF
}
