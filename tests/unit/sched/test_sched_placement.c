// SPDX-License-Identifier: Apache-2.0
// Placement on constructed clusters: NUMA fit and misfit, pressure, stale and unknown nodes,
// fragmentation in the score, reservations and assumed pods.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "sched_fixture.h"
#include "scheduler/placement.h"

static struct sched_config cfg;

static int setup(void **state)
{
        (void)state;
        cfg = SCHED_CONFIG_DEFAULTS;
        return 0;
}

static void eval(const struct sched_snapshot *s, const char *name, const struct pod_shape *p,
                 struct node_verdict *v)
{
        placement_evaluate(s, snapshot_find(s, name), name, p, FX_NOW, &cfg, true, v);
}

static void test_numa_fit_and_misfit(void **state)
{
        (void)state;
        /* 16 GiB, 2 zones with 3 and 5 GiB free: 8 GiB available in total. */
        struct fx_node nodes[] = { { .name = "w1",
                                     .total_bytes = 16 * GiB,
                                     .available_bytes = 8 * GiB,
                                     .n_zones = 2,
                                     .zone_free_bytes = { 3 * GiB, 5 * GiB } } };
        _cleanup_snapshot_ struct sched_snapshot *s = fx_snapshot(nodes, 1, NULL, 0);
        struct node_verdict v;

        struct pod_shape burst = { .request_bytes = 6 * GiB, .qos = QOS_BURSTABLE };
        eval(s, "w1", &burst, &v);
        assert_int_equal(v.kind, VERDICT_FITS);
        assert_int_equal(v.numa_zone, -1);

        struct pod_shape guar = { .request_bytes = 6 * GiB,
                                  .single_numa = true,
                                  .qos = QOS_GUARANTEED };
        eval(s, "w1", &guar, &v);
        assert_int_equal(v.kind, VERDICT_FAILED);
        assert_non_null(strstr(v.reason, "NUMA"));

        /* 4 GiB fits only zone 1; 2 GiB fits both and best fit picks the tighter zone 0. */
        guar.request_bytes = 4 * GiB;
        eval(s, "w1", &guar, &v);
        assert_int_equal(v.kind, VERDICT_FITS);
        assert_int_equal(v.numa_zone, 1);
        guar.request_bytes = 2 * GiB;
        eval(s, "w1", &guar, &v);
        assert_int_equal(v.numa_zone, 0);

        /* More than is available at all. */
        burst.request_bytes = 9 * GiB;
        eval(s, "w1", &burst, &v);
        assert_int_equal(v.kind, VERDICT_FAILED);
        assert_non_null(strstr(v.reason, "insufficient memory"));
}

/* A node whose pods read their page cache back (5000 pages/s) is pressured in the model although
 * its agent reports none: it scores like a node at low, below a calm twin. */
static void test_thrashing_node_scored_down(void **state)
{
        (void)state;
        static const struct fx_pod db = { .uid = "db",
                                          .qos = QOS_BURSTABLE,
                                          .working_set_bytes = GiB,
                                          .request_bytes = GiB,
                                          .refault_file_per_sec = 5000 };
        static const struct fx_pod quiet = {
                .uid = "q", .qos = QOS_BURSTABLE, .working_set_bytes = GiB, .request_bytes = GiB
        };
        struct fx_node nodes[] = {
                { .name = "calm",
                  .total_bytes = 8 * GiB,
                  .available_bytes = 4 * GiB,
                  .pods = &quiet,
                  .n_pods = 1 },
                { .name = "thrash",
                  .total_bytes = 8 * GiB,
                  .available_bytes = 4 * GiB,
                  .pods = &db,
                  .n_pods = 1 },
        };
        _cleanup_snapshot_ struct sched_snapshot *s = fx_snapshot(nodes, 2, NULL, 0);
        struct pod_shape p = { .request_bytes = GiB };
        struct node_verdict calm, thrash;
        eval(s, "calm", &p, &calm);
        eval(s, "thrash", &p, &thrash);
        assert_int_equal(thrash.kind, VERDICT_FITS);
        assert_int_equal(thrash.pressure, LEVEL_LOW);
        assert_true(calm.score > thrash.score);
}

static void test_pressure_stale_unknown(void **state)
{
        (void)state;
        struct fx_node nodes[] = {
                { .name = "calm", .total_bytes = 8 * GiB, .available_bytes = 4 * GiB },
                { .name = "low",
                  .total_bytes = 8 * GiB,
                  .available_bytes = 4 * GiB,
                  .pressure = LEVEL_LOW },
                { .name = "medium",
                  .total_bytes = 8 * GiB,
                  .available_bytes = 4 * GiB,
                  .pressure = LEVEL_MEDIUM },
                { .name = "critical",
                  .total_bytes = 8 * GiB,
                  .available_bytes = 4 * GiB,
                  .pressure = LEVEL_CRITICAL },
                { .name = "old",
                  .total_bytes = 8 * GiB,
                  .available_bytes = 4 * GiB,
                  .age_usec = 31 * 1000000ULL },
                { .name = "recent",
                  .total_bytes = 8 * GiB,
                  .available_bytes = 4 * GiB,
                  .age_usec = 29 * 1000000ULL },
        };
        _cleanup_snapshot_ struct sched_snapshot *s = fx_snapshot(nodes, 6, NULL, 0);
        struct pod_shape p = { .request_bytes = GiB };
        struct node_verdict calm, low, v;

        eval(s, "calm", &p, &calm);
        eval(s, "low", &p, &low);
        assert_int_equal(calm.kind, VERDICT_FITS);
        assert_int_equal(low.kind, VERDICT_FITS);
        assert_true(calm.score > low.score);
        eval(s, "medium", &p, &v);
        assert_int_equal(v.kind, VERDICT_FAILED);
        assert_non_null(strstr(v.reason, "medium"));
        eval(s, "critical", &p, &v);
        assert_int_equal(v.kind, VERDICT_FAILED);
        eval(s, "old", &p, &v);
        assert_int_equal(v.kind, VERDICT_UNRESOLVABLE);
        assert_non_null(strstr(v.reason, "stale"));
        eval(s, "recent", &p, &v);
        assert_int_equal(v.kind, VERDICT_FITS);
        eval(s, "ghost", &p, &v);
        assert_int_equal(v.kind, VERDICT_UNRESOLVABLE);
        cfg.admit_unknown_nodes = true;
        eval(s, "ghost", &p, &v);
        assert_int_equal(v.kind, VERDICT_FITS);
        /* A shorter stale timeout makes "recent" stale too. */
        cfg.stale_after_usec = 10 * 1000000ULL;
        eval(s, "recent", &p, &v);
        assert_int_equal(v.kind, VERDICT_UNRESOLVABLE);
}

static void test_fragmentation_scores(void **state)
{
        (void)state;
        /* Same totals and availability; "whole" keeps its free memory in one zone,
         * "split" spreads it evenly over four. */
        struct fx_node nodes[] = {
                { .name = "whole",
                  .total_bytes = 32 * GiB,
                  .available_bytes = 8 * GiB,
                  .n_zones = 4,
                  .zone_free_bytes = { 8 * GiB, 0, 0, 0 } },
                { .name = "split",
                  .total_bytes = 32 * GiB,
                  .available_bytes = 8 * GiB,
                  .n_zones = 4,
                  .zone_free_bytes = { 2 * GiB, 2 * GiB, 2 * GiB, 2 * GiB } },
        };
        _cleanup_snapshot_ struct sched_snapshot *s = fx_snapshot(nodes, 2, NULL, 0);
        struct pod_shape p = { .request_bytes = GiB };
        struct node_verdict whole, split;
        eval(s, "whole", &p, &whole);
        eval(s, "split", &p, &split);
        assert_int_equal(whole.kind, VERDICT_FITS);
        assert_int_equal(split.kind, VERDICT_FITS);
        assert_true(whole.score > split.score);

        /* A single-zone pod: best fit leaves the other zones whole. */
        struct fx_node two[] = { { .name = "n",
                                   .total_bytes = 16 * GiB,
                                   .available_bytes = 10 * GiB,
                                   .n_zones = 2,
                                   .zone_free_bytes = { 2 * GiB, 8 * GiB } } };
        _cleanup_snapshot_ struct sched_snapshot *s2 = fx_snapshot(two, 1, NULL, 0);
        struct pod_shape g = { .request_bytes = 2 * GiB, .single_numa = true };
        struct node_verdict v;
        eval(s2, "n", &g, &v);
        assert_int_equal(v.numa_zone, 0);
        assert_non_null(strstr(v.reason, "fragmentation 0%"));
}

static void test_reservations_and_assumed(void **state)
{
        (void)state;
        struct fx_node nodes[] = {
                { .name = "target", .total_bytes = 8 * GiB, .available_bytes = 4 * GiB },
                { .name = "other", .total_bytes = 8 * GiB, .available_bytes = 4 * GiB },
        };
        struct migration plan = { .id = "m1",
                                  .state = MIGRATION_PLANNED,
                                  .source_node = "src",
                                  .target_node = "target",
                                  .pod_uid = "old",
                                  .pod_namespace = "default",
                                  .owner_uid = "rs-1",
                                  .reservation_bytes = 3 * GiB,
                                  .target_numa_zone = -1,
                                  .reason = "r" };
        _cleanup_snapshot_ struct sched_snapshot *s = fx_snapshot(nodes, 2, &plan, 1);
        struct node_verdict v;

        /* Someone else's pod: 3 GiB of 4 are held. */
        struct pod_shape stranger = { .request_bytes = 2 * GiB,
                                      .namespace = "default",
                                      .owner_uid = "rs-2" };
        eval(s, "target", &stranger, &v);
        assert_int_equal(v.kind, VERDICT_FAILED);
        assert_int_equal(v.allocatable_bytes, 1 * GiB);
        /* The replacement gets the reserved room and the top score. */
        struct pod_shape repl = { .request_bytes = 3 * GiB,
                                  .namespace = "default",
                                  .owner_uid = "rs-1" };
        eval(s, "target", &repl, &v);
        assert_int_equal(v.kind, VERDICT_FITS);
        assert_int_equal(v.score, 10);
        assert_ptr_equal(v.reservation, &s->plans[0]);
        eval(s, "other", &repl, &v);
        assert_true(v.score < 10);

        /* An assumed pod counts against its node until reported. */
        struct snapshot_builder b;
        assert_int_equal(snapshot_builder_init(&b, s), 0);
        struct assumed_pod a = { .node = strdup("other"),
                                 .uid = strdup("new"),
                                 .request_bytes = 3 * GiB,
                                 .numa_zone = -1,
                                 .at_usec = FX_NOW };
        assert_int_equal(snapshot_builder_add_assumed(&b, &a), 0);
        struct sched_snapshot *s2;
        assert_int_equal(snapshot_builder_finish(&b, &s2), 0);
        snapshot_builder_done(&b);
        eval(s2, "other", &stranger, &v);
        assert_int_equal(v.kind, VERDICT_FAILED);

        /* Expired: gone. */
        assert_int_equal(snapshot_builder_init(&b, s2), 0);
        snapshot_builder_prune_assumed(&b, NULL, FX_NOW + cfg.assume_ttl_usec + 1,
                                       cfg.assume_ttl_usec);
        assert_int_equal(b.n_assumed, 0);
        snapshot_builder_done(&b);
        snapshot_unref(s2);
}

static void test_find_many(void **state)
{
        (void)state;
        enum { N = 3000 };
        struct snapshot_builder b;
        static char names[N][16];
        assert_int_equal(snapshot_builder_init(&b, NULL), 0);
        for (size_t i = 0; i < N; i++) {
                snprintf(names[i], sizeof(names[i]), "node-%05zu", (i * 7919) % N);
                struct fx_node n = { .name = names[i], .total_bytes = GiB, .available_bytes = GiB };
                fx_put(&b, &n);
        }
        struct sched_snapshot *s;
        assert_int_equal(snapshot_builder_finish(&b, &s), 0);
        snapshot_builder_done(&b);
        assert_int_equal(s->n_nodes, N);
        for (size_t i = 0; i < N; i++) {
                ssize_t k = snapshot_find(s, names[i]);
                assert_true(k >= 0);
                assert_string_equal(s->nodes[k]->name, names[i]);
        }
        for (size_t i = 1; i < N; i++)
                assert_true(strcmp(s->nodes[i - 1]->name, s->nodes[i]->name) < 0);
        assert_int_equal(snapshot_find(s, "node-x"), -1);
        snapshot_unref(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup(test_numa_fit_and_misfit, setup),
                cmocka_unit_test_setup(test_pressure_stale_unknown, setup),
                cmocka_unit_test_setup(test_thrashing_node_scored_down, setup),
                cmocka_unit_test_setup(test_fragmentation_scores, setup),
                cmocka_unit_test_setup(test_reservations_and_assumed, setup),
                cmocka_unit_test_setup(test_find_many, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
