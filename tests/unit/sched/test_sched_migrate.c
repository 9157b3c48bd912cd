// SPDX-License-Identifier: Apache-2.0
// Carrying migrations out: which plans migrate_pick() lets evict now (the cluster-wide limit,
// one per source node, bare pods never, backoff through the ready callback, a lost answer
// retried), the v1 Binding body, and the plan's execution fields through the codec.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/kube/binding.h"
#include "api/migration.h"
#include "scheduler/migrate.h"

static struct migration plan(const char *id, const char *source, const char *owner,
                             const char *step)
{
        return (struct migration){
                .id = (char *)id,
                .state = MIGRATION_PLANNED,
                .source_node = (char *)source,
                .target_node = (char *)"target",
                .pod_uid = (char *)"uid",
                .pod_name = (char *)"web",
                .pod_namespace = (char *)"shop",
                .owner_uid = (char *)owner,
                .step = (char *)step,
        };
}

static void test_limits(void **state)
{
        (void)state;
        struct migration p[] = {
                plan("a", "n1", "rs", NULL), plan("b", "n1", "rs", NULL), /* same node as a */
                plan("c", "n2", NULL, NULL),                              /* bare pod */
                plan("d", "n3", "rs", NULL), plan("e", "n4", "rs", NULL), /* beyond the limit */
        };
        size_t picks[8];
        size_t n = migrate_pick(p, 5, 2, NULL, NULL, picks, 8);
        assert_int_equal(n, 2);
        assert_int_equal(picks[0], 0);
        assert_int_equal(picks[1], 3);
        /* With a looser limit: still one per node and never the bare pod. */
        n = migrate_pick(p, 5, 10, NULL, NULL, picks, 8);
        assert_int_equal(n, 3);
        assert_int_equal(picks[0], 0);
        assert_int_equal(picks[1], 3);
        assert_int_equal(picks[2], 4);
}

static void test_active_plans_count(void **state)
{
        (void)state;
        struct migration p[] = {
                plan("a", "n1", "rs", "evicted"),  /* awaiting its replacement: active */
                plan("b", "n1", "rs", NULL),       /* its node is busy */
                plan("c", "n2", "rs", "pending"),  /* refused before: may retry */
                plan("d", "n3", "rs", "evicting"), /* answer lost: retried, already counted */
        };
        size_t picks[8];
        /* a and d are active: the limit of 2 leaves no room for c, but d retries. */
        size_t n = migrate_pick(p, 4, 2, NULL, NULL, picks, 8);
        assert_int_equal(n, 1);
        assert_int_equal(picks[0], 3);
        n = migrate_pick(p, 4, 3, NULL, NULL, picks, 8);
        assert_int_equal(n, 2);
        assert_int_equal(picks[0], 2);
        assert_int_equal(picks[1], 3);
        /* Finished plans are not active any more. */
        p[0].state = MIGRATION_BOUND;
        assert_false(migrate_is_active(&p[0]));
        n = migrate_pick(p, 4, 3, NULL, NULL, picks, 8);
        assert_int_equal(n, 3);
        assert_int_equal(picks[0], 1);
}

static bool not_b(const struct migration *m, void *userdata)
{
        (*(int *)userdata)++;
        return strcmp(m->id, "b") != 0;
}

static void test_ready_callback(void **state)
{
        (void)state;
        struct migration p[] = { plan("b", "n1", "rs", "pending"), plan("c", "n1", "rs", NULL) };
        size_t picks[8];
        int calls = 0;
        /* b waits out its backoff, so c (same node) may go. */
        size_t n = migrate_pick(p, 2, 5, not_b, &calls, picks, 8);
        assert_int_equal(n, 1);
        assert_int_equal(picks[0], 1);
        assert_int_equal(calls, 2);
}

static void test_binding_body(void **state)
{
        (void)state;
        char *s = NULL;
        assert_int_equal(kube_binding_body("shop", "web-1", "u-1", "node-a", &s), 0);
        assert_string_equal(s, "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":"
                               "\"web-1\",\"namespace\":\"shop\",\"uid\":\"u-1\"},\"target\":{"
                               "\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"node-a\"}}");
        free(s);
        assert_int_equal(kube_binding_body("shop", "web-1", NULL, "node-a", &s), 0);
        assert_null(strstr(s, "uid"));
        free(s);
        assert_int_equal(kube_binding_body("shop", "web-1", "u-1", "", &s), -EINVAL);
        assert_int_equal(kube_binding_body("", "web-1", "u-1", "n", &s), -EINVAL);
}

static void test_event_controller(void **state)
{
        (void)state;
        struct kube_event ev = { .namespace_ = "shop",
                                 .pod_name = "web",
                                 .pod_uid = "u",
                                 .reporting_instance = "memschedd-a",
                                 .reporting_controller = KUBE_REPORTING_CONTROLLER_SCHEDULER,
                                 .action = "Migrate",
                                 .reason = "Migrating" };
        char *s = NULL;
        assert_int_equal(kube_event_body(&ev, &s), 0);
        assert_non_null(strstr(s, "\"reportingController\":\"memagent.io/scheduler\""));
        free(s);
        ev.reporting_controller = NULL; /* the agent's, as before */
        assert_int_equal(kube_event_body(&ev, &s), 0);
        assert_non_null(strstr(s, "\"reportingController\":\"memagent.io/agent\""));
        free(s);
}

static void test_codec_steps(void **state)
{
        (void)state;
        struct migration m = plan("a", "n1", "rs", "pending");
        m.step_message = (char *)"429 TooManyRequests";
        m.eviction_attempts = 3;
        m.evicted_at_usec = 0;
        m.reason = (char *)"why";
        m.qos = QOS_BURSTABLE;
        struct json_object *o = migration_encode(&m);
        struct json_object *v;
        assert_true(json_object_object_get_ex(o, "evicted_at_usec", &v));
        assert_null(v);
        struct migration back;
        struct api_error err = {};
        assert_int_equal(migration_decode(o, "", &back, &err), 0);
        assert_string_equal(back.step, "pending");
        assert_string_equal(back.step_message, "429 TooManyRequests");
        assert_int_equal(back.eviction_attempts, 3);
        struct migration copy;
        assert_int_equal(migration_copy(&back, &copy), 0);
        assert_string_equal(copy.step, "pending");
        migration_done(&copy);
        migration_done(&back);
        /* Plans stored before these fields existed still decode. */
        json_object_object_del(o, "step");
        json_object_object_del(o, "step_message");
        json_object_object_del(o, "eviction_attempts");
        json_object_object_del(o, "evicted_at_usec");
        assert_int_equal(migration_decode(o, "", &back, &err), 0);
        assert_null(back.step);
        assert_int_equal(back.eviction_attempts, 0);
        migration_done(&back);
        json_object_put(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_limits),         cmocka_unit_test(test_active_plans_count),
                cmocka_unit_test(test_ready_callback), cmocka_unit_test(test_binding_body),
                cmocka_unit_test(test_codec_steps),    cmocka_unit_test(test_event_controller),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
