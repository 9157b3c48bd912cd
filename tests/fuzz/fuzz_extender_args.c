// SPDX-License-Identifier: Apache-2.0
// ExtenderArgs through the generic decoder (api_parse() + extender_args_decode(), with the v1.Pod
// inside via k8s_pod_decode()): what every filter and prioritize body that the NodeNames fast
// path leaves goes through. The decoded pod and names are encoded back as kube-scheduler would.
#include <json-c/json.h>

#include "api/extender.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_json_ struct json_object *o = fuzz_parse_json(data, size);
        struct extender_args args = {};
        struct api_error err = {};

        if (!o || extender_args_decode(o, &args, &err) < 0)
                return 0;
        json_object_put(k8s_pod_encode(&args.pod));
        json_object_put(extender_args_encode(&args.pod, args.node_names, args.n_nodes,
                                             args.node_cache_capable));
        extender_args_done(&args);
        return 0;
}
