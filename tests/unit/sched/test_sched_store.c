// SPDX-License-Identifier: Apache-2.0
// One suite for both state backends: `test_sched_store sqlite` runs it on a temporary SQLite
// file, `test_sched_store etcd` on a real etcd that the test starts on loopback (a loud skip
// when the etcd binary is missing, a failure then under CI=true). The same cases must pass on
// both: create/read/update/delete, compare-and-swap between two writers, persistence across a
// restart, and records that expire with their lease.
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "etcd_fixture.h"
#include "scheduler/cluster.h"
#include "scheduler/store.h"

static bool use_etcd;
static struct etcd_fixture etcd, etcd_tls, *cur = &etcd;
static char tls_cert[128], tls_key[128], tls_ca[128];
static char db_path[64];
static char prefix[64], endpoints[320];
static struct store_options opts;
static unsigned test_seq;

static int setup(void **state)
{
        (void)state;
        if (use_etcd) {
                /* A fresh key space per test on the one etcd, behind a dead endpoint that every
                 * handle must step over. */
                snprintf(prefix, sizeof(prefix), "/test-%d-%u/", getpid(), ++test_seq);
                snprintf(endpoints, sizeof(endpoints), "http://127.0.0.1:1,%s", cur->endpoints);
                opts = (struct store_options){ .etcd_endpoints = endpoints, .etcd_prefix = prefix };
                if (cur->certs[0]) {
                        snprintf(tls_cert, sizeof(tls_cert), "%s/client.crt", cur->certs);
                        snprintf(tls_key, sizeof(tls_key), "%s/client.key", cur->certs);
                        snprintf(tls_ca, sizeof(tls_ca), "%s/ca.crt", cur->certs);
                        opts.etcd_cert = tls_cert;
                        opts.etcd_key = tls_key;
                        opts.etcd_ca = tls_ca;
                }
        } else {
                snprintf(db_path, sizeof(db_path), "/tmp/memsched-store-XXXXXX");
                int fd = mkstemp(db_path);
                assert_true(fd >= 0);
                close(fd);
                unlink(db_path);
                opts = (struct store_options){ .sqlite_path = db_path };
        }
        return 0;
}

static int teardown(void **state)
{
        (void)state;
        if (!use_etcd) {
                char p[96];
                unlink(db_path);
                snprintf(p, sizeof(p), "%s-wal", db_path);
                unlink(p);
                snprintf(p, sizeof(p), "%s-shm", db_path);
                unlink(p);
        }
        return 0;
}

static struct sched_store *open_store(void)
{
        struct sched_store *st = NULL;
        assert_int_equal(store_open_with(&opts, &st), 0);
        assert_string_equal(store_backend_name(st), use_etcd ? "etcd" : "sqlite");
        return st;
}

static void assert_value(struct sched_store *st, const char *key, const char *value,
                         uint64_t *ret_rev)
{
        struct store_record rec = {};
        assert_int_equal(store_get(st, key, &rec), 0);
        assert_string_equal(rec.key, key);
        assert_string_equal(rec.value, value);
        assert_true(rec.mod_revision > 0);
        if (ret_rev)
                *ret_rev = rec.mod_revision;
        store_record_done(&rec);
}

static void test_crud(void **state)
{
        (void)state;
        struct sched_store *st = open_store();
        struct store_record rec = {};
        uint64_t rev1 = 0, rev2 = 0, read = 0;

        assert_int_equal(store_get(st, "leases/a", &rec), -ENOENT);
        assert_int_equal(store_create(st, "leases/a", "{\"n\":1}", 0, &rev1), 0);
        assert_true(rev1 > 0);
        assert_value(st, "leases/a", "{\"n\":1}", &read);
        assert_int_equal(read, rev1);
        assert_int_equal(store_create(st, "leases/a", "{\"n\":9}", 0, NULL), -EEXIST);
        assert_value(st, "leases/a", "{\"n\":1}", NULL); /* the loser changed nothing */

        assert_int_equal(store_update(st, "leases/a", "{\"n\":2}", rev1, &rev2), 0);
        assert_true(rev2 > rev1);
        assert_value(st, "leases/a", "{\"n\":2}", &read);
        assert_int_equal(read, rev2);
        /* What we read is no longer current: update and delete both refuse. */
        assert_int_equal(store_update(st, "leases/a", "{\"n\":3}", rev1, NULL), -ESTALE);
        assert_int_equal(store_delete(st, "leases/a", rev1), -ESTALE);
        assert_value(st, "leases/a", "{\"n\":2}", NULL);

        assert_int_equal(store_create(st, "leases/b", "{}", 0, NULL), 0);
        assert_int_equal(store_create(st, "leasesX", "{}", 0, NULL), 0);
        assert_int_equal(store_create(st, "other/c", "{}", 0, NULL), 0);
        struct store_record *l = NULL;
        size_t n = 0;
        assert_int_equal(store_list(st, "leases/", &l, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(l[0].key, "leases/a");
        assert_string_equal(l[0].value, "{\"n\":2}");
        assert_int_equal(l[0].mod_revision, rev2);
        assert_string_equal(l[1].key, "leases/b");
        store_record_list_free(l, n);

        assert_int_equal(store_delete(st, "leases/a", rev2), 0);
        assert_int_equal(store_get(st, "leases/a", &rec), -ENOENT);
        assert_int_equal(store_update(st, "leases/a", "{}", rev2, NULL), -ENOENT);
        assert_int_equal(store_delete(st, "leases/a", rev2), -ENOENT);
        /* Gone means free again. */
        assert_int_equal(store_create(st, "leases/a", "{\"n\":4}", 0, NULL), 0);
        store_close(st);
}

#define RACERS 4

/* Each racer has its own handle; the main thread joins the barriers to hand them the revision
 * that all of them then update against. */
struct racer {
        pthread_barrier_t *barrier;
        uint64_t read_revision;
        int create_r, update_r;
};

static void *race(void *arg)
{
        struct racer *me = arg;
        struct sched_store *st = NULL;
        char value[32];
        int r = store_open_with(&opts, &st);
        snprintf(value, sizeof(value), "\"%p\"", (void *)me);
        pthread_barrier_wait(me->barrier); /* all open */
        me->create_r = r < 0 ? r : store_create(st, "race/k", value, 0, NULL);
        pthread_barrier_wait(me->barrier); /* all created; main reads the revision */
        pthread_barrier_wait(me->barrier); /* read_revision set */
        me->update_r = r < 0 ? r : store_update(st, "race/k", value, me->read_revision, NULL);
        store_close(st);
        return NULL;
}

static void test_cas_two_writers(void **state)
{
        (void)state;
        struct sched_store *a = open_store(), *b = open_store();
        uint64_t rev = 0, rev_b = 0;

        /* Two handles (two replicas, or two processes on one file). */
        assert_int_equal(store_create(a, "x/k", "\"a\"", 0, NULL), 0);
        assert_int_equal(store_create(b, "x/k", "\"b\"", 0, NULL), -EEXIST);
        assert_value(a, "x/k", "\"a\"", &rev);
        assert_value(b, "x/k", "\"a\"", &rev_b);
        assert_int_equal(rev, rev_b);
        assert_int_equal(store_update(a, "x/k", "\"a2\"", rev, NULL), 0);
        assert_int_equal(store_update(b, "x/k", "\"b2\"", rev, NULL), -ESTALE);
        assert_value(b, "x/k", "\"a2\"", NULL);

        /* Plans: both replicas loaded the same plan; the second save of it loses. */
        struct migration m = { .id = "mig-1",
                               .state = MIGRATION_PLANNED,
                               .source_node = "a",
                               .target_node = "b",
                               .pod_uid = "u",
                               .qos = QOS_BURSTABLE,
                               .reservation_bytes = 42,
                               .target_numa_zone = -1,
                               .reason = "r",
                               .created_at_usec = 10,
                               .expires_at_usec = 20 };
        struct migration *l;
        size_t n;
        assert_int_equal(store_save_migration(a, &m), 0);
        assert_int_equal(store_save_migration(b, &m), -EEXIST); /* b never saw it */
        assert_int_equal(store_load_migrations(b, &l, &n), 0);
        assert_int_equal(n, 1);
        migration_list_free(l, n);
        m.state = MIGRATION_BOUND;
        m.replacement_pod = "ns/a";
        assert_int_equal(store_save_migration(a, &m), 0);
        m.state = MIGRATION_EXPIRED;
        m.replacement_pod = NULL;
        assert_int_equal(store_save_migration(b, &m), -ESTALE);
        assert_int_equal(store_load_migrations(b, &l, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(l[0].state, MIGRATION_BOUND); /* executed once, by a */
        migration_list_free(l, n);
        store_close(a);
        store_close(b);

        /* Threads, each with its own handle, at the same instant: one create and one update
         * win, every other gets -EEXIST / -ESTALE. */
        pthread_barrier_t barrier;
        pthread_t t[RACERS];
        struct racer rs[RACERS];
        assert_int_equal(pthread_barrier_init(&barrier, NULL, RACERS + 1), 0);
        for (int i = 0; i < RACERS; i++) {
                rs[i] = (struct racer){ .barrier = &barrier };
                assert_int_equal(pthread_create(&t[i], NULL, race, &rs[i]), 0);
        }
        pthread_barrier_wait(&barrier);
        pthread_barrier_wait(&barrier);
        struct sched_store *st = open_store();
        struct store_record rec = {};
        assert_int_equal(store_get(st, "race/k", &rec), 0);
        for (int i = 0; i < RACERS; i++)
                rs[i].read_revision = rec.mod_revision;
        pthread_barrier_wait(&barrier);
        for (int i = 0; i < RACERS; i++)
                pthread_join(t[i], NULL);
        int created = 0, updated = 0;
        for (int i = 0; i < RACERS; i++) {
                assert_true(rs[i].create_r == 0 || rs[i].create_r == -EEXIST);
                assert_true(rs[i].update_r == 0 || rs[i].update_r == -ESTALE);
                created += rs[i].create_r == 0;
                updated += rs[i].update_r == 0;
        }
        assert_int_equal(created, 1);
        assert_int_equal(updated, 1);
        struct store_record after = {};
        assert_int_equal(store_get(st, "race/k", &after), 0);
        assert_true(after.mod_revision > rec.mod_revision);
        store_record_done(&rec);
        store_record_done(&after);
        pthread_barrier_destroy(&barrier);
        store_close(st);
}

/* A replica that placed slabs on donors writes its lease guarded by their offers. */
struct granter {
        pthread_barrier_t *barrier;
        uint64_t rev_a, rev_b; /* the offers as every granter read them */
        const char *value_a, *value_b;
        char lease_key[32];
        int r;
};

static void *grant(void *arg)
{
        struct granter *me = arg;
        struct sched_store *st = NULL;
        int r = store_open_with(&opts, &st);
        pthread_barrier_wait(me->barrier); /* all open, the offers read */
        const struct store_guard g[] = {
                { .key = "pools/donor-a", .value = me->value_a, .mod_revision = me->rev_a },
                { .key = "pools/donor-b", .value = me->value_b, .mod_revision = me->rev_b },
        };
        me->r = r < 0 ? r : store_put_guarded(st, me->lease_key, "{\"slab\":0}", g, 2, NULL);
        store_close(st);
        return NULL;
}

/* Two replicas grant the same free slab at once: their leases are written guarded by the
 * donors' offers as they read them, so exactly one lands, and the other gets -ESTALE and writes
 * nothing. Sequentially first (two handles), then RACERS threads at the same instant. */
static void test_grant_race(void **state)
{
        (void)state;
        struct sched_store *a = open_store(), *b = open_store();
        uint64_t rev_a = 0, rev_b = 0, after = 0, lease_rev = 0;
        const char *offer_a = "{\"node\":\"donor-a\"}", *offer_b = "{\"node\":\"donor-b\"}";
        assert_int_equal(store_create(a, "pools/donor-a", offer_a, 0, &rev_a), 0);
        assert_int_equal(store_create(a, "pools/donor-b", offer_b, 0, &rev_b), 0);
        struct store_guard g[] = {
                { .key = "pools/donor-a", .value = offer_a, .mod_revision = rev_a },
                { .key = "pools/donor-b", .value = offer_b, .mod_revision = rev_b },
        };
        assert_int_equal(store_put_guarded(a, "leases/one", "{\"r\":1}", g, 2, &lease_rev), 0);
        assert_true(lease_rev > rev_b);
        /* b read the same offers: its grant loses, and writes nothing */
        assert_int_equal(store_put_guarded(b, "leases/two", "{\"r\":2}", g, 2, NULL), -ESTALE);
        struct store_record rec = {};
        assert_int_equal(store_get(b, "leases/two", &rec), -ENOENT);
        assert_value(b, "leases/one", "{\"r\":1}", NULL);
        /* the offer's value is unchanged, its revision moved with the grant */
        assert_value(b, "pools/donor-a", offer_a, &after);
        assert_int_equal(after, lease_rev);
        /* one guard moved is enough to refuse; a guard that is gone refuses too */
        g[0].mod_revision = after;
        assert_int_equal(store_put_guarded(b, "leases/two", "{\"r\":2}", g, 2, NULL), -ESTALE);
        assert_value(b, "pools/donor-b", offer_b, &g[1].mod_revision);
        assert_int_equal(store_put_guarded(b, "leases/two", "{\"r\":2}", g, 2, NULL), 0);
        const struct store_guard gone = { .key = "pools/nobody", .value = "{}", .mod_revision = 1 };
        assert_int_equal(store_put_guarded(b, "leases/three", "{}", &gone, 1, NULL), -ESTALE);
        /* a re-grant rewrites a lease that exists */
        assert_value(b, "pools/donor-a", offer_a, &g[0].mod_revision);
        assert_value(b, "pools/donor-b", offer_b, &g[1].mod_revision);
        assert_int_equal(store_put_guarded(b, "leases/one", "{\"r\":3}", g, 2, NULL), 0);
        assert_value(a, "leases/one", "{\"r\":3}", NULL);
        store_close(a);
        store_close(b);

        /* At the same instant, from the same read: one grant wins. */
        struct sched_store *st = open_store();
        assert_value(st, "pools/donor-a", offer_a, &rev_a);
        assert_value(st, "pools/donor-b", offer_b, &rev_b);
        pthread_barrier_t barrier;
        pthread_t t[RACERS];
        struct granter gs[RACERS];
        assert_int_equal(pthread_barrier_init(&barrier, NULL, RACERS + 1), 0);
        for (int i = 0; i < RACERS; i++) {
                gs[i] = (struct granter){ .barrier = &barrier,
                                          .rev_a = rev_a,
                                          .rev_b = rev_b,
                                          .value_a = offer_a,
                                          .value_b = offer_b };
                snprintf(gs[i].lease_key, sizeof(gs[i].lease_key), "leases/race-%d", i);
                assert_int_equal(pthread_create(&t[i], NULL, grant, &gs[i]), 0);
        }
        pthread_barrier_wait(&barrier);
        for (int i = 0; i < RACERS; i++)
                pthread_join(t[i], NULL);
        int won = 0;
        for (int i = 0; i < RACERS; i++) {
                assert_true(gs[i].r == 0 || gs[i].r == -ESTALE);
                won += gs[i].r == 0;
                struct store_record lr = {};
                assert_int_equal(store_get(st, gs[i].lease_key, &lr), gs[i].r == 0 ? 0 : -ENOENT);
                store_record_done(&lr);
        }
        assert_int_equal(won, 1);
        pthread_barrier_destroy(&barrier);
        store_close(st);
}

static void test_restart_persistence(void **state)
{
        (void)state;
        struct sched_store *st = open_store();
        struct migration m = { .id = "m1",
                               .state = MIGRATION_PLANNED,
                               .source_node = "a",
                               .target_node = "b",
                               .pod_uid = "u",
                               .owner_uid = "o",
                               .qos = QOS_BURSTABLE,
                               .reservation_bytes = 42,
                               .target_numa_zone = 1,
                               .reason = "r",
                               .created_at_usec = 20,
                               .expires_at_usec = 30 };
        struct migration *l;
        size_t n;
        uint64_t rev = 0;
        assert_int_equal(store_save_migration(st, &m), 0);
        m.id = "m0"; /* created earlier: loads first though saved second */
        m.created_at_usec = 10;
        m.state = MIGRATION_EXPIRED;
        assert_int_equal(store_save_migration(st, &m), 0);
        m.state = MIGRATION_BOUND; /* update in place */
        m.replacement_pod = "ns/p";
        assert_int_equal(store_save_migration(st, &m), 0);
        assert_int_equal(store_create(st, "leases/l1", "{\"bytes\":1}", 0, &rev), 0);
        store_close(st);

        if (use_etcd) /* the data must be on etcd's disk, not only in its memory */
                for (size_t i = 0; i < etcd.n; i++)
                        assert_int_equal(etcd_fixture_restart(&etcd, i), 0);

        st = open_store();
        assert_int_equal(store_load_migrations(st, &l, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(l[0].id, "m0");
        assert_int_equal(l[0].state, MIGRATION_BOUND);
        assert_string_equal(l[0].replacement_pod, "ns/p");
        assert_string_equal(l[1].id, "m1");
        assert_int_equal(l[1].state, MIGRATION_PLANNED);
        assert_int_equal(l[1].reservation_bytes, 42);
        assert_int_equal(l[1].target_numa_zone, 1);
        migration_list_free(l, n);
        uint64_t read = 0;
        assert_value(st, "leases/l1", "{\"bytes\":1}", &read);
        assert_int_equal(read, rev);

        /* The reopened store knows the revisions it loaded: it updates, not re-creates. */
        m.id = "m1";
        m.created_at_usec = 20;
        m.state = MIGRATION_EXPIRED;
        m.replacement_pod = NULL;
        assert_int_equal(store_save_migration(st, &m), 0);
        assert_int_equal(store_prune(st, 0), 0);
        assert_int_equal(store_load_migrations(st, &l, &n), 0);
        assert_int_equal(n, 0); /* both finished: pruned */
        migration_list_free(l, n);
        store_close(st);
}

static void sleep_ms(unsigned ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
}

static void test_ttl_lease(void **state)
{
        (void)state;
        struct sched_store *st = open_store();
        struct store_record rec = {};
        uint64_t lease = 0, rev = 0;

        assert_int_equal(store_lease_grant(st, 2, &lease), 0);
        assert_true(lease > 0);
        assert_int_equal(store_create(st, "ttl/k", "{\"v\":1}", lease, &rev), 0);
        assert_int_equal(store_get(st, "ttl/k", &rec), 0);
        assert_int_equal(rec.lease_id, lease);
        store_record_done(&rec);
        /* An update keeps the record under its lease. */
        assert_int_equal(store_update(st, "ttl/k", "{\"v\":2}", rev, NULL), 0);
        /* Kept alive past twice its TTL, it stays. */
        for (int i = 0; i < 8; i++) {
                sleep_ms(500);
                assert_int_equal(store_lease_keepalive(st, lease), 0);
        }
        assert_value(st, "ttl/k", "{\"v\":2}", NULL);

        /* Left alone, it goes (etcd checks expiry every 500 ms: allow some slack). */
        int waited_ms = 0;
        while (store_get(st, "ttl/k", &rec) == 0 && waited_ms < 10000) {
                store_record_done(&rec);
                sleep_ms(250);
                waited_ms += 250;
        }
        assert_int_equal(store_get(st, "ttl/k", &rec), -ENOENT);
        assert_true(waited_ms >= 1000); /* not before its TTL */
        assert_int_equal(store_lease_keepalive(st, lease), -ENOENT);
        assert_int_equal(store_create(st, "ttl/other", "{}", lease, NULL), -ENOENT);
        /* The key is free for anyone again. */
        assert_int_equal(store_create(st, "ttl/k", "{}", 0, NULL), 0);

        /* Revoking drops the lease's records at once. */
        assert_int_equal(store_lease_grant(st, 60, &lease), 0);
        assert_int_equal(store_create(st, "ttl/r", "{}", lease, NULL), 0);
        assert_int_equal(store_lease_revoke(st, lease), 0);
        assert_int_equal(store_get(st, "ttl/r", &rec), -ENOENT);
        store_close(st);
}

static void *watch_writer(void *arg)
{
        (void)arg;
        struct sched_store *st = NULL;
        uint64_t rev = 0;
        sleep_ms(300); /* let the watch start waiting */
        if (store_open_with(&opts, &st) < 0)
                return NULL;
        if (store_create(st, "w/a", "\"1\"", 0, &rev) >= 0 &&
            store_create(st, "elsewhere/x", "{}", 0, NULL) >= 0 &&
            store_update(st, "w/a", "\"2\"", rev, &rev) >= 0)
                (void)store_delete(st, "w/a", rev);
        store_close(st);
        return NULL;
}

/* Another writer's changes reach a watcher in order; an idle watch returns when its time is up.
 * SQLite has no other writer to watch for. */
static void test_watch(void **state)
{
        (void)state;
        struct sched_store *st = open_store();
        struct store_record *l = NULL;
        struct store_event *ev = NULL;
        size_t n = 0, n_ev = 0;
        uint64_t at = 0, now_rev = 0;

        assert_int_equal(store_create(st, "w/old", "{}", 0, NULL), 0);
        assert_int_equal(store_list_at(st, "w/", &l, &n, &at), 0);
        assert_int_equal(n, 1);
        assert_true(at >= l[0].mod_revision);
        store_record_list_free(l, n);
        if (!use_etcd) {
                assert_int_equal(store_watch(st, "w/", at, 100, &ev, &n_ev, &now_rev), -EOPNOTSUPP);
                store_close(st);
                return;
        }

        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, watch_writer, NULL), 0);
        enum store_event_type want_type[] = { STORE_EVENT_PUT, STORE_EVENT_PUT,
                                              STORE_EVENT_DELETE };
        const char *want_value[] = { "\"1\"", "\"2\"", "" };
        size_t seen = 0;
        uint64_t last = at;
        for (int round = 0; round < 10 && seen < 3; round++) {
                assert_int_equal(store_watch(st, "w/", last, 5000, &ev, &n_ev, &now_rev), 0);
                for (size_t i = 0; i < n_ev; i++, seen++) {
                        assert_true(seen < 3); /* "elsewhere/x" is not under w/ */
                        assert_string_equal(ev[i].rec.key, "w/a");
                        assert_int_equal(ev[i].type, want_type[seen]);
                        assert_string_equal(ev[i].rec.value, want_value[seen]);
                        assert_true(ev[i].rec.mod_revision > last);
                        last = ev[i].rec.mod_revision;
                }
                assert_int_equal(now_rev, last);
                store_event_list_free(ev, n_ev);
        }
        pthread_join(t, NULL);
        assert_int_equal(seen, 3);

        /* Nothing more: the watch gives up after its timeout, still current to last. */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        assert_int_equal(store_watch(st, "w/", last, 400, &ev, &n_ev, &now_rev), 0);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        assert_int_equal(n_ev, 0);
        assert_int_equal(now_rev, last);
        assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >= 350);
        store_event_list_free(ev, n_ev);

        /* A watch from before the record was there replays its history. */
        assert_int_equal(store_watch(st, "w/", at, 2000, &ev, &n_ev, &now_rev), 0);
        assert_true(n_ev >= 1);
        assert_string_equal(ev[0].rec.value, "\"1\"");
        store_event_list_free(ev, n_ev);
        store_close(st);
}

/* etcd over TLS only: without a client certificate the store does not open. */
static void test_tls_needs_client_cert(void **state)
{
        (void)state;
        struct sched_store *st = NULL;
        struct store_options o = opts;
        o.etcd_cert = o.etcd_key = NULL;
        assert_true(store_open_with(&o, &st) < 0);
        o = opts;
        o.etcd_ca = NULL; /* nor when etcd's certificate cannot be checked */
        assert_true(store_open_with(&o, &st) < 0);
        st = open_store();
        store_close(st);
}

/* Makes certificates and starts a TLS-only etcd; 0 when there is no openssl to make them. */
static int run_tls_group(void)
{
        const struct CMUnitTest tls[] = {
                cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
                cmocka_unit_test_setup_teardown(test_tls_needs_client_cert, setup, teardown),
        };
        char certs[64] = "/tmp/memsched-certs-XXXXXX";
        char cmd[128];
        int r;
        if (!mkdtemp(certs))
                return 1;
        r = etcd_fixture_make_certs(certs);
        if (r == -ENOENT) {
                fprintf(stderr, "*** SKIPPING the TLS cases: no openssl command to make "
                                "certificates\n");
                return 0;
        }
        if (r < 0 || etcd_fixture_start_tls(&etcd_tls, 1, certs) < 0) {
                fprintf(stderr, "Failed to make certificates or start etcd over TLS (%s)\n", certs);
                return 1;
        }
        cur = &etcd_tls;
        r = cmocka_run_group_tests_name("store-etcd-tls", tls, NULL, NULL);
        cur = &etcd;
        etcd_fixture_stop(&etcd_tls);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", certs);
        (void)!system(cmd);
        return r;
}

/* SQLite only: a file written before revisions existed opens, keeps its plans, and updates. */
static void test_sqlite_schema1_upgrade(void **state)
{
        (void)state;
        sqlite3 *db = NULL;
        assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
        assert_int_equal(
            sqlite3_exec(db,
                         "CREATE TABLE migrations (id TEXT PRIMARY KEY, state TEXT NOT NULL,"
                         " created_at_usec INTEGER NOT NULL, body TEXT NOT NULL);"
                         "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);"
                         "INSERT INTO meta VALUES ('schema_version', '1');"
                         "INSERT INTO migrations VALUES ('old', 'planned', 5, '{\"id\":\"old\","
                         "\"state\":\"planned\",\"source_node\":\"a\",\"target_node\":\"b\","
                         "\"pod\":{\"uid\":\"u\",\"qos\":\"Burstable\",\"working_set_bytes\":0},"
                         "\"reservation_bytes\":7,\"target_numa_zone\":null,\"reason\":\"r\","
                         "\"created_at_usec\":5,\"expires_at_usec\":9,\"replacement_pod\":null}');",
                         NULL, NULL, NULL),
            SQLITE_OK);
        sqlite3_close(db);

        struct sched_store *st = open_store();
        struct migration *l;
        size_t n;
        assert_int_equal(store_load_migrations(st, &l, &n), 0);
        assert_int_equal(n, 1);
        assert_string_equal(l[0].id, "old");
        assert_int_equal(l[0].reservation_bytes, 7);
        l[0].state = MIGRATION_EXPIRED;
        assert_int_equal(store_save_migration(st, &l[0]), 0);
        migration_list_free(l, n);
        store_close(st);

        assert_int_equal(sqlite3_open(db_path, &db), SQLITE_OK);
        sqlite3_stmt *q;
        assert_int_equal(sqlite3_prepare_v2(db,
                                            "SELECT state, mod_revision FROM migrations"
                                            " WHERE id = 'old'",
                                            -1, &q, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(q), SQLITE_ROW);
        assert_string_equal((const char *)sqlite3_column_text(q, 0), "expired");
        assert_true(sqlite3_column_int64(q, 1) > 1);
        sqlite3_finalize(q);
        sqlite3_close(db);

        assert_true(store_open("/nonexistent-dir/x.db", &st) < 0);
}

int main(int argc, char **argv)
{
        const char *backend = argc > 1 ? argv[1] : "sqlite";
        const struct CMUnitTest common[] = {
                cmocka_unit_test_setup_teardown(test_crud, setup, teardown),
                cmocka_unit_test_setup_teardown(test_cas_two_writers, setup, teardown),
                cmocka_unit_test_setup_teardown(test_grant_race, setup, teardown),
                cmocka_unit_test_setup_teardown(test_restart_persistence, setup, teardown),
                cmocka_unit_test_setup_teardown(test_ttl_lease, setup, teardown),
                cmocka_unit_test_setup_teardown(test_watch, setup, teardown),
        };
        const struct CMUnitTest sqlite_only[] = {
                cmocka_unit_test_setup_teardown(test_sqlite_schema1_upgrade, setup, teardown),
        };
        int r;

        if (strcmp(backend, "sqlite") == 0) {
                r = cmocka_run_group_tests_name("store-sqlite", common, NULL, NULL);
                return r |
                       cmocka_run_group_tests_name("store-sqlite-only", sqlite_only, NULL, NULL);
        }
        if (strcmp(backend, "etcd") != 0) {
                fprintf(stderr, "usage: %s [sqlite|etcd]\n", argv[0]);
                return 2;
        }
        if (!etcd_fixture_available())
                return etcd_fixture_must_run() ? 1 : 77;
        use_etcd = true;
        if (etcd_fixture_start(&etcd, 1) < 0) {
                fprintf(stderr, "Failed to start etcd on loopback\n");
                return 1;
        }
        r = cmocka_run_group_tests_name("store-etcd", common, NULL, NULL);
        etcd_fixture_stop(&etcd);
        return r | run_tls_group();
}
