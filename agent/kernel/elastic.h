// SPDX-License-Identifier: Apache-2.0
// Elastic memory, the apply side: the balloon's reclaim worker and the loans' limit writes. What
// to reclaim and what to lend is decided in agent_step() (agent/decide/elastic-step.c, on the pure
// controllers agent/decide/balloon.h and agent/decide/vscale.h); this layer carries it out.
//
//   - reclaim: a write to memory.reclaim, or where the kernel lacks it (before 5.19), a
//     memory.high pulse (write memory.current - step, then the old value back: the kernel
//     reclaims synchronously in the writer). The kernel's write takes as long as reclaim does
//     (seconds under emulation), so it runs on a worker thread, one step at a time; the event
//     loop never waits for it and hears back through an eventfd.
//   - loan / return: memory.max, memory.high and the pod's memory.max, written relative to the
//     cgroups' directory fds on the loop (raising a limit is instant; a return never goes below
//     the working set plus a margin, so the kernel has little or nothing to reclaim). Kept apart
//     from the decision so that the Kubernetes client can later apply loans through the
//     pods/resize subresource instead.
//   - stand back: no write. Any change of a limit by someone else ends our loan.
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/decide/step.h"

struct elastic;
struct sd_event;

/* Starts the reclaim worker and watches its eventfd on ev; on_done(userdata) runs on the loop
 * when a step finished (take it with elastic_take_result()). Returns 0 or a negative errno. */
int elastic_new(struct sd_event *ev, void (*on_done)(void *userdata), void *userdata,
                struct elastic **ret);
/* Hands one reclaim step to the worker: bytes from the cgroup open at dfd (dup'ed). -EBUSY while
 * a step is on the worker or not yet taken. */
int elastic_reclaim_submit(struct elastic *e, int dfd, uint64_t cgroup_id, uint64_t bytes,
                           bool pressure);
/* True from a submit until its result is taken. false for NULL. */
bool elastic_busy(const struct elastic *e);
/* True when a finished step waits to be taken. false for NULL. */
bool elastic_has_result(struct elastic *e);
/* The finished step, once: returns true and fills *ret; false when there is none. */
bool elastic_take_result(struct elastic *e, struct reclaim_result *ret);
/* Wall time the balloon's worker has spent inside memory.reclaim writes since the start, the
 * write in progress included. The writer stalls on memory while it reclaims, which the kernel
 * counts in the pressure of the writer's cgroup and of the node: the detector subtracts it, so
 * that the balloon's own reclaim never reads as the node's pressure. 0 for NULL. */
uint64_t elastic_reclaim_busy_usec(struct elastic *e);
/* Waits for a reclaim in flight (bounded by the kernel's write), stops the worker. NULL is fine. */
void elastic_free(struct elastic *e);

/* Writes a loan's limits in an order that never leaves the container above its pod: raise the
 * pod first, lower it last. pod_dfd -1: no pod limit to change. Returns 0 or the first error
 * (what was written is rolled back). */
int elastic_apply_limits(int dfd, int pod_dfd, const struct limits_change *c);

/* `memagent recommend`: per container, the working-set estimate, its confidence and a suggested
 * request and limit, from what the step remembers. New reference. */
struct json_object *elastic_recommend_json(const struct agent_state *st,
                                           const struct elastic_params *p, uint64_t now_usec);
/* Totals for status: bytes the balloon reclaimed, bytes on loan now. */
void elastic_totals(const struct agent_state *st, uint64_t *ret_reclaimed, uint64_t *ret_lent);

/* The apply layer, exposed for tests (they point dfd at a plain directory): reclaim bytes from
 * the cgroup open at dfd, with memory.reclaim, or with a memory.high pulse when that file does
 * not exist. Returns 0, -EAGAIN when the kernel reclaimed less than asked, or a negative errno. */
int elastic_reclaim_at(int dfd, uint64_t bytes);
