// SPDX-License-Identifier: Apache-2.0
// memagent's verbs, one file each (status.c, explain.c, recommend.c, psi-wait.c, trace.c),
// dispatched by memagent.c, which parses the options they share into struct cli_opts. Every verb
// returns the process exit status: 0 done, 1 failed while running, 2 refused (EXIT_REFUSED).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/kernel/model.h"
#include "agent/kernel/psi.h"

#define EXIT_REFUSED       2
#define WORKLOAD_ROOTS_MAX 16

struct cli_opts {
        const char *cgroup_root, *proc_root, *sys_root;
        bool json;
        struct workload_root roots[WORKLOAD_ROOTS_MAX];
        size_t n_roots;
        bool roots_set;
        bool roots_given; /* --cgroup-root/--proc-root/--sys-root: read those, not the daemon */
        bool direct;
        const char *api_socket;
        unsigned last;
        /* psi-wait */
        const char *psi_cgroup;
        enum psi_kind psi_kind;
        uint64_t stall_usec, window_usec;
        int timeout_ms;
        unsigned count;
};

/* Opens a root directory given by option opt; prints why not (naming opt) and returns -1. */
int cli_open_root(const char *opt, const char *path);

int cmd_status(const struct cli_opts *o);
int cmd_explain(const struct cli_opts *o);
int cmd_recommend(const struct cli_opts *o);
int cmd_psi_wait(const struct cli_opts *o);
/* `memagent trace [--duration-s N] [--output json|table] [--cgroup-root DIR]
 * [--stall-threshold-us N] [--pin-dir DIR] [--attach TYPE] [--log-level L]`: parses its own
 * options. argv[0] is the command name ("trace"); exit 2 also when BPF is unavailable. */
int cmd_trace(int argc, char **argv);
