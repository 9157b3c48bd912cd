// SPDX-License-Identifier: Apache-2.0
// Event and aggregate layouts shared by memsignals.bpf.c and its loader (loader.c).
// Fixed-width types only: the same bytes are written by BPF and read by user space. Changing a
// layout means bumping MEMSIG_ABI_VERSION, which is part of the pinned map's name, so that a
// reader never interprets another version's bytes.
#pragma once

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define MEMSIG_ABI_VERSION 1
#define MEMSIG_COMM_LEN    16
/* log2 buckets of stall time in microseconds: slot i counts stalls in [2^i, 2^(i+1)) usec (slot 0
 * also takes stalls under 1 usec); the last slot takes everything from 2^31 usec up. A power of
 * two: the BPF side masks the index with MEMSIG_HIST_SLOTS - 1. */
#define MEMSIG_HIST_SLOTS 32

/* Which reclaim a stall was spent in. Softlimit reclaim runs inside global (direct or kswapd)
 * reclaim, so its time is part of a direct stall when a task was in direct reclaim. */
enum memsig_stall_kind {
        MEMSIG_STALL_DIRECT = 0,    /* vmscan:mm_vmscan_direct_reclaim_begin/end */
        MEMSIG_STALL_MEMCG = 1,     /* vmscan:mm_vmscan_memcg_reclaim_begin/end */
        MEMSIG_STALL_SOFTLIMIT = 2, /* vmscan:mm_vmscan_memcg_softlimit_reclaim_begin/end */
        MEMSIG_STALL_KINDS = 3,
};

enum memsig_event_type {
        MEMSIG_EV_STALL = 1,
        MEMSIG_EV_OOM_VICTIM = 2,
};

/* One reclaim stall of at least stall_threshold_ns, in the context of the task that stalled. */
struct memsig_stall_event {
        __u32 type;         /* MEMSIG_EV_STALL */
        __u32 kind;         /* enum memsig_stall_kind */
        __u64 cgroup_id;    /* cgroup v2 id (inode) of the stalled task */
        __u64 start_ns;     /* CLOCK_MONOTONIC at *_begin */
        __u64 duration_ns;  /* *_end minus *_begin */
        __u64 nr_reclaimed; /* pages, as the *_end tracepoint reports */
        __u32 pid;          /* thread group id (what user space calls the pid) */
        __u32 tid;
        __s32 order;     /* allocation order, from *_begin */
        __u32 gfp_flags; /* allocation flags, from *_begin */
        char comm[MEMSIG_COMM_LEN];
};

/* Fields of memsig_oom_event that were known when it was written. */
enum memsig_oom_flags {
        MEMSIG_OOM_VICTIM_TASK = 1 << 0, /* victim_* read from the victim's task_struct */
        MEMSIG_OOM_MM = 1 << 1,          /* total_vm/rss/pgtables known */
        MEMSIG_OOM_UID = 1 << 2,         /* uid known */
        MEMSIG_OOM_SCORE_ADJ = 1 << 3,   /* oom_score_adj known */
};

/* oom:mark_victim. The tracepoint fires in the context of the task that ran the OOM killer (the
 * trigger), which is not necessarily the victim. */
struct memsig_oom_event {
        __u32 type;             /* MEMSIG_EV_OOM_VICTIM */
        __u32 flags;            /* enum memsig_oom_flags */
        __u64 victim_cgroup_id; /* 0 when the victim's task was not reachable */
        __u64 trigger_cgroup_id;
        __u64 time_ns; /* CLOCK_MONOTONIC */
        __u64 total_vm_pages;
        __u64 anon_rss_pages;
        __u64 file_rss_pages;
        __u64 shmem_rss_pages;
        __u64 pgtables_bytes;
        __u32 victim_pid; /* the victim thread's id, as the tracepoint reports it */
        __u32 victim_tgid;
        __u32 trigger_pid; /* thread group id of the trigger */
        __u32 uid;
        __s16 oom_score_adj;
        __u16 pad;
        __u32 pad2;
        char victim_comm[MEMSIG_COMM_LEN];
        char trigger_comm[MEMSIG_COMM_LEN];
};

struct memsig_reclaim_stats {
        __u64 count;
        __u64 total_ns;
        __u64 max_ns;
        __u64 nr_reclaimed;
};

/* Value of the per-cgroup map (key: __u64 cgroup id of the task that stalled, or of the OOM
 * victim for oom_victims). Counters only grow while the programs are loaded. */
struct memsig_cgroup_stats {
        struct memsig_reclaim_stats reclaim[MEMSIG_STALL_KINDS];
        __u64 oom_victims;
        __u64 hist[MEMSIG_STALL_KINDS][MEMSIG_HIST_SLOTS];
};
