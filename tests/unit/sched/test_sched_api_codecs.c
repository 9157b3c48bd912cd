// SPDX-License-Identifier: Apache-2.0
// Every wire codec: round trips, missing and wrong-typed fields (the error names the field),
// unknown fields ignored, and the extender messages exactly as kube-scheduler sends them.
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/error_reply.h"
#include "api/extender.h"
#include "api/migration.h"
#include "api/node_report.h"
#include "api/node_status.h"
#include "api/placement.h"

static struct json_object *parse(const char *s)
{
        struct json_object *o = NULL;
        struct api_error err = {};
        assert_int_equal(api_parse(s, strlen(s), &o, &err), 0);
        return o;
}

/* ---------- Pod ---------- */

static const char *pod_json(const char *requests, const char *limits, const char *extra_meta,
                            const char *status, char *buf, size_t size)
{
        snprintf(buf, size,
                 "{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"u-1\"%s},"
                 "\"spec\":{\"containers\":[{\"name\":\"c\",\"resources\":{\"requests\":{%s},"
                 "\"limits\":{%s}}}]},\"status\":{%s}}",
                 extra_meta, requests, limits, status);
        return buf;
}

static void test_pod_quantities(void **state)
{
        (void)state;
        static const struct {
                const char *q;
                uint64_t bytes;
        } cases[] = {
                { "512Mi", 512ULL << 20 }, { "1G", 1000000000ULL },   { "1.5Gi", 3ULL << 29 },
                { "100M", 100000000ULL },  { "1e9", 1000000000ULL },  { "128974848", 128974848ULL },
                { "129e6", 129000000ULL }, { "123Mi", 123ULL << 20 },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[1024], req[64];
                struct k8s_pod p;
                struct api_error err = {};
                snprintf(req, sizeof(req), "\"memory\":\"%s\"", cases[i].q);
                _cleanup_json_ struct json_object *o =
                    parse(pod_json(req, "", "", "", buf, sizeof(buf)));
                assert_int_equal(k8s_pod_decode(o, "Pod", &p, &err), 0);
                assert_int_equal(p.request_bytes, cases[i].bytes);
                assert_int_equal(p.limit_bytes, API_UNLIMITED);
                assert_int_equal(p.qos, QOS_BURSTABLE);
                assert_string_equal(p.name, "web-1");
                assert_string_equal(p.namespace, "shop");
        }
}

static void test_pod_qos_and_numa(void **state)
{
        char buf[1024];
        struct k8s_pod p;
        struct api_error err = {};
        (void)state;

        /* Limits only: requests default to limits; cpu and memory equal → Guaranteed. */
        _cleanup_json_ struct json_object *g =
            parse(pod_json("", "\"memory\":\"1Gi\",\"cpu\":\"500m\"", "", "", buf, sizeof(buf)));
        assert_int_equal(k8s_pod_decode(g, "Pod", &p, &err), 0);
        assert_int_equal(p.qos, QOS_GUARANTEED);
        assert_true(p.single_numa);
        assert_int_equal(p.request_bytes, 1ULL << 30);
        assert_int_equal(p.limit_bytes, 1ULL << 30);

        /* cpu 0.5 == 500m */
        _cleanup_json_ struct json_object *g2 =
            parse(pod_json("\"memory\":\"1Gi\",\"cpu\":\"0.5\"",
                           "\"memory\":\"1Gi\",\"cpu\":\"500m\"", "", "", buf, sizeof(buf)));
        assert_int_equal(k8s_pod_decode(g2, "Pod", &p, &err), 0);
        assert_int_equal(p.qos, QOS_GUARANTEED);

        _cleanup_json_ struct json_object *be = parse(pod_json("", "", "", "", buf, sizeof(buf)));
        assert_int_equal(k8s_pod_decode(be, "Pod", &p, &err), 0);
        assert_int_equal(p.qos, QOS_BESTEFFORT);
        assert_false(p.single_numa);

        /* status.qosClass wins; annotations. */
        _cleanup_json_ struct json_object *an = parse(
            pod_json("\"memory\":\"1Gi\"", "",
                     ",\"annotations\":{\"memagent.io/numa-policy\":\"single-zone\","
                     "\"memagent.io/protected\":\"true\"},\"ownerReferences\":[{\"apiVersion\":"
                     "\"apps/v1\",\"kind\":\"ReplicaSet\",\"name\":\"rs\",\"uid\":\"rs-1\","
                     "\"controller\":true}]",
                     "\"qosClass\":\"Burstable\"", buf, sizeof(buf)));
        assert_int_equal(k8s_pod_decode(an, "Pod", &p, &err), 0);
        assert_int_equal(p.qos, QOS_BURSTABLE);
        assert_true(p.single_numa);
        assert_true(p.protected_);
        assert_string_equal(p.owner_uid, "rs-1");
}

static void test_pod_init_and_sidecars(void **state)
{
        struct k8s_pod p;
        struct api_error err = {};
        (void)state;
        /* app 1Gi + sidecar 256Mi = 1.25Gi; init 2Gi after the sidecar = 2.25Gi wins; overhead
         * 100Mi. */
        _cleanup_json_ struct json_object *o =
            parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"a\","
                  "\"resources\":{\"requests\":{\"memory\":\"1Gi\"}}}],\"initContainers\":["
                  "{\"name\":\"side\",\"restartPolicy\":\"Always\",\"resources\":{\"requests\":"
                  "{\"memory\":\"256Mi\"}}},{\"name\":\"init\",\"resources\":{\"requests\":"
                  "{\"memory\":\"2Gi\"}}}],\"overhead\":{\"memory\":\"100Mi\"}}}");
        assert_int_equal(k8s_pod_decode(o, "Pod", &p, &err), 0);
        assert_int_equal(p.request_bytes, (2ULL << 30) + (256ULL << 20) + (100ULL << 20));
        assert_string_equal(p.namespace, "default");
}

static void expect_pod_error(const char *json, int code, const char *field)
{
        struct k8s_pod p = { .name = "untouched" };
        struct api_error err = {};
        _cleanup_json_ struct json_object *o = parse(json);
        assert_int_equal(k8s_pod_decode(o, "Pod", &p, &err), code);
        assert_string_equal(err.field, field);
        assert_string_equal(p.name, "untouched");
}

static void test_pod_errors(void **state)
{
        (void)state;
        expect_pod_error("{\"spec\":{\"containers\":[{}]}}", -EINVAL, "Pod.metadata");
        expect_pod_error("{\"metadata\":{\"name\":\"p\"}}", -EINVAL, "Pod.spec");
        expect_pod_error("{\"metadata\":{\"name\":5},\"spec\":{\"containers\":[{}]}}", -EINVAL,
                         "Pod.metadata.name");
        expect_pod_error("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[]}}", -EINVAL,
                         "Pod.spec.containers");
        expect_pod_error("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"resources\":"
                         "{\"requests\":{\"memory\":\"lots\"}}}]}}",
                         -EINVAL, "Pod.spec.containers[0].resources.requests.memory");
        expect_pod_error("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"resources\":"
                         "{\"limits\":{\"memory\":\"-1Gi\"}}}]}}",
                         -ERANGE, "Pod.spec.containers[0].resources.limits.memory");
        expect_pod_error("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"resources\":"
                         "{\"requests\":{\"memory\":true}}}]}}",
                         -EINVAL, "Pod.spec.containers[0].resources.requests.memory");
        expect_pod_error("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{}],"
                         "\"priority\":\"high\"}}",
                         -EINVAL, "Pod.spec.priority");
}

static void test_pod_round_trip(void **state)
{
        struct k8s_pod in = { .name = "n",
                              .namespace = "ns",
                              .uid = "u",
                              .owner_uid = "o",
                              .qos = QOS_BURSTABLE,
                              .request_bytes = 123456789,
                              .limit_bytes = 987654321,
                              .priority = 7,
                              .single_numa = true,
                              .protected_ = true };
        struct k8s_pod out;
        struct api_error err = {};
        (void)state;
        _cleanup_json_ struct json_object *o = k8s_pod_encode(&in);
        assert_int_equal(k8s_pod_decode(o, "Pod", &out, &err), 0);
        assert_string_equal(out.name, "n");
        assert_string_equal(out.namespace, "ns");
        assert_string_equal(out.uid, "u");
        assert_string_equal(out.owner_uid, "o");
        assert_int_equal(out.qos, in.qos);
        assert_int_equal(out.request_bytes, in.request_bytes);
        assert_int_equal(out.limit_bytes, in.limit_bytes);
        assert_int_equal(out.priority, 7);
        assert_true(out.single_numa);
        assert_true(out.protected_);
}

/* ---------- Extender ---------- */

/* What kube-scheduler's HTTPExtender marshals: Go field names, nil pointers as null. */
static const char *const KS_NAMES =
    "{\"Pod\":{\"metadata\":{\"name\":\"web-1\",\"namespace\":\"shop\",\"uid\":\"u-1\","
    "\"creationTimestamp\":null},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"x\","
    "\"resources\":{\"requests\":{\"memory\":\"512Mi\",\"cpu\":\"100m\"}}}]},\"status\":"
    "{\"phase\":\"Pending\",\"qosClass\":\"Burstable\"}},\"Nodes\":null,"
    "\"NodeNames\":[\"n1\",\"n2\",\"n3\"]}";
static const char *const KS_NODES =
    "{\"Pod\":{\"metadata\":{\"name\":\"web-1\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]}},"
    "\"Nodes\":{\"metadata\":{},\"items\":[{\"metadata\":{\"name\":\"n1\",\"labels\":{\"a\":"
    "\"b\"}},\"spec\":{},\"status\":{\"allocatable\":{\"memory\":\"8Gi\"}}},{\"metadata\":"
    "{\"name\":\"n2\"},\"spec\":{},\"status\":{}}]},\"NodeNames\":null}";

static void test_extender_args_kube_scheduler(void **state)
{
        struct extender_args a;
        struct api_error err = {};
        (void)state;
        _cleanup_json_ struct json_object *o = parse(KS_NAMES);
        assert_int_equal(extender_args_decode(o, &a, &err), 0);
        assert_true(a.node_cache_capable);
        assert_int_equal(a.n_nodes, 3);
        assert_string_equal(a.node_names[2], "n3");
        assert_null(a.nodes);
        assert_int_equal(a.pod.request_bytes, 512ULL << 20);
        extender_args_done(&a);

        _cleanup_json_ struct json_object *o2 = parse(KS_NODES);
        assert_int_equal(extender_args_decode(o2, &a, &err), 0);
        assert_false(a.node_cache_capable);
        assert_int_equal(a.n_nodes, 2);
        assert_string_equal(a.node_names[0], "n1");
        assert_non_null(a.nodes[0]);
        extender_args_done(&a);

        /* Lower-case keys, as Go's case-insensitive decoder accepts. */
        _cleanup_json_ struct json_object *o3 =
            parse("{\"pod\":{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{}]}},"
                  "\"nodenames\":[\"a\"],\"unknownField\":1}");
        assert_int_equal(extender_args_decode(o3, &a, &err), 0);
        assert_int_equal(a.n_nodes, 1);
        extender_args_done(&a);

        /* Nodes with items: null (an empty NodeList as Go marshals it). */
        _cleanup_json_ struct json_object *o4 =
            parse("{\"Pod\":{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{}]}},"
                  "\"Nodes\":{\"metadata\":{},\"items\":null},\"NodeNames\":null}");
        assert_int_equal(extender_args_decode(o4, &a, &err), 0);
        assert_int_equal(a.n_nodes, 0);
        extender_args_done(&a);
}

static void expect_args_error(const char *json, const char *field)
{
        struct extender_args a;
        struct api_error err = {};
        _cleanup_json_ struct json_object *o = parse(json);
        assert_true(extender_args_decode(o, &a, &err) < 0);
        assert_string_equal(err.field, field);
}

static void test_extender_args_errors(void **state)
{
        (void)state;
        expect_args_error("{\"NodeNames\":[\"a\"]}", "Pod");
        expect_args_error(
            "{\"Pod\":{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{}]}}}",
            "NodeNames");
        expect_args_error("{\"Pod\":{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{}]}},"
                          "\"NodeNames\":\"a\"}",
                          "NodeNames");
        expect_args_error("{\"Pod\":{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{}]}},"
                          "\"NodeNames\":[\"a\",7]}",
                          "NodeNames[1]");
        expect_args_error("{\"Pod\":{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{}]}},"
                          "\"Nodes\":{\"items\":[{\"metadata\":{}}]}}",
                          "Nodes.items[0].metadata.name");
        expect_args_error("{\"Pod\":[],\"NodeNames\":[]}", "Pod");
}

static void test_extender_args_round_trip(void **state)
{
        static const char *const names[] = { "a", "b" };
        struct k8s_pod pod = {
                .name = "p", .namespace = "ns", .qos = QOS_BESTEFFORT, .limit_bytes = API_UNLIMITED
        };
        struct extender_args a;
        struct api_error err = {};
        (void)state;
        for (int mode = 0; mode < 2; mode++) {
                _cleanup_json_ struct json_object *o = extender_args_encode(&pod, names, 2, mode);
                /* Both keys are always present, one of them null, as Go marshals. */
                struct json_object *v;
                assert_true(json_object_object_get_ex(o, "Nodes", &v));
                assert_true(json_object_object_get_ex(o, "NodeNames", &v));
                assert_int_equal(extender_args_decode(o, &a, &err), 0);
                assert_int_equal(a.node_cache_capable, mode);
                assert_int_equal(a.n_nodes, 2);
                assert_string_equal(a.node_names[1], "b");
                extender_args_done(&a);
        }
}

static void test_filter_result(void **state)
{
        const char *names[] = { "n1" };
        struct extender_failed_node failed[] = { { "n2", "memsched: insufficient \"memory\"" } };
        struct extender_failed_node unres[] = { { "n3", "stale" } };
        struct extender_filter_result r = { .node_cache_capable = true,
                                            .node_names = names,
                                            .n_nodes = 1,
                                            .failed = failed,
                                            .n_failed = 1,
                                            .unresolvable = unres,
                                            .n_unresolvable = 1,
                                            .error = "" };
        struct extender_filter_result d;
        struct api_error err = {};
        char *s = NULL;
        size_t len;
        (void)state;

        /* The fast formatter and the json-c encoder agree, byte for byte. */
        assert_int_equal(extender_filter_result_format(&r, &s, &len), 0);
        _cleanup_json_ struct json_object *enc = extender_filter_result_encode(&r);
        assert_string_equal(s, json_object_to_json_string_ext(
                                   enc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
        assert_string_equal(s, "{\"Nodes\":null,\"NodeNames\":[\"n1\"],\"FailedNodes\":{\"n2\":"
                               "\"memsched: insufficient \\\"memory\\\"\"},"
                               "\"FailedAndUnresolvableNodes\":{\"n3\":\"stale\"},\"Error\":\"\"}");
        _cleanup_json_ struct json_object *o = parse(s);
        free(s);
        assert_int_equal(extender_filter_result_decode(o, &d, &err), 0);
        assert_true(d.node_cache_capable);
        assert_int_equal(d.n_nodes, 1);
        assert_string_equal(d.node_names[0], "n1");
        assert_int_equal(d.n_failed, 1);
        assert_string_equal(d.failed[0].reason, "memsched: insufficient \"memory\"");
        assert_int_equal(d.n_unresolvable, 1);
        assert_string_equal(d.error, "");
        extender_filter_result_done(&d);

        /* Nodes mode echoes the node objects. */
        _cleanup_json_ struct json_object *node = parse("{\"metadata\":{\"name\":\"n1\"},\"x\":1}");
        struct json_object *nodes[] = { node };
        r.node_cache_capable = false;
        r.nodes = nodes;
        assert_int_equal(extender_filter_result_format(&r, &s, &len), 0);
        _cleanup_json_ struct json_object *o2 = parse(s);
        free(s);
        assert_int_equal(extender_filter_result_decode(o2, &d, &err), 0);
        assert_false(d.node_cache_capable);
        assert_int_equal(d.n_nodes, 1);
        assert_string_equal(d.node_names[0], "n1");
        extender_filter_result_done(&d);

        _cleanup_json_ struct json_object *bad = parse("{\"FailedNodes\":{\"a\":1}}");
        assert_true(extender_filter_result_decode(bad, &d, &err) < 0);
        assert_string_equal(err.field, "FailedNodes.a");
}

static void test_host_priority(void **state)
{
        struct host_priority in[] = { { "a", 0 }, { "b", 10 } };
        struct host_priority *out = NULL;
        size_t n = 0;
        struct api_error err = {};
        char *s;
        size_t len;
        (void)state;
        assert_int_equal(host_priority_list_format(in, 2, &s, &len), 0);
        assert_string_equal(s, "[{\"Host\":\"a\",\"Score\":0},{\"Host\":\"b\",\"Score\":10}]");
        _cleanup_json_ struct json_object *o = parse(s);
        free(s);
        assert_int_equal(host_priority_list_decode(o, &out, &n, &err), 0);
        assert_int_equal(n, 2);
        assert_string_equal(out[1].host, "b");
        assert_int_equal(out[1].score, 10);
        free(out);
        _cleanup_json_ struct json_object *bad = parse("[{\"Host\":\"a\",\"Score\":11}]");
        assert_int_equal(host_priority_list_decode(bad, &out, &n, &err), -ERANGE);
        assert_string_equal(err.field, "[0].Score");
        _cleanup_json_ struct json_object *bad2 = parse("[{\"Score\":1}]");
        assert_int_equal(host_priority_list_decode(bad2, &out, &n, &err), -EINVAL);
        assert_string_equal(err.field, "[0].Host");
}

static void test_binding(void **state)
{
        struct extender_binding_args a = {
                .pod_name = "p", .pod_namespace = "ns", .pod_uid = "u", .node = "n"
        };
        struct extender_binding_args d;
        struct api_error err = {};
        const char *e;
        (void)state;
        _cleanup_json_ struct json_object *o = extender_binding_args_encode(&a);
        assert_string_equal(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN),
                            "{\"PodName\":\"p\",\"PodNamespace\":\"ns\",\"PodUID\":\"u\","
                            "\"Node\":\"n\"}");
        assert_int_equal(extender_binding_args_decode(o, &d, &err), 0);
        assert_string_equal(d.pod_uid, "u");
        assert_string_equal(d.node, "n");
        extender_binding_args_done(&d);
        _cleanup_json_ struct json_object *bad = parse("{\"PodName\":\"p\",\"Node\":3}");
        assert_int_equal(extender_binding_args_decode(bad, &d, &err), -EINVAL);
        assert_string_equal(err.field, "Node");
        _cleanup_json_ struct json_object *r = extender_binding_result_encode("boom");
        assert_int_equal(extender_binding_result_decode(r, &e, &err), 0);
        assert_string_equal(e, "boom");
}

/* ---------- Node report ---------- */

static const char *const REPORT =
    "{\"node_name\":\"w1\",\"seq\":3,\"node\":{\"memory_total_bytes\":1000,"
    "\"memory_available_bytes\":600,\"memory_free_bytes\":500,\"swap_total_bytes\":0,"
    "\"swap_free_bytes\":0,\"psi\":{\"some\":{\"avg10\":1.5,\"avg60\":1,\"avg300\":0.5,"
    "\"total_usec\":99},\"full\":null},\"pressure\":{\"level\":\"low\",\"duration_ms\":5,"
    "\"relief_exhausted\":false},\"numa\":[{\"id\":0,\"total_bytes\":500,\"free_bytes\":200,"
    "\"file_bytes\":100,\"slab_reclaimable_bytes\":20,\"distances\":[10,20]},{\"id\":1,"
    "\"total_bytes\":500,\"free_bytes\":300}],\"future_field\":{}},"
    "\"kubepods\":null,\"pods\":[{\"uid\":\"u1\",\"qos\":\"burstable\",\"driver\":\"systemd\","
    "\"memory\":{\"working_set_bytes\":42,\"current_bytes\":50},\"owner_uid\":\"rs\","
    "\"limit_bytes\":null,\"refault_file_per_sec\":12.5},{\"uid\":\"u2\",\"qos\":\"besteffort\","
    "\"memory\":{\"working_set_bytes\":1},\"refault_file_per_sec\":null}]}";

static void test_report_decode(void **state)
{
        struct node_report r;
        struct api_error err = {};
        (void)state;
        _cleanup_json_ struct json_object *o = parse(REPORT);
        assert_int_equal(node_report_decode(o, &r, &err), 0);
        assert_string_equal(r.node_name, "w1");
        assert_int_equal(r.memory_available_bytes, 600);
        assert_true(r.has_psi);
        assert_false(r.has_psi_full);
        assert_int_equal(r.pressure, LEVEL_LOW);
        assert_int_equal(r.n_zones, 2);
        assert_int_equal(r.zones[0].reclaimable_bytes, 60); /* half of file + half of slab */
        assert_int_equal(r.n_pods, 2);
        assert_int_equal(r.pods[0].working_set_bytes, 42);
        assert_true(r.pods[0].has_refault_rate);
        assert_true(r.pods[0].refault_file_per_sec == 12.5);
        assert_false(r.pods[1].has_refault_rate); /* null: not known */
        assert_false(node_report_thrashing(&r));
        assert_int_equal(r.pods[0].limit_bytes, API_UNLIMITED);
        assert_int_equal(r.pods[0].numa_zone, -1);

        /* Round trip through the encoder. */
        _cleanup_json_ struct json_object *e = node_report_encode(&r);
        struct node_report r2;
        assert_int_equal(node_report_decode(e, &r2, &err), 0);
        assert_int_equal(r2.seq, 3);
        assert_int_equal(r2.zones[1].free_bytes, 300);
        assert_int_equal(r2.zones[0].reclaimable_bytes, 60);
        assert_string_equal(r2.pods[0].owner_uid, "rs");
        assert_true(r2.pods[0].has_refault_rate && r2.pods[0].refault_file_per_sec == 12.5);
        assert_false(r2.pods[1].has_refault_rate);
        assert_true(r2.psi_some.avg10 > 1.49 && r2.psi_some.avg10 < 1.51);
        struct node_report r3;
        assert_int_equal(node_report_copy(&r2, &r3), 0);
        assert_string_equal(r3.pods[0].uid, "u1");
        node_report_done(&r3);
        node_report_done(&r2);
        node_report_done(&r);
}

/* Pods that read back 4096 file pages per second together make a thrashing node (memschedd's
 * model counts it as pressured: test_sched_placement). */
static void test_report_thrashing_node(void **state)
{
        struct node_report r;
        struct api_error err = {};
        (void)state;
        _cleanup_json_ struct json_object *o = parse(
            "{\"node\":{\"memory_total_bytes\":1000,\"memory_available_bytes\":200},"
            "\"pods\":[{\"uid\":\"db\",\"qos\":\"burstable\",\"memory\":{\"working_set_bytes\":"
            "1},\"refault_file_per_sec\":3000},{\"uid\":\"web\",\"qos\":\"burstable\","
            "\"memory\":{\"working_set_bytes\":1},\"refault_file_per_sec\":1500}]}");
        assert_int_equal(node_report_decode(o, &r, &err), 0);
        assert_int_equal(r.pressure, LEVEL_NONE);
        assert_true(node_report_thrashing(&r));
        r.pods[1].has_refault_rate = false; /* 3000/s alone: not yet */
        assert_false(node_report_thrashing(&r));
        node_report_done(&r);
}

static void expect_report_error(const char *json, int code, const char *field)
{
        struct node_report r = { .seq = 77 };
        struct api_error err = {};
        _cleanup_json_ struct json_object *o = parse(json);
        assert_int_equal(node_report_decode(o, &r, &err), code);
        assert_string_equal(err.field, field);
        assert_int_equal(r.seq, 77);
}

static void test_report_errors(void **state)
{
        (void)state;
        expect_report_error("{}", -EINVAL, "node");
        expect_report_error("{\"node\":{}}", -EINVAL, "node.memory_total_bytes");
        expect_report_error("{\"node\":{\"memory_total_bytes\":\"1Gi\"}}", -EINVAL,
                            "node.memory_total_bytes");
        expect_report_error("{\"node\":{\"memory_total_bytes\":-1}}", -ERANGE,
                            "node.memory_total_bytes");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":11}}",
                            -ERANGE, "node.memory_available_bytes");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1,"
                            "\"pressure\":{\"level\":\"extreme\"}}}",
                            -EINVAL, "node.pressure.level");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1,"
                            "\"numa\":[{\"id\":0,\"total_bytes\":5,\"free_bytes\":1},{\"id\":0,"
                            "\"total_bytes\":5,\"free_bytes\":1}]}}",
                            -EINVAL, "node.numa[1].id");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1,"
                            "\"numa\":[{\"id\":64,\"total_bytes\":5,\"free_bytes\":1}]}}",
                            -ERANGE, "node.numa[0].id");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1,"
                            "\"numa\":[{\"id\":0,\"total_bytes\":5,\"free_bytes\":6}]}}",
                            -ERANGE, "node.numa[0].free_bytes");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1},"
                            "\"pods\":[{\"uid\":\"a\",\"qos\":\"burstable\",\"memory\":{}}]}",
                            -EINVAL, "pods[0].memory.working_set_bytes");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1},"
                            "\"pods\":[{\"uid\":\"a\",\"qos\":\"gold\",\"memory\":{}}]}",
                            -EINVAL, "pods[0].qos");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1},"
                            "\"pods\":[{\"qos\":\"burstable\",\"memory\":{}}]}",
                            -EINVAL, "pods[0].uid");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1},"
                            "\"pods\":[{\"uid\":\"a\",\"qos\":\"burstable\",\"memory\":{"
                            "\"working_set_bytes\":1},\"refault_file_per_sec\":-1}]}",
                            -ERANGE, "pods[0].refault_file_per_sec");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1},"
                            "\"pods\":[{\"uid\":\"a\",\"qos\":\"burstable\",\"memory\":{"
                            "\"working_set_bytes\":1},\"refault_file_per_sec\":\"fast\"}]}",
                            -EINVAL, "pods[0].refault_file_per_sec");
        expect_report_error("{\"node\":{\"memory_total_bytes\":10,\"memory_available_bytes\":1,"
                            "\"psi\":{\"some\":{\"avg10\":101,\"avg60\":0,\"avg300\":0}}}}",
                            -ERANGE, "node.psi.some.avg10");
}

/* ---------- Our REST messages ---------- */

static void test_placement_codecs(void **state)
{
        struct placement_request q;
        struct api_error err = {};
        (void)state;
        _cleanup_json_ struct json_object *o =
            parse("{\"pod\":{\"request_bytes\":\"1.5Gi\",\"qos\":\"guaranteed\"},\"nodes\":[\"a\"],"
                  "\"limit\":3}");
        assert_int_equal(placement_request_decode(o, &q, &err), 0);
        assert_int_equal(q.request_bytes, 3ULL << 29);
        assert_true(q.single_numa);
        assert_int_equal(q.n_nodes, 1);
        _cleanup_json_ struct json_object *e = placement_request_encode(&q);
        struct placement_request q2;
        assert_int_equal(placement_request_decode(e, &q2, &err), 0);
        assert_int_equal(q2.request_bytes, q.request_bytes);
        assert_int_equal(q2.limit, 3);
        assert_string_equal(q2.nodes[0], "a");
        placement_request_done(&q2);
        placement_request_done(&q);

        _cleanup_json_ struct json_object *bad = parse("{\"pod\":{\"request_bytes\":[]}}");
        assert_int_equal(placement_request_decode(bad, &q, &err), -EINVAL);
        assert_string_equal(err.field, "pod.request_bytes");
        _cleanup_json_ struct json_object *bad2 =
            parse("{\"pod\":{\"request_bytes\":1,\"numa_policy\":\"two\"}}");
        assert_int_equal(placement_request_decode(bad2, &q, &err), -EINVAL);
        assert_string_equal(err.field, "pod.numa_policy");

        struct placement_candidate c = { .node = "n",
                                         .fits = true,
                                         .score = 7,
                                         .numa_zone = 1,
                                         .available_bytes = 5,
                                         .pressure = LEVEL_LOW,
                                         .reason = "why" };
        struct placement_response resp = { .request_bytes = 9,
                                           .single_numa = true,
                                           .candidates = &c,
                                           .n_candidates = 1 },
                                  d;
        _cleanup_json_ struct json_object *re = placement_response_encode(&resp);
        assert_int_equal(placement_response_decode(re, &d, &err), 0);
        assert_int_equal(d.candidates[0].score, 7);
        assert_int_equal(d.candidates[0].numa_zone, 1);
        assert_string_equal(d.candidates[0].reason, "why");
        placement_response_done(&d);
}

static void test_node_status_codecs(void **state)
{
        struct node_status_zone z = {
                .id = 1, .total_bytes = 10, .free_bytes = 5, .reclaimable_bytes = 2
        };
        struct node_status_pod p = {
                .uid = "u", .name = "n", .qos = QOS_BESTEFFORT, .working_set_bytes = 3
        };
        struct node_status s = { .name = "w1",
                                 .stale = true,
                                 .seq = 4,
                                 .memory_total_bytes = 10,
                                 .zones = &z,
                                 .n_zones = 1,
                                 .pod_count = 1,
                                 .with_pods = true,
                                 .pods = &p,
                                 .pressure = LEVEL_CRITICAL };
        struct node_status d;
        struct node_status_list l = { .nodes = &s, .n_nodes = 1, .stale_count = 1 }, dl;
        struct api_error err = {};
        (void)state;
        _cleanup_json_ struct json_object *o = node_status_encode(&s);
        assert_int_equal(node_status_decode(o, "", &d, &err), 0);
        assert_true(d.stale);
        assert_int_equal(d.pressure, LEVEL_CRITICAL);
        assert_int_equal(d.zones[0].reclaimable_bytes, 2);
        assert_string_equal(d.pods[0].name, "n");
        assert_null(d.pods[0].namespace);
        node_status_done(&d);
        s.with_pods = false;
        _cleanup_json_ struct json_object *lo = node_status_list_encode(&l);
        assert_int_equal(node_status_list_decode(lo, &dl, &err), 0);
        assert_int_equal(dl.n_nodes, 1);
        assert_int_equal(dl.stale_count, 1);
        node_status_list_done(&dl);
        json_object_object_del(o, "seq");
        assert_int_equal(node_status_decode(o, "", &d, &err), -EINVAL);
        assert_string_equal(err.field, "seq");
}

static void test_migration_and_error_codecs(void **state)
{
        struct migration m = { .id = "m1",
                               .state = MIGRATION_PLANNED,
                               .source_node = "a",
                               .target_node = "b",
                               .pod_uid = "u",
                               .owner_uid = "o",
                               .qos = QOS_BURSTABLE,
                               .working_set_bytes = 5,
                               .reservation_bytes = 6,
                               .target_numa_zone = -1,
                               .reason = "r",
                               .created_at_usec = 1,
                               .expires_at_usec = 2 };
        struct migration *l = NULL;
        size_t n = 0;
        struct api_error err = {};
        struct error_reply e;
        (void)state;
        _cleanup_json_ struct json_object *o = migration_list_encode(&m, 1);
        assert_int_equal(migration_list_decode(o, &l, &n, &err), 0);
        assert_int_equal(n, 1);
        assert_string_equal(l[0].owner_uid, "o");
        assert_null(l[0].pod_name);
        assert_int_equal(l[0].target_numa_zone, -1);
        assert_int_equal(l[0].reservation_bytes, 6);
        migration_list_free(l, n);
        _cleanup_json_ struct json_object *bad =
            parse("{\"migrations\":[{\"id\":\"x\",\"state\":\"lost\"}]}");
        assert_int_equal(migration_list_decode(bad, &l, &n, &err), -EINVAL);
        assert_string_equal(err.field, "migrations[0].state");

        struct error_reply er = { .message = "m", .field = "f" };
        _cleanup_json_ struct json_object *eo = error_reply_encode(&er);
        assert_int_equal(error_reply_decode(eo, &e, &err), 0);
        assert_string_equal(e.field, "f");
}

static void test_parse_errors(void **state)
{
        struct json_object *o = NULL;
        struct api_error err = {};
        (void)state;
        assert_int_equal(api_parse("{\"a\":", 5, &o, &err), -EINVAL);
        assert_non_null(strstr(err.message, "invalid JSON"));
        assert_int_equal(api_parse("{} x", 4, &o, &err), -EINVAL);
        assert_int_equal(api_parse("", 0, &o, &err), -EINVAL);
        assert_int_equal(api_parse("[1,]", 4, &o, &err), -EINVAL);
        assert_null(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pod_quantities),
                cmocka_unit_test(test_pod_qos_and_numa),
                cmocka_unit_test(test_pod_init_and_sidecars),
                cmocka_unit_test(test_pod_errors),
                cmocka_unit_test(test_pod_round_trip),
                cmocka_unit_test(test_extender_args_kube_scheduler),
                cmocka_unit_test(test_extender_args_errors),
                cmocka_unit_test(test_extender_args_round_trip),
                cmocka_unit_test(test_filter_result),
                cmocka_unit_test(test_host_priority),
                cmocka_unit_test(test_binding),
                cmocka_unit_test(test_report_decode),
                cmocka_unit_test(test_report_thrashing_node),
                cmocka_unit_test(test_report_errors),
                cmocka_unit_test(test_placement_codecs),
                cmocka_unit_test(test_node_status_codecs),
                cmocka_unit_test(test_migration_and_error_codecs),
                cmocka_unit_test(test_parse_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
