// SPDX-License-Identifier: Apache-2.0
// memagent: the operator's CLI. What is this node's memory doing, who is at risk, and why.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "agent/bpfsig.h"
#include "agent/client.h"
#include "agent/mode.h"
#include "agent/model.h"
#include "agent/node.h"
#include "agent/psi.h"
#include "agent/status.h"
#include "common/log.h"
#include "common/macro.h"
#include "common/quantity.h"

#define EXIT_REFUSED       2
#define WORKLOAD_ROOTS_MAX 16
#define SCRATCH_SIZE       (64 * 1024)

struct opts {
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

static void usage(FILE *f)
{
        fprintf(
            f,
            "Usage: memagent COMMAND [OPTIONS]\n"
            "\n"
            "Commands:\n"
            "  status            the node's memory and every pod's, with QoS class and pressure\n"
            "  explain           memagentd's recent decisions and why (--last N)\n"
            "  recommend         per container: working-set estimate from the balloon, its\n"
            "                    confidence, and a suggested request and limit (VPA-style)\n"
            "  psi-wait          arm a PSI trigger and report when it fires (diagnostics)\n"
            "  version           print the version\n"
            "\n"
            "Options:\n"
            "  --output table|json         output format (default table)\n"
            "  --cgroup-root DIR           cgroup v2 mount (default /sys/fs/cgroup)\n"
            "  --proc-root DIR             procfs (default /proc)\n"
            "  --sys-root DIR              sysfs (default /sys)\n"
            "  --workload-root PATH[=QOS]  non-Kubernetes cgroups under PATH are workloads of\n"
            "                              class QOS (default burstable); repeatable; 'none'\n"
            "                              disables (default /system.slice=burstable)\n"
            "  --log-level LEVEL           error, warning, notice, info, debug (default warning)\n"
            "\n"
            "psi-wait options:\n"
            "  --cgroup PATH               cgroup relative to the root (default: the node, via\n"
            "                              the proc root's pressure/memory)\n"
            "  --kind some|full            (default some)\n"
            "  --stall-ms N --window-ms N  threshold and window (defaults 100 and 500)\n"
            "  --timeout-ms N              give up after N ms (default 60000; exit 1)\n"
            "  --count N                   exit after N notifications (default 1)\n"
            "\n"
            "Exit status: 0 done, 1 failed while running, 2 refused (bad usage, or no cgroup v2\n"
            "memory controller).\n");
}

static int parse_uint(const char *opt, const char *s, uint64_t max, uint64_t *ret)
{
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end || *s == '-' || v > max) {
                fprintf(stderr,
                        "memagent: %s: invalid value \"%s\" (expected a whole number up to %llu)\n",
                        opt, s, (unsigned long long)max);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static int add_workload_root(struct opts *o, char *arg)
{
        if (!o->roots_set) {
                o->n_roots = 0;
                o->roots_set = true;
        }
        if (streq(arg, "none"))
                return 0;
        if (o->n_roots >= WORKLOAD_ROOTS_MAX) {
                fprintf(stderr, "memagent: --workload-root: at most %d roots\n",
                        WORKLOAD_ROOTS_MAX);
                return -E2BIG;
        }
        char *eq = strchr(arg, '=');
        int qos = QOS_BURSTABLE;
        if (eq) {
                qos = qos_from_string(eq + 1);
                if (qos < 0) {
                        fprintf(stderr,
                                "memagent: --workload-root %s: unknown QoS class \"%s\" "
                                "(guaranteed, burstable or besteffort)\n",
                                arg, eq + 1);
                        return -EINVAL;
                }
                *eq = '\0';
        }
        if (arg[0] != '/') {
                fprintf(stderr,
                        "memagent: --workload-root %s: the path must start with '/' "
                        "(relative to the cgroup root)\n",
                        arg);
                return -EINVAL;
        }
        for (size_t n = strlen(arg); n > 1 && arg[n - 1] == '/'; n--)
                arg[n - 1] = '\0'; /* "/system.slice/" names the same cgroup */
        o->roots[o->n_roots++] = (struct workload_root){ arg, (enum qos_class)qos };
        return 0;
}

static int open_root(const char *opt, const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                fprintf(stderr, "memagent: %s %s: %s\n", opt, path, strerror(errno));
        return fd;
}

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
        if (json_object_object_get_ex(j, "daemon", &dm)) {
                struct json_object *dry, *kills;
                json_object_object_get_ex(dm, "dry_run", &dry);
                json_object_object_get_ex(dm, "kills_total", &kills);
                printf("  evictions so far: %llu%s\n",
                       (unsigned long long)json_object_get_uint64(kills),
                       json_object_get_boolean(dry) ? " (dry run: decisions only)" : "");
        }
}

static int cmd_status_direct(const struct opts *o);

static int cmd_status(const struct opts *o)
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
                        json_object_put(j);
                        return rc;
                }
                if (r == 0) {
                        puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
                        json_object_put(j);
                        return EXIT_SUCCESS;
                }
                if (r != -ENOENT && r != -ECONNREFUSED)
                        log_warning_errno(
                            r, "memagentd at %s did not answer: %m; reading the kernel directly",
                            o->api_socket);
        }
        return cmd_status_direct(o);
}

static int cmd_status_direct(const struct opts *o)
{
        _cleanup_close_ int cg = -1, proc = -1, sys = -1;
        char why[1024];
        int r;

        if ((cg = open_root("--cgroup-root", o->cgroup_root)) < 0 ||
            (proc = open_root("--proc-root", o->proc_root)) < 0 ||
            (sys = open_root("--sys-root", o->sys_root)) < 0)
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
                puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                           JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(j);
        } else
                status_print_table(stdout, &ns, &m);
        model_done(&m);
        return fflush(stdout) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* Sends request to memagentd and returns its reply in *ret (0), or prints why not and returns
 * an exit code: not running, no answer, or an error the daemon sent back. what_for says what
 * the command needs the daemon for, for the "not running" line. */
static int ask_daemon(const struct opts *o, const char *request, const char *what_for,
                      struct json_object **ret)
{
        struct json_object *j = NULL, *e;
        int r = daemon_request(o->api_socket, request, &j);
        if (r == -ENOENT || r == -ECONNREFUSED) {
                fprintf(stderr,
                        "memagent: memagentd is not running (nothing listens on %s)%s%s; "
                        "start it, or pass --api-socket\n",
                        o->api_socket, what_for ? ": " : "", what_for ? what_for : "");
                return EXIT_FAILURE;
        }
        if (r < 0) {
                log_error_errno(r, "Failed to ask memagentd at %s: %m", o->api_socket);
                return EXIT_FAILURE;
        }
        if (json_object_object_get_ex(j, "error", &e)) {
                fprintf(stderr, "memagent: memagentd: %s\n", json_object_get_string(e));
                json_object_put(j);
                return EXIT_FAILURE;
        }
        *ret = j;
        return 0;
}

/* Prints j for machines and drops the reference. */
static int print_json_put(struct json_object *j)
{
        puts(json_object_to_json_string_ext(j, JSON_C_TO_STRING_PRETTY |
                                                   JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(j);
        return EXIT_SUCCESS;
}

static int cmd_explain(const struct opts *o)
{
        struct json_object *j = NULL, *ds;
        char req[32];
        snprintf(req, sizeof(req), "explain %u", o->last);
        int rc = ask_daemon(o, req, NULL, &j);
        if (rc)
                return rc;
        if (o->json)
                return print_json_put(j);
        if (!json_object_object_get_ex(j, "decisions", &ds) || json_object_array_length(ds) == 0) {
                printf("No decisions yet: memagentd has not needed to act.\n");
                json_object_put(j);
                return EXIT_SUCCESS;
        }
        for (size_t i = 0; i < json_object_array_length(ds); i++) {
                struct json_object *d = json_object_array_get_idx(ds, i), *v, *x;
#define S(obj, k) (json_object_object_get_ex((obj), (k), &x) ? json_object_get_string(x) : "")
#define U(obj, k)                                                                                  \
        (json_object_object_get_ex((obj), (k), &x) ? (unsigned long long)json_object_get_uint64(x) \
                                                   : 0ull)
                printf("#%llu %s  %s pressure %s (%s)\n", U(d, "id"), S(d, "time"), S(d, "scope"),
                       S(d, "level"), S(d, "signals"));
                if (json_object_object_get_ex(d, "victim", &v) && v) {
                        printf("   %s %s%s: %s\n", S(d, "action"), S(v, "name"),
                               json_object_object_get_ex(d, "dry_run", &x) &&
                                       json_object_get_boolean(x)
                                   ? " (dry run)"
                                   : "",
                               S(v, "reason"));
                        printf("   cgroup %s\n", S(v, "cgroup"));
                }
                printf("   outcome: %s", S(d, "outcome"));
                if (U(d, "freed_bytes")) {
                        char b[FORMAT_BYTES_MAX];
                        printf(", freed %s", format_bytes_iec(U(d, "freed_bytes"), b, sizeof(b)));
                }
                const char *act = S(d, "action");
                if (streq(act, "kill") || streq(act, "terminate") || streq(act, "none"))
                        printf("; %llu candidates, %llu protected; decided %.1f ms after the first "
                               "signal (%s)\n",
                               U(d, "candidates"), U(d, "excluded"),
                               (double)U(d, "trigger_to_decision_usec") / 1000.0, S(d, "trigger"));
                else
                        printf("\n"); /* balloon and loans: the outcome says it all */
                struct json_object *ru;
                if (json_object_object_get_ex(d, "runners_up", &ru))
                        for (size_t k = 0; k < json_object_array_length(ru); k++) {
                                struct json_object *c = json_object_array_get_idx(ru, k);
                                printf("   runner-up %zu: %s: %s\n", k + 1, S(c, "name"),
                                       S(c, "reason"));
                        }
#undef S
#undef U
        }
        json_object_put(j);
        return EXIT_SUCCESS;
}

static const char *bytes_or(struct json_object *o, const char *key, const char *none, char *buf,
                            size_t size)
{
        struct json_object *x;
        if (!json_object_object_get_ex(o, key, &x) || !x)
                return none;
        return format_bytes_iec(json_object_get_uint64(x), buf, size);
}

static int cmd_recommend(const struct opts *o)
{
        struct json_object *j = NULL, *cs;
        int rc = ask_daemon(o, "recommend", "the estimates come from its balloon", &j);
        if (rc)
                return rc;
        if (o->json)
                return print_json_put(j);
        if (!json_object_object_get_ex(j, "containers", &cs) || json_object_array_length(cs) == 0) {
                printf("No containers tracked yet.\n");
                json_object_put(j);
                return EXIT_SUCCESS;
        }
        printf("%-44s %-10s %9s %9s %-11s %9s %9s %9s %9s %9s %9s  %s\n", "CONTAINER", "QOS",
               "CURRENT", "ESTIMATE", "CONFIDENCE", "REQUEST", "SUGGEST", "LIMIT", "SUGGEST",
               "RECLAIMED", "LOAN", "BALLOON");
        for (size_t i = 0; i < json_object_array_length(cs); i++) {
                struct json_object *c = json_object_array_get_idx(cs, i), *x;
                char b[8][FORMAT_BYTES_MAX];
                const char *conf = "none";
                char confbuf[32];
                if (json_object_object_get_ex(c, "confidence", &x))
                        conf = json_object_get_string(x);
                if (json_object_object_get_ex(c, "stable_usec", &x) && !streq(conf, "none")) {
                        snprintf(confbuf, sizeof(confbuf), "%s %llus", conf,
                                 (unsigned long long)(json_object_get_uint64(x) / 1000000u));
                        conf = confbuf;
                }
                json_object_object_get_ex(c, "name", &x);
                const char *name = json_object_get_string(x);
                json_object_object_get_ex(c, "qos", &x);
                const char *qos = json_object_get_string(x);
                json_object_object_get_ex(c, "balloon", &x);
                const char *bal = json_object_get_string(x);
                printf("%-44.44s %-10s %9s %9s %-11s %9s %9s %9s %9s %9s %9s  %s\n", name, qos,
                       bytes_or(c, "current_bytes", "-", b[0], FORMAT_BYTES_MAX),
                       bytes_or(c, "estimate_bytes", "-", b[1], FORMAT_BYTES_MAX), conf,
                       bytes_or(c, "request_bytes", "none", b[2], FORMAT_BYTES_MAX),
                       bytes_or(c, "suggested_request_bytes", "-", b[3], FORMAT_BYTES_MAX),
                       bytes_or(c, "limit_bytes", "none", b[4], FORMAT_BYTES_MAX),
                       bytes_or(c, "suggested_limit_bytes", "-", b[5], FORMAT_BYTES_MAX),
                       bytes_or(c, "reclaimed_bytes", "0", b[6], FORMAT_BYTES_MAX),
                       bytes_or(c, "loan_bytes", "0", b[7], FORMAT_BYTES_MAX), bal);
        }
        json_object_put(j);
        return EXIT_SUCCESS;
}

static uint64_t mono_usec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int cmd_psi_wait(const struct opts *o)
{
        const char *root = o->psi_cgroup ? o->cgroup_root : o->proc_root;
        const char *file = o->psi_cgroup ? "memory.pressure" : "pressure/memory";
        _cleanup_close_ int rfd = open_root(o->psi_cgroup ? "--cgroup-root" : "--proc-root", root);
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
        uint64_t armed = mono_usec();
        printf("{\"event\":\"armed\",\"file\":\"%s\",\"kind\":\"%s\",\"stall_usec\":%llu,"
               "\"window_usec\":%llu,\"adjusted\":%s,\"time_usec\":%llu}\n",
               file, t.kind == PSI_SOME ? "some" : "full", (unsigned long long)t.stall_usec,
               (unsigned long long)t.window_usec, t.adjusted ? "true" : "false",
               (unsigned long long)armed);
        fflush(stdout);
        int status = EXIT_SUCCESS;
        for (unsigned i = 0; i < o->count; i++) {
                r = psi_trigger_wait(&t, o->timeout_ms);
                uint64_t now = mono_usec();
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

int main(int argc, char **argv)
{
        enum {
                OPT_OUTPUT = 0x100,
                OPT_CGROUP_ROOT,
                OPT_PROC_ROOT,
                OPT_SYS_ROOT,
                OPT_WORKLOAD_ROOT,
                OPT_LOG_LEVEL,
                OPT_API_SOCKET,
                OPT_DIRECT,
                OPT_LAST,
                OPT_CGROUP,
                OPT_KIND,
                OPT_STALL,
                OPT_WINDOW,
                OPT_TIMEOUT,
                OPT_COUNT
        };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "output", required_argument, NULL, OPT_OUTPUT },
                { "cgroup-root", required_argument, NULL, OPT_CGROUP_ROOT },
                { "proc-root", required_argument, NULL, OPT_PROC_ROOT },
                { "sys-root", required_argument, NULL, OPT_SYS_ROOT },
                { "workload-root", required_argument, NULL, OPT_WORKLOAD_ROOT },
                { "log-level", required_argument, NULL, OPT_LOG_LEVEL },
                { "api-socket", required_argument, NULL, OPT_API_SOCKET },
                { "direct", no_argument, NULL, OPT_DIRECT },
                { "last", required_argument, NULL, OPT_LAST },
                { "cgroup", required_argument, NULL, OPT_CGROUP },
                { "kind", required_argument, NULL, OPT_KIND },
                { "stall-ms", required_argument, NULL, OPT_STALL },
                { "window-ms", required_argument, NULL, OPT_WINDOW },
                { "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
                { "count", required_argument, NULL, OPT_COUNT },
                {},
        };
        struct opts o = {
                .cgroup_root = "/sys/fs/cgroup",
                .proc_root = "/proc",
                .sys_root = "/sys",
                .roots = { { "/system.slice", QOS_BURSTABLE } },
                .n_roots = 1,
                .psi_kind = PSI_SOME,
                .stall_usec = 100000,
                .window_usec = 500000,
                .timeout_ms = 60000,
                .count = 1,
                .api_socket = MEMAGENT_API_SOCKET_DEFAULT,
                .last = 10,
        };
        uint64_t v;
        int c, r;

        log_set_ident("memagent");
        log_set_max_level(LOG_WARNING);
        if (argc < 2 || streq(argv[1], "-h") || streq(argv[1], "--help") ||
            streq(argv[1], "help")) {
                usage(argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_REFUSED : EXIT_SUCCESS;
        }
        const char *cmd = argv[1];
        if (streq(cmd, "trace"))
                return cmd_trace(argc - 1, argv + 1);
        optind = 2;
        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
                switch (c) {
                case 'h':
                        usage(stdout);
                        return EXIT_SUCCESS;
                case OPT_OUTPUT:
                        if (streq(optarg, "json"))
                                o.json = true;
                        else if (streq(optarg, "table"))
                                o.json = false;
                        else {
                                fprintf(
                                    stderr,
                                    "memagent: --output: unknown format \"%s\" (table or json)\n",
                                    optarg);
                                return EXIT_REFUSED;
                        }
                        break;
                case OPT_CGROUP_ROOT:
                        o.cgroup_root = optarg;
                        o.roots_given = true;
                        break;
                case OPT_PROC_ROOT:
                        o.proc_root = optarg;
                        o.roots_given = true;
                        break;
                case OPT_SYS_ROOT:
                        o.sys_root = optarg;
                        o.roots_given = true;
                        break;
                case OPT_API_SOCKET:
                        o.api_socket = optarg;
                        break;
                case OPT_DIRECT:
                        o.direct = true;
                        break;
                case OPT_LAST:
                        if (parse_uint("--last", optarg, 10000, &v) < 0 || v == 0)
                                return EXIT_REFUSED;
                        o.last = (unsigned)v;
                        break;
                case OPT_WORKLOAD_ROOT:
                        if (add_workload_root(&o, optarg) < 0)
                                return EXIT_REFUSED;
                        break;
                case OPT_LOG_LEVEL:
                        r = log_level_from_string(optarg);
                        if (r < 0) {
                                fprintf(stderr, "memagent: --log-level: unknown level \"%s\"\n",
                                        optarg);
                                return EXIT_REFUSED;
                        }
                        log_set_max_level(r);
                        break;
                case OPT_CGROUP:
                        o.psi_cgroup = optarg;
                        break;
                case OPT_KIND:
                        if (streq(optarg, "some"))
                                o.psi_kind = PSI_SOME;
                        else if (streq(optarg, "full"))
                                o.psi_kind = PSI_FULL;
                        else {
                                fprintf(stderr,
                                        "memagent: --kind: \"%s\" is neither some nor full\n",
                                        optarg);
                                return EXIT_REFUSED;
                        }
                        break;
                case OPT_STALL:
                        if (parse_uint("--stall-ms", optarg, 10000, &v) < 0)
                                return EXIT_REFUSED;
                        o.stall_usec = v * 1000;
                        break;
                case OPT_WINDOW:
                        if (parse_uint("--window-ms", optarg, 10000, &v) < 0)
                                return EXIT_REFUSED;
                        o.window_usec = v * 1000;
                        break;
                case OPT_TIMEOUT:
                        if (parse_uint("--timeout-ms", optarg, 86400000, &v) < 0)
                                return EXIT_REFUSED;
                        o.timeout_ms = (int)v;
                        break;
                case OPT_COUNT:
                        if (parse_uint("--count", optarg, 1000000, &v) < 0 || v == 0)
                                return EXIT_REFUSED;
                        o.count = (unsigned)v;
                        break;
                default:
                        fprintf(stderr, "memagent: see 'memagent --help'\n");
                        return EXIT_REFUSED;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "memagent: unexpected argument \"%s\"; see 'memagent --help'\n",
                        argv[optind]);
                return EXIT_REFUSED;
        }
        if (streq(cmd, "status"))
                return cmd_status(&o);
        if (streq(cmd, "explain"))
                return cmd_explain(&o);
        if (streq(cmd, "recommend"))
                return cmd_recommend(&o);
        if (streq(cmd, "psi-wait"))
                return cmd_psi_wait(&o);
        if (streq(cmd, "version")) {
                printf("memagent %s\n", MEMAGENT_VERSION);
                return EXIT_SUCCESS;
        }
        fprintf(stderr, "memagent: unknown command \"%s\"; see 'memagent --help'\n", cmd);
        return EXIT_REFUSED;
}
