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
    # peers and load tools used by scenarios and benchmarks
    stress-ng earlyoom wrk hyperfine
)

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "install-deps: all ${#pkgs[@]} packages present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing ${missing[*]}; run this as root to install them ($0)" >&2
    exit 2
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
