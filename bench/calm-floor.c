// SPDX-License-Identifier: Apache-2.0
// bench-calm-floor: the floor bench/calm.sh prints beside memagentd's cost. Opens memory.current
// of every cgroup under a root once, then pread()s each of them once per interval for a given
// time, parsing nothing, and prints its own CPU time over wall time and its RSS: what watching
// every cgroup's usage costs at the least, on the same files and in the same run.
//
//   bench-calm-floor ROOT INTERVAL_MS SECONDS
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static int *fds;
static size_t n_fds, cap_fds;

static void walk(int dfd)
{
        int fd = openat(dfd, "memory.current", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (n_fds == cap_fds) {
                        cap_fds = cap_fds ? cap_fds * 2 : 256;
                        fds = realloc(fds, cap_fds * sizeof(*fds));
                        if (!fds)
                                exit(1);
                }
                fds[n_fds++] = fd;
        }
        DIR *d = fdopendir(dfd);
        if (!d)
                return;
        struct dirent *de;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && de->d_name[0] != '.') {
                        int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        if (sub >= 0)
                                walk(sub);
                }
        closedir(d);
}

static double now_sec(clockid_t clk)
{
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
        if (argc != 4) {
                fprintf(stderr, "usage: %s ROOT INTERVAL_MS SECONDS\n", argv[0]);
                return 2;
        }
        int root = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0) {
                fprintf(stderr, "cannot open %s: %s\n", argv[1], strerror(errno));
                return 1;
        }
        walk(root);
        long interval_msec = atol(argv[2]);
        double seconds = atof(argv[3]), start = now_sec(CLOCK_MONOTONIC);
        struct rusage r0, r1;
        getrusage(RUSAGE_SELF, &r0);
        char buf[64];
        unsigned long long sum = 0;
        while (now_sec(CLOCK_MONOTONIC) - start < seconds) {
                for (size_t i = 0; i < n_fds; i++) {
                        ssize_t n = pread(fds[i], buf, sizeof(buf) - 1, 0);
                        if (n > 0)
                                sum += (unsigned char)buf[0];
                }
                struct timespec ts = { interval_msec / 1000, (interval_msec % 1000) * 1000000 };
                nanosleep(&ts, NULL);
        }
        double wall = now_sec(CLOCK_MONOTONIC) - start;
        getrusage(RUSAGE_SELF, &r1);
        double cpu = (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) +
                     (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) +
                     (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) / 1e6 +
                     (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec) / 1e6;
        printf("floor_cgroups=%zu floor_cpu_pct=%.3f floor_maxrss_kib=%ld checksum=%llu\n", n_fds,
               100.0 * cpu / wall, r1.ru_maxrss, sum);
        return 0;
}
