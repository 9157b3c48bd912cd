// SPDX-License-Identifier: Apache-2.0
// Snapshot publication under concurrent readers, and the cluster's ingest → plan → bind → expire
// cycle with plans surviving a restart. The store itself is tested on both backends by
// test_sched_store.
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "sched_fixture.h"
#include "scheduler/cluster.h"
#include "scheduler/store.h"

static struct snapshot_slot slot;
static atomic_bool stop;

static void *reader(void *arg)
{
        atomic_ullong *seen = arg;
        uint64_t last = 0;
        while (!atomic_load(&stop)) {
                struct sched_snapshot *s = snapshot_acquire(&slot);
                assert_true(s->generation >= last); /* never goes back */
                last = s->generation;
                /* Touch everything: a freed snapshot would trip ASan here. */
                for (size_t i = 0; i < s->n_nodes; i++)
                        assert_int_equal(s->nodes[i]->report.memory_total_bytes, GiB);
                snapshot_unref(s);
                atomic_fetch_add(seen, 1);
        }
        return NULL;
}

static void test_snapshot_readers_never_see_freed(void **state)
{
        (void)state;
        pthread_t t[3];
        static atomic_ullong seen[3];
        assert_int_equal(snapshot_slot_init(&slot), 0);
        atomic_store(&stop, false);
        for (int i = 0; i < 3; i++)
                assert_int_equal(pthread_create(&t[i], NULL, reader, &seen[i]), 0);
        for (int g = 0; g < 2000; g++) {
                struct sched_snapshot *cur = snapshot_acquire(&slot), *next;
                struct snapshot_builder b;
                char name[32];
                snprintf(name, sizeof(name), "n%d", g % 50);
                struct fx_node n = { .name = name, .total_bytes = GiB, .available_bytes = GiB };
                assert_int_equal(snapshot_builder_init(&b, cur), 0);
                fx_put(&b, &n);
                assert_int_equal(snapshot_builder_finish(&b, &next), 0);
                snapshot_builder_done(&b);
                snapshot_unref(cur);
                snapshot_publish(&slot, next);
        }
        /* On a loaded machine the readers may not have run yet: give them (bounded) time. */
        for (int w = 0;
             w < 500 && !(atomic_load(&seen[0]) && atomic_load(&seen[1]) && atomic_load(&seen[2]));
             w++)
                usleep(10000);
        atomic_store(&stop, true);
        for (int i = 0; i < 3; i++) {
                pthread_join(t[i], NULL);
                assert_true(atomic_load(&seen[i]) > 0);
        }
        struct sched_snapshot *s = snapshot_acquire(&slot);
        assert_int_equal(s->n_nodes, 50);
        assert_int_equal(s->generation, 2001);
        snapshot_unref(s);
        snapshot_slot_done(&slot);
}

static char db_path[64];

static int setup_db(void **state)
{
        (void)state;
        snprintf(db_path, sizeof(db_path), "/tmp/memsched-test-XXXXXX");
        int fd = mkstemp(db_path);
        assert_true(fd >= 0);
        close(fd);
        unlink(db_path);
        return 0;
}

static int teardown_db(void **state)
{
        char p[96];
        (void)state;
        unlink(db_path);
        snprintf(p, sizeof(p), "%s-wal", db_path);
        unlink(p);
        snprintf(p, sizeof(p), "%s-shm", db_path);
        unlink(p);
        return 0;
}

static struct node_report report(uint64_t total, uint64_t avail, enum pressure_level p,
                                 bool exhausted, bool with_pod)
{
        /* Every report is a later one of the same agent run, as memschedd requires. */
        static uint64_t seq;
        struct node_report r = { .seq = ++seq,
                                 .memory_total_bytes = total,
                                 .memory_available_bytes = avail,
                                 .pressure = p,
                                 .pressure_duration_ms = 3600000,
                                 .relief_exhausted = exhausted };
        if (with_pod) {
                r.pods = calloc(1, sizeof(*r.pods));
                r.pods[0] = (struct report_pod){ .uid = strdup("victim"),
                                                 .name = strdup("web-abc"),
                                                 .namespace = strdup("shop"),
                                                 .owner_uid = strdup("rs-web"),
                                                 .qos = QOS_BURSTABLE,
                                                 .working_set_bytes = GiB,
                                                 .request_bytes = GiB,
                                                 .limit_bytes = API_UNLIMITED,
                                                 .numa_zone = -1 };
                r.n_pods = 1;
        }
        return r;
}

static void test_cluster_cycle_and_restart(void **state)
{
        (void)state;
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        struct cluster *c;
        uint64_t now = 1000000000, real = 1700000000000000ULL;

        assert_int_equal(cluster_new(&cfg, db_path, &c), 0);
        struct node_report r = report(16 * GiB, 12 * GiB, LEVEL_NONE, false, false);
        assert_int_equal(cluster_ingest(c, "target", &r, now, real), 0);
        r = report(16 * GiB, 100 * MiB, LEVEL_CRITICAL, true, true);
        assert_int_equal(cluster_ingest(c, "hot", &r, now, real), 0);
        struct sched_snapshot *s = snapshot_acquire(&c->slot);
        assert_int_equal(s->n_plans, 1);
        assert_string_equal(s->plans[0].target_node, "target");
        assert_int_equal(s->extra[snapshot_find(s, "target")].reservation_bytes, GiB);
        char *id = strdup(s->plans[0].id);
        snapshot_unref(s);
        /* A second report from the still-hot node does not plan again. */
        r = report(16 * GiB, 100 * MiB, LEVEL_CRITICAL, true, true);
        assert_int_equal(cluster_ingest(c, "hot", &r, now, real), 0);
        s = snapshot_acquire(&c->slot);
        assert_int_equal(s->n_plans, 1);
        snapshot_unref(s);
        cluster_free(c);

        /* Restart: the plan and its reservation are back before any report. */
        assert_int_equal(cluster_new(&cfg, db_path, &c), 0);
        s = snapshot_acquire(&c->slot);
        assert_int_equal(s->n_nodes, 0);
        assert_int_equal(s->n_plans, 1);
        assert_string_equal(s->plans[0].id, id);
        assert_int_equal(s->plans[0].state, MIGRATION_PLANNED);
        snapshot_unref(s);
        r = report(16 * GiB, 12 * GiB, LEVEL_NONE, false, false);
        assert_int_equal(cluster_ingest(c, "target", &r, now, real), 0);
        s = snapshot_acquire(&c->slot);
        assert_int_equal(s->extra[snapshot_find(s, "target")].reservation_bytes, GiB);
        snapshot_unref(s);

        /* The replacement (same controller) is bound to the target: migration done. */
        struct k8s_pod p = { .name = "web-xyz",
                             .namespace = "shop",
                             .uid = "new-uid",
                             .owner_uid = "rs-web",
                             .qos = QOS_BURSTABLE,
                             .request_bytes = GiB,
                             .limit_bytes = API_UNLIMITED };
        cluster_remember_pod(c, &p);
        char *done = NULL;
        assert_int_equal(cluster_bind(c, "shop", "web-xyz", "new-uid", "target", now, &done), 0);
        assert_non_null(done);
        assert_string_equal(done, id);
        free(done);
        s = snapshot_acquire(&c->slot);
        assert_int_equal(s->plans[0].state, MIGRATION_BOUND);
        assert_string_equal(s->plans[0].replacement_pod, "shop/web-xyz");
        /* The reservation became an assumed pod of the same size. */
        ssize_t t = snapshot_find(s, "target");
        assert_int_equal(s->extra[t].reservation_bytes, 0);
        assert_int_equal(s->extra[t].assumed_bytes, GiB);
        snapshot_unref(s);
        assert_int_equal(cluster_bind(c, "shop", "x", "", "nowhere", now, NULL), -ENOENT);
        cluster_free(c);

        assert_int_equal(cluster_new(&cfg, db_path, &c), 0);
        s = snapshot_acquire(&c->slot);
        assert_int_equal(s->plans[0].state, MIGRATION_BOUND);
        snapshot_unref(s);
        cluster_free(c);
        free(id);
}

static int ingest(struct cluster *c, uint64_t seq, const char *run, uint64_t at, uint64_t real,
                  struct node_report *r)
{
        *r = report(16 * GiB, 12 * GiB, LEVEL_NONE, false, false);
        r->seq = seq;
        r->run_id = run ? strdup(run) : NULL;
        return cluster_ingest(c, "n", r, at, real);
}

/* Report order within one agent run: a replayed or older seq is -ESTALE; a new run_id, or the
 * node going stale (its agent was away), starts the count again. */
static void test_cluster_report_order(void **state)
{
        (void)state;
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        struct cluster *c;
        uint64_t now = 1000000000, real = 1700000000000000ULL;
        struct node_report r;
        assert_int_equal(cluster_new(&cfg, db_path, &c), 0);

        assert_int_equal(ingest(c, 5, NULL, now, real, &r), 0);
        assert_int_equal(ingest(c, 5, NULL, now, real, &r), -ESTALE);
        node_report_done(&r);
        assert_int_equal(ingest(c, 4, NULL, now, real, &r), -ESTALE);
        node_report_done(&r);
        assert_int_equal(ingest(c, 6, NULL, now, real, &r), 0);
        /* An agent restarted without run_id: refused while the node is fresh, taken once stale. */
        assert_int_equal(ingest(c, 1, NULL, now + 1000, real, &r), -ESTALE);
        node_report_done(&r);
        assert_int_equal(ingest(c, 1, NULL, now + cfg.stale_after_usec + 1, real, &r), 0);
        uint64_t t = now + cfg.stale_after_usec + 2;
        assert_int_equal(ingest(c, 1, "run-b", t, real, &r), 0);
        assert_int_equal(ingest(c, 1, "run-b", t, real, &r), -ESTALE);
        node_report_done(&r);
        assert_int_equal(ingest(c, 2, "run-b", t, real, &r), 0);
        assert_int_equal(ingest(c, 1, "run-c", t, real, &r), 0);
        struct sched_snapshot *s = snapshot_acquire(&c->slot);
        assert_int_equal(s->nodes[snapshot_find(s, "n")]->report.seq, 1);
        assert_string_equal(s->nodes[snapshot_find(s, "n")]->report.run_id, "run-c");
        snapshot_unref(s);
        cluster_free(c);
}

static void test_cluster_expiry(void **state)
{
        (void)state;
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        struct cluster *c;
        uint64_t now = 1000000000, real = 1700000000000000ULL;
        assert_int_equal(cluster_new(&cfg, db_path, &c), 0);
        struct node_report r = report(16 * GiB, 12 * GiB, LEVEL_NONE, false, false);
        assert_int_equal(cluster_ingest(c, "target", &r, now, real), 0);
        r = report(16 * GiB, 100 * MiB, LEVEL_CRITICAL, true, true);
        assert_int_equal(cluster_ingest(c, "hot", &r, now, real), 0);
        assert_int_equal(cluster_tick(c, now, real + 1), 0);
        assert_int_equal(cluster_tick(c, now, real + cfg.reservation_ttl_usec), 1);
        struct sched_snapshot *s = snapshot_acquire(&c->slot);
        assert_int_equal(s->plans[0].state, MIGRATION_EXPIRED);
        assert_int_equal(s->extra[snapshot_find(s, "target")].reservation_bytes, 0);
        snapshot_unref(s);
        /* Still hot: a new plan may follow on the next report. */
        r = report(16 * GiB, 100 * MiB, LEVEL_CRITICAL, true, true);
        assert_int_equal(cluster_ingest(c, "hot", &r, now, real + cfg.reservation_ttl_usec), 0);
        s = snapshot_acquire(&c->slot);
        assert_int_equal(s->n_plans, 2);
        assert_int_equal(s->plans[1].state, MIGRATION_PLANNED);
        snapshot_unref(s);
        cluster_free(c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_snapshot_readers_never_see_freed),
                cmocka_unit_test_setup_teardown(test_cluster_cycle_and_restart, setup_db,
                                                teardown_db),
                cmocka_unit_test_setup_teardown(test_cluster_expiry, setup_db, teardown_db),
                cmocka_unit_test_setup_teardown(test_cluster_report_order, setup_db, teardown_db),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
