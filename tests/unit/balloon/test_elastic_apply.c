// SPDX-License-Identifier: Apache-2.0
// The apply layer on a plain directory standing in for a cgroup: memory.reclaim when the kernel
// has it, otherwise a memory.high pulse that leaves memory.high as it was.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* cmocka.h needs the headers above: keep it in a block of its own. */
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agent/kernel/elastic.h"
#include "common/fileio.h"

static int make_dir(char *tmpl)
{
        assert_non_null(mkdtemp(tmpl));
        int dfd = open(tmpl, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        return dfd;
}

static void put(int dfd, const char *name, const char *s)
{
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, s, strlen(s)), (ssize_t)strlen(s));
        close(fd);
}

static void get(int dfd, const char *name, char *buf, size_t size)
{
        ssize_t n = read_file_at(dfd, name, buf, size);
        assert_true(n >= 0);
        buf[n] = '\0';
}

static void cleanup(const char *dir, int dfd)
{
        static const char *const files[] = { "memory.reclaim", "memory.high", "memory.current" };
        for (size_t i = 0; i < 3; i++)
                (void)unlinkat(dfd, files[i], 0);
        close(dfd);
        rmdir(dir);
}

static void test_memory_reclaim(void **state)
{
        (void)state;
        char dir[] = "/tmp/memagent-elastic-XXXXXX";
        int dfd = make_dir(dir);
        put(dfd, "memory.reclaim", "");
        put(dfd, "memory.high", "max\n");
        assert_int_equal(elastic_reclaim_at(dfd, 8388608), 0);
        char buf[64];
        get(dfd, "memory.reclaim", buf, sizeof(buf));
        assert_string_equal(buf, "8388608");
        get(dfd, "memory.high", buf, sizeof(buf));
        assert_string_equal(buf, "max\n"); /* untouched */
        cleanup(dir, dfd);
}

static void test_high_pulse_without_memory_reclaim(void **state)
{
        (void)state;
        char dir[] = "/tmp/memagent-elastic-XXXXXX";
        int dfd = make_dir(dir);
        put(dfd, "memory.current", "209715200\n");
        put(dfd, "memory.high", "536870912\n");
        /* A plain file does not reclaim: memory.current stays above the pulse, so -EAGAIN. */
        assert_int_equal(elastic_reclaim_at(dfd, 8388608), -EAGAIN);
        char buf[64];
        get(dfd, "memory.high", buf, sizeof(buf));
        /* The old value is back (a plain file keeps the longer write's tail; a cgroup file
         * takes the value whole). */
        assert_int_equal(strncmp(buf, "536870912", 9), 0);
        /* "max" goes back as "max". */
        put(dfd, "memory.high", "max\n");
        assert_int_equal(elastic_reclaim_at(dfd, 8388608), -EAGAIN);
        get(dfd, "memory.high", buf, sizeof(buf));
        assert_int_equal(strncmp(buf, "max", 3), 0);
        cleanup(dir, dfd);
}

static void test_vanished(void **state)
{
        (void)state;
        char dir[] = "/tmp/memagent-elastic-XXXXXX";
        int dfd = make_dir(dir);
        /* Neither file: the cgroup is gone (or has no memory controller). */
        int r = elastic_reclaim_at(dfd, 4096);
        assert_true(r == -ENOENT);
        cleanup(dir, dfd);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_memory_reclaim),
                cmocka_unit_test(test_high_pulse_without_memory_reclaim),
                cmocka_unit_test(test_vanished),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
