// SPDX-License-Identifier: Apache-2.0
// The bodies memagentd sends to kube-apiserver: exact JSON for the Eviction and the resize
// patch, the Event's fields (MicroTime, generateName, the note cut at 1024 bytes on a UTF-8
// boundary), and refusals of empty required fields.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/codec.h"
#include "api/kube/bodies.h"

static void test_eviction(void **state)
{
        (void)state;
        char *s = NULL;
        assert_int_equal(kube_eviction_body("shop", "web-1", "u-1", 30, &s), 0);
        assert_string_equal(s, "{\"apiVersion\":\"policy/v1\",\"kind\":\"Eviction\",\"metadata\":"
                               "{\"name\":\"web-1\",\"namespace\":\"shop\"},\"deleteOptions\":"
                               "{\"preconditions\":{\"uid\":\"u-1\"},\"gracePeriodSeconds\":30}}");
        free(s);
        assert_int_equal(kube_eviction_body("shop", "web-1", "u-1", KUBE_GRACE_DEFAULT, &s), 0);
        assert_null(strstr(s, "gracePeriodSeconds"));
        free(s);
        s = NULL;
        assert_int_equal(kube_eviction_body("shop", "web-1", "", 0, &s), -EINVAL);
        assert_null(s);
}

static void test_resize_patch(void **state)
{
        (void)state;
        char *s = NULL;
        assert_int_equal(kube_resize_memory_patch("app", 805306368, &s), 0);
        assert_string_equal(s, "{\"spec\":{\"containers\":[{\"name\":\"app\",\"resources\":{"
                               "\"limits\":{\"memory\":\"805306368\"}}}]}}");
        free(s);
        assert_int_equal(kube_resize_memory_patch("", 1, &s), -EINVAL);
}

static void test_micro_time(void **state)
{
        (void)state;
        char buf[32];
        /* 2026-11-30T01:02:03.000042Z */
        assert_string_equal(kube_format_micro_time(1796000523000042ull, buf),
                            "2026-11-30T01:02:03.000042Z");
}

static struct json_object *parse(const char *s)
{
        struct json_object *o = NULL;
        struct api_error err = {};
        assert_int_equal(api_parse(s, strlen(s), &o, &err), 0);
        return o;
}

static const char *str(struct json_object *o, const char *a, const char *b)
{
        struct json_object *v = NULL;
        assert_true(json_object_object_get_ex(o, a, &v));
        if (b)
                assert_true(json_object_object_get_ex(v, b, &v));
        return json_object_get_string(v);
}

static void test_event(void **state)
{
        (void)state;
        char note[1100], *s = NULL;
        /* 1022 ASCII bytes then "é" (2 bytes) twice: the cut falls inside the second one. */
        memset(note, 'a', 1022);
        strcpy(note + 1022, "\xc3\xa9\xc3\xa9tail");
        struct kube_event ev = {
                .namespace_ = "shop",
                .pod_name = "web-1",
                .pod_uid = "u-1",
                .reporting_instance = "memagentd-node-a",
                .action = "Evict",
                .reason = "MemoryPressure",
                .note = note,
                .warning = true,
                .event_time_usec = 1796000523000042ull,
        };
        assert_int_equal(kube_event_body(&ev, &s), 0);
        struct json_object *o = parse(s);
        assert_string_equal(str(o, "apiVersion", NULL), "events.k8s.io/v1");
        assert_string_equal(str(o, "kind", NULL), "Event");
        assert_string_equal(str(o, "metadata", "generateName"), "web-1.");
        assert_string_equal(str(o, "metadata", "namespace"), "shop");
        assert_string_equal(str(o, "eventTime", NULL), "2026-11-30T01:02:03.000042Z");
        assert_string_equal(str(o, "reportingController", NULL), "memagent.io/agent");
        assert_string_equal(str(o, "reportingInstance", NULL), "memagentd-node-a");
        assert_string_equal(str(o, "action", NULL), "Evict");
        assert_string_equal(str(o, "reason", NULL), "MemoryPressure");
        assert_string_equal(str(o, "type", NULL), "Warning");
        assert_string_equal(str(o, "regarding", "apiVersion"), "v1");
        assert_string_equal(str(o, "regarding", "kind"), "Pod");
        assert_string_equal(str(o, "regarding", "namespace"), "shop");
        assert_string_equal(str(o, "regarding", "name"), "web-1");
        assert_string_equal(str(o, "regarding", "uid"), "u-1");
        const char *n = str(o, "note", NULL);
        assert_int_equal(strlen(n), 1024);
        assert_memory_equal(n + 1022, "\xc3\xa9", 2);
        json_object_put(o);
        free(s);

        /* A given name; Normal. */
        ev.name = "web-1.memagent-1";
        ev.warning = false;
        ev.note = "short";
        assert_int_equal(kube_event_body(&ev, &s), 0);
        o = parse(s);
        assert_string_equal(str(o, "metadata", "name"), "web-1.memagent-1");
        assert_false(
            json_object_object_get_ex(json_object_object_get(o, "metadata"), "generateName", NULL));
        assert_string_equal(str(o, "type", NULL), "Normal");
        assert_string_equal(str(o, "note", NULL), "short");
        json_object_put(o);
        free(s);

        ev.action = "";
        assert_int_equal(kube_event_body(&ev, &s), -EINVAL);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_eviction),
                cmocka_unit_test(test_resize_patch),
                cmocka_unit_test(test_micro_time),
                cmocka_unit_test(test_event),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
