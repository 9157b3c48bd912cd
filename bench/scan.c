// SPDX-License-Identifier: Apache-2.0
// bench-scan: what one full sample of a busy node costs. Builds kubepods trees (systemd driver
// names) in a temp dir out of the guest capture's real cgroup files, then times discovery,
// model_sample() over every cgroup, and a floor measured in the same run: pread() of the same
// files through fds kept open, without parsing. Prints figures; asserts nothing.
//
//   bench-scan [--runs N] [--fixtures DIR] [--tmp DIR]
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "agent/kernel/model.h"
#include "common/fileio.h"
#include "common/log.h"

#define SCRATCH 65536

/* The guest capture's burstable pod and its throttled container (all files the kernel had). */
#define SRC_KUBEPODS "guest/systemd/kubepods.slice"
#define SRC_POD                                                                                    \
        SRC_KUBEPODS "/kubepods-burstable.slice/"                                                  \
                     "kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice"
#define SRC_CONTAINER                                                                              \
        SRC_POD "/cri-containerd-"                                                                 \
                "3333333333333333333333333333333333333333333333333333333333333333.scope"

struct file_set {
        size_t n;
        char *name[32];
        char *data[32];
        size_t len[32];
};

static void die(const char *what, const char *path)
{
        fprintf(stderr, "bench-scan: %s %s: %s\n", what, path, strerror(errno));
        exit(1);
}

/* Every regular file of a real cgroup directory, in memory. */
static void load_files(const char *dir, struct file_set *fs)
{
        DIR *d = opendir(dir);
        if (!d)
                die("cannot open", dir);
        struct dirent *de;
        while ((de = readdir(d)) && fs->n < 32) {
                char p[4096];
                struct stat st;
                snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
                if (stat(p, &st) < 0 || !S_ISREG(st.st_mode))
                        continue;
                int fd = open(p, O_RDONLY | O_CLOEXEC);
                char *buf = malloc((size_t)st.st_size + 1);
                if (fd < 0 || !buf || read(fd, buf, (size_t)st.st_size) != st.st_size)
                        die("cannot read", p);
                close(fd);
                fs->name[fs->n] = strdup(de->d_name);
                fs->data[fs->n] = buf;
                fs->len[fs->n] = (size_t)st.st_size;
                fs->n++;
        }
        closedir(d);
}

static void make_cgroup(const char *dir, const struct file_set *fs)
{
        if (mkdir(dir, 0755) < 0 && errno != EEXIST)
                die("cannot create", dir);
        for (size_t i = 0; i < fs->n; i++) {
                char p[4096];
                snprintf(p, sizeof(p), "%s/%s", dir, fs->name[i]);
                int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
                if (fd < 0 || write(fd, fs->data[i], fs->len[i]) != (ssize_t)fs->len[i])
                        die("cannot write", p);
                close(fd);
        }
}

/* root/kubepods.slice with the three QoS levels, n_pods pods (classes in turn) of
 * per_pod containers each. */
static void make_tree(const char *root, unsigned n_pods, unsigned per_pod,
                      const struct file_set *kp, const struct file_set *pod,
                      const struct file_set *ctr)
{
        static const char *const qos[] = { "guaranteed", "burstable", "besteffort" };
        char p[4096];
        if (mkdir(root, 0755) < 0)
                die("cannot create", root);
        snprintf(p, sizeof(p), "%s/kubepods.slice", root);
        make_cgroup(p, kp);
        for (int q = 1; q < 3; q++) {
                snprintf(p, sizeof(p), "%s/kubepods.slice/kubepods-%s.slice", root, qos[q]);
                make_cgroup(p, pod);
        }
        for (unsigned i = 0; i < n_pods; i++) {
                char uid[40], pdir[2048];
                unsigned q = i % 3;
                snprintf(uid, sizeof(uid), "%08x_1111_4222_8333_%012x", i, i * 7919u);
                if (q == 0)
                        snprintf(pdir, sizeof(pdir), "%s/kubepods.slice/kubepods-pod%s.slice", root,
                                 uid);
                else
                        snprintf(pdir, sizeof(pdir),
                                 "%s/kubepods.slice/kubepods-%s.slice/kubepods-%s-pod%s.slice",
                                 root, qos[q], qos[q], uid);
                make_cgroup(pdir, pod);
                for (unsigned j = 0; j < per_pod; j++) {
                        snprintf(p, sizeof(p), "%s/cri-containerd-%056x%08x.scope", pdir, i, j);
                        make_cgroup(p, ctr);
                }
        }
}

static uint64_t now_nsec(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

struct stats {
        uint64_t median, min;
};

static struct stats summarise(uint64_t *v, unsigned n)
{
        qsort(v, n, sizeof(*v), cmp_u64);
        return (struct stats){ n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2, v[0] };
}

/* Lists every tracked cgroup, like model.c does internally. */
static size_t all_cgroups(struct model *m, struct cgroup **out)
{
        size_t n = 0;
        if (m->has_kubepods)
                out[n++] = &m->kubepods;
        for (size_t i = 0; i < m->n_pods; i++) {
                out[n++] = &m->pods[i].cg;
                for (size_t j = 0; j < m->pods[i].n_containers; j++)
                        out[n++] = &m->pods[i].containers[j].cg;
        }
        return n;
}

static void print_status_line(const char *key)
{
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        while (f && fgets(line, sizeof(line), f))
                if (strncmp(line, key, strlen(key)) == 0)
                        printf("  %s", line);
        if (f)
                fclose(f);
}

static void bench_tree(const char *root, const char *label, unsigned runs, bool report_rss)
{
        int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (rfd < 0)
                die("cannot open", root);
        char *scratch = malloc(SCRATCH);
        uint64_t *t = calloc(runs, sizeof(*t));
        struct model m;

        /* Discovery alone. */
        for (unsigned r = 0; r < runs; r++) {
                uint64_t a = now_nsec();
                if (model_discover(&m, rfd, NULL, 0) < 0)
                        exit(1);
                t[r] = now_nsec() - a;
                model_done(&m);
        }
        struct stats disc = summarise(t, runs);

        /* Full scans: discover once, a first sample opens the fds, then time the steady state. */
        if (model_discover(&m, rfd, NULL, 0) < 0)
                exit(1);
        size_t n_cg = model_count(&m), n_ctr = 0;
        for (size_t i = 0; i < m.n_pods; i++)
                n_ctr += m.pods[i].n_containers;
        uint64_t a = now_nsec();
        size_t sampled = model_sample(&m, scratch, SCRATCH);
        uint64_t first = now_nsec() - a;
        if (sampled != n_cg) {
                fprintf(stderr, "bench-scan: sampled %zu of %zu cgroups\n", sampled, n_cg);
                exit(1);
        }
        for (unsigned r = 0; r < runs; r++) {
                a = now_nsec();
                model_sample(&m, scratch, SCRATCH);
                t[r] = now_nsec() - a;
        }
        struct stats scan = summarise(t, runs);

        /* Floor: the same files through the same fds the model keeps open (so the same number
         * of preads of the same bytes), without parsing. */
        struct cgroup **cgs = calloc(n_cg, sizeof(*cgs));
        all_cgroups(&m, cgs);
        int *fds = malloc(n_cg * _CGF_MAX * sizeof(int));
        size_t n_fds = 0;
        for (size_t i = 0; i < n_cg; i++)
                for (int f = 0; f < _CGF_MAX; f++)
                        if (cgs[i]->fds[f] >= 0)
                                fds[n_fds++] = cgs[i]->fds[f];
        uint64_t sink = 0;
        for (unsigned r = 0; r < runs; r++) {
                a = now_nsec();
                for (size_t i = 0; i < n_fds; i++) {
                        ssize_t n = pread_full(fds[i], scratch, SCRATCH);
                        sink += (uint64_t)n;
                }
                t[r] = now_nsec() - a;
        }
        struct stats floor_ = summarise(t, runs);

        printf("%s: %zu pods, %zu containers, %zu cgroups tracked, %zu files read per scan\n",
               label, m.n_pods, n_ctr, n_cg, n_fds);
        printf("  discovery          median %8.3f ms  min %8.3f ms\n", disc.median / 1e6,
               disc.min / 1e6);
        printf("  first sample       %8.3f ms (opens the fds)\n", first / 1e6);
        printf("  full scan          median %8.3f ms  min %8.3f ms  (%.2f us per cgroup)\n",
               scan.median / 1e6, scan.min / 1e6, scan.median / 1e3 / (double)n_cg);
        printf("  floor (pread only) median %8.3f ms  min %8.3f ms  (%.2f us per cgroup)\n",
               floor_.median / 1e6, floor_.min / 1e6, floor_.median / 1e3 / (double)n_cg);
        printf("  scan/floor         median %.2fx  min %.2fx  (target <= 1.5x)\n",
               (double)scan.median / (double)floor_.median, (double)scan.min / (double)floor_.min);
        if (report_rss) {
                printf("  process memory after this scan (target VmRSS < 8 MiB):\n");
                print_status_line("VmRSS:");
                print_status_line("VmHWM:");
        }
        if (sink == 0)
                printf("  (nothing read?)\n");
        free(fds);
        free(cgs);
        model_done(&m);
        free(t);
        free(scratch);
        close(rfd);
}

static void rm_tree(const char *path)
{
        DIR *d = opendir(path);
        if (!d) {
                unlink(path);
                return;
        }
        struct dirent *de;
        while ((de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                char p[4096];
                snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
                if (de->d_type == DT_DIR)
                        rm_tree(p);
                else
                        unlink(p);
        }
        closedir(d);
        rmdir(path);
}

int main(int argc, char **argv)
{
        unsigned runs = 20;
        const char *fixtures = FIXTURES_DIR;
        const char *tmpbase = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
        static const struct option opts[] = { { "runs", required_argument, NULL, 'r' },
                                              { "fixtures", required_argument, NULL, 'f' },
                                              { "tmp", required_argument, NULL, 't' },
                                              {} };
        int c;
        while ((c = getopt_long(argc, argv, "", opts, NULL)) >= 0) {
                if (c == 'r' && atoi(optarg) > 0)
                        runs = (unsigned)atoi(optarg);
                else if (c == 'f')
                        fixtures = optarg;
                else if (c == 't')
                        tmpbase = optarg;
                else {
                        fprintf(stderr,
                                "usage: bench-scan [--runs N] [--fixtures DIR] [--tmp DIR]\n");
                        return 2;
                }
        }
        log_set_max_level(LOG_WARNING);

        /* What memagent.c's raise_nofile() does: 1000 containers x 12 files need the hard
         * limit, not the usual soft 1024. */
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
                rl.rlim_cur = rl.rlim_max;
                (void)setrlimit(RLIMIT_NOFILE, &rl);
        }
        getrlimit(RLIMIT_NOFILE, &rl);

        struct file_set kp = { 0 }, pod = { 0 }, ctr = { 0 };
        char p[4096];
        snprintf(p, sizeof(p), "%s/%s", fixtures, SRC_KUBEPODS);
        load_files(p, &kp);
        snprintf(p, sizeof(p), "%s/%s", fixtures, SRC_POD);
        load_files(p, &pod);
        snprintf(p, sizeof(p), "%s/%s", fixtures, SRC_CONTAINER);
        load_files(p, &ctr);

        char tmp[4096];
        snprintf(tmp, sizeof(tmp), "%s/memagent-bench-XXXXXX", tmpbase);
        if (!mkdtemp(tmp))
                die("cannot create", tmp);
        char a[4200], b[4200];
        snprintf(a, sizeof(a), "%s/a", tmp);
        snprintf(b, sizeof(b), "%s/b", tmp);
        make_tree(a, 250, 3, &kp, &pod, &ctr);
        make_tree(b, 500, 2, &kp, &pod, &ctr);

        printf("bench-scan: %u runs per figure; files copied from %s/%s (%zu files per "
               "container); trees in %s; RLIMIT_NOFILE %llu\n",
               runs, fixtures, SRC_CONTAINER, ctr.n, tmp, (unsigned long long)rl.rlim_cur);
        printf("reproduce: cmake --build <build-dir> --target bench-scan && "
               "<build-dir>/bench/bench-scan --runs %u\n\n",
               runs);
        bench_tree(a, "250 pods x 3 containers", runs, false);
        printf("\n");
        bench_tree(b, "500 pods x 2 containers (1000 containers)", runs, true);

        rm_tree(tmp);
        return 0;
}
