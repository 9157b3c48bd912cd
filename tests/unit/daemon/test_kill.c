// SPDX-License-Identifier: Apache-2.0
// The kill sequence against the real kernel: a child cgroup in this host's cgroup2 hierarchy
// (the unified mount on a hybrid host, or the root on a pure v2 host) with real processes in it.
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include "agent/kernel/kill.h"
#include "common/fileio.h"

static char root[256];
static char name[64];
static int root_fd = -1;

static int find_cgroup2(void)
{
        static const char *const candidates[] = { "/sys/fs/cgroup/unified", "/sys/fs/cgroup" };
        for (size_t i = 0; i < 2; i++) {
                struct statfs sfs;
                char probe[300];
                snprintf(probe, sizeof(probe), "%s/cgroup.procs", candidates[i]);
                if (statfs(candidates[i], &sfs) == 0 && sfs.f_type == CGROUP2_SUPER_MAGIC &&
                    access(probe, W_OK) == 0) {
                        snprintf(root, sizeof(root), "%s", candidates[i]);
                        return 0;
                }
        }
        return -1;
}

static int setup(void **state)
{
        (void)state;
        snprintf(name, sizeof(name), "memagent-test-kill-%d", getpid());
        char path[400];
        snprintf(path, sizeof(path), "%s/%s", root, name);
        if (mkdir(path, 0755) < 0)
                return -1;
        root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return root_fd < 0 ? -1 : 0;
}

static int teardown(void **state)
{
        (void)state;
        char path[400];
        snprintf(path, sizeof(path), "%s/%s", root, name);
        /* Make sure nothing is left: kill whatever is there, then remove the group. */
        int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                (void)write_string_at(dfd, "cgroup.freeze", "0");
                (void)write_string_at(dfd, "cgroup.kill", "1");
                close(dfd);
        }
        for (int i = 0; i < 100 && rmdir(path) < 0 && errno == EBUSY; i++)
                usleep(20000);
        close(root_fd);
        return 0;
}

/* Forks n sleepers into the test cgroup; returns the first pid. */
static pid_t spawn_into_cgroup(int n, bool ignore_term)
{
        char procs[400];
        snprintf(procs, sizeof(procs), "%s/%s/cgroup.procs", root, name);
        pid_t first = 0;
        for (int i = 0; i < n; i++) {
                pid_t pid = fork();
                assert_true(pid >= 0);
                if (pid == 0) {
                        FILE *f = fopen(procs, "w");
                        if (!f || fprintf(f, "0\n") < 0 || fclose(f) != 0)
                                _exit(3);
                        if (ignore_term)
                                signal(SIGTERM, SIG_IGN);
                        for (;;)
                                pause();
                }
                if (!first)
                        first = pid;
        }
        /* Wait until every child is in. */
        for (int t = 0; t < 200; t++) {
                char buf[4096];
                int dfd = openat(root_fd, name, O_RDONLY | O_DIRECTORY);
                ssize_t len = read_file_at(dfd, "cgroup.procs", buf, sizeof(buf));
                close(dfd);
                int lines = 0;
                for (ssize_t k = 0; k < len; k++)
                        lines += buf[k] == '\n';
                if (lines >= n)
                        break;
                usleep(10000);
        }
        return first;
}

static uint64_t ino_of(const char *rel)
{
        struct stat st;
        assert_int_equal(fstatat(root_fd, rel, &st, 0), 0);
        return st.st_ino;
}

static void reap(void)
{
        while (waitpid(-1, NULL, WNOHANG) > 0)
                ;
}

static void test_kill_verified_empties_the_cgroup(void **state)
{
        (void)state;
        spawn_into_cgroup(3, true);
        assert_int_equal(cgroup_populated(root_fd, name), 1);
        struct kill_result kr;
        assert_int_equal(cgroup_kill_verified(root_fd, name, ino_of(name), 5000, &kr), 0);
        assert_int_equal(kr.outcome, KILL_DONE);
        assert_true(kr.froze); /* the freezer confirmed before the kill */
        reap();
        assert_int_equal(cgroup_populated(root_fd, name), 0);
        /* Thawed afterwards: a new process in the same cgroup runs. */
        char buf[256];
        int dfd = openat(root_fd, name, O_RDONLY | O_DIRECTORY);
        assert_true(read_file_at(dfd, "cgroup.events", buf, sizeof(buf)) > 0);
        close(dfd);
        assert_non_null(strstr(buf, "frozen 0"));
}

static void test_wrong_inode_is_not_touched(void **state)
{
        (void)state;
        pid_t pid = spawn_into_cgroup(1, false);
        struct kill_result kr;
        assert_int_equal(cgroup_kill_verified(root_fd, name, ino_of(name) + 12345, 5000, &kr), 0);
        assert_int_equal(kr.outcome, KILL_REPLACED);
        assert_int_equal(kill(pid, 0), 0); /* still alive */
        assert_int_equal(cgroup_populated(root_fd, name), 1);
}

static void test_empty_cgroup_is_already_empty(void **state)
{
        (void)state;
        struct kill_result kr;
        assert_int_equal(cgroup_kill_verified(root_fd, name, ino_of(name), 1000, &kr), 0);
        assert_int_equal(kr.outcome, KILL_ALREADY_EMPTY);
}

static void test_vanished_cgroup(void **state)
{
        (void)state;
        struct kill_result kr;
        assert_int_equal(cgroup_kill_verified(root_fd, "memagent-no-such-group", 1, 1000, &kr), 0);
        assert_int_equal(kr.outcome, KILL_VANISHED);
        assert_int_equal(cgroup_populated(root_fd, "memagent-no-such-group"), -ENOENT);
}

static void test_signal_all_reaches_every_process(void **state)
{
        (void)state;
        spawn_into_cgroup(2, false);
        assert_int_equal(cgroup_signal_all(root_fd, name, SIGTERM), 2);
        for (int t = 0; t < 200 && cgroup_populated(root_fd, name) == 1; t++) {
                reap();
                usleep(10000);
        }
        assert_int_equal(cgroup_populated(root_fd, name), 0);
}

int main(void)
{
        if (geteuid() != 0 || find_cgroup2() < 0) {
                printf("SKIP: test_kill needs root and a writable cgroup2 hierarchy "
                       "(/sys/fs/cgroup/unified or /sys/fs/cgroup)\n");
                return 77;
        }
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_kill_verified_empties_the_cgroup, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_wrong_inode_is_not_touched, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_cgroup_is_already_empty, setup,
                                                teardown),
                cmocka_unit_test_setup_teardown(test_vanished_cgroup, setup, teardown),
                cmocka_unit_test_setup_teardown(test_signal_all_reaches_every_process, setup,
                                                teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
