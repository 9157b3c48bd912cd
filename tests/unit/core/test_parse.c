// SPDX-License-Identifier: Apache-2.0
// The kernel-file parsers on real files (the Debian 6.1 guest capture in tests/fixtures/guest and
// this build host's own files in tests/fixtures/hybrid-host), and on variants of those files
// damaged in memory here: cut mid-line, cut before a required key, garbled, and with values
// past u64. Expected numbers come from the test's own reading of the same files (sscanf), never
// from the parser under test.
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "agent/kernel/parse.h"
#include "testutil.h"

/* The burstable pod's containers in the guest capture (systemd driver). */
#define APP_POD                                                                                    \
        "systemd/kubepods.slice/kubepods-burstable.slice/"                                         \
        "kubepods-burstable-pod3c4d5e6f_7a8b_4c9d_8e0f_1a2b3c4d5e6f.slice"
#define THROTTLED                                                                                  \
        APP_POD "/cri-containerd-"                                                                 \
                "3333333333333333333333333333333333333333333333333333333333333333.scope"
#define CACHE                                                                                      \
        APP_POD "/cri-containerd-"                                                                 \
                "4444444444444444444444444444444444444444444444444444444444444444.scope"
#define OOM_CTR                                                                                    \
        "systemd/kubepods.slice/kubepods-pod0a9b8c7d_6e5f_4a3b_9c2d_1e0f9a8b7c6d.slice/"           \
        "cri-containerd-2222222222222222222222222222222222222222222222222222222222222222.scope"

/* ---- helpers: read fixtures, find and replace lines ---- */

static char *guest(const char *rel)
{
        char *p = tu_guest_fixture(rel);
        char *s = tu_read(p, NULL);
        free(p);
        return s;
}

static char *host(const char *rel)
{
        char *r = tu_strdupf("hybrid-host/%s", rel);
        char *p = tu_fixture(r);
        char *s = tu_read(p, NULL);
        free(p);
        free(r);
        return s;
}

/* 1-based number of the first line starting with prefix; fails the test when there is none. */
static unsigned line_no(const char *buf, const char *prefix)
{
        unsigned n = 1;
        for (const char *p = buf; *p; n++) {
                if (strncmp(p, prefix, strlen(prefix)) == 0)
                        return n;
                const char *nl = strchr(p, '\n');
                if (!nl)
                        break;
                p = nl + 1;
        }
        fail_msg("no line starting with \"%s\"", prefix);
        return 0;
}

static size_t line_off(const char *buf, unsigned lineno)
{
        const char *p = buf;
        for (unsigned n = 1; n < lineno; n++) {
                p = strchr(p, '\n');
                assert_non_null(p);
                p++;
        }
        return (size_t)(p - buf);
}

/* The first `len` bytes of buf: a file cut short. */
static char *cut(const char *buf, size_t len)
{
        assert_true(len <= strlen(buf));
        return strndup(buf, len);
}

/* buf with line `lineno` (1-based) replaced by text (without its newline). */
static char *with_line(const char *buf, unsigned lineno, const char *text)
{
        size_t off = line_off(buf, lineno);
        const char *nl = strchr(buf + off, '\n');
        assert_non_null(nl);
        return tu_strdupf("%.*s%s%s", (int)off, buf, text, nl);
}

/* buf with a line inserted before line `lineno`. */
static char *insert_line(const char *buf, unsigned lineno, const char *text)
{
        size_t off = line_off(buf, lineno);
        return tu_strdupf("%.*s%s\n%s", (int)off, buf, text, buf + off);
}

/* buf with the line starting with prefix replaced by "<key> <value>". */
static char *with_value(const char *buf, const char *key, const char *value, unsigned *ret_line)
{
        char *prefix = tu_strdupf("%s ", key);
        unsigned l = line_no(buf, prefix);
        free(prefix);
        char *line = tu_strdupf("%s %s", key, value);
        char *r = with_line(buf, l, line);
        free(line);
        if (ret_line)
                *ret_line = l;
        return r;
}

static void expect_bad(int r, const struct parse_error *err, unsigned line, const char *needle)
{
        if (r != -EBADMSG)
                fail_msg("expected -EBADMSG, got %d", r);
        if (err->line != line)
                fail_msg("error on line %u, expected line %u (what: %s)", err->line, line,
                         err->what);
        if (needle && !strstr(err->what, needle))
                fail_msg("error text \"%s\" does not mention \"%s\"", err->what, needle);
}

/* The value of key in "key value" text, by sscanf (the test's oracle). */
static uint64_t kv(const char *buf, const char *key)
{
        char *prefix = tu_strdupf("%s ", key);
        const char *p = buf + line_off(buf, line_no(buf, prefix));
        free(prefix);
        unsigned long long v;
        assert_int_equal(sscanf(p + strlen(key), " %llu", &v), 1);
        return v;
}

/* "Key:  N kB" (optionally after "Node n "), in bytes. */
static uint64_t mi(const char *buf, const char *key)
{
        char *needle = tu_strdupf("%s:", key);
        const char *p = buf;
        for (;;) {
                p = strstr(p, needle);
                assert_non_null(p);
                if (p == buf || p[-1] == '\n' || p[-1] == ' ')
                        break;
                p++;
        }
        unsigned long long v;
        assert_int_equal(sscanf(p + strlen(needle), " %llu", &v), 1);
        bool kb = strncmp(strchr(p, '\n') - 2, "kB", 2) == 0;
        free(needle);
        return kb ? v * 1024 : v;
}

/* ---- parse_cg_value ---- */

static void test_cg_value_real(void **state)
{
        (void)state;
        static const char *const files[] = {
                THROTTLED "/memory.current",  THROTTLED "/memory.high",
                THROTTLED "/memory.max",      THROTTLED "/memory.min",
                THROTTLED "/memory.swap.max", THROTTLED "/memory.swap.current",
                THROTTLED "/memory.peak",     CACHE "/memory.max",
                CACHE "/memory.high",         OOM_CTR "/memory.max"
        };
        unsigned n_max = 0;
        for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
                char *s = guest(files[i]);
                uint64_t want, got = 42;
                if (strcmp(s, "max\n") == 0) {
                        want = CG_UNLIMITED;
                        n_max++;
                } else {
                        char *end;
                        want = strtoull(s, &end, 10);
                        assert_string_equal(end, "\n");
                }
                struct parse_error err = { 0 };
                int r = parse_cg_value(s, &got, &err);
                if (r != 0 || got != want)
                        fail_msg("%s: r=%d got %" PRIu64 " want %" PRIu64 " (%s)", files[i], r, got,
                                 want, err.what);
                free(s);
        }
        assert_true(n_max >= 1); /* the capture has an unlimited container: "max" was covered */
}

static void test_cg_value_malformed(void **state)
{
        (void)state;
        char *max = guest(CACHE "/memory.max");
        char *cur = guest(THROTTLED "/memory.current");
        struct parse_error err;
        uint64_t v = 42;
        char *s;

        assert_string_equal(max, "max\n");
        s = cut(max, 2); /* "ma" */
        expect_bad(parse_cg_value(s, &v, &err), &err, 1, "\"ma\"");
        free(s);
        s = cut(cur, 0);
        expect_bad(parse_cg_value(s, &v, &err), &err, 1, "expected a number");
        free(s);
        s = tu_strdupf("%.4sx%s", cur, cur + 4); /* a digit garbled */
        char *needle = tu_strdupf("\"%.*s\"", (int)strcspn(s, "\n"), s);
        expect_bad(parse_cg_value(s, &v, &err), &err, 1, needle);
        free(needle);
        free(s);
        s = tu_strdupf("%s%s", cur, cur); /* two values */
        expect_bad(parse_cg_value(s, &v, &err), &err, 1, "trailing");
        free(s);
        s = tu_strdupf("max %s", cur);
        expect_bad(parse_cg_value(s, &v, &err), &err, 1, "trailing");
        free(s);
        expect_bad(parse_cg_value("18446744073709551616\n", &v, &err), &err, 1,
                   "out of range: \"18446744073709551616\"");
        expect_bad(parse_cg_value("99999999999999999999999\n", &v, &err), &err, 1,
                   "99999999999999999999999");
        expect_bad(parse_cg_value("-1\n", &v, &err), &err, 1, "-1");
        expect_bad(parse_cg_value(" 1\n", &v, &err), &err, 1, NULL);
        assert_int_equal(v, 42); /* untouched on every failure */
        /* The largest u64 is a number, not an overflow (and equals CG_UNLIMITED). */
        assert_int_equal(parse_cg_value("18446744073709551615\n", &v, &err), 0);
        assert_true(v == UINT64_MAX);
        free(max);
        free(cur);
}

/* ---- memory.stat ---- */

static const struct {
        const char *key;
        size_t off;
} stat_keys[] = {
#define K(k)                                                                                       \
        {                                                                                          \
#k, offsetof(struct memory_stat, k)                                                \
        }
        K(anon),          K(file),        K(inactive_anon),           K(active_anon),
        K(inactive_file), K(active_file), K(workingset_refault_file), K(workingset_activate_file),
#undef K
};

static void check_stat_file(const char *rel)
{
        char *s = guest(rel);
        struct memory_stat st;
        struct parse_error err = { 0 };
        int r = parse_memory_stat(s, &st, &err);
        if (r != 0)
                fail_msg("%s: line %u: %s", rel, err.line, err.what);
        for (size_t i = 0; i < sizeof(stat_keys) / sizeof(stat_keys[0]); i++) {
                uint64_t got;
                memcpy(&got, (char *)&st + stat_keys[i].off, sizeof(got));
                uint64_t want = kv(s, stat_keys[i].key);
                if (got != want)
                        fail_msg("%s: %s = %" PRIu64 ", file says %" PRIu64, rel, stat_keys[i].key,
                                 got, want);
        }
        free(s);
}

static void test_memory_stat_real(void **state)
{
        (void)state;
        check_stat_file(THROTTLED "/memory.stat");
        check_stat_file(CACHE "/memory.stat");
        check_stat_file(OOM_CTR "/memory.stat");
        check_stat_file("systemd/kubepods.slice/memory.stat");
        check_stat_file("systemd/memory.stat"); /* the root's, which has fewer keys */
        /* The capture is what we think it is: swap-heavy and cache-heavy containers. */
        char *c = guest(CACHE "/memory.stat");
        assert_true(kv(c, "inactive_file") > 0);
        free(c);
}

static void test_memory_stat_truncated(void **state)
{
        (void)state;
        char *s = guest(THROTTLED "/memory.stat");
        struct memory_stat st, before;
        struct parse_error err;
        memset(&st, 0xab, sizeof(st));
        before = st;

        /* Cut mid-line: the last line has no newline. */
        unsigned l = line_no(s, "inactive_file ");
        char *t = cut(s, line_off(s, l) + 9);
        expect_bad(parse_memory_stat(t, &st, &err), &err, l, "\"inactive_");
        assert_non_null(strstr(err.what, "truncated"));
        free(t);
        /* Cut mid-value of an early line. */
        l = line_no(s, "file ");
        t = cut(s, line_off(s, l) + 6);
        expect_bad(parse_memory_stat(t, &st, &err), &err, l, "not terminated");
        free(t);
        /* Cut cleanly before a required key: every line is whole, but inactive_file is gone. */
        t = cut(s, line_off(s, line_no(s, "inactive_file ")));
        expect_bad(parse_memory_stat(t, &st, &err), &err, 0, "\"inactive_file\"");
        free(t);
        t = cut(s, line_off(s, line_no(s, "file ")));
        expect_bad(parse_memory_stat(t, &st, &err), &err, 0, "\"file\"");
        free(t);
        expect_bad(parse_memory_stat("", &st, &err), &err, 0, "\"anon\"");
        assert_memory_equal(&st, &before, sizeof(st));
        free(s);
}

static void test_memory_stat_garbage(void **state)
{
        (void)state;
        char *s = guest(THROTTLED "/memory.stat");
        struct memory_stat st;
        struct parse_error err;
        unsigned l;
        char *t;

        t = with_value(s, "workingset_refault_file", "337x78", &l);
        expect_bad(parse_memory_stat(t, &st, &err), &err, l, "\"workingset_refault_file 337x78\"");
        free(t);
        /* The value of a key nobody here uses is not read: garbage there is no error, and the
         * keys used are still right. */
        t = with_value(s, "shmem", "1 2", &l);
        assert_true(l < line_no(s, "inactive_file "));
        assert_int_equal(parse_memory_stat(t, &st, &err), 0);
        assert_int_equal(st.inactive_file, kv(s, "inactive_file"));
        free(t);
        /* Nor is anything after the last key used (the parse stops there). */
        t = with_value(s, "pgfault", "337x78", &l);
        assert_true(l > line_no(s, "workingset_activate_file "));
        assert_int_equal(parse_memory_stat(t, &st, &err), 0);
        assert_int_equal(st.workingset_activate_file, kv(s, "workingset_activate_file"));
        free(t);
        t = with_value(s, "anon", "max", &l);
        expect_bad(parse_memory_stat(t, &st, &err), &err, l, "anon max");
        free(t);
        t = with_value(s, "file", "", &l);
        expect_bad(parse_memory_stat(t, &st, &err), &err, l, "malformed");
        free(t);
        t = with_value(s, "active_anon", "1 2", &l);
        expect_bad(parse_memory_stat(t, &st, &err), &err, l, "active_anon 1 2");
        free(t);
        l = line_no(s, "kernel_stack ");
        t = insert_line(s, l, "#!garbage");
        expect_bad(parse_memory_stat(t, &st, &err), &err, l, "#!garbage");
        free(t);
        t = insert_line(s, 3, "");
        expect_bad(parse_memory_stat(t, &st, &err), &err, 3, "key value");
        free(t);
        t = insert_line(s, 2, " 4096");
        expect_bad(parse_memory_stat(t, &st, &err), &err, 2, " 4096");
        free(t);
        /* A key this parser does not know (newer kernels add some): ignored. */
        t = insert_line(s, 2, "some_future_counter 7");
        assert_int_equal(parse_memory_stat(t, &st, &err), 0);
        assert_int_equal(st.file, kv(s, "file"));
        free(t);
        free(s);
}

static void test_memory_stat_huge(void **state)
{
        (void)state;
        char *s = guest(THROTTLED "/memory.stat");
        struct memory_stat st;
        struct parse_error err;
        unsigned l;

        char *t = with_value(s, "anon", "18446744073709551616", &l);
        expect_bad(parse_memory_stat(t, &st, &err), &err, l, "out-of-range");
        assert_non_null(strstr(err.what, "anon 18446744073709551616"));
        free(t);
        t = with_value(s, "workingset_activate_file", "184467440737095516150", &l);
        expect_bad(parse_memory_stat(t, &st, &err), &err, l, "out-of-range");
        free(t);
        /* Exactly UINT64_MAX is a value, kept as is (not wrapped, not refused). */
        t = with_value(s, "active_file", "18446744073709551615", &l);
        assert_int_equal(parse_memory_stat(t, &st, &err), 0);
        assert_true(st.active_file == UINT64_MAX);
        free(t);
        free(s);
}

/* The parser remembers which key each line held (the kernel keeps the order): a file whose lines
 * moved, or that holds an unknown key where a known one was, is still read right, and so is the
 * usual order after it. */
static void test_memory_stat_lines_move(void **state)
{
        (void)state;
        char *s = guest(CACHE "/memory.stat");
        struct memory_stat st;
        struct parse_error err;
        unsigned l_anon = line_no(s, "anon "), l_file = line_no(s, "file ");
        char *anon_line = tu_strdupf("anon %llu", (unsigned long long)kv(s, "anon"));
        char *file_line = tu_strdupf("file %llu", (unsigned long long)kv(s, "file"));
        char *t1 = with_line(s, l_anon, file_line);
        char *swapped = with_line(t1, l_file, anon_line); /* anon and file trade places */
        char *unknown = with_line(s, line_no(s, "inactive_file "), "inactive_fill 12345");
        for (int round = 0; round < 2; round++) {
                assert_int_equal(parse_memory_stat(s, &st, &err), 0);
                assert_int_equal(st.anon, kv(s, "anon"));
                assert_int_equal(st.file, kv(s, "file"));
                assert_int_equal(st.inactive_file, kv(s, "inactive_file"));
                assert_int_equal(st.active_file, kv(s, "active_file"));
                assert_int_equal(parse_memory_stat(swapped, &st, &err), 0);
                assert_int_equal(st.anon, kv(s, "anon"));
                assert_int_equal(st.file, kv(s, "file"));
                assert_int_equal(st.workingset_refault_file, kv(s, "workingset_refault_file"));
                /* a key of the same length in a known key's place: not taken for it */
                expect_bad(parse_memory_stat(unknown, &st, &err), &err, 0, "\"inactive_file\"");
        }
        free(unknown);
        free(swapped);
        free(t1);
        free(file_line);
        free(anon_line);
        free(s);
}

/* ---- memory.events ---- */

static void test_memory_events_real(void **state)
{
        (void)state;
        static const char *const files[] = { THROTTLED "/memory.events", OOM_CTR "/memory.events",
                                             "systemd/kubepods.slice/memory.events" };
        for (size_t i = 0; i < 3; i++) {
                char *s = guest(files[i]);
                struct memory_events ev;
                struct parse_error err = { 0 };
                assert_int_equal(parse_memory_events(s, &ev, &err), 0);
                assert_int_equal(ev.low, kv(s, "low"));
                assert_int_equal(ev.high, kv(s, "high"));
                assert_int_equal(ev.max, kv(s, "max"));
                assert_int_equal(ev.oom, kv(s, "oom"));
                assert_int_equal(ev.oom_kill, kv(s, "oom_kill"));
                assert_int_equal(ev.oom_group_kill, kv(s, "oom_group_kill"));
                free(s);
        }
        /* What the capture was made to show. */
        char *s = guest(OOM_CTR "/memory.events");
        struct memory_events ev;
        assert_int_equal(parse_memory_events(s, &ev, NULL), 0);
        assert_true(ev.oom_kill >= 1);
        free(s);
        s = guest(THROTTLED "/memory.events");
        assert_int_equal(parse_memory_events(s, &ev, NULL), 0);
        assert_true(ev.high >= 1);
        free(s);
}

static void test_memory_events_malformed(void **state)
{
        (void)state;
        char *s = guest(OOM_CTR "/memory.events");
        struct memory_events ev;
        struct parse_error err;
        unsigned l = line_no(s, "oom_kill ");
        char *t;

        /* oom_group_kill is optional (kernels before 5.17 lack it). */
        t = cut(s, line_off(s, line_no(s, "oom_group_kill ")));
        assert_int_equal(parse_memory_events(t, &ev, &err), 0);
        assert_int_equal(ev.oom_kill, kv(s, "oom_kill"));
        assert_int_equal(ev.oom_group_kill, 0);
        free(t);
        /* Cut before oom_kill: refused, naming the key. */
        t = cut(s, line_off(s, l));
        expect_bad(parse_memory_events(t, &ev, &err), &err, 0, "\"oom_kill\"");
        free(t);
        t = cut(s, line_off(s, l) + 5);
        expect_bad(parse_memory_events(t, &ev, &err), &err, l, "\"oom_k\"");
        free(t);
        t = with_value(s, "oom_kill", "one", &l);
        expect_bad(parse_memory_events(t, &ev, &err), &err, l, "oom_kill one");
        free(t);
        t = with_value(s, "high", "99999999999999999999", &l);
        expect_bad(parse_memory_events(t, &ev, &err), &err, l, "out-of-range");
        free(t);
        free(s);
}

/* ---- PSI ---- */

static void check_psi_file(const char *buf, const char *what)
{
        struct psi_stats p;
        struct parse_error err = { 0 };
        int r = parse_psi(buf, &p, &err);
        if (r != 0)
                fail_msg("%s: line %u: %s", what, err.line, err.what);
        double a[2][3];
        unsigned long long t[2];
        int n = sscanf(buf,
                       "some avg10=%lf avg60=%lf avg300=%lf total=%llu\n"
                       "full avg10=%lf avg60=%lf avg300=%lf total=%llu",
                       &a[0][0], &a[0][1], &a[0][2], &t[0], &a[1][0], &a[1][1], &a[1][2], &t[1]);
        assert_true(n == 4 || n == 8);
        const struct psi_line *l[2] = { &p.some, &p.full };
        assert_int_equal(p.has_full, n == 8);
        for (int i = 0; i < n / 4; i++) {
                assert_true(fabs(l[i]->avg10 - a[i][0]) < 1e-9);
                assert_true(fabs(l[i]->avg60 - a[i][1]) < 1e-9);
                assert_true(fabs(l[i]->avg300 - a[i][2]) < 1e-9);
                assert_int_equal(l[i]->total_usec, t[i]);
        }
}

static void test_psi_real(void **state)
{
        (void)state;
        static const char *const g[] = { "proc/pressure/memory", THROTTLED "/memory.pressure",
                                         "systemd/kubepods.slice/memory.pressure",
                                         "systemd/memory.pressure" };
        for (size_t i = 0; i < 4; i++) {
                char *s = guest(g[i]);
                check_psi_file(s, g[i]);
                free(s);
        }
        char *s = host("proc/pressure/memory");
        check_psi_file(s, "hybrid-host proc/pressure/memory");
        free(s);
        s = host("unified/memory.pressure");
        check_psi_file(s, "hybrid-host unified/memory.pressure");
        free(s);
        /* Non-zero averages were captured: the fraction digits really were parsed. */
        s = guest("proc/pressure/memory");
        struct psi_stats p;
        assert_int_equal(parse_psi(s, &p, NULL), 0);
        assert_true(p.some.avg10 > 0 && p.some.total_usec > 0 && p.full.total_usec > 0);
        free(s);
}

static void test_psi_malformed(void **state)
{
        (void)state;
        char *s = guest("proc/pressure/memory");
        struct psi_stats p, before;
        struct parse_error err;
        char *t;

        memset(&p, 0x5a, sizeof(p));
        before = p;
        size_t full = line_off(s, 2);
        t = cut(s, full + 20); /* mid "full" line */
        expect_bad(parse_psi(t, &p, &err), &err, 2, "truncated");
        assert_non_null(strstr(err.what, "full avg10="));
        free(t);
        t = cut(s, 12);                         /* mid "some" line */
        char *needle = tu_strdupf("\"%s\"", t); /* the cut text, quoted */
        expect_bad(parse_psi(t, &p, &err), &err, 1, needle);
        free(needle);
        free(t);
        expect_bad(parse_psi("", &p, &err), &err, 0, "\"some\"");
        t = strdup(s + full); /* only the "full" line */
        expect_bad(parse_psi(t, &p, &err), &err, 0, "\"some\"");
        free(t);
        assert_memory_equal(&p, &before, sizeof(p));

        /* Only "some" (cpu.pressure before 5.13, or a cut at the line end): fine. */
        t = cut(s, full);
        assert_int_equal(parse_psi(t, &p, &err), 0);
        assert_false(p.has_full);
        free(t);

        const char *const garbled[][2] = {
                { "some avg10=17.06 avg60=3.72 avg300=0.80 total=2679630", NULL }, /* control */
                { "sone avg10=17.06 avg60=3.72 avg300=0.80 total=2679630", "sone avg10" },
                { "some avg10=17.06 avg6O=3.72 avg300=0.80 total=2679630", "avg6O=3.72" },
                { "some avg10=101.00 avg60=3.72 avg300=0.80 total=2679630", "avg10=101.00" },
                { "some avg10=17. avg60=3.72 avg300=0.80 total=2679630", "avg10=17. " },
                { "some avg10=17.06 avg60=3.72 avg300=0.80 total=18446744073709551616",
                  "total=18446744073709551616" },
                { "some avg10=17.06 avg60=3.72 avg300=0.80 total=2679630 extra", "extra" },
                { "some avg10=17.06 avg60=3.72 avg300=0.80", "avg300=0.80" },
        };
        for (size_t i = 0; i < sizeof(garbled) / sizeof(garbled[0]); i++) {
                t = with_line(s, 1, garbled[i][0]);
                int r = parse_psi(t, &p, &err);
                if (garbled[i][1])
                        expect_bad(r, &err, 1, garbled[i][1]);
                else
                        assert_int_equal(r, 0);
                free(t);
        }
        free(s);
}

/* ---- memory.numa_stat ---- */

static void test_numa_stat_real(void **state)
{
        (void)state;
        static const char *const files[] = { THROTTLED "/memory.numa_stat",
                                             CACHE "/memory.numa_stat",
                                             "systemd/kubepods.slice/memory.numa_stat" };
        for (size_t i = 0; i < 3; i++) {
                char *s = guest(files[i]);
                struct numa_stat ns;
                struct parse_error err = { 0 };
                assert_int_equal(parse_numa_stat(s, &ns, &err), 0);
                assert_int_equal(ns.n_nodes, 2);
                unsigned long long a0, a1, f0, f1;
                const char *fl = s + line_off(s, line_no(s, "file "));
                assert_int_equal(sscanf(s, "anon N0=%llu N1=%llu", &a0, &a1), 2);
                assert_int_equal(sscanf(fl, "file N0=%llu N1=%llu", &f0, &f1), 2);
                assert_int_equal(ns.anon[0], a0);
                assert_int_equal(ns.anon[1], a1);
                assert_int_equal(ns.file[0], f0);
                assert_int_equal(ns.file[1], f1);
                free(s);
        }
}

static void test_numa_stat_malformed(void **state)
{
        (void)state;
        char *s = guest(THROTTLED "/memory.numa_stat");
        struct numa_stat ns;
        struct parse_error err;
        unsigned lf = line_no(s, "file ");
        char *t;

        t = cut(s, 12); /* "anon N0=1153" */
        expect_bad(parse_numa_stat(t, &ns, &err), &err, 1, "truncated");
        free(t);
        t = cut(s, line_off(s, lf));
        expect_bad(parse_numa_stat(t, &ns, &err), &err, 0, "\"file\"");
        free(t);
        t = with_line(s, lf, "file N0=0 X1=8192");
        expect_bad(parse_numa_stat(t, &ns, &err), &err, lf, "file N0=0 X1=8192");
        free(t);
        t = with_line(s, lf, "file N0=18446744073709551616 N1=0");
        expect_bad(parse_numa_stat(t, &ns, &err), &err, lf, "N0=18446744073709551616");
        free(t);
        t = with_line(s, lf, "file N=1");
        expect_bad(parse_numa_stat(t, &ns, &err), &err, lf, "node id");
        free(t);
        t = with_line(s, lf, "file N0=");
        expect_bad(parse_numa_stat(t, &ns, &err), &err, lf, "malformed value");
        free(t);
        t = with_line(s, lf, "file");
        expect_bad(parse_numa_stat(t, &ns, &err), &err, lf, "\"file\"");
        free(t);
        /* A node id past NUMA_NODES_MAX folds into the last slot. */
        t = with_line(s, lf, "file N0=1 N40=4096");
        assert_int_equal(parse_numa_stat(t, &ns, &err), 0);
        assert_int_equal(ns.n_nodes, NUMA_NODES_MAX);
        assert_int_equal(ns.file[NUMA_NODES_MAX - 1], 4096);
        assert_int_equal(ns.file[0], 1);
        free(t);
        free(s);
}

/* ---- meminfo ---- */

static void check_meminfo(const char *buf, bool per_node, const char *what)
{
        struct meminfo m;
        struct parse_error err = { 0 };
        if (parse_meminfo(buf, &m, &err) != 0)
                fail_msg("%s: line %u: %s", what, err.line, err.what);
        assert_int_equal(m.total, mi(buf, "MemTotal"));
        assert_int_equal(m.free, mi(buf, "MemFree"));
        assert_int_equal(m.active_file, mi(buf, "Active(file)"));
        assert_int_equal(m.inactive_file, mi(buf, "Inactive(file)"));
        assert_int_equal(m.shmem, mi(buf, "Shmem"));
        assert_int_equal(m.sreclaimable, mi(buf, "SReclaimable"));
        assert_true(m.total > m.free && m.free > 0);
        if (per_node) {
                assert_false(m.has_available);
        } else {
                assert_true(m.has_available);
                assert_int_equal(m.available, mi(buf, "MemAvailable"));
                assert_int_equal(m.buffers, mi(buf, "Buffers"));
                assert_int_equal(m.cached, mi(buf, "Cached"));
                assert_int_equal(m.swap_total, mi(buf, "SwapTotal"));
                assert_int_equal(m.swap_free, mi(buf, "SwapFree"));
        }
}

static void test_meminfo_real(void **state)
{
        (void)state;
        char *s = guest("proc/meminfo");
        check_meminfo(s, false, "guest /proc/meminfo");
        struct meminfo m;
        assert_int_equal(parse_meminfo(s, &m, NULL), 0);
        assert_true(m.swap_total > 0); /* the guest had zram swap */
        free(s);
        s = host("proc/meminfo");
        check_meminfo(s, false, "hybrid-host /proc/meminfo");
        free(s);
        s = guest("sys/devices/system/node/node0/meminfo");
        check_meminfo(s, true, "guest node0/meminfo");
        free(s);
        s = guest("sys/devices/system/node/node1/meminfo");
        check_meminfo(s, true, "guest node1/meminfo");
        free(s);
        s = host("sys/devices/system/node/node0/meminfo");
        check_meminfo(s, true, "hybrid-host node0/meminfo");
        free(s);
}

static void test_meminfo_malformed(void **state)
{
        (void)state;
        char *s = guest("proc/meminfo");
        char *n = guest("sys/devices/system/node/node1/meminfo");
        struct meminfo m, before;
        struct parse_error err;
        char *t;

        memset(&m, 0x77, sizeof(m));
        before = m;
        t = cut(s, line_off(s, 3) + 7); /* "MemAvai" */
        expect_bad(parse_meminfo(t, &m, &err), &err, 3, "\"MemAvai\"");
        free(t);
        t = cut(s, line_off(s, line_no(s, "MemFree:")));
        expect_bad(parse_meminfo(t, &m, &err), &err, 0, "MemFree");
        free(t);
        t = cut(n, line_off(n, line_no(n, "Node 1 MemFree:")));
        expect_bad(parse_meminfo(t, &m, &err), &err, 0, "MemFree");
        free(t);
        expect_bad(parse_meminfo("", &m, &err), &err, 0, "MemTotal");
        t = with_line(s, 2, "MemFree:          85x508 kB");
        expect_bad(parse_meminfo(t, &m, &err), &err, 2, "85x508");
        free(t);
        t = with_line(s, 2, "MemFree          855508 kB");
        expect_bad(parse_meminfo(t, &m, &err), &err, 2, "Key: value");
        free(t);
        t = with_line(s, 2, "MemFree:          855508 MB");
        expect_bad(parse_meminfo(t, &m, &err), &err, 2, "855508 MB");
        free(t);
        t = with_line(s, 2, "MemFree:");
        expect_bad(parse_meminfo(t, &m, &err), &err, 2, "malformed value");
        free(t);
        /* kB to bytes would pass 2^64: refused, not wrapped. */
        t = with_line(s, 1, "MemTotal:       18014398509481984 kB");
        expect_bad(parse_meminfo(t, &m, &err), &err, 1, "out of range");
        assert_non_null(strstr(err.what, "18014398509481984"));
        free(t);
        t = with_line(s, 1, "MemTotal:       99999999999999999999 kB");
        expect_bad(parse_meminfo(t, &m, &err), &err, 1, "99999999999999999999");
        free(t);
        t = with_line(n, 1, "Node x MemTotal:         513476 kB");
        expect_bad(parse_meminfo(t, &m, &err), &err, 1, "Node x");
        free(t);
        assert_memory_equal(&m, &before, sizeof(m));
        /* The largest value that fits after * 1024. */
        t = with_line(s, 1, "MemTotal:       18014398509481983 kB");
        assert_int_equal(parse_meminfo(t, &m, &err), 0);
        assert_true(m.total == UINT64_C(18014398509481983) * 1024);
        free(t);
        free(s);
        free(n);
}

/* ---- distance ---- */

static void test_distance(void **state)
{
        (void)state;
        unsigned d[NUMA_NODES_MAX], n = 0;
        struct parse_error err;
        char *s = guest("sys/devices/system/node/node0/distance");
        unsigned a, b;
        assert_int_equal(sscanf(s, "%u %u", &a, &b), 2);
        assert_int_equal(parse_distance(s, d, NUMA_NODES_MAX, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_int_equal(d[0], a);
        assert_int_equal(d[1], b);
        /* max caps what is stored */
        assert_int_equal(parse_distance(s, d, 1, &n, &err), 0);
        assert_int_equal(n, 1);
        free(s);
        s = guest("sys/devices/system/node/node1/distance");
        assert_int_equal(parse_distance(s, d, NUMA_NODES_MAX, &n, &err), 0);
        assert_int_equal(sscanf(s, "%u %u", &a, &b), 2);
        assert_int_equal(n, 2);
        assert_int_equal(d[0], a);
        assert_int_equal(d[1], b);
        free(s);
        s = host("sys/devices/system/node/node0/distance");
        assert_int_equal(parse_distance(s, d, NUMA_NODES_MAX, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_int_equal(d[0], 10);
        free(s);

        expect_bad(parse_distance("", d, NUMA_NODES_MAX, &n, &err), &err, 1, "empty");
        expect_bad(parse_distance("\n", d, NUMA_NODES_MAX, &n, &err), &err, 1, "empty");
        expect_bad(parse_distance("10 2O\n", d, NUMA_NODES_MAX, &n, &err), &err, 1, "10 2O");
        expect_bad(parse_distance("10 256\n", d, NUMA_NODES_MAX, &n, &err), &err, 1, "10 256");
        expect_bad(parse_distance("10 18446744073709551616\n", d, NUMA_NODES_MAX, &n, &err), &err,
                   1, "18446744073709551616");
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_cg_value_real),
                cmocka_unit_test(test_cg_value_malformed),
                cmocka_unit_test(test_memory_stat_real),
                cmocka_unit_test(test_memory_stat_truncated),
                cmocka_unit_test(test_memory_stat_garbage),
                cmocka_unit_test(test_memory_stat_huge),
                cmocka_unit_test(test_memory_stat_lines_move),
                cmocka_unit_test(test_memory_events_real),
                cmocka_unit_test(test_memory_events_malformed),
                cmocka_unit_test(test_psi_real),
                cmocka_unit_test(test_psi_malformed),
                cmocka_unit_test(test_numa_stat_real),
                cmocka_unit_test(test_numa_stat_malformed),
                cmocka_unit_test(test_meminfo_real),
                cmocka_unit_test(test_meminfo_malformed),
                cmocka_unit_test(test_distance),
        };
        /* Fail loudly up front if the guest capture is missing, rather than test by test. */
        free(tu_guest_fixture("proc/meminfo"));
        return cmocka_run_group_tests(tests, NULL, NULL);
}
