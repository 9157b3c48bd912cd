// SPDX-License-Identifier: Apache-2.0
// Remote swap, the decision (pure, part of agent_step()): when to lease far memory, renew it,
// drain it and give it back, and which containers may swap while it is on.
//
// The consumer's worker (agent/remote/swap.h) carries the lease and the device; each snapshot
// says where it stands (struct remote_swap_input) and the step answers with
// ACTION_REMOTE_SWAP (lease, renew, drain, release) and ACTION_SWAP_MAX (a container's
// memory.swap.max). Every lease, renew, revoke, drain and release is a decision record.
//
//   - lease: the node is at remoteSwapLevel (low by default) or above and at least one container
//     may swap; nothing is asked while a lease is being set up, and a refusal waits a back-off;
//   - renew: every third of the TTL while the lease is on (also while calm: the pages on it are
//     still ours until it is drained);
//   - drain: calm (below remoteSwapLevel) for remoteSwapCalmHold, or the lease is ending (expired,
//     or a chunk lost every live replica's donor to revocation: what is left must come home).
//     swapoff reads every swapped page back into memory, so before it the node must be able to
//     hold them: swapped bytes + remoteSwapDrainMargin <= MemAvailable (the kernel's estimate,
//     reclaimable page cache and slab included). When it cannot, a calm drain simply waits; a
//     forced one evicts by the normal policy first (the eviction step's ranking), one victim per
//     cooldown, and drains once the pages fit. The kernel never loses a swapped page.
//   - release: once the worker reports the device drained (swapoff returned).
//
// memory.swap.max: while the remote device is on, every container of a pod whose QoS class is in
// remoteSwapQosClasses (Burstable and BestEffort by default, never Guaranteed unless listed) may
// swap ("max"), the others may not (0); a pod's cgroup xattr user.memagent_swap ("1"/"0") says
// otherwise for that pod. The value found before the first write is remembered and written back
// when the device goes.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/decide/pressure.h"
#include "api/lease.h"
#include "common/memtypes.h"

/* Where the consumer's worker stands, as it reports it. */
enum remote_swap_phase {
        RSWAP_OFF = 0,  /* no lease */
        RSWAP_LEASING,  /* asked for a lease, setting up the device */
        RSWAP_ON,       /* swapped on */
        RSWAP_DRAINING, /* swapoff running */
        RSWAP_DRAINED,  /* swapoff done, device gone, lease still held */
        _RSWAP_PHASE_MAX,
};
/* "off", "leasing", "on", "draining", "drained". */
const char *remote_swap_phase_to_string(enum remote_swap_phase p);

/* The worker's state in a snapshot. */
struct remote_swap_input {
        bool configured; /* remoteSwapBytes is set and the worker runs */
        enum remote_swap_phase phase;
        char lease_id[LEASE_ID_MAX];
        uint64_t lease_bytes;
        uint64_t swapped_bytes; /* in use on the remote device (/proc/swaps) */
        bool ending;            /* expired, lost a chunk, or a renewal did not come: drain it now */
        bool renew_due;         /* a third of the TTL since the grant or the last renewal */
        uint64_t renewals, revoked; /* counts so far: a change is recorded */
        int last_error;             /* of the last lease, renew or drain; 0 none */
        uint64_t last_error_count;  /* failures so far: a change is recorded */
};

struct lease_params {
        uint64_t bytes; /* remoteSwapBytes; 0: remote swap is off */
        uint64_t ttl_usec;
        enum pressure_level level; /* lease at this level or above */
        uint64_t calm_hold_usec;   /* drain after this long below level */
        uint64_t drain_margin_bytes;
        uint64_t retry_usec; /* after a refused lease */
        bool swap_qos[_QOS_MAX];
};

/* A container whose memory.swap.max the step changed, and what it was before. */
struct swap_max_saved {
        uint64_t cgroup_id;
        char cgroup[256];
        uint64_t original, written;
        bool seen;
};

struct lease_step_state {
        enum remote_swap_phase asked; /* what the last action asked for, RSWAP_OFF: nothing */
        uint64_t asked_usec;
        uint64_t calm_since_usec; /* 0: not calm */
        uint64_t next_renew_usec;
        uint64_t retry_after_usec;
        uint64_t renewals, revoked, errors; /* the input's counts last seen */
        bool was_ending;
        bool drain_waiting; /* a drain is wanted but the node cannot hold the pages yet */
        struct swap_max_saved *saved;
        size_t n_saved, cap_saved;
};

/* What the lease step asks of the actuators. */
enum lease_op {
        LEASE_OP_LEASE,
        LEASE_OP_RENEW,
        LEASE_OP_DRAIN,
        LEASE_OP_RELEASE,
};
const char *lease_op_to_string(enum lease_op op);

/* A pod's own word on swapping (the xattr user.memagent_swap on its cgroup). */
enum swap_override {
        SWAP_OVERRIDE_NONE = 0, /* its QoS class decides */
        SWAP_OVERRIDE_ALLOW,    /* "1" */
        SWAP_OVERRIDE_DENY,     /* "0" */
};

/* Whether a container of a pod of class qos may swap, with its pod's override. Pure. */
bool swap_allowed(const struct lease_params *p, enum qos_class qos, enum swap_override o);
/* Whether swapped_bytes can come home: swapped + margin <= MemAvailable. Pure. */
bool lease_drain_fits(uint64_t available_bytes, uint64_t swapped_bytes, uint64_t margin_bytes);
