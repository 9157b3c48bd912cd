// SPDX-License-Identifier: Apache-2.0
// The decoders of memschedd's answers, which the CLI, the agent and the tests run on what a
// server sends: node status (one and the list), ExtenderFilterResult, HostPriorityList and the
// error reply.
#include <json-c/json.h>
#include <stdlib.h>

#include "api/error_reply.h"
#include "api/extender.h"
#include "api/node_status.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_json_ struct json_object *o = fuzz_parse_json(data, size);
        struct node_status st;
        struct node_status_list sl;
        struct extender_filter_result fr = {};
        struct host_priority *hp = NULL;
        struct error_reply er;
        struct api_error err = {};
        size_t n = 0;

        if (!o)
                return 0;
        if (node_status_decode(o, "", &st, &err) == 0) {
                json_object_put(node_status_encode(&st));
                node_status_done(&st);
        }
        if (node_status_list_decode(o, &sl, &err) == 0) {
                json_object_put(node_status_list_encode(&sl));
                node_status_list_done(&sl);
        }
        if (extender_filter_result_decode(o, &fr, &err) == 0) {
                json_object_put(extender_filter_result_encode(&fr));
                extender_filter_result_done(&fr);
        }
        if (host_priority_list_decode(o, &hp, &n, &err) == 0) {
                json_object_put(host_priority_list_encode(hp, n));
                free(hp);
        }
        if (error_reply_decode(o, &er, &err) == 0)
                json_object_put(error_reply_encode(&er));
        return 0;
}
