// SPDX-License-Identifier: Apache-2.0
// Ending a cgroup's processes, safely: the mechanism under eviction, no policy here.
#pragma once

#include <stdbool.h>
#include <stdint.h>

enum kill_outcome {
        KILL_DONE,          /* killed, and the cgroup is empty */
        KILL_TIMEOUT,       /* killed, but not empty within the time limit */
        KILL_ALREADY_EMPTY, /* nothing to kill: exited on its own */
        KILL_VANISHED,      /* the cgroup is gone */
        KILL_REPLACED,      /* the path now names another cgroup (different inode): not touched */
};
const char *kill_outcome_to_string(enum kill_outcome o);

struct kill_result {
        enum kill_outcome outcome;
        uint64_t current_before_bytes, current_after_bytes;
        uint64_t duration_usec; /* from the freeze to the cgroup being empty */
        bool froze;             /* the freezer confirmed "frozen 1" before the kill */
};

/* Kills every process of the cgroup at path (relative to root_fd) if it is still the cgroup
 * with inode expect_id: freeze it (so nothing forks or escapes while we check), re-check its
 * identity and that it still has processes, write cgroup.kill, wait up to timeout_ms for
 * cgroup.events to say "populated 0", then thaw it (a pod's cgroup outlives its processes and
 * the kubelet restarts containers inside it). Returns 0 with *ret filled whatever the outcome,
 * or a negative errno when the kernel refused (e.g. no cgroup.kill before Linux 5.14). */
int cgroup_kill_verified(int root_fd, const char *path, uint64_t expect_id, int timeout_ms,
                         struct kill_result *ret);

/* Sends sig to every process in the cgroup and its descendants (cgroup.procs). Returns the
 * number signalled, or a negative errno (-ENOENT when the cgroup vanished). */
int cgroup_signal_all(int root_fd, const char *path, int sig);

/* 1 when cgroup.events says "populated 1", 0 when 0, negative errno (-ENOENT vanished). */
int cgroup_populated(int root_fd, const char *path);
