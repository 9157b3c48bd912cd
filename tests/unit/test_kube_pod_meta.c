// SPDX-License-Identifier: Apache-2.0
// k8s_pod_meta_decode() on Pods shaped as kube-apiserver serves them in LIST and WATCH: a static
// pod's mirror (etcd, system-node-critical), a Deployment's Burstable pod with a sidecar and a
// pending resize, and the failures that name their field.
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "api/k8s_pod.h"

static struct json_object *parse(const char *s)
{
        struct json_object *o = NULL;
        struct api_error err = {};
        assert_int_equal(api_parse(s, strlen(s), &o, &err), 0);
        return o;
}

/* A mirror pod of a kubeadm static pod, as `kubectl get pod -o json` shows it. */
static const char *const mirror_pod =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{"
    "\"kubeadm.kubernetes.io/etcd.advertise-client-urls\":\"https://10.0.0.5:2379\","
    "\"kubernetes.io/config.hash\":\"3a1f0c7e\",\"kubernetes.io/config.mirror\":\"3a1f0c7e\","
    "\"kubernetes.io/config.seen\":\"2026-11-29T08:01:12.524093631Z\","
    "\"kubernetes.io/config.source\":\"file\"},\"creationTimestamp\":\"2026-11-29T08:01:20Z\","
    "\"labels\":{\"component\":\"etcd\",\"tier\":\"control-plane\"},\"name\":\"etcd-node-a\","
    "\"namespace\":\"kube-system\",\"ownerReferences\":[{\"apiVersion\":\"v1\",\"controller\":"
    "true,\"kind\":\"Node\",\"name\":\"node-a\",\"uid\":\"0b8f3c52-6c4e-4f7e-9d7b-2c0b7e5d1a11\"}],"
    "\"resourceVersion\":\"412\",\"uid\":\"6f1d2a9e-5b7c-4d3e-8f90-1a2b3c4d5e6f\"},\"spec\":{"
    "\"containers\":[{\"command\":[\"etcd\"],\"image\":\"registry.k8s.io/etcd:3.5.15-0\","
    "\"imagePullPolicy\":\"IfNotPresent\",\"name\":\"etcd\",\"resources\":{\"requests\":{\"cpu\":"
    "\"100m\",\"memory\":\"100Mi\"}}}],\"dnsPolicy\":\"ClusterFirst\",\"enableServiceLinks\":true,"
    "\"hostNetwork\":true,\"nodeName\":\"node-a\",\"preemptionPolicy\":\"PreemptLowerPriority\","
    "\"priority\":2000001000,\"priorityClassName\":\"system-node-critical\",\"restartPolicy\":"
    "\"Always\",\"schedulerName\":\"default-scheduler\",\"securityContext\":{\"seccompProfile\":{"
    "\"type\":\"RuntimeDefault\"}},\"terminationGracePeriodSeconds\":30,\"tolerations\":[{"
    "\"effect\":\"NoExecute\",\"operator\":\"Exists\"}]},\"status\":{\"conditions\":[{"
    "\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-29T08:01:21Z\",\"status\":\"True\","
    "\"type\":\"Ready\"}],\"hostIP\":\"10.0.0.5\",\"phase\":\"Running\",\"podIP\":\"10.0.0.5\","
    "\"qosClass\":\"Burstable\",\"startTime\":\"2026-11-29T08:01:20Z\"}}";

/* A Deployment's pod: two app containers and a sidecar, annotations, a pending resize. */
static const char *const web_pod =
    "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"annotations\":{"
    "\"memagent.io/avoid\":\"true\",\"memagent.io/protect\":\"false\"},\"generateName\":"
    "\"web-7d4b9c-\",\"labels\":{\"app\":\"web\",\"pod-template-hash\":\"7d4b9c\"},\"name\":"
    "\"web-7d4b9c-x2k8p\",\"namespace\":\"shop\",\"ownerReferences\":[{\"apiVersion\":\"apps/v1\","
    "\"blockOwnerDeletion\":true,\"controller\":true,\"kind\":\"ReplicaSet\",\"name\":"
    "\"web-7d4b9c\",\"uid\":\"c2a1e0f4-0000-4000-8000-000000000001\"}],\"deletionTimestamp\":"
    "\"2026-11-30T01:10:00Z\",\"deletionGracePeriodSeconds\":30,\"resourceVersion\":"
    "\"98121\",\"uid\":\"2d9a3f60-1111-4222-8333-444455556666\"},\"spec\":{\"containers\":[{"
    "\"image\":\"nginx:1.27\",\"name\":\"nginx\",\"resources\":{\"limits\":{\"memory\":\"512Mi\"},"
    "\"requests\":{\"cpu\":\"250m\",\"memory\":\"256Mi\"}}},{\"image\":\"app:2\",\"name\":\"app\","
    "\"resources\":{\"requests\":{\"memory\":\"1Gi\"}}}],\"initContainers\":[{\"image\":"
    "\"envoy:1.31\",\"name\":\"proxy\",\"restartPolicy\":\"Always\",\"resources\":{\"requests\":{"
    "\"memory\":\"64Mi\"},\"limits\":{\"memory\":\"128Mi\"}}}],\"nodeName\":\"node-a\","
    "\"priority\":1000,\"priorityClassName\":\"shop-high\"},\"status\":{\"conditions\":[{"
    "\"lastProbeTime\":null,\"lastTransitionTime\":\"2026-11-30T01:00:00Z\",\"message\":\"Node "
    "didn't have enough capacity: memory, requested: 2147483648, capacity: 1073741824\","
    "\"reason\":\"Infeasible\",\"status\":\"True\",\"type\":\"PodResizePending\"},{\"status\":"
    "\"True\",\"type\":\"Ready\"}],\"containerStatuses\":[{\"containerID\":"
    "\"containerd://4c01db0b339c3d5bd0e8b4d7f6a1f3c2e6b9a8d7c6b5a4f3e2d1c0b9a8f7e6d5\","
    "\"image\":\"app:2\",\"name\":\"app\",\"ready\":true,\"restartCount\":0},{\"image\":"
    "\"nginx:1.27\",\"name\":\"nginx\",\"ready\":false,\"restartCount\":0}],"
    "\"phase\":\"Running\",\"qosClass\":\"Burstable\"}}";

static void test_mirror_pod(void **state)
{
        (void)state;
        struct json_object *o = parse(mirror_pod);
        struct k8s_pod_meta m;
        struct api_error err = {};
        assert_int_equal(k8s_pod_meta_decode(o, "Pod", &m, &err), 0);
        assert_string_equal(m.uid, "6f1d2a9e-5b7c-4d3e-8f90-1a2b3c4d5e6f");
        assert_string_equal(m.namespace_, "kube-system");
        assert_string_equal(m.name, "etcd-node-a");
        assert_string_equal(m.node_name, "node-a");
        assert_string_equal(m.phase, "Running");
        assert_int_equal(m.priority, 2000001000);
        assert_int_equal(m.qos, QOS_BURSTABLE);
        assert_string_equal(m.owner_kind, "Node");
        assert_true(m.mirror);
        assert_true(m.static_);
        assert_true(m.node_critical);
        assert_false(m.protect);
        assert_false(m.avoid);
        assert_int_equal(m.n_containers, 1);
        assert_string_equal(m.containers[0].name, "etcd");
        assert_int_equal(m.containers[0].request_bytes, 100ull << 20);
        assert_true(m.containers[0].limit_bytes == API_UNLIMITED);
        assert_int_equal(m.request_bytes, 100ull << 20);
        assert_true(m.limit_bytes == API_UNLIMITED);
        assert_int_equal(m.resize, K8S_RESIZE_NONE);
        assert_false(m.terminating);
        json_object_put(o);
}

static void test_web_pod(void **state)
{
        (void)state;
        struct json_object *o = parse(web_pod);
        struct k8s_pod_meta m;
        struct api_error err = {};
        assert_int_equal(k8s_pod_meta_decode(o, "Pod", &m, &err), 0);
        assert_string_equal(m.owner_kind, "ReplicaSet");
        assert_int_equal(m.priority, 1000);
        assert_false(m.node_critical);
        assert_false(m.mirror);
        assert_false(m.static_);
        assert_true(m.avoid);
        assert_false(m.protect); /* "false" is not "true" */
        assert_true(m.terminating);
        assert_int_equal(m.n_containers, 2);
        assert_string_equal(m.containers[0].name, "nginx");
        assert_int_equal(m.containers[0].request_bytes, 256ull << 20);
        assert_int_equal(m.containers[0].limit_bytes, 512ull << 20);
        assert_string_equal(m.containers[1].name, "app");
        assert_int_equal(m.containers[1].request_bytes, 1ull << 30);
        assert_true(m.containers[1].limit_bytes == API_UNLIMITED);
        /* containerStatuses name the running containers by id (as in their cgroups' names);
         * the one not started yet has none. */
        assert_string_equal(m.containers[1].container_id,
                            "4c01db0b339c3d5bd0e8b4d7f6a1f3c2e6b9a8d7c6b5a4f3e2d1c0b9a8f7e6d5");
        assert_string_equal(m.containers[0].container_id, "");
        /* The pod's request as the scheduler counts it: app containers plus the sidecar. */
        assert_int_equal(m.request_bytes, (256ull << 20) + (1ull << 30) + (64ull << 20));
        assert_true(m.limit_bytes == API_UNLIMITED);
        assert_int_equal(m.resize, K8S_RESIZE_INFEASIBLE);
        assert_non_null(strstr(m.resize_message, "enough capacity: memory"));
        json_object_put(o);
}

static void test_resize_states(void **state)
{
        (void)state;
        static const struct {
                const char *conds;
                enum k8s_resize_state want;
        } cases[] = {
                { "[{\"type\":\"PodResizePending\",\"status\":\"True\",\"reason\":\"Deferred\"}]",
                  K8S_RESIZE_DEFERRED },
                { "[]", K8S_RESIZE_NONE },
                { "[{\"type\":\"PodResizeInProgress\",\"status\":\"True\"}]",
                  K8S_RESIZE_IN_PROGRESS },
                { "[{\"type\":\"PodResizeInProgress\",\"status\":\"False\"}]", K8S_RESIZE_NONE },
                /* Pending wins over in progress, in either order. */
                { "[{\"type\":\"PodResizeInProgress\",\"status\":\"True\"},{\"type\":"
                  "\"PodResizePending\",\"status\":\"True\",\"reason\":\"Deferred\"}]",
                  K8S_RESIZE_DEFERRED },
                { "[{\"type\":\"PodResizePending\",\"status\":\"True\",\"reason\":"
                  "\"Infeasible\"},{\"type\":\"PodResizeInProgress\",\"status\":\"True\"}]",
                  K8S_RESIZE_INFEASIBLE },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                char buf[1024];
                snprintf(buf, sizeof(buf),
                         "{\"metadata\":{\"name\":\"p\",\"uid\":\"u\"},\"spec\":{\"containers\":"
                         "[{\"name\":\"c\"}]},\"status\":{\"conditions\":%s}}",
                         cases[i].conds);
                struct json_object *o = parse(buf);
                struct k8s_pod_meta m;
                struct api_error err = {};
                assert_int_equal(k8s_pod_meta_decode(o, "Pod", &m, &err), 0);
                assert_int_equal(m.resize, cases[i].want);
                assert_int_equal(m.qos, QOS_BESTEFFORT);
                assert_string_equal(m.namespace_, "default");
                json_object_put(o);
        }
}

static void test_errors(void **state)
{
        (void)state;
        struct k8s_pod_meta m = { .priority = 77 };
        struct api_error err = {};
        struct json_object *o = parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":"
                                      "[{\"name\":\"c\"}],\"nodeName\":5}}");
        assert_int_equal(k8s_pod_meta_decode(o, "Pod", &m, &err), -EINVAL);
        assert_string_equal(err.field, "Pod.spec.nodeName");
        assert_int_equal(m.priority, 77); /* untouched */
        json_object_put(o);

        char buf[1024], name[300];
        memset(name, 'n', 299);
        name[299] = '\0';
        snprintf(buf, sizeof(buf),
                 "{\"metadata\":{\"name\":\"%s\"},\"spec\":{\"containers\":[{\"name\":\"c\"}]}}",
                 name);
        o = parse(buf);
        assert_int_equal(k8s_pod_meta_decode(o, "Pod", &m, &err), -ERANGE);
        assert_string_equal(err.field, "Pod.metadata.name");
        json_object_put(o);

        o = parse("{\"metadata\":{\"name\":\"p\"},\"spec\":{\"containers\":[{\"name\":\"c\","
                  "\"resources\":{\"limits\":{\"memory\":\"lots\"}}}]}}");
        assert_int_equal(k8s_pod_meta_decode(o, "Pod", &m, &err), -EINVAL);
        assert_string_equal(err.field, "Pod.spec.containers[0].resources.limits.memory");
        json_object_put(o);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_mirror_pod),
                cmocka_unit_test(test_web_pod),
                cmocka_unit_test(test_resize_states),
                cmocka_unit_test(test_errors),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
