// SPDX-License-Identifier: Apache-2.0
// Remote swap on the consumer node: memagentd with remoteSwapBytes leases that much from the
// pools, exposes it as /dev/nbdN through the kernel's NBD driver (a socketpair whose other end a
// worker thread serves with the block layer, device.h), writes a swap signature and swapon()s it
// at remoteSwapPriority, renewing the lease from the worker. On stop it drains first: swapoff
// reads every page back, and only then are the device disconnected and the lease released; a
// swapoff that fails keeps the device served and the lease held, so no swapped page is lost.
//
// Serving swap from user space can deadlock when the worker itself needs memory that only
// swapping would free: memagentd locks its memory (mlockall) and the worker is marked an I/O
// flusher (PR_SET_IO_FLUSHER), so its allocations do not recurse into reclaim of this device.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/remote/http.h"

#define REMOTE_SWAP_PAGE_BYTES 4096u

struct remote_swap_params {
        uint64_t bytes;        /* to lease; a whole number of slabs is granted */
        uint64_t ttl_sec;      /* of the lease; renewed every third of it */
        int priority;          /* swapon priority, 0..32767: above local swap to be used first */
        const char *node_name; /* the consumer */
        struct remote_http http;
        int timeout_ms; /* per transfer to a donor */
};

struct remote_swap;

/* Starts the worker, which leases, connects and swapons in the background (retrying while the
 * pools are short or memschedd is away). Strings are copied. */
int remote_swap_start(const struct remote_swap_params *p, struct remote_swap **ret);
/* Drains (swapoff), disconnects and releases. NULL is fine. */
void remote_swap_stop(struct remote_swap *s);

/* The swap area signature (mkswap's version 1 header) in the first page of a device of
 * size_bytes, so that swapon(2) takes it; -EINVAL for a device under 10 pages. Pure. */
int remote_swap_header(uint64_t size_bytes, const uint8_t uuid[16],
                       uint8_t page[REMOTE_SWAP_PAGE_BYTES]);
