-- SPDX-License-Identifier: Apache-2.0
-- wrk script: node reports for node-00000 .. node-(N-1) in turn, each with a seq above the last
-- (memschedd refuses a replayed one), N from $BENCH_NODES. One wrk thread, so seqs only grow.
local n = tonumber(os.getenv("BENCH_NODES") or "1000")
local seq = os.time() * 1000000
local i = 0
local tmpl = '{"node_name":"%s","seq":%d,"node":{"memory_total_bytes":34359738368,' ..
        '"memory_available_bytes":%d,"pressure":{"level":"none","duration_ms":0,' ..
        '"relief_exhausted":false}},"pods":[{"uid":"%s-p0","qos":"burstable",' ..
        '"memory":{"working_set_bytes":536870912}}]}'

request = function()
        local name = string.format("node-%05d", i % n)
        i = i + 1
        seq = seq + 1
        local body = string.format(tmpl, name, seq, (4 + i % 12) * 1073741824, name)
        return wrk.format("POST", "/v1/nodes/" .. name .. "/report",
                { ["Content-Type"] = "application/json" }, body)
end

-- done(): the RESULT line, shared with the other bench scripts.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "../extender/result.lua")
