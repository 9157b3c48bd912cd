// SPDX-License-Identifier: Apache-2.0
// PSI triggers (Documentation/accounting/psi.rst): write "some|full <stall_us> <window_us>" to a
// pressure file kept open, then poll for POLLPRI. Never read the file to wait.
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum psi_kind {
        PSI_SOME,
        PSI_FULL,
};

struct psi_trigger {
        int fd;
        enum psi_kind kind;
        uint64_t stall_usec, window_usec; /* what the kernel accepted */
        bool adjusted; /* the window was widened because the kernel refused the asked one */
};

#define PSI_WINDOW_MIN_USEC         500000u
#define PSI_WINDOW_MAX_USEC         10000000u
#define PSI_UNPRIV_WINDOW_STEP_USEC 2000000u

/* Arms a trigger on `name` (e.g. "memory.pressure", or "pressure/memory" under /proc) relative
 * to dirfd. The kernel refuses windows that are not multiples of 2 s from writers it treats as
 * unprivileged (no CAP_SYS_RESOURCE): then the window is widened to the nearest allowed one,
 * the stall threshold scaled by the same factor (so the trigger keeps its share of time), and
 * this is logged once per process. Returns 0 and fills *ret (caller owns ret->fd), -EINVAL for
 * values the kernel can never take (window outside 0.5–10 s, stall 0 or above the window),
 * -EOPNOTSUPP when the file is not on cgroup2 or procfs (a copied tree), or the kernel's error. */
int psi_trigger_arm(int dirfd, const char *name, enum psi_kind kind, uint64_t stall_usec,
                    uint64_t window_usec, struct psi_trigger *ret);

/* Waits up to timeout_ms (-1 forever) for the trigger. Returns 1 fired, 0 timed out, -ENODEV
 * when the cgroup went away (POLLERR), or another negative errno. */
int psi_trigger_wait(const struct psi_trigger *t, int timeout_ms);

void psi_trigger_close(struct psi_trigger *t);
