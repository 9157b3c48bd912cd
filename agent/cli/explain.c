// SPDX-License-Identifier: Apache-2.0
// `memagent explain [--last N]`: memagentd's recent decisions and why.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/client.h"
#include "common/macro.h"
#include "common/quantity.h"

int cmd_explain(const struct cli_opts *o)
{
        struct json_object *j = NULL, *ds;
        char req[32];
        snprintf(req, sizeof(req), "explain %u", o->last);
        int rc = daemon_ask(o->api_socket, req, NULL, &j);
        if (rc)
                return rc;
        if (o->json)
                return client_print_json(j);
        if (!json_object_object_get_ex(j, "decisions", &ds) || json_object_array_length(ds) == 0) {
                printf("No decisions yet: memagentd has not needed to act.\n");
                json_object_put(j);
                return EXIT_SUCCESS;
        }
        for (size_t i = 0; i < json_object_array_length(ds); i++) {
                struct json_object *d = json_object_array_get_idx(ds, i), *v, *x;
#define S(obj, k) (json_object_object_get_ex((obj), (k), &x) ? json_object_get_string(x) : "")
#define U(obj, k)                                                                                  \
        (json_object_object_get_ex((obj), (k), &x) ? (unsigned long long)json_object_get_uint64(x) \
                                                   : 0ull)
                printf("#%llu %s  %s pressure %s (%s)\n", U(d, "id"), S(d, "time"), S(d, "scope"),
                       S(d, "level"), S(d, "signals"));
                if (json_object_object_get_ex(d, "thrash", &x) && x)
                        printf("   %s\n", json_object_get_string(x));
                if (json_object_object_get_ex(d, "victim", &v) && v) {
                        printf("   %s %s%s: %s\n", S(d, "action"), S(v, "name"),
                               json_object_object_get_ex(d, "dry_run", &x) &&
                                       json_object_get_boolean(x)
                                   ? " (dry run)"
                                   : "",
                               S(v, "reason"));
                        /* the uid too when the API named the pod: kubectl needs the name, the
                         * uid tells a replacement apart */
                        if (json_object_object_get_ex(v, "namespace", &x) && x)
                                printf("   pod %s/%s (uid %s)\n", S(v, "namespace"),
                                       S(v, "pod_name"), S(v, "uid"));
                        printf("   cgroup %s\n", S(v, "cgroup"));
                }
                printf("   outcome: %s", S(d, "outcome"));
                if (U(d, "freed_bytes")) {
                        char b[FORMAT_BYTES_MAX];
                        printf(", freed %s", format_bytes_iec(U(d, "freed_bytes"), b, sizeof(b)));
                }
                if (json_object_object_get_ex(d, "api", &x) && x)
                        printf("   Kubernetes API: %s\n", json_object_get_string(x));
                const char *act = S(d, "action");
                if (streq(act, "lease") || streq(act, "renew") || streq(act, "revoke") ||
                    streq(act, "drain") || streq(act, "release")) {
                        char b[FORMAT_BYTES_MAX];
                        printf("\n   remote swap %s%s%s\n", act, U(d, "amount_bytes") ? " of " : "",
                               U(d, "amount_bytes")
                                   ? format_bytes_iec(U(d, "amount_bytes"), b, sizeof(b))
                                   : "");
                } else if (streq(act, "kill") || streq(act, "terminate") || streq(act, "none") ||
                           streq(act, "evict"))
                        printf("; %llu candidates, %llu protected; decided %.1f ms after the first "
                               "signal (%s)\n",
                               U(d, "candidates"), U(d, "excluded"),
                               (double)U(d, "trigger_to_decision_usec") / 1000.0, S(d, "trigger"));
                else
                        printf("\n"); /* balloon and loans: the outcome says it all */
                struct json_object *ru;
                if (json_object_object_get_ex(d, "runners_up", &ru))
                        for (size_t k = 0; k < json_object_array_length(ru); k++) {
                                struct json_object *c = json_object_array_get_idx(ru, k);
                                printf("   runner-up %zu: %s: %s\n", k + 1, S(c, "name"),
                                       S(c, "reason"));
                        }
#undef S
#undef U
        }
        json_object_put(j);
        return EXIT_SUCCESS;
}
