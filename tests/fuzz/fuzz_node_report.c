// SPDX-License-Identifier: Apache-2.0
// The body of POST /v1/nodes/{name}/report: node_report_decode(), and what memschedd does with a
// decoded report before ingesting it (copy) and what the agent does to send one (encode).
#include <json-c/json.h>

#include "api/node_report.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_json_ struct json_object *o = fuzz_parse_json(data, size);
        struct node_report rep, copy;
        struct api_error err = {};

        if (!o || node_report_decode(o, &rep, &err) < 0)
                return 0;
        if (node_report_copy(&rep, &copy) == 0)
                node_report_done(&copy);
        json_object_put(node_report_encode(&rep));
        node_report_done(&rep);
        return 0;
}
