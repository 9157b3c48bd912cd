// SPDX-License-Identifier: Apache-2.0
// Shared by the parts of agent_step(): step.c (pressure, episode, eviction, report) and
// elastic-step.c (the balloon and vertical scaling). Not for the daemon.
#pragma once

#include "agent/decide/step.h"
#include "common/macro.h"

/* Appends a zeroed action of this kind; NULL on OOM. Invalidates pointers into the list. */
struct action *step_push(struct action_list *l, enum action_kind kind);
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
