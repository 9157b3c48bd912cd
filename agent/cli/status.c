// SPDX-License-Identifier: Apache-2.0
// `memagent status`: the node's memory and every pod's, from memagentd when it runs (it adds its
// view of pressure), else read from the kernel directly.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "agent/cli/cli.h"
#include "agent/cli/client.h"
#include "agent/kernel/mode.h"
#include "agent/kernel/node.h"
#include "agent/kernel/status.h"
#include "bpf/bpfsig.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/quantity.h"

#define SCRATCH_SIZE (64 * 1024)

/* Each cgroup keeps up to a dozen files open for pread(): lift the soft fd limit to the hard
 * one, so a node with a thousand containers does not fall back to open-per-read. */
static void raise_nofile(void)
{
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
}

static void print_pressure_table(struct json_object *j)
{
        struct json_object *pr, *dm;
        if (json_object_object_get_ex(j, "pressure", &pr) &&
            json_object_is_type(pr, json_type_object)) {
                printf("\nPRESSURE (memagentd)\n");
                json_object_object_foreach(pr, scope, v)
                {
                        struct json_object *lvl, *avail, *tot;
                        if (!v || !json_object_object_get_ex(v, "level", &lvl))
                                continue;
                        char a[FORMAT_BYTES_MAX], t[FORMAT_BYTES_MAX];
                        json_object_object_get_ex(v, "available_bytes", &avail);
                        json_object_object_get_ex(v, "total_bytes", &tot);
                        printf("  %-9s %-9s available %s of %s\n", scope,
                               json_object_get_string(lvl),
                               format_bytes_iec(json_object_get_uint64(avail), a, sizeof(a)),
                               format_bytes_iec(json_object_get_uint64(tot), t, sizeof(t)));
                }
        }
        /* The table above knows pods by uid (read from the cgroup tree); memagentd knows their
         * names when it watches the API. */
        struct json_object *pods;
        bool header = false;
        if (json_object_object_get_ex(j, "pods", &pods) &&
            json_object_is_type(pods, json_type_array))
                for (size_t i = 0; i < json_object_array_length(pods); i++) {
                        struct json_object *p = json_object_array_get_idx(pods, i), *ns, *name,
                                           *uid, *prio;
                        if (!json_object_object_get_ex(p, "namespace", &ns) || !ns ||
                            !json_object_object_get_ex(p, "name", &name) || !name ||
                            !json_object_object_get_ex(p, "uid", &uid))
                                continue;
                        if (!header) {
                                printf("\nPODS (Kubernetes API)\n  %-50s %-36s %s\n",
                                       "NAMESPACE/NAME", "UID", "PRIORITY");
                                header = true;
                        }
                        char nn[320];
                        snprintf(nn, sizeof(nn), "%s/%s", json_object_get_string(ns),
                                 json_object_get_string(name));
                        printf("  %-50s %-36s %d\n", nn, json_object_get_string(uid),
                               json_object_object_get_ex(p, "priority", &prio)
                                   ? json_object_get_int(prio)
                                   : 0);
                }
        if (json_object_object_get_ex(j, "daemon", &dm)) {
                struct json_object *dry, *kills;
                json_object_object_get_ex(dm, "dry_run", &dry);
                json_object_object_get_ex(dm, "kills_total", &kills);
                printf("  evictions so far: %llu%s\n",
                       (unsigned long long)json_object_get_uint64(kills),
                       json_object_get_boolean(dry) ? " (dry run: decisions only)" : "");
        }
}

/* memagentd's remote swap: the lease, what is swapped on it, and each donor's replicas. */
static void print_remote_swap_table(struct json_object *j)
{
        struct json_object *rs, *x, *ds;
        if (!json_object_object_get_ex(j, "remote_swap", &rs) || !rs)
                return;
#define S(obj, k) (json_object_object_get_ex((obj), (k), &x) && x ? json_object_get_string(x) : "-")
#define U(obj, k) (json_object_object_get_ex((obj), (k), &x) ? json_object_get_uint64(x) : 0)
        char a[FORMAT_BYTES_MAX], b[FORMAT_BYTES_MAX];
        printf("\nREMOTE SWAP (memagentd)\n  %-10s %-36s %-10s %-10s %-8s %s\n", "PHASE", "LEASE",
               "BYTES", "SWAPPED", "RENEWALS", "REVOKED");
        printf("  %-10s %-36s %-10s %-10s %-8llu %llu%s\n", S(rs, "phase"), S(rs, "lease_id"),
               format_bytes_iec(U(rs, "lease_bytes"), a, sizeof(a)),
               format_bytes_iec(U(rs, "swapped_bytes"), b, sizeof(b)),
               (unsigned long long)U(rs, "renewals"), (unsigned long long)U(rs, "revoked_slabs"),
               json_object_object_get_ex(rs, "ending", &x) && json_object_get_boolean(x)
                   ? "  (ending: draining)"
                   : "");
        if (json_object_object_get_ex(rs, "last_error", &x) && x)
                printf("  last error: %s\n", json_object_get_string(x));
        if (json_object_object_get_ex(rs, "donors", &ds) && json_object_array_length(ds) > 0) {
                printf("  %-32s %-10s %-6s %-8s %-8s %-7s %-9s %-7s %-9s %s\n", "DONOR", "BYTES",
                       "SLABS", "HEALTHY", "SYNCING", "FAILED", "OPS", "ERRORS", "P50", "P99");
                for (size_t i = 0; i < json_object_array_length(ds); i++) {
                        struct json_object *d = json_object_array_get_idx(ds, i);
                        char p50[32] = "-", p99[32] = "-";
                        if (U(d, "ops") > 0) {
                                snprintf(p50, sizeof(p50), "%.2fms",
                                         U(d, "latency_p50_usec") / 1e3);
                                snprintf(p99, sizeof(p99), "%.2fms",
                                         U(d, "latency_p99_usec") / 1e3);
                        }
                        printf("  %-32s %-10s %-6llu %-8llu %-8llu %-7llu %-9llu %-7llu %-9s %s\n",
                               S(d, "donor"), format_bytes_iec(U(d, "bytes"), a, sizeof(a)),
                               (unsigned long long)U(d, "slabs"),
                               (unsigned long long)U(d, "healthy"),
                               (unsigned long long)U(d, "syncing"),
                               (unsigned long long)U(d, "failed"), (unsigned long long)U(d, "ops"),
                               (unsigned long long)U(d, "errors"), p50, p99);
                }
        }
#undef S
#undef U
}

static int cmd_status_direct(const struct cli_opts *o);

int cmd_status(const struct cli_opts *o)
{
        int r;

        if (!o->roots_given && !o->direct) {
                struct json_object *j = NULL;
                r = daemon_request(o->api_socket, "status", &j);
                if (r == 0 && !o->json) {
                        /* The daemon's document is the direct one plus pressure: print the
                         * table from a direct read (same numbers, just sampled now) and the
                         * daemon's view of pressure below it. */
                        int rc = cmd_status_direct(o);
                        print_pressure_table(j);
                        print_remote_swap_table(j);
                        json_object_put(j);
                        return rc;
                }
                if (r == 0)
                        return client_print_json(j);
                if (r != -ENOENT && r != -ECONNREFUSED)
                        log_warning_errno(
                            r, "memagentd at %s did not answer: %m; reading the kernel directly",
                            o->api_socket);
        }
        return cmd_status_direct(o);
}

static int cmd_status_direct(const struct cli_opts *o)
{
        _cleanup_close_ int cg = -1, proc = -1, sys = -1;
        char why[1024];
        int r;

        if ((cg = cli_open_root("--cgroup-root", o->cgroup_root)) < 0 ||
            (proc = cli_open_root("--proc-root", o->proc_root)) < 0 ||
            (sys = cli_open_root("--sys-root", o->sys_root)) < 0)
                return EXIT_REFUSED;
        r = cgroup_root_check(o->cgroup_root, cg, why, sizeof(why));
        if (r < 0) {
                fprintf(stderr, "memagent: %s\n", why);
                return EXIT_REFUSED;
        }
        raise_nofile();

        _cleanup_free_ char *scratch = malloc(SCRATCH_SIZE);
        if (!scratch)
                return EXIT_FAILURE;
        struct node_sample ns;
        if (node_sample(proc, sys, &ns, scratch, SCRATCH_SIZE) < 0)
                return EXIT_FAILURE;
        struct model m;
        if (model_discover(&m, cg, o->roots, o->n_roots) < 0)
                return EXIT_FAILURE;
        model_sample(&m, scratch, SCRATCH_SIZE);
        /* Reclaim stall time from BPF, when memagentd (or 'memagent trace') has its per-cgroup
         * map pinned; otherwise reclaim_stall_usec stays null. */
        struct bpfsig *bs = NULL;
        if (bpfsig_open_pinned(NULL, &bs) == 0) {
                bpfsig_fill_model(bs, &m);
                bpfsig_free(bs);
        }

        if (o->json) {
                struct json_object *j = status_to_json(&ns, &m);
                if (!j) {
                        model_done(&m);
                        return log_error_errno(ENOMEM, "Failed to build status: %m"), EXIT_FAILURE;
                }
                client_print_json(j);
        } else
                status_print_table(stdout, &ns, &m);
        model_done(&m);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
