# SPDX-License-Identifier: Apache-2.0
"""The client loop of sched_failover_etcd.sh: kube-scheduler and lease consumers against every
memschedd replica at once, round robin, while the test kills things.

  loop STATE_DIR PREFIX URL...   until STATE_DIR/stop exists (at most 90 s): for each i, on
                                 replica i mod n, /extender/filter then /extender/bind of pod
                                 PREFIX-i (one of the unbound pods the test API server knows),
                                 and POST /v1/leases with id PREFIX-i; every 3 s the donors
                                 renew their offers. Writes STATE_DIR/PREFIX.json: the binds and
                                 leases acknowledged (2xx), and every answer that was not 2xx.
  pods VICTIMS CLIENTS            prints the test API server's PodList: victim vI running on hotI
                                 (controller rs-vI), and CLIENTS unbound pods cl-N and cm-N.
  check STATE_DIR URL...         every lease acknowledged by any loop so far is there (GET on
                                 each URL answers 200 with the same node and bytes).
Loopback only; every request has a timeout; the loop stops by itself.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

GiB = 1 << 30
TIMEOUT_S = 5


def call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except Exception as e:  # refused, reset, timed out: the replica is dead or stalled
        return 0, type(e).__name__ + ": " + str(e)


def pod(name):
    return {"metadata": {"name": name, "namespace": "shop", "uid": "uid-" + name,
                         "resourceVersion": "1",
                         "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                              "name": "rs-client", "uid": "rs-client",
                                              "controller": True}]},
            "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                     "resources": {"requests": {"memory": "64Mi"}}}],
                     "priority": 0, "schedulerName": "default-scheduler"},
            "status": {"phase": "Pending", "qosClass": "Burstable"}}


def api_pods(victims, clients):
    def one(name, node, owner):
        spec = {"terminationGracePeriodSeconds": 30,
                "containers": [{"name": "app", "image": "registry.k8s.io/pause:3.10",
                                "resources": {"requests": {"memory": "64Mi"}}}]}
        if node:
            spec["nodeName"] = node
        return {"metadata": {"name": name, "namespace": "shop", "uid": "uid-" + name,
                             "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                                                  "name": owner, "uid": owner,
                                                  "controller": True}]},
                "spec": spec,
                "status": {"phase": "Running" if node else "Pending", "qosClass": "Burstable"}}
    items = [one(f"v{v}", f"hot{v}", f"rs-v{v}") for v in range(victims)]
    items += [one(f"{p}-{i}", "", "rs-client") for i in range(clients) for p in ("cl", "cm")]
    json.dump({"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items},
              sys.stdout)


def offer(port):
    return {"bytes": 4096 * GiB, "slab_bytes": GiB,
            "transports": [{"kind": "tcp", "address": "127.0.0.1", "port": port}]}


def loop(state, prefix, urls):
    acked_binds, acked_leases, failures = {}, {}, []
    counts = {u: {"ok": 0, "not_2xx": 0} for u in urls}
    deadline = time.monotonic() + 90
    next_offer = 0.0
    i = 0
    while not os.path.exists(os.path.join(state, "stop")) and time.monotonic() < deadline:
        url = urls[i % len(urls)]
        t = time.time()

        def note(op, code, text):
            ok = 200 <= code < 300
            counts[url]["ok" if ok else "not_2xx"] += 1
            if not ok:
                failures.append({"at": t, "replica": url, "op": op, "code": code,
                                 "answer": text[:200]})
            return ok

        if time.monotonic() >= next_offer:
            for d, port in (("d1", 7001), ("d2", 7002)):
                code, text = call("PUT", f"{url}/v1/pools/{d}", offer(port))
                note("offer " + d, code, text)
            next_offer = time.monotonic() + 3
        name = f"{prefix}-{i}"
        code, text = call("POST", f"{url}/extender/filter",
                          {"Pod": pod(name), "Nodes": None, "NodeNames": ["big0", "big1"]})
        if note("filter", code, text):
            names = json.loads(text).get("NodeNames") or []
            if names:
                code, text = call("POST", f"{url}/extender/bind",
                                  {"PodName": name, "PodNamespace": "shop",
                                   "PodUID": "uid-" + name, "Node": names[0]})
                if note("bind", code, text):
                    err = json.loads(text).get("Error", "")
                    if err:
                        failures.append({"at": t, "replica": url, "op": "bind", "code": code,
                                         "answer": err[:200]})
                    else:
                        acked_binds[name] = names[0]
        code, text = call("POST", f"{url}/v1/leases",
                          {"id": name, "node": "c1", "bytes": GiB, "ttl_seconds": 600,
                           "durable": False})
        if note("lease", code, text):
            acked_leases[name] = {"node": "c1", "bytes": GiB}
        i += 1
    out = {"iterations": i, "binds": acked_binds, "leases": acked_leases,
           "counts": counts, "failures": failures}
    with open(os.path.join(state, prefix + ".json"), "w") as f:
        json.dump(out, f)


def check(state, urls):
    leases = {}
    for fn in sorted(os.listdir(state)):
        if fn.endswith(".json"):
            leases.update(json.load(open(os.path.join(state, fn)))["leases"])
    missing = []
    for url in urls:
        for lid, want in leases.items():
            code, text = call("GET", f"{url}/v1/leases/{lid}")
            got = json.loads(text) if code == 200 else {}
            if code != 200 or got.get("node") != want["node"] or got.get("bytes") != want["bytes"]:
                missing.append(f"{url} {lid}: {code} {text[:120]}")
    for m in missing[:20]:
        print("MISSING", m, file=sys.stderr)
    print(f"{len(leases)} acknowledged leases checked on {len(urls)} replicas: "
          f"{len(missing)} missing")
    return 1 if missing or not leases else 0


if __name__ == "__main__":
    if sys.argv[1] == "loop":
        loop(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif sys.argv[1] == "pods":
        api_pods(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(check(sys.argv[2], sys.argv[3:]))
