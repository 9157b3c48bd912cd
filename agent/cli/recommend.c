// SPDX-License-Identifier: Apache-2.0
// `memagent recommend`: per container, memagentd's balloon estimate of the working set, its
// confidence, and a suggested request and limit.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/client.h"
#include "common/macro.h"
#include "common/quantity.h"

static const char *bytes_or(struct json_object *o, const char *key, const char *none, char *buf,
                            size_t size)
{
        struct json_object *x;
        if (!json_object_object_get_ex(o, key, &x) || !x)
                return none;
        return format_bytes_iec(json_object_get_uint64(x), buf, size);
}

int cmd_recommend(const struct cli_opts *o)
{
        struct json_object *j = NULL, *cs;
        int rc = daemon_ask(o->api_socket, "recommend", "the estimates come from its balloon", &j);
        if (rc)
                return rc;
        if (o->json)
                return client_print_json(j);
        if (!json_object_object_get_ex(j, "containers", &cs) || json_object_array_length(cs) == 0) {
                printf("No containers tracked yet.\n");
                json_object_put(j);
                return EXIT_SUCCESS;
        }
        printf("%-44s %-10s %9s %9s %-11s %9s %9s %9s %9s %9s %9s  %s\n", "CONTAINER", "QOS",
               "CURRENT", "ESTIMATE", "CONFIDENCE", "REQUEST", "SUGGEST", "LIMIT", "SUGGEST",
               "RECLAIMED", "LOAN", "BALLOON");
        for (size_t i = 0; i < json_object_array_length(cs); i++) {
                struct json_object *c = json_object_array_get_idx(cs, i), *x;
                char b[8][FORMAT_BYTES_MAX];
                const char *conf = "none";
                char confbuf[32];
                if (json_object_object_get_ex(c, "confidence", &x))
                        conf = json_object_get_string(x);
                if (json_object_object_get_ex(c, "stable_usec", &x) && !streq(conf, "none")) {
                        snprintf(confbuf, sizeof(confbuf), "%s %llus", conf,
                                 (unsigned long long)(json_object_get_uint64(x) / 1000000u));
                        conf = confbuf;
                }
                json_object_object_get_ex(c, "name", &x);
                const char *name = json_object_get_string(x);
                json_object_object_get_ex(c, "qos", &x);
                const char *qos = json_object_get_string(x);
                json_object_object_get_ex(c, "balloon", &x);
                const char *bal = json_object_get_string(x);
                printf("%-44.44s %-10s %9s %9s %-11s %9s %9s %9s %9s %9s %9s  %s\n", name, qos,
                       bytes_or(c, "current_bytes", "-", b[0], FORMAT_BYTES_MAX),
                       bytes_or(c, "estimate_bytes", "-", b[1], FORMAT_BYTES_MAX), conf,
                       bytes_or(c, "request_bytes", "none", b[2], FORMAT_BYTES_MAX),
                       bytes_or(c, "suggested_request_bytes", "-", b[3], FORMAT_BYTES_MAX),
                       bytes_or(c, "limit_bytes", "none", b[4], FORMAT_BYTES_MAX),
                       bytes_or(c, "suggested_limit_bytes", "-", b[5], FORMAT_BYTES_MAX),
                       bytes_or(c, "reclaimed_bytes", "0", b[6], FORMAT_BYTES_MAX),
                       bytes_or(c, "loan_bytes", "0", b[7], FORMAT_BYTES_MAX), bal);
        }
        json_object_put(j);
        return EXIT_SUCCESS;
}
