// SPDX-License-Identifier: Apache-2.0
// Vertical scaling: lend memory to a container about to hit its limit, and take it back. Pure:
// one call per sample decides, the caller applies (today by writing memory.max/memory.high; later
// through the pods/resize subresource) and reports back with vscale_applied().
//
// Lend. A container is nearing its limit when its working set (memory.current - inactive_file,
// the kubelet's definition) plus LEAD seconds of its smoothed growth reaches NEAR_PCT of its
// current memory.max, or when memory.events max rose since the previous sample while the working
// set is above RETURN_PCT of the limit (the kernel is already reclaiming at the limit). It then
// gets memory.max (and memory.high, when one is set, and the pod's memory.max, when finite) raised
// by one step, bounded by:
//   - the ceiling: the total lent never exceeds ceiling_bytes over the original limit;
//   - the node: the step never exceeds headroom_bytes, which the caller computes as what the
//     node and kubepods have available above their low-pressure thresholds, minus what is
//     already lent to others.
// A step smaller than a quarter of the configured one (or than 1 MiB) is refused: the node
// cannot afford a useful loan, and eviction or the OOM killer decide as they would have.
//
// Return. When the working set plus lead has stayed under RETURN_PCT of the next lower limit
// (one step down, never below the original) for return_hold_usec, the limit is lowered one
// step; memory.high follows by the same amount. Gradual: one step per hold period.
//
// Stand back. When memory.max, memory.high or the pod's memory.max no longer hold what was last
// written (the kubelet, an operator), someone else owns the limit now: the loan ends without a
// write, and the container is left alone for good (stood_back).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSCALE_NEAR_PCT   90.0
#define VSCALE_RETURN_PCT 75.0
#define VSCALE_LEAD_USEC  (2 * 1000000ull)
#define VSCALE_NO_LIMIT   UINT64_MAX

struct vscale_params {
        uint64_t step_bytes;    /* resolved against the original limit */
        uint64_t ceiling_bytes; /* total loan cap, resolved against the original limit */
        uint64_t return_hold_usec;
};

struct vscale_input {
        uint64_t now_usec;
        uint64_t current_bytes, working_set_bytes;
        uint64_t max_bytes;     /* memory.max, VSCALE_NO_LIMIT when "max" */
        uint64_t high_bytes;    /* memory.high, VSCALE_NO_LIMIT when "max" */
        uint64_t pod_max_bytes; /* the pod's memory.max, VSCALE_NO_LIMIT when "max" */
        int64_t growth_bytes_per_sec;
        uint64_t events_max;
        uint64_t headroom_bytes; /* what the node can lend now (see above) */
};

struct vscale_loan {
        bool active;
        bool stood_back;
        uint64_t orig_max, orig_high, orig_pod_max; /* before the first step */
        uint64_t our_max, our_high, our_pod_max;    /* what we last wrote */
        uint64_t lent_bytes;                        /* our_max - orig_max */
        uint64_t below_since_usec;                  /* return condition held since, 0: not */
        uint64_t last_change_usec;
        bool have_prev;
        uint64_t prev_events_max;
        bool refused; /* the last raise was refused (log once per episode) */
};

enum vscale_action {
        VSCALE_NONE,
        VSCALE_LOAN,       /* raise to new_* */
        VSCALE_RETURN,     /* lower to new_* */
        VSCALE_STAND_BACK, /* someone else wrote the limit: forget the loan, no write */
        VSCALE_REFUSED,    /* would lend, but the node or the ceiling does not allow it */
};
/* The kernel keeps limits in pages: a value written reads back rounded down to a page. True
 * when a and b are the same limit in that sense (VSCALE_NO_LIMIT equals only itself). */
bool vscale_same_limit(uint64_t a, uint64_t b);

const char *vscale_action_to_string(enum vscale_action a);

struct vscale_decision {
        enum vscale_action action;
        uint64_t bytes;                          /* lent or returned by this step */
        uint64_t new_max, new_high, new_pod_max; /* to write; VSCALE_NO_LIMIT: leave as is */
        uint64_t old_max;
        char reason[200];
};

/* Decides for one container sample. Updates the loan's bookkeeping (stand back, hold timers) but
 * not the limits: call vscale_applied() once the new values are written. */
void vscale_decide(const struct vscale_params *p, struct vscale_loan *loan,
                   const struct vscale_input *in, struct vscale_decision *ret);

/* The decision's values were written (or, in a dry run, would have been). */
void vscale_applied(struct vscale_loan *loan, const struct vscale_input *in,
                    const struct vscale_decision *d);
