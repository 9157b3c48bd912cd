# SPDX-License-Identifier: Apache-2.0
"""N agents reporting every INTERVAL seconds for DURATION seconds, spread over the replicas as
the Service would spread them (node i to replica i mod n), each report with a higher seq.
Prints "reports=A accepted=B refused=C" at the end. Loopback only, bounded in time.
  etcd-reporters.py N INTERVAL_SEC DURATION_SEC URL...
"""
import http.client
import json
import sys
import time
import urllib.parse

n, interval, duration = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
urls = [urllib.parse.urlparse(u) for u in sys.argv[4:]]
conns = [http.client.HTTPConnection(u.hostname, u.port, timeout=5) for u in urls]
GiB = 1 << 30
sent = accepted = refused = 0
seq = int(time.time() * 1e6)
t_end = time.monotonic() + duration
rnd = 0
while time.monotonic() < t_end:
    t_round = time.monotonic()
    for i in range(n):
        name = f"node-{i:05d}"
        seq += 1
        body = json.dumps({"node_name": name, "seq": seq, "heartbeat_interval_ms": int(interval * 1000),
                           "node": {"memory_total_bytes": 32 * GiB,
                                    "memory_available_bytes": (4 + (i + rnd) % 12) * GiB,
                                    "pressure": {"level": "none", "duration_ms": 0,
                                                 "relief_exhausted": False}},
                           "pods": []})
        c = conns[i % len(conns)]
        try:
            c.request("POST", f"/v1/nodes/{name}/report", body,
                      {"Content-Type": "application/json"})
            r = c.getresponse()
            r.read()
            ok = r.status == 200
        except Exception:
            c.close()
            ok = False
        sent += 1
        accepted += ok
        refused += not ok
    rnd += 1
    left = interval - (time.monotonic() - t_round)
    if left > 0:
        time.sleep(min(left, max(0.0, t_end - time.monotonic())))
print(f"reports={sent} accepted={accepted} refused={refused}")
