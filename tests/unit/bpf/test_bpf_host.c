// SPDX-License-Identifier: Apache-2.0
// The BPF memory signals on this machine's kernel. Reclaim cannot be provoked here (no v2 memory
// controller), so the programs are driven with BPF_PROG_TEST_RUN, which runs a raw_tp program in
// the caller's context: the stall and the OOM victim are then attributed to this process's own
// cgroup, whose id the test computes independently (inode of its cgroup2 directory).
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/cli/cli.h"
#include "bpf/bpfsig.h"
#include "common/log.h"
#include "common/macro.h"

#define EXIT_SKIP 77

static uint64_t self_cgroup_id;
static char self_comm[16];

/* Our cgroup v2 id: stat() of <cgroup2 mount>/<path from /proc/self/cgroup's 0:: line>. */
static int find_self_cgroup_id(uint64_t *ret, char *why, size_t why_size)
{
        char line[4096], mnt[1024] = "", rel[4096] = "";
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return snprintf(why, why_size, "cannot read /proc/self/cgroup"), -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        memcpy(rel, line + 3, strlen(line + 3) + 1);
                }
        fclose(f);
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return snprintf(why, why_size, "cannot read /proc/self/mountinfo"), -1;
        while (fgets(line, sizeof(line), f)) {
                char *sep = strstr(line, " - cgroup2 ");
                if (!sep)
                        continue;
                /* field 5 is the mount point */
                char *p = line;
                for (int i = 0; i < 4 && p; i++)
                        p = strchr(p + 1, ' ');
                if (!p)
                        continue;
                p++;
                size_t n = strcspn(p, " ");
                snprintf(mnt, sizeof(mnt), "%.*s", (int)n, p);
                break;
        }
        fclose(f);
        if (!mnt[0] || !rel[0])
                return snprintf(why, why_size,
                                "no cgroup2 mount or no 0:: line in "
                                "/proc/self/cgroup (cgroup v1 only?)"),
                       -1;
        char path[sizeof(mnt) + sizeof(rel)];
        struct stat st;
        snprintf(path, sizeof(path), "%s%s", mnt, rel);
        if (stat(path, &st) < 0)
                return snprintf(why, why_size, "cannot stat own cgroup %.300s: %s", path,
                                strerror(errno)),
                       -1;
        *ret = st.st_ino;
        return 0;
}

/* Moves this process into a new child of its cgroup v2 cgroup, so that the id BPF reports is a
 * fresh cgroup's and not the root's (1) by coincidence. Undone by leave_test_cgroup(). */
static char test_cgroup[4096], parent_procs[4096];

static int enter_test_cgroup(void)
{
        char line[4096], mnt[1024] = "", rel[1024] = "";
        FILE *f = fopen("/proc/self/cgroup", "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f))
                if (strncmp(line, "0::", 3) == 0) {
                        line[strcspn(line, "\n")] = '\0';
                        snprintf(rel, sizeof(rel), "%.1000s", line + 3);
                }
        fclose(f);
        f = fopen("/proc/self/mountinfo", "re");
        if (!f)
                return -1;
        while (fgets(line, sizeof(line), f)) {
                char *p = line;
                if (!strstr(line, " - cgroup2 "))
                        continue;
                for (int i = 0; i < 4 && p; i++)
                        p = strchr(p + 1, ' ');
                if (p)
                        snprintf(mnt, sizeof(mnt), "%.*s", (int)strcspn(p + 1, " "), p + 1);
                break;
        }
        fclose(f);
        if (!mnt[0] || !rel[0])
                return -1;
        snprintf(parent_procs, sizeof(parent_procs), "%s%s/cgroup.procs", mnt,
                 streq(rel, "/") ? "" : rel);
        snprintf(test_cgroup, sizeof(test_cgroup), "%s%s/memagent-test-bpf-%d", mnt,
                 streq(rel, "/") ? "" : rel, (int)getpid());
        if (mkdir(test_cgroup, 0755) < 0)
                return -1;
        char procs[sizeof(test_cgroup) + 16], pid[32];
        snprintf(procs, sizeof(procs), "%s/cgroup.procs", test_cgroup);
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        int fd = open(procs, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, pid, strlen(pid)) < 0) {
                if (fd >= 0)
                        close(fd);
                rmdir(test_cgroup);
                test_cgroup[0] = '\0';
                return -1;
        }
        close(fd);
        return 0;
}

static void leave_test_cgroup(void)
{
        char pid[32];
        if (!test_cgroup[0])
                return;
        snprintf(pid, sizeof(pid), "%d", (int)getpid());
        int fd = open(parent_procs, O_WRONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (write(fd, pid, strlen(pid)) < 0)
                        fprintf(stderr, "cannot move back to %s: %s\n", parent_procs,
                                strerror(errno));
                close(fd);
        }
        if (rmdir(test_cgroup) < 0)
                fprintf(stderr, "cannot remove test cgroup %s: %s\n", test_cgroup, strerror(errno));
}

/* ---------------------------------------------------------------- event capture */

struct captured {
        union bpfsig_event ev[16];
        size_t n;
};

static void capture(const union bpfsig_event *ev, void *userdata)
{
        struct captured *c = userdata;
        if (c->n < 16)
                c->ev[c->n++] = *ev;
}

static struct bpfsig *open_raw_tp(uint64_t threshold_usec, enum bpfsig_victim_proto proto,
                                  const char *pin_dir)
{
        char why[512] = "";
        struct bpfsig_opts o = {
                .stall_threshold_usec = threshold_usec,
                .force_attach = BPFSIG_ATTACH_RAW_TP,
                .no_attach = true, /* only our test runs drive the programs */
                .victim_proto = proto,
                .pin_dir = pin_dir,
                .why = why,
                .why_size = sizeof(why),
        };
        struct bpfsig *b = NULL;
        int r = bpfsig_open(&o, &b);
        if (r < 0)
                fail_msg("bpfsig_open(raw_tp, load only) failed: %s (%s)", strerror(-r), why);
        return b;
}

static void stall(struct bpfsig *b, const char *kind, uint64_t order, uint64_t gfp,
                  useconds_t sleep_usec, uint64_t nr_reclaimed)
{
        char begin[96], end[96];
        snprintf(begin, sizeof(begin), "mm_vmscan_%s_begin", kind);
        snprintf(end, sizeof(end), "mm_vmscan_%s_end", kind);
        uint64_t a[2] = { order, gfp };
        int r = bpfsig_test_run(b, begin, a, 2);
        if (r < 0)
                fail_msg("BPF_PROG_TEST_RUN of %s failed: %s", begin, strerror(-r));
        if (sleep_usec)
                usleep(sleep_usec);
        r = bpfsig_test_run(b, end, &nr_reclaimed, 1);
        if (r < 0)
                fail_msg("BPF_PROG_TEST_RUN of %s failed: %s", end, strerror(-r));
}

/* ---------------------------------------------------------------- tests */

/* Default open: the best attach type, which on this kernel is tp_btf (TESTBED.md); every hook
 * of both kernels we target is attached. */
static void test_attach_auto(void **state)
{
        (void)state;
        char why[512] = "";
        struct bpfsig_opts o = { .stall_threshold_usec = 1000,
                                 .why = why,
                                 .why_size = sizeof(why) };
        struct bpfsig *b = NULL;
        int r = bpfsig_open(&o, &b);
        if (r < 0)
                fail_msg("bpfsig_open failed: %s (%s)", strerror(-r), why);
        assert_int_equal(bpfsig_attach_type(b), BPFSIG_ATTACH_TP_BTF);
        const char *hooks = bpfsig_attached_hooks(b);
        assert_non_null(strstr(hooks, "vmscan:mm_vmscan_direct_reclaim_begin"));
        assert_non_null(strstr(hooks, "vmscan:mm_vmscan_direct_reclaim_end"));
        assert_non_null(strstr(hooks, "vmscan:mm_vmscan_memcg_reclaim_begin"));
        assert_non_null(strstr(hooks, "vmscan:mm_vmscan_memcg_reclaim_end"));
        assert_non_null(strstr(hooks, "oom:mark_victim"));
        assert_true(bpfsig_event_fd(b) >= 0);
        bpfsig_free(b);
}

/* Each fallback works on its own, so the loader really has somewhere to fall back to. */
static void test_attach_each_type(void **state)
{
        (void)state;
        static const enum bpfsig_attach types[] = { BPFSIG_ATTACH_TP_BTF, BPFSIG_ATTACH_RAW_TP,
                                                    BPFSIG_ATTACH_TRACEPOINT };
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
                char why[512] = "";
                struct bpfsig_opts o = { .force_attach = types[i],
                                         .why = why,
                                         .why_size = sizeof(why) };
                struct bpfsig *b = NULL;
                int r = bpfsig_open(&o, &b);
                if (r < 0)
                        fail_msg("attach as %s failed: %s (%s)", bpfsig_attach_to_string(types[i]),
                                 strerror(-r), why);
                assert_int_equal(bpfsig_attach_type(b), types[i]);
                assert_non_null(strstr(bpfsig_attached_hooks(b), "oom:mark_victim"));
                bpfsig_free(b);
        }
}

/* A direct reclaim stall of >= 5 ms in this thread: counted, timed, histogrammed and reported
 * under our cgroup id; a stall below the threshold is counted but not reported. */
static void test_stall_direct(void **state)
{
        (void)state;
        struct captured cap = { .n = 0 };
        struct bpfsig *b = open_raw_tp(1000, BPFSIG_VICTIM_AUTO, NULL);
        bpfsig_set_event_cb(b, capture, &cap);

        struct bpfsig_cgroup_stats s;
        assert_int_equal(bpfsig_read_cgroup(b, self_cgroup_id, &s), -ENOENT);

        stall(b, "direct_reclaim", 3, 0xcc0, 5000, 42);
        assert_true(bpfsig_poll(b, 1000) >= 1);
        assert_int_equal(cap.n, 1);
        const struct memsig_stall_event *e = &cap.ev[0].stall;
        assert_int_equal(e->type, MEMSIG_EV_STALL);
        assert_int_equal(e->kind, MEMSIG_STALL_DIRECT);
        assert_int_equal(e->cgroup_id, self_cgroup_id);
        assert_int_equal(e->pid, getpid());
        assert_int_equal(e->tid, gettid());
        assert_int_equal(e->order, 3);
        assert_int_equal(e->gfp_flags, 0xcc0);
        assert_int_equal(e->nr_reclaimed, 42);
        assert_true(e->duration_ns >= 5000000);
        assert_true(e->duration_ns < 5000000000ULL);
        assert_string_equal(e->comm, self_comm);

        assert_int_equal(bpfsig_read_cgroup(b, self_cgroup_id, &s), 0);
        assert_int_equal(s.reclaim[MEMSIG_STALL_DIRECT].count, 1);
        assert_true(s.reclaim[MEMSIG_STALL_DIRECT].stall_usec >= 5000);
        assert_int_equal(s.reclaim[MEMSIG_STALL_DIRECT].max_usec,
                         s.reclaim[MEMSIG_STALL_DIRECT].stall_usec);
        assert_int_equal(s.reclaim[MEMSIG_STALL_DIRECT].nr_reclaimed, 42);
        assert_int_equal(s.reclaim[MEMSIG_STALL_MEMCG].count, 0);
        /* log2 slot of the stall in usec: 5000..(5 s) lands in slots 12..22 */
        uint64_t usec = e->duration_ns / 1000, sum = 0;
        int slot = 63 - __builtin_clzll(usec);
        for (int i = 0; i < MEMSIG_HIST_SLOTS; i++)
                sum += s.hist[MEMSIG_STALL_DIRECT][i];
        assert_int_equal(sum, 1);
        assert_int_equal(s.hist[MEMSIG_STALL_DIRECT][slot], 1);
        assert_int_equal(bpfsig_reclaim_stall_usec(&s), s.reclaim[MEMSIG_STALL_DIRECT].stall_usec);

        /* Below the threshold: aggregated, no event. */
        stall(b, "direct_reclaim", 0, 0, 0, 1);
        assert_int_equal(bpfsig_poll(b, 100), 0);
        assert_int_equal(cap.n, 1);
        assert_int_equal(bpfsig_read_cgroup(b, self_cgroup_id, &s), 0);
        assert_int_equal(s.reclaim[MEMSIG_STALL_DIRECT].count, 2);

        /* An end without a begin (attached mid-stall) counts nothing. */
        uint64_t nr = 7;
        assert_int_equal(bpfsig_test_run(b, "mm_vmscan_direct_reclaim_end", &nr, 1), 0);
        assert_int_equal(bpfsig_read_cgroup(b, self_cgroup_id, &s), 0);
        assert_int_equal(s.reclaim[MEMSIG_STALL_DIRECT].count, 2);
        assert_int_equal(bpfsig_dropped_events(b), 0);
        bpfsig_free(b);
}

/* Memcg reclaim is its own kind, and both kinds add up in reclaim_stall_usec; softlimit is
 * counted apart and not added (it runs inside direct reclaim). */
static void test_stall_memcg_and_softlimit(void **state)
{
        (void)state;
        struct captured cap = { .n = 0 };
        struct bpfsig *b = open_raw_tp(0, BPFSIG_VICTIM_AUTO, NULL);
        bpfsig_set_event_cb(b, capture, &cap);
        stall(b, "memcg_reclaim", 0, 0xcc0, 2000, 5);
        stall(b, "direct_reclaim", 0, 0xcc0, 1000, 6);
        stall(b, "memcg_softlimit_reclaim", 0, 0xcc0, 1000, 7);
        assert_true(bpfsig_poll(b, 1000) >= 1);
        (void)bpfsig_consume(b);
        assert_int_equal(cap.n, 3); /* threshold 0: every stall */
        assert_int_equal(cap.ev[0].stall.kind, MEMSIG_STALL_MEMCG);
        assert_int_equal(cap.ev[1].stall.kind, MEMSIG_STALL_DIRECT);
        assert_int_equal(cap.ev[2].stall.kind, MEMSIG_STALL_SOFTLIMIT);

        struct bpfsig_cgroup_stats s;
        assert_int_equal(bpfsig_read_cgroup(b, self_cgroup_id, &s), 0);
        assert_int_equal(s.reclaim[MEMSIG_STALL_MEMCG].count, 1);
        assert_int_equal(s.reclaim[MEMSIG_STALL_MEMCG].nr_reclaimed, 5);
        assert_true(s.reclaim[MEMSIG_STALL_MEMCG].stall_usec >= 2000);
        assert_int_equal(s.reclaim[MEMSIG_STALL_SOFTLIMIT].count, 1);
        assert_int_equal(bpfsig_reclaim_stall_usec(&s),
                         s.reclaim[MEMSIG_STALL_MEMCG].stall_usec +
                             s.reclaim[MEMSIG_STALL_DIRECT].stall_usec);
        bpfsig_free(b);
}

/* mark_victim on a kernel with the pid-only prototype: the victim's cgroup is resolved when
 * the victim is the task running the OOM killer, and left 0 (for user space) otherwise. */
static void test_oom_victim_pid_proto(void **state)
{
        (void)state;
        struct captured cap = { .n = 0 };
        struct bpfsig *b = open_raw_tp(1000, BPFSIG_VICTIM_PID, NULL);
        bpfsig_set_event_cb(b, capture, &cap);
        assert_false(bpfsig_mark_victim_has_task(b));

        uint64_t pid = (uint64_t)gettid();
        assert_int_equal(bpfsig_test_run(b, "mark_victim", &pid, 1), 0);
        pid = 1; /* someone else: not reachable without its task */
        assert_int_equal(bpfsig_test_run(b, "mark_victim", &pid, 1), 0);
        assert_true(bpfsig_poll(b, 1000) >= 1);
        (void)bpfsig_consume(b);
        assert_int_equal(cap.n, 2);

        const struct memsig_oom_event *e = &cap.ev[0].oom;
        assert_int_equal(e->type, MEMSIG_EV_OOM_VICTIM);
        assert_int_equal(e->victim_pid, gettid());
        assert_int_equal(e->victim_tgid, getpid());
        assert_int_equal(e->victim_cgroup_id, self_cgroup_id);
        assert_true(e->flags & MEMSIG_OOM_VICTIM_TASK);
        assert_true(e->flags & MEMSIG_OOM_MM);
        assert_true(e->total_vm_pages > 0);
        assert_true(e->anon_rss_pages + e->file_rss_pages > 0);
        assert_string_equal(e->victim_comm, self_comm);
        assert_int_equal(e->trigger_pid, getpid());
        assert_int_equal(e->trigger_cgroup_id, self_cgroup_id);

        e = &cap.ev[1].oom;
        assert_int_equal(e->victim_pid, 1);
        assert_int_equal(e->victim_cgroup_id, 0);
        assert_false(e->flags & MEMSIG_OOM_VICTIM_TASK);

        struct bpfsig_cgroup_stats s;
        assert_int_equal(bpfsig_read_cgroup(b, self_cgroup_id, &s), 0);
        assert_int_equal(s.oom_victims, 1);
        bpfsig_free(b);
}

/* This kernel's mark_victim passes the task (6.8+): the loader must see that in BTF. */
static void test_oom_proto_detected(void **state)
{
        (void)state;
        struct bpfsig *b = open_raw_tp(1000, BPFSIG_VICTIM_AUTO, NULL);
        assert_true(bpfsig_mark_victim_has_task(b));
        bpfsig_free(b);
}

/* What `memagent status` does: read the aggregates through the map a loader pinned; the pin
 * goes away with the loader. */
static void test_pinned_map(void **state)
{
        (void)state;
        char dir[128];
        snprintf(dir, sizeof(dir), "/sys/fs/bpf/memagent-test-%d", (int)getpid());
        struct bpfsig *b = open_raw_tp(1000000, BPFSIG_VICTIM_AUTO, dir);
        stall(b, "memcg_reclaim", 0, 0, 1000, 3);

        struct bpfsig *reader = NULL;
        int r = bpfsig_open_pinned(dir, &reader);
        if (r < 0)
                fail_msg("bpfsig_open_pinned(%s) failed: %s", dir, strerror(-r));
        assert_int_equal(bpfsig_event_fd(reader), -EBADF);
        struct bpfsig_cgroup_stats s;
        assert_int_equal(bpfsig_read_cgroup(reader, self_cgroup_id, &s), 0);
        assert_int_equal(s.reclaim[MEMSIG_STALL_MEMCG].count, 1);
        assert_int_equal(s.reclaim[MEMSIG_STALL_MEMCG].nr_reclaimed, 3);
        assert_true(bpfsig_reclaim_stall_usec(&s) >= 1000);
        assert_int_equal(bpfsig_read_cgroup(reader, UINT64_MAX - 1, &s), -ENOENT);
        bpfsig_free(reader);

        bpfsig_free(b);
        assert_int_equal(bpfsig_open_pinned(dir, &reader), -ENOENT);
        rmdir(dir);
        assert_int_equal(bpfsig_open_pinned("/sys/fs/bpf/memagent-test-nonexistent", &reader),
                         -ENOENT);
}

/* BPF_ENABLE_STATS: with the stats fd open, program runs are counted and timed. */
static void test_prog_stats(void **state)
{
        (void)state;
        int fd = bpfsig_enable_stats();
        if (fd < 0)
                fail_msg("bpf_enable_stats(BPF_STATS_RUN_TIME) failed: %s", strerror(-fd));
        struct bpfsig *b = open_raw_tp(1000000, BPFSIG_VICTIM_AUTO, NULL);
        for (int i = 0; i < 3; i++)
                stall(b, "direct_reclaim", 0, 0, 0, 1);
        struct bpfsig_prog_stats ps[16];
        int n = bpfsig_prog_stats(b, ps, 16);
        assert_true(n >= 5);
        bool seen = false;
        for (int i = 0; i < n; i++)
                if (strcmp(ps[i].name, "vmscan:mm_vmscan_direct_reclaim_end") == 0) {
                        assert_int_equal(ps[i].run_cnt, 3);
                        assert_true(ps[i].run_time_ns > 0);
                        seen = true;
                }
        assert_true(seen);
        bpfsig_free(b);
        close(fd);
}

/* Without CAP_BPF/CAP_PERFMON/CAP_SYS_ADMIN the loader refuses up front and says what is
 * missing, in one line (the agent logs it once and runs on PSI alone). */
static void test_no_capabilities(void **state)
{
        (void)state;
        int pfd[2];
        assert_int_equal(pipe(pfd), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
                struct __user_cap_data_struct d[2];
                memset(d, 0, sizeof(d));
                if (syscall(SYS_capset, &h, d) < 0)
                        _exit(3);
                char why[512] = "";
                struct bpfsig_opts o = { .why = why, .why_size = sizeof(why) };
                struct bpfsig *b = NULL;
                int r = bpfsig_open(&o, &b);
                if (write(pfd[1], why, strlen(why) + 1) < 0)
                        _exit(4);
                _exit(r == -EPERM && !b ? 0 : 1);
        }
        close(pfd[1]);
        char why[512] = "";
        ssize_t n = read(pfd[0], why, sizeof(why) - 1);
        close(pfd[0]);
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        assert_true(WIFEXITED(st));
        if (WEXITSTATUS(st) != 0)
                fail_msg("without capabilities bpfsig_open should fail with EPERM (child exit "
                         "%d, why: \"%s\")",
                         WEXITSTATUS(st), n > 0 ? why : "");
        assert_non_null(strstr(why, "CAP_BPF"));
        assert_non_null(strstr(why, "CAP_PERFMON"));
}

/* The trace command refuses bad usage with exit 2 before touching BPF. */
static void test_trace_usage(void **state)
{
        (void)state;
        char *a1[] = { "trace", "--output", "yaml", NULL };
        assert_int_equal(cmd_trace(3, a1), 2);
        char *a2[] = { "trace", "--attach", "kprobe", NULL };
        assert_int_equal(cmd_trace(3, a2), 2);
        char *a3[] = { "trace", "--stall-threshold-us", "-1", NULL };
        assert_int_equal(cmd_trace(3, a3), 2);
}

int main(void)
{
        char why[512] = "";

        log_set_max_level(LOG_WARNING);
#if !MEMAGENT_HAVE_BPF
        bpfsig_probe(why, sizeof(why));
        printf("SKIP: %s\n", why);
        fprintf(stderr, "SKIP: %s\n", why);
        return EXIT_SKIP;
#endif
        if (bpfsig_probe(why, sizeof(why)) < 0) {
                printf("SKIP: BPF cannot be loaded here: %s\n", why);
                fprintf(stderr, "SKIP: BPF cannot be loaded here: %s\n", why);
                return EXIT_SKIP;
        }
        if (enter_test_cgroup() < 0)
                fprintf(stderr, "note: cannot create a child cgroup v2 for the test; running in "
                                "the current one\n");
        if (find_self_cgroup_id(&self_cgroup_id, why, sizeof(why)) < 0) {
                leave_test_cgroup();
                printf("SKIP: %s\n", why);
                fprintf(stderr, "SKIP: %s\n", why);
                return EXIT_SKIP;
        }
        prctl(PR_GET_NAME, self_comm);

        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_attach_auto),
                cmocka_unit_test(test_attach_each_type),
                cmocka_unit_test(test_stall_direct),
                cmocka_unit_test(test_stall_memcg_and_softlimit),
                cmocka_unit_test(test_oom_victim_pid_proto),
                cmocka_unit_test(test_oom_proto_detected),
                cmocka_unit_test(test_pinned_map),
                cmocka_unit_test(test_prog_stats),
                cmocka_unit_test(test_no_capabilities),
                cmocka_unit_test(test_trace_usage),
        };
        fprintf(stderr, "test cgroup id %llu (%s)\n", (unsigned long long)self_cgroup_id,
                test_cgroup[0] ? test_cgroup : "current cgroup");
        int r = cmocka_run_group_tests(tests, NULL, NULL);
        leave_test_cgroup();
        return r;
}
