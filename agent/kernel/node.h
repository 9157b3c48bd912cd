// SPDX-License-Identifier: Apache-2.0
// Node-wide memory: /proc/meminfo, /proc/pressure/memory, and NUMA zones from sysfs.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/kernel/parse.h"

struct numa_zone {
        unsigned id;
        uint64_t total, free, file, sreclaimable;
        unsigned distance[NUMA_NODES_MAX];
        unsigned n_distance;
};

struct node_sample {
        struct meminfo mem;
        bool has_psi; /* false on kernels without PSI (or booted psi=0) */
        struct psi_stats psi;
        struct numa_zone zones[NUMA_NODES_MAX];
        unsigned n_zones;
};

/* Reads the node's memory state. proc_fd and sys_fd are directory fds of the proc and sys
 * roots (/proc and /sys normally). /proc/meminfo must be readable and well formed (error
 * logged with path and line, -EBADMSG or the read's errno returned); PSI and NUMA files are
 * optional. On success fills *ret and returns 0. */
int node_sample(int proc_fd, int sys_fd, struct node_sample *ret, char *scratch, size_t size);
