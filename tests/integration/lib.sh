# SPDX-License-Identifier: Apache-2.0
# Shared helpers for the memschedd integration tests. Source after setting MEMSCHEDD.
# Everything listens on 127.0.0.1 only; every wait is bounded.
set -euo pipefail

MEMSCHEDD=${1:?usage: $0 MEMSCHEDD SOURCE_DIR}
SRC=${2:?usage: $0 MEMSCHEDD SOURCE_DIR}
for tool in curl jq; do
        command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed"; exit 77; }
done
WORK=$(mktemp -d /tmp/memsched-it.XXXXXX)
PID=
PORT=
trap 'stop_memschedd; rm -rf "$WORK"' EXIT
# A command that fails outside a check (set -e) ends the test: say which, so that it is never a
# silent failure.
trap 'echo "FAIL: line $LINENO: \"$BASH_COMMAND\" exited $?" >&2' ERR

fail() {
        echo "FAIL: $*" >&2
        if [[ -f $WORK/memschedd.log ]]; then
                echo "--- memschedd log (last 30 lines) ---" >&2
                tail -n 30 "$WORK/memschedd.log" >&2
        fi
        exit 1
}
pass() { echo "ok: $*"; }

# start_memschedd [extra flags...]: starts with state in $WORK/state.db, waits for the port.
start_memschedd() {
        rm -f "$WORK/port"
        "$MEMSCHEDD" --listen 127.0.0.1:0 --state-file "$WORK/state.db" --port-file "$WORK/port" \
                "$@" >>"$WORK/memschedd.log" 2>&1 &
        PID=$!
        for _ in $(seq 100); do
                [[ -s $WORK/port ]] && break
                kill -0 "$PID" 2>/dev/null || fail "memschedd exited at start"
                sleep 0.05
        done
        [[ -s $WORK/port ]] || fail "memschedd did not start within 5 s"
        PORT=$(cat "$WORK/port")
        BASE="http://127.0.0.1:$PORT"
}

# stop_memschedd [SIGNAL]
stop_memschedd() {
        [[ -n ${PID:-} ]] || return 0
        kill "-${1:-TERM}" "$PID" 2>/dev/null || true
        for _ in $(seq 100); do
                kill -0 "$PID" 2>/dev/null || break
                sleep 0.05
        done
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
        PID=
}

alive() { kill -0 "$PID" 2>/dev/null || fail "memschedd died"; }

# need_python_yaml: PY is Debian's interpreter, with Debian's python3-yaml
# (scripts/install-deps.sh installs both), not whatever python3 comes first on PATH; a skip (77)
# without either.
need_python_yaml() {
        PY=/usr/bin/python3
        [ -x "$PY" ] || { echo "SKIP: $PY not installed (Debian: python3)"; exit 77; }
        "$PY" -c 'import yaml' 2>/dev/null || {
                echo "SKIP: python3 has no yaml module (Debian: python3-yaml)"
                exit 77
        }
}

# http METHOD PATH [BODY|@FILE] -> body in $WORK/body, status printed. Over HTTPS, CACERT names
# the CA that memschedd's certificate must chain to.
http() {
        local method=$1 path=$2 data=${3-}
        local args=(-s -o "$WORK/body" -w '%{http_code}' -X "$method" --max-time 10)
        [[ -n ${CACERT-} ]] && args+=(--cacert "$CACERT")
        if [[ -n $data ]]; then
                args+=(-H 'Content-Type: application/json' --data-binary "$data")
        fi
        curl "${args[@]}" "$BASE$path"
}

# wait_get PATH [TENTHS]: true once GET PATH answers 200 (the body in $WORK/body), within TENTHS
# tenths of a second (default 100: 10 s).
wait_get() {
        for _ in $(seq "${2:-100}"); do
                [[ $(http GET "$1") == 200 ]] && return 0
                sleep 0.1
        done
        return 1
}

# wait_until SECONDS PATH FILTER: polls memschedd until the jq FILTER holds on PATH's body (left
# in $WORK/body); fails after SECONDS.
wait_until() {
        local _
        for _ in $(seq $(($1 * 10))); do
                [[ $(http GET "$2") == 200 ]] && jq -e "$3" "$WORK/body" >/dev/null 2>&1 && return 0
                sleep 0.1
        done
        fail "after $1 s, '$3' does not hold on GET $2: $(head -c 800 "$WORK/body")"
}

# expect STATUS METHOD PATH [BODY]
expect() {
        local want=$1
        shift
        local got
        got=$(http "$@")
        [[ $got == "$want" ]] || fail "$1 $2: HTTP $got, expected $want: $(head -c 400 "$WORK/body")"
}

# jqb FILTER: evaluates FILTER on the last body, fails unless it prints true.
jqb() {
        local out
        out=$(jq -e "$1" "$WORK/body" 2>&1) || fail "jq '$1' on $(head -c 600 "$WORK/body"): $out"
}

GiB=1073741824
MiB=1048576

# node_report NAME TOTAL AVAILABLE ZONE_FREE_0 ZONE_FREE_1 PRESSURE [DURATION_MS EXHAUSTED PODS_JSON]
node_report() {
        local name=$1 total=$2 avail=$3 z0=$4 z1=$5 level=$6 dur=${7:-0} exh=${8:-false}
        local pods=${9:-[]}
        local half=$((total / 2))
        cat <<JSON
{"node_name":"$name","seq":$(date +%s%N),"heartbeat_interval_ms":1000,
 "node":{"memory_total_bytes":$total,"memory_available_bytes":$avail,"memory_free_bytes":$avail,
  "swap_total_bytes":0,"swap_free_bytes":0,
  "psi":{"some":{"avg10":0.00,"avg60":0.00,"avg300":0.00,"total_usec":0},"full":null},
  "pressure":{"level":"$level","duration_ms":$dur,"relief_exhausted":$exh},
  "numa":[{"id":0,"total_bytes":$half,"free_bytes":$z0,"file_bytes":0,"slab_reclaimable_bytes":0,"distances":[10,21]},
          {"id":1,"total_bytes":$half,"free_bytes":$z1,"file_bytes":0,"slab_reclaimable_bytes":0,"distances":[21,10]}]},
 "kubepods":null,"pods":$pods,"workloads":[]}
JSON
}

post_report() { # NAME JSON
        expect 200 POST "/v1/nodes/$1/report" "$2"
}

# A v1.Pod as the apiserver serialises it (what kube-scheduler forwards).
# k8s_pod NAME MEMORY_REQUEST MEMORY_LIMIT|"" QOS [OWNER_UID]
k8s_pod() {
        local name=$1 req=$2 lim=$3 qos=$4 owner=${5-}
        local limits='{}' cpu_req='"100m"'
        [[ -n $lim ]] && limits="{\"cpu\":\"100m\",\"memory\":\"$lim\"}"
        local owners=''
        [[ -n $owner ]] && owners=",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"$owner\",\"controller\":true,\"blockOwnerDeletion\":true}]"
        cat <<JSON
{"metadata":{"name":"$name","generateName":"web-","namespace":"shop","uid":"uid-$name","resourceVersion":"1","creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app":"web"}$owners},
 "spec":{"volumes":[],"containers":[{"name":"app","image":"registry.k8s.io/pause:3.9","resources":{"limits":$limits,"requests":{"cpu":$cpu_req,"memory":"$req"}},"terminationMessagePolicy":"File","imagePullPolicy":"IfNotPresent"}],
  "restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst","serviceAccountName":"default","schedulerName":"default-scheduler","priority":0,"enableServiceLinks":true,"preemptionPolicy":"PreemptLowerPriority"},
 "status":{"phase":"Pending","qosClass":"$qos"}}
JSON
}

# extender_args POD_JSON names|nodes NODE...: ExtenderArgs as HTTPExtender marshals it.
extender_args() {
        local pod=$1 mode=$2
        shift 2
        local names
        names=$(printf '%s\n' "$@" | jq -R . | jq -sc .)
        if [[ $mode == names ]]; then
                echo "{\"Pod\":$pod,\"Nodes\":null,\"NodeNames\":$names}"
        else
                local items
                items=$(echo "$names" | jq -c '[.[] | {metadata:{name:., uid:("uid-"+.), labels:{"kubernetes.io/hostname":.}}, spec:{podCIDR:"10.0.0.0/24"}, status:{capacity:{memory:"16Gi"}, allocatable:{memory:"15Gi"}, conditions:[{type:"Ready",status:"True"}]}}]')
                echo "{\"Pod\":$pod,\"Nodes\":{\"metadata\":{\"resourceVersion\":\"7\"},\"items\":$items},\"NodeNames\":null}"
        fi
}
