#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs every Debian package that building, testing and the QEMU guest need.
# Used by the README's commands and by .ci/run. Safe to run again.
set -euo pipefail

pkgs=(
    # toolchain
    build-essential cmake pkg-config clang llvm clang-format
    # clang 14's libFuzzer and sanitizer runtimes (make fuzz, make fuzz-ci)
    libclang-rt-14-dev
    # required libraries
    libsystemd-dev libcgroup-dev libcurl4-openssl-dev libjson-c-dev libbpf-dev bpftool
    libcmocka-dev libmicrohttpd-dev libsqlite3-dev libyaml-dev libnuma-dev
    libibverbs-dev librdmacm-dev curl python3 python3-yaml
    # memschedd's replicated state: etcd (v3 API) started by the store's tests on loopback
    etcd-server etcd-client
    # the real-kernel test bed: Debian's own kernel under QEMU, an initramfs from busybox
    qemu-system-x86 linux-image-amd64 busybox-static kmod cpio gzip jq
    # two guests on Soft-RoCE (the rxe provider and the rdma tool go into the image) and an
    # ext4 disk image for page cache that can leave memory (mke2fs)
    ibverbs-providers iproute2 e2fsprogs
    # peers and load tools used by scenarios and benchmarks
    stress-ng earlyoom wrk hyperfine
    # the contract tests' certificates for the test Kubernetes API server
    openssl
    # charts/memagent rendered with Helm's engine (tests/helm-render: text/template + sprig),
    # built offline in GOPATH mode; sprig's own dependencies come with its package
    golang-go golang-github-masterminds-sprig-dev golang-github-ghodss-yaml-dev
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm run the OpenAPI validation of the bodies memagentd sends (tests/openapi).
# A machine may carry them from another source than Debian's packages (a nodejs build that
# bundles npm): only when there is no node or no npm at all are Debian's installed.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#pkgs[@]} packages present"
elif [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; run this as root to install them ($0)" >&2
    exit 2
else
    echo "install-deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "${missing[@]}"
fi

# The validator's npm packages, exactly as package-lock.json pins them; from npm's cache when
# it has them (--prefer-offline), from the registry otherwise. Skipped while node_modules is
# newer than the lock (npm ci would remove and reinstall it each time). Under CI a failure is
# fatal; elsewhere the OpenAPI test then skips, saying so.
openapi_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/openapi"
if [ -f "$openapi_dir/package-lock.json" ]; then
    if [ -f "$openapi_dir/node_modules/.package-lock.json" ] &&
        [ "$openapi_dir/node_modules/.package-lock.json" -nt "$openapi_dir/package-lock.json" ]; then
        echo "install-deps: tests/openapi/node_modules up to date"
    else
        echo "install-deps: npm ci in tests/openapi"
        if ! (cd "$openapi_dir" && npm ci --prefer-offline --no-audit --no-fund --loglevel=error); then
            [ "${CI:-}" = true ] && exit 1
            echo "install-deps: npm ci failed; the OpenAPI validation tests will skip" >&2
        fi
    fi
fi
