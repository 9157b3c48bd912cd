// SPDX-License-Identifier: Apache-2.0
// The policy plugin ABI. A policy ranks eviction candidates; memagentd asks the configured chain
// of policies and kills the candidate that ranks first. Built-in policies use this same ABI.
//
// A plugin is a shared object exporting one symbol, MEMAGENT_POLICY_SYMBOL, of type
// `const struct memagent_policy`. The loader (dlopen RTLD_NOW|RTLD_LOCAL) refuses a plugin whose
// abi_version differs from the agent's, or whose struct_size is smaller than the agent needs,
// and says which. struct memagent_policy only ever grows at its end; memagent_candidate,
// memagent_rank and memagent_rank_context are passed as arrays, so their sizes never change
// within an abi_version: new fields take their spare slots, or the version goes up.
//
// NaN keys rank after every number. reason must be NUL-terminated (the agent forces it).
//
// Ranking: for each candidate the policy writes up to MEMAGENT_POLICY_KEYS sort keys. Candidates
// are ordered by the first policy's keys (larger first, compared lexicographically), ties broken
// by the next policy in the chain, and so on. A policy marks a candidate it refuses to kill
// with `exclude` (protected workloads); excluded candidates are never chosen.
#pragma once

#include <stddef.h>
#include <stdint.h>

#define MEMAGENT_POLICY_ABI_VERSION 1
#define MEMAGENT_POLICY_SYMBOL      "memagent_policy"
#define MEMAGENT_POLICY_KEYS        3

enum memagent_qos {
        MEMAGENT_QOS_NONE = 0,
        MEMAGENT_QOS_GUARANTEED = 1,
        MEMAGENT_QOS_BURSTABLE = 2,
        MEMAGENT_QOS_BESTEFFORT = 3,
};

/* Candidate flags. */
#define MEMAGENT_CAND_PROTECTED (1u << 0) /* never kill (config, or user.oomd_omit xattr) */
#define MEMAGENT_CAND_AVOID     (1u << 1) /* kill last (config, or user.oomd_avoid xattr) */
#define MEMAGENT_CAND_WORKLOAD  (1u << 2) /* a non-Kubernetes workload, not a pod */

#define MEMAGENT_NO_LIMIT UINT64_MAX

/* One evictable unit: a pod (all its containers), or a workload. Read-only for policies. */
struct memagent_candidate {
        const char *name;   /* "pod <uid>" or the workload's unit name */
        const char *cgroup; /* path from the cgroup root, "/kubepods.slice/..." */
        uint64_t cgroup_id; /* inode of the cgroup directory */
        enum memagent_qos qos;
        int32_t priority; /* Kubernetes priority: higher means more important; 0 default */
        uint32_t flags;   /* MEMAGENT_CAND_* */
        uint64_t current_bytes;
        uint64_t working_set_bytes;
        uint64_t request_bytes; /* memory request (memory.min under MemoryQoS), 0 if unknown */
        uint64_t limit_bytes;   /* memory.max, MEMAGENT_NO_LIMIT when unlimited */
        int64_t
            growth_bytes_per_sec;    /* smoothed growth of current_bytes, negative when shrinking */
        double psi_some_avg10;       /* percent */
        double psi_full_avg10;       /* percent */
        uint64_t reclaim_stall_usec; /* from BPF, 0 when unavailable */
        uint64_t spare[8];
};

enum memagent_level {
        MEMAGENT_LEVEL_NONE = 0,
        MEMAGENT_LEVEL_LOW = 1,
        MEMAGENT_LEVEL_MEDIUM = 2,
        MEMAGENT_LEVEL_CRITICAL = 3,
};

/* What the agent knows about the situation it is ranking for. */
struct memagent_rank_context {
        enum memagent_level level;
        const char *scope;          /* "node", "kubepods", or a pod's cgroup */
        uint64_t scope_total_bytes; /* MemTotal, or the scope's memory.max */
        uint64_t scope_available_bytes;
        uint64_t spare[8];
};

/* What a policy writes for one candidate. keys[] are zero on entry. */
struct memagent_rank {
        double keys[MEMAGENT_POLICY_KEYS]; /* larger ranks earlier (killed first) */
        int exclude;                       /* nonzero: never kill this candidate */
        char reason[160];                  /* one line a person reads: why this rank */
        uint64_t spare[4];
};

/* Plugins built with -fvisibility=hidden export their descriptor with this:
 *   MEMAGENT_POLICY_EXPORT const struct memagent_policy memagent_policy = { ... }; */
#define MEMAGENT_POLICY_EXPORT __attribute__((visibility("default")))

struct memagent_policy {
        uint32_t abi_version; /* MEMAGENT_POLICY_ABI_VERSION */
        uint32_t struct_size; /* sizeof(struct memagent_policy) the plugin was built with */
        const char *name;     /* short, unique: "qos", "largest" */
        const char *description;
        /* Optional. args is the text after "name:" in the config chain entry, or NULL.
         * Returns 0 or a negative errno; *state is handed to rank and fini. */
        int (*init)(void **state, const char *args);
        /* Required. Fills ranks[i] for each cands[i]. Returns 0 or a negative errno. */
        int (*rank)(void *state, const struct memagent_rank_context *ctx,
                    const struct memagent_candidate *cands, size_t n, struct memagent_rank *ranks);
        /* Optional. */
        void (*fini)(void *state);
        void *spare[8];
};
