// SPDX-License-Identifier: Apache-2.0
// common/node-name: the one Kubernetes node-name check (RFC 1123 subdomain), and that memagentd's
// nodeName key uses it (the key once accepted "a..b", which the reporter then refused).
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "agent/daemon/daemon-config.h"
#include "common/node-name.h"

static bool valid(const char *s)
{
        return node_name_is_valid(s, strlen(s));
}

/* n characters: labels of 63 'a' joined by '.', the last one shorter, never ending in '.'. */
static char *name_of_length(size_t n, char *buf)
{
        for (size_t i = 0; i < n; i++)
                buf[i] = (i % 64 == 63) ? '.' : 'a';
        if (n > 0 && buf[n - 1] == '.')
                buf[n - 1] = 'b';
        buf[n] = '\0';
        return buf;
}

static void test_accepted(void **state)
{
        (void)state;
        static const char *const good[] = {
                "a",    "0",  "node-1", "ip-10-0-0-1.ec2.internal", "a.b.c",
                "a--b", "1a", "a1.2b",  "worker-0.k8s.example.com",
        };
        for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
                if (!valid(good[i]))
                        fail_msg("\"%s\" refused", good[i]);
}

static void test_refused(void **state)
{
        (void)state;
        static const char *const bad[] = {
                "",     "a..b", ".a",  "a.",  "-a",  "a-", "a-.b", "a.-b", "A",
                "Node", "a_b",  "a b", "a/b", "a:1", "..", ".",    "-",    "é",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                if (valid(bad[i]))
                        fail_msg("\"%s\" accepted", bad[i]);
        assert_false(node_name_is_valid(NULL, 0));
        /* The length is what counts, not a NUL: a URL segment is checked in place. */
        assert_true(node_name_is_valid("node-1/report", 6));
        assert_false(node_name_is_valid("node-/report", 5));
        assert_false(node_name_is_valid("a\0b", 3));
}

static void test_lengths(void **state)
{
        (void)state;
        char buf[400], label[80];

        assert_true(valid(name_of_length(253, buf)));
        assert_false(valid(name_of_length(254, buf)));
        assert_false(valid(name_of_length(300, buf)));

        memset(label, 'a', 63);
        label[63] = '\0';
        assert_true(valid(label));
        snprintf(buf, sizeof(buf), "x.%s.y", label);
        assert_true(valid(buf));
        memset(label, 'a', 64);
        label[64] = '\0';
        assert_false(valid(label));
        snprintf(buf, sizeof(buf), "x.%s.y", label);
        assert_false(valid(buf));
        /* Many short labels: the per-label count restarts at each dot. */
        for (size_t i = 0; i < 100; i++)
                memcpy(buf + 2 * i, "a.", 2);
        buf[199] = '\0';
        assert_true(valid(buf));
}

/* memagentd's nodeName: "" (the default, meaning $NODE_NAME or the host name) or a node name. */
static void test_agent_key(void **state)
{
        (void)state;
        struct agent_config c = { 0 };
        char err[CONFIG_ERR_MAX];

        assert_int_equal(config_set_defaults(&agent_config_table, &c, NULL, err, sizeof(err)), 0);
        assert_int_equal(
            config_apply_flag(&agent_config_table, "--node-name", "", &c, NULL, err, sizeof(err)),
            0);
        assert_int_equal(config_apply_flag(&agent_config_table, "--node-name", "worker-1.lab", &c,
                                           NULL, err, sizeof(err)),
                         0);
        assert_string_equal(c.node_name, "worker-1.lab");
        static const char *const bad[] = { "a..b", "-a", "a.", "Worker" };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_int_equal(config_apply_flag(&agent_config_table, "--node-name", bad[i], &c,
                                                   NULL, err, sizeof(err)),
                                 -EINVAL);
                assert_non_null(strstr(err, "is not a Kubernetes node name"));
        }
        assert_string_equal(c.node_name, "worker-1.lab");
        agent_config_free(&c);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accepted),
                cmocka_unit_test(test_refused),
                cmocka_unit_test(test_lengths),
                cmocka_unit_test(test_agent_key),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
