// SPDX-License-Identifier: Apache-2.0
// BPF memory signals (bpf/memsignals.bpf.c): reclaim stall time and count per cgroup, OOM victims.
// Loads the CO-RE programs with the best attach type the kernel takes (tp_btf, then raw_tp, then
// classic tracepoint), exposes the ring buffer as a pollable fd and the per-cgroup aggregates as
// a map read on the sampling tick. loader.c implements it with libbpf; built without BPF
// (MEMAGENT_HAVE_BPF=0) loader-stub.c does, where every call that needs the kernel returns
// -EOPNOTSUPP and bpfsig_open() says why. model-fill.c feeds the counters to the agent's model.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bpf/memsignals.h"

/* Where the loader pins its per-cgroup map when asked, and where readers look by default. */
#define BPFSIG_PIN_DIR_DEFAULT "/sys/fs/bpf/memagent"
/* Name of the pinned map inside the pin directory; carries the layout version. */
#define BPFSIG_PIN_STATS_NAME "cgroup_stats_v1"

enum bpfsig_attach {
        BPFSIG_ATTACH_NONE = 0,
        BPFSIG_ATTACH_TP_BTF,
        BPFSIG_ATTACH_RAW_TP,
        BPFSIG_ATTACH_TRACEPOINT,
};
static inline const char *bpfsig_attach_to_string(enum bpfsig_attach a)
{
        switch (a) {
        case BPFSIG_ATTACH_TP_BTF:
                return "tp_btf";
        case BPFSIG_ATTACH_RAW_TP:
                return "raw_tp";
        case BPFSIG_ATTACH_TRACEPOINT:
                return "tracepoint";
        case BPFSIG_ATTACH_NONE:
        default:
                return "none";
        }
}

struct bpfsig_opts {
        uint64_t stall_threshold_usec; /* events for stalls at or above this; 0: every stall */
        const char *pin_dir; /* pin the per-cgroup map here (NULL: do not pin); bpffs is mounted
                              * at /sys/fs/bpf if nothing is, the directory created */
        enum bpfsig_attach force_attach; /* NONE: try tp_btf, raw_tp, tracepoint in turn */
        bool no_attach;                  /* load only (tests drive programs with PROG_TEST_RUN) */
        /* Stall events do not wake the reader: it drains them with bpfsig_consume() on its own
         * schedule (the daemon's tick). OOM-victim events wake it regardless. */
        bool lazy_stall_events;
        /* Which oom:mark_victim prototype to assume: AUTO reads it from the kernel's BTF; the
         * others are for tests of the older (pid only) path on a newer kernel. */
        enum bpfsig_victim_proto {
                BPFSIG_VICTIM_AUTO = 0,
                BPFSIG_VICTIM_TASK, /* (struct task_struct *task, uid_t uid): 6.8+, Debian 6.1.1xx
                                     */
                BPFSIG_VICTIM_PID,  /* (int pid): older kernels */
        } victim_proto;
        char *why;       /* optional: on failure, one line saying what is missing and why */
        size_t why_size; /* its size */
};

struct bpfsig;

/* Checks what loading needs without loading anything: built with BPF, kernel BTF at
 * /sys/kernel/btf/vmlinux, CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) in the effective set.
 * Returns 0, or -EOPNOTSUPP / -ENOENT / -EPERM with one line in why naming what is missing. */
int bpfsig_probe(char *why, size_t why_size);

/* Opens, loads and attaches the programs (falling back from tp_btf to raw_tp to tracepoint,
 * mounting tracefs when the tracepoint flavour needs it), and pins the stats map when asked.
 * Logs at info what it attached and with which type, and at notice each fallback. Returns 0 and
 * *ret (free with bpfsig_free()), or a negative errno with o->why filled: -EOPNOTSUPP (built
 * without BPF), -ENOENT (no BTF), -EPERM (missing capabilities), or the kernel's refusal. */
int bpfsig_open(const struct bpfsig_opts *o, struct bpfsig **ret);

/* Opens the per-cgroup map pinned by a running loader, read only: for `memagent status`.
 * pin_dir NULL means BPFSIG_PIN_DIR_DEFAULT. Returns 0 and *ret; -ENOENT when no loader has
 * pinned one (not an error: there is simply no BPF data); -EPROTO when the pinned map has
 * another layout; -EOPNOTSUPP when built without BPF. Nothing is logged for -ENOENT. */
int bpfsig_open_pinned(const char *pin_dir, struct bpfsig **ret);

/* Detaches, unpins what this loader pinned, closes. NULL is fine. */
void bpfsig_free(struct bpfsig *b);
static inline void bpfsig_freep(struct bpfsig **b)
{
        bpfsig_free(*b);
}

/* Which attach type the programs use (NONE for a pinned-map reader, or with no_attach). */
enum bpfsig_attach bpfsig_attach_type(const struct bpfsig *b);
/* Names of the hooks ("vmscan:mm_vmscan_direct_reclaim_begin", ...) attached, ", "-separated. */
const char *bpfsig_attached_hooks(const struct bpfsig *b);

/* Aggregates of one cgroup, in user units. */
struct bpfsig_reclaim {
        uint64_t count;
        uint64_t stall_usec;
        uint64_t max_usec;
        uint64_t nr_reclaimed; /* pages */
};
struct bpfsig_cgroup_stats {
        struct bpfsig_reclaim reclaim[MEMSIG_STALL_KINDS]; /* by enum memsig_stall_kind */
        uint64_t oom_victims;
        uint64_t hist[MEMSIG_STALL_KINDS][MEMSIG_HIST_SLOTS]; /* log2 usec, see memsignals.h */
};

/* Time the cgroup's tasks spent stalled in reclaim: direct plus memcg (softlimit reclaim runs
 * inside direct reclaim and is not added again). This is status's reclaim_stall_usec. */
static inline uint64_t bpfsig_reclaim_stall_usec(const struct bpfsig_cgroup_stats *s)
{
        return s->reclaim[MEMSIG_STALL_DIRECT].stall_usec +
               s->reclaim[MEMSIG_STALL_MEMCG].stall_usec;
}

/* Reads the aggregates of cgroup_id (the cgroup's inode number, struct cgroup.id). Returns 0;
 * -ENOENT when no task of that cgroup has stalled (or OOMed) since load: read it as all zeros;
 * another negative errno when the map cannot be read. Works on loaders and pinned readers. */
int bpfsig_read_cgroup(struct bpfsig *b, uint64_t cgroup_id, struct bpfsig_cgroup_stats *ret);

/* Calls cb for every cgroup in the map; stops early and returns cb's value when it is nonzero. */
typedef int (*bpfsig_cgroup_cb)(uint64_t cgroup_id, const struct bpfsig_cgroup_stats *s,
                                void *userdata);
int bpfsig_for_each_cgroup(struct bpfsig *b, bpfsig_cgroup_cb cb, void *userdata);

/* One ring buffer record: check type first, then use the matching member. */
union bpfsig_event {
        uint32_t type; /* enum memsig_event_type */
        struct memsig_stall_event stall;
        struct memsig_oom_event oom;
};
typedef void (*bpfsig_event_cb)(const union bpfsig_event *ev, void *userdata);

/* An fd that polls readable (EPOLLIN) when events wait: an sd-event / epoll source. Owned by b.
 * -EBADF for a pinned-map reader. */
int bpfsig_event_fd(const struct bpfsig *b);
/* Delivers every waiting event to cb, without blocking. Returns the number delivered or a
 * negative errno. Set the callback once with bpfsig_set_event_cb() before polling. */
void bpfsig_set_event_cb(struct bpfsig *b, bpfsig_event_cb cb, void *userdata);
int bpfsig_consume(struct bpfsig *b);
/* Waits up to timeout_ms (-1: forever) and delivers what arrived; returns as bpfsig_consume(). */
int bpfsig_poll(struct bpfsig *b, int timeout_ms);
/* Ring buffer reservations the programs could not make (the reader fell behind). */
uint64_t bpfsig_dropped_events(const struct bpfsig *b);

/* BPF run-time statistics (BPF_ENABLE_STATS / BPF_STATS_RUN_TIME): the kernel counts run time
 * and runs of every program while the returned fd stays open. Returns the fd or a negative
 * errno. Costs two clock reads per program run; for benchmarks, not for production. */
int bpfsig_enable_stats(void);

struct bpfsig_prog_stats {
        char name[64]; /* hook name */
        uint64_t run_cnt;
        uint64_t run_time_ns;
};
/* Fills up to n entries for the attached programs; returns how many, or a negative errno. */
int bpfsig_prog_stats(const struct bpfsig *b, struct bpfsig_prog_stats *out, size_t n);

/* Test hook: runs the loaded program of `hook` ("mm_vmscan_direct_reclaim_begin", ...) once in
 * the caller's context with args as its TP_PROTO arguments (BPF_PROG_TEST_RUN; raw_tp programs
 * only, open with force_attach = BPFSIG_ATTACH_RAW_TP). Returns 0, -ENOENT for an unknown or
 * unloaded hook, or the kernel's error (-ENOTSUPP and -EINVAL where it refuses test runs). */
int bpfsig_test_run(struct bpfsig *b, const char *hook, const uint64_t *args, size_t n_args);

/* Whether the loader sees the (task, uid) mark_victim prototype in this kernel's BTF. */
bool bpfsig_mark_victim_has_task(const struct bpfsig *b);

struct model;
/* Sets reclaim_stall_usec in every cgroup sample of m from the per-cgroup aggregates: a
 * container's own stall time, and for a pod its own plus its containers' (stalls are counted in
 * the cgroup of the task that stalled). No-op with b NULL. */
void bpfsig_fill_model(struct bpfsig *b, struct model *m);
