// SPDX-License-Identifier: Apache-2.0
// `memagent psi-wait`: arm a PSI trigger and print (JSON lines) when it fires; for diagnostics.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/cli/cli.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

int cmd_psi_wait(const struct cli_opts *o)
{
        const char *root = o->psi_cgroup ? o->cgroup_root : o->proc_root;
        const char *file = o->psi_cgroup ? "memory.pressure" : "pressure/memory";
        _cleanup_close_ int rfd =
            cli_open_root(o->psi_cgroup ? "--cgroup-root" : "--proc-root", root);
        _cleanup_close_ int dfd = -1;
        struct psi_trigger t;

        if (rfd < 0)
                return EXIT_REFUSED;
        if (o->psi_cgroup) {
                const char *rel = o->psi_cgroup;
                while (*rel == '/')
                        rel++;
                dfd = openat(rfd, *rel ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (dfd < 0) {
                        fprintf(stderr, "memagent: --cgroup %s: %s\n", o->psi_cgroup,
                                strerror(errno));
                        return EXIT_REFUSED;
                }
        }
        int r = psi_trigger_arm(dfd >= 0 ? dfd : rfd, file, o->psi_kind, o->stall_usec,
                                o->window_usec, &t);
        if (r == -EINVAL) {
                fprintf(stderr,
                        "memagent: psi-wait: the kernel refused \"%s %llu %llu\" on %s/%s "
                        "(window must be 500-10000 ms, stall 1 ms up to the window)\n",
                        o->psi_kind == PSI_SOME ? "some" : "full",
                        (unsigned long long)o->stall_usec, (unsigned long long)o->window_usec,
                        o->psi_cgroup ? o->psi_cgroup : root, file);
                return EXIT_REFUSED;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to arm a PSI trigger on %s/%s: %m",
                                o->psi_cgroup ? o->psi_cgroup : root, file);
                return EXIT_FAILURE;
        }
        uint64_t armed = now_usec(CLOCK_MONOTONIC);
        printf("{\"event\":\"armed\",\"file\":\"%s\",\"kind\":\"%s\",\"stall_usec\":%llu,"
               "\"window_usec\":%llu,\"adjusted\":%s,\"time_usec\":%llu}\n",
               file, t.kind == PSI_SOME ? "some" : "full", (unsigned long long)t.stall_usec,
               (unsigned long long)t.window_usec, t.adjusted ? "true" : "false",
               (unsigned long long)armed);
        fflush(stdout);
        int status = EXIT_SUCCESS;
        for (unsigned i = 0; i < o->count; i++) {
                r = psi_trigger_wait(&t, o->timeout_ms);
                uint64_t now = now_usec(CLOCK_MONOTONIC);
                if (r == 1) {
                        printf(
                            "{\"event\":\"fired\",\"time_usec\":%llu,\"since_armed_usec\":%llu}\n",
                            (unsigned long long)now, (unsigned long long)(now - armed));
                        fflush(stdout);
                        continue;
                }
                if (r == 0)
                        fprintf(stderr, "memagent: psi-wait: no notification within %d ms\n",
                                o->timeout_ms);
                else
                        log_error_errno(r, "PSI trigger failed (cgroup removed?): %m");
                status = EXIT_FAILURE;
                break;
        }
        psi_trigger_close(&t);
        return status;
}
