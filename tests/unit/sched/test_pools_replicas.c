// SPDX-License-Identifier: Apache-2.0
// Two memschedd replicas' lease brokers on one etcd (started by the test on loopback): what one
// grants or revokes, the other sees at its next request, and expiry written by one is the
// other's too. Without the etcd binary: a loud skip (77), or a failure under CI=true.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/clock.h"
#include "etcd_fixture.h"
#include "scheduler/pools-service.h"
#include "scheduler/store.h"

#define GiB (1024ull * 1024 * 1024)
#define SEC 1000000ull

static struct etcd_fixture etcd;

static struct pool_offer offer(const char *node)
{
        struct pool_offer o = { .bytes = 4 * GiB, .slab_bytes = GiB, .n_transports = 1 };
        snprintf(o.node, sizeof(o.node), "%s", node);
        o.transports[0] = (struct pool_transport){ .kind = POOL_TRANSPORT_RDMA, .port = 7471 };
        snprintf(o.transports[0].address, sizeof(o.transports[0].address), "10.0.0.2");
        return o;
}

static void two_replicas_share_leases(void **state)
{
        (void)state;
        struct store_options so = { .etcd_endpoints = etcd.endpoints,
                                    .etcd_prefix = "/pools-test/" };
        struct sched_store *sa, *sb;
        struct pool_service *a, *b;
        assert_int_equal(store_open_with(&so, &sa), 0);
        assert_int_equal(store_open_with(&so, &sb), 0);
        assert_int_equal(pool_service_open(sa, &(struct pools_config){}, &a), 0);
        assert_int_equal(pool_service_open(sb, &(struct pools_config){}, &b), 0);
        uint64_t now = now_usec(CLOCK_REALTIME);

        /* Replica a takes two offers and grants a durable lease. */
        struct pools *p = pool_service_begin(a, now);
        struct pool_offer o1 = offer("d1"), o2 = offer("d2");
        assert_int_equal(pools_offer_put(p, &o1, now), 1);
        assert_int_equal(pools_offer_put(p, &o2, now), 1);
        struct lease_request q = { .node = "c1", .bytes = GiB, .ttl_sec = 5, .durable = true };
        const struct lease *l;
        assert_int_equal(pools_lease_grant(p, &q, &a->rng, now, &l), 1);
        char id[LEASE_ID_MAX], token[LEASE_TOKEN_MAX];
        snprintf(id, sizeof(id), "%s", l->id);
        snprintf(token, sizeof(token), "%s", l->slabs[0].token);
        assert_int_equal(pool_service_end(a), 0);

        /* Replica b sees them, tokens and all, and its own grant avoids the slabs taken. */
        p = pool_service_begin(b, now + SEC);
        assert_int_equal(p->n_donors, 2);
        l = pools_lease_find(p, id);
        assert_non_null(l);
        assert_string_equal(l->slabs[0].token, token);
        struct pools_totals t;
        pools_totals(p, &t);
        assert_int_equal(t.leased_bytes, 2 * GiB);
        /* A donor withdraws through b: the revocation is a's too. */
        assert_int_equal(pools_offer_withdraw(p, "d2", now + SEC), 0);
        assert_int_equal(pool_service_end(b), 0);
        p = pool_service_begin(a, now + 2 * SEC);
        assert_int_equal(p->n_donors, 1);
        l = pools_lease_find(p, id);
        assert_int_equal(l->epoch, 2);
        size_t revoked = 0;
        for (size_t j = 0; j < l->n_slabs; j++)
                revoked += l->slabs[j].revoked && strcmp(l->slabs[j].donor, "d2") == 0;
        assert_int_equal(revoked, 1);
        assert_int_equal(pool_service_end(a), 0);

        /* Expiry swept by b is seen by a; a release by a is gone for b. */
        p = pool_service_begin(b, now + 6 * SEC);
        assert_int_equal(pools_lease_find(p, id)->state, LEASE_EXPIRED);
        assert_int_equal(pool_service_end(b), 0);
        p = pool_service_begin(a, now + 6 * SEC);
        assert_int_equal(pools_lease_find(p, id)->state, LEASE_EXPIRED);
        assert_int_equal(pools_lease_release(p, id), 0);
        assert_int_equal(pool_service_end(a), 0);
        p = pool_service_begin(b, now + 7 * SEC);
        assert_null(pools_lease_find(p, id));
        assert_int_equal(pool_service_end(b), 0);

        pool_service_free(a);
        pool_service_free(b);
        store_close(sa);
        store_close(sb);
}

/* One donor with one free slab; both replicas read it free and grant it at once. The leases are
 * written guarded by the donor's offer: the first lands, the second is refused (the route
 * answers 503 and the consumer retries) and its replica drops the grant; both then see one
 * lease on the slab. Without the guard both writes land and the slab is granted twice. */
static void two_replicas_race_for_one_slab(void **state)
{
        (void)state;
        struct store_options so = { .etcd_endpoints = etcd.endpoints,
                                    .etcd_prefix = "/pools-race/" };
        struct sched_store *sa, *sb;
        struct pool_service *a, *b;
        assert_int_equal(store_open_with(&so, &sa), 0);
        assert_int_equal(store_open_with(&so, &sb), 0);
        assert_int_equal(pool_service_open(sa, &(struct pools_config){}, &a), 0);
        assert_int_equal(pool_service_open(sb, &(struct pools_config){}, &b), 0);
        uint64_t now = now_usec(CLOCK_REALTIME);

        struct pools *p = pool_service_begin(a, now);
        struct pool_offer o = offer("d1");
        o.bytes = GiB;
        assert_int_equal(pools_offer_put(p, &o, now), 1);
        assert_int_equal(pool_service_end(a), 0);

        struct lease_request qa = { .id = "lease-a", .node = "c1", .bytes = GiB, .ttl_sec = 30 };
        struct lease_request qb = { .id = "lease-b", .node = "c2", .bytes = GiB, .ttl_sec = 30 };
        const struct lease *l;
        struct pools *pa = pool_service_begin(a, now + SEC);
        struct pools *pb = pool_service_begin(b, now + SEC);
        assert_int_equal(pools_lease_grant(pa, &qa, &a->rng, now + SEC, &l), 1);
        assert_int_equal(pools_lease_grant(pb, &qb, &b->rng, now + SEC, &l), 1);
        assert_int_equal(pool_service_end(a), 0);
        assert_int_equal(pool_service_end(b), -ESTALE);

        for (int i = 0; i < 2; i++) {
                struct pool_service *s = i ? b : a;
                p = pool_service_begin(s, now + 2 * SEC);
                assert_non_null(pools_lease_find(p, "lease-a"));
                assert_null(pools_lease_find(p, "lease-b"));
                struct pools_totals t;
                pools_totals(p, &t);
                assert_int_equal(t.leased_bytes, GiB);
                assert_int_equal(t.free_bytes, 0);
                assert_int_equal(pool_service_end(s), 0);
        }
        pool_service_free(a);
        pool_service_free(b);
        store_close(sa);
        store_close(sb);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(two_replicas_share_leases),
                cmocka_unit_test(two_replicas_race_for_one_slab),
        };
        if (!etcd_fixture_available())
                return etcd_fixture_must_run() ? 1 : 77;
        if (etcd_fixture_start(&etcd, 1) < 0) {
                fprintf(stderr, "Failed to start etcd on loopback\n");
                return 1;
        }
        int r = cmocka_run_group_tests_name("pools-replicas-etcd", tests, NULL, NULL);
        etcd_fixture_stop(&etcd);
        return r;
}
