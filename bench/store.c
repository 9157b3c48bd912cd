// SPDX-License-Identifier: Apache-2.0
// State store write benchmark: the same compare-and-swap writes memschedd makes (save a plan:
// create, then update at the revision read), against SQLite or etcd, one writer, sequential.
// Prints writes/s and p50/p99/max latency. Figures only; never pass/fail.
//   bench-store --sqlite PATH [--writes N]
//   bench-store --etcd URL[,URL...] [--writes N]
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "scheduler/cluster.h"
#include "scheduler/store.h"

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *lat_usec, size_t n, uint64_t total_usec)
{
        qsort(lat_usec, n, sizeof(*lat_usec), cmp_u64);
        printf("%-8s %7zu writes %9.0f writes/s  p50 %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", what,
               n, (double)n * 1e6 / (double)(total_usec ? total_usec : 1),
               (double)lat_usec[n / 2] / 1000, (double)lat_usec[n * 99 / 100] / 1000,
               (double)lat_usec[n - 1] / 1000);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                { "sqlite", required_argument, NULL, 's' },
                { "etcd", required_argument, NULL, 'e' },
                { "writes", required_argument, NULL, 'n' },
                {},
        };
        struct store_options so = {};
        char prefix[64];
        size_t n = 1000;
        int c;

        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                switch (c) {
                case 's':
                        so.sqlite_path = optarg;
                        break;
                case 'e':
                        so.etcd_endpoints = optarg;
                        break;
                case 'n':
                        n = strtoul(optarg, NULL, 10);
                        break;
                default:
                        return 2;
                }
        }
        if ((!so.sqlite_path && !so.etcd_endpoints) || n < 2) {
                fprintf(stderr, "usage: %s --sqlite PATH | --etcd URL[,URL...] [--writes N]\n",
                        argv[0]);
                return 2;
        }
        snprintf(prefix, sizeof(prefix), "/bench-%d/", (int)getpid());
        so.etcd_prefix = prefix; /* a fresh key space: never a running memschedd's */

        struct sched_store *st = NULL;
        if (store_open_with(&so, &st) < 0)
                return 1;
        uint64_t *create_usec = calloc(n, sizeof(uint64_t)),
                 *update_usec = calloc(n, sizeof(uint64_t));
        if (!create_usec || !update_usec)
                return 1;
        struct migration m = { .state = MIGRATION_PLANNED,
                               .source_node = "node-a",
                               .target_node = "node-b",
                               .pod_uid = "0b5e3c1e-5f7a-4c49-9d7e-2b7f9f1c3a11",
                               .pod_name = "web-7d9f-abcde",
                               .pod_namespace = "shop",
                               .owner_uid = "rs-web",
                               .qos = QOS_BURSTABLE,
                               .working_set_bytes = 1 << 30,
                               .reservation_bytes = 1 << 30,
                               .target_numa_zone = -1,
                               .reason = "sustained critical pressure",
                               .created_at_usec = now_usec(CLOCK_REALTIME),
                               .expires_at_usec = now_usec(CLOCK_REALTIME) + 600000000 };
        char id[64];
        uint64_t t_all = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n; i++) {
                snprintf(id, sizeof(id), "bench-%zu", i);
                m.id = id;
                m.state = MIGRATION_PLANNED;
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);
                if (store_save_migration(st, &m) < 0)
                        return 1;
                create_usec[i] = now_usec(CLOCK_MONOTONIC) - t0;
        }
        uint64_t create_total = now_usec(CLOCK_MONOTONIC) - t_all;
        t_all = now_usec(CLOCK_MONOTONIC);
        for (size_t i = 0; i < n; i++) {
                snprintf(id, sizeof(id), "bench-%zu", i);
                m.id = id;
                m.state = MIGRATION_EXPIRED;
                uint64_t t0 = now_usec(CLOCK_MONOTONIC);
                if (store_save_migration(st, &m) < 0)
                        return 1;
                update_usec[i] = now_usec(CLOCK_MONOTONIC) - t0;
        }
        uint64_t update_total = now_usec(CLOCK_MONOTONIC) - t_all;
        printf("backend %s\n", store_backend_name(st));
        report("create", create_usec, n, create_total);
        report("update", update_usec, n, update_total);
        /* Leave nothing behind. */
        (void)store_prune(st, 0);
        store_close(st);
        free(create_usec);
        free(update_usec);
        return 0;
}
