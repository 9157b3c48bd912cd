-- SPDX-License-Identifier: Apache-2.0
-- wrk's done() for the bench scripts: one RESULT line that the shell scripts parse.
function done(summary, latency, requests)
        io.write(string.format("RESULT requests=%d errors=%d rps=%.1f p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
                summary.requests,
                summary.errors.status + summary.errors.connect + summary.errors.read +
                        summary.errors.write + summary.errors.timeout,
                summary.requests / (summary.duration / 1e6),
                latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
