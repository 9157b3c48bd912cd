#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# Slow-client check for memschedd and memagentd, loopback only and bounded in count and time:
# opens COUNT connections from SRC_ADDR (another 127/8 address, so that the per-client limit
# applies to them and not to the probe) that send a request's headers one byte a second, and
# meanwhile GETs /healthz from 127.0.0.1 every 0.2 s. The slow request is memschedd's POST
# /extender/filter, or GET PATH when PATH is given. Prints one line of figures:
#   opened=N refused=N closed_by_server=N healthz_ok=N healthz_failed=N healthz_max_ms=F
#   slow_clients.py PORT COUNT SECONDS [SRC_ADDR [PATH]]
import socket
import sys
import time

port, count, seconds = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
src = sys.argv[4] if len(sys.argv) > 4 else "127.0.0.2"
path = sys.argv[5] if len(sys.argv) > 5 else None
if path:
    request = b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n"
else:
    request = b"POST /extender/filter HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
request += b"X-Pad: " + b"a" * 200 + b"\r\n\r\n"

socks, refused = [], 0
for _ in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    try:
        s.bind((src, 0))
        s.connect(("127.0.0.1", port))
        s.setblocking(False)
        socks.append([s, 0, False])
    except OSError:
        refused += 1
        s.close()

ok = failed = 0
max_ms = 0.0
end = time.monotonic() + seconds
next_byte = time.monotonic()
while time.monotonic() < end:
    now = time.monotonic()
    if now >= next_byte:
        next_byte = now + 1.0
        for c in socks:
            if c[2]:
                continue
            try:
                # A server that dropped us: reads EOF (or a reset) instead of blocking.
                try:
                    if c[0].recv(4096) == b"":
                        c[2] = True
                        continue
                except BlockingIOError:
                    pass
                if c[1] < len(request):
                    c[0].send(request[c[1]:c[1] + 1])
                    c[1] += 1
            except OSError:
                c[2] = True
    t0 = time.monotonic()
    try:
        h = socket.create_connection(("127.0.0.1", port), timeout=2)
        h.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = h.recv(4096)
            if not chunk:
                break
            data += chunk
        h.close()
        if data.startswith(b"HTTP/1.1 200"):
            ok += 1
        else:
            failed += 1
    except OSError:
        failed += 1
    max_ms = max(max_ms, (time.monotonic() - t0) * 1000)
    time.sleep(0.2)

# A connection the server closed reads EOF (or a reset) now.
for c in socks:
    if c[2]:
        continue
    try:
        if c[0].recv(4096) == b"":
            c[2] = True
    except BlockingIOError:
        pass
    except OSError:
        c[2] = True
closed = sum(1 for c in socks if c[2])
for c in socks:
    c[0].close()
print("opened=%d refused=%d closed_by_server=%d healthz_ok=%d healthz_failed=%d healthz_max_ms=%.1f"
      % (len(socks), refused, closed, ok, failed, max_ms))
