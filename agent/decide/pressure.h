// SPDX-License-Identifier: Apache-2.0
// Pressure detection for one scope (the node, kubepods): a level from memory.available and PSI,
// with hysteresis. Pure: the caller feeds samples and the clock, so tests drive it with series.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/memtypes.h"

struct pressure_params {
        /* memory.available thresholds, already resolved to bytes for this scope's total. */
        uint64_t avail_low_bytes, avail_medium_bytes, avail_critical_bytes;
        /* Share of wall time stalled since the previous sample, percent; 0 disables. */
        double psi_low_some, psi_medium_full, psi_critical_full;
        unsigned raise_samples;   /* consecutive samples above a level before it rises */
        uint64_t clear_hold_usec; /* how long below a level before it clears */
};

struct pressure_input {
        uint64_t total_bytes;     /* MemTotal, or the scope's memory.max */
        uint64_t available_bytes; /* MemAvailable, or max - working set */
        bool has_psi;
        uint64_t psi_some_total_usec, psi_full_total_usec; /* cumulative, from the pressure file */
        uint64_t now_usec;                                 /* CLOCK_MONOTONIC */
};

struct pressure_state {
        enum pressure_level level;
        unsigned streak;                /* consecutive samples whose raw level exceeded level */
        enum pressure_level streak_min; /* lowest raw level during the streak */
        uint64_t below_since_usec;      /* 0 while not below */
        /* previous PSI totals, to turn totals into a stall share */
        bool have_prev;
        uint64_t prev_some_usec, prev_full_usec, prev_time_usec;
        /* what the last update saw, for logs and decisions */
        double some_pct, full_pct;
        uint64_t available_bytes, total_bytes;
        enum pressure_level raw;
};

/* Feeds one sample. Returns the (possibly new) level. The raw level of this sample is the
 * highest of: available below a threshold, or full/some stall share at or above a threshold.
 * It rises only after raise_samples consecutive samples above the current level (to the lowest
 * raw level seen during that streak), and falls only after clear_hold_usec spent below it. */
enum pressure_level pressure_update(struct pressure_state *st, const struct pressure_params *p,
                                    const struct pressure_input *in);

/* One line a person reads: "available 81.2 MiB of 1.0 GiB (7.9%), full 12.0%, some 30.1%". */
void pressure_describe(const struct pressure_state *st, char *buf, size_t size);
