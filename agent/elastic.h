// SPDX-License-Identifier: Apache-2.0
// Elastic memory: the balloon (agent/balloon.h) and vertical scaling (agent/vscale.h) applied to
// the node's containers. The decisions are pure code elsewhere; this layer keeps their state per
// container, applies them to the cgroup files, and records what it did.
//
// How decisions are applied (kept apart from the decisions, so that the Kubernetes client can
// later apply loans through the pods/resize subresource instead):
//   - reclaim: a write to memory.reclaim, or where the kernel lacks it (before 5.19), a
//     memory.high pulse (write memory.current - step, then the old value back: the kernel
//     reclaims synchronously in the writer). The kernel's write takes as long as reclaim does
//     (seconds under emulation), so it runs on a worker thread, one step at a time; the event
//     loop never waits for it and hears back through an eventfd.
//   - loan / return: memory.max, memory.high and the pod's memory.max, written relative to the
//     cgroups' directory fds on the loop (raising a limit is instant; a return never goes below
//     the working set plus a margin, so the kernel has little or nothing to reclaim).
//   - stand back: no write. Any change of a limit by someone else ends our loan.
//
// Records: loans, returns and stand-backs are decisions (memagent explain). Routine balloon steps
// are not (there are many); they are counted per container and shown by `memagent recommend`.
// While the node or kubepods is at level low or above, the balloon reclaims from the coldest
// containers first (the most inactive reclaimable memory, less what a growing container added in
// the last 10 s; containers whose stall is over the target are backing off and not offered), in
// bigger, more frequent steps, and one "reclaim" decision per pressure episode reports what it
// freed and from whom.
#pragma once

#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>

#include "agent/balloon.h"
#include "agent/decision.h"
#include "agent/model.h"
#include "agent/node.h"
#include "agent/pressure.h"
#include "common/config.h"

struct elastic_params {
        bool balloon_enabled;
        bool balloon_qos[4]; /* indexed by enum qos_class */
        struct balloon_params balloon;
        bool vscale_enabled;
        /* a quantity, or a percentage of the original limit */
        struct config_bytes_or_percent vscale_step, vscale_ceiling;
        uint64_t vscale_return_hold_usec;
};

/* What the manager knows at a tick. Everything is borrowed for the call. */
struct elastic_view {
        const struct model *model;
        const struct node_sample *node;
        uint64_t now_usec;
        enum pressure_level level; /* highest of the node and kubepods */
        const char *scope;         /* the scope at that level: "node", "kubepods" */
        const char *signals;       /* pressure_describe() of it */
        uint64_t headroom_bytes;   /* what may be lent: min over the scopes of available above
                                    * their low threshold */
        bool dry_run;
        struct decision_log *log;
};

struct elastic;

/* Starts the reclaim worker and watches its eventfd on ev. Returns 0 or a negative errno. */
struct sd_event;
int elastic_new(struct sd_event *ev, struct elastic **ret);
void elastic_set_params(struct elastic *e, const struct elastic_params *p);
/* One tick: update every container's controllers from the fresh sample in v->model, start a
 * reclaim step when the worker is idle, and apply loans and returns. */
void elastic_tick(struct elastic *e, const struct elastic_view *v);
/* True while something wants fast sampling (a container near its limit, a reclaim in flight). */
bool elastic_wants_fast(const struct elastic *e);
/* `memagent recommend`: per container, the working-set estimate, its confidence and a suggested
 * request and limit. New reference. */
struct json_object *elastic_recommend_json(const struct elastic *e, const struct model *m,
                                           uint64_t now_usec);
/* Totals for status: bytes the balloon reclaimed, bytes on loan now. */
/* Wall time the balloon's worker has spent inside memory.reclaim writes since the start, the
 * write in progress included. The writer stalls on memory while it reclaims, which the kernel
 * counts in the pressure of the writer's cgroup and of the node: the detector subtracts it, so
 * that the balloon's own reclaim never reads as the node's pressure. 0 for NULL. */
uint64_t elastic_reclaim_busy_usec(struct elastic *e);
void elastic_totals(const struct elastic *e, uint64_t *ret_reclaimed, uint64_t *ret_lent);
/* Waits for a reclaim in flight (bounded by the kernel's write), stops the worker. NULL is fine. */
void elastic_free(struct elastic *e);

/* The apply layer, exposed for tests (they point dfd at a plain directory): reclaim bytes from
 * the cgroup open at dfd, with memory.reclaim, or with a memory.high pulse when that file does
 * not exist. Returns 0, -EAGAIN when the kernel reclaimed less than asked, or a negative errno. */
int elastic_reclaim_at(int dfd, uint64_t bytes);
