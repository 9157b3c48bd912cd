// SPDX-License-Identifier: Apache-2.0
// The world the agent_step() tests run in (test_step.c, test_step_thrash.c, test_step_kube.c):
// candidates and settings, a step built from a snapshot in memory, and a table of rows, each
// with the actions and the level it must produce.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/decide/step.h"
#include "plugins/policy.h"

#define MiB   (1024ull * 1024)
#define SEC   1000000ull
#define TOTAL (1024 * MiB)

/* A step of an episode. avail_mib 0 with an outcome: an outcome alone, no sample. */
struct row {
        double t;           /* seconds */
        uint64_t avail_mib; /* the node's MemAvailable */
        enum evict_outcome outcome;
        bool populated, counted;
        /* expectations */
        enum pressure_level level;
        const char *record_action; /* the eviction record's action, NULL: no record */
        const char *victim;        /* its victim's cgroup, NULL: none */
        bool terminate, kill, ended;
        enum { ANY, NO, YES } relief; /* the report's relief_exhausted */
};

struct world {
        struct agent_params p;
        struct snap_candidate cands[8];
        size_t n_cands;
        bool has_kubepods;
        struct node_sample node;
        struct agent_state st;
        struct action_list out;
        struct policy_chain *chain;
        /* the Kubernetes API: what it says of cands[i] (meta[i], when known), whether it is
         * usable, and its answers for the next step */
        struct k8s_pod_meta meta[8];
        bool kube_usable;
        struct kube_answer answers[4];
        size_t n_answers;
};

int setup(void **state);
int teardown(void **state);
void add(struct world *w, const char *cgroup, enum qos_class qos, uint64_t ws_mib, uint32_t flags,
         bool holds_self);
const struct action *find(const struct action_list *l, enum action_kind k);
/* One step: a sample when avail_mib > 0, else an outcome alone; the world's API answers go
 * along (and are used up). */
void do_step(struct world *w, double t, uint64_t avail_mib, struct evict_result ev);
void step_row(struct world *w, const struct row *r, size_t i);
void run(struct world *w, const struct row *rows, size_t n);
#define RUN(w, rows) run((w), (rows), sizeof(rows) / sizeof((rows)[0]))
/* The default cast: a BestEffort pod, a Burstable one within its request, a Guaranteed one. */
void cast(struct world *w);

#define BE "/kubepods/besteffort/pod-be"
#define BU "/kubepods/burstable/pod-bu"
