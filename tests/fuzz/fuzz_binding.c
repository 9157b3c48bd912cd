// SPDX-License-Identifier: Apache-2.0
// ExtenderBindingArgs (the body of POST /extender/bind) and ExtenderBindingResult (its answer,
// which tests and tools decode).
#include <json-c/json.h>

#include "api/extender.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_json_ struct json_object *o = fuzz_parse_json(data, size);
        struct extender_binding_args a = {};
        struct api_error err = {};
        const char *error = NULL;

        if (!o)
                return 0;
        if (extender_binding_args_decode(o, &a, &err) == 0) {
                json_object_put(extender_binding_args_encode(&a));
                extender_binding_args_done(&a);
        }
        if (extender_binding_result_decode(o, &error, &err) == 0)
                json_object_put(extender_binding_result_encode(error));
        return 0;
}
