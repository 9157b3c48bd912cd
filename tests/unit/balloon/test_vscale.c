// SPDX-License-Identifier: Apache-2.0
// The loan logic: lend when near the limit and the node can afford it, within the ceiling; take
// back gradually when the working set recedes; stand back when someone else writes the limit.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include "agent/decide/vscale.h"

#define MiB (1024ull * 1024)
#define SEC 1000000ull

static const struct vscale_params params = {
        .step_bytes = 64 * MiB,     /* 25% of 256 MiB */
        .ceiling_bytes = 128 * MiB, /* 50% of 256 MiB */
        .return_hold_usec = 30 * SEC,
};

/* A Burstable container with limit 256 MiB, memory.high 230 MiB, in a pod limited to 256 MiB. */
static struct vscale_input base(uint64_t t, uint64_t ws)
{
        return (struct vscale_input){
                .now_usec = t * SEC,
                .current_bytes = ws,
                .working_set_bytes = ws,
                .max_bytes = 256 * MiB,
                .high_bytes = 230 * MiB,
                .pod_max_bytes = 256 * MiB,
                .headroom_bytes = 1024 * MiB,
        };
}

/* Decide, and apply like the caller does: the limits in `in` follow what was written. */
static enum vscale_action step(struct vscale_loan *l, struct vscale_input *in,
                               struct vscale_decision *d)
{
        vscale_decide(&params, l, in, d);
        if (d->action == VSCALE_LOAN || d->action == VSCALE_RETURN) {
                vscale_applied(l, in, d);
                in->max_bytes = d->new_max;
                if (d->new_high != VSCALE_NO_LIMIT)
                        in->high_bytes = d->new_high;
                if (d->new_pod_max != VSCALE_NO_LIMIT)
                        in->pod_max_bytes = d->new_pod_max;
        }
        return d->action;
}

static void test_far_from_limit_nothing(void **state)
{
        (void)state;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 100 * MiB);
        struct vscale_decision d;
        assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
        in.max_bytes = in.pod_max_bytes = VSCALE_NO_LIMIT; /* no limit: nothing to hit */
        in.working_set_bytes = 4096 * MiB;
        assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
}

static void test_lends_when_near_and_affordable(void **state)
{
        (void)state;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 200 * MiB);
        struct vscale_decision d;
        /* 200 MiB is 78% of 256: not near... */
        assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
        /* ...but growing 16 MiB/s, it will be at 232 (90.6%) within the lead time. */
        in.growth_bytes_per_sec = 16 * MiB;
        assert_int_equal(step(&l, &in, &d), VSCALE_LOAN);
        assert_int_equal(d.bytes, 64 * MiB);
        assert_int_equal(d.old_max, 256 * MiB);
        assert_int_equal(d.new_max, 320 * MiB);
        assert_int_equal(d.new_high, 294 * MiB);    /* memory.high moves with it */
        assert_int_equal(d.new_pod_max, 320 * MiB); /* and the pod's limit, or it would bind */
        assert_true(l.active);
        assert_int_equal(l.orig_max, 256 * MiB);
        assert_int_equal(l.lent_bytes, 64 * MiB);
        assert_non_null(strstr(d.reason, "nearing its limit"));
}

static void test_ceiling_and_refusal_once(void **state)
{
        (void)state;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 250 * MiB);
        struct vscale_decision d;
        assert_int_equal(step(&l, &in, &d), VSCALE_LOAN); /* 320 */
        in.working_set_bytes = in.current_bytes = 310 * MiB;
        assert_int_equal(step(&l, &in, &d), VSCALE_LOAN); /* 384 = the ceiling */
        assert_int_equal(in.max_bytes, 384 * MiB);
        in.working_set_bytes = in.current_bytes = 380 * MiB;
        assert_int_equal(step(&l, &in, &d), VSCALE_REFUSED);
        assert_non_null(strstr(d.reason, "ceiling"));
        /* Said once per episode. */
        assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
        assert_int_equal(l.lent_bytes, 128 * MiB);
}

static void test_headroom_bounds_the_step(void **state)
{
        (void)state;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 250 * MiB);
        struct vscale_decision d;
        in.headroom_bytes = 40 * MiB; /* less than a step, more than a quarter of it */
        assert_int_equal(step(&l, &in, &d), VSCALE_LOAN);
        assert_int_equal(d.bytes, 40 * MiB);
        struct vscale_loan l2 = { 0 };
        struct vscale_input in2 = base(1, 250 * MiB);
        in2.headroom_bytes = 10 * MiB; /* under a quarter step: not worth it */
        assert_int_equal(step(&l2, &in2, &d), VSCALE_REFUSED);
        assert_non_null(strstr(d.reason, "the node can lend only"));
        assert_false(l2.active);
        assert_int_equal(in2.max_bytes, 256 * MiB);
}

static void test_limit_events_trigger(void **state)
{
        (void)state;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 210 * MiB); /* 82%: under the near mark */
        struct vscale_decision d;
        assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
        in.events_max = 5; /* the kernel hit the limit since the last sample */
        in.now_usec += SEC;
        assert_int_equal(step(&l, &in, &d), VSCALE_LOAN);
        assert_non_null(strstr(d.reason, "hitting its limit"));
}

static void test_returns_gradually(void **state)
{
        (void)state;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 250 * MiB);
        struct vscale_decision d;
        step(&l, &in, &d);
        in.working_set_bytes = in.current_bytes = 310 * MiB;
        step(&l, &in, &d);
        assert_int_equal(in.max_bytes, 384 * MiB);
        /* The working set recedes to 100 MiB: nothing before the hold is over. */
        in.working_set_bytes = in.current_bytes = 100 * MiB;
        uint64_t t;
        for (t = 10; t < 40; t++) {
                in.now_usec = t * SEC;
                assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
        }
        in.now_usec = 41 * SEC;
        assert_int_equal(step(&l, &in, &d), VSCALE_RETURN);
        assert_int_equal(d.bytes, 64 * MiB);
        assert_int_equal(in.max_bytes, 320 * MiB);
        assert_int_equal(in.high_bytes, 294 * MiB);
        assert_int_equal(in.pod_max_bytes, 320 * MiB);
        /* One step per hold: the next one 30 s later, back to the original limits. */
        in.now_usec = 50 * SEC;
        assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
        for (t = 51; t < 90 && l.active; t++) {
                in.now_usec = t * SEC;
                step(&l, &in, &d);
        }
        assert_false(l.active);
        assert_int_equal(in.max_bytes, 256 * MiB);
        assert_int_equal(in.high_bytes, 230 * MiB);
        assert_int_equal(in.pod_max_bytes, 256 * MiB);
        assert_true(t > 80);
}

static void test_no_return_while_working_set_is_high(void **state)
{
        (void)state;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 250 * MiB);
        struct vscale_decision d;
        step(&l, &in, &d); /* 320 */
        /* 260 MiB is 81% of 320 (not near) but more than 75% of 256: keep the loan. */
        in.working_set_bytes = in.current_bytes = 260 * MiB;
        for (uint64_t t = 2; t < 200; t++) {
                in.now_usec = t * SEC;
                assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
        }
        assert_int_equal(l.lent_bytes, 64 * MiB);
}

static void test_stands_back(void **state)
{
        (void)state;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 250 * MiB);
        struct vscale_decision d;
        step(&l, &in, &d); /* 320 */
        /* An operator sets memory.max to 400 MiB. */
        in.max_bytes = 400 * MiB;
        in.now_usec = 2 * SEC;
        assert_int_equal(step(&l, &in, &d), VSCALE_STAND_BACK);
        assert_non_null(strstr(d.reason, "memory.max"));
        assert_int_equal(d.bytes, 64 * MiB);
        assert_false(l.active);
        assert_true(l.stood_back);
        /* From now on: no loan, no return, whatever happens. */
        in.working_set_bytes = in.current_bytes = 395 * MiB;
        assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
        in.working_set_bytes = in.current_bytes = 10 * MiB;
        for (uint64_t t = 3; t < 100; t++) {
                in.now_usec = t * SEC;
                assert_int_equal(step(&l, &in, &d), VSCALE_NONE);
        }
        assert_int_equal(in.max_bytes, 400 * MiB);
        /* memory.high and the pod's limit count as well. */
        struct vscale_loan l2 = { 0 };
        struct vscale_input in2 = base(1, 250 * MiB);
        step(&l2, &in2, &d);
        in2.high_bytes = VSCALE_NO_LIMIT;
        assert_int_equal(step(&l2, &in2, &d), VSCALE_STAND_BACK);
        struct vscale_loan l3 = { 0 };
        struct vscale_input in3 = base(1, 250 * MiB);
        step(&l3, &in3, &d);
        in3.pod_max_bytes = 512 * MiB;
        assert_int_equal(step(&l3, &in3, &d), VSCALE_STAND_BACK);
        assert_non_null(strstr(d.reason, "pod"));
}

static void test_no_high_no_pod_limit(void **state)
{
        (void)state;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 250 * MiB);
        struct vscale_decision d;
        in.high_bytes = VSCALE_NO_LIMIT;
        in.pod_max_bytes = VSCALE_NO_LIMIT;
        assert_int_equal(step(&l, &in, &d), VSCALE_LOAN);
        assert_int_equal(d.new_high, VSCALE_NO_LIMIT); /* left as is */
        assert_int_equal(d.new_pod_max, VSCALE_NO_LIMIT);
        in.now_usec = 2 * SEC;
        assert_int_equal(step(&l, &in, &d), VSCALE_NONE); /* 250 of 320 is 78%: enough */
}

static void test_steps_in_whole_pages(void **state)
{
        (void)state;
        /* 20% of 256 MiB is not a whole number of pages; the kernel would read the limit back
         * rounded down, which must not look like someone else's write. */
        struct vscale_params odd = params;
        odd.step_bytes = 268435456 / 5;
        struct vscale_loan l = { 0 };
        struct vscale_input in = base(1, 250 * MiB);
        struct vscale_decision d;
        vscale_decide(&odd, &l, &in, &d);
        assert_int_equal(d.action, VSCALE_LOAN);
        assert_int_equal(d.new_max % 4096, 0);
        assert_int_equal(d.bytes % 4096, 0);
        vscale_applied(&l, &in, &d);
        in.max_bytes = d.new_max;
        in.high_bytes = d.new_high;
        in.pod_max_bytes = d.new_pod_max;
        in.working_set_bytes = in.current_bytes = 10 * MiB;
        for (uint64_t t = 2; t < 200 && l.active; t++) {
                in.now_usec = t * SEC;
                vscale_decide(&odd, &l, &in, &d);
                assert_int_not_equal(d.action, VSCALE_STAND_BACK);
                if (d.action == VSCALE_RETURN) {
                        vscale_applied(&l, &in, &d);
                        in.max_bytes = d.new_max & ~4095ull; /* as the kernel reads it back */
                        in.high_bytes = d.new_high & ~4095ull;
                        in.pod_max_bytes = d.new_pod_max & ~4095ull;
                }
        }
        assert_false(l.active);
        assert_int_equal(in.max_bytes, 256 * MiB);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_far_from_limit_nothing),
                cmocka_unit_test(test_lends_when_near_and_affordable),
                cmocka_unit_test(test_ceiling_and_refusal_once),
                cmocka_unit_test(test_headroom_bounds_the_step),
                cmocka_unit_test(test_limit_events_trigger),
                cmocka_unit_test(test_returns_gradually),
                cmocka_unit_test(test_no_return_while_working_set_is_high),
                cmocka_unit_test(test_stands_back),
                cmocka_unit_test(test_no_high_no_pod_limit),
                cmocka_unit_test(test_steps_in_whole_pages),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
