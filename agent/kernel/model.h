// SPDX-License-Identifier: Apache-2.0
// The node's memory model: the Kubernetes pods and containers found in the cgroup v2 tree, and
// the other workloads (systemd services) an operator named. Built by walking the tree from a
// root directory fd, so tests point it at fixture trees.
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "agent/kernel/cgroup.h"
#include "common/memtypes.h"

enum cg_driver {
        DRIVER_SYSTEMD,
        DRIVER_CGROUPFS,
};
const char *driver_to_string(enum cg_driver d);

#define KUBE_ID_MAX 80

struct container {
        struct cgroup cg;
        char id[KUBE_ID_MAX];
        const char *runtime; /* "containerd", "cri-o", "docker", or "unknown" (cgroupfs ids) */
};

struct pod {
        struct cgroup cg;
        char uid[KUBE_ID_MAX]; /* with '-' as the API writes it */
        enum qos_class qos;
        enum cg_driver driver;
        struct container *containers;
        size_t n_containers;
};

struct workload {
        struct cgroup cg;
        const char *name; /* basename of cg.path; points into it */
        enum qos_class qos;
};

struct workload_root {
        const char *path; /* relative to the cgroup root, "/system.slice" */
        enum qos_class qos;
};

struct model {
        int root_fd; /* not owned */
        bool has_kubepods;
        struct cgroup kubepods; /* kubepods.slice or kubepods, when present */
        struct pod *pods;
        size_t n_pods;
        struct workload *workloads;
        size_t n_workloads;
};

/* Name recognition, pure. Systemd driver:
 * "[<prefix>-]kubepods[-burstable|-besteffort]-pod<uid>.slice" with '_' (and "\x2d") for '-' in the
 * uid. Returns true and fills qos/uid on a match. */
bool kube_parse_pod_slice(const char *name, enum qos_class *ret_qos, char ret_uid[KUBE_ID_MAX]);
/* Cgroupfs driver: "pod<uid>" under "kubepods" (Guaranteed) or "kubepods/burstable|besteffort". */
bool kube_parse_pod_dir(const char *parent, const char *grandparent, const char *name,
                        enum qos_class *ret_qos, char ret_uid[KUBE_ID_MAX]);
/* Container cgroups: "cri-containerd-<id>.scope", "crio-<id>.scope", "docker-<id>.scope", or a
 * bare id (cgroupfs). cri-o's "crio-conmon-<id>" monitors are not containers (false). */
bool kube_parse_container(const char *name, char ret_id[KUBE_ID_MAX], const char **ret_runtime);
/* "kubepods.slice", "kubepods", or a nested "<prefix>-kubepods.slice" (kind, custom roots). */
bool kube_is_kubepods(const char *name);

/* Walks the tree under root_fd and fills m. On success m owns the fds it opened; release with
 * model_done(). Cgroups that vanish during the walk are skipped. Returns 0 or a negative errno
 * (logged) when the root itself cannot be read. */
int model_discover(struct model *m, int root_fd, const struct workload_root *roots, size_t n_roots);

/* Re-walks the tree and replaces m with the result, keeping the open file fds (and last sample)
 * of every cgroup that is still the same cgroup (same path and inode). */
int model_refresh(struct model *m, const struct workload_root *roots, size_t n_roots);

/* Samples every tracked cgroup. Vanished cgroups are dropped quietly. scratch as for
 * cgroup_sample(). Returns the number of cgroups sampled. */
size_t model_sample(struct model *m, char *scratch, size_t scratch_size);
/* The same, tiered: every cgroup reads the files want() returns for it (CG_HAVE() bits; NULL:
 * all; 0: none, the caller sampled it already), and a cgroup read partly whose memory.events counts
 * moved or whose usage is within 80% of its memory.max or memory.high reads what a decision needs
 * of it (CG_FILES_DECIDE) at once. */
size_t model_sample_files(struct model *m, uint32_t (*want)(void *ud, const struct cgroup *c),
                          void *ud, char *scratch, size_t scratch_size);

void model_done(struct model *m);

/* The tracked cgroup with this id (inode): kubepods, a pod, a container or a workload; NULL when
 * none. Borrowed from m. */
const struct cgroup *model_find_cgroup(const struct model *m, uint64_t id);

/* Total number of cgroups tracked (kubepods + pods + containers + workloads). */
size_t model_count(const struct model *m);
