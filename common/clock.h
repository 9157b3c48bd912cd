// SPDX-License-Identifier: Apache-2.0
// The one clock reader: microseconds on a POSIX clock (CLOCK_MONOTONIC for intervals and
// deadlines, CLOCK_REALTIME for timestamps people read).
#pragma once

#include <stdint.h>
#include <time.h>

static inline uint64_t now_usec(clockid_t clock)
{
        struct timespec ts;
        clock_gettime(clock, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
