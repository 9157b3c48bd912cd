// SPDX-License-Identifier: Apache-2.0
// read_file_at() / pread_full() / pread_whole(): whole-file reads into a caller's buffer, -EFBIG
// when it does not fit, an exact fit accepted; on a real kernel pseudo-file and on a real file
// copy.
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fileio.h"
#include "testutil.h"

struct ctx {
        char *dir;
        int dfd;
        char *content; /* a real /proc/meminfo, copied into dir/meminfo */
        size_t len;
};

static int setup(void **state)
{
        struct ctx *c = calloc(1, sizeof(*c));
        char *src = tu_fixture("hybrid-host/proc/meminfo");
        c->content = tu_read(src, &c->len);
        free(src);
        c->dir = tu_mkdtemp("fileio");
        char *p = tu_strdupf("%s/meminfo", c->dir);
        tu_write(p, c->content, c->len);
        free(p);
        c->dfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(c->dfd >= 0);
        *state = c;
        return 0;
}

static int teardown(void **state)
{
        struct ctx *c = *state;
        close(c->dfd);
        tu_rm_rf(c->dir);
        free(c->dir);
        free(c->content);
        free(c);
        return 0;
}

static void test_exact_fit(void **state)
{
        struct ctx *c = *state;
        /* len bytes plus the NUL: exactly enough. */
        char *buf = malloc(c->len + 1);
        ssize_t n = read_file_at(c->dfd, "meminfo", buf, c->len + 1);
        assert_int_equal(n, (ssize_t)c->len);
        assert_memory_equal(buf, c->content, c->len);
        assert_int_equal(buf[c->len], '\0');
        free(buf);
}

static void test_one_byte_short_is_efbig(void **state)
{
        struct ctx *c = *state;
        char *buf = malloc(c->len);
        assert_int_equal(read_file_at(c->dfd, "meminfo", buf, c->len), -EFBIG);
        free(buf);
        char small[64];
        assert_int_equal(read_file_at(c->dfd, "meminfo", small, sizeof(small)), -EFBIG);
}

static void test_roomy_buffer(void **state)
{
        struct ctx *c = *state;
        char *buf = malloc(c->len * 4);
        ssize_t n = read_file_at(c->dfd, "meminfo", buf, c->len * 4);
        assert_int_equal(n, (ssize_t)c->len);
        assert_string_equal(buf, c->content);
        free(buf);
}

static void test_pread_full_rereads_from_zero(void **state)
{
        struct ctx *c = *state;
        int fd = openat(c->dfd, "meminfo", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char *buf = malloc(c->len + 1);
        for (int i = 0; i < 3; i++) {
                memset(buf, 'X', c->len + 1);
                assert_int_equal(pread_full(fd, buf, c->len + 1), (ssize_t)c->len);
                assert_string_equal(buf, c->content);
        }
        assert_int_equal(pread_full(fd, buf, c->len), -EFBIG);
        assert_int_equal(pread_full(fd, buf, 1), -EINVAL);
        close(fd);
        free(buf);
}

/* The read system calls this thread made so far (/proc/thread-self/io, syscr): what a read costs
 * the agent's tick, counted. Read through an fd kept open, so that the count moves by the reads
 * of the count alone, which a difference of two counts cancels. */
static unsigned long read_calls(int io_fd)
{
        char buf[512];
        ssize_t n = pread(io_fd, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        const char *p = strstr(buf, "syscr:");
        assert_non_null(p);
        return strtoul(p + 6, NULL, 10);
}

/* pread_whole(): one read where pread_full() takes two (the second to see the end), the same
 * bytes; a buffer the file fills goes on to the end like pread_full(), and too small a buffer is
 * -EFBIG; on a regular file and on a kernel seq_file. */
static void test_pread_whole_reads_once(void **state)
{
        struct ctx *c = *state;
        int io = open("/proc/thread-self/io", O_RDONLY | O_CLOEXEC);
        if (io < 0)
                skip(); /* a kernel without task I/O accounting */
        int fd = openat(c->dfd, "meminfo", O_RDONLY | O_CLOEXEC);
        assert_true(fd >= 0);
        char *buf = malloc(c->len * 2);
        unsigned long base0 = read_calls(io), base1 = read_calls(io);
        unsigned long per_count = base1 - base0;
        for (int i = 0; i < 3; i++) {
                memset(buf, 'X', c->len * 2);
                unsigned long before = read_calls(io);
                assert_int_equal(pread_whole(fd, buf, c->len * 2), (ssize_t)c->len);
                unsigned long after = read_calls(io);
                assert_int_equal(after - before - per_count, 1);
                assert_string_equal(buf, c->content);
                before = read_calls(io);
                assert_int_equal(pread_full(fd, buf, c->len * 2), (ssize_t)c->len);
                after = read_calls(io);
                assert_int_equal(after - before - per_count, 2);
        }
        assert_int_equal(pread_whole(fd, buf, c->len + 1), (ssize_t)c->len);
        assert_string_equal(buf, c->content);
        assert_int_equal(pread_whole(fd, buf, c->len), -EFBIG);
        assert_int_equal(pread_whole(fd, buf, 1), -EINVAL);
        close(fd);
        int pfd = open("/proc/meminfo", O_RDONLY | O_CLOEXEC);
        assert_true(pfd >= 0);
        char live[65536];
        for (int i = 0; i < 2; i++) {
                unsigned long before = read_calls(io);
                ssize_t n = pread_whole(pfd, live, sizeof(live));
                unsigned long after = read_calls(io);
                assert_true(n > 100);
                assert_int_equal(live[n - 1], '\n');
                assert_non_null(strstr(live, "MemTotal:"));
                assert_int_equal(after - before - per_count, 1);
        }
        close(pfd);
        close(io);
        free(buf);
}

static void test_empty_file(void **state)
{
        struct ctx *c = *state;
        char *p = tu_strdupf("%s/empty", c->dir);
        tu_write(p, "", 0);
        free(p);
        char buf[2] = { 'X', 'X' };
        assert_int_equal(read_file_at(c->dfd, "empty", buf, sizeof(buf)), 0);
        assert_int_equal(buf[0], '\0');
}

static void test_missing_file(void **state)
{
        struct ctx *c = *state;
        char buf[16];
        assert_int_equal(read_file_at(c->dfd, "no-such-file", buf, sizeof(buf)), -ENOENT);
        assert_true(errno_is_vanished(-ENOENT));
        assert_true(errno_is_vanished(-ENODEV));
        assert_false(errno_is_vanished(-EFBIG));
}

/* A kernel seq_file (the live /proc/meminfo): read whole, and too small a buffer is -EFBIG,
 * not a silently truncated file. */
static void test_live_procfs(void **state)
{
        (void)state;
        int pfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(pfd >= 0);
        char buf[65536];
        ssize_t n = read_file_at(pfd, "meminfo", buf, sizeof(buf));
        assert_true(n > 100);
        assert_int_equal(strlen(buf), (size_t)n);
        assert_int_equal(buf[n - 1], '\n');
        assert_non_null(strstr(buf, "MemTotal:"));
        char small[256];
        assert_int_equal(read_file_at(pfd, "meminfo", small, sizeof(small)), -EFBIG);
        close(pfd);
}

static void test_write_string_at(void **state)
{
        struct ctx *c = *state;
        /* Like a cgroup control file: opened without O_CREAT or O_TRUNC, written in one go. */
        char *p = tu_strdupf("%s/memory.high", c->dir);
        tu_write(p, "", 0);
        free(p);
        assert_int_equal(write_string_at(c->dfd, "memory.high", "max\n"), 0);
        char buf[16];
        assert_int_equal(read_file_at(c->dfd, "memory.high", buf, sizeof(buf)), 4);
        assert_string_equal(buf, "max\n");
        assert_int_equal(write_string_at(c->dfd, "absent", "1"), -ENOENT);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_exact_fit, setup, teardown),
                cmocka_unit_test_setup_teardown(test_one_byte_short_is_efbig, setup, teardown),
                cmocka_unit_test_setup_teardown(test_roomy_buffer, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pread_full_rereads_from_zero, setup, teardown),
                cmocka_unit_test_setup_teardown(test_pread_whole_reads_once, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
                cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
                cmocka_unit_test(test_live_procfs),
                cmocka_unit_test_setup_teardown(test_write_string_at, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
