// SPDX-License-Identifier: Apache-2.0
// memagentd's state file: what the agent remembers across a restart (agent/decide/restore.h),
// as JSON in STATE_DIRECTORY/state.json, times in CLOCK_REALTIME microseconds. Written
// atomically (a temporary file, fsync, rename) after a step that changed it, never by
// agent_step(); read once at start and reconciled with the cgroups before the first step.
#pragma once

#include <stddef.h>

#include "agent/decide/restore.h"

#define PERSIST_FILE "state.json"

struct manager;

/* s (CLOCK_REALTIME) as the file's JSON text (free() it). Returns 0 or -ENOMEM. */
int persist_encode(const struct persisted_state *s, uint64_t saved_realtime_usec, char **ret);
/* The file's text into ret (CLOCK_REALTIME). Returns 0, or -EBADMSG with why filled. */
int persist_decode(const char *text, struct persisted_state *ret, char *why, size_t why_size);

/* Writes s into dir/state.json atomically, creating dir (0700) when missing; the file is 0600.
 * Returns 0 or a negative errno. */
int persist_save(const char *dir, const struct persisted_state *s, uint64_t saved_realtime_usec);
/* Reads dir/state.json. Returns 0; -ENOENT when there is none; -EBADMSG (why filled) when it is
 * not a state file; another negative errno when it cannot be read. */
int persist_load(const char *dir, struct persisted_state *ret, char *why, size_t why_size);

/* manager_new(): loads the file, if any, and reconciles it into m->state; logs what it found.
 * Never fails: a file that cannot be used is logged once and the agent starts fresh. */
void persist_restore(struct manager *m);
/* After each step: saves when what must survive a restart changed since the last save. */
void persist_maybe_save(struct manager *m);
