// SPDX-License-Identifier: Apache-2.0
// common/config: every type's text, bounds and bad values with the exact "file:line: key" message,
// the YAML shapes that are refused, flags, the --print-config round trip and the SIGHUP reload
// rules; then memagentd's own table (agent/daemon-config): its defaults, cross-field checks and
// command line.
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent/daemon/daemon-config.h"
#include "common/config.h"
#include "common/log.h"
#include "config_files.h"

#define KI UINT64_C(1024)
#define MI (KI * KI)
#define GI (MI * KI)

/* ---- A table with every type ---------------------------------------------------------------- */

struct tcfg {
        bool enabled;
        int64_t count;
        uint64_t interval_usec;
        uint64_t limit_bytes;
        struct config_bytes_or_percent avail;
        double share;
        char *name;
        struct config_strv items;
        int level;
        char *root;
        int not_a_key; /* the table leaves it alone */
};

static int check_no_space(const char *s, char *err, size_t err_size)
{
        if (strchr(s, ' ')) {
                snprintf(err, err_size, "must not contain spaces");
                return -EINVAL;
        }
        return 0;
}

static const struct config_enum_value levels[] = {
        { "error", 3 }, { "warning", 4 }, { "info", 6 }, { "debug", 7 }, { NULL, 0 },
};

#define T struct tcfg
static const struct config_entry tentries[] = {
        CONFIG_ENTRY_BOOL(T, enabled, "enabled", "false", true, "A switch."),
        CONFIG_ENTRY_INT(T, count, "count", "2", "1", "100", true, "A count."),
        CONFIG_ENTRY_DURATION(T, interval_usec, "interval", "1s", "100us", "2h", true,
                              "An interval."),
        CONFIG_ENTRY_BYTES(T, limit_bytes, "limit", "512Mi", "1Mi", "1Ti", true, "A size."),
        CONFIG_ENTRY_BYTES_OR_PERCENT(T, avail, "availableLow", "20%", NULL, "64Gi", true,
                                      "A threshold."),
        CONFIG_ENTRY_PERCENT(T, share, "share", "10", NULL, NULL, true, "A share."),
        CONFIG_ENTRY_STRING(T, name, "name", "hello", check_no_space, NULL, true, "A name."),
        CONFIG_ENTRY_STRV(T, items, "items", "a,b", check_no_space, NULL, true, "Some items."),
        CONFIG_ENTRY_ENUM(T, level, "level", "info", levels, true, "A level."),
        CONFIG_ENTRY_STRING(T, root, "rootDir", "/sys/fs/cgroup", NULL, "PATH", false, "A root."),
};
#undef T

static const struct config_table ttable = {
        .entries = tentries,
        .n_entries = ELEMENTSOF(tentries),
        .struct_size = sizeof(struct tcfg),
};

#define NAME "/etc/memagent/memagentd.yaml"

static char err[CONFIG_ERR_MAX];

static struct tcfg defaults(void)
{
        struct tcfg c = { .not_a_key = 42 };
        assert_int_equal(config_set_defaults(&ttable, &c, NULL, err, sizeof(err)), 0);
        return c;
}

/* Loads yaml over the defaults; returns the result of config_load_string(). */
static int load(const char *yaml, struct tcfg *c)
{
        *c = defaults();
        err[0] = '\0';
        return config_load_string(&ttable, NAME, yaml, strlen(yaml), c, NULL, err, sizeof(err));
}

/* Loading yaml fails with exactly want; the config is left as the defaults. */
static void load_fails(const char *yaml, const char *want)
{
        struct tcfg c, d = defaults();
        int r = load(yaml, &c);
        if (r != -EINVAL || !streq(err, want))
                fail_msg("yaml:\n%s\ngot r=%d \"%s\"\nwant -EINVAL \"%s\"", yaml, r, err, want);
        assert_true(config_equal(&ttable, &c, &d));
        config_free(&ttable, &c);
        config_free(&ttable, &d);
}

/* One "key: value" line; returns the loaded config (caller frees). */
static struct tcfg load_ok(const char *yaml)
{
        struct tcfg c;
        int r = load(yaml, &c);
        if (r != 0)
                fail_msg("yaml:\n%s\ngot r=%d \"%s\"", yaml, r, err);
        return c;
}

static void test_table_and_defaults(void **state)
{
        (void)state;
        struct tcfg c = defaults();
        assert_int_equal(config_table_verify(&ttable, err, sizeof(err)), 0);
        assert_false(c.enabled);
        assert_int_equal(c.count, 2);
        assert_int_equal(c.interval_usec, 1000000);
        assert_int_equal(c.limit_bytes, 512 * MI);
        assert_true(c.avail.is_percent);
        assert_true(c.avail.percent == 20.0);
        assert_true(c.share == 10.0);
        assert_string_equal(c.name, "hello");
        assert_int_equal(c.items.n, 2);
        assert_string_equal(c.items.items[0], "a");
        assert_string_equal(c.items.items[1], "b");
        assert_null(c.items.items[2]);
        assert_int_equal(c.level, 6);
        assert_int_equal(c.not_a_key, 42);
        config_free(&ttable, &c);
        config_free(&ttable, &c); /* twice is fine */
        assert_null(c.name);
}

/* A bad default, bad bounds, a duplicate or badly named key: the table is refused. */
static void test_bad_tables(void **state)
{
        (void)state;
        struct tcfg c = { 0 };
        struct {
                struct config_entry e[2];
                size_t n;
                const char *want;
        } cases[] = {
                { { CONFIG_ENTRY_DURATION(struct tcfg, interval_usec, "interval", "5x", NULL, NULL,
                                          true, "x") },
                  1,
                  "config table: key \"interval\": default: \"5x\" is not a duration (like 500ms, "
                  "2s, 1m)" },
                { { CONFIG_ENTRY_INT(struct tcfg, count, "count", "0", "1", "10", true, "x") },
                  1,
                  "config table: key \"count\": default: \"0\" is out of range: must be between 1 "
                  "and 10" },
                { { CONFIG_ENTRY_INT(struct tcfg, count, "count", "5", "10", "1", true, "x") },
                  1,
                  "config table: key \"count\": bounds (10, 1) do not parse or are not ordered" },
                { { CONFIG_ENTRY_INT(struct tcfg, count, "Count", "5", NULL, NULL, true, "x") },
                  1,
                  "config table: entry 0: key \"Count\" is not camelCase" },
                { { CONFIG_ENTRY_INT(struct tcfg, count, "count", "5", NULL, NULL, true, "x"),
                    CONFIG_ENTRY_BOOL(struct tcfg, enabled, "count", "true", true, "x") },
                  2,
                  "config table: key \"count\" appears twice" },
                { { CONFIG_ENTRY_STRING(struct tcfg, name, "name", "a b", check_no_space, NULL,
                                        true, "x") },
                  1,
                  "config table: key \"name\": default: \"a b\": must not contain spaces" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                struct config_table t = { cases[i].e, cases[i].n, sizeof(struct tcfg), NULL };
                assert_int_equal(config_set_defaults(&t, &c, NULL, err, sizeof(err)), -EINVAL);
                assert_string_equal(err, cases[i].want);
        }
}

static void test_bool(void **state)
{
        (void)state;
        const char *yes[] = { "true", "True", "yes", "on", "\"true\"" };
        for (size_t i = 0; i < ELEMENTSOF(yes); i++) {
                char yaml[64];
                snprintf(yaml, sizeof(yaml), "enabled: %s\n", yes[i]);
                struct tcfg c = load_ok(yaml);
                assert_true(c.enabled);
                config_free(&ttable, &c);
        }
        struct tcfg c = load_ok("enabled: off\n");
        assert_false(c.enabled);
        config_free(&ttable, &c);
        load_fails("enabled: maybe\n",
                   NAME ":1: key \"enabled\": \"maybe\" is not a boolean (true or false)");
        load_fails("enabled: 1\n", NAME ":1: key \"enabled\": \"1\" is not a boolean (true or "
                                        "false)");
        load_fails("enabled:\n", NAME ":1: key \"enabled\": needs a value");
}

static void test_int(void **state)
{
        (void)state;
        struct tcfg c = load_ok("count: 100\n");
        assert_int_equal(c.count, 100);
        config_free(&ttable, &c);
        c = load_ok("count: +7\n");
        assert_int_equal(c.count, 7);
        config_free(&ttable, &c);
        load_fails("count: 0\n",
                   NAME ":1: key \"count\": \"0\" is out of range: must be between 1 and 100");
        load_fails("count: 101\n",
                   NAME ":1: key \"count\": \"101\" is out of range: must be between 1 and 100");
        load_fails("count: -5\n",
                   NAME ":1: key \"count\": \"-5\" is out of range: must be between 1 and 100");
        load_fails("count: 99999999999999999999\n",
                   NAME ":1: key \"count\": \"99999999999999999999\" is out of range: must be "
                        "between 1 and 100");
        load_fails("count: 2.5\n", NAME ":1: key \"count\": \"2.5\" is not an integer");
        load_fails("count: 0x10\n", NAME ":1: key \"count\": \"0x10\" is not an integer");
        load_fails("count: ''\n", NAME ":1: key \"count\": \"\" is not an integer");
}

static void test_duration(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                uint64_t usec;
        } ok[] = {
                { "500ms", 500000 },   { "2s", 2000000 },
                { "1m", 60000000 },    { "1h", 3600000000 },
                { "100us", 100 },      { "100\xc2\xb5s", 100 },
                { "1m30s", 90000000 }, { "1h2m3s4ms5us", 3723004005 },
                { "1.5s", 1500000 },   { ".5s", 500000 },
                { "0.25ms", 250 },     { "1s500ms", 1500000 },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                char yaml[64];
                snprintf(yaml, sizeof(yaml), "interval: %s\n", ok[i].text);
                struct tcfg c = load_ok(yaml);
                if (c.interval_usec != ok[i].usec)
                        fail_msg("%s: got %llu usec, want %llu", ok[i].text,
                                 (unsigned long long)c.interval_usec,
                                 (unsigned long long)ok[i].usec);
                config_free(&ttable, &c);
        }
        /* The example of the brief, on its line. */
        load_fails("# memagentd\n\ninterval: 5x\n",
                   NAME ":3: key \"interval\": \"5x\" is not a duration (like 500ms, 2s, 1m)");
        const char *bad[] = { "1", "s", "1x", "-1s", "1s 2s", "1ns", "1.s.", "ms", "1e3s" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char yaml[64], want[256];
                snprintf(yaml, sizeof(yaml), "interval: \"%s\"\n", bad[i]);
                snprintf(want, sizeof(want),
                         NAME ":1: key \"interval\": \"%s\" is not a duration (like 500ms, 2s, 1m)",
                         bad[i]);
                load_fails(yaml, want);
        }
        load_fails("interval: 50us\n", NAME ":1: key \"interval\": \"50us\" is out of range: must "
                                            "be between 100us and 2h");
        load_fails("interval: 2h1us\n", NAME ":1: key \"interval\": \"2h1us\" is out of range: "
                                             "must be between 100us and 2h");
        load_fails("interval: 0\n", NAME ":1: key \"interval\": \"0\" is out of range: must be "
                                         "between 100us and 2h");
        load_fails("interval: 99999999999999999999h\n",
                   NAME ":1: key \"interval\": \"99999999999999999999h\" is out of range: must be "
                        "between 100us and 2h");
}

static void test_bytes(void **state)
{
        (void)state;
        static const struct {
                const char *text;
                uint64_t bytes;
        } ok[] = {
                { "512Mi", 512 * MI }, { "1Gi", GI },           { "1.5Gi", 3 * GI / 2 },
                { "100M", 100000000 }, { "2097152", 2 * MI },   { "1Ti", 1024 * GI },
                { "1e7", 10000000 },   { "1048576.5", MI + 1 },
        };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                char yaml[64];
                snprintf(yaml, sizeof(yaml), "limit: %s\n", ok[i].text);
                struct tcfg c = load_ok(yaml);
                assert_int_equal(c.limit_bytes, ok[i].bytes);
                config_free(&ttable, &c);
        }
        load_fails("limit: 12Zi\n",
                   NAME ":1: key \"limit\": \"12Zi\" is not a quantity (like 512Mi, 1Gi, 100M)");
        load_fails("limit: 1Ki\n",
                   NAME ":1: key \"limit\": \"1Ki\" is out of range: must be between 1Mi and 1Ti");
        load_fails("limit: 2Ti\n",
                   NAME ":1: key \"limit\": \"2Ti\" is out of range: must be between 1Mi and 1Ti");
        load_fails("limit: -1Mi\n", NAME ":1: key \"limit\": \"-1Mi\" is negative");
        load_fails("limit: 100Ei\n", NAME ":1: key \"limit\": \"100Ei\" is too large");
        load_fails("limit: 10%\n",
                   NAME ":1: key \"limit\": \"10%\" is not a quantity (like 512Mi, 1Gi, 100M)");
}

static void test_bytes_or_percent(void **state)
{
        (void)state;
        struct tcfg c = load_ok("availableLow: 12.5%\n");
        assert_true(c.avail.is_percent);
        assert_true(c.avail.percent == 12.5);
        config_free(&ttable, &c);
        c = load_ok("availableLow: 100%\n");
        assert_true(c.avail.is_percent && c.avail.percent == 100.0);
        config_free(&ttable, &c);
        c = load_ok("availableLow: 0%\n");
        assert_true(c.avail.is_percent && c.avail.percent == 0.0);
        config_free(&ttable, &c);
        c = load_ok("availableLow: 1.5Gi\n");
        assert_false(c.avail.is_percent);
        assert_int_equal(c.avail.bytes, 3 * GI / 2);
        config_free(&ttable, &c);
        load_fails("availableLow: 101%\n",
                   NAME ":1: key \"availableLow\": \"101%\" is out of range: a percentage must be "
                        "between 0% and 100%");
        load_fails("availableLow: 65Gi\n",
                   NAME ":1: key \"availableLow\": \"65Gi\" is out of range: must be at most 64Gi");
        const char *bad[] = { "abc%", "%", "-5%", "5 %", "1e2%", "lots" };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char yaml[64], want[256];
                snprintf(yaml, sizeof(yaml), "availableLow: \"%s\"\n", bad[i]);
                snprintf(want, sizeof(want),
                         NAME ":1: key \"availableLow\": \"%s\" is neither a quantity (like 512Mi, "
                              "1Gi) nor a percentage (like 10%%)",
                         bad[i]);
                load_fails(yaml, want);
        }
}

static void test_percent(void **state)
{
        (void)state;
        const struct {
                const char *text;
                double v;
        } ok[] = { { "10", 10 }, { "10%", 10 }, { "12.5%", 12.5 }, { "0", 0 }, { "100", 100 } };
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                char yaml[64];
                snprintf(yaml, sizeof(yaml), "share: %s\n", ok[i].text);
                struct tcfg c = load_ok(yaml);
                assert_true(c.share == ok[i].v);
                config_free(&ttable, &c);
        }
        load_fails("share: 100.5\n", NAME ":1: key \"share\": \"100.5\" is out of range: must be "
                                          "between 0% and 100%");
        load_fails("share: -1\n",
                   NAME ":1: key \"share\": \"-1\" is not a percentage (like 10% or 12.5%)");
        load_fails("share: nan\n",
                   NAME ":1: key \"share\": \"nan\" is not a percentage (like 10% or 12.5%)");
        load_fails("share: [1]\n", NAME ":1: key \"share\": expected a single value, not a list");
}

static void test_string(void **state)
{
        (void)state;
        struct tcfg c = load_ok("name: \"tab\\there\\u00e9\"\n");
        assert_string_equal(c.name, "tab\there\xc3\xa9");
        config_free(&ttable, &c);
        c = load_ok("name: ~\n");
        assert_string_equal(c.name, "");
        config_free(&ttable, &c);
        c = load_ok("name: 'null'\n"); /* quoted: the text, not a null */
        assert_string_equal(c.name, "null");
        config_free(&ttable, &c);
        c = load_ok("name: 12\n"); /* typed by the table, not by YAML */
        assert_string_equal(c.name, "12");
        config_free(&ttable, &c);
        load_fails("name: has space\n",
                   NAME ":1: key \"name\": \"has space\": must not contain spaces");
        load_fails("name:\n  a: b\n", NAME ":2: key \"name\": expected a single value, not a "
                                           "mapping");
        load_fails("name: \"a\\0b\"\n",
                   NAME ":1: key \"name\": the value contains a NUL character");
}

static void test_string_list(void **state)
{
        (void)state;
        struct tcfg c = load_ok("items:\n  - x\n  - \"y\"\n  - '12'\n");
        assert_int_equal(c.items.n, 3);
        assert_string_equal(c.items.items[0], "x");
        assert_string_equal(c.items.items[1], "y");
        assert_string_equal(c.items.items[2], "12");
        assert_null(c.items.items[3]);
        config_free(&ttable, &c);
        c = load_ok("items: [p, \"q,r\"]\n"); /* a comma inside an item is fine in YAML */
        assert_int_equal(c.items.n, 2);
        assert_string_equal(c.items.items[1], "q,r");
        config_free(&ttable, &c);
        const char *empty[] = { "items: []\n", "items:\n", "items: [none]\n", "items: ~\n" };
        for (size_t i = 0; i < ELEMENTSOF(empty); i++) {
                c = load_ok(empty[i]);
                assert_int_equal(c.items.n, 0);
                assert_non_null(c.items.items);
                assert_null(c.items.items[0]);
                config_free(&ttable, &c);
        }
        load_fails("items: x\n", NAME ":1: key \"items\": expected a list (like [\"a\", \"b\"] or "
                                      "one \"- item\" per line), not a single value");
        load_fails("items: {a: b}\n", NAME ":1: key \"items\": expected a list, not a mapping");
        load_fails("items:\n  - ok\n  - {a: b}\n",
                   NAME ":3: key \"items\": list items must be single values, not a mapping");
        load_fails("items:\n  - ok\n  - not ok\n",
                   NAME ":3: key \"items\": \"not ok\": must not contain spaces");
}

static void test_enum(void **state)
{
        (void)state;
        struct tcfg c = load_ok("level: debug\n");
        assert_int_equal(c.level, 7);
        config_free(&ttable, &c);
        c = load_ok("level: Warning\n");
        assert_int_equal(c.level, 4);
        config_free(&ttable, &c);
        load_fails("level: verbose\n",
                   NAME ":1: key \"level\": \"verbose\" is not one of error, warning, info, debug");
}

static void test_yaml_shapes(void **state)
{
        (void)state;
        /* The example of the brief: a typo'd key, with what was meant. */
        const char *unknown = "interval: 1s\ncount: 3\nintervall: 2s\n";
        load_fails(unknown, NAME ":3: key \"intervall\": unknown key (did you mean \"interval\"?)");
        load_fails("bogus: 1\n", NAME ":1: key \"bogus\": unknown key");
        load_fails("Interval: 1s\n",
                   NAME ":1: key \"Interval\": unknown key (did you mean \"interval\"?)");
        load_fails("root-dir: /x\n",
                   NAME ":1: key \"root-dir\": unknown key (did you mean \"rootDir\"?)");
        load_fails("count: 3\nname: a\ncount: 4\n",
                   NAME ":3: key \"count\": duplicate key (first set on line 1)");
        load_fails("- a\n- b\n", NAME ":1: expected a mapping of keys to values (\"key: "
                                      "value\" lines), not a list");
        load_fails("just text\n", NAME ":1: expected a mapping of keys to values (\"key: "
                                       "value\" lines), not a single value");
        load_fails("? [a]\n: b\n", NAME ":1: a key must be a name, not a list");
        load_fails("count: 3\n---\ncount: 4\n",
                   NAME ":2: a second YAML document; the file must hold one");
        load_fails("count: 3\n  name: x\n",
                   NAME ":2: invalid YAML: mapping values are not allowed in this context");
        load_fails("count: [1\n", NAME ":2: invalid YAML: did not find expected ',' or ']' (while "
                                       "parsing a flow sequence at line 1)");

        /* Empty in every way: all defaults. */
        const char *empty[] = { "", "\n\n", "# only a comment\n", "---\n", "---\n...\n", "~\n" };
        for (size_t i = 0; i < ELEMENTSOF(empty); i++) {
                struct tcfg c = load_ok(empty[i]), d = defaults();
                assert_true(config_equal(&ttable, &c, &d));
                config_free(&ttable, &c);
                config_free(&ttable, &d);
        }
        /* Anchors and aliases resolve. */
        struct tcfg c = load_ok("name: &n same\nrootDir: *n\n");
        assert_string_equal(c.root, "same");
        config_free(&ttable, &c);
}

static void test_file(void **state)
{
        (void)state;
        char dir[] = "/tmp/test-config-XXXXXX", path[64], want[256];
        assert_non_null(mkdtemp(dir));
        snprintf(path, sizeof(path), "%s/c.yaml", dir);
        struct tcfg c = { 0 }, d = defaults();
        struct config_sources src;

        assert_int_equal(config_load_file(&ttable, path, &d, NULL, err, sizeof(err)), -ENOENT);
        snprintf(want, sizeof(want), "%s: no such file", path);
        assert_string_equal(err, want);
        FILE *f = fopen(path, "w");
        assert_non_null(f);
        fputs("count: 9\n\nlimit: 1Gi\n", f);
        fclose(f);
        assert_int_equal(config_set_defaults(&ttable, &c, &src, err, sizeof(err)), 0);
        assert_int_equal(config_load_file(&ttable, path, &c, &src, err, sizeof(err)), 0);
        assert_int_equal(c.count, 9);
        assert_int_equal(c.limit_bytes, GI);
        assert_int_equal(src.of[1], CONFIG_SOURCE_FILE);
        assert_int_equal(src.of[3], CONFIG_SOURCE_FILE);
        assert_int_equal(src.of[0], CONFIG_SOURCE_DEFAULT);

        /* An error on line 3 after a good line 1: nothing applied. */
        f = fopen(path, "w");
        fputs("count: 50\nname: fine\nlimit: 1Ki\n", f);
        fclose(f);
        assert_int_equal(config_load_file(&ttable, path, &d, NULL, err, sizeof(err)), -EINVAL);
        snprintf(want, sizeof(want),
                 "%s:3: key \"limit\": \"1Ki\" is out of range: must be between 1Mi and 1Ti", path);
        assert_string_equal(err, want);
        struct tcfg e = defaults();
        assert_true(config_equal(&ttable, &d, &e));

        /* Nested 40,000 deep: refused at once by depth, not after seconds of scanning. */
        size_t deep = 40000;
        char *text = malloc(2 * deep + 16);
        assert_non_null(text);
        memcpy(text, "count: ", 7);
        memset(text + 7, '[', deep);
        memset(text + 7 + deep, ']', deep);
        text[7 + 2 * deep] = '\0';
        f = fopen(path, "w");
        fputs(text, f);
        fclose(f);
        free(text);
        assert_int_equal(config_load_file(&ttable, path, &d, NULL, err, sizeof(err)), -EINVAL);
        snprintf(want, sizeof(want),
                 "%s:1: nested deeper than 16 levels; a config file is a mapping of keys to values",
                 path);
        assert_string_equal(err, want);
        unlink(path);

        /* A FIFO (which would block an open for reading forever) and a directory: refused. */
        assert_int_equal(mkfifo(path, 0600), 0);
        assert_int_equal(config_load_file(&ttable, path, &d, NULL, err, sizeof(err)), -EINVAL);
        snprintf(want, sizeof(want),
                 "%s: not a regular file (a directory, FIFO, socket or device); give the path of "
                 "a YAML file",
                 path);
        assert_string_equal(err, want);
        unlink(path);
        assert_int_equal(config_load_file(&ttable, dir, &d, NULL, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "not a regular file"));

        rmdir(dir);
        config_free(&ttable, &c);
        config_free(&ttable, &d);
        config_free(&ttable, &e);
}

static void test_flags(void **state)
{
        (void)state;
        struct tcfg c = load_ok("interval: 3s\ncount: 5\n");
        struct config_sources src = { { 0 } };

        /* The flag example of the brief. */
        assert_int_equal(config_apply_flag(&ttable, "--interval", "5x", &c, &src, err, sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, "--interval: \"5x\" is not a duration (like 500ms, 2s, 1m)");
        assert_int_equal(c.interval_usec, 3000000); /* unchanged */
        assert_int_equal(src.of[2], CONFIG_SOURCE_DEFAULT);

        /* A flag wins over the file. */
        assert_int_equal(
            config_apply_flag(&ttable, "--interval", "250ms", &c, &src, err, sizeof(err)), 0);
        assert_int_equal(c.interval_usec, 250000);
        assert_int_equal(src.of[2], CONFIG_SOURCE_FLAG);

        assert_int_equal(config_apply_flag(&ttable, "--count", "0", &c, &src, err, sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, "--count: \"0\" is out of range: must be between 1 and 100");
        assert_int_equal(
            config_apply_flag(&ttable, "--intervall", "1s", &c, &src, err, sizeof(err)), -ENOENT);
        assert_string_equal(err, "--intervall: unknown option (did you mean --interval?)");
        assert_int_equal(config_apply_flag(&ttable, "--zzz", "1", &c, &src, err, sizeof(err)),
                         -ENOENT);
        assert_string_equal(err, "--zzz: unknown option");
        assert_int_equal(config_apply_flag(&ttable, "--count", NULL, &c, &src, err, sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, "--count: needs a value");

        /* A bool alone is true; camelCase keys become kebab-case flags. */
        assert_int_equal(config_apply_flag(&ttable, "--enabled", NULL, &c, &src, err, sizeof(err)),
                         0);
        assert_true(c.enabled);
        assert_int_equal(config_apply_flag(&ttable, "root-dir", "/x", &c, &src, err, sizeof(err)),
                         0);
        assert_string_equal(c.root, "/x");
        assert_int_equal(
            config_apply_flag(&ttable, "--available-low", "1Gi", &c, &src, err, sizeof(err)), 0);
        assert_false(c.avail.is_percent);

        /* Lists: comma-separated, trimmed, replacing the whole list. */
        assert_int_equal(
            config_apply_flag(&ttable, "--items", " p, q ,r", &c, &src, err, sizeof(err)), 0);
        assert_int_equal(c.items.n, 3);
        assert_string_equal(c.items.items[0], "p");
        assert_string_equal(c.items.items[1], "q");
        assert_string_equal(c.items.items[2], "r");
        assert_int_equal(config_apply_flag(&ttable, "--items", "s", &c, &src, err, sizeof(err)), 0);
        assert_int_equal(c.items.n, 1);
        const char *empty[] = { "", "none" };
        for (size_t i = 0; i < ELEMENTSOF(empty); i++) {
                assert_int_equal(
                    config_apply_flag(&ttable, "--items", empty[i], &c, &src, err, sizeof(err)), 0);
                assert_int_equal(c.items.n, 0);
        }
        assert_int_equal(config_apply_flag(&ttable, "--items", "a,,b", &c, &src, err, sizeof(err)),
                         -EINVAL);
        assert_string_equal(err,
                            "--items: \"a,,b\" has an empty item (items are separated by ',')");
        assert_int_equal(config_apply_flag(&ttable, "--name", "\xff", &c, &src, err, sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, "--name: \"\xff\" is not valid UTF-8");

        char buf[64];
        assert_string_equal(config_key_to_flag("psiCriticalFull", buf, sizeof(buf)),
                            "psi-critical-full");
        /* acronyms are one word, as Kubernetes spells them */
        assert_string_equal(config_key_to_flag("clientCA", buf, sizeof(buf)), "client-ca");
        assert_string_equal(config_key_to_flag("etcdCAFile", buf, sizeof(buf)), "etcd-ca-file");
        assert_string_equal(config_key_to_flag("schedulerURL", buf, sizeof(buf)), "scheduler-url");
        assert_ptr_equal(config_find_flag(&ttable, "--root-dir"), &tentries[9]);
        assert_null(config_find_flag(&ttable, "--rootDir"));
        config_free(&ttable, &c);
}

/* Dumps c, checks it holds `expect` (if any), loads it back and compares. */
static void round_trip(const struct config_table *t, const void *c, void *back, const char *expect)
{
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        assert_non_null(f);
        assert_int_equal(config_dump_yaml(t, c, NULL, f), 0);
        fclose(f);
        if (expect && !strstr(text, expect))
                fail_msg("dump lacks \"%s\":\n%s", expect, text);
        assert_int_equal(config_set_defaults(t, back, NULL, err, sizeof(err)), 0);
        int r = config_load_string(t, "dump", text, len, back, NULL, err, sizeof(err));
        if (r != 0)
                fail_msg("dump does not load back: %s\n%s", err, text);
        if (!config_equal(t, c, back))
                fail_msg("dump loads back to another config:\n%s", text);
        free(text);
}

static void test_dump_round_trip(void **state)
{
        (void)state;
        struct tcfg c = defaults(), back;
        round_trip(&ttable, &c, &back, "interval: 1s\n");
        config_free(&ttable, &back);

        /* Awkward values of every type. */
        const char *flags[][2] = {
                { "enabled", "yes" },
                { "count", "+1" },
                { "interval", "1h1m1.000001s" },
                { "limit", "1536Mi" },
                { "available-low", "12.345%" },
                { "share", "33.333333333333336" },
                { "name", "q\"uo\\te\x01\t\xc2\x85\xe2\x80\xa8\xf0\x9f\x90\x98#:&*!|>'%@`" },
                { "items", "-dash,[bracket],{brace},'single',\"double\",#hash,yes,~,null" },
                { "level", "DEBUG" },
                { "root-dir", "" },
        };
        for (size_t i = 0; i < ELEMENTSOF(flags); i++)
                if (config_apply_flag(&ttable, flags[i][0], flags[i][1], &c, NULL, err,
                                      sizeof(err)) < 0)
                        fail_msg("--%s=%s: %s", flags[i][0], flags[i][1], err);
        assert_int_equal(c.count, 1);
        round_trip(&ttable, &c, &back, "interval: 1h1m1s1us\n");
        config_free(&ttable, &back);
        round_trip(&ttable, &c, &back, "limit: 1536Mi\n");
        config_free(&ttable, &back);
        round_trip(&ttable, &c, &back, "availableLow: 12.345%\n");
        config_free(&ttable, &back);
        round_trip(&ttable, &c, &back, "level: debug\n");
        config_free(&ttable, &back);

        /* Bytes that no unit divides, a percentage with many digits, an empty list. */
        assert_int_equal(config_apply_flag(&ttable, "limit", "1048577", &c, NULL, err, sizeof(err)),
                         0);
        assert_int_equal(
            config_apply_flag(&ttable, "available-low", "1000000000", &c, NULL, err, sizeof(err)),
            0);
        assert_int_equal(config_apply_flag(&ttable, "items", "none", &c, NULL, err, sizeof(err)),
                         0);
        round_trip(&ttable, &c, &back, "limit: 1048577\n");
        config_free(&ttable, &back);
        round_trip(&ttable, &c, &back, "availableLow: 1G\n");
        config_free(&ttable, &back);
        round_trip(&ttable, &c, &back, "items: []\n");
        config_free(&ttable, &back);
        config_free(&ttable, &c);
}

static void test_help(void **state)
{
        (void)state;
        char *text = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&text, &len);
        config_print_help(&ttable, f);
        fclose(f);
        const char *want[] = {
                "  --enabled[=BOOL]\n",
                "  --interval DURATION\n        An interval. Default 1s, range 100us..2h; YAML key "
                "interval, reloadable.\n",
                "  --level error|warning|info|debug\n",
                "  --root-dir PATH\n        A root. Default \"/sys/fs/cgroup\"; YAML key "
                "rootDir.\n",
                "  --available-low QUANTITY|PCT%\n        A threshold. Default 20%, at most "
                "64Gi;",
        };
        for (size_t i = 0; i < ELEMENTSOF(want); i++)
                if (!strstr(text, want[i]))
                        fail_msg("help lacks \"%s\":\n%s", want[i], text);
        free(text);
}

/* ---- Capturing stderr and stdout ------------------------------------------------------------ */

struct capture {
        int fd, saved;
        FILE *tmp;
};

static struct capture capture_begin(int fd)
{
        struct capture cap = { .fd = fd };
        fflush(NULL);
        cap.tmp = tmpfile();
        assert_non_null(cap.tmp);
        cap.saved = dup(fd);
        assert_true(cap.saved >= 0);
        assert_true(dup2(fileno(cap.tmp), fd) >= 0);
        return cap;
}

/* What was written, in a new string. */
static char *capture_end(struct capture *cap)
{
        fflush(NULL);
        dup2(cap->saved, cap->fd);
        close(cap->saved);
        long n = ftell(cap->tmp);
        if (n < 0)
                n = lseek(fileno(cap->tmp), 0, SEEK_END);
        char *s = calloc(1, (size_t)n + 1);
        assert_non_null(s);
        assert_int_equal(pread(fileno(cap->tmp), s, (size_t)n, 0), n);
        fclose(cap->tmp);
        return s;
}

/* The item checks tables share (common/config-value.c). */
static void test_shared_checks(void **state)
{
        (void)state;
        char why[CONFIG_ERR_MAX];

        assert_int_equal(config_check_http_url("", why, sizeof(why)), 0);
        assert_int_equal(config_check_http_url("http://10.0.0.1:8787", why, sizeof(why)), 0);
        assert_int_equal(config_check_http_url("https://memschedd", why, sizeof(why)), 0);
        assert_int_equal(config_check_http_url("http://[::1]:8787/", why, sizeof(why)), 0);
        assert_int_equal(
            config_check_http_url("https://memschedd.kube-system.svc:8787/x?y", why, sizeof(why)),
            0);
        static const char *const bad_urls[] = { "ftp://host", "memschedd", "HTTP//x" };
        for (size_t i = 0; i < ELEMENTSOF(bad_urls); i++) {
                why[0] = '\0';
                assert_int_equal(config_check_http_url(bad_urls[i], why, sizeof(why)), -EINVAL);
                assert_string_equal(why, "must be an http:// or https:// URL, or \"\" for none");
        }
        /* Refused when set, not when the first report fails: a broken authority or port. */
        static const char *const bad_authority[] = { "http://",        "https://",
                                                     "http://[::1",    "http://[]:80",
                                                     "http://host:0",  "http://host:65536",
                                                     "http://host:8x", "http://user@host",
                                                     "http://:8787",   "http://host:" };
        for (size_t i = 0; i < ELEMENTSOF(bad_authority); i++) {
                why[0] = '\0';
                assert_int_equal(config_check_http_url(bad_authority[i], why, sizeof(why)),
                                 -EINVAL);
                assert_non_null(strstr(why, "is not a URL"));
        }
        assert_int_equal(config_check_http_url("http://a b", why, sizeof(why)), -EINVAL);
        assert_string_equal(why, "is not a URL: it holds a space or a control or non-ASCII "
                                 "character");
        assert_int_equal(config_check_absolute_path("/run/x", why, sizeof(why)), 0);
        assert_int_equal(config_check_absolute_path("run/x", why, sizeof(why)), -EINVAL);
        assert_string_equal(why, "must be an absolute path");
        assert_int_equal(config_check_absolute_path("", why, sizeof(why)), -EINVAL);
        assert_int_equal(config_check_not_empty("x", why, sizeof(why)), 0);
        assert_int_equal(config_check_not_empty("", why, sizeof(why)), -EINVAL);
        assert_string_equal(why, "must not be empty");

        /* As memagentd's schedulerUrl uses it, with the key and the value in front. */
        struct agent_config c = { 0 };
        assert_int_equal(config_set_defaults(&agent_config_table, &c, NULL, err, sizeof(err)), 0);
        assert_int_equal(config_apply_flag(&agent_config_table, "--scheduler-url", "memschedd:8787",
                                           &c, NULL, err, sizeof(err)),
                         -EINVAL);
        assert_string_equal(err, "--scheduler-url: \"memschedd:8787\": must be an http:// or "
                                 "https:// URL, or \"\" for none");
        agent_config_free(&c);
}

/* ---- memagentd's table ---------------------------------------------------------------------- */

/* agent_config_load_from() with the default path fs->missing; stderr and stdout captured. */
static int agent_load(const struct files *fs, struct agent_config *c, char **ret_err,
                      char **ret_out, ...)
{
        char *argv[32] = { (char *)"memagentd" };
        int argc = 1;
        va_list ap;
        va_start(ap, ret_out);
        for (char *a; (a = va_arg(ap, char *));)
                argv[argc++] = a;
        va_end(ap);

        struct capture ce = capture_begin(STDERR_FILENO), co = capture_begin(STDOUT_FILENO);
        int r = agent_config_load_from(argc, argv, fs->missing, c);
        char *out = capture_end(&co), *e = capture_end(&ce);
        if (ret_err)
                *ret_err = e;
        else
                free(e);
        if (ret_out)
                *ret_out = out;
        else
                free(out);
        return r;
}

static void test_agent_defaults(void **state)
{
        (void)state;
        const struct config_table *t = &agent_config_table;
        struct agent_config c = { 0 };

        assert_int_equal(config_table_verify(t, err, sizeof(err)), 0);
        assert_int_equal(config_set_defaults(t, &c, NULL, err, sizeof(err)), 0);
        if (config_check(t, &c, err, sizeof(err)) < 0)
                fail_msg("the defaults fail the cross-field check: %s", err);
        assert_string_equal(c.cgroup_root, "/sys/fs/cgroup");
        assert_int_equal(c.workload_roots.n, 1);
        assert_string_equal(c.workload_roots.items[0], "/system.slice=burstable");
        assert_int_equal(c.sample_interval_usec, 1000000);
        assert_int_equal(c.fast_sample_interval_usec, 100000);
        assert_true(c.memory_available_critical.is_percent &&
                    c.memory_available_critical.percent == 5.0);
        assert_int_equal(c.eviction_policies.n, 1);
        assert_string_equal(c.eviction_policies.items[0], "qos");
        assert_int_equal(c.protected_cgroups.n, 0);
        assert_int_equal(c.log_level, LOG_INFO);
        assert_true(c.bpf_enabled);
        assert_int_equal(c.bpf_stall_threshold_usec, 100000);

        /* No key's flag is taken by memagentd's own options. */
        const char *own[] = { "config", "help", "version", "print-config" };
        for (size_t i = 0; i < ELEMENTSOF(own); i++)
                assert_null(config_find_flag(t, own[i]));
        agent_config_free(&c);
}

static void test_agent_values(void **state)
{
        (void)state;
        struct agent_config c = { 0 };
        char yaml[256];
        const struct {
                const char *line, *want;
        } bad[] = {
                { "workloadRoots: [system.slice]",
                  "key \"workloadRoots\": \"system.slice\": the path must start with '/' "
                  "(relative to the cgroup root, like /system.slice=burstable)" },
                { "workloadRoots: [/a=gold]",
                  "key \"workloadRoots\": \"/a=gold\": unknown QoS class \"gold\" (guaranteed, "
                  "burstable or besteffort)" },
                { "cgroupRoot: sys/fs/cgroup",
                  "key \"cgroupRoot\": \"sys/fs/cgroup\": must be an absolute path" },
                { "protectedCgroups: ['*.service']",
                  "key \"protectedCgroups\": \"*.service\": a pattern matches cgroup paths "
                  "relative to the cgroup root, so it starts with '/' (like "
                  "/system.slice/sshd.service or /kubepods.slice/*)" },
                { "evictionPolicies: [qos, 'bad name']",
                  "key \"evictionPolicies\": \"bad name\": a policy is NAME[:ARGS] with NAME of "
                  "letters, digits, '_' and '-', or an absolute path to a plugin" },
                { "bpfStallThreshold: 11s",
                  "key \"bpfStallThreshold\": \"11s\" is out of range: must be between 0 and 10s" },
                { "sampleInterval: 50ms",
                  "key \"sampleInterval\": \"50ms\" is out of range: must be between 100ms and "
                  "60s" },
                { "psiWindow: 20s",
                  "key \"psiWindow\": \"20s\" is out of range: must be between 500ms and 10s" },
                { "maxKillsPerMinute: 0",
                  "key \"maxKillsPerMinute\": \"0\" is out of range: must be between 1 and 600" },
                { "logLevel: trace", "key \"logLevel\": \"trace\" is not one of error, warning, "
                                     "notice, info, debug" },
                { "sampleIntervall: 2s",
                  "key \"sampleIntervall\": unknown key (did you mean \"sampleInterval\"?)" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                char want[512];
                assert_int_equal(
                    config_set_defaults(&agent_config_table, &c, NULL, err, sizeof(err)), 0);
                snprintf(yaml, sizeof(yaml), "# memagentd\ndryRun: true\n%s\n", bad[i].line);
                assert_int_equal(config_load_string(&agent_config_table, NAME, yaml, strlen(yaml),
                                                    &c, NULL, err, sizeof(err)),
                                 -EINVAL);
                snprintf(want, sizeof(want), NAME ":3: %s", bad[i].want);
                assert_string_equal(err, want);
                agent_config_free(&c);
        }

        /* "none" alone is no workload roots; QoS in any case; converted for the model. */
        assert_int_equal(config_set_defaults(&agent_config_table, &c, NULL, err, sizeof(err)), 0);
        assert_int_equal(config_apply_flag(&agent_config_table, "--workload-roots", "none", &c,
                                           NULL, err, sizeof(err)),
                         0);
        assert_int_equal(c.workload_roots.n, 0);
        assert_int_equal(config_apply_flag(&agent_config_table, "--workload-roots",
                                           "/system.slice,/batch.slice=BestEffort", &c, NULL, err,
                                           sizeof(err)),
                         0);
        struct workload_root *roots;
        size_t n;
        assert_int_equal(agent_config_workload_roots(&c, &roots, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(roots[0].path, "/system.slice");
        assert_int_equal(roots[0].qos, QOS_BURSTABLE);
        assert_string_equal(roots[1].path, "/batch.slice");
        assert_int_equal(roots[1].qos, QOS_BESTEFFORT);
        free(roots);
        char sock[120];
        memset(sock, 'a', sizeof(sock) - 1);
        sock[0] = '/';
        sock[sizeof(sock) - 1] = '\0';
        assert_int_equal(config_apply_flag(&agent_config_table, "--api-socket", sock, &c, NULL, err,
                                           sizeof(err)),
                         -EINVAL);
        assert_non_null(strstr(err, "a socket path must be shorter than 108 bytes"));
        agent_config_free(&c);
}

static void test_agent_cross_field(void **state)
{
        (void)state;
        struct files fs;
        struct agent_config c;
        char *e;
        files_init(&fs);

        files_write(&fs, "memoryAvailableLow: 5%\n");
        assert_int_equal(agent_load(&fs, &c, &e, NULL, "--config", fs.path, NULL), -EINVAL);
        assert_string_equal(e, "memagent: error: invalid configuration: key \"memoryAvailableLow\" "
                               "(5%) must be above key \"memoryAvailableMedium\" (10%): the levels "
                               "rise as available memory falls\n");
        free(e);

        files_write(&fs, "memoryAvailableMedium: 2Gi\nmemoryAvailableCritical: 4Gi\n");
        assert_int_equal(agent_load(&fs, &c, &e, NULL, "--config", fs.path, NULL), -EINVAL);
        assert_non_null(strstr(e, "key \"memoryAvailableMedium\" (2Gi) must be above key "
                                  "\"memoryAvailableCritical\" (4Gi)"));
        free(e);

        /* Low 20% and critical 30%, medium in bytes: low and critical still compare. */
        assert_int_equal(agent_load(&fs, &c, &e, NULL, "--memory-available-medium=1Gi",
                                    "--memory-available-critical=30%", NULL),
                         -EINVAL);
        assert_non_null(strstr(e, "key \"memoryAvailableLow\" (20%) must be above key "
                                  "\"memoryAvailableCritical\" (30%)"));
        free(e);

        /* Mixed kinds do not compare; 0 disables a level and takes no part. */
        files_write(&fs, "memoryAvailableLow: 1Gi\nmemoryAvailableMedium: 50%\n"
                         "memoryAvailableCritical: 0\n");
        assert_int_equal(agent_load(&fs, &c, NULL, NULL, "--config", fs.path, NULL), 1);
        agent_config_free(&c);

        assert_int_equal(agent_load(&fs, &c, &e, NULL, "--psi-medium-full=40", NULL), -EINVAL);
        assert_non_null(strstr(e, "key \"psiMediumFull\" (40%) must be below key "
                                  "\"psiCriticalFull\" (40%)"));
        free(e);
        assert_int_equal(agent_load(&fs, &c, &e, NULL, "--fast-sample-interval=2s", NULL), -EINVAL);
        assert_non_null(strstr(e, "key \"fastSampleInterval\" (2s) must not be longer than key "
                                  "\"sampleInterval\" (1s)"));
        free(e);
        files_done(&fs);
}

static void test_agent_command_line(void **state)
{
        (void)state;
        struct files fs;
        /* d is filled by config_set_defaults() only: agent_config_free() also frees
         * config_path, which must then be NULL, not stack garbage. */
        struct agent_config c, d = { 0 };
        char *e, *out;
        files_init(&fs);

        /* The default file may be missing; one given with --config may not. */
        assert_int_equal(agent_load(&fs, &c, &e, NULL, NULL), 1);
        assert_string_equal(e, "");
        assert_string_equal(c.config_path, fs.missing);
        assert_false(c.config_path_required);
        assert_int_equal(config_set_defaults(&agent_config_table, &d, NULL, err, sizeof(err)), 0);
        assert_true(config_equal(&agent_config_table, &c, &d));
        agent_config_free(&c);
        agent_config_free(&d);
        free(e);
        assert_int_equal(agent_load(&fs, &c, &e, NULL, "--config", fs.missing, NULL), -ENOENT);
        assert_non_null(strstr(e, "error: --config "));
        assert_non_null(strstr(e, "missing.yaml: no such file\n"));
        free(e);

        /* Flags override the file, in both spellings; a bool alone is true. */
        files_write(&fs, "sampleInterval: 5s\nkillCooldown: 1s\nlogLevel: debug\n");
        assert_int_equal(agent_load(&fs, &c, &e, NULL, "--config=", NULL), -EINVAL);
        free(e);
        assert_int_equal(agent_load(&fs, &c, NULL, NULL, "--sample-interval", "2s", "--config",
                                    fs.path, "--dry-run", "--protected-cgroups=/a/*,/b",
                                    "--log-level=notice", NULL),
                         1);
        assert_int_equal(c.sample_interval_usec, 2000000);
        assert_int_equal(c.kill_cooldown_usec, 1000000);
        assert_true(c.dry_run);
        assert_int_equal(c.protected_cgroups.n, 2);
        assert_int_equal(c.log_level, LOG_NOTICE);
        assert_true(c.config_path_required);
        agent_config_free(&c);

        /* Errors: exit 2 with one line. */
        const struct {
                const char *args[3];
                const char *want;
        } bad[] = {
                { { "--sample-interval=5x" },
                  "memagent: error: --sample-interval: \"5x\" is not a duration (like 500ms, 2s, "
                  "1m)\n" },
                { { "--sample-intervall=5s" },
                  "memagent: error: --sample-intervall: unknown option (did you mean "
                  "--sample-interval?)\n" },
                { { "--sample-interval" }, "memagent: error: --sample-interval: needs a value\n" },
                { { "run" },
                  "memagent: error: unexpected argument \"run\": memagentd takes only options "
                  "(see --help)\n" },
                { { "--dry-run", "false" },
                  "memagent: error: unexpected argument \"false\" after --dry-run: a boolean flag "
                  "takes its value after '=' (--dry-run=false)\n" },
                { { "--help=yes" }, "memagent: error: --help takes no value\n" },
        };
        for (size_t i = 0; i < ELEMENTSOF(bad); i++) {
                int r = agent_load(&fs, &c, &e, NULL, bad[i].args[0], bad[i].args[1],
                                   bad[i].args[2], NULL);
                assert_true(r < 0);
                assert_string_equal(e, bad[i].want);
                free(e);
        }

        /* --help and --version print on stdout and say "exit 0". */
        assert_int_equal(agent_load(&fs, &c, NULL, &out, "--sample-interval=5x", "--help", NULL),
                         0);
        assert_non_null(strstr(out, "Usage: memagentd [OPTIONS]"));
        assert_non_null(strstr(out, "  --sample-interval DURATION\n"));
        assert_non_null(strstr(out, "  --cgroup-root PATH\n"));
        assert_non_null(strstr(out, "  --workload-roots PATH[=QOS],...\n"));
        free(out);
        agent_config_free(&c);
        assert_int_equal(agent_load(&fs, &c, NULL, &out, "--version", NULL), 0);
        assert_string_equal(out, "memagentd " MEMAGENT_VERSION "\n");
        free(out);
        agent_config_free(&c);

        /* --print-config: the effective config, which reads back to the same. */
        assert_int_equal(agent_load(&fs, &c, NULL, &out, "--config", fs.path, "--print-config",
                                    "--workload-roots=/a=guaranteed,/b", "--bpf-stall-threshold",
                                    "250ms", NULL),
                         0);
        assert_non_null(strstr(out, "\nsampleInterval: 5s\n"));
        /* the key's comment ends with where it came from (wherever the help text wraps) */
        assert_non_null(
            strstr(out, "--workload-roots.\nworkloadRoots: [\"/a=guaranteed\", \"/b\"]\n"));
        assert_non_null(strstr(out, "\nmemoryAvailableLow: 20%\n"));
        assert_non_null(strstr(out, "\nlogLevel: debug\n"));
        assert_non_null(strstr(out, "--bpf-stall-threshold.\nbpfStallThreshold: 250ms\n"));
        files_write(&fs, out);
        assert_int_equal(agent_load(&fs, &d, NULL, NULL, "--config", fs.path, NULL), 1);
        assert_true(config_equal(&agent_config_table, &c, &d));
        agent_config_free(&c);
        agent_config_free(&d);
        free(out);
        files_done(&fs);
}

static void test_agent_reload(void **state)
{
        (void)state;
        struct files fs;
        struct agent_config c;
        char *e;
        int r;
        files_init(&fs);

        files_write(&fs, "sampleInterval: 1s\nclearHold: 5s\n");
        assert_int_equal(
            agent_load(&fs, &c, NULL, NULL, "--config", fs.path, "--kill-cooldown=7s", NULL), 1);

        /* A reloadable key applied, a restart-only key kept, a flag's key kept. */
        files_write(&fs, "sampleInterval: 2s\nclearHold: 5s\ncgroupRoot: /mnt/cgroup\n"
                         "killCooldown: 9s\ndryRun: true\n");
        struct capture cap = capture_begin(STDERR_FILENO);
        r = agent_config_reload(&c);
        e = capture_end(&cap);
        assert_int_equal(r, 2);
        assert_int_equal(c.sample_interval_usec, 2000000);
        assert_true(c.dry_run);
        assert_string_equal(c.cgroup_root, "/sys/fs/cgroup");
        assert_int_equal(c.kill_cooldown_usec, 7000000);
        char want[512];
        snprintf(want, sizeof(want),
                 "memagent: %s: key \"sampleInterval\" changed from 1s to 2s, applied\n", fs.path);
        assert_non_null(strstr(e, want));
        snprintf(want, sizeof(want),
                 "memagent: %s: key \"cgroupRoot\" changed from \"/sys/fs/cgroup\" to "
                 "\"/mnt/cgroup\", but it cannot change at run time; keeping \"/sys/fs/cgroup\" "
                 "until a restart\n",
                 fs.path);
        assert_non_null(strstr(e, want));
        snprintf(want, sizeof(want),
                 "memagent: %s: key \"killCooldown\" is 9s in the file, but --kill-cooldown=7s on "
                 "the command line takes precedence; keeping 7s\n",
                 fs.path);
        assert_non_null(strstr(e, want));
        free(e);

        /* Same file again: nothing changes (the restart notice repeats, it is still true). */
        cap = capture_begin(STDERR_FILENO);
        r = agent_config_reload(&c);
        e = capture_end(&cap);
        assert_int_equal(r, 0);
        assert_non_null(strstr(e, "cannot change at run time"));
        free(e);

        /* A bad value: the whole old configuration stays, and the error says why. */
        files_write(&fs, "sampleInterval: 3s\ndryRun: false\nraiseSamples: 0\n");
        struct agent_config snapshot = { 0 };
        assert_int_equal(
            config_set_defaults(&agent_config_table, &snapshot, NULL, err, sizeof(err)), 0);
        {
                /* A deep copy of c: dump and load back (the round trip is tested above). */
                char *text = NULL;
                size_t len = 0;
                FILE *f = open_memstream(&text, &len);
                config_dump_yaml(&agent_config_table, &c, NULL, f);
                fclose(f);
                assert_int_equal(config_load_string(&agent_config_table, "copy", text, len,
                                                    &snapshot, NULL, err, sizeof(err)),
                                 0);
                free(text);
        }
        cap = capture_begin(STDERR_FILENO);
        r = agent_config_reload(&c);
        e = capture_end(&cap);
        assert_int_equal(r, -EINVAL);
        snprintf(want, sizeof(want),
                 "memagent: error: Reloading the configuration failed, keeping the previous one: "
                 "%s:3: key \"raiseSamples\": \"0\" is out of range: must be between 1 and 100\n",
                 fs.path);
        assert_string_equal(e, want);
        free(e);
        assert_true(config_equal(&agent_config_table, &c, &snapshot));

        /* A reload whose result fails the cross-field check: kept as well. */
        files_write(&fs, "sampleInterval: 3s\nmemoryAvailableLow: 1%\n");
        cap = capture_begin(STDERR_FILENO);
        r = agent_config_reload(&c);
        e = capture_end(&cap);
        assert_int_equal(r, -EINVAL);
        assert_non_null(strstr(e, "keeping the previous one: "));
        assert_non_null(strstr(e, "key \"memoryAvailableLow\" (1%) must be above key "
                                  "\"memoryAvailableMedium\" (10%)"));
        free(e);
        assert_true(config_equal(&agent_config_table, &c, &snapshot));

        /* The file given with --config is gone: an error, kept. */
        unlink(fs.path);
        cap = capture_begin(STDERR_FILENO);
        r = agent_config_reload(&c);
        e = capture_end(&cap);
        assert_int_equal(r, -ENOENT);
        assert_non_null(strstr(e, "keeping the previous one"));
        free(e);
        assert_true(config_equal(&agent_config_table, &c, &snapshot));
        agent_config_free(&snapshot);
        agent_config_free(&c);

        /* The optional default file appears, then goes away again: back to the defaults. */
        assert_int_equal(agent_load(&fs, &c, NULL, NULL, NULL), 1);
        FILE *f = fopen(fs.missing, "w");
        fputs("dryRun: true\npsiLowSome: 12.5%\n", f);
        fclose(f);
        cap = capture_begin(STDERR_FILENO);
        r = agent_config_reload(&c);
        free(capture_end(&cap));
        assert_int_equal(r, 2);
        assert_true(c.dry_run);
        assert_true(c.psi_low_some == 12.5);
        unlink(fs.missing);
        cap = capture_begin(STDERR_FILENO);
        r = agent_config_reload(&c);
        free(capture_end(&cap));
        assert_int_equal(r, 2);
        assert_false(c.dry_run);
        agent_config_free(&c);
        files_done(&fs);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_table_and_defaults),
                cmocka_unit_test(test_bad_tables),
                cmocka_unit_test(test_bool),
                cmocka_unit_test(test_int),
                cmocka_unit_test(test_duration),
                cmocka_unit_test(test_bytes),
                cmocka_unit_test(test_bytes_or_percent),
                cmocka_unit_test(test_percent),
                cmocka_unit_test(test_string),
                cmocka_unit_test(test_string_list),
                cmocka_unit_test(test_enum),
                cmocka_unit_test(test_yaml_shapes),
                cmocka_unit_test(test_file),
                cmocka_unit_test(test_flags),
                cmocka_unit_test(test_dump_round_trip),
                cmocka_unit_test(test_help),
                cmocka_unit_test(test_agent_defaults),
                cmocka_unit_test(test_agent_values),
                cmocka_unit_test(test_agent_cross_field),
                cmocka_unit_test(test_agent_command_line),
                cmocka_unit_test(test_agent_reload),
                cmocka_unit_test(test_shared_checks),
        };
        log_set_max_level(LOG_INFO);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
