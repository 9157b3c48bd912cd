// SPDX-License-Identifier: GPL-2.0
/*
 * memsignals: reclaim stalls and OOM victims per cgroup, as they happen.
 *
 * Reclaim stalls. Each *_begin tracepoint stores the time in a map keyed by (thread, kind); the
 * matching *_end computes the stall, adds it to the per-cgroup counters and log2 histogram of
 * the task's cgroup (bpf_get_current_cgroup_id(): the cgroup v2 inode of the task that stalled,
 * the one that experienced the latency) and, at or above stall_threshold_ns, writes one event to
 * the ring buffer. Memcg reclaim that runs in the context of a writer of memory.high/max/reclaim
 * or of a kworker (the high_work item) is attributed to that writer's cgroup: "who stalled",
 * not "which memcg was reclaimed".
 *
 * OOM victims. oom:mark_victim fires in the task that ran the OOM killer. Kernels with the
 * "add more info to mark_victim" change (mainline 6.8, backported to Debian's 6.1.1xx) pass
 * (task, uid) to the BTF/raw hooks and rss figures in the classic format; older ones only the
 * victim's pid. The loader tells us which via mark_victim_has_task. With the task we read its
 * cgroup (task->cgroups->dfl_cgrp->kn->id), comm, oom_score_adj and memory; with a pid only,
 * the victim's cgroup is known when the victim is the trigger itself (a task OOM-killed while
 * already exiting), else left 0 for user space to resolve.
 *
 * Every hook exists in three flavours, tp_btf, raw_tp and classic tracepoint; the loader
 * autoloads one flavour per hook (the best the kernel takes) and leaves the rest off.
 */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "memsignals.h"

/* Tunables, set by the loader between open and load. */
const volatile __u64 stall_threshold_ns = 1000000;
const volatile bool mark_victim_has_task = true;
/* Ring buffer flags for stall events: BPF_RB_NO_WAKEUP when the reader drains on a timer (the
 * daemon's sampling tick), which spares a wakeup per stall; OOM victims always wake it. */
const volatile __u64 stall_submit_flags = 0;

/* Ring buffer reservations that failed (the reader fell behind). */
__u64 dropped_events = 0;

struct stall_key {
        __u32 tid;
        __u32 kind;
};

struct stall_start {
        __u64 ts;
        __s32 order;
        __u32 gfp_flags;
};

/* LRU: a thread that dies between begin and end must not leak its slot forever. */
struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 8192);
        __type(key, struct stall_key);
        __type(value, struct stall_start);
} stall_starts SEC(".maps");

/* LRU: cgroups that are gone age out instead of filling the map. */
struct {
        __uint(type, BPF_MAP_TYPE_LRU_HASH);
        __uint(max_entries, 4096);
        __type(key, __u64);
        __type(value, struct memsig_cgroup_stats);
} cgroup_stats SEC(".maps");

struct {
        __uint(type, BPF_MAP_TYPE_RINGBUF);
        __uint(max_entries, 256 * 1024);
} events SEC(".maps");

static struct memsig_cgroup_stats zero_stats;

static __always_inline struct memsig_cgroup_stats *stats_of(__u64 cgroup_id)
{
        struct memsig_cgroup_stats *s = bpf_map_lookup_elem(&cgroup_stats, &cgroup_id);
        if (s)
                return s;
        bpf_map_update_elem(&cgroup_stats, &cgroup_id, &zero_stats, BPF_NOEXIST);
        return bpf_map_lookup_elem(&cgroup_stats, &cgroup_id);
}

static __always_inline __u32 log2_u64(__u64 v)
{
        __u32 r = 0, shift;
        shift = (v > 0xFFFFFFFFULL) << 5;
        v >>= shift;
        r |= shift;
        shift = (v > 0xFFFF) << 4;
        v >>= shift;
        r |= shift;
        shift = (v > 0xFF) << 3;
        v >>= shift;
        r |= shift;
        shift = (v > 0xF) << 2;
        v >>= shift;
        r |= shift;
        shift = (v > 0x3) << 1;
        v >>= shift;
        r |= shift;
        r |= (v >> 1);
        return r;
}

static __always_inline int stall_begin(__u32 kind, __s32 order, __u32 gfp_flags)
{
        struct stall_key k = { .tid = (__u32)bpf_get_current_pid_tgid(), .kind = kind };
        struct stall_start v = { .ts = bpf_ktime_get_ns(), .order = order, .gfp_flags = gfp_flags };

        bpf_map_update_elem(&stall_starts, &k, &v, BPF_ANY);
        return 0;
}

static __always_inline int stall_end(__u32 kind, __u64 nr_reclaimed)
{
        __u64 pid_tgid = bpf_get_current_pid_tgid();
        struct stall_key k = { .tid = (__u32)pid_tgid, .kind = kind };
        struct stall_start *start;
        struct memsig_cgroup_stats *s;
        __u64 now = bpf_ktime_get_ns(), d, cgid;
        __s32 order;
        __u32 gfp, slot;

        start = bpf_map_lookup_elem(&stall_starts, &k);
        if (!start)
                return 0; /* attached in the middle of a stall */
        d = now - start->ts;
        order = start->order;
        gfp = start->gfp_flags;
        bpf_map_delete_elem(&stall_starts, &k);
        if (kind >= MEMSIG_STALL_KINDS)
                return 0;

        cgid = bpf_get_current_cgroup_id();
        s = stats_of(cgid);
        if (s) {
                __sync_fetch_and_add(&s->reclaim[kind].count, 1);
                __sync_fetch_and_add(&s->reclaim[kind].total_ns, d);
                __sync_fetch_and_add(&s->reclaim[kind].nr_reclaimed, nr_reclaimed);
                if (d > s->reclaim[kind].max_ns)
                        s->reclaim[kind].max_ns = d; /* racy by design: a lost max is harmless */
                slot = log2_u64(d / 1000);
                if (slot >= MEMSIG_HIST_SLOTS)
                        slot = MEMSIG_HIST_SLOTS - 1;
                /* The mask is for the verifier: clang indexes with a copy of slot taken before
                 * the clamp, and 6.1 does not carry the bound over to it ("unbounded memory
                 * access"). barrier_var() keeps clang from dropping the mask as redundant. */
                barrier_var(slot);
                slot &= MEMSIG_HIST_SLOTS - 1;
                __sync_fetch_and_add(&s->hist[kind][slot], 1);
        }

        if (d < stall_threshold_ns)
                return 0;
        struct memsig_stall_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        if (!e) {
                __sync_fetch_and_add(&dropped_events, 1);
                return 0;
        }
        e->type = MEMSIG_EV_STALL;
        e->kind = kind;
        e->cgroup_id = cgid;
        e->start_ns = now - d;
        e->duration_ns = d;
        e->nr_reclaimed = nr_reclaimed;
        e->pid = pid_tgid >> 32;
        e->tid = (__u32)pid_tgid;
        e->order = order;
        e->gfp_flags = gfp;
        bpf_get_current_comm(e->comm, sizeof(e->comm));
        bpf_ringbuf_submit(e, stall_submit_flags);
        return 0;
}

/* Kernels before 6.2 count rss in mm->rss_stat.count[] (atomic_long_t); later ones in an array of
 * percpu_counter whose .count is the approximate global value (what the tracepoint reports). */
struct mm_rss_stat___old {
        atomic_long_t count[4];
} __attribute__((preserve_access_index));
struct mm_struct___old {
        struct mm_rss_stat___old rss_stat;
} __attribute__((preserve_access_index));
struct mm_struct___new {
        struct percpu_counter rss_stat[4];
} __attribute__((preserve_access_index));

enum { RSS_FILE = 0, RSS_ANON = 1, RSS_SWAP = 2, RSS_SHMEM = 3 };

static __always_inline __u64 rss_read(struct mm_struct *mm, int i)
{
        long v = 0;

        if (bpf_core_field_exists(((struct mm_struct___new *)0)->rss_stat)) {
                struct mm_struct___new *m = (void *)mm;
                v = BPF_CORE_READ(m, rss_stat[i].count);
        } else if (bpf_core_field_exists(((struct mm_struct___old *)0)->rss_stat)) {
                struct mm_struct___old *m = (void *)mm;
                v = BPF_CORE_READ(m, rss_stat.count[i].counter);
        }
        return v > 0 ? (__u64)v : 0;
}

static __always_inline void oom_fill_task(struct memsig_oom_event *e, struct task_struct *task)
{
        struct mm_struct *mm;

        e->victim_pid = BPF_CORE_READ(task, pid);
        e->victim_tgid = BPF_CORE_READ(task, tgid);
        e->victim_cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
        BPF_CORE_READ_STR_INTO(&e->victim_comm, task, comm);
        e->oom_score_adj = BPF_CORE_READ(task, signal, oom_score_adj);
        e->flags |= MEMSIG_OOM_VICTIM_TASK | MEMSIG_OOM_SCORE_ADJ;
        mm = BPF_CORE_READ(task, mm);
        if (!mm)
                return;
        e->total_vm_pages = BPF_CORE_READ(mm, total_vm);
        e->anon_rss_pages = rss_read(mm, RSS_ANON);
        e->file_rss_pages = rss_read(mm, RSS_FILE);
        e->shmem_rss_pages = rss_read(mm, RSS_SHMEM);
        e->pgtables_bytes = BPF_CORE_READ(mm, pgtables_bytes.counter);
        e->flags |= MEMSIG_OOM_MM;
}

static __always_inline struct memsig_oom_event *oom_event_new(void)
{
        struct memsig_oom_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

        if (!e) {
                __sync_fetch_and_add(&dropped_events, 1);
                return NULL;
        }
        __builtin_memset(e, 0, sizeof(*e));
        e->type = MEMSIG_EV_OOM_VICTIM;
        e->time_ns = bpf_ktime_get_ns();
        e->trigger_pid = bpf_get_current_pid_tgid() >> 32;
        e->trigger_cgroup_id = bpf_get_current_cgroup_id();
        bpf_get_current_comm(e->trigger_comm, sizeof(e->trigger_comm));
        return e;
}

static __always_inline void oom_event_submit(struct memsig_oom_event *e)
{
        if (e->victim_cgroup_id) {
                struct memsig_cgroup_stats *s = stats_of(e->victim_cgroup_id);
                if (s)
                        __sync_fetch_and_add(&s->oom_victims, 1);
        }
        bpf_ringbuf_submit(e, 0);
}

/* BTF and raw flavours: ctx holds the TP_PROTO arguments as u64s. */
static __always_inline int mark_victim_args(__u64 *ctx)
{
        struct memsig_oom_event *e = oom_event_new();

        if (!e)
                return 0;
        if (mark_victim_has_task) {
                /* TP_PROTO(struct task_struct *task, uid_t uid) */
                oom_fill_task(e, (struct task_struct *)ctx[0]);
                e->uid = (__u32)ctx[1];
                e->flags |= MEMSIG_OOM_UID;
        } else {
                /* TP_PROTO(int pid) */
                e->victim_pid = (__u32)ctx[0];
                if (e->victim_pid == (__u32)bpf_get_current_pid_tgid())
                        oom_fill_task(e, (struct task_struct *)bpf_get_current_task());
        }
        oom_event_submit(e);
        return 0;
}

/* The classic flavour reads the record the tracepoint wrote; rss fields exist on kernels with
 * the (task, uid) prototype. */
static __always_inline int mark_victim_record(struct trace_event_raw_mark_victim *r)
{
        struct memsig_oom_event *e = oom_event_new();

        if (!e)
                return 0;
        e->victim_pid = BPF_CORE_READ(r, pid);
        if (e->victim_pid == (__u32)bpf_get_current_pid_tgid())
                oom_fill_task(e, (struct task_struct *)bpf_get_current_task());
        if (bpf_core_field_exists(r->anon_rss)) {
                e->total_vm_pages = BPF_CORE_READ(r, total_vm);
                e->anon_rss_pages = BPF_CORE_READ(r, anon_rss);
                e->file_rss_pages = BPF_CORE_READ(r, file_rss);
                e->shmem_rss_pages = BPF_CORE_READ(r, shmem_rss);
                e->pgtables_bytes = BPF_CORE_READ(r, pgtables);
                e->uid = BPF_CORE_READ(r, uid);
                e->oom_score_adj = BPF_CORE_READ(r, oom_score_adj);
                e->flags |= MEMSIG_OOM_MM | MEMSIG_OOM_UID | MEMSIG_OOM_SCORE_ADJ;
        }
        oom_event_submit(e);
        return 0;
}

/* One hook in three flavours. tp_btf and raw_tp get the same u64 argument array. */
#define STALL_HOOKS(name, kind)                                                                    \
        SEC("tp_btf/mm_vmscan_" #name "_begin")                                                    \
        int BPF_PROG(btf_##name##_begin, int order, gfp_t gfp_flags)                               \
        {                                                                                          \
                return stall_begin(kind, order, gfp_flags);                                        \
        }                                                                                          \
        SEC("raw_tp/mm_vmscan_" #name "_begin")                                                    \
        int BPF_PROG(raw_##name##_begin, int order, gfp_t gfp_flags)                               \
        {                                                                                          \
                return stall_begin(kind, order, gfp_flags);                                        \
        }                                                                                          \
        SEC("tracepoint/vmscan/mm_vmscan_" #name "_begin")                                         \
        int tp_##name##_begin(struct trace_event_raw_mm_vmscan_direct_reclaim_begin_template *r)   \
        {                                                                                          \
                return stall_begin(kind, BPF_CORE_READ(r, order),                                  \
                                   (__u32)BPF_CORE_READ(r, gfp_flags));                            \
        }                                                                                          \
        SEC("tp_btf/mm_vmscan_" #name "_end")                                                      \
        int BPF_PROG(btf_##name##_end, unsigned long nr_reclaimed)                                 \
        {                                                                                          \
                return stall_end(kind, nr_reclaimed);                                              \
        }                                                                                          \
        SEC("raw_tp/mm_vmscan_" #name "_end")                                                      \
        int BPF_PROG(raw_##name##_end, unsigned long nr_reclaimed)                                 \
        {                                                                                          \
                return stall_end(kind, nr_reclaimed);                                              \
        }                                                                                          \
        SEC("tracepoint/vmscan/mm_vmscan_" #name "_end")                                           \
        int tp_##name##_end(struct trace_event_raw_mm_vmscan_direct_reclaim_end_template *r)       \
        {                                                                                          \
                return stall_end(kind, BPF_CORE_READ(r, nr_reclaimed));                            \
        }

STALL_HOOKS(direct_reclaim, MEMSIG_STALL_DIRECT)
STALL_HOOKS(memcg_reclaim, MEMSIG_STALL_MEMCG)
STALL_HOOKS(memcg_softlimit_reclaim, MEMSIG_STALL_SOFTLIMIT)

SEC("tp_btf/mark_victim")
int btf_mark_victim(__u64 *ctx)
{
        return mark_victim_args(ctx);
}

SEC("raw_tp/mark_victim")
int raw_mark_victim(__u64 *ctx)
{
        return mark_victim_args(ctx);
}

SEC("tracepoint/oom/mark_victim")
int tp_mark_victim(struct trace_event_raw_mark_victim *r)
{
        return mark_victim_record(r);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
