// SPDX-License-Identifier: Apache-2.0
// memagent-bpf-bench: what the BPF memory signals cost. Enables BPF run-time statistics
// (BPF_ENABLE_STATS, BPF_STATS_RUN_TIME), loads and attaches the programs, lets whatever runs
// on the machine (a memory hog: bench/bpf-overhead.sh starts one in the guest) drive them for
// --duration-s, then prints, per program, runs, run time per run and runs per second, and the
// share of one CPU they took. Figures, never pass/fail.
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bpf/bpfsig.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/macro.h"

#define MAX_PROGS 16

static void count_event(const union bpfsig_event *ev, void *userdata)
{
        (void)ev;
        (*(uint64_t *)userdata)++;
}

int main(int argc, char **argv)
{
        uint64_t duration_s = 10, threshold_us = 1000, events = 0;
        char why[512] = "";
        int opt;

        log_set_ident("memagent-bpf-bench");
        log_set_max_level(LOG_NOTICE);
        while ((opt = getopt(argc, argv, "d:t:h")) >= 0) {
                switch (opt) {
                case 'd':
                        duration_s = strtoull(optarg, NULL, 10);
                        break;
                case 't':
                        threshold_us = strtoull(optarg, NULL, 10);
                        break;
                default:
                        fprintf(
                            opt == 'h' ? stdout : stderr,
                            "Usage: memagent-bpf-bench [-d DURATION_S] [-t STALL_THRESHOLD_US]\n");
                        return opt == 'h' ? 0 : 2;
                }
        }
        if (duration_s == 0)
                duration_s = 1;

        int stats_fd = bpfsig_enable_stats();
        if (stats_fd < 0) {
                fprintf(stderr, "memagent-bpf-bench: cannot enable BPF run-time stats: %s\n",
                        strerror(-stats_fd));
                return 2;
        }
        struct bpfsig_opts o = { .stall_threshold_usec = threshold_us,
                                 .why = why,
                                 .why_size = sizeof(why) };
        struct bpfsig *b = NULL;
        int r = bpfsig_open(&o, &b);
        if (r < 0) {
                fprintf(stderr, "memagent-bpf-bench: BPF unavailable: %s\n", why);
                close(stats_fd);
                return 2;
        }
        bpfsig_set_event_cb(b, count_event, &events);

        struct bpfsig_prog_stats p0[MAX_PROGS], p1[MAX_PROGS];
        int n0 = bpfsig_prog_stats(b, p0, MAX_PROGS);
        uint64_t t0 = now_usec(CLOCK_MONOTONIC), end = t0 + duration_s * 1000000;
        while (now_usec(CLOCK_MONOTONIC) < end)
                (void)bpfsig_poll(b, 200);
        uint64_t elapsed_usec = now_usec(CLOCK_MONOTONIC) - t0;
        int n1 = bpfsig_prog_stats(b, p1, MAX_PROGS);
        if (n0 < 0 || n1 < 0 || n0 != n1) {
                fprintf(stderr, "memagent-bpf-bench: cannot read program stats: %s\n",
                        strerror(n0 < 0   ? -n0
                                 : n1 < 0 ? -n1
                                          : EIO));
                bpfsig_free(b);
                close(stats_fd);
                return 1;
        }

        double secs = (double)elapsed_usec / 1e6;
        uint64_t tot_cnt = 0, tot_ns = 0;
        printf("attach=%s duration_s=%.2f cpus=%ld\n",
               bpfsig_attach_to_string(bpfsig_attach_type(b)), secs, sysconf(_SC_NPROCESSORS_ONLN));
        printf("%-50s %12s %12s %12s %12s\n", "PROGRAM", "RUNS", "RUN_NS", "NS/RUN", "RUNS/S");
        for (int i = 0; i < n1; i++) {
                uint64_t cnt = p1[i].run_cnt - p0[i].run_cnt;
                uint64_t ns = p1[i].run_time_ns - p0[i].run_time_ns;
                tot_cnt += cnt;
                tot_ns += ns;
                printf("%-50s %12" PRIu64 " %12" PRIu64 " %12.1f %12.1f\n", p1[i].name, cnt, ns,
                       cnt ? (double)ns / (double)cnt : 0.0, (double)cnt / secs);
        }
        printf("bench.bpf.runs=%" PRIu64 " bench.bpf.run_ns=%" PRIu64
               " bench.bpf.ns_per_run=%.1f bench.bpf.runs_per_s=%.1f bench.bpf.cpu_pct=%.4f "
               "bench.bpf.ringbuf_events=%" PRIu64 " bench.bpf.dropped=%" PRIu64 "\n",
               tot_cnt, tot_ns, tot_cnt ? (double)tot_ns / (double)tot_cnt : 0.0,
               (double)tot_cnt / secs, 100.0 * (double)tot_ns / (secs * 1e9), events,
               bpfsig_dropped_events(b));
        bpfsig_free(b);
        close(stats_fd);
        return 0;
}
