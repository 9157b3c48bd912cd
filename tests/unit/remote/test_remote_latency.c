// SPDX-License-Identifier: Apache-2.0
// The per-donor latency figures of remote swap (agent/remote/latency.c): log2 slots, counts of
// transfers and failures, and the p50/p99 that `memagent status` shows.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "agent/remote/latency.h"

static void test_empty(void **state)
{
        (void)state;
        struct remote_latency l = {};
        assert_int_equal(remote_latency_quantile_usec(&l, 0.5), 0);
        assert_int_equal(remote_latency_quantile_usec(&l, 0.99), 0);
}

static void test_slots(void **state)
{
        (void)state;
        struct remote_latency l = {};
        remote_latency_add(&l, 0, true);
        remote_latency_add(&l, 1, true);
        remote_latency_add(&l, 2, true);    /* [2, 4) */
        remote_latency_add(&l, 3, true);    /* [2, 4) */
        remote_latency_add(&l, 1000, true); /* [512, 1024) */
        remote_latency_add(&l, 1024, false);
        remote_latency_add(&l, UINT64_MAX / 4, false); /* the last slot */
        assert_int_equal(l.slots[0], 2);
        assert_int_equal(l.slots[1], 2);
        assert_int_equal(l.slots[9], 1);
        assert_int_equal(l.slots[10], 1);
        assert_int_equal(l.slots[REMOTE_LATENCY_SLOTS - 1], 1);
        assert_int_equal(l.ops, 7);
        assert_int_equal(l.errors, 2);
        assert_int_equal(remote_latency_slot_upper_usec(0), 2);
        assert_int_equal(remote_latency_slot_upper_usec(9), 1024);
        assert_true(remote_latency_slot_upper_usec(REMOTE_LATENCY_SLOTS - 1) == UINT64_MAX);
}

static void test_quantiles(void **state)
{
        (void)state;
        /* 98 transfers of 300 usec (RDMA-like) and 2 of 40 ms: p50 within the 300 usec slot
         * [256, 512), p99 within the 40 ms one [32768, 65536). */
        struct remote_latency l = {};
        for (int i = 0; i < 98; i++)
                remote_latency_add(&l, 300, true);
        remote_latency_add(&l, 40000, true);
        remote_latency_add(&l, 40000, true);
        uint64_t p50 = remote_latency_quantile_usec(&l, 0.50);
        uint64_t p99 = remote_latency_quantile_usec(&l, 0.99);
        assert_in_range(p50, 256, 512);
        assert_in_range(p99, 32768, 65536);
        assert_in_range(remote_latency_quantile_usec(&l, 1.0), 32768, 65536);
        /* Interpolated: the 50th of 98 in one slot sits about half way through it. */
        assert_in_range(p50, 370, 400);

        /* Merged figures are the figures of both. */
        struct remote_latency m = {};
        remote_latency_merge(&m, &l);
        remote_latency_merge(&m, &l);
        assert_int_equal(m.ops, 200);
        assert_int_equal(m.sum_usec, 2 * l.sum_usec);
        assert_int_equal(remote_latency_quantile_usec(&m, 0.5), p50);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_empty),
                cmocka_unit_test(test_slots),
                cmocka_unit_test(test_quantiles),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
