// SPDX-License-Identifier: Apache-2.0
// The agent's model filled from the BPF per-cgroup counters (a loader's map or a pinned one):
// the same in both builds, as it only reads through the loader's API.
#include "bpf/bpfsig.h"

#include <errno.h>

#include "agent/kernel/model.h"

void bpfsig_fill_model(struct bpfsig *b, struct model *m)
{
        struct bpfsig_cgroup_stats st;

        if (!b)
                return;
#define FILL(cgp)                                                                                  \
        do {                                                                                       \
                int r_ = bpfsig_read_cgroup(b, (cgp)->id, &st);                                    \
                (cgp)->s.has_reclaim_stall = r_ == 0 || r_ == -ENOENT;                             \
                (cgp)->s.reclaim_stall_usec = r_ == 0 ? bpfsig_reclaim_stall_usec(&st) : 0;        \
        } while (0)
        if (m->has_kubepods)
                FILL(&m->kubepods);
        for (size_t i = 0; i < m->n_workloads; i++)
                FILL(&m->workloads[i].cg);
        for (size_t i = 0; i < m->n_pods; i++) {
                struct pod *p = &m->pods[i];
                FILL(&p->cg);
                for (size_t j = 0; j < p->n_containers; j++) {
                        FILL(&p->containers[j].cg);
                        p->cg.s.reclaim_stall_usec += p->containers[j].cg.s.reclaim_stall_usec;
                }
        }
#undef FILL
}
