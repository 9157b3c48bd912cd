// SPDX-License-Identifier: Apache-2.0
// Differential: the NodeNames fast path (extender_args_parse_names()) against the generic
// decoder (api_parse() + extender_args_decode()), which memschedd's filter and prioritize run
// in that order. The fast path must never change an answer, so:
//   - when it accepts (1), the generic decoder accepts the same body too, in names mode, with
//     the same node names in the same order and the same pod (every field k8s_pod_decode()
//     fills);
//   - when it declines (0), the body is untouched: the generic decoder then answers alone,
//     errors included.
// It may decline bodies that the generic decoder accepts; its rule (api/extender_args.c) is
// that it takes only the plain names-mode shape: a top-level object with the keys Pod, Nodes
// and NodeNames only, each at most once (any case), Nodes null when present, NodeNames an array
// of non-empty strings of printable ASCII without escapes and shorter than API_NODE_NAME_MAX,
// Pod an object that json-c parses alone and k8s_pod_decode() accepts. Anything else is the
// generic decoder's. Any disagreement aborts, so libFuzzer keeps the input.
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "api/extender.h"
#include "tests/fuzz/fuzz.h"

static bool str_eq(const char *a, const char *b)
{
        return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void pods_agree(const struct k8s_pod *f, const struct k8s_pod *g)
{
        if (!str_eq(f->name, g->name) || !str_eq(f->namespace, g->namespace) ||
            !str_eq(f->uid, g->uid) || !str_eq(f->owner_uid, g->owner_uid))
                fuzz_fail("pod identity differs: fast %s/%s uid %s owner %s, generic %s/%s uid %s "
                          "owner %s",
                          f->namespace, f->name, f->uid, f->owner_uid, g->namespace, g->name,
                          g->uid, g->owner_uid);
        if (f->qos != g->qos || f->request_bytes != g->request_bytes ||
            f->limit_bytes != g->limit_bytes || f->priority != g->priority ||
            f->single_numa != g->single_numa || f->protected_ != g->protected_)
                fuzz_fail("pod resources differ: fast qos %d req %llu lim %llu prio %d numa %d "
                          "prot %d, generic qos %d req %llu lim %llu prio %d numa %d prot %d",
                          (int)f->qos, (unsigned long long)f->request_bytes,
                          (unsigned long long)f->limit_bytes, (int)f->priority, f->single_numa,
                          f->protected_, (int)g->qos, (unsigned long long)g->request_bytes,
                          (unsigned long long)g->limit_bytes, (int)g->priority, g->single_numa,
                          g->protected_);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        _cleanup_(extender_args_done) struct extender_args fast = {}, generic = {};
        _cleanup_free_ char *body = fuzz_strndup(data, size);
        struct api_error err = {};
        int r;

        /* memschedd passes a NULL body when a POST has none: declined, for the generic path. */
        if (size == 0 && (r = extender_args_parse_names(NULL, 0, &fast)) != 0)
                fuzz_fail("extender_args_parse_names(NULL, 0) returned %d", r);

        r = extender_args_parse_names(body, size, &fast);
        if (r == -ENOMEM)
                return 0;
        if (r < 0 || r > 1)
                fuzz_fail("extender_args_parse_names() returned %d", r);
        if (r == 0) {
                if (memcmp(body, data, size) != 0)
                        fuzz_fail("the fast path declined but modified the body");
                return 0;
        }

        _cleanup_json_ struct json_object *o = fuzz_parse_json(data, size);
        if (!o)
                fuzz_fail("the fast path accepted a body that api_parse() refuses");
        r = extender_args_decode(o, &generic, &err);
        if (r < 0)
                fuzz_fail("the fast path accepted a body the generic decoder refuses: %s: %s",
                          err.field, err.message);
        if (!fast.node_cache_capable || !generic.node_cache_capable || fast.nodes)
                fuzz_fail("names mode: fast %d, generic %d", fast.node_cache_capable,
                          generic.node_cache_capable);
        if (fast.n_nodes != generic.n_nodes)
                fuzz_fail("fast path read %zu names, the generic decoder %zu", fast.n_nodes,
                          generic.n_nodes);
        for (size_t i = 0; i < fast.n_nodes; i++)
                if (strcmp(fast.node_names[i], generic.node_names[i]) != 0)
                        fuzz_fail("NodeNames[%zu]: fast \"%s\", generic \"%s\"", i,
                                  fast.node_names[i], generic.node_names[i]);
        pods_agree(&fast.pod, &generic.pod);
        return 0;
}
