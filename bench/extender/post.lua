-- SPDX-License-Identifier: Apache-2.0
-- wrk script: POST the body in $BENCH_BODY to the URL's path, as kube-scheduler does.
local f = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"

-- done(): the RESULT line, shared with the other bench scripts.
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "result.lua")
