// SPDX-License-Identifier: Apache-2.0
// The balloon: a proactive-reclaim controller per container, in the spirit of Senpai and TMO.
// Pure: the caller feeds one sample per tick and the clock, and is told how many bytes to
// reclaim now (or why not); tests drive it with synthetic PSI and usage series.
//
// The algorithm. Each interval, if the container's memory stall share ("some", from the PSI
// totals, since the previous step) is under the target, reclaim a small step: step_pct of
// memory.current, scaled down the closer the stall is to the target (Senpai's
// reclaim_ratio * (1 - pressure / target)), at least 1 MiB, at most max_step_bytes. A stall at or
// over the target in any sample stops it at once and holds it off for a back-off period that
// doubles while stalls repeat (2 to 32 intervals). Bounds, checked before every step:
//   - never below the protected size: max(memory.min, memory.low), the request the kubelet wrote;
//   - never below the unreclaimable part plus min_margin_bytes: unreclaimable is memory.current
//     minus the reclaimable LRU pages (file pages always, anonymous pages only where the
//     container may swap and the node has swap free);
//   - never while the container is at its limit (memory.current within 5% of memory.max, or a
//     new memory.events max): the kernel is already reclaiming there, a second reclaimer only
//     adds stall.
// A hot cache is never reclaimed. The container's file pages coming back (refaults, from the
// kernel's workingset_refault_file per second) mean the balloon would take memory that is in use:
// at a refault rate over the threshold the verdict is BALLOON_HOT and the container is held for
// an interval (under pressure too: the coldest-first choice then skips it). The threshold is 1%
// of the container's file pages per 10 s, and never under BALLOON_REFAULT_FLOOR_PER_SEC (25
// pages/s, 1 MiB per 10 s): a calm container refaults nothing, one reading a file once refaults
// nothing either (first reads are not refaults), so only a cache that is evicted and needed again
// crosses it. Activated refaults (workingset_activate_file: pages the kernel found were part of
// the working set) over the floor count as hot too. Refaults over the floor within the interval
// after one of the balloon's own steps mean the step cut into the working set: it backs off at
// once, 4 intervals, doubling while it keeps happening (up to BALLOON_BACKOFF_MAX); a step
// followed by a clean interval ends the streak. A rising memory stall of the container is the
// PSI back-off above. While refaults are seen, and BALLOON_SETTLE_INTERVALS intervals after,
// the working-set estimate is at least memory.current at the last refault (the cache in use).
//
// Under node pressure (level low, the first rung of the escalation ladder) the caller sets
// `pressure`: the interval shrinks and the step grows by BALLOON_PRESSURE_BOOST.
//
// The working-set estimate is where memory.current settles under the balloon: the controller
// keeps an anchor and the time since memory.current last moved more than the tolerance
// (max(5%, 4 MiB)) away from it. Settled after BALLOON_SETTLE_INTERVALS intervals without such a
// move; the confidence grows with the time it has been stable.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BALLOON_PRESSURE_BOOST   4
#define BALLOON_SETTLE_INTERVALS 5
#define BALLOON_MIN_STEP_BYTES   (1ull << 20)
#define BALLOON_BACKOFF_MAX      32 /* intervals */
/* Slow start: a container's first step, and its first after refaults, reclaims this much; each
 * clean step (no refaults over the interval after it) doubles the next one, up to the usual
 * size. Whether a cache is in use shows only once some of it was reclaimed: the probe bounds
 * what that costs (the kernel takes 2-3 times what memory.reclaim asks at this size: 125-200
 * pages seen in the guest). */
#define BALLOON_PROBE_BYTES (256ull << 10)
/* After refaults followed a step: intervals before the next probe, doubling per strike. A probe
 * that came back proved the cache hot; at the default 2 s interval the next one waits a minute
 * (with 16, a db re-reading its file refaulted two probes a minute: 278 pages in vm.thrash-roomy,
 * whose bound is 256). */
#define BALLOON_REFAULT_BACKOFF_MIN 32
#define BALLOON_REFAULT_BACKOFF_MAX 128
/* Refaults per second that make a cache hot: the floor, or 1% of the file pages per 10 s. */
#define BALLOON_REFAULT_FLOOR_PER_SEC 25.0
#define BALLOON_REFAULT_PCT_PER_10SEC 1.0

struct balloon_params {
        double psi_target_pct;     /* some-stall share of wall time, percent */
        uint64_t interval_usec;    /* between steps */
        double step_pct;           /* of memory.current per step */
        uint64_t max_step_bytes;   /* cap per step (one memory.reclaim write) */
        uint64_t min_margin_bytes; /* kept above the unreclaimable part */
};

/* One sample of the container, from its cgroup files. */
struct balloon_input {
        uint64_t now_usec;
        uint64_t current_bytes;
        uint64_t max_bytes;       /* memory.max, UINT64_MAX when unlimited */
        uint64_t protected_bytes; /* max(memory.min, memory.low) */
        uint64_t file_lru_bytes;  /* active_file + inactive_file */
        uint64_t anon_lru_bytes;  /* active_anon + inactive_anon (shmem included) */
        uint64_t inactive_bytes;  /* inactive_file, plus inactive_anon when swappable */
        bool anon_reclaimable;    /* swap allowed for the container and free on the node */
        bool has_psi;
        uint64_t psi_some_total_usec;
        uint64_t events_max;          /* memory.events max counter */
        bool pressure;                /* the node or kubepods is at level low or above */
        bool has_refault_rate;        /* false until two samples of memory.stat exist */
        double refault_file_per_sec;  /* workingset_refault_file, pages per second */
        double activate_file_per_sec; /* workingset_activate_file, pages per second */
};

enum balloon_verdict {
        BALLOON_WAIT,     /* between steps */
        BALLOON_RECLAIM,  /* reclaim step.bytes now */
        BALLOON_BACKOFF,  /* stall over the target: holding off */
        BALLOON_AT_FLOOR, /* nothing left above the bounds */
        BALLOON_AT_LIMIT, /* at memory.max: the kernel reclaims there already */
        BALLOON_NO_DATA,  /* first sample, or no PSI: cannot steer */
        BALLOON_HOT,      /* its file pages refault: the cache is in use */
};
const char *balloon_verdict_to_string(enum balloon_verdict v);

struct balloon_step {
        enum balloon_verdict verdict;
        uint64_t bytes;       /* BALLOON_RECLAIM: how much */
        uint64_t floor_bytes; /* the lowest memory.current the bounds allow */
        double stall_pct;     /* the stall share the verdict is based on */
};

struct balloon_state {
        /* PSI bookkeeping: per sample (back off at once) and per step (steer the step). */
        bool have_prev;
        uint64_t prev_psi_usec, prev_time_usec;
        uint64_t step_psi_usec, step_time_usec; /* at the last step (or start) */
        uint64_t prev_events_max;
        uint64_t next_step_usec;
        uint64_t backoff_until_usec;
        unsigned backoff_intervals; /* current back-off length, 0 when not backing off */
        double last_stall_pct;
        enum balloon_verdict last_verdict;
        /* results */
        uint64_t reclaimed_bytes; /* total the caller reported back */
        uint64_t steps;
        /* working-set estimate */
        uint64_t anchor_bytes;
        uint64_t stable_since_usec;
        uint64_t first_usec;
        uint64_t peak_bytes; /* highest memory.current seen */
        /* refaults */
        double refault_file_per_sec; /* at the last sample, -1 when unknown */
        uint64_t hot_until_usec;     /* held while the cache is hot */
        uint64_t hot_bytes;          /* memory.current at the last hot sample: in the estimate */
        uint64_t hot_last_usec;
        bool watch_step;          /* a step was issued: refaults before the next one are its */
        unsigned refault_strikes; /* steps in a row followed by refaults */
        uint64_t probe_bytes;     /* slow start: the next step's cap, 0 for BALLOON_PROBE_BYTES */
};

/* Refaults per second over which a container with file_lru_bytes of page cache is hot. */
double balloon_refault_threshold(uint64_t file_lru_bytes);

/* Feeds one sample and says what to do now. Does not commit: a BALLOON_RECLAIM the caller does
 * not act on (another container went first) is offered again on the next sample. */
void balloon_update(struct balloon_state *st, const struct balloon_params *p,
                    const struct balloon_input *in, struct balloon_step *ret);

/* The caller issued the step: the next one comes an interval later (a quarter of it under
 * pressure). */
void balloon_commit(struct balloon_state *st, const struct balloon_params *p, bool pressure,
                    uint64_t now_usec);

/* The step finished: bytes actually freed (memory.current before minus after, 0 if it grew). */
void balloon_reclaimed(struct balloon_state *st, uint64_t bytes);

/* The working-set estimate: where memory.current settled. Returns true when settled (stable for
 * BALLOON_SETTLE_INTERVALS intervals); *ret_stable_usec is how long it has been stable. */
bool balloon_estimate(const struct balloon_state *st, const struct balloon_params *p,
                      uint64_t now_usec, uint64_t *ret_estimate_bytes, uint64_t *ret_stable_usec);

/* "low" (< 1 min stable), "medium" (< 10 min), "high". */
const char *balloon_confidence(uint64_t stable_usec);

/* VPA-style suggestion from an estimate: request = estimate + 15%, limit = the larger of
 * request * 1.5 and the peak + 10%; both rounded up to MiB. */
#define BALLOON_REQUEST_MARGIN_PCT 15
#define BALLOON_LIMIT_FACTOR_PCT   150
#define BALLOON_PEAK_MARGIN_PCT    10
void balloon_suggest(uint64_t estimate_bytes, uint64_t peak_bytes, uint64_t *ret_request_bytes,
                     uint64_t *ret_limit_bytes);
