// SPDX-License-Identifier: Apache-2.0
// Pressure levels with hysteresis, driven by synthetic series of samples.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include "agent/decide/pressure.h"

#define MiB (1024ull * 1024)
#define SEC 1000000ull

static const struct pressure_params params = {
        .avail_low_bytes = 200 * MiB,
        .avail_medium_bytes = 100 * MiB,
        .avail_critical_bytes = 50 * MiB,
        .psi_low_some = 10,
        .psi_medium_full = 10,
        .psi_critical_full = 40,
        .raise_samples = 2,
        .clear_hold_usec = 5 * SEC,
};

/* One sample at t seconds with this much available and no PSI. */
static enum pressure_level feed(struct pressure_state *st, double t, uint64_t avail)
{
        struct pressure_input in = { .total_bytes = 1024 * MiB,
                                     .available_bytes = avail,
                                     .now_usec = (uint64_t)(t * SEC) };
        return pressure_update(st, &params, &in);
}

static void test_one_spike_does_not_act(void **state)
{
        (void)state;
        struct pressure_state st = { 0 };
        assert_int_equal(feed(&st, 1, 500 * MiB), LEVEL_NONE);
        assert_int_equal(feed(&st, 2, 10 * MiB), LEVEL_NONE); /* one sample below critical */
        assert_int_equal(st.raw, LEVEL_CRITICAL);
        assert_int_equal(feed(&st, 3, 500 * MiB), LEVEL_NONE); /* gone again: streak broken */
        assert_int_equal(feed(&st, 4, 10 * MiB), LEVEL_NONE);
        assert_int_equal(feed(&st, 5, 10 * MiB), LEVEL_CRITICAL); /* two in a row: act */
}

static void test_rises_to_lowest_level_of_streak(void **state)
{
        (void)state;
        struct pressure_state st = { 0 };
        feed(&st, 1, 80 * MiB);                                 /* medium */
        assert_int_equal(feed(&st, 2, 10 * MiB), LEVEL_MEDIUM); /* then critical: streak min */
        assert_int_equal(feed(&st, 3, 10 * MiB), LEVEL_MEDIUM); /* new streak starts */
        assert_int_equal(feed(&st, 4, 10 * MiB), LEVEL_CRITICAL);
}

static void test_one_quiet_sample_does_not_clear(void **state)
{
        (void)state;
        struct pressure_state st = { 0 };
        feed(&st, 1, 10 * MiB);
        assert_int_equal(feed(&st, 2, 10 * MiB), LEVEL_CRITICAL);
        assert_int_equal(feed(&st, 3, 900 * MiB), LEVEL_CRITICAL);  /* quiet, hold starts */
        assert_int_equal(feed(&st, 7, 900 * MiB), LEVEL_CRITICAL);  /* 4 s < 5 s hold */
        assert_int_equal(feed(&st, 7.5, 10 * MiB), LEVEL_CRITICAL); /* back up: hold resets */
        assert_int_equal(feed(&st, 8, 900 * MiB), LEVEL_CRITICAL);
        assert_int_equal(feed(&st, 12.9, 900 * MiB), LEVEL_CRITICAL);
        assert_int_equal(feed(&st, 13.1, 900 * MiB), LEVEL_NONE); /* 5.1 s quiet: clears */
}

static void test_clears_to_the_level_seen(void **state)
{
        (void)state;
        struct pressure_state st = { 0 };
        feed(&st, 1, 10 * MiB);
        feed(&st, 2, 10 * MiB);
        feed(&st, 3, 150 * MiB); /* low, below critical */
        assert_int_equal(feed(&st, 9, 150 * MiB), LEVEL_LOW);
}

static void test_psi_stall_share_from_totals(void **state)
{
        (void)state;
        struct pressure_state st = { 0 };
        struct pressure_input in = { .total_bytes = 1024 * MiB,
                                     .available_bytes = 900 * MiB,
                                     .has_psi = true,
                                     .now_usec = 1 * SEC };
        pressure_update(&st, &params, &in); /* first sample: no previous totals */
        assert_int_equal(st.raw, LEVEL_NONE);
        /* 0.5 s of full stall in 1 s: 50 % >= critical 40 % */
        in.now_usec = 2 * SEC;
        in.psi_full_total_usec = 500000;
        in.psi_some_total_usec = 600000;
        pressure_update(&st, &params, &in);
        assert_int_equal(st.raw, LEVEL_CRITICAL);
        assert_true(st.full_pct > 49.9 && st.full_pct < 50.1);
        assert_true(st.some_pct > 59.9 && st.some_pct < 60.1);
        /* 0.15 s of 1 s full: medium */
        in.now_usec = 3 * SEC;
        in.psi_full_total_usec += 150000;
        in.psi_some_total_usec += 150000;
        pressure_update(&st, &params, &in);
        assert_int_equal(st.raw, LEVEL_MEDIUM);
        /* some only, 20 %: low */
        in.now_usec = 4 * SEC;
        in.psi_some_total_usec += 200000;
        pressure_update(&st, &params, &in);
        assert_int_equal(st.raw, LEVEL_LOW);
        /* counters reset (cgroup recreated): not a stall */
        in.now_usec = 5 * SEC;
        in.psi_some_total_usec = 0;
        in.psi_full_total_usec = 0;
        pressure_update(&st, &params, &in);
        assert_int_equal(st.raw, LEVEL_NONE);
}

static void test_zero_psi_threshold_disables(void **state)
{
        (void)state;
        struct pressure_params p = params;
        p.psi_low_some = 0;
        p.psi_medium_full = 0;
        p.psi_critical_full = 0;
        struct pressure_state st = { 0 };
        struct pressure_input in = { .total_bytes = 1024 * MiB,
                                     .available_bytes = 900 * MiB,
                                     .has_psi = true,
                                     .now_usec = SEC };
        pressure_update(&st, &p, &in);
        in.now_usec = 2 * SEC; /* no stall at all: must not read as >= 0 % */
        pressure_update(&st, &p, &in);
        assert_int_equal(st.raw, LEVEL_NONE);
        in.now_usec = 3 * SEC;
        in.psi_full_total_usec = 900000; /* 90 % stalled, but every PSI threshold is off */
        in.psi_some_total_usec = 900000;
        pressure_update(&st, &p, &in);
        assert_int_equal(st.raw, LEVEL_NONE);
}

static void test_raise_samples_one_acts_at_once(void **state)
{
        (void)state;
        struct pressure_params p = params;
        p.raise_samples = 1;
        struct pressure_state st = { 0 };
        struct pressure_input in = { .total_bytes = 1024 * MiB,
                                     .available_bytes = 10 * MiB,
                                     .now_usec = SEC };
        assert_int_equal(pressure_update(&st, &p, &in), LEVEL_CRITICAL);
}

static void test_describe(void **state)
{
        (void)state;
        struct pressure_state st = { 0 };
        feed(&st, 1, 80 * MiB);
        char buf[192];
        pressure_describe(&st, buf, sizeof(buf));
        assert_non_null(strstr(buf, "available 80.0 MiB of 1.0 GiB (7.8%)"));
        assert_string_equal(pressure_level_to_string(LEVEL_CRITICAL), "critical");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_spike_does_not_act),
                cmocka_unit_test(test_rises_to_lowest_level_of_streak),
                cmocka_unit_test(test_one_quiet_sample_does_not_clear),
                cmocka_unit_test(test_clears_to_the_level_seen),
                cmocka_unit_test(test_psi_stall_share_from_totals),
                cmocka_unit_test(test_zero_psi_threshold_disables),
                cmocka_unit_test(test_raise_samples_one_acts_at_once),
                cmocka_unit_test(test_describe),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
