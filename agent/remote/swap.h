// SPDX-License-Identifier: Apache-2.0
// Remote swap on the consumer node: memagentd with remoteSwapBytes leases that much from the
// pools when its step decides so (agent/decide/lease-step.h: under pressure, with containers
// allowed to swap), exposes it as /dev/nbdN through the kernel's NBD driver (a socketpair whose
// other end a worker thread serves with the block layer, device.h), writes a swap signature and
// swapon()s it at remoteSwapPriority, renewing the lease when the step asks (and on its own if the
// step has not asked for two thirds of the TTL). The step's drain is a swapoff; its release gives
// the lease back. On stop it drains first: swapoff reads every page back, and only then are the
// device disconnected and the lease released; a swapoff that fails keeps the device served and the
// lease held, so no swapped page is lost.
//
// Serving swap from user space can deadlock when the worker itself needs memory that only
// swapping would free: memagentd locks its memory (mlockall) and the worker is marked an I/O
// flusher (PR_SET_IO_FLUSHER), so its allocations do not recurse into reclaim of this device.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/decide/lease-step.h"
#include "agent/remote/http.h"
#include "agent/remote/latency.h"

#define REMOTE_SWAP_PAGE_BYTES 4096u

struct remote_swap_params {
        uint64_t bytes;        /* to lease; a whole number of slabs is granted */
        uint64_t ttl_sec;      /* of the lease; renewed every third of it */
        int priority;          /* swapon priority, 0..32767: above local swap to be used first */
        const char *node_name; /* the consumer */
        struct remote_http http;
        int timeout_ms; /* per transfer to a donor */
};

/* One donor of the lease, for status: its slabs, the state of the replicas on them, and how its
 * transfers went (as of the worker's last publication, at most a second old while serving). */
#define REMOTE_SWAP_DONORS_MAX 16
struct remote_swap_donor {
        char donor[API_NODE_NAME_MAX];
        uint64_t bytes;
        unsigned slabs, healthy, syncing, failed;
        struct remote_latency latency;
};

struct remote_swap;

/* Starts the worker, idle until a command. Strings are copied. */
int remote_swap_start(const struct remote_swap_params *p, struct remote_swap **ret);
/* Hands the worker the step's lease, renew, drain or release (bytes: the lease's; 0 for the
 * configured). Never blocks on the network: the worker carries it out, and remote_swap_get()
 * tells how it went (the phase, counts, the last error). NULL is fine. */
void remote_swap_command(struct remote_swap *s, enum lease_op op, uint64_t bytes);
/* Where the worker stands, for the step's snapshot, and its donors (ret_donors may be NULL; it
 * holds REMOTE_SWAP_DONORS_MAX). Reads /proc/swaps for the swapped bytes. */
void remote_swap_get(struct remote_swap *s, struct remote_swap_input *ret,
                     struct remote_swap_donor *ret_donors, size_t *ret_n_donors);
/* Pure: whether a lease that expires at expires_at_usec (CLOCK_REALTIME, as memschedd last
 * answered) must be drained now, at now_usec: with half its TTL left, the renewal due at two
 * thirds did not come through (memschedd away or refusing), and the donors stop serving its
 * slabs at expiry whether memschedd answers again or not; swapoff reads the pages back one by
 * one and needs the time. A renewal that comes through before the drain begins takes it back. */
bool remote_swap_lease_ending(uint64_t expires_at_usec, uint64_t ttl_sec, uint64_t now_usec);
/* Pure: the Used column of path's line in /proc/swaps (KiB) in bytes. -ENOENT when the device is
 * not listed, -EBADMSG for a line that does not parse. */
int remote_swap_used_bytes(const char *proc_swaps, const char *path, uint64_t *ret);
/* Drains (swapoff), disconnects and releases. NULL is fine. */
void remote_swap_stop(struct remote_swap *s);

/* The swap area signature (mkswap's version 1 header) in the first page of a device of
 * size_bytes, so that swapon(2) takes it; -EINVAL for a device under 10 pages. Pure. */
int remote_swap_header(uint64_t size_bytes, const uint8_t uuid[16],
                       uint8_t page[REMOTE_SWAP_PAGE_BYTES]);
