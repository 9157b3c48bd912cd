// SPDX-License-Identifier: Apache-2.0
// One tracked cgroup v2 directory and its memory sample. Files are opened once, relative to the
// cgroup's directory fd, and re-read with pread() on every sample.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/kernel/parse.h"

enum cg_file {
        CGF_CURRENT,
        CGF_STAT,
        CGF_EVENTS,
        CGF_PRESSURE,
        CGF_NUMA_STAT,
        CGF_MIN,
        CGF_LOW,
        CGF_HIGH,
        CGF_MAX,
        CGF_SWAP_CURRENT,
        CGF_SWAP_MAX,
        CGF_PEAK,
        _CGF_MAX,
};

/* Bit per cg_file: set in cg_sample.have when that file was present and parsed. */
#define CG_HAVE(f) (UINT32_C(1) << (f))

struct cg_sample {
        uint32_t have;
        uint64_t current, min, low, high, max, swap_current, swap_max, peak;
        uint64_t working_set; /* current - inactive_file, the kubelet's definition */
        struct memory_stat stat;
        struct memory_events events;
        struct psi_stats psi;
        struct numa_stat numa;
        uint64_t time_usec; /* CLOCK_MONOTONIC when sampled */
        /* From BPF (bpf/model-fill.c), not from a cgroup file: time tasks spent in direct and
         * memcg reclaim since the programs were loaded; has_ false when BPF is not running. */
        bool has_reclaim_stall;
        uint64_t reclaim_stall_usec;
};

struct cgroup {
        char *path;        /* relative to the cgroup root, starting with "/"; "/" for the root */
        int dfd;           /* O_DIRECTORY fd of the cgroup */
        uint64_t id;       /* inode number: the cgroup id BPF reports, and our identity check */
        int fds[_CGF_MAX]; /* -1 not opened yet, -2 file absent in this kernel/cgroup */
        bool gone;         /* vanished (rmdir) since discovery: drop at next refresh */
        struct cg_sample s;
        /* Smoothed growth of memory.current (EWMA over samples, ~3 s time constant), bytes per
         * second; negative when shrinking. 0 until two samples exist. */
        int64_t growth_bytes_per_sec;
        /* File pages refaulted (workingset_refault_file) and of those activated
         * (workingset_activate_file) per second between the last two samples: a cache whose pages
         * come back is in use. has_ false until two samples with memory.stat exist. */
        bool has_refault_rate;
        double refault_file_per_sec, activate_file_per_sec;
};

extern const char *const cg_file_names[_CGF_MAX];

/* Opens path (relative to root_fd, leading "/" allowed) for tracking. Returns 0, -ENOENT when
 * the cgroup vanished, or another negative errno. c is initialised; release with cgroup_done(). */
int cgroup_open(struct cgroup *c, int root_fd, const char *path);
void cgroup_done(struct cgroup *c);
/* Moves fds and identity from old into c when they are the same cgroup (same inode). */
void cgroup_adopt(struct cgroup *c, struct cgroup *old);

/* Reads and parses every memory file of the cgroup into c->s. scratch must hold a whole
 * memory.stat (8 KiB is plenty). Returns 0; -ENOENT when the cgroup vanished (c->gone is set,
 * nothing logged); a parse error is logged with the file's path and line, and that file's bit
 * stays clear in c->s.have (the rest of the sample is kept). */
int cgroup_sample(struct cgroup *c, char *scratch, size_t scratch_size);

/* Closes the cached file fds (keeps the directory fd): for when fds run short. */
void cgroup_drop_fds(struct cgroup *c);
