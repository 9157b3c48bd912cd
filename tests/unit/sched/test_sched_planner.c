// SPDX-License-Identifier: Apache-2.0
// Migration planner choices: who qualifies, which pods move (cheapest first, never Guaranteed,
// protected or controller-less), where they go.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sched_fixture.h"
#include "scheduler/planner.h"

static const struct fx_pod pods[] = {
        { .uid = "guaranteed",
          .qos = QOS_GUARANTEED,
          .working_set_bytes = 100 * MiB,
          .owner_uid = "rs-g" },
        { .uid = "protected",
          .qos = QOS_BESTEFFORT,
          .working_set_bytes = 50 * MiB,
          .protected_ = true,
          .owner_uid = "rs-p" },
        { .uid = "bare", .qos = QOS_BESTEFFORT, .working_set_bytes = 60 * MiB },
        { .uid = "burst-small",
          .qos = QOS_BURSTABLE,
          .working_set_bytes = 200 * MiB,
          .request_bytes = 300 * MiB,
          .owner_uid = "rs-bs" },
        { .uid = "be-big",
          .qos = QOS_BESTEFFORT,
          .working_set_bytes = 2 * GiB,
          .owner_uid = "rs-bb" },
        { .uid = "be-small",
          .qos = QOS_BESTEFFORT,
          .working_set_bytes = 500 * MiB,
          .owner_uid = "rs-s" },
};

static struct fx_node hot = { .name = "hot",
                              .total_bytes = 16 * GiB,
                              .available_bytes = 512 * MiB,
                              .pressure = LEVEL_CRITICAL,
                              .pressure_duration_ms = 120000,
                              .relief_exhausted = true,
                              .pods = pods,
                              .n_pods = sizeof(pods) / sizeof(pods[0]) };

static void test_qualifies(void **state)
{
        (void)state;
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        struct fx_node n[] = { hot, hot, hot, hot };
        n[1].name = "short";
        n[1].pressure_duration_ms = 1000;
        n[2].name = "coping";
        n[2].relief_exhausted = false;
        n[3].name = "lowp";
        n[3].pressure = LEVEL_LOW;
        _cleanup_snapshot_ struct sched_snapshot *s = fx_snapshot(n, 4, NULL, 0);
        assert_true(planner_node_qualifies(s, (size_t)snapshot_find(s, "hot"), &cfg));
        assert_false(planner_node_qualifies(s, (size_t)snapshot_find(s, "short"), &cfg));
        assert_false(planner_node_qualifies(s, (size_t)snapshot_find(s, "coping"), &cfg));
        assert_false(planner_node_qualifies(s, (size_t)snapshot_find(s, "lowp"), &cfg));

        /* A pending plan from the node holds off another. */
        struct migration m = { .id = "m",
                               .state = MIGRATION_PLANNED,
                               .source_node = "hot",
                               .target_node = "x",
                               .pod_uid = "u",
                               .reason = "",
                               .target_numa_zone = -1 };
        _cleanup_snapshot_ struct sched_snapshot *s2 = fx_snapshot(n, 1, &m, 1);
        assert_false(planner_node_qualifies(s2, 0, &cfg));
        m.state = MIGRATION_EXPIRED;
        _cleanup_snapshot_ struct sched_snapshot *s3 = fx_snapshot(n, 1, &m, 1);
        assert_true(planner_node_qualifies(s3, 0, &cfg));
}

static void test_choices(void **state)
{
        (void)state;
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        struct fx_node n[] = {
                hot,
                { .name = "roomy", .total_bytes = 16 * GiB, .available_bytes = 12 * GiB },
                { .name = "tight", .total_bytes = 16 * GiB, .available_bytes = 100 * MiB },
                { .name = "stale",
                  .total_bytes = 64 * GiB,
                  .available_bytes = 60 * GiB,
                  .age_usec = 3600ULL * 1000000 },
        };
        _cleanup_snapshot_ struct sched_snapshot *s = fx_snapshot(n, 4, NULL, 0);
        struct migration *plans = NULL;
        size_t np = 0;
        ssize_t src = snapshot_find(s, "hot");

        /* Needs 1.6 GiB - 0.5 GiB ≈ 1.1 GiB: be-small (500M) then be-big (2G); BestEffort first,
         * smallest first; never guaranteed, protected or bare. */
        int r = planner_plan(s, (size_t)src, FX_NOW, 5000000, "p", &cfg, &plans, &np);
        assert_int_equal(r, 2);
        assert_int_equal(np, 2);
        assert_string_equal(plans[0].pod_uid, "be-small");
        assert_string_equal(plans[1].pod_uid, "be-big");
        for (size_t i = 0; i < np; i++) {
                assert_string_equal(plans[i].source_node, "hot");
                assert_string_equal(plans[i].target_node, "roomy");
                assert_int_equal(plans[i].state, MIGRATION_PLANNED);
                assert_int_equal(plans[i].expires_at_usec, 5000000 + cfg.reservation_ttl_usec);
                assert_non_null(plans[i].owner_uid);
        }
        assert_int_equal(plans[0].reservation_bytes, 500 * MiB);
        assert_string_equal(plans[0].id, "p-0");
        migration_list_free(plans, np);

        /* Cap per plan. */
        cfg.max_migrations_per_plan = 1;
        r = planner_plan(s, (size_t)src, FX_NOW, 0, "p", &cfg, &plans, &np);
        assert_int_equal(np, 1);
        migration_list_free(plans, np);

        /* Burstable pods move when no BestEffort is left; their request sizes the reservation. */
        const struct fx_pod only_burst[] = { pods[0], pods[3] };
        struct fx_node n2[] = { hot, n[1] };
        n2[0].pods = only_burst;
        n2[0].n_pods = 2;
        cfg.max_migrations_per_plan = 3;
        _cleanup_snapshot_ struct sched_snapshot *s2 = fx_snapshot(n2, 2, NULL, 0);
        r = planner_plan(s2, (size_t)snapshot_find(s2, "hot"), FX_NOW, 0, "q", &cfg, &plans, &np);
        assert_int_equal(np, 1);
        assert_string_equal(plans[0].pod_uid, "burst-small");
        assert_int_equal(plans[0].reservation_bytes, 300 * MiB);
        migration_list_free(plans, np);

        /* No fresh node with room: nothing planned. */
        struct fx_node n3[] = { hot, n[2], n[3] };
        _cleanup_snapshot_ struct sched_snapshot *s3 = fx_snapshot(n3, 3, NULL, 0);
        r = planner_plan(s3, (size_t)snapshot_find(s3, "hot"), FX_NOW, 0, "z", &cfg, &plans, &np);
        assert_int_equal(r, 0);
        assert_int_equal(np, 0);
        migration_list_free(plans, np);
}

static void test_reservations_accumulate(void **state)
{
        (void)state;
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        /* Two 2 GiB pods; each target has room for one only. */
        const struct fx_pod two[] = {
                { .uid = "a",
                  .qos = QOS_BESTEFFORT,
                  .working_set_bytes = 2 * GiB,
                  .owner_uid = "o1" },
                { .uid = "b",
                  .qos = QOS_BESTEFFORT,
                  .working_set_bytes = 2 * GiB,
                  .owner_uid = "o2" },
        };
        struct fx_node n[] = {
                hot,
                { .name = "t1", .total_bytes = 16 * GiB, .available_bytes = 3 * GiB },
                { .name = "t2", .total_bytes = 16 * GiB, .available_bytes = 3 * GiB },
        };
        n[0].pods = two;
        n[0].n_pods = 2;
        n[0].available_bytes = 0;
        n[0].total_bytes = 64 * GiB; /* needs 6.4 GiB: both pods */
        _cleanup_snapshot_ struct sched_snapshot *s = fx_snapshot(n, 3, NULL, 0);
        struct migration *plans = NULL;
        size_t np = 0;
        planner_plan(s, (size_t)snapshot_find(s, "hot"), FX_NOW, 0, "r", &cfg, &plans, &np);
        assert_int_equal(np, 2);
        assert_string_not_equal(plans[0].target_node, plans[1].target_node);
        migration_list_free(plans, np);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_qualifies),
                cmocka_unit_test(test_choices),
                cmocka_unit_test(test_reservations_accumulate),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
