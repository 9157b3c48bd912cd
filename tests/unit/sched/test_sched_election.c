// SPDX-License-Identifier: Apache-2.0
// Leader election on a real three-member etcd cluster on loopback, started by the test: one
// leader among three campaigners; it keeps the key while it renews; when its renewals stop (as
// when it dies) another campaigner wins within the lease TTL; the old leader then knows it lost;
// an etcd member going away changes nothing; resigning hands over at once.
// Without the etcd binary: a loud skip (77), or a failure under CI=true.
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

#include "common/clock.h"
#include "etcd_fixture.h"
#include "scheduler/cluster.h"
#include "scheduler/store-election.h"

#define N       3
#define TTL_SEC 2

static struct etcd_fixture etcd;

struct replica {
        char endpoints[320];
        char name[16];
        struct sched_store *st;
        struct election *e;
};

static void sleep_ms(unsigned ms)
{
        struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000 };
        nanosleep(&ts, NULL);
}

/* Steps every replica whose bit is set in mask; returns how many believe they lead. */
static int step(struct replica *r, unsigned mask, int *ret_leader)
{
        int leaders = 0;
        for (int i = 0; i < N; i++) {
                if (!(mask & (1u << i)))
                        continue;
                int s = election_step(r[i].e);
                assert_true(s == 0 || s == 1 || s < 0);
                if (election_is_leader(r[i].e)) {
                        leaders++;
                        *ret_leader = i;
                }
        }
        return leaders;
}

static void assert_key_held_by(struct replica *r, int i)
{
        struct store_record rec = {};
        assert_int_equal(store_get(r[0].st, "leader", &rec), 0);
        assert_string_equal(rec.value, r[i].name);
        store_record_done(&rec);
}

static void test_failover(void **state)
{
        (void)state;
        struct replica r[N] = {};
        int leader = -1;

        for (int i = 0; i < N; i++) {
                /* Each replica asks a different member first. */
                char a[64], b[64], c[64];
                etcd_fixture_url(&etcd, (size_t)i, a, sizeof(a));
                etcd_fixture_url(&etcd, (size_t)(i + 1) % N, b, sizeof(b));
                etcd_fixture_url(&etcd, (size_t)(i + 2) % N, c, sizeof(c));
                snprintf(r[i].endpoints, sizeof(r[i].endpoints), "%s,%s,%s", a, b, c);
                snprintf(r[i].name, sizeof(r[i].name), "replica-%d", i);
                struct store_options o = { .etcd_endpoints = r[i].endpoints,
                                           .etcd_prefix = "/election-test/" };
                assert_int_equal(store_open_with(&o, &r[i].st), 0);
                assert_int_equal(election_new(r[i].st, "leader", r[i].name, TTL_SEC, &r[i].e), 0);
        }

        /* One winner; the others see who. */
        assert_int_equal(step(r, 0x7, &leader), 1);
        assert_int_equal(leader, 0); /* the first to campaign */
        assert_key_held_by(r, 0);
        for (int i = 1; i < N; i++)
                assert_string_equal(election_leader_identity(r[i].e), "replica-0");

        /* Renewing, it keeps the key well past its TTL; nobody else ever leads. */
        for (int k = 0; k < 10; k++) {
                sleep_ms(400);
                assert_int_equal(step(r, 0x7, &leader), 1);
                assert_int_equal(leader, 0);
        }

        /* The leader stops renewing (its process died, or its keep-alive is cut). */
        uint64_t stopped_usec = now_usec(CLOCK_MONOTONIC);
        int next = -1;
        while (now_usec(CLOCK_MONOTONIC) - stopped_usec < (TTL_SEC + 4) * 1000000ULL) {
                sleep_ms(200);
                if (step(r, 0x6, &next) == 1)
                        break;
        }
        uint64_t took_usec = now_usec(CLOCK_MONOTONIC) - stopped_usec;
        print_message("new leader replica-%d after %.2f s (lease TTL %d s)\n", next,
                      (double)took_usec / 1e6, TTL_SEC);
        assert_true(next == 1 || next == 2);
        /* Not while the old lease lived, and within the TTL plus etcd's 500 ms expiry check, one
         * step period and round trips on a loaded machine (1.5 s in all). */
        assert_true(took_usec >= 1000000);
        assert_true(took_usec <= (TTL_SEC * 1000 + 1500) * 1000ULL);
        assert_key_held_by(r, next);
        /* The old leader no longer believes it leads, even before it steps again... */
        assert_false(election_is_leader(r[0].e));
        /* ...and on its next step learns that it lost. */
        assert_int_equal(election_step(r[0].e), 0);
        assert_string_equal(election_leader_identity(r[0].e), r[next].name);
        assert_int_equal(step(r, 0x7, &leader), 1);
        assert_int_equal(leader, next);

        /* The etcd member the new leader asks first goes away: the leader stays, alone. */
        etcd_fixture_kill(&etcd, (size_t)next);
        int leaders = 0;
        for (int k = 0; k < 10; k++) {
                sleep_ms(300);
                leaders = step(r, 0x7, &leader);
                assert_true(leaders <= 1);
        }
        assert_int_equal(leaders, 1);
        assert_int_equal(leader, next);
        assert_key_held_by(r, next);

        /* Resigning hands over on the next step, without waiting for the TTL. */
        assert_int_equal(election_resign(r[next].e), 0);
        assert_false(election_is_leader(r[next].e));
        unsigned others = 0x7 & ~(1u << next);
        assert_int_equal(step(r, others, &leader), 1);
        assert_true(leader != next);

        for (int i = 0; i < N; i++) {
                election_free(r[i].e);
                store_close(r[i].st);
        }
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_failover),
        };
        if (!etcd_fixture_available())
                return etcd_fixture_must_run() ? 1 : 77;
        if (etcd_fixture_start(&etcd, N) < 0) {
                fprintf(stderr, "Failed to start a three-member etcd cluster on loopback\n");
                return 1;
        }
        int r = cmocka_run_group_tests_name("election-etcd", tests, NULL, NULL);
        etcd_fixture_stop(&etcd);
        return r;
}
