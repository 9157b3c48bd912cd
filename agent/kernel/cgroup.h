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

/* Which files a sample reads, as CG_HAVE() bits. Everything: */
#define CG_FILES_ALL ((UINT32_C(1) << _CGF_MAX) - 1)
/* What a decision about one cgroup reads of it (a calm tick's balloon and vertical scaling
 * targets, a woken or escalated cgroup): everything but memory.numa_stat, which only status and
 * the report show (the full sample every 30 s and on pressure reads it), and whose parse cost a
 * third of a full read. */
#define CG_FILES_DECIDE (CG_FILES_ALL & ~CG_HAVE(CGF_NUMA_STAT))
/* What a calm tick reads of a pod or container: usage, and the event counts that say when to look
 * closer. Two small files instead of twelve, memory.stat's 40 lines among them. */
#define CG_FILES_LIGHT (CG_HAVE(CGF_CURRENT) | CG_HAVE(CGF_EVENTS))
/* Settings (written by the kubelet, or by us): a sample that does not read them keeps their
 * values and have bits from the last read. Every other file a sample does not read is a
 * measurement, and its have bit is cleared, so that nothing takes an old figure for a new one
 * (the balloon, for one, sees no PSI and does not step); its last values stay for those who know
 * their age (working_set's inactive_file, cg_sample.stat_usec). */
#define CG_FILES_SETTINGS                                                                          \
        (CG_HAVE(CGF_MIN) | CG_HAVE(CGF_LOW) | CG_HAVE(CGF_HIGH) | CG_HAVE(CGF_MAX) |              \
         CG_HAVE(CGF_SWAP_MAX))

struct cg_sample {
        uint32_t have;
        uint64_t current, min, low, high, max, swap_current, swap_max, peak;
        uint64_t working_set; /* current - inactive_file, the kubelet's definition */
        struct memory_stat stat;
        struct memory_events events;
        struct psi_stats psi;
        /* memory.numa_stat: NULL until first read, then owned by the cgroup (cgroup_done() frees
         * it, cgroup_adopt() moves it). Out of line: only status shows it and the routine reads
         * skip it, so most cgroups of a calm node never hold one (264 bytes each, issue 13). */
        struct numa_stat *numa;
        uint64_t time_usec; /* CLOCK_MONOTONIC when sampled (memory.current at least) */
        /* CLOCK_MONOTONIC when memory.stat was last read and parsed, 0 never: the age of stat and
         * of the inactive_file working_set subtracts (a light sample keeps both). */
        uint64_t stat_usec;
        /* From BPF (bpf/model-fill.c), not from a cgroup file: time tasks spent in direct and
         * memcg reclaim since the programs were loaded; has_ false when BPF is not running. */
        bool has_reclaim_stall;
        uint64_t reclaim_stall_usec;
};

struct cgroup {
        char *path;  /* relative to the cgroup root, starting with "/"; "/" for the root */
        int dfd;     /* O_DIRECTORY fd of the cgroup; -1 beyond the fd budget (read by path) */
        int root_fd; /* what path is relative to; not owned */
        uint64_t id; /* inode number: the cgroup id BPF reports, and our identity check */
        int fds[_CGF_MAX]; /* -1 not opened yet, -2 file absent in this kernel/cgroup */
        bool gone;         /* vanished (rmdir) since discovery: drop at next refresh */
        bool warned;       /* a read failed and was logged: said once until reads work again */
        /* The kernel tells when memory.events changes (an inotify watch, IN_MODIFY): a sample need
         * not read it to know its counts are current, and keeps its have bit. Set by the manager
         * after each walk. */
        bool events_watched;
        /* An event about this cgroup arrived (its memory.events changed, its PSI trigger fired):
         * the next sample reads it in full, which clears this. */
        bool woken;
        /* the files (CG_HAVE() bits) the last sample read, and the one before: a file read by
         * both is read every tick, and kept open (see cgroup_set_fd_budget()) */
        uint32_t read_files, read_before;
        /* memory.events counts (high, max, oom...) moved between the last two reads of it */
        bool events_changed;
        /* FNV-1a of memory.events as last parsed, 0 none: the same bytes are not parsed again
         * (a calm tick reads memory.events of every cgroup, and it rarely changes) */
        uint64_t events_hash;
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
/* The same, reading only the files in `files` (CG_HAVE() bits; see CG_FILES_SETTINGS for what
 * happens to the others). memory.current, when read, updates the growth rate; memory.stat, when
 * read, the refault rates (over the time since it was read last). */
int cgroup_sample_files(struct cgroup *c, uint32_t files, char *scratch, size_t scratch_size);
/* Reads more files into the sample just taken (a light sample that turned out to need the
 * rest): every figure already in it stays, its time too. */
int cgroup_sample_more(struct cgroup *c, uint32_t files, char *scratch, size_t scratch_size);

/* Closes the cached file fds (keeps the directory fd): for when fds run short. */
void cgroup_drop_fds(struct cgroup *c);

/* The fd budget: how many fds tracked cgroups may keep open together (directories and cached
 * files; SIZE_MAX until set). Directories and files read every tick (CG_FILES_LIGHT) are kept
 * while under it, other files read on two samples in a row while under half of it (and closed
 * when a sample does not read them); the rest are opened at each read, and
 * a cgroup opened with cgroup_open_budgeted() beyond it keeps no directory fd either (read by
 * its path from the root). Warns once when reached. */
void cgroup_set_fd_budget(size_t n);
/* How many fds tracked cgroups keep open now. */
size_t cgroup_fds_kept(void);
/* cgroup_open(), but the directory fd is closed again when the budget is reached. */
int cgroup_open_budgeted(struct cgroup *c, int root_fd, const char *path);
/* A new fd of the cgroup's directory (a dup of dfd, or opened by path), for the caller to close;
 * or a negative errno. */
int cgroup_dir_open(const struct cgroup *c);
