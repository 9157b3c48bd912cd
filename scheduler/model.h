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

#include "api/kube/objects.h"
#include "api/migration.h"
#include "api/node_report.h"

/* What the Kubernetes API says of the cluster, as memschedd's API thread last published it from
 * its node and pod informers (scheduler/kube.c). Immutable and reference counted; every snapshot
 * built after its publication points to it (NULL: no API client, or not synced yet, and placement
 * works from the reports alone, as it always did). */
struct view_node {
        char *name;
        uint64_t allocatable_bytes; /* status.allocatable.memory */
        bool ready;
        bool unschedulable;
        size_t n_taints; /* NoSchedule and NoExecute */
        struct kube_taint *taints;
};

/* A pod the API shows bound to a node and not finished: its request is held there. */
struct view_pod {
        char *uid, *node;
        uint64_t request_bytes;
};

struct kube_view {
        atomic_uint refcount;
        struct view_node *nodes; /* sorted by name */
        size_t n_nodes;
        struct view_pod *pods; /* sorted by node, then uid */
        size_t n_pods;
        const struct view_pod **by_uid; /* the same pods, sorted by uid */
};

/* Builds a view from the informers' objects (borrowed; copied). Pods that hold no memory on a
 * node (not bound, Succeeded, Failed) are left out. Returns 0 or -ENOMEM. */
int kube_view_new(const struct kube_node_info *const *nodes, size_t n_nodes,
                  const struct kube_pod_brief *const *pods, size_t n_pods, struct kube_view **ret);
struct kube_view *kube_view_ref(struct kube_view *v);
void kube_view_unref(struct kube_view *v);
const struct view_node *kube_view_find_node(const struct kube_view *v, const char *name);
const struct view_pod *kube_view_find_pod(const struct kube_view *v, const char *uid);
/* The pods bound to node: *ret_first and the count (0 and NULL when none). */
size_t kube_view_pods_on(const struct kube_view *v, const char *node,
                         const struct view_pod **ret_first);

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
        /* Pods bound to the node that its report does not count yet, counted once each:
         *  - a pod the API shows bound here: by memschedd's own bind-time assumption when it made
         *    one (it knows the NUMA zone), else by the request the API gives;
         *  - a bind-time assumption for a pod the API shows elsewhere, or that the report lists,
         *    is dropped; one for a pod the API does not show (yet) stays until its TTL.
         * Without a view, the bind-time assumptions alone. */
        uint64_t assumed_bytes;
        uint64_t api_assumed_bytes;    /* the part of assumed_bytes known from the API alone */
        uint64_t api_unreported_bytes; /* API pods bound here, not in the report (a cache) */
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
        struct kube_view *view; /* NULL: no API view (see struct kube_view) */
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
        struct kube_view *view; /* a reference; the base's unless replaced */
        /* A reference to the snapshot it started from (NULL for none): what finish() may carry
         * over for nodes whose report did not change. */
        struct sched_snapshot *base;
};

int snapshot_builder_init(struct snapshot_builder *b, const struct sched_snapshot *base);
void snapshot_builder_done(struct snapshot_builder *b);
/* Inserts or replaces the node with node->name; takes the caller's reference. */
int snapshot_builder_put_node(struct snapshot_builder *b, struct sched_node *node);
/* Replaces the plan list with a deep copy of plans. */
int snapshot_builder_set_plans(struct snapshot_builder *b, const struct migration *plans, size_t n);
/* Replaces the API view (takes the caller's reference; NULL drops it). */
void snapshot_builder_set_view(struct snapshot_builder *b, struct kube_view *view);
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
