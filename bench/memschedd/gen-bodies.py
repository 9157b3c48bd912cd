#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Writes request bodies for memschedd's memory tests into DIR:
#   array-MB.json   a JSON array of zeros of about MB MiB (the worst case for json-c's tree)
#   names-MB.json   ExtenderArgs in NodeNames mode with short unknown names, about MB MiB
#   nodes-N.json    ExtenderArgs with a full Nodes list of N realistic Node objects (what
#                   kube-scheduler sends without nodeCacheCapable; about 5.8 KiB a node)
#   gen-bodies.py DIR KIND SIZE   (KIND array|names|nodes; SIZE in MiB, or nodes for "nodes")
import json
import sys

POD = {"metadata": {"name": "web-1", "namespace": "shop", "uid": "0e1f5f5e-6a1b-4c38-9d43-2f6c0f1b8a11"},
       "spec": {"containers": [{"name": "app", "resources": {"requests": {"memory": "512Mi"},
                                                              "limits": {"memory": "1Gi"}}}]},
       "status": {"qosClass": "Burstable"}}


def node(i):
    name = "node-%05d" % i
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
              "node.kubernetes.io/instance-type": "m6i.4xlarge", "topology.kubernetes.io/region": "eu-west-1",
              "topology.kubernetes.io/zone": "eu-west-1%s" % "abc"[i % 3], "beta.kubernetes.io/os": "linux",
              "beta.kubernetes.io/arch": "amd64", "node-role.kubernetes.io/worker": "",
              "pool": "general-purpose-%d" % (i % 7)}
    conds = [{"type": t, "status": "False" if t != "Ready" else "True",
              "lastHeartbeatTime": "2024-05-01T10:00:00Z", "lastTransitionTime": "2024-04-01T10:00:00Z",
              "reason": "Kubelet" + t, "message": "kubelet reports %s condition for the node" % t}
             for t in ("MemoryPressure", "DiskPressure", "PIDPressure", "Ready")]
    images = [{"names": ["registry.example.com/team-%d/service-%d@sha256:%064x" % (k, k, i * 31 + k),
                         "registry.example.com/team-%d/service-%d:v1.%d.%d" % (k, k, k, i % 10)],
               "sizeBytes": 100000000 + k * 1234567} for k in range(18)]
    return {"metadata": {"name": name, "uid": "%08x-1111-2222-3333-%012x" % (i, i), "resourceVersion": str(1000 + i),
                         "creationTimestamp": "2024-01-01T00:00:00Z", "labels": labels,
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                         "volumes.kubernetes.io/controller-managed-attach-detach": "true"}},
            "spec": {"podCIDR": "10.%d.%d.0/24" % (i // 256, i % 256), "providerID": "aws:///eu-west-1a/i-%017x" % i},
            "status": {"capacity": {"cpu": "16", "memory": "65538124Ki", "pods": "110", "ephemeral-storage": "104845292Ki"},
                       "allocatable": {"cpu": "15890m", "memory": "64387148Ki", "pods": "110",
                                       "ephemeral-storage": "95551679124"},
                       "conditions": conds,
                       "addresses": [{"type": "InternalIP", "address": "10.0.%d.%d" % (i // 256, i % 256)},
                                     {"type": "Hostname", "address": name}],
                       "nodeInfo": {"machineID": "%032x" % i, "systemUUID": "ec2%029x" % i, "bootID": "%032x" % (i * 7),
                                    "kernelVersion": "6.1.0-18-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "containerRuntimeVersion": "containerd://1.7.13", "kubeletVersion": "v1.29.2",
                                    "kubeProxyVersion": "v1.29.2", "operatingSystem": "linux", "architecture": "amd64"},
                       "images": images}}


def main():
    d, kind, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if kind == "array":
        n = size * 1024 * 1024 // 2
        with open("%s/array-%d.json" % (d, size), "w") as f:
            f.write("[" + ",".join(["0"] * n) + "]")
    elif kind == "names":
        # Short unknown names: every one fails with a reason, the worst case for the answer.
        n = size * 1024 * 1024 // 7
        names = ",".join('"n%d"' % (k % 1000) for k in range(n))
        with open("%s/names-%d.json" % (d, size), "w") as f:
            f.write('{"Pod":%s,"Nodes":null,"NodeNames":[%s]}' % (json.dumps(POD), names))
    else:
        with open("%s/nodes-%d.json" % (d, size), "w") as f:
            f.write('{"Pod":%s,"Nodes":{"kind":"NodeList","apiVersion":"v1","items":[' % json.dumps(POD))
            f.write(",".join(json.dumps(node(i), separators=(",", ":")) for i in range(size)))
            f.write("]},\"NodeNames\":null}")


main()
