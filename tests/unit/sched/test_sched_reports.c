// SPDX-License-Identifier: Apache-2.0
// Node reports shared between replicas (scheduler/store-reports.c): the rule that keeps an older
// report from replacing a newer one in etcd, alone; then two cluster models on one etcd that the
// test starts on loopback: a report accepted by one reaches the other, an older report does not
// overwrite a newer one another writer stored, a replica that starts later knows every node, and
// the reports leave etcd on their own once stale. Without the etcd binary: a loud skip (77), or a
// failure under CI=true.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "etcd_fixture.h"
#include "scheduler/cluster.h"
#include "scheduler/store-reports.h"

static struct etcd_fixture etcd;

#define STORED(seq, run, received)                                                                 \
        "{\"received_at_usec\":" #received ",\"replica\":\"x\",\"report\":{\"seq\":" #seq run "}}"

static void test_newer_rule(void **state)
{
        (void)state;
        /* One agent run: seq decides; an equal seq is the same report. */
        assert_true(report_share_stored_is_newer(STORED(10, ",\"run_id\":\"r1\"", 5), 9, "r1", 7));
        assert_true(report_share_stored_is_newer(STORED(10, ",\"run_id\":\"r1\"", 5), 10, "r1", 7));
        assert_false(
            report_share_stored_is_newer(STORED(10, ",\"run_id\":\"r1\"", 5), 11, "r1", 1));
        /* Agents without run_id are one run. */
        assert_true(report_share_stored_is_newer(STORED(10, "", 5), 9, NULL, 7));
        assert_false(report_share_stored_is_newer(STORED(10, "", 5), 11, "", 1));
        /* Across runs (a restarted agent counts from 1 again) the later receipt wins. */
        assert_true(report_share_stored_is_newer(STORED(500, ",\"run_id\":\"r1\"", 9), 1, "r2", 8));
        assert_false(
            report_share_stored_is_newer(STORED(500, ",\"run_id\":\"r1\"", 7), 1, "r2", 8));
        assert_false(report_share_stored_is_newer(STORED(1, "", 7), 1, "r2", 8));
        /* Something unreadable is replaced. */
        assert_false(report_share_stored_is_newer("not json", 1, NULL, 1));
        assert_false(report_share_stored_is_newer("{\"report\":{}}", 1, NULL, 1));
}

static struct node_report report(const char *name, uint64_t seq, uint64_t available_bytes)
{
        return (struct node_report){ .node_name = strdup(name),
                                     .seq = seq,
                                     .run_id = strdup("run-1"),
                                     .memory_total_bytes = 16ULL << 30,
                                     .memory_available_bytes = available_bytes,
                                     .memory_free_bytes = available_bytes };
}

/* The seq of node name in c's model, 0 when absent. */
static uint64_t model_seq(struct cluster *c, const char *name)
{
        struct sched_snapshot *s = snapshot_acquire(&c->slot);
        ssize_t i = snapshot_find(s, name);
        uint64_t seq = i >= 0 ? s->nodes[i]->report.seq : 0;
        snapshot_unref(s);
        return seq;
}

static void sleep_ms(long ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
        nanosleep(&ts, NULL);
}

/* Waits up to 5 s for c's model to hold seq for name. */
static bool wait_seq(struct cluster *c, const char *name, uint64_t seq)
{
        for (int i = 0; i < 100; i++) {
                if (model_seq(c, name) == seq)
                        return true;
                sleep_ms(50);
        }
        return false;
}

/* The seq stored in etcd for name, 0 when absent. */
static uint64_t stored_seq(struct sched_store *w, const char *name)
{
        char key[128];
        struct store_record rec = {};
        snprintf(key, sizeof(key), "reports/%s", name);
        if (store_get(w, key, &rec) < 0)
                return 0;
        const char *p = strstr(rec.value, "\"seq\":");
        uint64_t seq = p ? strtoull(p + 6, NULL, 10) : 0;
        store_record_done(&rec);
        return seq;
}

static int ingest(struct cluster *c, const char *name, uint64_t seq)
{
        struct node_report r = report(name, seq, 8ULL << 30);
        struct timespec mono, real;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        clock_gettime(CLOCK_REALTIME, &real);
        int k = cluster_ingest(c, name, &r,
                               (uint64_t)mono.tv_sec * 1000000 + (uint64_t)mono.tv_nsec / 1000,
                               (uint64_t)real.tv_sec * 1000000 + (uint64_t)real.tv_nsec / 1000);
        node_report_done(&r);
        return k;
}

static void test_two_replicas_share_reports(void **state)
{
        (void)state;
        struct sched_config cfg = SCHED_CONFIG_DEFAULTS;
        cfg.stale_after_usec = 2 * 1000000; /* reports live 3 s in etcd */
        struct store_options o = { .etcd_endpoints = etcd.endpoints,
                                   .etcd_prefix = "/reports-test/" };
        struct cluster *a = NULL, *b = NULL, *c = NULL;
        struct report_share *sa = NULL, *sb = NULL, *sc = NULL;
        struct sched_store *w = NULL;

        assert_int_equal(cluster_open(&cfg, &o, &a), 0);
        assert_int_equal(cluster_open(&cfg, &o, &b), 0);
        assert_int_equal(store_open_with(&o, &w), 0);
        assert_int_equal(report_share_start(a, "a", &sa), 0);
        assert_int_equal(report_share_start(b, "b", &sb), 0);

        /* A report accepted by a reaches b, and etcd holds it. */
        assert_int_equal(ingest(a, "n1", 5), 0);
        assert_true(wait_seq(b, "n1", 5));
        assert_int_equal(stored_seq(w, "n1"), 5);
        /* A newer one through b reaches a. */
        assert_int_equal(ingest(b, "n1", 6), 0);
        assert_true(wait_seq(a, "n1", 6));

        /* Another replica stored seq 9 of n2 that a has not seen yet; a then accepts seq 8 from
         * the agent (a retry that took another path). Whichever comes first at a, etcd keeps 9
         * and both models end at 9. */
        char value[512];
        struct timespec real;
        clock_gettime(CLOCK_REALTIME, &real);
        snprintf(value, sizeof(value),
                 "{\"received_at_usec\":%llu,\"replica\":\"w\",\"report\":{\"seq\":9,"
                 "\"run_id\":\"run-1\",\"node\":{\"memory_total_bytes\":17179869184,"
                 "\"memory_available_bytes\":1073741824}}}",
                 (unsigned long long)real.tv_sec * 1000000ULL);
        assert_int_equal(store_create(w, "reports/n2", value, 0, NULL), 0);
        int k = ingest(a, "n2", 8);
        assert_true(k == 0 || k == -ESTALE);
        sleep_ms(500); /* the shipper's compare-and-swap, read back, and the watch */
        assert_int_equal(stored_seq(w, "n2"), 9);
        assert_true(wait_seq(a, "n2", 9));
        assert_true(wait_seq(b, "n2", 9));

        /* A replica that starts later knows every node before any reports again. */
        assert_int_equal(cluster_open(&cfg, &o, &c), 0);
        assert_int_equal(report_share_start(c, "c", &sc), 0);
        assert_int_equal(model_seq(c, "n1"), 6);
        uint64_t since = 0;
        assert_true(report_share_current(sc, &since));
        uint64_t shipped = 0, coalesced = 0, applied = 0;
        report_share_counts(sa, &shipped, &coalesced, &applied);
        assert_true(shipped >= 1);
        assert_true(applied >= 1);

        /* Nobody reports n1 any more: its key leaves etcd within 1.5 x stale-after (3 s) plus
         * etcd's lease expiry check; n2 was stored without a lease by the test. */
        bool gone = false;
        for (int i = 0; i < 100 && !gone; i++) {
                gone = stored_seq(w, "n1") == 0;
                if (!gone)
                        sleep_ms(100);
        }
        assert_true(gone);

        report_share_stop(sc);
        report_share_stop(sb);
        report_share_stop(sa);
        store_remove(w, "reports/n2");
        store_close(w);
        cluster_free(c);
        cluster_free(b);
        cluster_free(a);
}

int main(void)
{
        if (!etcd_fixture_available())
                return etcd_fixture_must_run() ? 1 : 77;
        if (etcd_fixture_start(&etcd, 1) < 0) {
                fprintf(stderr, "etcd did not start\n");
                return 1;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_newer_rule),
                cmocka_unit_test(test_two_replicas_share_reports),
        };
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        etcd_fixture_stop(&etcd);
        return r;
}
