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

/* A snapshot of nodes with an API view of api_nodes and pods. */
static struct sched_snapshot *with_view(const struct fx_node *nodes, size_t n,
                                        const struct kube_node_info *api_nodes, size_t n_api,
                                        const struct kube_pod_brief *pods, size_t n_pods,
                                        const struct assumed_pod *assumed, size_t n_assumed)
{
        const struct kube_node_info *np[8];
        const struct kube_pod_brief *pp[8];
        struct kube_view *view;
        struct snapshot_builder b;
        struct sched_snapshot *s;
        for (size_t i = 0; i < n_api; i++)
                np[i] = &api_nodes[i];
        for (size_t i = 0; i < n_pods; i++)
                pp[i] = &pods[i];
        assert_int_equal(kube_view_new(np, n_api, pp, n_pods, &view), 0);
        assert_int_equal(snapshot_builder_init(&b, NULL), 0);
        for (size_t i = 0; i < n; i++)
                fx_put(&b, &nodes[i]);
        for (size_t i = 0; i < n_assumed; i++) {
                struct assumed_pod a = assumed[i];
                a.node = strdup(a.node);
                a.uid = strdup(a.uid);
                assert_int_equal(snapshot_builder_add_assumed(&b, &a), 0);
        }
        snapshot_builder_set_view(&b, view);
        assert_int_equal(snapshot_builder_finish(&b, &s), 0);
        snapshot_builder_done(&b);
        return s;
}

static struct kube_node_info api_node(const char *name, bool ready)
{
        struct kube_node_info n;
        memset(&n, 0, sizeof(n));
        snprintf(n.name, sizeof(n.name), "%s", name);
        n.ready = ready;
        n.allocatable_bytes = 8 * GiB;
        return n;
}

static void test_api_targets(void **state)
{
        (void)state;
        struct fx_node nodes[] = {
                { .name = "ok", .total_bytes = 8 * GiB, .available_bytes = 4 * GiB },
                { .name = "ghost", .total_bytes = 8 * GiB, .available_bytes = 4 * GiB },
                { .name = "notready", .total_bytes = 8 * GiB, .available_bytes = 4 * GiB },
                { .name = "tainted", .total_bytes = 8 * GiB, .available_bytes = 4 * GiB },
                { .name = "cordoned", .total_bytes = 8 * GiB, .available_bytes = 4 * GiB },
        };
        struct kube_node_info api[] = { api_node("ok", true), api_node("notready", false),
                                        api_node("tainted", true), api_node("cordoned", true),
                                        api_node("silent", true) };
        api[2].n_taints = 1;
        api[2].taints[0] = (struct kube_taint){ .key = "dedicated",
                                                .value = "db",
                                                .effect = KUBE_TAINT_NO_SCHEDULE };
        api[3].unschedulable = true;
        _cleanup_snapshot_ struct sched_snapshot *s = with_view(nodes, 5, api, 5, NULL, 0, NULL, 0);
        struct pod_shape pod = { .request_bytes = 1 * GiB, .qos = QOS_BURSTABLE };
        struct node_verdict v;

        eval(s, "ok", &pod, &v);
        assert_int_equal(v.kind, VERDICT_FITS);
        /* Reported by an agent, unknown to the API: no target, whatever it reports. */
        eval(s, "ghost", &pod, &v);
        assert_int_equal(v.kind, VERDICT_UNRESOLVABLE);
        assert_string_equal(v.reason, "memsched: node ghost is not known to the Kubernetes API");
        eval(s, "notready", &pod, &v);
        assert_int_equal(v.kind, VERDICT_UNRESOLVABLE);
        assert_non_null(strstr(v.reason, "notready is not Ready"));
        eval(s, "tainted", &pod, &v);
        assert_int_equal(v.kind, VERDICT_UNRESOLVABLE);
        assert_string_equal(v.reason, "memsched: node tainted has taint dedicated=db:NoSchedule "
                                      "that the pod does not tolerate");
        eval(s, "cordoned", &pod, &v);
        assert_int_equal(v.kind, VERDICT_UNRESOLVABLE);
        assert_non_null(strstr(v.reason, "cordoned (unschedulable)"));
        /* Known to the API but no report: as before (no memagentd there). */
        eval(s, "silent", &pod, &v);
        assert_int_equal(v.kind, VERDICT_UNRESOLVABLE);
        assert_non_null(strstr(v.reason, "has sent no report"));
        /* The score path answers the same without reasons. */
        placement_score(s, snapshot_find(s, "ghost"), "ghost", &pod, FX_NOW, &cfg, &v);
        assert_int_equal(v.kind, VERDICT_UNRESOLVABLE);
        assert_string_equal(v.reason, "");

        /* A pod that tolerates the taint and the cordon may go there. */
        struct kube_toleration tol[2] = {
                { .key = "dedicated", .value = "db", .op = KUBE_TOLERATE_EQUAL, .effect = -1 },
                { .key = KUBE_TAINT_UNSCHEDULABLE,
                  .op = KUBE_TOLERATE_EXISTS,
                  .effect = KUBE_TAINT_NO_SCHEDULE },
        };
        pod.tolerations = tol;
        pod.n_tolerations = 2;
        eval(s, "tainted", &pod, &v);
        assert_int_equal(v.kind, VERDICT_FITS);
        eval(s, "cordoned", &pod, &v);
        assert_int_equal(v.kind, VERDICT_FITS);

        /* Without a view (no API client), reports alone decide, as before. */
        _cleanup_snapshot_ struct sched_snapshot *plain = fx_snapshot(nodes, 5, NULL, 0);
        pod.n_tolerations = 0;
        eval(plain, "ghost", &pod, &v);
        assert_int_equal(v.kind, VERDICT_FITS);
        eval(plain, "tainted", &pod, &v);
        assert_int_equal(v.kind, VERDICT_FITS);
}

static struct kube_pod_brief api_pod(const char *uid, const char *node, const char *phase,
                                     uint64_t request_bytes)
{
        struct kube_pod_brief p;
        memset(&p, 0, sizeof(p));
        snprintf(p.uid, sizeof(p.uid), "%s", uid);
        snprintf(p.node_name, sizeof(p.node_name), "%s", node);
        snprintf(p.phase, sizeof(p.phase), "%s", phase);
        p.request_bytes = request_bytes;
        return p;
}

static void test_api_allocation(void **state)
{
        (void)state;
        /* w1 reports 8 GiB available and counts pod "running" in its report. */
        struct fx_pod reported[] = { { .uid = "running",
                                       .qos = QOS_BURSTABLE,
                                       .working_set_bytes = 1 * GiB,
                                       .request_bytes = 1 * GiB } };
        struct fx_node nodes[] = {
                { .name = "w1",
                  .total_bytes = 16 * GiB,
                  .available_bytes = 8 * GiB,
                  .pods = reported,
                  .n_pods = 1 },
                { .name = "w2", .total_bytes = 16 * GiB, .available_bytes = 8 * GiB },
        };
        struct kube_node_info api[] = { api_node("w1", true), api_node("w2", true) };
        struct kube_pod_brief pods[] = {
                api_pod("running", "w1", "Running", 1 * GiB),  /* in the report: counted there */
                api_pod("starting", "w1", "Pending", 2 * GiB), /* bound, not reported yet */
                api_pod("done", "w1", "Succeeded", 4 * GiB),   /* finished: holds nothing */
                api_pod("unbound", "", "Pending", 4 * GiB),    /* not bound: nowhere */
                api_pod("ours", "w1", "Pending", 3 * GiB),     /* memschedd assumed it */
                api_pod("moved", "w2", "Pending", 1 * GiB),    /* assumed on w1, API says w2 */
        };
        /* Bind-time assumptions: "ours" on w1 (zone 0), "moved" on w1 (the API says w2), and
         * "fresh" that the API does not show yet. */
        struct assumed_pod assumed[] = {
                { .node = "w1",
                  .uid = "ours",
                  .request_bytes = 3 * GiB,
                  .numa_zone = 0,
                  .at_usec = FX_NOW },
                { .node = "w1",
                  .uid = "moved",
                  .request_bytes = 1 * GiB,
                  .numa_zone = -1,
                  .at_usec = FX_NOW },
                { .node = "w2",
                  .uid = "fresh",
                  .request_bytes = 512 * MiB,
                  .numa_zone = -1,
                  .at_usec = FX_NOW },
        };
        _cleanup_snapshot_ struct sched_snapshot *s =
            with_view(nodes, 2, api, 2, pods, 6, assumed, 3);
        ssize_t w1 = snapshot_find(s, "w1"), w2 = snapshot_find(s, "w2");

        /* w1: "starting" (2 GiB, from the API) + "ours" (3 GiB, by its assumption, once). */
        assert_int_equal(s->extra[w1].api_assumed_bytes, 2 * GiB);
        assert_int_equal(s->extra[w1].assumed_bytes, 5 * GiB);
        assert_int_equal(s->extra[w1].zone_deduct_bytes[0], 3 * GiB);
        assert_int_equal(placement_node_allocatable(s, (size_t)w1), 3 * GiB);
        /* w2: "moved" (1 GiB from the API) + "fresh" (its assumption, the API not knowing it). */
        assert_int_equal(s->extra[w2].api_assumed_bytes, 1 * GiB);
        assert_int_equal(s->extra[w2].assumed_bytes, 1 * GiB + 512 * MiB);

        /* A new report from w2 alone (it now lists "moved"): w2 is recomputed, w1's figure is
         * carried over from the base snapshot unchanged. */
        {
                struct fx_pod moved[] = { { .uid = "moved",
                                            .qos = QOS_BURSTABLE,
                                            .working_set_bytes = 1 * GiB,
                                            .request_bytes = 1 * GiB } };
                struct fx_node w2new = nodes[1];
                w2new.pods = moved;
                w2new.n_pods = 1;
                struct snapshot_builder b;
                struct sched_snapshot *s3;
                assert_int_equal(snapshot_builder_init(&b, s), 0);
                fx_put(&b, &w2new);
                assert_int_equal(snapshot_builder_finish(&b, &s3), 0);
                snapshot_builder_done(&b);
                ssize_t a = snapshot_find(s3, "w1"), c = snapshot_find(s3, "w2");
                assert_int_equal(s3->extra[a].api_assumed_bytes, 2 * GiB);
                assert_int_equal(s3->extra[a].assumed_bytes, 5 * GiB);
                assert_int_equal(s3->extra[c].api_assumed_bytes, 0);
                assert_int_equal(s3->extra[c].assumed_bytes, 512 * MiB);
                snapshot_unref(s3);
        }

        struct pod_shape pod = { .request_bytes = 4 * GiB, .qos = QOS_BURSTABLE };
        struct node_verdict v;
        eval(s, "w1", &pod, &v);
        assert_int_equal(v.kind, VERDICT_FAILED);
        assert_non_null(strstr(v.reason, "insufficient memory"));
        eval(s, "w2", &pod, &v);
        assert_int_equal(v.kind, VERDICT_FITS);

        /* Once w1 reports "starting", the API no longer adds it. */
        struct fx_pod reported2[] = {
                reported[0],
                { .uid = "starting",
                  .qos = QOS_BURSTABLE,
                  .working_set_bytes = 1 * GiB,
                  .request_bytes = 2 * GiB },
        };
        nodes[0].pods = reported2;
        nodes[0].n_pods = 2;
        _cleanup_snapshot_ struct sched_snapshot *s2 =
            with_view(nodes, 2, api, 2, pods, 6, assumed, 3);
        w1 = snapshot_find(s2, "w1");
        assert_int_equal(s2->extra[w1].api_assumed_bytes, 0);
        assert_int_equal(s2->extra[w1].assumed_bytes, 3 * GiB);
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
                cmocka_unit_test_setup(test_api_targets, setup),
                cmocka_unit_test_setup(test_api_allocation, setup),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
