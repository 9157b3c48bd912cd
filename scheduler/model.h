// SPDX-License-Identifier: Apache-2.0
// The cluster model as readers see it: an immutable, reference-counted snapshot of every node's
// last report, the reservations held by migration plans and the pods bound but not yet
// reported. Writers never modify a published snapshot; they build the next one (sharing the
// unchanged nodes, which are reference counted too) and publish it with snapshot_publish().
//
// Publication is RCU-like. Readers (extender calls, hints, GETs) take a reference with
// snapshot_acquire(): two atomic increments and a load, no lock, never waiting. A writer swaps
// the pointer and then waits out the short window in which a reader may have loaded the old
// pointer without having counted its reference yet (a grace period over two reader counters,
// flipped by an epoch), after which dropping its own reference is safe. So writers may spin
// for a few nanoseconds on readers; readers never wait for writers.
#pragma once

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/migration.h"
#include "api/node_report.h"

struct sched_node {
        atomic_uint refcount;
        char *name;
        uint32_t hash;
        struct node_report report;
        uint64_t received_usec; /* CLOCK_MONOTONIC */
};

/* A pod the extender saw bound to a node, counted against it until it appears in a report. */
struct assumed_pod {
        char *node;
        char *uid;
        uint64_t request_bytes;
        int32_t numa_zone; /* -1: not pinned */
        uint64_t at_usec;  /* CLOCK_MONOTONIC */
};

/* Derived per node when a snapshot is built; same index as nodes[]. */
struct node_extra {
        uint64_t reservation_bytes; /* held by planned migrations targeting the node */
        uint64_t assumed_bytes;
        uint64_t zone_deduct_bytes[API_NUMA_ZONES_MAX]; /* zone-pinned part of the two above */
};

struct sched_snapshot {
        atomic_uint refcount;
        uint64_t generation;
        struct sched_node **nodes; /* sorted by name */
        struct node_extra *extra;
        size_t n_nodes;
        uint32_t *index; /* open-addressing hash of names → nodes[] index + 1; 0 = empty */
        size_t index_mask;
        struct migration *plans; /* migrations, oldest first; PLANNED ones hold reservations */
        size_t n_plans;
        struct assumed_pod *assumed;
        size_t n_assumed;
};

uint32_t sched_name_hash(const char *s);

/* Takes ownership of *report (zeroed on success). */
int sched_node_new(const char *name, struct node_report *report, uint64_t received_usec,
                   struct sched_node **ret);
struct sched_node *sched_node_ref(struct sched_node *n);
void sched_node_unref(struct sched_node *n);

struct sched_snapshot *snapshot_ref(struct sched_snapshot *s);
void snapshot_unref(struct sched_snapshot *s);
static inline void snapshot_unrefp(struct sched_snapshot **s)
{
        if (*s)
                snapshot_unref(*s);
}
#define _cleanup_snapshot_ _cleanup_(snapshot_unrefp)

/* Index of the node called name, or -1. */
ssize_t snapshot_find(const struct sched_snapshot *s, const char *name);

/* Builder: start from base (may be NULL for empty); edits apply to the builder only. */
struct snapshot_builder {
        struct sched_node **nodes;
        size_t n_nodes, cap_nodes;
        struct migration *plans;
        size_t n_plans;
        struct assumed_pod *assumed;
        size_t n_assumed, cap_assumed;
        uint64_t generation;
};

int snapshot_builder_init(struct snapshot_builder *b, const struct sched_snapshot *base);
void snapshot_builder_done(struct snapshot_builder *b);
/* Inserts or replaces the node with node->name; takes the caller's reference. */
int snapshot_builder_put_node(struct snapshot_builder *b, struct sched_node *node);
/* Replaces the plan list with a deep copy of plans. */
int snapshot_builder_set_plans(struct snapshot_builder *b, const struct migration *plans, size_t n);
/* Takes ownership of the strings in *a. */
int snapshot_builder_add_assumed(struct snapshot_builder *b, struct assumed_pod *a);
/* Drops assumed pods older than ttl_usec, and those on `node` whose uid its report lists
 * (node may be NULL). */
void snapshot_builder_prune_assumed(struct snapshot_builder *b, const struct sched_node *node,
                                    uint64_t now_usec, uint64_t ttl_usec);
/* Builds the immutable snapshot (refcount 1); the builder is emptied. */
int snapshot_builder_finish(struct snapshot_builder *b, struct sched_snapshot **ret);

/* The published pointer. */
struct snapshot_slot {
        _Atomic(struct sched_snapshot *) current;
        atomic_uint epoch;
        atomic_uint readers[2];
};

int snapshot_slot_init(struct snapshot_slot *slot);
void snapshot_slot_done(struct snapshot_slot *slot);
/* A new reference to the current snapshot. Lock-free; never waits. */
struct sched_snapshot *snapshot_acquire(struct snapshot_slot *slot);
/* Publishes s (takes the caller's reference) and releases the previous one once no reader can
 * still be about to take it. Writers must be serialised by the caller. */
void snapshot_publish(struct snapshot_slot *slot, struct sched_snapshot *s);

/* Node-level figures placement works with. */
static inline uint64_t sub_sat(uint64_t a, uint64_t b)
{
        return a > b ? a - b : 0;
}
