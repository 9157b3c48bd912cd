// SPDX-License-Identifier: Apache-2.0
#include "agent/decide/balloon.h"

#define MiB              (1ull << 20)
#define PAGE_BYTES       4096ull
#define STABLE_TOL_PCT   5.0
#define STABLE_TOL_BYTES (4 * MiB)
#define AT_LIMIT_PCT     95.0

const char *balloon_verdict_to_string(enum balloon_verdict v)
{
        switch (v) {
        case BALLOON_WAIT:
                return "waiting";
        case BALLOON_RECLAIM:
                return "reclaiming";
        case BALLOON_BACKOFF:
                return "backing off";
        case BALLOON_AT_FLOOR:
                return "at floor";
        case BALLOON_AT_LIMIT:
                return "at limit";
        case BALLOON_NO_DATA:
                return "starting";
        case BALLOON_HOT:
                return "hot cache";
        }
        return "?";
}

static double stall_pct(uint64_t psi_now, uint64_t psi_then, uint64_t t_now, uint64_t t_then)
{
        if (t_now <= t_then || psi_now < psi_then)
                return 0.0; /* no time passed, or a counter reset (recreated cgroup) */
        double pct = 100.0 * (double)(psi_now - psi_then) / (double)(t_now - t_then);
        return pct > 100.0 ? 100.0 : pct;
}

static void track_estimate(struct balloon_state *st, uint64_t current, uint64_t now)
{
        if (current > st->peak_bytes)
                st->peak_bytes = current;
        uint64_t tol = (uint64_t)((double)st->anchor_bytes * STABLE_TOL_PCT / 100.0);
        if (tol < STABLE_TOL_BYTES)
                tol = STABLE_TOL_BYTES;
        uint64_t diff =
            current > st->anchor_bytes ? current - st->anchor_bytes : st->anchor_bytes - current;
        if (st->stable_since_usec == 0 || diff > tol) {
                st->anchor_bytes = current;
                st->stable_since_usec = now;
                return;
        }
        /* Within tolerance: follow slowly, so the anchor is the level, not the first sample. */
        st->anchor_bytes = (st->anchor_bytes * 7 + current) / 8;
}

static void back_off(struct balloon_state *st, const struct balloon_params *p, uint64_t now)
{
        if (now < st->backoff_until_usec)
                return; /* already holding off: this stall is part of the same episode */
        st->backoff_intervals = st->backoff_intervals ? st->backoff_intervals * 2 : 2;
        if (st->backoff_intervals > BALLOON_BACKOFF_MAX)
                st->backoff_intervals = BALLOON_BACKOFF_MAX;
        st->backoff_until_usec = now + st->backoff_intervals * p->interval_usec;
        /* The stall is measured afresh after the back-off. */
        st->step_time_usec = 0;
}

double balloon_refault_threshold(uint64_t file_lru_bytes)
{
        double pct =
            (double)(file_lru_bytes / PAGE_BYTES) * BALLOON_REFAULT_PCT_PER_10SEC / 100.0 / 10.0;
        return pct > BALLOON_REFAULT_FLOOR_PER_SEC ? pct : BALLOON_REFAULT_FLOOR_PER_SEC;
}

/* Refaults after the balloon's own step: that step cut into the working set. Longer than a
 * stall back-off, and not reset by the step's success (balloon_reclaimed()). */
static void refault_back_off(struct balloon_state *st, const struct balloon_params *p, uint64_t now)
{
        unsigned n = BALLOON_REFAULT_BACKOFF_MIN
                     << (st->refault_strikes < 3 ? st->refault_strikes : 3);
        if (n > BALLOON_REFAULT_BACKOFF_MAX)
                n = BALLOON_REFAULT_BACKOFF_MAX;
        st->refault_strikes++;
        st->probe_bytes = 0; /* the next step is a probe again */
        st->backoff_intervals = n;
        st->backoff_until_usec = now + n * p->interval_usec;
        st->step_time_usec = 0;
        st->watch_step = false;
}

/* Returns true when the refaults stop the balloon for this sample (*ret_verdict says how). */
static bool refaults_hold(struct balloon_state *st, const struct balloon_params *p,
                          const struct balloon_input *in, enum balloon_verdict *ret_verdict)
{
        uint64_t now = in->now_usec;
        if (st->hot_bytes && now > st->hot_last_usec + BALLOON_SETTLE_INTERVALS * p->interval_usec)
                st->hot_bytes = 0; /* the cache has stayed away: the estimate may settle lower */
        if (!in->has_refault_rate)
                return false;
        bool refaulting = in->refault_file_per_sec > BALLOON_REFAULT_FLOOR_PER_SEC;
        bool hot = in->refault_file_per_sec > balloon_refault_threshold(in->file_lru_bytes) ||
                   in->activate_file_per_sec > BALLOON_REFAULT_FLOOR_PER_SEC;
        if (refaulting || hot) {
                st->hot_last_usec = now;
                if (in->current_bytes > st->hot_bytes)
                        st->hot_bytes = in->current_bytes; /* the most the cache needed */
        }
        if (st->watch_step && refaulting) {
                refault_back_off(st, p, now);
                *ret_verdict = BALLOON_BACKOFF;
                return true;
        }
        if (hot) {
                st->hot_until_usec = now + p->interval_usec;
                *ret_verdict = BALLOON_HOT;
                return true;
        }
        if (now < st->hot_until_usec) {
                *ret_verdict = BALLOON_HOT;
                return true;
        }
        if (st->watch_step && now >= st->next_step_usec) {
                /* A whole interval after the step without refaults: the step was clean. */
                st->watch_step = false;
                st->refault_strikes = 0;
                uint64_t probe = st->probe_bytes ? st->probe_bytes : BALLOON_PROBE_BYTES;
                if (probe < p->max_step_bytes * BALLOON_PRESSURE_BOOST)
                        st->probe_bytes = probe * 2;
        }
        return false;
}

void balloon_update(struct balloon_state *st, const struct balloon_params *p,
                    const struct balloon_input *in, struct balloon_step *ret)
{
        uint64_t now = in->now_usec;
        *ret = (struct balloon_step){ .verdict = BALLOON_WAIT };

        if (st->first_usec == 0)
                st->first_usec = now;
        st->refault_file_per_sec = in->has_refault_rate ? in->refault_file_per_sec : -1.0;
        track_estimate(st, in->current_bytes, now);

        /* Bounds first: they hold whatever the stall. */
        uint64_t reclaimable = in->file_lru_bytes + (in->anon_reclaimable ? in->anon_lru_bytes : 0);
        uint64_t unreclaimable =
            in->current_bytes > reclaimable ? in->current_bytes - reclaimable : 0;
        uint64_t floor = unreclaimable + p->min_margin_bytes;
        if (in->protected_bytes > floor)
                floor = in->protected_bytes;
        ret->floor_bytes = floor;

        bool max_event = st->have_prev && in->events_max > st->prev_events_max;
        st->prev_events_max = in->events_max;

        if (!in->has_psi) {
                /* Without PSI there is nothing to steer by: do not reclaim blind. */
                ret->verdict = st->last_verdict = BALLOON_NO_DATA;
                return;
        }
        double sample_stall = 0.0;
        bool first = !st->have_prev;
        if (!first)
                sample_stall =
                    stall_pct(in->psi_some_total_usec, st->prev_psi_usec, now, st->prev_time_usec);
        st->have_prev = true;
        st->prev_psi_usec = in->psi_some_total_usec;
        st->prev_time_usec = now;
        if (first) {
                st->step_psi_usec = in->psi_some_total_usec;
                st->step_time_usec = now;
                st->next_step_usec = now + p->interval_usec;
                ret->verdict = st->last_verdict = BALLOON_NO_DATA;
                return;
        }
        ret->stall_pct = st->last_stall_pct = sample_stall;
        /* Before the stall check, so refaults after a step count even in a stalled sample. */
        enum balloon_verdict held_verdict = BALLOON_WAIT;
        bool held = refaults_hold(st, p, in, &held_verdict);

        /* Back off at once: any sample over the target stops the balloon. */
        if (sample_stall >= p->psi_target_pct) {
                back_off(st, p, now);
                ret->verdict = st->last_verdict = BALLOON_BACKOFF;
                return;
        }
        if (held) {
                ret->verdict = st->last_verdict = held_verdict;
                return;
        }
        if (now < st->backoff_until_usec) {
                ret->verdict = st->last_verdict = BALLOON_BACKOFF;
                return;
        }
        if (st->step_time_usec == 0) { /* back-off over: measure from here */
                st->step_psi_usec = in->psi_some_total_usec;
                st->step_time_usec = now;
                st->next_step_usec =
                    now + p->interval_usec / (in->pressure ? BALLOON_PRESSURE_BOOST : 1);
        }

        if (in->max_bytes != UINT64_MAX &&
            (max_event ||
             (double)in->current_bytes >= (double)in->max_bytes * AT_LIMIT_PCT / 100.0)) {
                ret->verdict = st->last_verdict = BALLOON_AT_LIMIT;
                return;
        }
        uint64_t room = in->current_bytes > floor ? in->current_bytes - floor : 0;
        if (room < BALLOON_MIN_STEP_BYTES) {
                ret->verdict = st->last_verdict = BALLOON_AT_FLOOR;
                return;
        }
        if (now < st->next_step_usec) {
                ret->verdict = st->last_verdict = BALLOON_WAIT;
                return;
        }

        /* The stall over the whole interval steers the size. */
        double step_stall =
            stall_pct(in->psi_some_total_usec, st->step_psi_usec, now, st->step_time_usec);
        ret->stall_pct = step_stall;
        if (step_stall >= p->psi_target_pct) {
                back_off(st, p, now);
                ret->verdict = st->last_verdict = BALLOON_BACKOFF;
                return;
        }
        double scale = 1.0 - step_stall / p->psi_target_pct;
        uint64_t boost = in->pressure ? BALLOON_PRESSURE_BOOST : 1;
        uint64_t bytes =
            (uint64_t)((double)in->current_bytes * p->step_pct / 100.0 * scale) * boost;
        uint64_t cap = p->max_step_bytes * boost;
        if (bytes > cap)
                bytes = cap;
        if (bytes < BALLOON_MIN_STEP_BYTES)
                bytes = BALLOON_MIN_STEP_BYTES;
        /* Slow start needs the refaults to judge a step by. */
        uint64_t probe = st->probe_bytes ? st->probe_bytes : BALLOON_PROBE_BYTES;
        if (in->has_refault_rate && bytes > probe)
                bytes = probe;
        if (bytes > room)
                bytes = room;
        bytes = bytes / PAGE_BYTES * PAGE_BYTES;
        ret->verdict = st->last_verdict = BALLOON_RECLAIM;
        ret->bytes = bytes;
}

void balloon_commit(struct balloon_state *st, const struct balloon_params *p, bool pressure,
                    uint64_t now_usec)
{
        st->next_step_usec = now_usec + p->interval_usec / (pressure ? BALLOON_PRESSURE_BOOST : 1);
        st->step_psi_usec = st->prev_psi_usec;
        st->step_time_usec = now_usec;
        st->steps++;
        st->watch_step = true;
}

void balloon_reclaimed(struct balloon_state *st, uint64_t bytes)
{
        st->reclaimed_bytes += bytes;
        /* A step that went through under the target ends a back-off streak. */
        st->backoff_intervals = 0;
}

bool balloon_estimate(const struct balloon_state *st, const struct balloon_params *p,
                      uint64_t now_usec, uint64_t *ret_estimate_bytes, uint64_t *ret_stable_usec)
{
        uint64_t stable = st->stable_since_usec && now_usec > st->stable_since_usec
                              ? now_usec - st->stable_since_usec
                              : 0;
        /* A refaulting cache is part of the working set, wherever memory.current went. */
        *ret_estimate_bytes = st->hot_bytes > st->anchor_bytes ? st->hot_bytes : st->anchor_bytes;
        *ret_stable_usec = stable;
        return st->stable_since_usec && stable >= BALLOON_SETTLE_INTERVALS * p->interval_usec;
}

const char *balloon_confidence(uint64_t stable_usec)
{
        if (stable_usec < 60 * 1000000ull)
                return "low";
        if (stable_usec < 600 * 1000000ull)
                return "medium";
        return "high";
}

static uint64_t round_up_mib(uint64_t b)
{
        return (b + MiB - 1) / MiB * MiB;
}

void balloon_suggest(uint64_t estimate_bytes, uint64_t peak_bytes, uint64_t *ret_request_bytes,
                     uint64_t *ret_limit_bytes)
{
        uint64_t req =
            round_up_mib(estimate_bytes + estimate_bytes * BALLOON_REQUEST_MARGIN_PCT / 100);
        uint64_t lim = req * BALLOON_LIMIT_FACTOR_PCT / 100;
        uint64_t peak = peak_bytes + peak_bytes * BALLOON_PEAK_MARGIN_PCT / 100;
        if (peak > lim)
                lim = peak;
        *ret_request_bytes = req;
        *ret_limit_bytes = round_up_mib(lim);
}
