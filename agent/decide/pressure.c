// SPDX-License-Identifier: Apache-2.0
#include "agent/decide/pressure.h"

#include <stdio.h>

#include "common/quantity.h"

static enum pressure_level raw_level(const struct pressure_params *p, uint64_t avail, bool psi,
                                     double some, double full)
{
        /* A PSI threshold of 0 disables that signal. */
        if (avail < p->avail_critical_bytes ||
            (psi && p->psi_critical_full > 0 && full >= p->psi_critical_full))
                return LEVEL_CRITICAL;
        if (avail < p->avail_medium_bytes ||
            (psi && p->psi_medium_full > 0 && full >= p->psi_medium_full))
                return LEVEL_MEDIUM;
        if (avail < p->avail_low_bytes || (psi && p->psi_low_some > 0 && some >= p->psi_low_some))
                return LEVEL_LOW;
        return LEVEL_NONE;
}

enum pressure_level pressure_update(struct pressure_state *st, const struct pressure_params *p,
                                    const struct pressure_input *in)
{
        bool psi = false;
        double some = 0, full = 0;

        /* Stall share since the previous sample: exact and immediate, unlike avg10 which
         * trails a burst by seconds. Counter resets (a recreated cgroup) read as no stall. */
        if (in->has_psi && st->have_prev && in->now_usec > st->prev_time_usec) {
                double dt = (double)(in->now_usec - st->prev_time_usec);
                if (in->psi_some_total_usec >= st->prev_some_usec)
                        some = 100.0 * (double)(in->psi_some_total_usec - st->prev_some_usec) / dt;
                if (in->psi_full_total_usec >= st->prev_full_usec)
                        full = 100.0 * (double)(in->psi_full_total_usec - st->prev_full_usec) / dt;
                if (some > 100.0)
                        some = 100.0;
                if (full > 100.0)
                        full = 100.0;
                psi = true;
        }
        if (in->has_psi) {
                st->have_prev = true;
                st->prev_some_usec = in->psi_some_total_usec;
                st->prev_full_usec = in->psi_full_total_usec;
                st->prev_time_usec = in->now_usec;
        } else
                st->have_prev = false;

        enum pressure_level raw = raw_level(p, in->available_bytes, psi, some, full);
        st->raw = raw;
        st->some_pct = some;
        st->full_pct = full;
        st->available_bytes = in->available_bytes;
        st->total_bytes = in->total_bytes;

        if (raw > st->level) {
                st->below_since_usec = 0;
                if (st->streak == 0 || raw < st->streak_min)
                        st->streak_min = raw;
                st->streak++;
                if (st->streak >= (p->raise_samples ? p->raise_samples : 1)) {
                        st->level = st->streak_min;
                        st->streak = 0;
                }
        } else if (raw < st->level) {
                st->streak = 0;
                if (st->below_since_usec == 0)
                        st->below_since_usec = in->now_usec ? in->now_usec : 1;
                if (in->now_usec - st->below_since_usec >= p->clear_hold_usec) {
                        st->level = raw;
                        st->below_since_usec = 0;
                }
        } else {
                st->streak = 0;
                st->below_since_usec = 0;
        }
        return st->level;
}

void pressure_describe(const struct pressure_state *st, char *buf, size_t size)
{
        char a[FORMAT_BYTES_MAX], t[FORMAT_BYTES_MAX];
        snprintf(buf, size, "available %s of %s (%.1f%%), stalled full %.1f%% some %.1f%%",
                 format_bytes_iec(st->available_bytes, a, sizeof(a)),
                 format_bytes_iec(st->total_bytes, t, sizeof(t)),
                 st->total_bytes ? 100.0 * (double)st->available_bytes / (double)st->total_bytes
                                 : 0.0,
                 st->full_pct, st->some_pct);
}
