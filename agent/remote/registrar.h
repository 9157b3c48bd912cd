// SPDX-License-Identifier: Apache-2.0
// The donor's registration with memschedd: PUT /v1/pools/{node} with its offer at once and then
// every period (memschedd withdraws an offer not renewed within poolOfferTtlSec, 60 s by
// default), taking each answer's grants as the donor's grant table; DELETE /v1/pools/{node} when
// stopped cleanly. Its own thread: memschedd being slow or down never holds memagentd's loop.
// While memschedd cannot be reached the donor keeps the grants it has (they expire on their own
// time), so consumers keep their pages through a memschedd restart.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "agent/remote/donor.h"
#include "agent/remote/http.h"

struct registrar;

/* Starts registering donor d as node, reachable at address (what consumers connect to). The
 * strings are copied. */
int registrar_start(struct donor *d, const struct remote_http *h, const char *node,
                    const char *address, uint64_t period_usec, struct registrar **ret);
/* Renews now instead of at the next period (a consumer presented a newer epoch). */
void registrar_kick(struct registrar *g);
/* Stops; withdraw: DELETE the offer first (a clean exit), else leave it to expire (a crash
 * leaves it the same way). NULL is fine. */
void registrar_stop(struct registrar *g, bool withdraw);

/* Pure: how long the registrar waits (usec) before it renews again, at now_usec (CLOCK_REALTIME):
 * its period, or less so that it asks margin_usec before the earliest deadline among grants that
 * is further off than that. A consumer renews its lease at a third of the TTL, but the donor only
 * learns the new deadline from its own next renewal: without this, a period longer than the time
 * left (a short TTL, a long heartbeat) would have it refuse a lease memschedd just renewed
 * (ETIME). A deadline already within the margin shortens nothing: asked about already, and a
 * lease that really ends must not make the donor poll memschedd. */
uint64_t registrar_wait_usec(uint64_t period_usec, const struct donor_grant *grants, size_t n,
                             uint64_t now_usec, uint64_t margin_usec);

/* Pure: the grants of a PUT answer into ret (at most max). Returns how many, or -EBADMSG when
 * the answer has no grants array or a grant does not decode. */
int registrar_grants_from_answer(const struct json_object *answer, struct donor_grant *ret,
                                 size_t max);
/* Accepted renewals so far, and whether the last attempt succeeded: for status and tests. */
uint64_t registrar_renewals(const struct registrar *g);
