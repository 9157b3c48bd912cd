// SPDX-License-Identifier: Apache-2.0
// The informer's table and stream handling (api/kube/informer.c) fed as the network would feed
// it, for both resources that use it: memschedd's nodes (keyed by name) and pods (keyed by uid).
// And the decoders of api/kube/objects.c on objects shaped as kube-apiserver serves them.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/kube/objects.h"

static struct json_object *parse(const char *s)
{
        struct json_object *o = NULL;
        struct api_error err = {};
        assert_int_equal(api_parse(s, strlen(s), &o, &err), 0);
        return o;
}

/* kubectl get node -o json, trimmed of what memschedd does not read. */
#define NODE(name, ready, extra_spec)                                                              \
        "{\"metadata\":{\"name\":\"" name "\",\"uid\":\"u-" name "\",\"resourceVersion\":\"7\","   \
        "\"labels\":{\"kubernetes.io/hostname\":\"" name "\",\"topology.kubernetes.io/zone\":"     \
        "\"z1\"}},\"spec\":{\"podCIDR\":\"10.244.1.0/24\"" extra_spec "},\"status\":{"             \
        "\"allocatable\":{\"cpu\":\"4\",\"memory\":\"16374140Ki\",\"pods\":\"110\"},"              \
        "\"conditions\":[{\"type\":\"MemoryPressure\",\"status\":\"False\"},{\"type\":\"Ready\","  \
        "\"status\":\"" ready "\",\"reason\":\"KubeletReady\"}]}}"

static void test_node_decode(void **state)
{
        (void)state;
        struct kube_node_info n;
        struct api_error err = {};
        struct json_object *o =
            parse(NODE("n1", "True",
                       ",\"unschedulable\":true,\"taints\":[{\"key\":\"gpu\",\"value\":\"a100\","
                       "\"effect\":\"NoSchedule\"},{\"key\":\"soft\",\"effect\":"
                       "\"PreferNoSchedule\"},{\"key\":\"node.kubernetes.io/unreachable\","
                       "\"effect\":\"NoExecute\",\"timeAdded\":\"2026-11-30T04:00:00Z\"}]"));
        memset(&n, 0, sizeof(n));
        assert_int_equal(kube_node_info_decode(o, "Node", &n, &err), 0);
        assert_string_equal(n.name, "n1");
        assert_true(n.ready);
        assert_true(n.unschedulable);
        assert_int_equal(n.allocatable_bytes, 16374140ull * 1024);
        /* PreferNoSchedule is not kept: it does not keep pods off. */
        assert_int_equal(n.n_taints, 2);
        assert_string_equal(n.taints[0].key, "gpu");
        assert_string_equal(n.taints[0].value, "a100");
        assert_int_equal(n.taints[1].effect, KUBE_TAINT_NO_EXECUTE);
        assert_int_equal(n.n_labels, 2);
        assert_string_equal(n.labels[1].value, "z1");
        json_object_put(o);

        o = parse(NODE("n2", "Unknown", ""));
        memset(&n, 0, sizeof(n));
        assert_int_equal(kube_node_info_decode(o, "Node", &n, &err), 0);
        assert_false(n.ready);
        json_object_put(o);

        o = parse("{\"metadata\":{\"name\":\"n3\"},\"status\":{\"allocatable\":{\"memory\":"
                  "\"lots\"}}}");
        assert_int_equal(kube_node_info_decode(o, "Node", &n, &err), -EINVAL);
        assert_string_equal(err.field, "Node.status.allocatable.memory");
        json_object_put(o);
}

static void test_tolerations(void **state)
{
        (void)state;
        struct kube_toleration t[8];
        struct api_error err = {};
        struct kube_taint gpu = { .key = "gpu", .value = "a100", .effect = KUBE_TAINT_NO_SCHEDULE };
        struct kube_taint gpu_exec = { .key = "gpu",
                                       .value = "a100",
                                       .effect = KUBE_TAINT_NO_EXECUTE };
        struct json_object *o = parse("{\"spec\":{\"tolerations\":[{\"key\":\"gpu\",\"operator\":"
                                      "\"Equal\",\"value\":\"a100\",\"effect\":\"NoSchedule\"},"
                                      "{\"key\":\"x\",\"effect\":\"PreferNoSchedule\"}]}}");
        int n = kube_tolerations_decode(o, "Pod", t, 8, &err);
        assert_int_equal(n, 1);
        assert_true(kube_taint_tolerated(&gpu, t, (size_t)n));
        assert_false(kube_taint_tolerated(&gpu_exec, t, (size_t)n)); /* other effect */
        struct kube_taint other = gpu;
        strcpy(other.value, "h100");
        assert_false(kube_taint_tolerated(&other, t, (size_t)n)); /* Equal wants the value */
        json_object_put(o);

        /* operator Exists with no key: tolerates every taint (what DaemonSets often carry). */
        o = parse("{\"spec\":{\"tolerations\":[{\"operator\":\"Exists\"}]}}");
        n = kube_tolerations_decode(o, "Pod", t, 8, &err);
        assert_int_equal(n, 1);
        assert_true(kube_taint_tolerated(&gpu_exec, t, 1));
        json_object_put(o);
        assert_false(kube_taint_tolerated(&gpu, t, 0));

        o = parse("{\"spec\":{\"tolerations\":[{\"key\":\"a\",\"operator\":\"In\"}]}}");
        assert_int_equal(kube_tolerations_decode(o, "Pod", t, 8, &err), -EINVAL);
        assert_string_equal(err.field, "Pod.spec.tolerations[0].operator");
        json_object_put(o);
}

#define POD(uid, name, node, phase)                                                                \
        "{\"metadata\":{\"name\":\"" name "\",\"namespace\":\"default\",\"uid\":\"" uid "\","      \
        "\"resourceVersion\":\"5\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":"     \
        "\"ReplicaSet\",\"name\":\"web-6d4\",\"uid\":\"rs-1\",\"controller\":true}]},\"spec\":{"   \
        "\"nodeName\":\"" node "\",\"containers\":[{\"name\":\"app\",\"resources\":{\"requests\":" \
        "{\"memory\":\"256Mi\"}}}]},\"status\":{\"phase\":\"" phase "\"}}"

static void test_pod_brief(void **state)
{
        (void)state;
        struct kube_pod_brief p;
        struct api_error err = {};
        struct json_object *o = parse(POD("p-1", "web-1", "n1", "Running"));
        memset(&p, 0, sizeof(p));
        assert_int_equal(kube_pod_brief_decode(o, "Pod", &p, &err), 0);
        assert_string_equal(p.uid, "p-1");
        assert_string_equal(p.node_name, "n1");
        assert_string_equal(p.phase, "Running");
        assert_string_equal(p.owner_uid, "rs-1");
        assert_string_equal(p.owner_kind, "ReplicaSet");
        assert_int_equal(p.request_bytes, 256ull << 20);
        assert_true(kube_pod_brief_holds_memory(&p));
        json_object_put(o);

        o = parse(POD("p-2", "job-1", "n1", "Succeeded"));
        memset(&p, 0, sizeof(p));
        assert_int_equal(kube_pod_brief_decode(o, "Pod", &p, &err), 0);
        assert_false(kube_pod_brief_holds_memory(&p)); /* finished: its memory is free */
        json_object_put(o);

        o = parse(POD("p-3", "web-3", "", "Pending"));
        memset(&p, 0, sizeof(p));
        assert_int_equal(kube_pod_brief_decode(o, "Pod", &p, &err), 0);
        assert_false(kube_pod_brief_holds_memory(&p)); /* not bound yet */
        json_object_put(o);
}

/* ---- the informer, offline ---- */

struct changes {
        int added, modified, deleted, synced;
        char last_deleted[K8S_NAME_MAX];
};

static void on_change(struct kube_informer *inf, const void *old, const void *new_, void *ud)
{
        struct changes *c = ud;
        (void)inf;
        const struct kube_node_info *o = old, *n = new_;
        if (!o && !n)
                c->synced++;
        else if (!o)
                c->added++;
        else if (!n)
                c->deleted++;
        else
                c->modified++;
        if (o && !n)
                snprintf(c->last_deleted, sizeof(c->last_deleted), "%s", o->name);
}

static int frame(struct kube_informer *inf, const char *s)
{
        return kube_informer_apply_frame(inf, s, strlen(s));
}

static void test_informer_nodes(void **state)
{
        (void)state;
        struct kube_informer *inf = NULL;
        struct changes c = {};
        struct kube_informer_stats st;
        assert_int_equal(
            kube_informer_new_offline(&kube_node_info_type, "nodes", on_change, &c, &inf), 0);
        assert_false(kube_informer_synced(inf));
        struct json_object *list =
            parse("{\"kind\":\"NodeList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
                  "\"100\"},\"items\":[" NODE("n3", "True", "") "," NODE("n1", "True", "") "," NODE(
                      "n2", "False", "") ",{\"metadata\":{}}]}");
        assert_int_equal(kube_informer_apply_list(inf, list), 0);
        json_object_put(list);
        assert_true(kube_informer_synced(inf));
        assert_int_equal(c.added, 3);
        assert_int_equal(c.synced, 1);
        assert_int_equal(kube_informer_count(inf), 3);
        /* Kept in key order, found by key. */
        assert_string_equal(((const struct kube_node_info *)kube_informer_get(inf, 0))->name, "n1");
        assert_false(((const struct kube_node_info *)kube_informer_find(inf, "n2"))->ready);
        assert_string_equal(kube_informer_resource_version(inf), "100");
        kube_informer_get_stats(inf, &st);
        assert_int_equal(st.errors, 1); /* the item without a name */

        /* The same object again is not a change; a real change is. */
        assert_int_equal(
            frame(inf, "{\"type\":\"MODIFIED\",\"object\":" NODE("n1", "True", "") "}"), 0);
        assert_int_equal(c.modified, 0);
        assert_int_equal(
            frame(inf, "{\"type\":\"MODIFIED\",\"object\":" NODE("n2", "True", "") "}"), 0);
        assert_int_equal(c.modified, 1);
        assert_true(((const struct kube_node_info *)kube_informer_find(inf, "n2"))->ready);
        /* DELETED finds the node by name. */
        assert_int_equal(frame(inf, "{\"type\":\"DELETED\",\"object\":" NODE("n3", "True", "") "}"),
                         0);
        assert_int_equal(c.deleted, 1);
        assert_null(kube_informer_find(inf, "n3"));
        /* A bookmark only moves the resourceVersion. */
        assert_int_equal(frame(inf, "{\"type\":\"BOOKMARK\",\"object\":{\"kind\":\"Node\","
                                    "\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":"
                                    "\"120\",\"creationTimestamp\":null},\"spec\":{},"
                                    "\"status\":{}}}"),
                         0);
        assert_string_equal(kube_informer_resource_version(inf), "120");
        assert_int_equal(kube_informer_count(inf), 2);
        kube_informer_get_stats(inf, &st);
        assert_int_equal(st.bookmarks, 1);

        /* 410 in an ERROR event asks for a relist, and nothing after it in the stream counts. */
        assert_int_equal(frame(inf, "{\"type\":\"ERROR\",\"object\":{\"kind\":\"Status\","
                                    "\"apiVersion\":\"v1\",\"metadata\":{},\"status\":"
                                    "\"Failure\",\"message\":\"too old resource version: 120 "
                                    "(130)\",\"reason\":\"Expired\",\"code\":410}}"),
                         1);
        assert_int_equal(frame(inf, "{\"type\":\"ADDED\",\"object\":" NODE("n9", "True", "") "}"),
                         1);
        assert_null(kube_informer_find(inf, "n9"));
        kube_informer_free(inf);

        /* The relist: objects missing from it are removed (their DELETED was compacted). */
        c = (struct changes){};
        assert_int_equal(
            kube_informer_new_offline(&kube_node_info_type, "nodes", on_change, &c, &inf), 0);
        list = parse("{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[" NODE(
            "a", "True", "") "," NODE("b", "True", "") "]}");
        assert_int_equal(kube_informer_apply_list(inf, list), 0);
        json_object_put(list);
        list = parse(
            "{\"metadata\":{\"resourceVersion\":\"9\"},\"items\":[" NODE("b", "True", "") "]}");
        assert_int_equal(kube_informer_apply_list(inf, list), 0);
        json_object_put(list);
        assert_int_equal(c.deleted, 1);
        assert_string_equal(c.last_deleted, "a");
        assert_null(kube_informer_find(inf, "a"));
        assert_non_null(kube_informer_find(inf, "b"));
        assert_int_equal(c.synced, 2);
        /* An answer that is not a list leaves the table as it was. */
        list = parse("{\"metadata\":{},\"items\":[]}");
        assert_int_equal(kube_informer_apply_list(inf, list), -EINVAL);
        json_object_put(list);
        assert_non_null(kube_informer_find(inf, "b"));
        assert_non_null(strstr(kube_informer_last_error(inf), "resourceVersion"));
        kube_informer_free(inf);
}

static void test_informer_pods_by_uid(void **state)
{
        (void)state;
        struct kube_informer *inf = NULL;
        assert_int_equal(kube_informer_new_offline(&kube_pod_brief_type, "pods", NULL, NULL, &inf),
                         0);
        struct json_object *list =
            parse("{\"metadata\":{\"resourceVersion\":\"3\"},\"items\":[" POD(
                "u2", "web-2", "", "Pending") "," POD("u1", "web-1", "n1", "Running") "]}");
        assert_int_equal(kube_informer_apply_list(inf, list), 0);
        json_object_put(list);
        const struct kube_pod_brief *p = kube_informer_find(inf, "u2");
        assert_non_null(p);
        assert_string_equal(p->name, "web-2");
        /* Bound: MODIFIED with spec.nodeName. */
        assert_int_equal(frame(inf, "{\"type\":\"MODIFIED\",\"object\":" POD("u2", "web-2", "n2",
                                                                             "Pending") "}"),
                         0);
        assert_string_equal(
            ((const struct kube_pod_brief *)kube_informer_find(inf, "u2"))->node_name, "n2");
        /* DELETED finds the pod by uid, not by name. */
        assert_int_equal(
            frame(inf, "{\"type\":\"DELETED\",\"object\":" POD("u1", "web-2", "n1", "Running") "}"),
            0);
        assert_null(kube_informer_find(inf, "u1"));
        assert_int_equal(kube_informer_count(inf), 1);
        kube_informer_free(inf);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_node_decode),
                cmocka_unit_test(test_tolerations),
                cmocka_unit_test(test_pod_brief),
                cmocka_unit_test(test_informer_nodes),
                cmocka_unit_test(test_informer_pods_by_uid),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
