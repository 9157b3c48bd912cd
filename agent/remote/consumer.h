// SPDX-License-Identifier: Apache-2.0
// The consumer's side of memschedd's lease routes, blocking, for the remote swap worker thread:
// lease N bytes (POST /v1/leases), renew (POST /v1/leases/{id}/renew, which also re-grants
// revoked replicas), release (DELETE /v1/leases/{id}, only after the device is drained).
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/remote/http.h"
#include "api/lease.h"

/* 0 with *ret filled (caller's lease_done); -ENOSPC when the pools are short (507), -EPROTO for
 * another refusal or an answer that does not decode, the transport's errors. id may be NULL or
 * "" for the broker's choice (a chosen id makes a retried create idempotent). */
int consumer_lease_create(const struct remote_http *h, const char *id, const char *node,
                          uint64_t bytes, uint64_t ttl_sec, bool durable, struct lease *ret);
/* -ENOENT when memschedd forgot the lease. */
int consumer_lease_renew(const struct remote_http *h, const char *id, struct lease *ret);
int consumer_lease_release(const struct remote_http *h, const char *id);
