# SPDX-License-Identifier: Apache-2.0
# shellcheck shell=bash
# Test certificates, made with openssl when a test runs (never committed): a CA, and
# certificates it signs, each as DIR/NAME.pem and DIR/NAME.key. Source it. Used by
# sched_tls.sh, agent_tls.sh and tests/kube-apiserver/kube-test-lib.sh.

# tls_ca DIR NAME CN: a self-signed CA.
tls_ca() {
        openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$3" -keyout "$1/$2.key" \
                -out "$1/$2.pem" 2>/dev/null
}

# tls_cert DIR NAME CN CA [SAN]: a certificate signed by DIR/CA.pem, with the subjectAltName
# SAN when given ("IP:127.0.0.1,DNS:localhost").
tls_cert() {
        local d=$1
        openssl req -newkey rsa:2048 -nodes -subj "/CN=$3" -keyout "$d/$2.key" -out "$d/$2.csr" \
                2>/dev/null || return 1
        if [[ -n ${5-} ]]; then echo "subjectAltName=$5" >"$d/$2.ext"; else : >"$d/$2.ext"; fi
        openssl x509 -req -in "$d/$2.csr" -CA "$d/$4.pem" -CAkey "$d/$4.key" -CAcreateserial \
                -days 2 -extfile "$d/$2.ext" -out "$d/$2.pem" 2>/dev/null
}
