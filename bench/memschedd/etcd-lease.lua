-- SPDX-License-Identifier: Apache-2.0
-- wrk script: POST /v1/leases, a new lease id each request (bench-<run>-<i>), 1 GiB for node c1:
-- each one is a durable write (a compare-and-swap in etcd, or a SQLite commit).
local run = os.time()
local i = 0

request = function()
        i = i + 1
        local body = string.format('{"id":"bench-%d-%d","node":"c1","bytes":1073741824,' ..
                '"ttl_seconds":600,"durable":false}', run, i)
        return wrk.format("POST", "/v1/leases", { ["Content-Type"] = "application/json" }, body)
end

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "../extender/result.lua")
