# SPDX-License-Identifier: Apache-2.0
# An etcd cluster on loopback for the integration tests: N members (default 1) with random free
# ports and data dirs under DIR, started and killed by the test. Source it, then
# `start_etcd DIR [N]`; it sets ETCD_CLIENT (every member's client URL, comma-separated).
# `kill_etcd_member I` / `start_etcd_member I` stop and restart one member on its data;
# `stop_etcd` kills them all; start_replica and friends (below) run memschedd on it. Without
# the etcd binary: a loud skip (exit 77), or a failure under CI=true.
ETCD=${ETCD:-etcd}
ETCD_CLIENT=
ETCD_DIR=
ETCD_CLUSTER=
declare -a ETCD_PIDS=() ETCD_CLIENTS=() ETCD_PEERS=()

etcd_free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

etcd_healthy() { # I
        curl -fsS --max-time 1 "${ETCD_CLIENTS[$1]}/health" 2>/dev/null | grep -q '"health":"true"'
}

start_etcd_member() { # I
        local i=$1
        "$ETCD" --name "m$i" --data-dir "$ETCD_DIR/etcd-m$i" \
                --listen-client-urls "${ETCD_CLIENTS[$i]}" --advertise-client-urls "${ETCD_CLIENTS[$i]}" \
                --listen-peer-urls "${ETCD_PEERS[$i]}" --initial-advertise-peer-urls "${ETCD_PEERS[$i]}" \
                --initial-cluster "$ETCD_CLUSTER" --initial-cluster-state new \
                --initial-cluster-token "$ETCD_DIR" >>"$ETCD_DIR/etcd-m$i.log" 2>&1 &
        ETCD_PIDS[$i]=$!
}

wait_etcd_member() { # I
        for _ in $(seq 200); do
                etcd_healthy "$1" && return 0
                kill -0 "${ETCD_PIDS[$1]}" 2>/dev/null || break
                sleep 0.1
        done
        echo "etcd member $1 did not become healthy; its log:" >&2
        tail -n 30 "$ETCD_DIR/etcd-m$1.log" >&2
        exit 1
}

start_etcd() { # DIR [N]
        ETCD_DIR=$1
        local n=${2:-1} i
        if ! command -v "$ETCD" >/dev/null 2>&1; then
                echo "*** SKIPPING: no etcd binary ($ETCD); install Debian's etcd-server" >&2
                [[ ${CI:-} == true ]] && exit 1
                exit 77
        fi
        ETCD_CLUSTER=
        ETCD_CLIENT=
        for ((i = 0; i < n; i++)); do
                ETCD_CLIENTS[$i]="http://127.0.0.1:$(etcd_free_port)"
                ETCD_PEERS[$i]="http://127.0.0.1:$(etcd_free_port)"
                ETCD_CLUSTER+="${ETCD_CLUSTER:+,}m$i=${ETCD_PEERS[$i]}"
                ETCD_CLIENT+="${ETCD_CLIENT:+,}${ETCD_CLIENTS[$i]}"
        done
        for ((i = 0; i < n; i++)); do start_etcd_member "$i"; done
        for ((i = 0; i < n; i++)); do wait_etcd_member "$i"; done
}

kill_etcd_member() { # I
        if [[ -n ${ETCD_PIDS[$1]:-} ]]; then
                kill -KILL "${ETCD_PIDS[$1]}" 2>/dev/null || true
                wait "${ETCD_PIDS[$1]}" 2>/dev/null || true
                ETCD_PIDS[$1]=
        fi
}

stop_etcd() {
        local i
        for i in "${!ETCD_PIDS[@]}"; do kill_etcd_member "$i"; done
}

# For the scripts that run a SQLite test again on etcd: `etcd_rerun_setup NAME` makes DIR (a temp
# dir, removed at exit with etcd stopped), starts one member there and sets CLIENT (its URL);
# `etcd_memschedd_wrapper ENDPOINTS` writes $DIR/memschedd, which runs $MEMSCHEDD with the
# caller's flags plus --etcd-endpoints ENDPOINTS.
etcd_rerun_setup() { # NAME
        DIR=$(mktemp -d "/tmp/$1-XXXXXX")
        trap 'stop_etcd; rm -rf "$DIR"' EXIT
        start_etcd "$DIR"
        CLIENT=$ETCD_CLIENT
}
etcd_memschedd_wrapper() { # ENDPOINTS
        cat >"$DIR/memschedd" <<WRAP
#!/bin/sh
exec "$MEMSCHEDD" "\$@" --etcd-endpoints "$1"
WRAP
        chmod +x "$DIR/memschedd"
}

# etcd_count_keys PREFIX: how many keys etcd at $ETCD_CLIENT (its first member) holds under
# PREFIX, which ends in '/' (the range ends at the same text with '0' for the '/').
etcd_count_keys() {
        local end=${1%/}0
        curl -fsS -X POST "${ETCD_CLIENT%%,*}/v3/kv/range" \
                -d "{\"key\":\"$(printf %s "$1" | base64)\",\"range_end\":\"$(printf %s "$end" | base64)\",\"keys_only\":true}" |
                jq '.kvs | length'
}

# memschedd replicas on this etcd, for the scripts that source lib.sh too (MEMSCHEDD, WORK, fail):
# `start_replica NAME [FLAGS...]` starts one in $WORK (relative paths in FLAGS are from there)
# with --leader-lease-sec $LEASE_SEC (default 2) and waits for its port; RPID[NAME] and
# RBASE[NAME] get its pid and URL. `kill_replica NAME` SIGKILLs it; `leader_of NAME` prints its
# memsched_leader gauge.
declare -A RPID RBASE
start_replica() { # NAME [FLAGS...]
        local n=$1
        shift
        rm -f "$WORK/$n.port"
        (cd "$WORK" && exec "$MEMSCHEDD" --listen 127.0.0.1:0 --state-file "$WORK/unused.db" \
                --port-file "$WORK/$n.port" --etcd-endpoints "$ETCD_CLIENT" \
                --leader-lease-sec "${LEASE_SEC:-2}" "$@" >>"$WORK/memschedd.log" 2>&1) &
        RPID[$n]=$!
        for _ in $(seq 100); do
                [[ -s $WORK/$n.port ]] && break
                kill -0 "${RPID[$n]}" 2>/dev/null || fail "replica $n exited at start"
                sleep 0.05
        done
        [[ -s $WORK/$n.port ]] || fail "replica $n did not start within 5 s"
        RBASE[$n]="http://127.0.0.1:$(cat "$WORK/$n.port")"
}
kill_replica() { # NAME
        kill -KILL "${RPID[$1]}" 2>/dev/null || true
        wait "${RPID[$1]}" 2>/dev/null || true
        unset "RPID[$1]"
}
leader_of() { # NAME
        curl -fsS --max-time 5 "${RBASE[$1]}/metrics" | awk '$1 == "memsched_leader" { print $2 }'
}
