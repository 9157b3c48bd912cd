// SPDX-License-Identifier: Apache-2.0
// POST /v1/placement: the request memschedd decodes and the response its clients decode.
#include <json-c/json.h>

#include "api/placement.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_json_ struct json_object *o = fuzz_parse_json(data, size);
        struct placement_request rq;
        struct placement_response rs;
        struct api_error err = {};

        if (!o)
                return 0;
        if (placement_request_decode(o, &rq, &err) == 0) {
                json_object_put(placement_request_encode(&rq));
                placement_request_done(&rq);
        }
        if (placement_response_decode(o, &rs, &err) == 0) {
                json_object_put(placement_response_encode(&rs));
                placement_response_done(&rs);
        }
        return 0;
}
