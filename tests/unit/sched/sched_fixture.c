// SPDX-License-Identifier: Apache-2.0
#include "sched_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

void fx_put(struct snapshot_builder *b, const struct fx_node *n)
{
        struct node_report r = {
                .memory_total_bytes = n->total_bytes,
                .memory_available_bytes = n->available_bytes,
                .pressure = n->pressure,
                .pressure_duration_ms = n->pressure_duration_ms,
                .relief_exhausted = n->relief_exhausted,
        };
        r.zones = calloc(n->n_zones ? n->n_zones : 1, sizeof(*r.zones));
        r.pods = calloc(n->n_pods ? n->n_pods : 1, sizeof(*r.pods));
        assert_non_null(r.zones);
        assert_non_null(r.pods);
        for (size_t z = 0; z < n->n_zones; z++)
                r.zones[z] = (struct report_zone){ .id = (uint32_t)z,
                                                   .total_bytes = n->total_bytes / n->n_zones,
                                                   .free_bytes = n->zone_free_bytes[z] };
        r.n_zones = n->n_zones;
        for (size_t p = 0; p < n->n_pods; p++) {
                const struct fx_pod *fp = &n->pods[p];
                r.pods[p] = (struct report_pod){
                        .uid = strdup(fp->uid),
                        .namespace = strdup("default"),
                        .owner_uid = fp->owner_uid ? strdup(fp->owner_uid) : NULL,
                        .qos = fp->qos,
                        .working_set_bytes = fp->working_set_bytes,
                        .request_bytes = fp->request_bytes,
                        .limit_bytes = API_UNLIMITED,
                        .priority = fp->priority,
                        .protected_ = fp->protected_,
                        .numa_zone = -1,
                        .has_refault_rate = fp->refault_file_per_sec > 0,
                        .refault_file_per_sec = fp->refault_file_per_sec,
                };
        }
        r.n_pods = n->n_pods;
        struct sched_node *sn;
        assert_int_equal(sched_node_new(n->name, &r, FX_NOW - n->age_usec, &sn), 0);
        assert_int_equal(snapshot_builder_put_node(b, sn), 0);
}

struct sched_snapshot *fx_snapshot(const struct fx_node *nodes, size_t n,
                                   const struct migration *plans, size_t n_plans)
{
        struct snapshot_builder b;
        struct sched_snapshot *s;
        assert_int_equal(snapshot_builder_init(&b, NULL), 0);
        for (size_t i = 0; i < n; i++)
                fx_put(&b, &nodes[i]);
        if (plans)
                assert_int_equal(snapshot_builder_set_plans(&b, plans, n_plans), 0);
        assert_int_equal(snapshot_builder_finish(&b, &s), 0);
        snapshot_builder_done(&b);
        return s;
}
