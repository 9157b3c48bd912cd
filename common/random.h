// SPDX-License-Identifier: Apache-2.0
// A small, fast, non-cryptographic generator for jitter (retry delays, watch timeouts), so that
// agents on many nodes do not retry in step. xorshift64* (Vigna): jitter needs no more.
#pragma once

#include <stdint.h>

/* A non-zero seed from getrandom(), or from the monotonic clock when that fails. */
uint64_t random_seed(void);

/* The next number of the sequence in *state (non-zero, as random_seed() gives). */
static inline uint64_t random_next(uint64_t *state)
{
        uint64_t x = *state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        *state = x;
        return x * 0x2545F4914F6CDD1Dull;
}
