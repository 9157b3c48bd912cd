-- SPDX-License-Identifier: Apache-2.0
-- wrk script: POST the body in $BENCH_BODY to the URL's path, as kube-scheduler does.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
        io.write(string.format("RESULT requests=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
                summary.requests,
                summary.errors.status + summary.errors.connect + summary.errors.read +
                        summary.errors.write + summary.errors.timeout,
                summary.requests / (summary.duration / 1e6),
                latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
