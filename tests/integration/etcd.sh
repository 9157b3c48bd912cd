# SPDX-License-Identifier: Apache-2.0
# A single etcd member on loopback for the integration tests: random free ports, a data dir
# under $1, started and killed by the test. Source it, then `start_etcd DIR`; it sets
# ETCD_CLIENT (the client URL) and ETCD_PID; `stop_etcd` kills it.
# Without the etcd binary: a loud skip (exit 77), or a failure under CI=true.
ETCD=${ETCD:-etcd}
ETCD_PID=
ETCD_CLIENT=

etcd_free_port() {
        python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start_etcd() {
        local dir=$1
        if ! command -v "$ETCD" >/dev/null 2>&1; then
                echo "*** SKIPPING: no etcd binary ($ETCD); install Debian's etcd-server" >&2
                [[ ${CI:-} == true ]] && exit 1
                exit 77
        fi
        ETCD_CLIENT="http://127.0.0.1:$(etcd_free_port)"
        local peer
        peer="http://127.0.0.1:$(etcd_free_port)"
        "$ETCD" --name it --data-dir "$dir/etcd-data" --listen-client-urls "$ETCD_CLIENT" \
                --advertise-client-urls "$ETCD_CLIENT" --listen-peer-urls "$peer" \
                --initial-advertise-peer-urls "$peer" --initial-cluster "it=$peer" \
                >"$dir/etcd.log" 2>&1 &
        ETCD_PID=$!
        for _ in $(seq 200); do
                curl -fsS "$ETCD_CLIENT/health" >/dev/null 2>&1 && return 0
                kill -0 "$ETCD_PID" 2>/dev/null || break
                sleep 0.1
        done
        echo "etcd did not start; its log:" >&2
        cat "$dir/etcd.log" >&2
        exit 1
}

stop_etcd() {
        if [[ -n $ETCD_PID ]]; then
                kill -KILL "$ETCD_PID" 2>/dev/null || true
                wait "$ETCD_PID" 2>/dev/null || true
                ETCD_PID=
        fi
}
