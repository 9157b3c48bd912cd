// SPDX-License-Identifier: Apache-2.0
#include "common/random.h"

#include <sys/random.h>
#include <sys/types.h>
#include <time.h>

#include "common/clock.h"

uint64_t random_seed(void)
{
        uint64_t s = 0;
        if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s) || s == 0)
                s = now_usec(CLOCK_MONOTONIC) | 1;
        return s;
}
