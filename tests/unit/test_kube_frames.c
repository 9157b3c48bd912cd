// SPDX-License-Identifier: Apache-2.0
// The watch stream's line splitter: lines split anywhere across reads, several in one read, CRLF,
// empty lines, a frame at the bound and one beyond it.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/kube/frames.h"

struct seen {
        char lines[8][256];
        size_t n;
        size_t big_len;
        int fail_at; /* return -EIO at this line number (1-based); 0: never */
};

static int collect(const char *line, size_t len, void *userdata)
{
        struct seen *s = userdata;
        assert_int_equal(strlen(line), len); /* NUL-terminated at len */
        s->n++;
        if (s->fail_at && (int)s->n == s->fail_at)
                return -EIO;
        if (len >= 256) {
                s->big_len = len;
                return 0;
        }
        if (s->n <= 8)
                memcpy(s->lines[s->n - 1], line, len + 1);
        return 0;
}

static const char *const stream = "{\"type\":\"ADDED\",\"object\":{\"a\":1}}\n"
                                  "{\"type\":\"BOOKMARK\",\"object\":{}}\r\n"
                                  "\n"
                                  "{\"type\":\"DELETED\",\"object\":{\"b\":2}}\n";

static void check_three(const struct seen *s)
{
        assert_int_equal(s->n, 3);
        assert_string_equal(s->lines[0], "{\"type\":\"ADDED\",\"object\":{\"a\":1}}");
        assert_string_equal(s->lines[1], "{\"type\":\"BOOKMARK\",\"object\":{}}");
        assert_string_equal(s->lines[2], "{\"type\":\"DELETED\",\"object\":{\"b\":2}}");
}

static void test_one_read(void **state)
{
        (void)state;
        struct kube_frames f = {};
        struct seen s = {};
        assert_int_equal(kube_frames_feed(&f, stream, strlen(stream), collect, &s), 0);
        check_three(&s);
        assert_int_equal(kube_frames_pending(&f), 0);
        kube_frames_done(&f);
}

/* Every split point, and byte by byte: the same three lines. */
static void test_split_anywhere(void **state)
{
        (void)state;
        size_t n = strlen(stream);
        for (size_t cut = 0; cut <= n; cut++) {
                struct kube_frames f = {};
                struct seen s = {};
                assert_int_equal(kube_frames_feed(&f, stream, cut, collect, &s), 0);
                assert_int_equal(kube_frames_feed(&f, stream + cut, n - cut, collect, &s), 0);
                check_three(&s);
                kube_frames_done(&f);
        }
        struct kube_frames f = {};
        struct seen s = {};
        for (size_t i = 0; i < n; i++)
                assert_int_equal(kube_frames_feed(&f, stream + i, 1, collect, &s), 0);
        check_three(&s);
        kube_frames_done(&f);
}

static void test_partial_at_end(void **state)
{
        (void)state;
        struct kube_frames f = {};
        struct seen s = {};
        const char *t = "{\"type\":\"ADDED\"}\n{\"type\":\"MOD";
        assert_int_equal(kube_frames_feed(&f, t, strlen(t), collect, &s), 0);
        assert_int_equal(s.n, 1);
        assert_int_equal(kube_frames_pending(&f), strlen("{\"type\":\"MOD"));
        kube_frames_reset(&f);
        assert_int_equal(kube_frames_pending(&f), 0);
        kube_frames_done(&f);
}

static void test_huge_frames(void **state)
{
        (void)state;
        struct kube_frames f = { .max_bytes = 100000 };
        struct seen s = {};
        char *big = malloc(100002);
        assert_non_null(big);
        memset(big, 'x', 100000);
        big[100000] = '\n';
        /* At the bound, in pieces of 4096: accepted. */
        for (size_t o = 0; o < 100001; o += 4096)
                assert_int_equal(kube_frames_feed(&f, big + o,
                                                  o + 4096 > 100001 ? 100001 - o : 4096, collect,
                                                  &s),
                                 0);
        assert_int_equal(s.n, 1);
        assert_int_equal(s.big_len, 100000);
        /* One byte beyond: refused once the line outgrows the bound, before its end. */
        memset(big, 'y', 100002);
        size_t o = 0;
        int r = 0;
        for (; o < 100002 && r == 0; o += 4096)
                r = kube_frames_feed(&f, big + o, o + 4096 > 100002 ? 100002 - o : 4096, collect,
                                     &s);
        assert_int_equal(r, -E2BIG);
        assert_int_equal(s.n, 1);
        assert_int_equal(kube_frames_pending(&f), 0);
        /* The splitter is usable again on a new stream. */
        assert_int_equal(kube_frames_feed(&f, stream, strlen(stream), collect, &s), 0);
        assert_int_equal(s.n, 4);
        /* A whole oversized line in one read is refused too. */
        memset(big, 'z', 100001);
        big[100001] = '\n';
        assert_int_equal(kube_frames_feed(&f, big, 100002, collect, &s), -E2BIG);
        kube_frames_done(&f);
        free(big);
}

static void test_callback_error_stops(void **state)
{
        (void)state;
        struct kube_frames f = {};
        struct seen s = { .fail_at = 2 };
        assert_int_equal(kube_frames_feed(&f, stream, strlen(stream), collect, &s), -EIO);
        assert_int_equal(s.n, 2);
        kube_frames_done(&f);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_one_read),
                cmocka_unit_test(test_split_anywhere),
                cmocka_unit_test(test_partial_at_end),
                cmocka_unit_test(test_huge_frames),
                cmocka_unit_test(test_callback_error_stops),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
