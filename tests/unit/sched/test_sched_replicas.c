// SPDX-License-Identifier: Apache-2.0
// Two memschedd cluster models (two replicas) on one etcd that the test starts on loopback: a plan
// written by another writer reaches both through cluster_follow(); when both try to expire the
// same reservation, one wins and the other keeps its copy until it follows; a deletion reaches
// both. Without the etcd binary: a loud skip (77), or a failure under CI=true.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "etcd_fixture.h"
#include "scheduler/cluster.h"

static struct etcd_fixture etcd;

static enum migration_state plan_state(struct cluster *c, size_t *ret_n)
{
        struct sched_snapshot *s = snapshot_acquire(&c->slot);
        enum migration_state st = s->n_plans ? s->plans[0].state : _MIGRATION_STATE_MAX;
        *ret_n = s->n_plans;
        snapshot_unref(s);
        return st;
}

/* Follows until the model changed (or 5 s passed). */
static int follow(struct cluster *c)
{
        int r = 0;
        for (int i = 0; i < 10 && r == 0; i++)
                r = cluster_follow(c, 500);
        return r;
}

static void test_two_replicas(void **state)
{
        (void)state;
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        struct store_options o = { .etcd_endpoints = etcd.endpoints,
                                   .etcd_prefix = "/replicas-test/" };
        struct cluster *a = NULL, *b = NULL;
        struct sched_store *w = NULL;
        size_t n = 0;
        uint64_t now = 1000000000, real = 1700000000000000ULL;

        assert_int_equal(cluster_open(&cfg, &o, &a), 0);
        assert_int_equal(cluster_open(&cfg, &o, &b), 0);
        assert_int_equal(store_open_with(&o, &w), 0);

        /* Nothing yet: a follow times out with no change. */
        assert_int_equal(cluster_follow(a, 200), 0);

        struct migration m = { .id = "mig-x",
                               .state = MIGRATION_PLANNED,
                               .source_node = "hot",
                               .target_node = "target",
                               .pod_uid = "victim",
                               .owner_uid = "rs-web",
                               .qos = QOS_BURSTABLE,
                               .reservation_bytes = 1 << 30,
                               .target_numa_zone = -1,
                               .reason = "r",
                               .created_at_usec = real,
                               .expires_at_usec = real + 1000 };
        assert_int_equal(store_save_migration(w, &m), 0);
        assert_int_equal(follow(a), 1);
        assert_int_equal(follow(b), 1);
        assert_int_equal(plan_state(a, &n), MIGRATION_PLANNED);
        assert_int_equal(n, 1);
        assert_int_equal(plan_state(b, &n), MIGRATION_PLANNED);

        /* Both sweep the expired reservation: b first, then a on its stale copy. b's save
         * compares against the revision its follow learned, and wins; a's loses (-ESTALE), so
         * a keeps the plan as it was until it follows: the expiry happens once. */
        assert_int_equal(cluster_tick(b, now, real + 2000), 1);
        assert_int_equal(plan_state(b, &n), MIGRATION_EXPIRED);
        assert_int_equal(cluster_tick(a, now, real + 2000), 0);
        assert_int_equal(plan_state(a, &n), MIGRATION_PLANNED);
        assert_int_equal(atomic_load(&a->migrations_expired_total), 0);
        assert_int_equal(atomic_load(&b->migrations_expired_total), 1);
        assert_int_equal(follow(a), 1);
        assert_int_equal(plan_state(a, &n), MIGRATION_EXPIRED);
        assert_int_equal(cluster_tick(a, now, real + 3000), 0); /* nothing left to expire */
        /* b's own write comes back through its watch and changes nothing. */
        assert_int_equal(cluster_follow(b, 300), 0);
        assert_int_equal(plan_state(b, &n), MIGRATION_EXPIRED);

        /* A deletion (prune) reaches the others. */
        assert_int_equal(store_prune(w, 0), 0);
        assert_int_equal(follow(a), 1);
        assert_int_equal(follow(b), 1);
        plan_state(a, &n);
        assert_int_equal(n, 0);
        plan_state(b, &n);
        assert_int_equal(n, 0);

        /* A replica that missed changes (a new leader) catches up at once with a resync, and
         * may then write: it learned the current revisions. */
        m.id = "mig-y";
        m.state = MIGRATION_PLANNED;
        assert_int_equal(store_save_migration(w, &m), 0);
        assert_int_equal(cluster_resync(a), 0);
        assert_int_equal(plan_state(a, &n), MIGRATION_PLANNED);
        assert_int_equal(n, 1);
        assert_int_equal(cluster_tick(a, now, real + 2000), 1);
        assert_int_equal(plan_state(a, &n), MIGRATION_EXPIRED);
        /* b sees the creation and the expiry, in one batch or two. */
        assert_int_equal(follow(b), 1);
        for (int i = 0; i < 5 && plan_state(b, &n) != MIGRATION_EXPIRED; i++)
                follow(b);
        assert_int_equal(plan_state(b, &n), MIGRATION_EXPIRED);
        assert_int_equal(store_prune(w, 0), 0);
        assert_int_equal(follow(a), 1);
        assert_int_equal(follow(b), 1);

        /* A replica that starts now loads the current state and follows from there. */
        struct cluster *c = NULL;
        assert_int_equal(cluster_open(&cfg, &o, &c), 0);
        assert_int_equal(cluster_follow(c, 200), 0);
        cluster_free(c);

        store_close(w);
        cluster_free(a);
        cluster_free(b);

        /* On SQLite this replica is the only writer: nothing to follow. */
        assert_int_equal(cluster_new(&cfg, ":memory:", &c), 0);
        assert_int_equal(cluster_follow(c, 100), -EOPNOTSUPP);
        cluster_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_two_replicas),
        };
        if (!etcd_fixture_available())
                return etcd_fixture_must_run() ? 1 : 77;
        if (etcd_fixture_start(&etcd, 1) < 0) {
                fprintf(stderr, "Failed to start etcd on loopback\n");
                return 1;
        }
        int r = cmocka_run_group_tests_name("replicas-etcd", tests, NULL, NULL);
        etcd_fixture_stop(&etcd);
        return r;
}
