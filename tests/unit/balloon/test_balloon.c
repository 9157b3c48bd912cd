// SPDX-License-Identifier: Apache-2.0
// The balloon controller on synthetic containers: it settles at the working set, backs off at
// once when the stall rises, and respects every bound (request, unreclaimable part, step size,
// limit).
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include "agent/decide/balloon.h"
#include "common/macro.h"

#define MiB (1024ull * 1024)
#define SEC 1000000ull

static const struct balloon_params params = {
        .psi_target_pct = 0.1,
        .interval_usec = 2 * SEC,
        .step_pct = 2,
        .max_step_bytes = 8 * MiB,
        .min_margin_bytes = 16 * MiB,
};

/* A container with a hot working set: pages above it are cold (reclaim costs nothing); pages
 * reclaimed below it are refaulted at once, which stalls its tasks in proportion. */
struct sim {
        uint64_t now;
        uint64_t current, hot, anon_unswappable, file;
        uint64_t min, max;
        bool swap;
        uint64_t psi;
        uint64_t events_max;
        uint64_t lowest;
        uint64_t reclaimed;
        unsigned steps;
        uint64_t biggest_step;
        bool pressure;
        /* refaults: reported to the controller when refaults is set; the pages that come back
         * below the hot set, plus bg_refaults pages/s the container's own use causes (a cache
         * bigger than its share of memory); quiet: refaults add no stall (fast storage) */
        bool refaults, quiet;
        double bg_refaults, refault_rate;
};

static void sim_input(const struct sim *s, struct balloon_input *in)
{
        uint64_t anon = s->current > s->file ? s->current - s->file : 0;
        *in = (struct balloon_input){
                .now_usec = s->now,
                .current_bytes = s->current,
                .max_bytes = s->max ? s->max : UINT64_MAX,
                .protected_bytes = s->min,
                .file_lru_bytes = s->file,
                .anon_lru_bytes = anon > s->anon_unswappable ? anon : anon,
                .inactive_bytes = s->current > s->hot ? s->current - s->hot : 0,
                .anon_reclaimable = s->swap,
                .has_psi = true,
                .psi_some_total_usec = s->psi,
                .events_max = s->events_max,
                .pressure = s->pressure,
                .has_refault_rate = s->refaults,
                .refault_file_per_sec = s->refault_rate,
        };
}

/* One second of the simulated container and one controller sample. */
static enum balloon_verdict sim_tick(struct sim *s, struct balloon_state *st)
{
        struct balloon_input in;
        struct balloon_step step;
        s->now += SEC;
        s->refault_rate = s->bg_refaults;
        if (s->current < s->hot) {
                /* Refaults: 5 ms of stall per MiB missing, and the pages come back. */
                uint64_t missing = s->hot - s->current;
                uint64_t back = missing > 4 * MiB ? 4 * MiB : missing;
                if (!s->quiet)
                        s->psi += missing / MiB * 5000;
                s->current += back;
                if (!s->swap)
                        s->file += back;
                s->refault_rate += (double)(back / 4096);
        }
        sim_input(s, &in);
        balloon_update(st, &params, &in, &step);
        if (step.verdict == BALLOON_RECLAIM) {
                assert_true(step.bytes > 0);
                assert_true(step.bytes <=
                            params.max_step_bytes * (s->pressure ? BALLOON_PRESSURE_BOOST : 1));
                assert_true(s->current - step.bytes >= step.floor_bytes);
                balloon_commit(st, &params, s->pressure, s->now);
                uint64_t b = step.bytes;
                if (!s->swap) {
                        /* Without swap only file pages go. */
                        b = b > s->file ? s->file : b;
                        s->file -= b;
                }
                s->current -= b;
                balloon_reclaimed(st, b);
                s->reclaimed += b;
                s->steps++;
                if (step.bytes > s->biggest_step)
                        s->biggest_step = step.bytes;
        }
        if (s->lowest == 0 || s->current < s->lowest)
                s->lowest = s->current;
        return step.verdict;
}

static void test_settles_at_working_set(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct sim s = { .current = 300 * MiB, .hot = 60 * MiB, .swap = true };
        for (int i = 0; i < 600; i++)
                sim_tick(&s, &st);
        /* It reclaimed the cold 240 MiB, and sits near the hot set, not far below it. */
        assert_true(s.current <= 90 * MiB);
        assert_true(s.current >= 60 * MiB - 8 * MiB);
        assert_true(s.reclaimed >= 200 * MiB);
        assert_true(s.biggest_step <= params.max_step_bytes);
        uint64_t est, stable;
        assert_true(balloon_estimate(&st, &params, s.now, &est, &stable));
        assert_true(est >= 52 * MiB && est <= 96 * MiB);
        assert_true(stable >= BALLOON_SETTLE_INTERVALS * params.interval_usec);
        /* It settled within the first 9 minutes of this 10-minute run, so it has been stable
         * for 1 to 10 minutes: "medium" by the documented rule (balloon.h). */
        assert_true(stable >= 60 * SEC);
        assert_true(stable < 600 * SEC);
        assert_string_equal(balloon_confidence(stable), "medium");
        /* Over the whole run the stall stayed far below what an unsteered reclaim would cause. */
        assert_true(s.psi < 600 * SEC * 5 / 1000); /* < 0.5% of wall time */
}

static void test_backs_off_at_once(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct sim s = { .current = 400 * MiB, .hot = 10 * MiB, .swap = true };
        for (int i = 0; i < 10; i++)
                sim_tick(&s, &st);
        assert_true(s.steps > 0);
        /* A burst of stall in one sample: the very next verdict is a back-off... */
        s.psi += 50000; /* 50 ms in 1 s: 5% */
        assert_int_equal(sim_tick(&s, &st), BALLOON_BACKOFF);
        unsigned steps = s.steps;
        /* ...and nothing is reclaimed for at least two intervals. */
        for (int i = 0; i < 3; i++)
                assert_int_equal(sim_tick(&s, &st), BALLOON_BACKOFF);
        assert_int_equal(s.steps, steps);
        assert_int_equal(st.backoff_intervals, 2);
        /* Stalling again as soon as the back-off ends, before any step went through: twice as
         * long. */
        s.psi += 50000;
        assert_int_equal(sim_tick(&s, &st), BALLOON_BACKOFF);
        assert_int_equal(st.backoff_intervals, 4);
        assert_int_equal(st.backoff_until_usec, s.now + 4 * params.interval_usec);
        /* Calm again: it resumes, and a step that goes through resets the streak. */
        for (int i = 0; i < 30; i++)
                sim_tick(&s, &st);
        assert_true(s.steps > steps);
        assert_int_equal(st.backoff_intervals, 0);
}

static void test_never_below_request(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct sim s = { .current = 300 * MiB, .hot = 10 * MiB, .swap = true, .min = 200 * MiB };
        for (int i = 0; i < 600; i++)
                sim_tick(&s, &st);
        assert_true(s.lowest >= 200 * MiB);
        assert_int_equal(st.last_verdict, BALLOON_AT_FLOOR);
}

static void test_without_swap_only_file_pages(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        /* 250 MiB anonymous (no swap), 50 MiB page cache: the floor is the anonymous part plus the
         * margin, so at most 34 MiB go. */
        struct sim s = { .current = 300 * MiB, .hot = 10 * MiB, .file = 50 * MiB, .swap = false };
        for (int i = 0; i < 600; i++)
                sim_tick(&s, &st);
        assert_true(s.reclaimed <= 34 * MiB);
        assert_true(s.reclaimed >= 30 * MiB);
        assert_true(s.lowest >= 250 * MiB + 16 * MiB - 4096);
        assert_int_equal(st.last_verdict, BALLOON_AT_FLOOR);
}

static void test_not_at_its_limit(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct sim s = { .current = 250 * MiB, .hot = 10 * MiB, .swap = true, .max = 256 * MiB };
        for (int i = 0; i < 20; i++)
                assert_int_not_equal(sim_tick(&s, &st), BALLOON_RECLAIM);
        assert_int_equal(st.last_verdict, BALLOON_AT_LIMIT);
        /* Below 95% of the limit, but memory.events max rose: still the kernel's business. */
        s.current = 200 * MiB;
        s.events_max++;
        assert_int_equal(sim_tick(&s, &st), BALLOON_AT_LIMIT);
}

static void test_step_sizes(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct sim s = { .current = 100 * MiB, .hot = 1 * MiB, .swap = true };
        /* 2% of 100 MiB = 2 MiB, under the 8 MiB cap. */
        while (s.steps == 0)
                sim_tick(&s, &st);
        assert_true(s.biggest_step <= 2 * MiB + 4096 && s.biggest_step >= 1 * MiB);
        /* A large container: the cap holds. */
        struct balloon_state st2 = { 0 };
        struct sim b = { .current = 4096 * MiB, .hot = 1 * MiB, .swap = true };
        while (b.steps == 0)
                sim_tick(&b, &st2);
        assert_int_equal(b.biggest_step, 8 * MiB);
        /* Under node pressure: four times the step, four times as often. */
        struct balloon_state st3 = { 0 };
        struct sim p = { .current = 4096 * MiB, .hot = 1 * MiB, .swap = true, .pressure = true };
        for (int i = 0; i < 10; i++)
                sim_tick(&p, &st3);
        assert_int_equal(p.biggest_step, 32 * MiB);
        assert_true(p.steps >= 8); /* every 500 ms interval, sampled each second */
        assert_true(b.steps <= 1);
}

static void test_step_shrinks_near_target(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct balloon_input in = { .current_bytes = 200 * MiB,
                                    .max_bytes = UINT64_MAX,
                                    .anon_lru_bytes = 200 * MiB,
                                    .anon_reclaimable = true,
                                    .has_psi = true };
        struct balloon_step step;
        in.now_usec = 1 * SEC;
        balloon_update(&st, &params, &in, &step);
        assert_int_equal(step.verdict, BALLOON_NO_DATA);
        /* 0.05% stall over the interval: half the target, half the step (2% of 200 MiB = 4). */
        in.now_usec = 3 * SEC;
        in.psi_some_total_usec = 1000; /* 1 ms in 2 s = 0.05% */
        balloon_update(&st, &params, &in, &step);
        assert_int_equal(step.verdict, BALLOON_RECLAIM);
        assert_true(step.bytes >= 1900 * 1024 && step.bytes <= 2100 * 1024);
}

static void test_no_psi_no_reclaim(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct balloon_input in = { .current_bytes = 200 * MiB,
                                    .max_bytes = UINT64_MAX,
                                    .file_lru_bytes = 200 * MiB };
        struct balloon_step step;
        for (int i = 1; i < 10; i++) {
                in.now_usec = (uint64_t)i * SEC;
                balloon_update(&st, &params, &in, &step);
                assert_int_equal(step.verdict, BALLOON_NO_DATA);
        }
}

/* The same container twice, 300 MiB of page cache with a 60 MiB hot set: without refaults the
 * balloon reclaims the cold part as before; with its cache refaulting over the threshold (1% of
 * the file pages per 10 s: 77 pages/s here) it reclaims nothing and says why. */
static void test_refaults_stop_the_balloon(void **state)
{
        (void)state;
        struct balloon_state calm_st = { 0 }, hot_st = { 0 };
        struct sim calm = { .current = 300 * MiB, .hot = 60 * MiB, .file = 300 * MiB };
        calm.refaults = true;
        struct sim hot = calm;
        hot.bg_refaults = 200;
        assert_true(balloon_refault_threshold(300 * MiB) > 76 &&
                    balloon_refault_threshold(300 * MiB) < 77);
        assert_true(balloon_refault_threshold(1 * MiB) == BALLOON_REFAULT_FLOOR_PER_SEC);
        for (int i = 0; i < 120; i++) {
                sim_tick(&calm, &calm_st);
                sim_tick(&hot, &hot_st);
        }
        assert_true(calm.reclaimed >= 100 * MiB);
        assert_int_equal(hot.reclaimed, 0);
        assert_int_equal(hot.steps, 0);
        assert_int_equal(hot_st.last_verdict, BALLOON_HOT);
        assert_string_equal(balloon_verdict_to_string(hot_st.last_verdict), "hot cache");
        assert_true(hot_st.refault_file_per_sec == 200);
        /* Under the threshold but activated (pages the kernel found in the working set): hot
         * too. */
        struct balloon_state act_st = { 0 };
        struct balloon_input in = { .current_bytes = 300 * MiB,
                                    .max_bytes = UINT64_MAX,
                                    .file_lru_bytes = 300 * MiB,
                                    .has_psi = true,
                                    .has_refault_rate = true,
                                    .refault_file_per_sec = 50,
                                    .activate_file_per_sec = 40 };
        struct balloon_step step;
        for (int i = 1; i < 10; i++) {
                in.now_usec = (uint64_t)i * SEC;
                balloon_update(&act_st, &params, &in, &step);
                assert_int_not_equal(step.verdict, BALLOON_RECLAIM);
        }
        assert_int_equal(step.verdict, BALLOON_HOT);
        /* The hot container stays hot for an interval after the refaults stop, then it is fair
         * game again. */
        hot.bg_refaults = 0;
        assert_int_equal(sim_tick(&hot, &hot_st), BALLOON_HOT);
        for (int i = 0; i < 10; i++)
                sim_tick(&hot, &hot_st);
        assert_true(hot.steps > 0);
}

/* Refaults after one of its own steps: that step cut into the working set. It backs off at once,
 * even below the hot threshold and with no stall to see, BALLOON_REFAULT_BACKOFF_MIN intervals,
 * then twice that. The same trickle of refaults with no step before it does not stop the balloon.
 */
static void test_refaults_after_step_back_off(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct balloon_input in = { .current_bytes = 200 * MiB,
                                    .max_bytes = UINT64_MAX,
                                    .file_lru_bytes = 200 * MiB,
                                    .has_psi = true,
                                    .has_refault_rate = true };
        struct balloon_step step;
        /* 40 pages/s: over the floor (25), under the threshold for 200 MiB (51). */
        const double trickle = 40;
        assert_true(trickle < balloon_refault_threshold(200 * MiB));
        in.now_usec = 1 * SEC;
        in.refault_file_per_sec = trickle;
        balloon_update(&st, &params, &in, &step);
        in.now_usec = 3 * SEC;
        balloon_update(&st, &params, &in, &step);
        assert_int_equal(step.verdict, BALLOON_RECLAIM); /* no step of ours before the trickle */
        balloon_commit(&st, &params, false, in.now_usec);
        balloon_reclaimed(&st, step.bytes);
        /* Next sample: refaults, no stall. Backing off at once. */
        in.now_usec = 4 * SEC;
        balloon_update(&st, &params, &in, &step);
        assert_int_equal(step.verdict, BALLOON_BACKOFF);
        assert_int_equal(st.backoff_until_usec,
                         4 * SEC + BALLOON_REFAULT_BACKOFF_MIN * params.interval_usec);
        uint64_t steps = st.steps;
        in.refault_file_per_sec = 0;
        const uint64_t over = 4 + BALLOON_REFAULT_BACKOFF_MIN * params.interval_usec / SEC;
        for (uint64_t t = 5; t < over; t++) {
                in.now_usec = t * SEC;
                balloon_update(&st, &params, &in, &step);
                assert_int_equal(step.verdict, BALLOON_BACKOFF);
        }
        /* Over: it tries again, and the refaults follow again: twice as long. */
        uint64_t t = over;
        for (; st.steps == steps && t < over + 20; t++) {
                in.now_usec = t * SEC;
                balloon_update(&st, &params, &in, &step);
                if (step.verdict == BALLOON_RECLAIM)
                        balloon_commit(&st, &params, false, in.now_usec);
        }
        assert_int_equal(st.steps, steps + 1);
        in.now_usec = t * SEC;
        in.refault_file_per_sec = trickle;
        balloon_update(&st, &params, &in, &step);
        assert_int_equal(step.verdict, BALLOON_BACKOFF);
        assert_int_equal(st.backoff_until_usec,
                         t * SEC + 2 * BALLOON_REFAULT_BACKOFF_MIN * params.interval_usec);
        /* A step followed by a clean interval ends the streak. */
        in.refault_file_per_sec = 0;
        for (t++; st.steps == steps + 1 && t < over + 200; t++) {
                in.now_usec = t * SEC;
                balloon_update(&st, &params, &in, &step);
                if (step.verdict == BALLOON_RECLAIM)
                        balloon_commit(&st, &params, false, in.now_usec);
        }
        for (uint64_t end = t + 4; t < end; t++) {
                in.now_usec = t * SEC;
                balloon_update(&st, &params, &in, &step);
        }
        assert_int_equal(st.refault_strikes, 0);
}

/* Slow start: the first step on a container is a probe of BALLOON_PROBE_BYTES, each clean
 * interval after a step doubles the next, and refaults after a step make the next one a probe
 * again. So a cache whose use shows only once it is reclaimed costs at most a probe's refaults
 * (64 pages), not a full step's. */
static void test_slow_start(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct balloon_input in = { .current_bytes = 400 * MiB,
                                    .max_bytes = UINT64_MAX,
                                    .file_lru_bytes = 400 * MiB,
                                    .has_psi = true,
                                    .has_refault_rate = true };
        struct balloon_step step;
        uint64_t sizes[8] = { 0 };
        size_t n = 0;
        for (uint64_t t = 1; t < 40 && n < ELEMENTSOF(sizes); t++) {
                in.now_usec = t * SEC;
                balloon_update(&st, &params, &in, &step);
                if (step.verdict != BALLOON_RECLAIM)
                        continue;
                sizes[n++] = step.bytes;
                balloon_commit(&st, &params, false, in.now_usec);
                balloon_reclaimed(&st, step.bytes);
        }
        assert_true(n >= 6);
        assert_int_equal(sizes[0], BALLOON_PROBE_BYTES);
        assert_int_equal(sizes[1], 2 * BALLOON_PROBE_BYTES);
        assert_int_equal(sizes[2], 4 * BALLOON_PROBE_BYTES);
        /* 2% of 400 MiB, capped at 8 MiB, is where it stops growing. */
        assert_int_equal(sizes[n - 1], 8 * MiB);
        /* Refaults after a step: back off, and the next step is a probe. */
        in.now_usec += SEC;
        in.refault_file_per_sec = 200;
        balloon_update(&st, &params, &in, &step);
        assert_int_equal(step.verdict, BALLOON_BACKOFF);
        in.refault_file_per_sec = 0;
        uint64_t t = in.now_usec / SEC + 1;
        for (; t < 400; t++) {
                in.now_usec = t * SEC;
                balloon_update(&st, &params, &in, &step);
                if (step.verdict == BALLOON_RECLAIM)
                        break;
        }
        assert_int_equal(step.verdict, BALLOON_RECLAIM);
        assert_int_equal(step.bytes, BALLOON_PROBE_BYTES);
}

/* A simulated cache 40 MiB above its hot set on quiet storage: the balloon's steps into the hot
 * set are seen only as refaults. It stops just below the hot set instead of cycling through it. */
static void test_refaults_keep_the_hot_set(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct sim s = { .current = 100 * MiB, .hot = 60 * MiB, .file = 100 * MiB };
        s.refaults = true;
        s.quiet = true;
        double refaulted = 0;
        for (int i = 0; i < 600; i++) {
                sim_tick(&s, &st);
                refaulted += s.refault_rate;
        }
        /* The cold 40 MiB went; the refaults the balloon caused stay a few steps' worth
         * (backing off 4, 8, 16, 32 intervals), not a step every interval for 10 minutes. */
        assert_true(s.reclaimed >= 38 * MiB);
        assert_true(refaulted * 4096 < 16 * MiB);
}

/* The estimate includes a refaulting cache: memory.current dropped (the kernel reclaimed under
 * node pressure) but the cache keeps coming back, so the working set is where it was. */
static void test_refaulting_cache_in_estimate(void **state)
{
        (void)state;
        struct balloon_state st = { 0 };
        struct balloon_input in = { .current_bytes = 300 * MiB,
                                    .max_bytes = UINT64_MAX,
                                    .file_lru_bytes = 280 * MiB,
                                    .has_psi = true,
                                    .has_refault_rate = true,
                                    .refault_file_per_sec = 500 };
        struct balloon_step step;
        uint64_t est, stable;
        for (uint64_t t = 1; t <= 60; t++) {
                in.now_usec = t * SEC;
                if (t == 20)
                        in.current_bytes = 200 * MiB;
                balloon_update(&st, &params, &in, &step);
        }
        balloon_estimate(&st, &params, in.now_usec, &est, &stable);
        assert_true(est >= 300 * MiB);
        /* Refaults gone for BALLOON_SETTLE_INTERVALS intervals: it settles where it is. */
        in.refault_file_per_sec = 0;
        for (uint64_t t = 61; t <= 61 + BALLOON_SETTLE_INTERVALS * 2 + 2; t++) {
                in.now_usec = t * SEC;
                balloon_update(&st, &params, &in, &step);
        }
        balloon_estimate(&st, &params, in.now_usec, &est, &stable);
        assert_true(est <= 210 * MiB);
}

static void test_suggest(void **state)
{
        (void)state;
        uint64_t req, lim;
        balloon_suggest(100 * MiB, 300 * MiB, &req, &lim);
        assert_int_equal(req, 115 * MiB);
        assert_int_equal(lim, 330 * MiB); /* the peak + 10% beats request * 1.5 */
        balloon_suggest(100 * MiB, 0, &req, &lim);
        assert_int_equal(lim, 173 * MiB); /* 172.5 rounded up */
        /* balloon.h: "low" under 1 minute stable, "medium" under 10 minutes, "high" after;
         * both edges on the minute, checked on either side. */
        assert_string_equal(balloon_confidence(0), "low");
        assert_string_equal(balloon_confidence(30 * SEC), "low");
        assert_string_equal(balloon_confidence(60 * SEC - 1), "low");
        assert_string_equal(balloon_confidence(60 * SEC), "medium");
        assert_string_equal(balloon_confidence(120 * SEC), "medium");
        assert_string_equal(balloon_confidence(600 * SEC - 1), "medium");
        assert_string_equal(balloon_confidence(600 * SEC), "high");
        assert_string_equal(balloon_confidence(3600 * SEC), "high");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_settles_at_working_set),
                cmocka_unit_test(test_backs_off_at_once),
                cmocka_unit_test(test_never_below_request),
                cmocka_unit_test(test_without_swap_only_file_pages),
                cmocka_unit_test(test_not_at_its_limit),
                cmocka_unit_test(test_step_sizes),
                cmocka_unit_test(test_step_shrinks_near_target),
                cmocka_unit_test(test_no_psi_no_reclaim),
                cmocka_unit_test(test_refaults_stop_the_balloon),
                cmocka_unit_test(test_refaults_after_step_back_off),
                cmocka_unit_test(test_slow_start),
                cmocka_unit_test(test_refaults_keep_the_hot_set),
                cmocka_unit_test(test_refaulting_cache_in_estimate),
                cmocka_unit_test(test_suggest),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
