// SPDX-License-Identifier: Apache-2.0
// Shared by the parts of agent_step(): step.c (pressure, episode, eviction, report) and
// elastic-step.c (the balloon and vertical scaling). Not for the daemon.
#pragma once

#include "agent/decide/step.h"
#include "common/macro.h"

/* "node", "kubepods": indexed by enum scope_id. */
extern const char *const scope_names[_SCOPE_MAX];

/* The candidates in eviction order, as the policy chain ranks them for a scope at a level. */
struct ranking {
        struct memagent_candidate *cands; /* offered to the chain, n of them */
        size_t *order;                    /* n_ranked indexes into cands, first to evict first */
        size_t *src;                      /* cands[i] is snap->cands[src[i]] */
        struct memagent_rank *ranks;
        size_t n, n_ranked;
        int r; /* the chain's answer: < 0, nothing ranked */
};
/* Ranks the candidates the decision may offer for this scope at this level (step.c): on a
 * Kubernetes node no system service, never the one memagentd runs in. -ENOMEM, else 0 with k->r
 * the chain's answer; the caller frees k with ranking_done(). */
int rank_candidates(const struct node_snapshot *snap, const struct agent_params *p,
                    const struct scope_state *sc, enum scope_id sid, enum pressure_level level,
                    struct ranking *k);
void ranking_done(struct ranking *k);

/* thrash-step.c: before the pressure levels, each pod's full stall and refaults since its last
 * reading (when the thrash signal is on). */
void thrash_sample(const struct node_snapshot *snap, struct agent_state *st,
                   const struct agent_params *p);
/* Of a scope's full stall between from_usec (its previous sample) and now_usec, scope_full_usec,
 * the part that is one refaulting pod's own (at least VICTIM_FULL_PERMILLE of it), else 0. */
uint64_t thrash_victim_full_usec(const struct agent_state *st, uint64_t from_usec,
                                 uint64_t now_usec, uint64_t scope_full_usec);
/* thrash-step.c: step 2b, after the pressure levels. Sets st->thrash_raised (and the node at
 * medium) when a pod thrashes on a tight node and pods ranked before it hold memory. */
int thrash_step(const struct node_snapshot *snap, struct agent_state *st,
                const struct agent_params *p, struct action_list *out);

/* Appends a zeroed action of this kind; NULL on OOM. Invalidates pointers into the list. */
struct action *step_push(struct action_list *l, enum action_kind kind);
/* Appends an ACTION_TERMINATE or ACTION_KILL of this cgroup, for this record; NULL on OOM. */
struct action *step_push_evict(struct action_list *l, enum action_kind kind, const char *cgroup,
                               uint64_t cgroup_id, uint64_t grace_usec, uint64_t cooldown_usec,
                               enum record_ref record);
/* Appends an ACTION_OUTCOME for a record: outcome replaces the record's (NULL or "": unchanged),
 * api is added to its API answers (NULL: none), victim replaces its victim (NULL: unchanged).
 * -ENOMEM on OOM. */
int step_push_outcome(struct action_list *l, enum record_ref record, const char *outcome,
                      const char *api, bool done, const struct decision_candidate *victim);
/* Appends a log line; -ENOMEM on OOM. The arguments must not point into the list. */
int step_log(struct action_list *l, int priority, const char *fmt, ...) _printf_(3, 4);

/* A reclaim step finished: account it, and report it in the balloon episode's record. */
int elastic_step_outcome(const struct node_snapshot *snap, struct agent_state *st,
                         struct action_list *out);
/* Applies vscale decisions whose limits were written. */
void elastic_step_limits(const struct node_snapshot *snap, struct agent_state *st);
/* The first rung: every container's balloon and loan, at this level. headroom_bytes: what the
 * scopes can lend (available above their low threshold). */
int elastic_step(const struct node_snapshot *snap, struct agent_state *st,
                 const struct agent_params *p, enum pressure_level level, const char *scope,
                 const char *signals, uint64_t headroom_bytes, struct action_list *out);

/* kube-step.c: the Kubernetes API side of eviction (see step.h). */
/* What the API says of a pod, applied to its candidate: priority, the request when the cgroup
 * gives none, protect and node-critical (never evicted), avoid (last). meta may be NULL. */
void kube_candidate_apply(struct memagent_candidate *c, const struct k8s_pod_meta *meta);
void kube_ref_from_meta(struct kube_pod_ref *ref, const struct k8s_pod_meta *meta);
/* The API asked (429, Retry-After) not to evict this pod before a time that has not come. */
bool kube_held_off(const struct agent_state *st, const char *uid, uint64_t now_usec);
int kube_push_event(struct action_list *out, const struct kube_pod_ref *pod, const char *type,
                    const char *action, const char *reason, const char *fmt, ...) _printf_(6, 7);
int kube_push_evict(struct action_list *out, const struct kube_pod_ref *pod,
                    const struct agent_params *p, enum record_ref record);
/* Queues a pod killed through its cgroup for eviction through the API, not before
 * not_before_usec; a pod already queued keeps its place. Logs when the queue is full. */
int kube_enqueue(struct agent_state *st, const struct kube_pod_ref *pod,
                 const struct decision_candidate *cand, const char *scope, const char *level,
                 uint64_t not_before_usec, struct action_list *out);
/* The API's answers in the snapshot: to the eviction in flight, or to a queued one. */
int kube_step_answers(const struct node_snapshot *snap, struct agent_state *st,
                      const struct agent_params *p, struct action_list *out);
/* The eviction in flight through the API, unanswered for a grace period or overtaken by critical
 * pressure: killed through the cgroup and queued, as when the API cannot be reached. */
int kube_step_overdue(const struct node_snapshot *snap, struct agent_state *st,
                      const struct agent_params *p, enum pressure_level level,
                      struct action_list *out);
/* Sends the queued evictions that are due, while the API is usable. */
int kube_step_queue(const struct node_snapshot *snap, struct agent_state *st,
                    const struct agent_params *p, struct action_list *out);

/* lease-step.c: remote swap (lease-step.h). Sets *ret_evict when a lease that must end cannot be
 * drained before something is evicted: the caller runs the eviction step (its ranking) now. */
int lease_step(const struct node_snapshot *snap, struct agent_state *st,
               const struct agent_params *p, enum pressure_level level, bool *ret_evict,
               struct action_list *out);
void lease_step_state_done(struct lease_step_state *ls);
