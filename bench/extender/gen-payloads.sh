#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Writes the benchmark inputs for N nodes into DIR: a curl config posting one node report per
# node (reports.curl), and an ExtenderArgs body in node-names mode (args.json) for a Burstable
# 512Mi pod, as kube-scheduler sends it with nodeCacheCapable: true.
set -euo pipefail
N=${1:?usage: gen-payloads.sh N DIR BASE_URL}
DIR=${2:?}
BASE=${3:?}
mkdir -p "$DIR/reports"
GiB=1073741824
: >"$DIR/reports.curl"
for ((i = 0; i < N; i++)); do
        name=$(printf 'node-%05d' "$i")
        avail=$(((4 + i % 12) * GiB))
        z0=$((avail / (1 + i % 3)))
        z1=$((avail - z0))
        level=none
        ((i % 17 == 0)) && level=medium
        ((i % 5 == 0)) && level=low
        printf '{"node_name":"%s","seq":1,"node":{"memory_total_bytes":%d,"memory_available_bytes":%d,"pressure":{"level":"%s","duration_ms":0,"relief_exhausted":false},"numa":[{"id":0,"total_bytes":%d,"free_bytes":%d},{"id":1,"total_bytes":%d,"free_bytes":%d}]},"pods":[{"uid":"%s-p0","qos":"burstable","owner_uid":"rs-%d","memory":{"working_set_bytes":%d}}]}\n' \
                "$name" $((32 * GiB)) "$avail" "$level" $((16 * GiB)) "$z0" $((16 * GiB)) "$z1" \
                "$name" "$i" $((GiB / 2)) >"$DIR/reports/$name.json"
        ((i > 0)) && echo next >>"$DIR/reports.curl"
        printf 'url = "%s/v1/nodes/%s/report"\ndata-binary = "@%s/reports/%s.json"\noutput = "/dev/null"\n' \
                "$BASE" "$name" "$DIR" "$name" >>"$DIR/reports.curl"
done
names=$(seq -f 'node-%05g' 0 $((N - 1)) | jq -R . | jq -sc .)
cat >"$DIR/args.json" <<JSON
{"Pod":{"metadata":{"name":"web-5d8c7-x2x9z","generateName":"web-5d8c7-","namespace":"shop","uid":"0e1f5f5e-6a1b-4c38-9d43-2f6c0f1b8a11","creationTimestamp":"2024-05-01T10:00:00Z","labels":{"app":"web"},"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-5d8c7","uid":"rs-web","controller":true,"blockOwnerDeletion":true}]},"spec":{"containers":[{"name":"app","image":"registry.k8s.io/pause:3.9","resources":{"requests":{"cpu":"250m","memory":"512Mi"},"limits":{"memory":"1Gi"}}}],"restartPolicy":"Always","schedulerName":"default-scheduler","priority":0},"status":{"phase":"Pending","qosClass":"Burstable"}},"Nodes":null,"NodeNames":$names}
JSON
