// SPDX-License-Identifier: Apache-2.0
// memagent: the operator's CLI. What is this node's memory doing, who is at risk, and why.
// This file parses the options the verbs share and dispatches; each verb lives in its own file
// (cli.h lists them), and `trace` parses its own options.
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/cli/cli.h"
#include "agent/cli/client.h"
#include "common/log.h"
#include "common/macro.h"

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

static int add_workload_root(struct cli_opts *o, char *arg)
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

int cli_open_root(const char *opt, const char *path)
{
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                fprintf(stderr, "memagent: %s %s: %s\n", opt, path, strerror(errno));
        return fd;
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
        struct cli_opts o = {
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
