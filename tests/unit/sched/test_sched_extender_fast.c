// SPDX-License-Identifier: Apache-2.0
// The extender's fast paths decide and answer exactly as the generic codecs do: the names-mode
// ExtenderArgs scanner (extender_args_parse_names) either yields what api_parse() +
// extender_args_decode() yield, or declines and leaves the body untouched; the streaming filter
// writer and the host priority formatter write what the json-c encoders write.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/extender.h"

#define POD                                                                                        \
        "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"u-1\","                \
        "\"annotations\":{\"memagent.io/numa-policy\":\"single-zone\",\"note\":\"a \\\"q\\\" "     \
        "[{\\\\\"},\"ownerReferences\":[{\"uid\":\"rs-1\",\"controller\":true}]},"                 \
        "\"spec\":{\"containers\":[{\"name\":\"app\",\"resources\":{\"requests\":{\"memory\":"     \
        "\"512Mi\"},\"limits\":{\"memory\":\"1Gi\"}}}],\"priority\":7},"                           \
        "\"status\":{\"qosClass\":\"Burstable\"}}"

/* Decodes body both ways; returns what the fast path returned. When it accepted, everything the
 * extender reads must equal the generic decode. When it declined, the body must be unchanged. */
static int both_ways(const char *text)
{
        size_t n = strlen(text);
        char *body = strdup(text);
        struct extender_args fast = {}, slow = {};
        struct api_error err = {};
        struct json_object *o = NULL;
        int generic = api_parse(text, n, &o, &err);
        if (generic == 0)
                generic = extender_args_decode(o, &slow, &err);
        int r = extender_args_parse_names(body, n, &fast);
        assert_true(r >= 0);
        if (r == 1) {
                assert_int_equal(generic, 0);
                assert_true(slow.node_cache_capable && fast.node_cache_capable);
                assert_null(fast.nodes);
                assert_int_equal(fast.n_nodes, slow.n_nodes);
                for (size_t i = 0; i < fast.n_nodes; i++)
                        assert_string_equal(fast.node_names[i], slow.node_names[i]);
                assert_string_equal(fast.pod.name, slow.pod.name);
                assert_string_equal(fast.pod.namespace, slow.pod.namespace);
                assert_string_equal(fast.pod.uid, slow.pod.uid);
                assert_string_equal(fast.pod.owner_uid, slow.pod.owner_uid);
                assert_int_equal(fast.pod.qos, slow.pod.qos);
                assert_int_equal(fast.pod.request_bytes, slow.pod.request_bytes);
                assert_int_equal(fast.pod.limit_bytes, slow.pod.limit_bytes);
                assert_int_equal(fast.pod.priority, slow.pod.priority);
                assert_int_equal(fast.pod.single_numa, slow.pod.single_numa);
                assert_int_equal(fast.pod.protected_, slow.pod.protected_);
                extender_args_done(&fast);
        } else
                assert_string_equal(body, text);
        extender_args_done(&slow);
        if (o)
                json_object_put(o);
        free(body);
        return r;
}

static void test_names_fast_path_taken(void **state)
{
        (void)state;
        /* As kube-scheduler's HTTPExtender marshals it. */
        assert_int_equal(
            both_ways("{\"Pod\":" POD ",\"Nodes\":null,\"NodeNames\":[\"n-1\",\"n-2\",\"w.3\"]}"),
            1);
        /* Whitespace, another order, other casing (Go's decoder ignores case), no Nodes. */
        assert_int_equal(
            both_ways(" {\n \"nodenames\" : [ \"a\" , \"b\" ] ,\r\n\t\"pod\": " POD " }\n"), 1);
        assert_int_equal(both_ways("{\"Pod\":" POD ",\"NodeNames\":[]}"), 1);

        /* A large list: names point into the body, in order. */
        size_t n = 5000, cap = 64 + strlen(POD) + n * 16;
        char *big = malloc(cap);
        size_t len = (size_t)snprintf(big, cap, "{\"Pod\":%s,\"Nodes\":null,\"NodeNames\":[", POD);
        for (size_t i = 0; i < n; i++)
                len += (size_t)snprintf(big + len, cap - len, "%s\"node-%05zu\"", i ? "," : "", i);
        len += (size_t)snprintf(big + len, cap - len, "]}");
        assert_int_equal(both_ways(big), 1);
        free(big);
}

static void test_names_fast_path_declines(void **state)
{
        (void)state;
        /* Shapes left to the generic decoder (which accepts them)... */
        assert_int_equal(both_ways("{\"Pod\":" POD ",\"NodeNames\":[\"n\\u002d1\"]}"), 0);
        assert_int_equal(both_ways("{\"Pod\":" POD ",\"NodeNames\":[\"n1\"],\"Extra\":1}"), 0);
        assert_int_equal(
            both_ways("{\"Pod\":" POD ",\"Nodes\":{\"items\":[{\"metadata\":{\"name\":\"a\"}}]}}"),
            0);
        assert_int_equal(both_ways("{\"Pod\":" POD ",\"NodeNames\":[\"a\"],\"nodenames\":[\"b\"]}"),
                         0);
        /* ...and every error, so that messages stay those of the generic path. */
        assert_int_equal(both_ways("{\"Pod\":" POD ",\"NodeNames\":[\"a\",]}"), 0);
        assert_int_equal(both_ways("{\"Pod\":" POD ",\"NodeNames\":[\"a\"]} x"), 0);
        assert_int_equal(both_ways("{\"Pod\":" POD ",\"NodeNames\":[\"\"]}"), 0);
        assert_int_equal(both_ways("{\"Pod\":" POD ",\"NodeNames\":[1]}"), 0);
        assert_int_equal(both_ways("{\"Pod\":" POD ",\"NodeNames\":[\"a\"]"), 0);
        assert_int_equal(both_ways("{\"Pod\":{\"metadata\":{}},\"NodeNames\":[\"a\"]}"), 0);
        assert_int_equal(both_ways("{\"Pod\":{\"metadata\":{\"name\":\"x\"},]},\"NodeNames\":[]}"),
                         0);
        assert_int_equal(both_ways("{\"Pod\":{\"a\":\"}\"},\"NodeNames\":[]}"), 0);
        assert_int_equal(both_ways("{\"NodeNames\":[\"a\"]}"), 0);
        assert_int_equal(both_ways("{\"Pod\":null,\"NodeNames\":[\"a\"]}"), 0);
        assert_int_equal(both_ways(""), 0);
        assert_int_equal(both_ways("[]"), 0);
        /* Strings in the Pod get the generic path's checks: a NUL or invalid UTF-8 is refused
         * there, so the fast path must not take it (fuzz_extender_names_diff found this). */
        assert_int_equal(
            both_ways("{\"Pod\":{\"metadata\":{\"name\":\"w\\u0000x\",\"namespace\":\"n\","
                      "\"uid\":\"u\"}},\"NodeNames\":[\"a\"]}"),
            0);
        assert_int_equal(both_ways("{\"Pod\":{\"metadata\":{\"name\":\"w\xff\",\"namespace\":"
                                   "\"n\",\"uid\":\"u\"}},\"NodeNames\":[\"a\"]}"),
                         0);
}

static void test_writers_match_encoders(void **state)
{
        const char *names[] = { "a", "b\"q" };
        struct extender_failed_node failed[] = { { "c", "memsched: insufficient memory" },
                                                 { "d", "tab\there" } };
        struct extender_failed_node unres[] = { { "e", "stale" } };
        struct extender_filter_result r = { .node_cache_capable = true,
                                            .node_names = names,
                                            .n_nodes = 2,
                                            .failed = failed,
                                            .n_failed = 2,
                                            .unresolvable = unres,
                                            .n_unresolvable = 1,
                                            .error = "" };
        char *s;
        size_t len;
        (void)state;

        for (int empty = 0; empty < 2; empty++) {
                if (empty)
                        r.n_nodes = r.n_failed = r.n_unresolvable = 0;
                /* Interleaved calls, as the server makes them, give the same bytes. */
                struct extender_filter_writer w;
                extender_filter_writer_init(&w, true, 2);
                for (size_t i = 0; i < 2; i++) {
                        if (i < r.n_failed)
                                extender_filter_writer_failed(&w, failed[i].node, failed[i].reason);
                        if (i < r.n_nodes)
                                extender_filter_writer_pass(&w, names[i], NULL);
                        if (i < r.n_unresolvable)
                                extender_filter_writer_unresolvable(&w, unres[i].node,
                                                                    unres[i].reason);
                }
                assert_int_equal(extender_filter_writer_finish(&w, "", &s, &len), 0);
                struct json_object *enc = extender_filter_result_encode(&r);
                const char *want = json_object_to_json_string_ext(
                    enc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
                assert_string_equal(s, want);
                assert_int_equal(len, strlen(want));
                json_object_put(enc);
                free(s);
        }

        struct host_priority hp[] = { { "a", 0 }, { "b\\", 10 }, { "c", 7 } };
        assert_int_equal(host_priority_list_format(hp, 3, &s, &len), 0);
        struct json_object *enc = host_priority_list_encode(hp, 3);
        assert_string_equal(s, json_object_to_json_string_ext(
                                   enc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(enc);
        free(s);
        assert_int_equal(host_priority_list_format(hp, 0, &s, &len), 0);
        assert_string_equal(s, "[]");
        free(s);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names_fast_path_taken),
                cmocka_unit_test(test_names_fast_path_declines),
                cmocka_unit_test(test_writers_match_encoders),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
