// SPDX-License-Identifier: Apache-2.0
// What memagentd remembers across a restart, and how it is taken back. Pure: no file, no clock.
//
// Most of struct agent_state is rebuilt within a few samples (pressure levels, the balloon's
// controllers), but some of it is the agent's own doing that nothing else remembers: the limits
// it raised for a loan (nobody would return them), the containers it stood back from (it would
// fight the operator's limit again), the cooldown after a kill and the recent kills (it would
// kill again at once). The daemon side (agent/daemon/persist.h) exports these after each step,
// saves them when they changed, and at start reconciles them with what the cgroups say now.
//
// Times: struct agent_state counts in CLOCK_MONOTONIC, which does not survive a reboot; the file
// counts in CLOCK_REALTIME. persisted_state_shift() converts between the two.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/decide/step.h"

/* A loan in progress or a stand-back. Limits are VSCALE_NO_LIMIT for "max". */
struct persisted_unit {
        uint64_t cgroup_id; /* the container's cgroup inode: the same container, not a new one */
        char cgroup[256];   /* relative to the cgroup root, starting with "/" */
        bool stood_back;
        uint64_t orig_max, orig_high, orig_pod_max;
        uint64_t our_max, our_high, our_pod_max;
        uint64_t lent_bytes;
        uint64_t last_change_usec;
};

struct persisted_state {
        uint64_t cooldown_until_usec;           /* 0: none */
        uint64_t kill_usec[AGENT_KILL_HISTORY]; /* oldest first */
        size_t n_kills;
        struct persisted_unit *units;
        size_t n_units;
};

void persisted_state_done(struct persisted_state *s);

/* What st holds that must survive a restart, in st's clock. ret is overwritten (free it with
 * persisted_state_done()). Returns 0 or -ENOMEM. */
int agent_state_export(const struct agent_state *st, struct persisted_state *ret);

/* True when a and b hold the same state: nothing to save. */
bool persisted_state_equal(const struct persisted_state *a, const struct persisted_state *b);

/* Moves every time from a clock reading from_now_usec to one reading to_now_usec at the same
 * instant. A time that would fall before the new clock's zero is dropped (a kill from before
 * this boot), and a cooldown already over becomes 0. */
void persisted_state_shift(struct persisted_state *s, uint64_t from_now_usec, uint64_t to_now_usec);

/* What the cgroups say now of a persisted unit's container. */
struct observed_limits {
        bool present;                                  /* a cgroup exists at the unit's path ... */
        uint64_t cgroup_id;                            /* ... with this inode */
        uint64_t max_bytes, high_bytes, pod_max_bytes; /* VSCALE_NO_LIMIT for "max" */
};

enum reconcile_verdict {
        RECONCILE_RESUMED,    /* the loan goes on; the normal logic returns it */
        RECONCILE_DROPPED,    /* the container is gone (or is another one at the same path) */
        RECONCILE_STOOD_BACK, /* someone else changed the limit since: left alone from now on */
        RECONCILE_KEPT_BACK,  /* a stand-back, still standing back */
};
const char *reconcile_verdict_to_string(enum reconcile_verdict v);

/* Takes p (in st's clock) into st, which must be freshly initialised: the cooldown, the kills,
 * and for each unit, given obs[i] for p->units[i], a resumed loan or a stand-back (the unit's
 * verdict in ret_verdicts[i]). Returns 0 or -ENOMEM. */
int agent_state_reconcile(struct agent_state *st, const struct persisted_state *p,
                          const struct observed_limits *obs, enum reconcile_verdict *ret_verdicts);
